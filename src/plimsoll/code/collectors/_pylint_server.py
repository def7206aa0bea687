"""A warm pylint: a process holding astroid's trees of the modules a project imports.

Usage: ``python -m plimsoll.code.collectors._pylint_server SOCKET STATE IDLE_SECONDS``, started
by :mod:`._pylint_warm` in the project's folder, detached.

Most of a pylint run on one changed file goes into building the trees of what it imports
(the standard library, the project's dependencies): measured on requests' ``utils.py``,
2.2 s of a 2.5 s run. Those trees do not change between two runs, but astroid cannot store
them (they hold closures and live objects). This process builds them once, from a fresh
interpreter in which no project code was ever analysed, and then serves each request in a
forked child: the child starts with the trees built (copy-on-write) and runs the same driver
as a cold run (:func:`._pylint_driver.run`), so whatever inferring the project's code does to
the trees dies with the child and the next request starts from the same clean state.

The modules are the ones the last cold run built outside the project (``STATE``, written by
the client). Before building them, a first pylint run over an empty file in the project's
folder applies its pylint settings to astroid (extension allow lists, stub preference) as the
child's run will. A module whose file changed since it was built (a dependency upgraded)
makes the process answer ``stale`` and stop: the client then runs cold and starts a new one.
The process stops after ``IDLE_SECONDS`` without a request, when the project's folder is
removed, or on SIGTERM, and removes its socket. One that fails to start writes why to
``SOCKET.failed``, and none is started again for that socket. One process per socket: a second one finds the lock taken and leaves.

Protocol (one request per connection, JSON lines): the client sends
``{"request": ..., "output": PATH}`` (or ``{"ping": true}``); the child answers
``{"pid": N}`` at once, then ``{"ok": true}`` once the result is written to ``PATH``, or
``{"ok": false, "error": "..."}``. The parent answers ``{"ok": false, "stale": true}`` itself.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# How often an idle server looks whether its project's folder still exists.
_CHECK_SECONDS = 10.0


class _Stop(Exception):
    """SIGTERM: leave the accept loop and clean up."""


def _built_files() -> dict[str, tuple[int, int]]:
    """The file of every module in astroid's cache, with its (mtime_ns, size) now."""
    from astroid import MANAGER

    found: dict[str, tuple[int, int]] = {}
    for module in list(MANAGER.astroid_cache.values()):
        path = getattr(module, "file", None)
        if not path or path in found:
            continue
        try:
            info = os.stat(path)
        except OSError:
            continue
        found[path] = (info.st_mtime_ns, info.st_size)
    return found


def _identity(path: str) -> tuple[int, int] | None:
    """The device and inode of folder ``path`` (None when it is gone)."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _changed(files: dict[str, tuple[int, int]]) -> bool:
    """Whether any of ``files`` changed (or went) since it was noted."""
    for path, noted in files.items():
        try:
            info = os.stat(path)
        except OSError:
            return True
        if (info.st_mtime_ns, info.st_size) != noted:
            return True
    return False


def _apply_settings() -> None:
    """Run pylint once over an empty file, so the project's settings reach astroid."""
    from astroid import MANAGER
    from pylint.lint import Run
    from pylint.reporters import CollectingReporter

    with tempfile.TemporaryDirectory(prefix="plimsoll-pylint-warm-") as tmp:
        empty = Path(tmp) / "plimsoll_pylint_warm_up.py"
        empty.write_text("", "utf-8")
        args = ["--persistent=n", "--jobs=1", "--reports=n", "--score=n"]
        Run([*args, str(empty)], reporter=CollectingReporter(), exit=False)
    MANAGER.astroid_cache.pop("plimsoll_pylint_warm_up", None)


def _prebuild(modules: list[list[Any]]) -> None:
    """Build each ``[name, file]`` of the state; drop one that now comes from another file."""
    from astroid import MANAGER

    for name, path in modules:
        try:
            module = MANAGER.ast_from_module_name(name)
        except Exception:  # noqa: BLE001, S112 - a module that no longer builds: built on demand
            continue
        if path is not None and getattr(module, "file", None) != path:
            MANAGER.astroid_cache.pop(name, None)


def _forget_lookups() -> None:
    """Empty astroid's caches of lookups and inferences, keeping the built trees.

    What the building inferred, and where it found (or missed) a module on disk, is found
    again by each child as a cold run finds it: a package installed since is seen, and no
    inferred value outlives the state it was computed in. Only the trees stay (they are
    checked for changes before each request). Each cache is astroid's own, emptied as its
    ``clear_cache`` does; one a later astroid no longer has is skipped.
    """
    import importlib

    from astroid import MANAGER, context, modutils
    from astroid.interpreter import objectmodel
    from astroid.interpreter._import import spec, util
    from astroid.nodes import _base_nodes, scoped_nodes

    # The module, not the function of the same name that the astroid package exports.
    importlib.import_module("astroid.inference_tip").clear_inference_tip_cache()
    context._invalidate_cache()  # noqa: SLF001 - the cache clear_cache empties
    MANAGER._mod_file_cache.clear()  # noqa: SLF001
    cached = [
        getattr(_base_nodes.LookupMixIn, "lookup", None),
        getattr(scoped_nodes.ClassDef, "_metaclass_lookup_attribute", None),
        getattr(objectmodel.ObjectModel, "attributes", None),
        getattr(modutils, "_cache_normalize_path_", None),
        getattr(modutils, "_has_init", None),
        getattr(modutils, "cached_os_path_isfile", None),
        getattr(util, "is_namespace", None),
        getattr(spec, "_find_spec", None),
        getattr(spec, "_is_setuptools_namespace", None),
        *(getattr(f, "find_module", None) for f in getattr(spec, "_SPEC_FINDERS", ())),
    ]
    for function in cached:
        clear = getattr(function, "cache_clear", None)
        if clear is not None:
            clear()


def _top_names(files: list[str]) -> set[str]:
    """The top-level module names the project may provide while its files are linted.

    Pylint puts the folder above each file's package (the first folder up without an
    ``__init__``) on the path, and the project's root is there too (the driver's folder):
    any module or package in those folders can be imported by its name, linted or not
    (``src/re.py`` beside ``src/pkg``). What a name outside these stands for cannot be the
    project's.
    """
    from pylint.lint import expand_modules

    folders = {"."} | {expand_modules.discover_package_path(path, ()) for path in files}
    names: set[str] = set()
    for folder in folders:
        with contextlib.suppress(OSError):
            names.update(entry.split(".", 1)[0] for entry in os.listdir(folder))
    return names


def _forget_shadowed(files: list[str]) -> None:
    """Drop the built trees a module of the project may stand in for.

    In a cold run, the project's folders are on the path when pylint resolves an import, so
    the project's own ``calendar.py`` is the ``calendar`` its files import, not the standard
    library's that this process built. A built module whose top-level name the project may
    provide (:func:`_top_names`) is built again by the child that needs it, as a cold run
    does.
    """
    from astroid import MANAGER

    names = _top_names(files)
    for name in list(MANAGER.astroid_cache):
        if name.split(".", 1)[0] in names:
            del MANAGER.astroid_cache[name]


def _watch_client(conn: socket.socket) -> None:
    """Leave at once when the client goes away (its collection stopped, killed or timed out).

    The client sends nothing after its request: the connection reads end-of-file only once
    the client closed it, or its process ended.
    """

    def watch() -> None:
        try:
            gone = conn.recv(1) == b""
        except OSError:
            gone = True
        if gone:
            os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _serve_one(conn: socket.socket) -> None:
    """In the forked child: answer one request, then leave."""
    from plimsoll.code.collectors import _pylint_driver

    reader = conn.makefile("rb")
    message = json.loads(reader.readline() or b"{}")
    conn.sendall((json.dumps({"pid": os.getpid()}) + "\n").encode())
    _watch_client(conn)
    try:
        _forget_shadowed(message["request"]["files"])
        result = _pylint_driver.run(message["request"])
        Path(message["output"]).write_text(json.dumps(result), "utf-8")
        answer: dict[str, Any] = {"ok": True}
    except BaseException as exc:  # noqa: BLE001 - said to the client, which runs cold instead
        answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    conn.sendall((json.dumps(answer) + "\n").encode())


def _answer(conn: socket.socket, answer: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.sendall((json.dumps(answer) + "\n").encode())


def _peek_ping(conn: socket.socket) -> bool:
    """Whether the client's request is a ping (answered by the parent, without a fork)."""
    conn.settimeout(5)
    try:
        head = conn.recv(64, socket.MSG_PEEK)
    except OSError:
        return False
    finally:
        conn.settimeout(None)
    return head.startswith(b'{"ping"')


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] != 0:
            pass


def serve(sock_path: Path, state_path: Path, idle_seconds: float) -> int:
    """Build, listen, fork a child per request; 0 when it stops (idle, stale, SIGTERM)."""
    lock = open(f"{sock_path}.lock", "a")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return 0  # another one serves (or is starting to)
    try:
        lock.truncate(0)
        # Who serves here (``kill $(cat ...lock)`` stops it).
        lock.write(f"{os.getpid()}\n")
        lock.flush()

        def stop(_signum: int, _frame: Any) -> None:
            raise _Stop

        signal.signal(signal.SIGTERM, stop)
        return _serve(sock_path, state_path, idle_seconds, lock)
    except _Stop:
        return 0
    finally:
        # No process id left behind for a `kill $(cat ...lock)` to hit once it is reused.
        with contextlib.suppress(OSError):
            lock.truncate(0)
        lock.close()


def _serve(sock_path: Path, state_path: Path, idle_seconds: float, lock: Any) -> int:
    """:func:`serve` once the lock is held."""
    try:
        text = state_path.read_text("utf-8")
    except FileNotFoundError:
        return 0  # taken away by a server that just stopped: the next run starts another
    try:
        state = json.loads(text)
        _apply_settings()
        _prebuild(state["modules"])
        files = _built_files()
        _forget_lookups()
    except _Stop:
        raise
    except BaseException as exc:  # noqa: BLE001 - said where the client looks, not started again
        failed = Path(f"{sock_path}.failed")
        failed.write_text(f"{type(exc).__name__}: {exc}\n", "utf-8")
        return 1
    # The trees are never freed while this process lives: kept out of the cyclic collector,
    # so that neither it nor a child walks (and copies, page by page) them.
    gc.collect()
    gc.freeze()
    with contextlib.suppress(FileNotFoundError):
        sock_path.unlink()
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(sock_path))
        sock_path.chmod(0o600)
        server.listen(8)
        root = os.getcwd()
        here = _identity(root)
        last = time.monotonic()
        while True:
            _reap()
            left = idle_seconds - (time.monotonic() - last)
            if left <= 0 or _identity(root) != here:
                # Unused for long, or its project is gone (a backfill's worktree) or was
                # replaced by another folder of the same name (a fresh clone).
                return 0
            ready, _, _ = select.select([server], [], [], min(left, _CHECK_SECONDS))
            if not ready:
                continue
            conn, _ = server.accept()
            last = time.monotonic()
            with conn:
                if _peek_ping(conn):
                    _answer(conn, {"ok": True, "ready": True})
                    continue
                if _changed(files) or _identity(root) != here:
                    _answer(conn, {"ok": False, "stale": True})
                    return 0
                if os.fork() == 0:
                    status = 1
                    try:
                        signal.signal(signal.SIGTERM, signal.SIG_DFL)
                        server.close()
                        # The lock stays the server's alone (closing a copy keeps it held).
                        lock.close()
                        _serve_one(conn)
                        status = 0
                    finally:
                        os._exit(status)
    finally:
        server.close()
        with contextlib.suppress(OSError):
            sock_path.unlink()
        with contextlib.suppress(OSError):
            state_path.unlink()


def main(argv: list[str]) -> int:
    """Entry point: ``SOCKET STATE IDLE_SECONDS``."""
    sock_path, state_path, idle = argv
    return serve(Path(sock_path), Path(state_path), float(idle))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
