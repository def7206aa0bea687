"""Ctrl-C and SIGTERM (a cancelled CI job) on real commands: what they clean up and what they say.

Each test starts the real ``plimsoll`` on a real PostgreSQL or a real git repository, waits
until it is in the middle of its work (a statement running on the server, a collector's tool
running), sends the signal, and checks what the server, the repository and the process table
hold afterwards, and the one line (or the JSON error) the command ended with.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg
import pytest
from psycopg import sql

from tests.support.cli import COMMAND, ENV
from tests.support.gitrepo import GitRepo
from tests.support.postgres import PgDatabase, PgServer

# Long enough that only the signal ends it; the tests never wait for it.
SLEEP = 120
WAIT_SECONDS = 90


def _wait_for(what: str, condition: Callable[[], Any], process: subprocess.Popen[str]) -> Any:
    """Poll ``condition`` until it is truthy; fail if the command ended first or time runs out."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"plimsoll ended (exit {process.returncode}) before {what}:\n{out}\n{err}")
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"timed out waiting for {what}")


def _default_sigint() -> None:
    # A test run started in the background by a shell ignores SIGINT, and so would the command.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@dataclass
class Started:
    """A running plimsoll command."""

    process: subprocess.Popen[str]

    def interrupt(self, signum: int) -> tuple[int, str, str]:
        """Send ``signum``; the exit status, stdout and stderr once the command has ended."""
        self.process.send_signal(signum)
        out, err = self.process.communicate(timeout=60)
        assert "Traceback" not in err and "Exception ignored" not in err, err
        return self.process.returncode, out, err


@pytest.fixture
def start() -> Iterator[Callable[..., Started]]:
    """Start ``plimsoll ARGS`` in a folder (killed at the end if a test left it running)."""
    started: list[subprocess.Popen[str]] = []

    def run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Started:
        process = subprocess.Popen(
            [*COMMAND, *args],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env or ENV,
            preexec_fn=_default_sigint,
        )
        started.append(process)
        return Started(process)

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def _interrupted_line(stderr: str) -> str:
    """The one line an interrupted command ends with."""
    lines = stderr.splitlines()
    assert lines and lines[-1].startswith("plimsoll: interrupted"), stderr
    assert sum(line.startswith("plimsoll: interrupted") for line in lines) == 1, stderr
    return lines[-1]


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _all_gone(pids: list[int], seconds: float = 10) -> list[int]:
    """The processes of ``pids`` still alive after ``seconds`` (none, when all ended)."""
    deadline = time.monotonic() + seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if _alive(pid)]


# -- databases ------------------------------------------------------------------------------


def _project(
    root: Path, url: str, schema: str = "", migrations: dict[str, str] | None = None
) -> Path:
    (root / "db" / "schema").mkdir(parents=True)
    (root / "db" / "migrations").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(f'[db.environments.development]\nurl = "{url}"\n')
    if schema:
        (root / "db" / "schema" / "a.sql").write_text(schema)
    for name, text in (migrations or {}).items():
        (root / "db" / "migrations" / name).write_text(text)
    return root


def _sessions(server: PgServer, where: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, datname, application_name, query FROM pg_stat_activity "
            f"WHERE pid <> pg_backend_pid() AND {where}",
            params,
        ).fetchall()


def _sleeping_in(server: PgServer, database_like: str) -> list[tuple[Any, ...]]:
    """Sessions running our pg_sleep in a database whose name is LIKE ``database_like``."""
    return _sessions(
        server,
        "datname LIKE %s AND query LIKE %s AND state = 'active'",
        database_like,
        "%pg_sleep%",
    )


def _databases(server: PgServer, like: str) -> list[str]:
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s", (like,))
        return [row[0] for row in rows]


SLOW_SCHEMA = f"CREATE TABLE a (id int);\nSELECT pg_sleep({SLEEP});\n"


@pytest.mark.parametrize(
    ("signum", "fmt", "status"),
    [(signal.SIGTERM, "text", 143), (signal.SIGINT, "json", 130)],
    ids=["sigterm-text", "sigint-json"],
)
def test_db_diff_drops_its_scratch_database(
    tmp_path: Path,
    pg_server: PgServer,
    start: Callable[..., Started],
    signum: int,
    fmt: str,
    status: int,
) -> None:
    root = _project(tmp_path / "p", pg_server.dsn, SLOW_SCHEMA)
    diff = start(root, "db", "diff", "--from", "built", "--to", "development", "--format", fmt)
    running = _wait_for(
        "the scratch build", lambda: _sleeping_in(pg_server, "plimsoll_diff_%"), diff.process
    )
    scratch = running[0][1]
    code, out, err = diff.interrupt(signum)
    assert code == status, err
    _interrupted_line(err)
    if fmt == "json":
        error = json.loads(out)["error"]
        assert (error["kind"], error["exit_code"]) == ("interrupted", status)
        assert error["message"].startswith("interrupted")
    else:
        assert out == ""
    assert _databases(pg_server, scratch) == []
    assert _sessions(pg_server, "datname = %s", scratch) == []


def test_db_build_apply_cancels_its_statement_and_rolls_back(
    tmp_path: Path, pg_server: PgServer, start: Callable[..., Started]
) -> None:
    root = _project(tmp_path / "p", pg_server.dsn, SLOW_SCHEMA)
    name = f"interrupted_{uuid.uuid4().hex[:10]}"
    try:
        build = start(root, "db", "build", "--apply", "--database", name)
        _wait_for("the build's statement", lambda: _sleeping_in(pg_server, name), build.process)
        code, _, err = build.interrupt(signal.SIGTERM)
        assert code == 143, err
        _interrupted_line(err)
        # The statement was cancelled on the server, not left running after the client died.
        assert _sessions(pg_server, "datname = %s", name) == []
        with psycopg.connect(pg_server.dsn_for(name)) as conn:
            assert conn.execute("SELECT to_regclass('public.a')").fetchone() == (None,)
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _locks_on(db: PgDatabase, table: str) -> list[tuple[Any, ...]]:
    with db.connect(autocommit=True) as conn:
        return conn.execute(
            "SELECT pid, mode, granted FROM pg_locks WHERE relation = to_regclass(%s) "
            "AND pid <> pg_backend_pid()",
            (table,),
        ).fetchall()


LOCKING_MIGRATION = {
    "0001_slow.up.sql": f"LOCK TABLE held IN ACCESS EXCLUSIVE MODE;\nSELECT pg_sleep({SLEEP});\n",
    "0001_slow.down.sql": "SELECT 1;\n",
}


def test_a_dry_run_releases_its_locks(
    tmp_path: Path, pg_database: PgDatabase, start: Callable[..., Started]
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE held (id int)")
    root = _project(tmp_path / "p", pg_database.dsn, migrations=LOCKING_MIGRATION)
    dry = start(root, "db", "migrate", "up", "--dry-run")
    _wait_for("the dry run's lock", lambda: _locks_on(pg_database, "held"), dry.process)
    code, _, err = dry.interrupt(signal.SIGTERM)
    assert code == 143, err
    _interrupted_line(err)
    assert _locks_on(pg_database, "held") == []
    assert _sessions(pg_database.server, "datname = %s", pg_database.dbname) == []


def test_migrate_up_says_so_on_one_line_and_exits_143_on_sigterm(
    tmp_path: Path, pg_database: PgDatabase, start: Callable[..., Started]
) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE held (id int)")
    root = _project(tmp_path / "p", pg_database.dsn, migrations=LOCKING_MIGRATION)
    # No COLUMNS: stderr is a pipe, where rich would fold lines at 80 columns.
    env = {k: v for k, v in ENV.items() if k != "COLUMNS"}
    up = start(root, "db", "migrate", "up", env=env)
    _wait_for("the migration's lock", lambda: _locks_on(pg_database, "held"), up.process)
    code, _, err = up.interrupt(signal.SIGTERM)
    assert code == 143, err
    line = _interrupted_line(err)
    assert "rolled back" in line and len(line) > 80
    assert _locks_on(pg_database, "held") == []


# -- code collect ---------------------------------------------------------------------------

# A test suite that never ends, and starts a process of its own: both must be killed.
SLOW_TESTS = f"""\
import pathlib, subprocess, sys, time

child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep({SLEEP})"])
pathlib.Path(sys.argv[1]).write_text(f"{{__import__('os').getpid()}} {{child.pid}}")
time.sleep({SLEEP})
"""


@pytest.fixture
def slow_repo(git_repo: GitRepo, tmp_path: Path) -> Iterator[tuple[GitRepo, Path]]:
    """A repository whose coverage collector runs a test suite that only a kill ends."""
    pids = tmp_path / "pids"
    git_repo.write(
        "pyproject.toml",
        '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["coverage", "stats"]\n'
        "[tool.plimsoll.code.coverage]\nrun_tests = true\n"
        f'test_command = "python slow_tests.py {pids}"\n',
    )
    git_repo.write("slow_tests.py", SLOW_TESTS)
    git_repo.commit("one", {"src/pkg/__init__.py": '"""A package."""\n'})
    git_repo.commit("two", {"src/pkg/more.py": "def f():\n    return 1\n"})
    yield git_repo, pids
    # Whatever a failing test left running must not outlive it.
    for pid in _tool_pids(pids)() or []:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def _tool_pids(pids_file: Path) -> Callable[[], list[int] | None]:
    def read() -> list[int] | None:
        try:
            text = pids_file.read_text()
        except FileNotFoundError:
            return None
        return [int(p) for p in text.split()] if len(text.split()) == 2 else None

    return read


@pytest.mark.parametrize(
    ("signum", "fmt", "status"),
    [(signal.SIGTERM, "text", 143), (signal.SIGINT, "json", 130)],
    ids=["sigterm-text", "sigint-json"],
)
def test_collect_kills_the_collectors_and_their_tools(
    slow_repo: tuple[GitRepo, Path],
    start: Callable[..., Started],
    signum: int,
    fmt: str,
    status: int,
) -> None:
    repo, pids_file = slow_repo
    collect = start(repo.path, "code", "collect", "--no-store", "--format", fmt)
    tools = _wait_for("the test suite", _tool_pids(pids_file), collect.process)
    workers = [child.pid for child in psutil.Process(collect.process.pid).children()]
    code, out, err = collect.interrupt(signum)
    assert code == status, err
    line = _interrupted_line(err)
    assert "coverage" in line
    if fmt == "json":
        error = json.loads(out)["error"]
        assert (error["kind"], error["exit_code"]) == ("interrupted", status)
        assert error["message"] == line.removeprefix("plimsoll: ")
    assert workers and _all_gone([*workers, *tools]) == []


def _worktrees(repo: GitRepo) -> list[str]:
    listed = repo.git("worktree", "list", "--porcelain").splitlines()
    return [line.removeprefix("worktree ") for line in listed if line.startswith("worktree ")]


def _env_with_tmpdir(tmp: Path) -> dict[str, str]:
    tmp.mkdir(exist_ok=True)
    return {**ENV, "TMPDIR": str(tmp)}


def test_an_interrupted_backfill_removes_its_worktree(
    slow_repo: tuple[GitRepo, Path], tmp_path: Path, start: Callable[..., Started]
) -> None:
    repo, pids_file = slow_repo
    tmp = tmp_path / "tmp"
    backfill = start(
        repo.path, "code", "collect", "--rev", "HEAD~1..HEAD", "--no-store",
        env=_env_with_tmpdir(tmp),
    )  # fmt: skip
    tools = _wait_for("the test suite", _tool_pids(pids_file), backfill.process)
    assert len(_worktrees(repo)) == 2
    code, _, err = backfill.interrupt(signal.SIGTERM)
    assert code == 143, err
    line = _interrupted_line(err)
    assert "removed the temporary worktree" in line
    assert _worktrees(repo) == [str(repo.path)]
    assert list(tmp.glob("plimsoll-backfill-*")) == []
    assert _all_gone(tools) == []


def test_the_next_backfill_removes_a_worktree_left_by_a_killed_one(
    slow_repo: tuple[GitRepo, Path], tmp_path: Path, start: Callable[..., Started]
) -> None:
    repo, pids_file = slow_repo
    env = _env_with_tmpdir(tmp_path / "tmp")
    killed = start(repo.path, "code", "collect", "--rev", "HEAD~1..HEAD", "--no-store", env=env)
    _wait_for("the test suite", _tool_pids(pids_file), killed.process)
    groups = {os.getpgid(c.pid) for c in psutil.Process(killed.process.pid).children()}
    # Killed outright, with every process it started: nothing of it can clean up.
    killed.process.kill()
    for group in groups:
        os.killpg(group, signal.SIGKILL)
    killed.process.communicate()  # its output pipes close once its collectors are gone too
    left = [tree for tree in _worktrees(repo) if "plimsoll-backfill-" in tree]
    assert len(left) == 1 and Path(left[0]).is_dir()
    # A backfill still running (its lock held) keeps its worktree.
    live_folder = Path(tempfile.mkdtemp(prefix="plimsoll-backfill-", dir=tmp_path / "tmp"))
    live_tree = live_folder / "tree"
    repo.git("worktree", "add", "--detach", "--quiet", str(live_tree), "HEAD")
    with (live_folder / "owner.lock").open("w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        repo.write(
            "pyproject.toml", '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["stats"]\n'
        )
        done = subprocess.run(
            [*COMMAND, "code", "collect", "--rev", "HEAD~1..HEAD", "--no-store"],
            cwd=repo.path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert _worktrees(repo) == [str(repo.path), str(live_tree)]
    assert not Path(left[0]).parent.exists()


# -- the commands that run until told to stop keep their own handling ------------------------


def test_runtime_monitor_still_stops_cleanly_on_sigterm(
    tmp_path: Path, start: Callable[..., Started]
) -> None:
    root = tmp_path / "svc"
    root.mkdir()
    (root / "plimsoll.toml").write_text("")
    monitor = start(root, "runtime", "monitor", "--duration", str(SLEEP))
    state = root / ".plimsoll" / "state.db"
    _wait_for("the monitor's first samples", state.exists, monitor.process)
    time.sleep(1)
    code, out, err = monitor.interrupt(signal.SIGTERM)
    assert code == 0, err
    assert "monitor stopped (SIGTERM)" in out + err
    assert "interrupted" not in err
