"""Shared helpers of the plimsoll benchmarks: interpreters, PyPI sdists, git repos, timing, verdicts.

Every benchmark sets up what it needs by itself: the project's ``.venv`` (through ``make venv``
when it is missing), a separate venv for the peers (``bench/.venv-peers``) and sdists downloaded
from PyPI with pip into ``bench/.cache/sdists``. A missed target is printed as MISS and never
fails the script; :class:`CannotRun` (exit code 3) is for a benchmark that could not run at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
# Commands are timed as users run them: with their modules' bytecode cached. A shell that sets
# PYTHONDONTWRITEBYTECODE would make every timed run compile the whole program from source.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

REPO = BENCH.parent
CACHE = BENCH / ".cache"
SDISTS = CACHE / "sdists"
PEERS_VENV = Path(os.environ.get("PLIMSOLL_BENCH_PEERS", BENCH / ".venv-peers"))
MAIN_VENV = REPO / ".venv"

# Pinned peer versions, so two runs of a benchmark compare the same tools.
WILY_SPEC = "wily==1.25.0"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}


class CannotRun(Exception):
    """The benchmark could not run (a setup step or a command failed); exit code 3."""


def say(message: str) -> None:
    """A progress line on stderr (stdout is kept for the results)."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def run(
    cmd: Sequence[str | Path],
    cwd: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output; CannotRun with its stderr when ``check`` and it fails."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    try:
        done = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=stdin,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CannotRun(f"{cmd[0]} not found: {exc}") from None
    if check and done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise CannotRun(
            f"`{' '.join(map(str, cmd))}` exited {done.returncode}:\n  " + "\n  ".join(tail)
        )
    return done


@dataclass(frozen=True)
class Timed:
    """One timed command: wall seconds, exit code (None when it hit the time cap) and output."""

    seconds: float
    returncode: int | None
    stdout: str
    stderr: str

    @property
    def timed_out(self) -> bool:
        """Whether the command was killed at its time cap."""
        return self.returncode is None


def timed(
    cmd: Sequence[str | Path],
    cwd: Path | None = None,
    *,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
    ok_codes: Sequence[int] | None = (0,),
) -> Timed:
    """Run and time a command (wall clock, process start included); CannotRun on an unexpected exit."""
    full_env = {**os.environ, **GIT_ENV, **(env or {})}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [str(c) for c in cmd],
        cwd=cwd,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        out, err = proc.communicate()
        return Timed(time.perf_counter() - started, None, out, err)
    took = time.perf_counter() - started
    if ok_codes is not None and proc.returncode not in ok_codes:
        tail = (err or out).strip().splitlines()[-15:]
        raise CannotRun(
            f"`{' '.join(map(str, cmd))}` exited {proc.returncode}:\n  " + "\n  ".join(tail)
        )
    return Timed(took, proc.returncode, out, err)


def main_python() -> Path:
    """The project's venv interpreter with plimsoll installed (``make venv`` when missing)."""
    python = MAIN_VENV / "bin" / "python"
    if python.exists() and run([python, "-c", "import plimsoll"], check=False).returncode == 0:
        return python
    say("setting up the project's .venv (make venv)")
    run(["make", "-C", REPO, "venv"], timeout=1800)
    return python


def peers_python(*specs: str) -> Path:
    """The interpreter of the peers' venv (``bench/.venv-peers``) with ``specs`` installed."""
    python = PEERS_VENV / "bin" / "python"
    if not python.exists():
        say(f"creating {PEERS_VENV}")
        run([sys.executable, "-m", "venv", PEERS_VENV])
    missing = [
        s
        for s in specs
        if run([python, "-m", "pip", "show", "-q", s.split("==")[0]], check=False).returncode
    ]
    if missing:
        say(f"pip install {' '.join(missing)} into {PEERS_VENV}")
        run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *missing],
            timeout=1800,
        )
    return python


def sdist(name: str, version: str) -> Path:
    """The sdist of ``name==version`` from PyPI, downloaded once into ``bench/.cache/sdists``."""
    SDISTS.mkdir(parents=True, exist_ok=True)

    def cached() -> Path | None:
        stems = {f"{name}-{version}".lower(), f"{name.replace('-', '_')}-{version}".lower()}
        for found in SDISTS.iterdir():
            if (
                found.name.endswith((".tar.gz", ".zip"))
                and found.name.lower().removesuffix(".tar.gz").removesuffix(".zip") in stems
            ):
                return found
        return None

    found = cached()
    if found is not None:
        return found
    say(f"pip download {name}=={version} (sdist)")
    # pip builds the sdist's metadata in an isolated environment (setuptools and wheel from PyPI).
    run(
        [
            main_python(),
            "-m",
            "pip",
            "download",
            "-q",
            "--disable-pip-version-check",
            "--no-binary",
            ":all:",
            "--no-deps",
            f"{name}=={version}",
            "-d",
            SDISTS,
        ],
        timeout=600,
    )
    found = cached()
    if found is None:
        raise CannotRun(f"pip download {name}=={version} produced no sdist in {SDISTS}")
    return found


def extract(archive: Path, dest: Path) -> Path:
    """Unpack an sdist into ``dest`` and return its single top folder."""
    dest.mkdir(parents=True, exist_ok=True)
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(dest, filter="data")
    tops = [p for p in dest.iterdir() if p.is_dir()]
    if len(tops) != 1:
        raise CannotRun(f"{archive.name}: expected one top folder, found {len(tops)}")
    return tops[0]


def git(repo: Path, *args: str, stdin: str | None = None) -> str:
    """Run git in ``repo`` with a fixed identity; its stdout."""
    return run(
        ["git", "-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false", *args],
        cwd=repo,
        stdin=stdin,
    ).stdout


def git_init_commit(repo: Path, message: str = "import") -> str:
    """``git init`` ``repo`` and commit everything in it; the new commit's sha."""
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def python_files(root: Path, paths: Sequence[str]) -> list[str]:
    """The ``.py`` files under ``paths`` of ``root`` (relative, sorted)."""
    found: list[str] = []
    for top in paths:
        found += [str(p.relative_to(root)) for p in (root / top).rglob("*.py")]
    return sorted(found)


def count_lines(root: Path, files: Sequence[str]) -> int:
    """Total physical lines of ``files``."""
    return sum(len((root / f).read_bytes().splitlines()) for f in files)


def rmtree(path: Path) -> None:
    """Remove a folder if it exists."""
    shutil.rmtree(path, ignore_errors=True)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain-text table (numbers right-aligned)."""
    cells = [[str(h) for h in headers]] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            c.rjust(w) if n and _numeric(c) else c.ljust(w)
            for c, w in zip(row, widths, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.2f}"
    return str(value)


def _numeric(text: str) -> bool:
    try:
        float(text.rstrip("sx%"))
    except ValueError:
        return False
    return True


@dataclass
class Verdicts:
    """The targets of one benchmark, printed as PASS/MISS lines."""

    name: str
    lines: list[str] | None = None

    def target(self, label: str, measured: str, target: str, passed: bool | None) -> None:
        """Record one target: what was measured, the target, and whether it was met."""
        mark = {True: "PASS", False: "MISS", None: "N/A "}[passed]
        line = f"{mark}  {label}: {measured} (target {target})"
        self.lines = [*(self.lines or []), line]
        print(line, flush=True)

    def summary(self) -> None:
        """Print all verdicts again under one heading (handy at the end of a long run)."""
        print(f"\n== {self.name}: results")
        for line in self.lines or []:
            print(line)


def main_guard(fn: object) -> None:
    """Run ``fn()`` and turn CannotRun into exit code 3 with its message."""
    try:
        fn()  # type: ignore[operator]
    except CannotRun as exc:
        print(f"CANNOT RUN: {exc}", file=sys.stderr)
        sys.exit(3)
    except KeyboardInterrupt:
        sys.exit(130)
