"""The embedded PostgreSQL when a start is interrupted or fails, against the real binaries.

A first ``plimsoll db server start`` cut short (Ctrl-C, SIGTERM, a failure) must leave either no
data directory or a usable one, no process behind, and no server listening anywhere but its own
socket; three starts at once still give one server.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from plimsoll.core.errors import CannotRunError
from plimsoll.db import server as server_module
from plimsoll.db.server import EmbeddedServer, find_bindir
from tests.db.test_server import (  # noqa: F401 - fixtures
    Factory,
    _free_port,
    embedded,
    project_dir,
)

CLI = [sys.executable, "-m", "plimsoll"]


def _processes_naming(folder: Path) -> list[str]:
    """Command lines of live processes that mention ``folder`` (initdb, pg_ctl, postgres)."""
    found = []
    needle = os.fsencode(folder) + b"/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            cmdline = (entry / "cmdline").read_bytes()
            if needle in cmdline and server_module._process_alive(int(entry.name)):
                found.append(cmdline.replace(b"\0", b" ").decode(errors="replace"))
    return found


@pytest.fixture
def project(project_dir: Path, embedded: Factory) -> Iterator[Path]:  # noqa: F811
    """A project folder; whatever a test left running in it is killed at the end."""
    embedded()  # the fixture stops this project's server at the end
    try:
        yield project_dir
    finally:
        needle = os.fsencode(project_dir) + b"/"
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError):
                    if needle in (entry / "cmdline").read_bytes():
                        os.kill(int(entry.name), signal.SIGKILL)


def _settings(server: EmbeddedServer) -> dict[str, str]:
    with psycopg.connect(server.url(), connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('listen_addresses', 'unix_socket_directories', 'port')"
        ).fetchall()
    return dict(rows)


def _assert_own_settings(server: EmbeddedServer) -> None:
    assert _settings(server) == {
        "listen_addresses": "",
        "unix_socket_directories": str(server.data_dir),
        "port": "5432",
    }


def _leftovers(project: Path) -> list[str]:
    state = project / ".plimsoll"
    return sorted(p.name for p in state.glob("pg.init-*")) if state.exists() else []


# --- pure ------------------------------------------------------------------------------------


def test_server_command_lines_are_recognised() -> None:
    target = b"/p/.plimsoll/pg"
    postmaster = [b"/usr/lib/postgresql/15/bin/postgres", b"-D", target, b"-c", b"port=5432"]
    assert server_module._names_data_dir(postmaster, target)
    pg_ctl_child = [b"pg_ctl", b"-D", target, b"-l", b"log", b"start"]
    assert server_module._names_data_dir(pg_ctl_child, target)
    shell = [b"/bin/sh", b"-c", b'exec "/usr/bin/postgres" -D "/p/.plimsoll/pg" -c x=1']
    assert server_module._names_data_dir(shell, target)
    assert not server_module._names_data_dir([b"postgres", b"-D", target + b"2"], target)
    assert not server_module._names_data_dir([b"psql", b"-d", target], target)


def test_settings_go_on_the_command_line_quoted(tmp_path: Path) -> None:
    root = tmp_path / "it's, here"
    server = EmbeddedServer(root)
    args = subprocess.run(
        ["sh", "-c", 'for a in "$@"; do echo "$a"; done', "sh"]
        + shlex.split(server._server_options()),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pairs = dict(a.split("=", 1) for a in args[1::2])
    assert args[0::2] == ["-c"] * 4
    assert pairs == {
        "listen_addresses": "",
        "port": "5432",
        "unix_socket_directories": f'"{server.data_dir}"',  # a comma: quoted
        "unix_socket_permissions": "0700",
    }


def test_signals_during_cleanup_are_raised_after_it() -> None:
    before = signal.getsignal(signal.SIGTERM)
    done = []
    with pytest.raises(KeyboardInterrupt):
        with server_module._signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.05)
            done.append("cleanup finished")
    assert done == ["cleanup finished"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        with server_module._sigterm_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) == before


def test_an_interrupted_tool_is_killed_with_its_children() -> None:
    marker = f"sleep 29.{time.time_ns() % 10**9:09d}"  # unique, and still 29-odd seconds
    # sh starts a grandchild, as runuser starts initdb; both must be gone afterwards.
    argv = ["sh", "-c", f"{marker} & {marker}"]

    def interrupt() -> None:
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        server_module._run(argv, None, 60)
    left = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True).stdout
    assert left == ""


# --- interrupting the first start ----------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(
    ("when", "sig", "group"),
    [
        # during initdb (the staging folder, or the data directory itself, has PG_VERSION):
        (".plimsoll/pg*/PG_VERSION", signal.SIGINT, True),  # Ctrl-C, `timeout -s INT`
        (".plimsoll/pg*/PG_VERSION", signal.SIGTERM, False),  # `kill <pid>`, a cancelled job
        # once the server is being started in the data directory:
        (".plimsoll/pg/postmaster.pid", signal.SIGINT, True),
    ],
    ids=["initdb-ctrl-c", "initdb-sigterm", "server-ctrl-c"],
)
def test_interrupted_first_start_leaves_no_folder_or_a_usable_one(
    project: Path, when: str, sig: signal.Signals, group: bool
) -> None:
    proc = subprocess.Popen(
        [*CLI, "db", "server", "start"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while not list(project.glob(when)) and proc.poll() is None:
        assert time.monotonic() < deadline, "the start never got there"
        time.sleep(0.01)
    if group:
        os.killpg(proc.pid, sig)
    else:
        os.kill(proc.pid, sig)
    _, err = proc.communicate(timeout=120)

    server = EmbeddedServer(project)
    assert proc.returncode == 130 and "interrupted" in err, err
    # Nothing left running or half-written: no initdb, no server, no staging folder.
    assert _processes_naming(project) == []
    assert not server.status().running
    assert _leftovers(project) == []
    if server.data_dir.exists():
        assert server.initialized()
        conf = (server.data_dir / "postgresql.conf").read_text()
        assert "include_if_exists = 'plimsoll.conf'" in conf

    again = subprocess.run(
        [*CLI, "db", "server", "start", "--format", "json"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["running"]
    _assert_own_settings(server)


# --- data directories without plimsoll's settings -------------------------------------------------


def _initdb_by_hand(data_dir: Path) -> None:
    """A data directory as an older plimsoll left it when interrupted: no plimsoll settings."""
    user = server_module.service_user()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(mode=0o700)
    if user is not None:
        os.chown(data_dir, user.pw_uid, user.pw_gid)
    argv = [str(find_bindir() / "initdb"), "-D", str(data_dir), "-U", "postgres", "--no-sync"]
    done = subprocess.run(
        server_module.as_user(argv, user), capture_output=True, text=True, cwd="/", check=False
    )
    assert done.returncode == 0, done.stderr


def _pg_ctl(server: EmbeddedServer, *args: str) -> None:
    argv = [str(find_bindir() / "pg_ctl"), "-D", str(server.data_dir), "-w", *args]
    done = subprocess.run(
        server_module.as_user(argv, server_module.service_user()),
        capture_output=True,
        text=True,
        cwd="/",
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.integration
def test_a_data_directory_without_plimsoll_settings_never_listens_elsewhere(
    project: Path,
    embedded: Factory,  # noqa: F811
) -> None:
    server = embedded()
    elsewhere = project / "elsewhere"
    elsewhere.mkdir(mode=0o777)
    elsewhere.chmod(0o777)
    port = _free_port()
    _initdb_by_hand(server.data_dir)
    overrides = (
        f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
        f"unix_socket_directories = '{elsewhere}'\n"
    )
    conf = server.data_dir / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write(overrides)

    # Made without plimsoll's include line: it is added, and the server uses the socket only.
    info = server.start()
    assert info.started and not info.initialized and info.database_created
    _assert_own_settings(server)
    assert "include_if_exists = 'plimsoll.conf'" in conf.read_text()

    # Settings after the include line cannot move it either: the command line outranks them.
    server.stop()
    with conf.open("a") as handle:
        handle.write(overrides)
    server.start()
    _assert_own_settings(server)
    assert list(elsewhere.iterdir()) == []
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass

    # A server someone started on it with other settings is restarted with plimsoll's.
    server.stop()
    _pg_ctl(server, "-l", str(server.log_file), "start")
    foreign = server.status().pid
    assert foreign is not None and server.status().running
    restarted = server.start()
    assert restarted.started and restarted.status.pid != foreign
    _assert_own_settings(server)
    assert list(elsewhere.iterdir()) == []


@pytest.mark.integration
def test_a_half_made_data_directory_is_named_with_the_fix(
    project: Path,
    embedded: Factory,  # noqa: F811
) -> None:
    server = embedded()
    server.data_dir.mkdir(parents=True)
    (server.data_dir / "PG_VERSION").write_text("15\n")
    (server.data_dir / "postgresql.conf").write_text("# initdb stopped here\n")
    with pytest.raises(CannotRunError, match="half-made") as caught:
        server.start()
    assert f"rm -rf {server.data_dir}" in str(caught.value)
    assert sorted(p.name for p in server.data_dir.iterdir()) == ["PG_VERSION", "postgresql.conf"]
    assert not server.status().running and _processes_naming(project) == []


@pytest.mark.integration
def test_a_start_that_fails_stops_the_server_it_started(embedded: Factory) -> None:  # noqa: F811
    first = embedded()
    first.start()
    first.stop()
    # A real failure after the server is up: it cannot create the configured database.
    with (first.data_dir / "postgresql.conf").open("a") as handle:
        handle.write("\ndefault_transaction_read_only = on\n")
    other = embedded(database="other")
    with pytest.raises(CannotRunError, match="'other' could not be created"):
        other.start()
    assert not other.status().running
    assert not (other.data_dir / "postmaster.pid").exists()
    assert _processes_naming(other.root) == []


# --- concurrency ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_three_cli_starts_at_once_give_one_server(project: Path) -> None:
    # A staging folder left by a start that was killed outright (SIGKILL) is cleared first.
    stale = project / ".plimsoll" / "pg.init-killed"
    stale.mkdir(parents=True)
    (stale / "PG_VERSION").write_text("15\n")
    procs = [
        subprocess.Popen(
            [*CLI, "db", "server", "start", "--format", "json"],
            cwd=project,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    assert sorted(r["initialized_now"] for r in results) == [False, False, True]
    assert sorted(r["started"] for r in results) == [False, False, True]
    assert sum(r["database_created"] for r in results) == 1
    server = EmbeddedServer(project)
    assert {r["pid"] for r in results} == {server.status().pid}
    assert _leftovers(project) == []
    _assert_own_settings(server)
