"""The real PostgreSQL fixture: a throwaway server made with the system's ``initdb`` and ``pg_ctl``.

``pg_server`` (session scope) starts one server per test session in a temporary directory,
listening on a unix socket in that directory and on 127.0.0.1 at a free port, with fsync off
and trust authentication (it is reachable only from this machine and lives for one session).
When the tests run as root, initdb and pg_ctl run as the ``postgres`` user (PostgreSQL refuses
to run as root) and the directory is handed to that user.

``pg_database`` (function scope) creates a fresh database from ``template0`` for one test and
drops it afterwards, so no data leaks between tests.

Binaries are found through ``$PLIMSOLL_PG_BINDIR``, ``pg_config --bindir``, Debian's
``/usr/lib/postgresql/<version>/bin`` (the newest), then ``PATH``. Tests are skipped only when no
PostgreSQL binaries exist at all, and never in CI (``CI`` set), where ``make test`` installs them.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from plimsoll.core.errors import ToolMissingError
from plimsoll.db.server import as_user
from plimsoll.db.server import find_bindir as server_bindir

SUPERUSER = "postgres"
START_TIMEOUT_SECONDS = 60
# The OS users tried, in order, when the tests run as root.
SERVICE_USERS = ("postgres", "nobody")


@dataclass(frozen=True)
class PgServer:
    """A running PostgreSQL server made for this test session."""

    host: str
    port: int
    socket_dir: Path
    user: str
    dsn: str
    version: int
    version_string: str
    bindir: Path
    data_dir: Path

    @property
    def major(self) -> int:
        """The major version (15 for 150018)."""
        return self.version // 10000

    def dsn_for(self, dbname: str) -> str:
        """A libpq URL for ``dbname`` on this server over TCP."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres", **kwargs: Any) -> psycopg.Connection[Any]:
        """A new psycopg connection to ``dbname`` (the caller closes it)."""
        return psycopg.connect(self.dsn_for(dbname), **kwargs)


@dataclass(frozen=True)
class PgDatabase:
    """A database created for one test and dropped after it."""

    dsn: str
    host: str
    port: int
    dbname: str
    user: str
    server: PgServer = field(repr=False)

    def connect(self, **kwargs: Any) -> psycopg.Connection[Any]:
        """A new psycopg connection to this database (the caller closes it)."""
        return psycopg.connect(self.dsn, **kwargs)


# --- finding the binaries ------------------------------------------------------------


def find_bindir() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (as plimsoll finds it), or None."""
    try:
        return server_bindir()
    except ToolMissingError:
        return None


# --- running as the right user ------------------------------------------------------------


def _service_user() -> pwd.struct_passwd | None:
    """The OS user to run the server as: None for the current user, else postgres (or nobody)."""
    if os.geteuid() != 0:
        return None
    for name in SERVICE_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise RuntimeError(
        "running as root, but there is no 'postgres' (or 'nobody') user to run PostgreSQL as"
    )


def _run(argv: list[str], user: pwd.struct_passwd | None, cwd: Path, timeout: float) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C", TZ="UTC")
    done = subprocess.run(
        as_user(argv, user),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _base_tempdir() -> str:
    """A temp directory every user can traverse, with room for a short unix socket path."""
    candidate = tempfile.gettempdir()
    mode = os.stat(candidate).st_mode
    if os.geteuid() == 0 and not mode & 0o001:
        candidate = "/tmp"
    if len(candidate) > 60:  # sun_path is ~107 bytes; keep the socket path well under it
        candidate = "/tmp"
    return candidate


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class _Cluster:
    """One initdb'd data directory and the server running on it."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.user = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="plimsoll-pg-", dir=_base_tempdir()))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self.running = False
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        os.chmod(self.root, 0o700)

    def initdb(self) -> None:
        _run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            self.user,
            self.root,
            timeout=120,
        )
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "100",
            "shared_buffers": "32MB",
            "log_min_messages": "warning",
            "timezone": "'UTC'",
            # Its shared memory segments in the data folder (removed with it): the immediate
            # stop below leaves POSIX segments in /dev/shm, a little more memory per run.
            "dynamic_shared_memory_type": "mmap",
        }
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        # Written by us (root or the same user); postgres only needs to read it.
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as handle:
            handle.write(conf)

    def start(self) -> None:
        last_error: Exception | None = None
        for _attempt in range(3):  # a free port may be taken between choosing and binding it
            self.port = _free_port()
            try:
                _run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.data),
                        "-l",
                        str(self.log),
                        "-w",
                        "-t",
                        str(START_TIMEOUT_SECONDS),
                        "-o",
                        f"-p {self.port}",
                        "start",
                    ],
                    self.user,
                    self.root,
                    timeout=START_TIMEOUT_SECONDS + 30,
                )
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                last_error = exc
                self.stop()
                continue
            self.running = True
            return
        raise RuntimeError(
            f"PostgreSQL did not start: {last_error}\n--- log ---\n{_tail(self.log)}"
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                _run(
                    [
                        str(self.bindir / "pg_ctl"),
                        "-D",
                        str(self.data),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    self.user,
                    self.root,
                    timeout=60,
                )
        self.running = False

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _make_server(bindir: Path) -> tuple[_Cluster, PgServer]:
    cluster = _Cluster(bindir)
    # Registered first so an interrupted session (Ctrl-C, a crash in a fixture) still stops it.
    atexit.register(cluster.destroy)
    try:
        cluster.initdb()
        cluster.start()
        dsn = f"postgresql://{SUPERUSER}@127.0.0.1:{cluster.port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(dsn, connect_timeout=5) as conn:
                    row = conn.execute(
                        "SELECT current_setting('server_version_num')::int, version()"
                    ).fetchone()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    except BaseException:
        cluster.destroy()
        raise
    assert row is not None
    server = PgServer(
        host="127.0.0.1",
        port=cluster.port,
        socket_dir=cluster.root,
        user=SUPERUSER,
        dsn=dsn,
        version=int(row[0]),
        version_string=str(row[1]),
        bindir=bindir,
        data_dir=cluster.data,
    )
    return cluster, server


# --- fixtures ------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for the whole session (skips only when PostgreSQL is not installed)."""
    bindir = find_bindir()
    if bindir is None:
        reason = (
            "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found via "
            "$PLIMSOLL_PG_BINDIR, pg_config, /usr/lib/postgresql/*/bin or PATH; "
            "`make test` installs them"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"in CI: {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        cluster, server = _make_server(bindir)
    except Exception as exc:  # a broken installation is a failure, not a skip
        pytest.fail(f"could not start PostgreSQL from {bindir}: {exc}", pytrace=False)
    try:
        yield server
    finally:
        cluster.destroy()


def _database_name(node_name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", node_name.lower()).strip("_")[:40]
    return f"t_{slug}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_database(pg_server: PgServer, request: pytest.FixtureRequest) -> Iterator[PgDatabase]:
    """A fresh, empty database (from ``template0``) for one test, dropped afterwards."""
    name = _database_name(request.node.name)
    with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'").format(
                sql.Identifier(name)
            )
        )
    try:
        yield PgDatabase(
            dsn=pg_server.dsn_for(name),
            host=pg_server.host,
            port=pg_server.port,
            dbname=name,
            user=pg_server.user,
            server=pg_server,
        )
    finally:
        with psycopg.connect(pg_server.dsn, autocommit=True) as admin:
            if pg_server.version >= 130000:
                admin.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
            else:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (name,),
                )
                admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
