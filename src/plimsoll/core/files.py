"""Output files written whole or not at all."""

from __future__ import annotations

import os
import tempfile
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
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        if path.is_dir():
            raise IsADirectoryError(21, "Is a directory")
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
