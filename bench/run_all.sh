#!/usr/bin/env bash
# Runs every plimsoll benchmark, one after another (they must not share the CPU), and prints
# each one's PASS/MISS lines again at the end. A missed target is not a failure: this script
# exits non-zero only when a benchmark could not run (setup failed, a command errored).
#
#   bash bench/run_all.sh                    all four
#   bash bench/run_all.sh collect history    only these (names without bench_ and .py)
#
# Sets up what it needs: the project's .venv (make venv), bench/.venv-peers (wily), and the
# sdists from PyPI in bench/.cache/sdists.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
python="$repo/.venv/bin/python"
if ! "$python" -c 'import plimsoll' >/dev/null 2>&1; then
  echo "==> setting up $repo/.venv (make venv)" >&2
  make -C "$repo" venv || exit 3
fi

names=("$@")
if [ "${#names[@]}" -eq 0 ]; then
  names=(collect backfill history pathological sql_parse migrate lint risk health instruments usage alerts)
fi

logdir="$(mktemp -d -t plimsoll-bench.XXXXXX)"
failed=()
for name in "${names[@]}"; do
  script="$here/bench_${name}.py"
  if [ ! -f "$script" ]; then
    echo "no such benchmark: $name ($script)" >&2
    failed+=("$name")
    continue
  fi
  echo
  echo "######## bench_${name}"
  "$python" "$script" 2>&1 | tee "$logdir/$name.log"
  status="${PIPESTATUS[0]}"
  if [ "$status" -ne 0 ]; then
    failed+=("$name (exit $status)")
  fi
done

echo
echo "######## summary"
for name in "${names[@]}"; do
  [ -f "$logdir/$name.log" ] && grep -E '^(PASS|MISS|N/A) ' "$logdir/$name.log" | sed "s/^/[$name] /"
done
rm -rf "$logdir"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "could not run: ${failed[*]}" >&2
  exit 3
fi
