"""The embedded PostgreSQL against the real binaries: lifecycle, concurrency, crash recovery.

Every server lives in a short folder under /tmp (the ``postgres`` user must be able to enter
it when the tests run as root, and a unix socket path is limited to ~107 bytes) and is stopped
by the fixture's finalizer, whatever the test did.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from plimsoll.core.config import EmbeddedServerConfig, LoadedConfig, PlimsollConfig
from plimsoll.core.errors import CannotRunError, ToolMissingError
from plimsoll.db import server as server_module
from plimsoll.db.connection import connect, resolve, resolve_url
from plimsoll.db.server import EmbeddedServer, find_bindir

REPO = Path(__file__).resolve().parents[2]

Factory = Callable[..., EmbeddedServer]


def _require_binaries() -> None:
    try:
        find_bindir()
    except ToolMissingError as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"in CI: {exc}", pytrace=False)
        pytest.skip(str(exc))


def _halt(server: EmbeddedServer) -> None:
    """Stop ``server`` however it is: pg_ctl first, SIGKILL as the last resort."""
    with contextlib.suppress(Exception):
        server.stop()
    pid = server.status().pid
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.fixture
def project_dir() -> Iterator[Path]:
    """A short, world-enterable project folder under /tmp, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="plim-", dir="/tmp"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def embedded(project_dir: Path) -> Iterator[Factory]:
    """Make EmbeddedServers in ``project_dir``; each is stopped when the test ends."""
    _require_binaries()
    made: list[EmbeddedServer] = []

    def make(root: Path | None = None, **settings: object) -> EmbeddedServer:
        server = EmbeddedServer(root or project_dir, EmbeddedServerConfig(**settings))  # type: ignore[arg-type]
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            _halt(server)


def _loaded(root: Path, **embedded: object) -> LoadedConfig:
    config = PlimsollConfig.model_validate({"db": {"embedded": embedded}})
    return LoadedConfig(config=config, source=None, root=root)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- pure --------------------------------------------------------------------------------


def test_url_is_a_libpq_url_over_the_socket(tmp_path: Path) -> None:
    root = tmp_path / "my project"
    server = EmbeddedServer(root, EmbeddedServerConfig(database="app db"))
    params = conninfo_to_dict(server.url())
    assert params["host"] == str(root / ".plimsoll" / "pg")
    assert params["dbname"] == "app db"
    assert params["user"] == "postgres"
    assert params["port"] == "5432"  # always explicit, so PGPORT cannot redirect it
    assert conninfo_to_dict(server.url("postgres"))["dbname"] == "postgres"


def test_data_dir_relative_to_root_or_absolute(tmp_path: Path) -> None:
    relative = EmbeddedServer(tmp_path, EmbeddedServerConfig(data_dir="var/../pgdata", port=6543))
    assert relative.data_dir == tmp_path / "pgdata"
    assert relative.port == 6543
    assert relative.status().tcp
    absolute = EmbeddedServer(tmp_path, EmbeddedServerConfig(data_dir="/srv/pg"))
    assert absolute.data_dir == Path("/srv/pg")
    assert absolute.lock_file == Path("/srv/pg.lock")


def test_status_of_a_fresh_project_needs_no_server(tmp_path: Path) -> None:
    status = EmbeddedServer(tmp_path).status()
    assert not status.running and not status.initialized
    assert status.pid is None and status.version is None
    assert status.to_dict()["data_dir"] == str(tmp_path / ".plimsoll" / "pg")


def test_too_long_socket_path_is_refused_before_initdb(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 90)
    server = EmbeddedServer(deep, EmbeddedServerConfig())
    with pytest.raises(CannotRunError, match="longer than"):
        server.start()
    assert not (deep / ".plimsoll" / "pg").exists()


def test_missing_binaries_is_cannot_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "candidate_bindirs", lambda: [])
    with pytest.raises(ToolMissingError, match="PostgreSQL binaries not found") as caught:
        find_bindir()
    assert caught.value.exit_code == 3


def test_bindir_override_wins_and_bogus_override_is_skipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _require_binaries()
    real = find_bindir()
    monkeypatch.setenv("PLIMSOLL_PG_BINDIR", str(tmp_path))
    assert find_bindir() != tmp_path
    monkeypatch.setenv("PLIMSOLL_PG_BINDIR", str(real))
    assert find_bindir() == real
    assert find_bindir(major="15") is not None


def _system_hidden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Make the system's PostgreSQL invisible: no override, nothing on PATH, no Debian folder."""
    monkeypatch.delenv("PLIMSOLL_PG_BINDIR", raising=False)
    monkeypatch.setattr(server_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(server_module, "SYSTEM_INSTALLS", str(tmp_path / "no-postgresql"))


def test_without_a_system_postgresql_the_pgserver_wheel_serves(
    monkeypatch: pytest.MonkeyPatch, embedded: Factory, tmp_path: Path
) -> None:
    wheel = server_module.wheel_bindir()
    if wheel is None:  # the test extras install it: in CI it must be there
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail("in CI: the pgserver wheel is not installed", pytrace=False)
        pytest.skip("the pgserver wheel is not installed")
    _system_hidden(monkeypatch, tmp_path)
    assert server_module.candidate_bindirs() == [wheel]
    assert find_bindir() == wheel
    server = embedded()
    info = server.start()
    with psycopg.connect(info.url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    reported = subprocess.run(
        [str(wheel / "postgres"), "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert row is not None and str(row[0] // 10000) in reported  # the wheel's own major


def test_no_postgresql_anywhere_names_every_way_out(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _system_hidden(monkeypatch, tmp_path)
    monkeypatch.setattr(server_module, "wheel_bindir", lambda: None)
    with pytest.raises(ToolMissingError) as caught:
        find_bindir()
    assert "plimsoll[embedded]" in str(caught.value) and "PLIMSOLL_PG_BINDIR" in str(caught.value)


def test_dead_or_zombie_pid_is_not_alive() -> None:
    assert server_module._process_alive(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while Path(f"/proc/{child.pid}").exists() and server_module._process_alive(child.pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert not server_module._process_alive(child.pid)  # exited, not yet reaped: a zombie
    child.wait()
    assert not server_module._process_alive(child.pid)


# --- the real server --------------------------------------------------------------------------


@pytest.mark.integration
def test_start_status_url_stop(embedded: Factory, project_dir: Path) -> None:
    server = embedded()
    info = server.start()
    assert info.started and info.initialized and info.database_created
    status = info.status
    assert status.running and status.pid and status.version and status.version.startswith("1")
    assert (project_dir / ".plimsoll" / ".gitignore").read_text().strip().endswith("*")
    assert server.socket_path.exists()
    assert not status.tcp

    target = resolve(_loaded(project_dir), None)
    assert target.embedded and target.url.get_secret_value() == server.url()
    with connect(target) as conn:
        row = conn.execute(
            "SELECT current_database(), current_setting('application_name'), "
            "current_setting('listen_addresses')"
        ).fetchone()
    assert row == ("plimsoll", "plimsoll", "")

    again = server.start()
    assert not again.started and not again.initialized and again.status.pid == status.pid
    assert not server.ensure_running().started

    assert server.stop() is True
    stopped = server.status()
    assert not stopped.running and stopped.initialized and stopped.pid is None
    assert stopped.version == status.version.split(".")[0]  # from PG_VERSION
    assert server.stop() is False

    said: list[str] = []
    # Starts it again for a client, and says so once (it keeps running after the command).
    restarted = resolve_url(_loaded(project_dir), None, notice=said.append)
    assert restarted.embedded and server.status().running
    assert said == [
        "started the embedded PostgreSQL under .plimsoll/pg; `plimsoll db server stop` stops it"
    ]
    resolve_url(_loaded(project_dir), None, notice=said.append)  # already running: silent
    assert len(said) == 1
    second_db = embedded(database="second")
    created = second_db.start()
    assert created.database_created and not created.started
    with psycopg.connect(second_db.url()) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("second",)


_START_SCRIPT = """
import json, sys, time
from pathlib import Path
from plimsoll.db.server import EmbeddedServer
root, at = Path(sys.argv[1]), float(sys.argv[2])
time.sleep(max(0.0, at - time.time()))
info = EmbeddedServer(root).start()
print(json.dumps({"initialized": info.initialized, "started": info.started,
                  "pid": info.status.pid}))
"""


@pytest.mark.integration
def test_two_processes_starting_at_once_initdb_once(embedded: Factory, project_dir: Path) -> None:
    server = embedded()
    at = time.time() + 1.5  # both processes are importing by then and start together
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _START_SCRIPT, str(project_dir), str(at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["initialized"] for r in results) == [False, True]
    assert sorted(r["started"] for r in results) == [False, True]
    assert results[0]["pid"] == results[1]["pid"] == server.status().pid


@pytest.mark.integration
def test_start_after_sigkill_recovers(embedded: Factory) -> None:
    server = embedded()
    first = server.start().status.pid
    assert first is not None
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (id int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    os.kill(first, signal.SIGKILL)
    info = server.start()  # no waiting: stale pid file and busy shared memory are handled
    assert info.started and info.status.pid != first
    with psycopg.connect(server.url()) as conn:
        assert conn.execute("SELECT count(*) FROM kept").fetchone() == (1,)

    # After a reboot the stale pid may name a live process that is not PostgreSQL.
    server.stop()
    (server.data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{server.data_dir}\n")
    assert not server.status().running
    assert server.start().started


@pytest.mark.integration
def test_failed_start_quotes_the_server_log(embedded: Factory) -> None:
    server = embedded()
    server.start()
    server.stop()
    conf = server.data_dir / "postgresql.conf"
    original = conf.read_text()
    conf.write_text(original + "shared_buffers = 'lots'\n")
    try:
        with pytest.raises(CannotRunError) as caught:
            server.start()
    finally:
        conf.write_text(original)
    message = str(caught.value)
    assert "did not start" in message and "server.log" in message
    assert "shared_buffers" in message  # the log line saying what is wrong
    assert not server.status().running


@pytest.mark.integration
def test_tcp_only_with_a_port_and_never_trusted(embedded: Factory) -> None:
    port = _free_port()
    server = embedded(port=port)
    status = server.start().status
    assert status.tcp and status.port == port
    with psycopg.connect(server.url()) as conn:  # the socket, named after the port
        assert conn.execute("SHOW port").fetchone() == (str(port),)
    with pytest.raises(psycopg.OperationalError, match="password"):
        psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{port}/plimsoll", connect_timeout=5
        ).close()
