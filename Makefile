# plimsoll: every target sets up what it needs on a fresh machine by itself.
#
#   make demo    system packages (when missing) + .venv + the sample-project demo
#   make test    system packages (when missing) + .venv + the test suite
#   make lint    ruff and mypy
#   make clean   caches, build artefacts and the demo (make distclean also removes .venv)
#
# Variables:
#   PYTEST_ARGS="tests/core -x"   extra pytest arguments. make exits 2 whenever a recipe fails, so
#                                 pytest's own exit code is also written to $PYTEST_STATUS_FILE
#                                 when that is set (.ci/run uses it).
#   PYTHON=python3.12             the interpreter .venv is made from (default python3, 3.11+)
#   WITH_CHROMIUM=0               do not install the browser (only the dashboard tests need it)
#   DRY_RUN=1                     make system: say what would be installed, let apt-get simulate it
#   SIMULATE_MISSING="git ..."    make system: treat these packages as missing (tests that path)

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

PYTHON ?= python3
VENV ?= .venv
VENV_PY := $(VENV)/bin/python
# Rebuilt (pip install -e) only when pyproject.toml is newer than this stamp.
STAMP := $(VENV)/.plimsoll-installed
PYTEST_ARGS ?=
WITH_CHROMIUM ?= 1
DRY_RUN ?= 0
SIMULATE_MISSING ?=

# In CI: the short summary of every non-passing outcome and the slowest tests.
ifneq ($(filter true True TRUE 1 yes,$(CI)),)
PYTEST_CI_ARGS := -ra --durations=10 --color=no
endif

export PIP_DISABLE_PIP_VERSION_CHECK := 1
export PIP_NO_INPUT := 1
export PYTHONDONTWRITEBYTECODE := 1
export DEBIAN_FRONTEND := noninteractive
export WITH_CHROMIUM DRY_RUN SIMULATE_MISSING PYTHON

.PHONY: help system system-check venv test demo lint docs clean distclean

help:
	@echo "plimsoll make targets:"
	@echo "  make demo          set up everything, then run the sample-project demo"
	@echo "  make test          set up everything, then run the tests (PYTEST_ARGS=... to narrow)"
	@echo "  make lint          ruff and mypy"
	@echo "  make docs          regenerate docs/rules from the lint rules' docstrings"
	@echo "  make system        install missing system packages (git, postgresql, chromium)"
	@echo "  make system-check  show what 'make system' would install; changes nothing"
	@echo "  make venv          create .venv and install plimsoll with its test extras"
	@echo "  make clean         remove caches, build artefacts and the demo"
	@echo "  make distclean     clean, and remove .venv"

# --- system packages ---------------------------------------------------------------------------
# Each package is installed only when what it provides is missing, so a machine that has
# everything pays one `command -v` per tool. apt-get runs at most once (update, then install).
define SYSTEM_SCRIPT
say() { printf '==> system: %s\n' "$$*"; }
simulated() { case " $$SIMULATE_MISSING " in *" $$1 "*) return 0;; esac; return 1; }
has_cmd() { command -v "$$1" >/dev/null 2>&1; }

# The PostgreSQL server binaries: pg_config's bindir, then Debian's versioned dirs (newest first),
# then PATH. Prints the directory holding initdb and pg_ctl.
pg_bindir() {
  local d
  for d in "$$(pg_config --bindir 2>/dev/null || true)" \
           $$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r) \
           "$$(dirname "$$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
    if [ -n "$$d" ] && [ -x "$$d/initdb" ] && [ -x "$$d/pg_ctl" ]; then echo "$$d"; return 0; fi
  done
  return 1
}

missing=()
present=()
check() {  # check <apt package> <test command...>
  local pkg="$$1"; shift
  if ! simulated "$$pkg" && "$$@" >/dev/null 2>&1; then present+=("$$pkg"); else missing+=("$$pkg"); fi
}
check git has_cmd git
check postgresql pg_bindir
# promtool checks the Prometheus rules that `plimsoll runtime rules export` writes (tests).
check prometheus has_cmd promtool
# Debian's python3 needs python3-venv for `python3 -m venv`; pyenv's Python has it built in.
check python3-venv "$$PYTHON" -c 'import ensurepip, venv'
if [ "$$WITH_CHROMIUM" = 1 ]; then
  check chromium has_cmd chromium
  check chromium-driver has_cmd chromedriver
fi

if [ "$${#missing[@]}" -eq 0 ]; then
  bindir="$$(pg_bindir)"
  say "present: $${present[*]} (PostgreSQL in $$bindir)"
  exit 0
fi
say "missing: $${missing[*]}"

if ! has_cmd apt-get; then
  say "apt-get not found: install $${missing[*]} with your system's package manager" >&2
  exit 1
fi
if [ "$$(id -u)" -eq 0 ]; then
  SUDO=()
elif has_cmd sudo; then
  SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive)
elif [ "$$DRY_RUN" = 1 ]; then
  SUDO=(sudo); say "dry run: not root and no sudo: the real run would stop here" >&2
else
  say "not root and no sudo: run as root, or install $${missing[*]} yourself" >&2
  exit 1
fi

# Another apt run (unattended-upgrades, a parallel job) may hold the lock: wait for it.
APT_OPTS=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
retry() {
  local n
  for n in 1 2 3 4 5; do
    if "$$@"; then return 0; fi
    say "attempt $$n failed (apt lock or network?); retrying in $$((n * 5))s" >&2
    sleep "$$((n * 5))"
  done
  "$$@"
}

if [ "$$DRY_RUN" = 1 ]; then
  say "dry run: would run: $${SUDO[*]:+$${SUDO[*]} }apt-get update; apt-get install -y --no-install-recommends $${missing[*]}"
  # apt-get -s resolves the packages against the current lists without installing anything.
  if apt-get -s "$${APT_OPTS[@]}" install --no-install-recommends "$${missing[@]}" >/tmp/plimsoll-apt-sim.$$$$ 2>&1; then
    say "dry run: apt-get would install $$(grep -c '^Inst ' /tmp/plimsoll-apt-sim.$$$$ || true) package(s); all resolvable"
    rm -f /tmp/plimsoll-apt-sim.$$$$
  else
    cat /tmp/plimsoll-apt-sim.$$$$ >&2; rm -f /tmp/plimsoll-apt-sim.$$$$
    say "dry run: apt-get cannot resolve $${missing[*]} (run apt-get update?)" >&2
    exit 1
  fi
  exit 0
fi

log="$$(mktemp -t plimsoll-apt.XXXXXX)"
trap 'rm -f "$$log"' EXIT
say "apt-get update"
if ! retry "$${SUDO[@]}" apt-get "$${APT_OPTS[@]}" update >"$$log" 2>&1; then
  cat "$$log" >&2; say "apt-get update failed" >&2; exit 1
fi
say "apt-get install $${missing[*]}"
if ! retry "$${SUDO[@]}" apt-get "$${APT_OPTS[@]}" install -y --no-install-recommends \
     -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
     "$${missing[@]}" </dev/null >"$$log" 2>&1; then
  cat "$$log" >&2; say "apt-get install failed" >&2; exit 1
fi
if ! bindir="$$(pg_bindir)"; then
  say "postgresql installed but initdb/pg_ctl not found in /usr/lib/postgresql/*/bin" >&2; exit 1
fi
say "installed: $${missing[*]} (PostgreSQL in $$bindir)"
endef
export SYSTEM_SCRIPT

system:
	@bash -c "$$SYSTEM_SCRIPT"

system-check:
	@DRY_RUN=1 bash -c "$$SYSTEM_SCRIPT"

# --- virtual environment -------------------------------------------------------------------------

venv: $(STAMP)
	@:

# Order-only on system: python3-venv may have to be installed first, even under make -j.
$(STAMP): pyproject.toml | system
	@if ! "$(VENV_PY)" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then \
	  echo "==> venv: creating $(VENV) with $$(command -v $(PYTHON)) ($$($(PYTHON) -V 2>&1))"; \
	  rm -rf "$(VENV)"; \
	  $(PYTHON) -m venv "$(VENV)"; \
	  "$(VENV_PY)" -m pip install -q --upgrade pip || echo "==> venv: pip upgrade failed; going on"; \
	fi
	@echo "==> venv: pip install -e '.[test]'"
	@"$(VENV_PY)" -m pip install -q -e '.[test]'
	@touch "$@"

# --- jobs ------------------------------------------------------------------------------------------

test: system venv
	@echo "==> test: pytest $(PYTEST_ARGS)"
	@status=0; "$(VENV_PY)" -m pytest -p no:cacheprovider $(PYTEST_CI_ARGS) $(PYTEST_ARGS) || status=$$?; \
	  if [ -n "$${PYTEST_STATUS_FILE:-}" ]; then echo "$$status" > "$$PYTEST_STATUS_FILE"; fi; \
	  exit $$status

demo: system venv
	@bash examples/demo.sh

lint: venv
	@echo "==> lint: ruff"
	@"$(VENV)/bin/ruff" check src tests
	@echo "==> lint: mypy"
	@"$(VENV)/bin/mypy"

docs: venv
	@"$(VENV_PY)" -m plimsoll.db.lint.docs docs/rules
	@echo "==> docs: docs/rules regenerated"

clean:
	@rm -rf build dist src/*.egg-info .plimsoll/demo .pytest_cache .mypy_cache .ruff_cache .hypothesis .coverage
	@find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	@echo "==> clean: done"

distclean: clean
	@rm -rf "$(VENV)"
	@echo "==> distclean: removed $(VENV)"
