"""Output files written whole or not at all."""

from __future__ import annotations

import errno
import os
import secrets
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from plimsoll.core.errors import UsageError


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename it.

    A full disk or a failing write leaves the previous file as it was, never half of the new
    one. Any failure is a :class:`UsageError` naming the file (exit 2).
    """
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        # newline="": the text as given, LF line ends on every platform (files get hashed).
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None


def create_all(contents: Mapping[Path, str]) -> None:
    """Create every file of ``contents`` (path to text), all of them or none of them.

    Each text is written to a temporary file in its file's folder first: a full disk, a
    folder out of inodes or a read-only file system fails there, before any file appears.
    The temporary files are then linked to their names, which also refuses a name that
    appeared in the meantime. A failure removes what was created and is a
    :class:`UsageError` naming the file (exit 2); a file that exists already is refused
    before anything is written.
    """
    for path in contents:
        if os.path.lexists(path):
            raise UsageError(f"{path}: already exists")
    staged: list[tuple[Path, Path]] = []
    created: list[Path] = []
    current: Path | None = None
    complete = False
    try:
        for path, text in contents.items():
            current = path
            staged.append((_staged(path, text), path))
        for temporary, path in staged:
            current = path
            _publish(temporary, path)
            created.append(path)
        complete = True
    except FileExistsError:
        raise UsageError(f"{current}: already exists") from None
    except OSError as exc:
        raise UsageError(f"{current}: cannot write: {exc.strerror or exc}") from None
    finally:
        # Also after an interrupt: none of the files, rather than some of them.
        if not complete:
            _remove(created)
        _remove(temporary for temporary, _ in staged)


def _staged(path: Path, text: str) -> Path:
    """``text`` in a new temporary file next to ``path``, on disk; removed again on failure.

    Created with mode 0666 less the umask, as the file itself would be (``mkstemp``'s 0600
    would carry over to the linked file).
    """
    for _ in range(100):
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(17, "no free temporary name", str(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
            out.flush()
            # On disk before its name appears: a crash never leaves an empty migration.
            os.fsync(out.fileno())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return temporary


def _publish(temporary: Path, path: Path) -> None:
    """Give ``temporary`` the name ``path``; FileExistsError if ``path`` exists.

    A hard link cannot replace an existing file, as a rename would. File systems without
    hard links get a rename after a last check.
    """
    try:
        os.link(temporary, path)
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(path):
            raise FileExistsError(17, "File exists", str(path)) from None
        os.rename(temporary, path)


# What link(2) fails with where a file system has no hard links (vfat, some FUSE mounts).
_NO_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS})


def _remove(paths: Iterable[Path]) -> None:
    """Remove ``paths``, ignoring any already gone (cleanup after a failure)."""
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass  # the error being reported is the one that matters
