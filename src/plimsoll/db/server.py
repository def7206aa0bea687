"""The embedded PostgreSQL: a local server plimsoll starts itself when an environment has no URL.

It lives in ``db.embedded.data_dir`` (``.plimsoll/pg`` by default, relative to the project root),
made with the system's ``initdb`` and run with its ``pg_ctl``. It listens on a unix socket in the
data directory only (no TCP unless ``db.embedded.port`` is set, and then on 127.0.0.1 with
password authentication), with ``trust`` authentication for that socket: only users who can enter
the data directory (its owner, and root) can reach it. The superuser is ``postgres``; the
configured database is created on start when it is missing.

PostgreSQL refuses to run as root: when plimsoll runs as root, ``initdb`` and ``pg_ctl`` run as the
``postgres`` user (through ``runuser``) and the data directory is handed to that user. The server
log is ``server.log`` in the data directory; a failed start quotes its last lines.

A file lock beside the data directory (``.plimsoll/pg.lock``) serialises start and stop, so two
processes starting the server at once do not both run ``initdb``. A ``postmaster.pid`` left by a
crash is normally cleared by PostgreSQL itself; one naming a process that is gone or a zombie is
removed first, since in containers whose init does not reap orphans a killed server stays a zombie
and PostgreSQL would take it for a live one.

Interruptions (Ctrl-C, SIGTERM, a failure half-way) never leave a broken project behind:

- ``initdb`` runs in a staging folder beside the data directory (``.plimsoll/pg.init-*``);
  plimsoll's settings are written into it, and only then is it renamed into place. A staging
  folder left by a process that was killed outright is removed by the next start.
- plimsoll's settings (socket folder, port, ``listen_addresses``) are also given on the server's
  command line, which outranks every configuration file: the server never listens on the system
  socket folder or on TCP unless configured, even in a data directory whose files lack them.
- The tools run in a session of their own, so a terminal's Ctrl-C reaches plimsoll only; on an
  interruption plimsoll kills them and waits before it lets go of the lock, and a start that
  fails or is interrupted stops the server it launched.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Literal
from urllib.parse import quote

import psycopg
from psycopg import sql

from plimsoll.core.config import EmbeddedServerConfig
from plimsoll.core.errors import CannotRunError, ToolMissingError
from plimsoll.core.log import get_logger
from plimsoll.core.paths import ensure_private_dir

log = get_logger(__name__)

SUPERUSER = "postgres"
# The socket file name carries a port number even without TCP; 5432 is the conventional one and
# cannot clash with another server, since the socket lives in this server's own data directory.
DEFAULT_PORT = 5432
SERVICE_USER = "postgres"
LOG_NAME = "server.log"
CONF_NAME = "plimsoll.conf"
SERVER_TOOLS = ("initdb", "pg_ctl", "postgres")
# sun_path holds 108 bytes including the terminating NUL on Linux.
_SOCKET_PATH_MAX = 107
_INCLUDE_LINE = f"include_if_exists = '{CONF_NAME}'"
_INCLUDE_COMMENT = "\n# Settings of plimsoll's embedded server, rewritten on start.\n"
# initdb works in "<data dir name>.init-<random>" beside the data directory (see the docstring).
_STAGING_INFIX = ".init-"
_INITDB_TIMEOUT_SECONDS = 300.0
_STOP_TIMEOUT_SECONDS = 60.0
_LOG_TAIL_LINES = 20


@dataclass(frozen=True)
class ServerStatus:
    """What the embedded server is doing now and where it lives."""

    running: bool
    initialized: bool
    pid: int | None
    version: str | None
    data_dir: Path
    socket_dir: Path
    port: int
    tcp: bool
    database: str
    url: str
    log_file: Path

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (paths as strings)."""
        return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ServerInfo:
    """The running embedded server, and what ``start`` had to do to get it there."""

    status: ServerStatus
    started: bool
    initialized: bool
    database_created: bool

    @property
    def url(self) -> str:
        """The libpq URL of the configured database."""
        return self.status.url

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping: the status fields plus what this call did."""
        return {
            **self.status.to_dict(),
            "started": self.started,
            "initialized_now": self.initialized,
            "database_created": self.database_created,
        }


# --- finding the binaries ------------------------------------------------------------------


def _has_server_tools(folder: Path) -> bool:
    return all(os.access(folder / tool, os.X_OK) for tool in SERVER_TOOLS)


def _folder_version(folder: Path) -> tuple[int, ...]:
    numbers = re.findall(r"\d+", folder.parent.name)
    return tuple(int(n) for n in numbers) or (0,)


def _binaries_major(folder: Path) -> str | None:
    """The major version of the server binaries in ``folder`` (``15``), from ``postgres -V``."""
    try:
        out = subprocess.run(
            [str(folder / "postgres"), "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"(\d+)(?:\.\d+)?", out)
    return match.group(1) if match else None


SYSTEM_INSTALLS = "/usr/lib/postgresql"
"""Where Debian and Ubuntu install each major version's server (``<major>/bin``)."""


def wheel_bindir() -> Path | None:
    """The server binaries of the ``pgserver`` wheel, when it is installed (``plimsoll[embedded]``).

    The wheel bundles a relocatable PostgreSQL build (``pgserver/pginstall/bin``); only its
    binaries are used, through the same initdb/pg_ctl steps as the system's. The package is
    located without being imported (importing it would start nothing, but costs time).
    """
    try:
        spec = importlib.util.find_spec("pgserver")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "pginstall" / "bin"
        if _has_server_tools(folder):
            return folder
    return None


def candidate_bindirs() -> list[Path]:
    """Folders that may hold the server binaries, in the order they are tried.

    ``$PLIMSOLL_PG_BINDIR`` first, then ``PATH`` (symlinks followed, since Debian puts links
    there and only the real folder holds ``postgres``), ``pg_config --bindir``,
    ``/usr/lib/postgresql/<version>/bin`` newest first, and last the ``pgserver`` wheel's
    binaries (for a machine with no PostgreSQL of its own).
    """
    candidates: list[Path] = []
    override = os.environ.get("PLIMSOLL_PG_BINDIR")
    if override:
        candidates.append(Path(override))
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)
        candidates.append(Path(initdb).parent)
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(
        sorted(Path(SYSTEM_INSTALLS).glob("*/bin"), key=_folder_version, reverse=True)
    )
    wheel = wheel_bindir()
    if wheel is not None:
        candidates.append(wheel)
    unique: list[Path] = []
    for folder in candidates:
        if folder not in unique:
            unique.append(folder)
    return unique


def find_bindir(major: str | None = None) -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``.

    With ``major``, binaries of that major version are preferred: an existing data directory
    can only be run by the version that made it. Raises ToolMissingError when there are none.
    """
    usable = [folder for folder in candidate_bindirs() if _has_server_tools(folder)]
    if not usable:
        raise ToolMissingError(
            "PostgreSQL binaries not found: no initdb, pg_ctl and postgres on PATH, in "
            "`pg_config --bindir`, /usr/lib/postgresql/*/bin or the pgserver wheel (install "
            "the PostgreSQL server package or `pip install 'plimsoll[embedded]'`, set "
            "$PLIMSOLL_PG_BINDIR, or configure a database URL)"
        )
    if major is not None:
        for folder in usable:
            if _binaries_major(folder) == major:
                return folder
    return usable[0]


# --- processes ------------------------------------------------------------------------------


def service_user() -> pwd.struct_passwd | None:
    """The OS user the server runs as: None for the current user, ``postgres`` when root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        raise CannotRunError(
            f"running as root, but there is no {SERVICE_USER!r} user to run PostgreSQL as "
            "(PostgreSQL refuses to run as root): create it or run plimsoll as another user"
        ) from None


def as_user(argv: list[str], user: pwd.struct_passwd | None) -> list[str]:
    """``argv`` run as ``user`` (runuser, or su where there is none); as is for None."""
    if user is None:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", user.pw_name, "--", *argv]
    return ["su", "-s", "/bin/sh", user.pw_name, "-c", shlex.join(argv)]


def _clean_env() -> dict[str, str]:
    # PG* variables of the caller (PGPORT, PGDATA, ...) would redirect the tools.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(LC_ALL="C", LANG="C")
    return env


def _run(
    argv: list[str], user: pwd.struct_passwd | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run a server tool to its end; on a timeout or an interruption its processes are killed.

    The tool gets a session of its own: a terminal's Ctrl-C (or ``timeout -s INT``, which signals
    the whole process group) then reaches plimsoll alone, which kills the tool's whole group
    (runuser and what it runs) and waits for it. Left alone, an ``initdb`` outliving plimsoll
    would go on writing (or, on its own SIGINT, emptying) a folder the next start relies on.
    """
    try:
        proc = subprocess.Popen(
            as_user(argv, user),
            cwd="/",  # the service user may not be allowed into the caller's folder
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
    except OSError as exc:
        raise CannotRunError(f"cannot run {argv[0]}: {exc.strerror}") from None
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with _signals_deferred():
            _kill_group(proc)
        raise CannotRunError(f"{Path(argv[0]).name} did not finish within {timeout:.0f}s") from None
    except BaseException:
        with _signals_deferred():
            _kill_group(proc)
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc``'s process group and reap ``proc``.

    Only ``wait``, not ``communicate``: a server that pg_ctl already detached may briefly hold
    the output pipes, and reading them to the end would wait for that server.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; else a no-op).

    Python's default for SIGTERM ends the process on the spot, with no chance to kill the
    tools it runs or to stop a server it has just launched.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while cleaning up; one that came is raised afterwards.

    A second Ctrl-C must not cut short the cleanup of the first (main thread only).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def remember(signum: int, _frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {sig: signal.signal(sig, remember) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if handler is not None:  # None: set outside Python, nothing to put back
                signal.signal(sig, handler)
    if caught:
        raise KeyboardInterrupt


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie has exited and counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, owned by someone else
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return True  # no /proc: trust kill()
    # The state follows the parenthesised command name, which may itself hold spaces.
    state = stat.rsplit(")", 1)[-1].split()
    return not state or state[0] not in ("Z", "X")


def _postgres_alive(pid: int) -> bool:
    """Whether ``pid`` is a live PostgreSQL process.

    After a reboot the pid in a stale ``postmaster.pid`` may belong to an unrelated process;
    its command line tells them apart.
    """
    if not _process_alive(pid):
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True  # no /proc, or not ours to read: trust the pid
    return b"postgres" in cmdline or b"postmaster" in cmdline


def _lock_pid(path: Path) -> int | None:
    try:
        first = path.read_text(encoding="utf-8", errors="replace").splitlines()[0]
        return int(first.strip())
    except (OSError, IndexError, ValueError):
        return None


def tail(path: Path, lines: int = _LOG_TAIL_LINES, offset: int = 0) -> str:
    """The last ``lines`` lines of ``path`` from byte ``offset`` on ('' when unreadable)."""
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _names_data_dir(args: list[bytes], target: bytes) -> bool:
    """Whether a command line is a server (or pg_ctl's child about to become one) for ``target``.

    ``postgres -D <dir>``, and ``pg_ctl -D <dir>`` (its forked child keeps that command line
    until it runs ``/bin/sh -c 'exec "postgres" -D "<dir>" ...'``, the third form).
    """
    for flag, value in zip(args, args[1:], strict=False):
        if flag == b"-D" and value == target:
            return True
    return (
        len(args) >= 3
        and args[0].endswith(b"sh")
        and args[1] == b"-c"
        and b'-D "' + target + b'"' in args[2]
    )


def _server_pids(data_dir: Path) -> set[int]:
    """Live processes running (or about to run) a server on ``data_dir``.

    Its ``postmaster.pid`` alone would miss a server that pg_ctl has launched but that has not
    written the file yet, so the process table is read too (where there is one).
    """
    pids: set[int] = set()
    recorded = _lock_pid(data_dir / "postmaster.pid")
    if recorded is not None and _postgres_alive(recorded):
        pids.add(recorded)
    target = os.fsencode(data_dir)
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return pids
    own = os.getpid()
    for entry in entries:
        if not entry.name.isdigit() or int(entry.name) == own:
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if _names_data_dir(args, target) and _process_alive(int(entry.name)):
            pids.add(int(entry.name))
    return pids


def _halt_servers(data_dir: Path, timeout: float) -> list[int]:
    """Stop every server process on ``data_dir``: SIGINT (a fast shutdown), SIGKILL at the end.

    Signals, not ``pg_ctl stop``: a server launched a moment ago may not have written the
    ``postmaster.pid`` pg_ctl needs. Returns the pids that were signalled.
    """
    signalled: list[int] = []
    deadline = time.monotonic() + timeout
    while True:
        live = _server_pids(data_dir)
        if not live:
            return signalled
        force = time.monotonic() > deadline
        for pid in live:
            if pid not in signalled or force:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL if force else signal.SIGINT)
                if pid not in signalled:
                    signalled.append(pid)
        if force:
            # Its children notice the postmaster's death and exit on their own.
            time.sleep(0.2)
            return signalled
        time.sleep(0.1)


# --- the server -----------------------------------------------------------------------------


class EmbeddedServer:
    """The PostgreSQL plimsoll runs itself for a project (see the module docstring)."""

    def __init__(self, root: Path, config: EmbeddedServerConfig | None = None) -> None:
        self.root = root
        self.config = config or EmbeddedServerConfig()
        data = Path(self.config.data_dir).expanduser()
        self.data_dir = data if data.is_absolute() else (root / data)
        self.data_dir = Path(os.path.abspath(self.data_dir))

    # -- where things are --------------------------------------------------------------------

    @property
    def socket_dir(self) -> Path:
        """The folder holding the unix socket: the data directory itself."""
        return self.data_dir

    @property
    def port(self) -> int:
        """The TCP port when configured, else the number in the socket's file name."""
        return self.config.port if self.config.port is not None else DEFAULT_PORT

    @property
    def log_file(self) -> Path:
        """The server's log file."""
        return self.data_dir / LOG_NAME

    @property
    def lock_file(self) -> Path:
        """The file lock serialising start and stop, beside the data directory."""
        return self.data_dir.parent / f"{self.data_dir.name}.lock"

    @property
    def socket_path(self) -> Path:
        """The unix socket the server listens on."""
        return self.socket_dir / f".s.PGSQL.{self.port}"

    def url(self, database: str | None = None) -> str:
        """A libpq URL to ``database`` (default: the configured one) over the unix socket."""
        name = database or self.config.database
        # The port is always given: a PGPORT in the caller's environment would otherwise
        # change the socket file libpq looks for.
        return (
            f"postgresql://{SUPERUSER}@/{quote(name, safe='')}"
            f"?host={quote(str(self.socket_dir), safe='')}&port={self.port}"
        )

    def initialized(self) -> bool:
        """Whether the data directory has been made by ``initdb``."""
        return (self.data_dir / "PG_VERSION").is_file()

    def data_version(self) -> str | None:
        """The major version that made the data directory (``15``), or None."""
        try:
            return (self.data_dir / "PG_VERSION").read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    # -- status ------------------------------------------------------------------------------

    def _running_pid(self) -> int | None:
        pid = _lock_pid(self.data_dir / "postmaster.pid")
        if pid is None or not _postgres_alive(pid):
            return None
        return pid

    def _server_version(self) -> str | None:
        try:
            with psycopg.connect(
                self.url("postgres"), connect_timeout=3, application_name="plimsoll"
            ) as conn:
                row = conn.execute("SELECT current_setting('server_version')").fetchone()
        except psycopg.Error:
            return None
        return str(row[0]).split()[0] if row else None

    def status(self) -> ServerStatus:
        """Whether the server runs, its pid, version and where it lives (no binaries needed)."""
        pid = self._running_pid()
        version = self._server_version() if pid is not None else None
        return ServerStatus(
            running=pid is not None,
            initialized=self.initialized(),
            pid=pid,
            version=version or self.data_version(),
            data_dir=self.data_dir,
            socket_dir=self.socket_dir,
            port=self.port,
            tcp=self.config.port is not None,
            database=self.config.database,
            url=self.url(),
            log_file=self.log_file,
        )

    # -- start and stop ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self, timeout: float) -> Iterator[None]:
        ensure_private_dir(self.data_dir.parent)
        with self.lock_file.open("a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise CannotRunError(
                            f"another plimsoll process has held {self.lock_file} for over "
                            f"{timeout:.0f}s while starting or stopping the embedded server"
                        ) from None
                    time.sleep(0.1)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def ensure_running(self) -> ServerInfo:
        """Start the server unless it already runs (a cheap check first, then ``start``)."""
        # Reaching the configured database proves both the server and the database are there.
        if self._running_pid() is not None and self._answers(self.config.database):
            return ServerInfo(
                self.status(), started=False, initialized=False, database_created=False
            )
        return self.start()

    def start(self) -> ServerInfo:
        """Start the server (``initdb`` first when needed) and create the database if missing.

        Idempotent: when the server already runs, returns its info with ``started`` false. A
        server found running without plimsoll's settings (as an older plimsoll could leave it)
        is stopped and started again with them. On a failure or an interruption (Ctrl-C,
        SIGTERM) the server this call launched is stopped and no half-made data directory is
        left behind.
        """
        timeout = self.config.start_timeout_seconds + _INITDB_TIMEOUT_SECONDS
        with _sigterm_interrupts(), self._locked(timeout):
            if self._running_pid() is not None:
                state = self._wait_ready()
                if state == "ready":
                    created = self._ensure_database()
                    return ServerInfo(self.status(), False, False, created)
                if state == "foreign":
                    self._stop_foreign()
            self._check_socket_path()
            user = service_user()
            self._discard_staging()
            bindir = find_bindir(self.data_version())
            initialized = False
            if self.initialized():
                self._check_made_by_plimsoll()
            else:
                self._initdb(bindir, user)
                initialized = True
            self._write_conf(self.data_dir, user)
            self._clear_stale_locks()
            try:
                self._pg_ctl_start(bindir, user)
                created = self._ensure_database()
                info = ServerInfo(self.status(), True, initialized, created)
            except BaseException:
                with _signals_deferred():
                    halted = _halt_servers(self.data_dir, _STOP_TIMEOUT_SECONDS)
                    self._clear_stale_locks()
                if halted:
                    log.info(
                        "stopped the embedded server after a failed start",
                        extra={"event": "db.server.start_failed", "pids": halted},
                    )
                raise
        log.info(
            "embedded server started",
            extra={"event": "db.server.start", "data_dir": str(self.data_dir)},
        )
        return info

    def stop(self) -> bool:
        """Stop the server (fast shutdown: sessions are ended); False when it was not running."""
        with self._locked(self.config.start_timeout_seconds + _STOP_TIMEOUT_SECONDS):
            if self._running_pid() is None:
                return False
            bindir = find_bindir(self.data_version())
            done = _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-m",
                    "fast",
                    "-w",
                    "-t",
                    str(int(_STOP_TIMEOUT_SECONDS)),
                    "stop",
                ],
                service_user(),
                _STOP_TIMEOUT_SECONDS + 30,
            )
            if done.returncode != 0 and self._running_pid() is not None:
                raise CannotRunError(
                    f"could not stop the embedded PostgreSQL in {self.data_dir}: "
                    f"{_first_line(done.stderr or done.stdout)}"
                )
        log.info(
            "embedded server stopped",
            extra={"event": "db.server.stop", "data_dir": str(self.data_dir)},
        )
        return True

    # -- the steps ---------------------------------------------------------------------------

    def _answers(self, database: str = "postgres") -> bool:
        try:
            with psycopg.connect(self.url(database), connect_timeout=3) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error:
            return False
        return True

    def _wait_ready(self) -> Literal["ready", "gone", "foreign"]:
        """Wait for a live server to accept connections.

        ``ready`` once it does, ``gone`` once it has exited, ``foreign`` when its
        ``postmaster.pid`` shows it listening elsewhere than plimsoll's settings say. A server
        whose pid is alive may still be starting, shutting down, or dying of a kill.
        """
        deadline = time.monotonic() + self.config.start_timeout_seconds
        while True:
            pid = self._running_pid()
            if pid is None:
                return "gone"
            if self._listens_elsewhere():
                return "foreign"
            if self._answers():
                return "ready"
            if time.monotonic() > deadline:
                raise CannotRunError(
                    f"the embedded PostgreSQL in {self.data_dir} (pid {pid}) runs but does not "
                    f"accept connections; last lines of {self.log_file}:\n{tail(self.log_file)}"
                )
            time.sleep(0.2)

    def _listens_elsewhere(self) -> bool:
        """Whether the running server's port, socket folder or TCP address differ from ours.

        From ``postmaster.pid`` (line 4 the port, 5 the first socket folder, 6 the first TCP
        address, empty for none), which the server completes once it listens; before that
        nothing is known and the answer is False.
        """
        try:
            lines = (self.data_dir / "postmaster.pid").read_text(encoding="utf-8").splitlines()
        except OSError:
            return False
        if len(lines) < 6:
            return False
        wanted = self._settings()
        return (
            lines[3].strip() != wanted["port"]
            or lines[4].strip() != str(self.socket_dir)
            or lines[5].strip() != wanted["listen_addresses"]
        )

    def _stop_foreign(self) -> None:
        """Stop a server running on our data directory without plimsoll's settings."""
        with _signals_deferred():
            pids = _halt_servers(self.data_dir, _STOP_TIMEOUT_SECONDS)
            self._clear_stale_locks()
        log.warning(
            "stopped the embedded server: it ran without plimsoll's settings",
            extra={"event": "db.server.restart", "data_dir": str(self.data_dir), "pids": pids},
        )

    def _check_socket_path(self) -> None:
        if len(os.fsencode(self.socket_path)) > _SOCKET_PATH_MAX:
            raise CannotRunError(
                f"the embedded server's socket path {self.socket_path} is longer than the "
                f"{_SOCKET_PATH_MAX} bytes a unix socket allows: set db.embedded.data_dir to a "
                "shorter (absolute) path"
            )

    @property
    def _final_dir(self) -> Path:
        """The data directory with symlinks resolved: where the staging folder is renamed to."""
        return Path(os.path.realpath(self.data_dir))

    def _discard_staging(self) -> None:
        """Remove staging folders of earlier starts that were killed outright (SIGKILL)."""
        final = self._final_dir
        for folder in final.parent.glob(f"{glob.escape(final.name)}{_STAGING_INFIX}*"):
            if folder.is_dir() and not folder.is_symlink():
                shutil.rmtree(folder, ignore_errors=True)
                log.info(
                    "removed an unfinished initdb folder",
                    extra={"event": "db.server.staging_removed", "path": str(folder)},
                )

    def _check_target_free(self) -> None:
        """The data directory must be missing or an empty folder before ``initdb``."""
        final = self._final_dir
        if not final.exists():
            return
        if not final.is_dir():
            raise CannotRunError(f"{self.data_dir} exists and is not a folder")
        if any(final.iterdir()):
            raise CannotRunError(
                f"{self.data_dir} is not empty and is not a PostgreSQL data directory "
                "(no PG_VERSION): move it away or set db.embedded.data_dir"
            )

    def _check_made_by_plimsoll(self) -> None:
        """An existing data directory must be complete; plimsoll's include line is added.

        An older plimsoll could leave one half-made, or made without that line, when a first
        start was interrupted. One whose ``initdb`` finished (``global/pg_control`` and the
        three databases ``initdb`` makes under ``base/``) is taken as it is.
        """
        conf = self.data_dir / "postgresql.conf"
        try:
            lines = [line.strip() for line in conf.read_text(encoding="utf-8").splitlines()]
        except OSError:
            lines = []
        if _INCLUDE_LINE in lines:
            return
        databases = [entry for entry in (self.data_dir / "base").glob("*") if entry.is_dir()]
        if not (self.data_dir / "global" / "pg_control").is_file() or len(databases) < 3:
            raise CannotRunError(
                f"{self.data_dir} is a half-made PostgreSQL data directory (an earlier first "
                "start was interrupted while initdb ran): remove it "
                f"(rm -rf {shlex.quote(str(self.data_dir))}) and start again"
            )
        try:
            with conf.open("a", encoding="utf-8") as handle:
                handle.write(_INCLUDE_COMMENT + _INCLUDE_LINE + "\n")
        except OSError as exc:
            raise CannotRunError(
                f"cannot add plimsoll's settings to {conf}: {exc.strerror}"
            ) from None
        log.info(
            "added plimsoll's settings to a data directory made without them",
            extra={"event": "db.server.adopt", "data_dir": str(self.data_dir)},
        )

    def _hand_over(self, folder: Path, user: pwd.struct_passwd | None) -> None:
        """Give ``folder`` to the service user (when running as root) and check it can write."""
        if user is None:
            return
        os.chown(folder, user.pw_uid, user.pw_gid)
        os.chmod(folder, 0o700)
        probe = _run(["test", "-w", str(folder)], user, 30)
        if probe.returncode != 0:
            raise CannotRunError(
                f"the {user.pw_name} user cannot reach {folder}: "
                f"{_blocking_folder(folder, user)} (PostgreSQL cannot run as root; "
                "give that folder o+x or set db.embedded.data_dir elsewhere)"
            )

    def _initdb(self, bindir: Path, user: pwd.struct_passwd | None) -> None:
        """Make the data directory: initdb and plimsoll's settings in staging, then a rename."""
        self._check_target_free()
        final = self._final_dir
        ensure_private_dir(final.parent)
        staging = Path(tempfile.mkdtemp(prefix=final.name + _STAGING_INFIX, dir=final.parent))
        try:
            self._hand_over(staging, user)
            done = _run(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(staging),
                    "-U",
                    SUPERUSER,
                    # Trust only for the socket, which sits in the 0700 data directory; TCP
                    # (when a port is configured) needs a password.
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                ],
                user,
                _INITDB_TIMEOUT_SECONDS,
            )
            if done.returncode != 0:
                output = "\n".join(
                    (done.stdout + done.stderr).strip().splitlines()[-_LOG_TAIL_LINES:]
                )
                raise CannotRunError(
                    f"initdb failed for {self.data_dir} (exit {done.returncode}):\n{output}"
                )
            # The include line lets every start rewrite plimsoll.conf from the current settings.
            with (staging / "postgresql.conf").open("a", encoding="utf-8") as handle:
                handle.write(_INCLUDE_COMMENT + _INCLUDE_LINE + "\n")
            self._write_conf(staging, user)
            try:
                # Atomic, and it replaces an empty folder standing there.
                os.rename(staging, final)
            except OSError as exc:
                raise CannotRunError(
                    f"cannot move the new data directory into {self.data_dir}: {exc.strerror}"
                ) from None
            _fsync_dir(final.parent)
        except BaseException:
            with _signals_deferred():
                shutil.rmtree(staging, ignore_errors=True)
            raise
        log.info(
            "embedded server initialised",
            extra={"event": "db.server.initdb", "data_dir": str(self.data_dir)},
        )

    def _settings(self) -> dict[str, str]:
        """plimsoll's server settings, as values PostgreSQL reads (before any quoting)."""
        return {
            "listen_addresses": "127.0.0.1" if self.config.port is not None else "",
            "port": str(self.port),
            "unix_socket_directories": _folder_list_item(str(self.socket_dir)),
            "unix_socket_permissions": "0700",
        }

    def _write_conf(self, folder: Path, user: pwd.struct_passwd | None) -> None:
        """Write plimsoll.conf into the data directory ``folder`` (it may be the staging one)."""
        text = "# Written by plimsoll on every start of the embedded server.\n" + "".join(
            f"{key} = {_conf_str(value)}\n" for key, value in self._settings().items()
        )
        conf = folder / CONF_NAME
        conf.write_text(text, encoding="utf-8")
        if user is not None:
            os.chown(conf, user.pw_uid, user.pw_gid)
        os.chmod(conf, 0o600)

    def _clear_stale_locks(self) -> None:
        """Remove lock files naming a process that is gone (see the module docstring)."""
        for lock in (
            self.data_dir / "postmaster.pid",
            self.socket_dir / f"{self.socket_path.name}.lock",
        ):
            pid = _lock_pid(lock)
            if pid is not None and not _postgres_alive(pid):
                with contextlib.suppress(FileNotFoundError):
                    lock.unlink()
                log.info(
                    "removed a stale lock file",
                    extra={"event": "db.server.stale_lock", "path": str(lock), "pid": pid},
                )

    def _server_options(self) -> str:
        """plimsoll's settings as ``postgres`` options (pg_ctl hands them to ``/bin/sh``)."""
        options: list[str] = []
        for key, value in self._settings().items():
            options += ["-c", f"{key}={value}"]
        return shlex.join(options)

    def _pg_ctl_start(self, bindir: Path, user: pwd.struct_passwd | None) -> None:
        timeout = self.config.start_timeout_seconds
        deadline = time.monotonic() + timeout
        while True:
            offset = _size(self.log_file)
            done = _run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    str(max(1, int(timeout))),
                    # On the command line too, which outranks every configuration file.
                    "-o",
                    self._server_options(),
                    "start",
                ],
                user,
                timeout + 30,
            )
            if done.returncode == 0:
                return
            lines = tail(self.log_file, offset=offset)
            # After a crash the old server's children can hold its shared memory for a moment.
            if "still in use" in lines and time.monotonic() < deadline:
                time.sleep(0.5)
                self._clear_stale_locks()
                continue
            detail = lines or (done.stderr or done.stdout).strip()
            raise CannotRunError(
                f"the embedded PostgreSQL in {self.data_dir} did not start "
                f"(pg_ctl exit {done.returncode}); last lines of {self.log_file}:\n{detail}"
            )

    def _ensure_database(self) -> bool:
        name = self.config.database
        try:
            with psycopg.connect(
                self.url("postgres"),
                autocommit=True,
                connect_timeout=10,
                application_name="plimsoll",
            ) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if exists:
                    return False
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise CannotRunError(
                f"the embedded PostgreSQL runs but database {name!r} could not be created: "
                f"{_first_line(str(exc))}"
            ) from None
        log.info("created database", extra={"event": "db.server.createdb", "database": name})
        return True


def _conf_str(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def _folder_list_item(path: str) -> str:
    """``path`` as one item of a PostgreSQL list of folders.

    Double-quoted only when a comma (the separator), a double quote or edge spaces require it,
    so ``SHOW unix_socket_directories`` stays the bare path in the usual case.
    """
    if "," in path or '"' in path or path != path.strip():
        return '"' + path.replace('"', '""') + '"'
    return path


def _fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable (best effort: some file systems refuse)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return "(no output)"


def _can_enter(folder: Path, user: pwd.struct_passwd) -> bool:
    try:
        st = folder.stat()
    except OSError:
        return False
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & 0o100)
    groups = {user.pw_gid, *os.getgrouplist(user.pw_name, user.pw_gid)}
    if st.st_gid in groups:
        return bool(st.st_mode & 0o010)
    return bool(st.st_mode & 0o001)


def _blocking_folder(path: Path, user: pwd.struct_passwd) -> str:
    for folder in reversed((path, *path.parents)):
        if not _can_enter(folder, user):
            return f"{folder} is closed to it"
    return "permission denied"
