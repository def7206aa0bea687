"""The pylint collector's side of the warm pylint server (see :mod:`._pylint_server`).

:func:`socket_for` names the server of a project and its pylint settings, :func:`ask` sends it
a request (None when there is no server, or it cannot answer: the collector then runs pylint
cold, with the same result), :func:`start` starts one in the background after a cold run.

The server is a convenience of the edit-and-collect loop, so it is used only where that loop
is: not under CI (a machine that runs once gains nothing and keeps no process around), not
with ``--no-cache`` (a cold run), not when ``code.pylint_server_idle_seconds`` is 0 or
``PLIMSOLL_PYLINT_SERVER=0`` is set (a CI system that does not set ``CI``), and not
when the project's pylint settings load plugins or run an init hook (both would run a second
time in the server's child, on top of the first: a plugin's transforms twice).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from plimsoll.core.log import get_logger

SERVER = "plimsoll.code.collectors._pylint_server"
log = get_logger("code.collectors.pylint")
# pylint settings a warm server cannot reproduce (see the module docstring).
_UNSAFE_SETTINGS = ("load-plugins", "load_plugins", "init-hook", "init_hook")
# sun_path holds 108 bytes on Linux, its terminating NUL included.
_MAX_SOCKET_PATH = 107
# A server that failed to start is not started again for this long (its reason is kept).
_FAILED_FOR_SECONDS = 24 * 3600
# A request is shared among children when each gets at least this many files, one per core
# up to this many children.
_PART_MIN = 4
_MAX_PARTS = 4
# The servers started by this process: kept referenced, so that none is collected (and
# warned about) while it runs on after this process.
_STARTED: list[subprocess.Popen[bytes]] = []


def wanted(idle_seconds: float, settings: dict[str, str], cached: bool) -> bool:
    """Whether a warm server may be used (see the module docstring)."""
    if idle_seconds <= 0 or not cached or not hasattr(os, "fork"):
        return False
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        return False
    if os.environ.get("PLIMSOLL_PYLINT_SERVER", "").lower() in ("0", "false", "no", "off"):
        return False
    return not any(word in text for text in settings.values() for word in _UNSAFE_SETTINGS)


def _folder() -> Path | None:
    """This user's folder for the servers' sockets (0700, owned by this user), or None."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    folder = Path(base) / f"plimsoll-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return None
    # Anyone able to write there could answer in the server's place: then no server at all.
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        log.debug(
            "pylint: no warm server: %s is not a folder only this user can open",
            folder,
            extra={"event": "pylint_warm_refused"},
        )
        return None
    return folder


def socket_for(root: Path, cache_key: str) -> Path | None:
    """The socket of the server for ``root`` and ``cache_key``, or None.

    ``cache_key`` is the pylint collector's: pylint's, astroid's and Python's versions and
    the project's pylint settings.

    The name also covers this interpreter, ``PYTHONPATH`` and plimsoll's own driver and server
    code, so a server started in another setting or by another version is never asked.
    """
    folder = _folder()
    if folder is None:
        return None
    here = Path(__file__).resolve().parent
    code = [(here / name).stat().st_mtime_ns for name in ("_pylint_driver.py", "_pylint_server.py")]
    identity = json.dumps([cache_key, str(root.resolve()), sys.executable, _import_setting(), code])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:24]
    path = folder / f"pylint-{digest}.sock"
    if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
        log.debug(
            "pylint: no warm server: the socket's path %s is too long for a unix socket",
            path,
            extra={"event": "pylint_warm_refused"},
        )
        return None
    return path


def _import_setting() -> list[Any]:
    """What decides where a new interpreter finds modules: ``PYTHONPATH``, this one's path
    (the first entry is the running script's folder: left out), and the ``.pth`` files of
    the site folders (an editable install adds one, with a path entry or an import hook)."""
    import site

    folders = [*site.getsitepackages(), site.getusersitepackages()]
    pth: list[tuple[str, int]] = []
    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.name.endswith(".pth"):
                    pth.append((entry.path, entry.stat().st_mtime_ns))
    return [os.environ.get("PYTHONPATH", ""), sys.path[1:], sorted(pth)]


def ask(sock_path: Path, request: dict[str, Any], timeout: float | None) -> dict[str, Any] | None:
    """The driver's result for ``request`` from the server at ``sock_path``, or None.

    None when there is no server, it has gone stale (a module it built changed), or it
    failed: the caller runs pylint cold. On a timeout or an interrupt the server's child
    working on it is stopped.
    """
    if not sock_path.exists():
        return None
    with tempfile.TemporaryDirectory(prefix="plimsoll-pylint-") as tmp:
        output = Path(tmp) / "result.json"
        message = json.dumps({"request": request, "output": str(output)}) + "\n"
        child: int | None = None
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.connect(str(sock_path))
                conn.sendall(message.encode())
                reader = conn.makefile("r", encoding="utf-8")
                deadline = None if timeout is None else time.monotonic() + timeout
                first = _read(conn, reader, deadline)
                if first is None or "pid" not in first:
                    return None
                child = int(first["pid"])
                answer = _read(conn, reader, deadline)
                if answer is None or not answer.get("ok"):
                    return None
                child = None
                data: dict[str, Any] = json.loads(output.read_text("utf-8"))
                return data
        except (OSError, ValueError, TimeoutError):
            return None
        finally:
            if child is not None:  # timed out, interrupted or failed: no orphan left working
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)


def parts_for(lint: list[str], cpus: int | None) -> int:
    """How many children share ``lint``: one per core, at least :data:`_PART_MIN` files each."""
    return max(1, min(cpus or 1, _MAX_PARTS, len(lint) // _PART_MIN))


def _balanced(lint: list[str], sizes: dict[str, int], parts: int) -> list[list[str]]:
    """``lint`` in ``parts`` lists of about equal total size (largest first, to the lightest).

    A module and its stub (``m.py``, ``m.pyi``) stay together: pylint lints both from one
    source, and what it reports on them linted in one run differs from linting each alone.
    """
    units: dict[str, list[str]] = {}
    for path in lint:
        stem = path[:-1] if path.endswith(".pyi") else path
        units.setdefault(stem, []).append(path)
    shares: list[list[str]] = [[] for _ in range(parts)]
    totals = [0] * parts
    weight = {stem: sum(sizes.get(p, 0) for p in unit) for stem, unit in units.items()}
    for stem in sorted(units, key=lambda u: (-weight[u], u)):
        lightest = totals.index(min(totals))
        shares[lightest].extend(units[stem])
        totals[lightest] += weight[stem]
    order = {path: index for index, path in enumerate(lint)}
    return [sorted(share, key=order.__getitem__) for share in shares if share]


def ask_parallel(
    sock_path: Path,
    request: dict[str, Any],
    timeout: float | None,
    sizes: dict[str, int],
    parts: int,
) -> dict[str, Any] | None:
    """:func:`ask`, with the files to lint shared among ``parts`` children working at once.

    Each file's result does not depend on which others are linted with it (the per-file
    cache rests on that too); the project-wide messages do, so one last small request lints
    the smallest file with every other result given: its project-wide messages are the
    whole run's, as are its messages about pylint's settings (said once per run). A message
    that belongs to no linted file may be said once per run or once per file: when a child
    has one, the files are linted by one child instead.
    """
    lint: list[str] = request["lint"]
    if parts < 2:
        return ask(sock_path, request, timeout)
    from concurrent.futures import ThreadPoolExecutor  # only when sharing: not at start-up

    deadline = None if timeout is None else time.monotonic() + timeout
    shares = _balanced(lint, sizes, parts)
    with ThreadPoolExecutor(parts) as pool:
        answers = list(
            pool.map(lambda share: ask(sock_path, {**request, "lint": share}, timeout), shares)
        )
    if any(answer is None for answer in answers):
        return None
    done = [answer for answer in answers if answer is not None]
    if any(answer["orphans"] for answer in done):
        return ask(sock_path, request, _left(deadline))
    files: dict[str, Any] = {}
    for answer in done:
        files.update(answer["files"])
    smallest = min(lint, key=lambda p: (sizes.get(p, 0), p))
    others = {p: e for p, e in {**request["cached"], **files}.items() if p != smallest}
    final = ask(sock_path, {**request, "lint": [smallest], "cached": others}, _left(deadline))
    if final is None or final["orphans"]:
        return None
    every = [*done, final]
    return {
        **final,
        "files": {**files, **final["files"]},
        "extra_modules": sorted({m for answer in every for m in answer["extra_modules"]}),
        "unsafe": sorted({c for answer in every for c in answer["unsafe"]}),
    }


def _left(deadline: float | None) -> float | None:
    """The seconds left before ``deadline`` (TimeoutError-free: at least a moment)."""
    return None if deadline is None else max(deadline - time.monotonic(), 0.001)


def _read(conn: socket.socket, reader: Any, deadline: float | None) -> dict[str, Any] | None:
    """The next JSON line from the server, or None (closed); TimeoutError past ``deadline``."""
    if deadline is not None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        conn.settimeout(left)
    line = reader.readline()
    if not line:
        return None
    answer: dict[str, Any] = json.loads(line)
    return answer


def ping(sock_path: Path, timeout: float = 5.0) -> bool:
    """Whether a server answers at ``sock_path`` (its trees built)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(timeout)
            conn.connect(str(sock_path))
            conn.sendall(b'{"ping": true}\n')
            line = conn.makefile("r", encoding="utf-8").readline()
    except OSError:
        return False
    return bool(line) and bool(json.loads(line).get("ready"))


def start(sock_path: Path, root: Path, built: list[list[Any]], idle_seconds: float) -> None:
    """Start a server for ``root`` in the background, to build the modules ``built`` lists.

    Never fails the collection: a server that cannot start is simply not there next time
    (one that failed while starting left ``SOCKET.failed``, and is not started again).
    """
    state = sock_path.with_suffix(".json")
    failed = Path(f"{sock_path}.failed")
    with contextlib.suppress(OSError):
        # It failed before here: not a failed start in the background at each run.
        if time.time() - failed.stat().st_mtime < _FAILED_FOR_SECONDS:
            reason = failed.read_text("utf-8", errors="replace").strip()
            log.debug(
                "pylint: no warm server: it failed to start (%s; see %s)",
                reason,
                failed,
                extra={"event": "pylint_warm_refused"},
            )
            return
    stop_others(sock_path, root)
    try:
        partial = state.with_name(f"{state.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"root": str(root.resolve()), "modules": built}), "utf-8")
        partial.replace(state)
        process = subprocess.Popen(  # noqa: S603 - our own module, with this interpreter
            [sys.executable, "-m", SERVER, str(sock_path), str(state), str(idle_seconds)],
            cwd=root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError:
        return
    _STARTED.append(process)


def stop_others(sock_path: Path, root: Path) -> None:
    """Stop the servers of ``root`` other than ``sock_path``'s (older pylint settings, say).

    Each would otherwise hold its trees until its idle time ends. A server is named by its
    state file (which holds its project's folder) and its lock file (which holds its process
    id while it runs); the process is signalled only if its command line names that socket.
    """
    folder = sock_path.parent
    wanted_root = str(root.resolve())
    for state in folder.glob("pylint-*.json"):
        other = state.with_suffix(".sock")
        if other == sock_path:
            continue
        try:
            if json.loads(state.read_text("utf-8")).get("root") != wanted_root:
                continue
            pid = int(Path(f"{other}.lock").read_text("utf-8").strip() or 0)
            command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") if pid else []
        except (OSError, ValueError, AttributeError):
            continue
        if os.fsencode(str(other)) in command:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
