#!/usr/bin/env bash
# The plimsoll demo (`make demo`): measure the sample project over three commits, keep the
# history on its `code-metrics` branch, check the thresholds, and show what was recorded.
#
# Exit code: 0 when the demo ran. Thresholds failing (plimsoll exit 1) is an expected, shown
# result; a usage/config error (2) or a job that could not run (3) fails the demo.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SAMPLE="$ROOT/examples/sample-service"
DEMO="${PLIMSOLL_DEMO_DIR:-$ROOT/.plimsoll/demo}"
PROJECT="$DEMO/sample-service"
PLIMSOLL="$ROOT/.venv/bin/plimsoll"

# The sample's test command is `python -m pytest`: the venv's python has pytest.
export PATH="$ROOT/.venv/bin:$PATH"
# A predictable git, whatever the user's own configuration says.
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME="Demo Developer" GIT_AUTHOR_EMAIL="dev@example.test"
export GIT_COMMITTER_NAME="Demo Developer" GIT_COMMITTER_EMAIL="dev@example.test"

bold() { if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then printf '\033[1m%s\033[0m\n' "$*"; else printf '%s\n' "$*"; fi; }
step() { printf '\n'; bold "==> demo: $*"; }
die() { printf '==> demo: FAILED: %s\n' "$*" >&2; exit 1; }

if [ ! -x "$PLIMSOLL" ]; then
  die "$PLIMSOLL not found: run 'make demo' (it creates .venv) rather than this script directly"
fi

# Run plimsoll in the project, show the command, and judge its exit code.
#   plim <accepted codes, comma-separated> <plimsoll arguments...>
plim() {
  local accepted="$1"; shift
  printf '\n$ plimsoll %s\n' "$*"
  local rc=0 errlog="$DEMO/last-stderr.txt"
  # stderr is kept too: a Python crash also exits 1, and must not pass for "thresholds failed".
  (cd "$PROJECT" && "$PLIMSOLL" "$@") 2> >(tee "$errlog" >&2) || rc=$?
  wait  # for tee to finish writing
  if grep -q '^Traceback (most recent call last)' "$errlog" 2>/dev/null; then
    die "plimsoll $* crashed (exit $rc) with a traceback"
  fi
  case "$rc" in
    0) ;;
    1) if [[ ",$accepted," == *",1,"* ]]; then
         bold "-> exit 1: findings (a threshold, rule or check failed); expected here, it is the point"
       else
         die "plimsoll $* exited 1"
       fi ;;
    2) die "plimsoll $* exited 2: usage or configuration error" ;;
    3) die "plimsoll $* exited 3: the job could not run" ;;
    *) die "plimsoll $* exited $rc" ;;
  esac
}

# Commit everything in the project, dated ``$1`` days ago so the history spreads over days.
commit() {
  local days_ago="$1" message="$2" when
  when="$(date -u -d "-${days_ago} days" '+%Y-%m-%dT%H:%M:%SZ' 2>/dev/null || date -u '+%Y-%m-%dT%H:%M:%SZ')"
  git -C "$PROJECT" add -A
  GIT_AUTHOR_DATE="$when" GIT_COMMITTER_DATE="$when" git -C "$PROJECT" commit -q -m "$message"
  printf '    commit %s  %s\n' "$(git -C "$PROJECT" rev-parse --short HEAD)" "$message"
}

copy() {  # copy sample files (paths relative to the sample) into the project
  local rel
  for rel in "$@"; do
    mkdir -p "$PROJECT/$(dirname "$rel")"
    cp "$SAMPLE/$rel" "$PROJECT/$rel"
  done
}

step "preparing the sample project in $PROJECT"
rm -rf "$PROJECT"
mkdir -p "$PROJECT"
git -C "$PROJECT" init -q -b main
printf '%s\n' ".plimsoll/" "__pycache__/" ".coverage" ".pytest_cache/" ".mypy_cache/" \
  ".ruff_cache/" > "$PROJECT/.gitignore"

step "commit 1: the stock model (clean, typed, tested)"
copy pyproject.toml README.md src/inventory/__init__.py src/inventory/models.py tests/test_models.py
commit 3 "Stock model with tests"
plim "" code collect

step "commit 2: pricing rules (one very complex function)"
copy src/inventory/pricing.py tests/test_pricing.py
commit 2 "Pricing rules"
plim "" code collect

step "commit 3: legacy import/export and reports (debt, security findings, few tests)"
copy src/inventory/legacy.py src/inventory/reports.py tests/test_legacy.py
commit 1 "Legacy warehouse import/export and text reports"
plim "1" code collect --validate

step "the history"
plim "" code history
plim "" code trend pylint.score

step "the records on the code-metrics branch (the work tree and HEAD are untouched)"
printf '\n$ git log --oneline code-metrics\n'
git -C "$PROJECT" log --oneline code-metrics
printf '\n$ git ls-tree -r --name-only code-metrics\n'
git -C "$PROJECT" ls-tree -r --name-only code-metrics
printf '\n$ git status --short   (empty: nothing in the work tree changed)\n'
git -C "$PROJECT" status --short

step "the database: migrations on the embedded PostgreSQL (started under .plimsoll/pg)"
copy db/migrations/0001_stock_items.up.sql db/migrations/0001_stock_items.down.sql \
  db/migrations/0002_movements.up.sql db/migrations/0002_movements.down.sql \
  db/migrations/0003_movements_by_time.up.sql db/migrations/0003_movements_by_time.down.sql
commit 0 "Stock tables and their migrations"
plim "" db migrate validate
step "the migrations linted: locks, rewrites and types (safety) and schema practice (general)"
plim "1" db lint
plim "" db migrate up
plim "" db migrate status
plim "" db migrate down
plim "" db migrate status
step "the reverted migration, pending again: its locks, risk score and predicted time"
plim "" db risk
step "the running service: health checks (no checks configured: the system check)"
# A machine busy with something else may fail the CPU check: exit 1 is a finding, not an error.
plim "1" runtime health
plim "" db server status
plim "" db server stop

step "done"
cat <<EOF
The demo project lives in: $PROJECT
Try, from there:
  cd $PROJECT
  $PLIMSOLL code show            # HEAD's record (else the newest)
  $PLIMSOLL code diff HEAD~2 HEAD~1  # the last two commits collected (HEAD added the migrations)
  $PLIMSOLL code validate        # thresholds against HEAD's record
EOF
