"""Finding and reading SQL files: the build order of a schema folder, and UTF-8 text."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.errors import InputError


def sql_files(folder: Path) -> list[tuple[str, Path]]:
    """The ``.sql`` files under ``folder`` as (relative posix path, path), in build order.

    Sorted by the tuple of path parts compared by code point, so the order is the same on
    every machine and locale (``00_common/z.sql`` before ``10_tables/a.sql``); hidden files
    and folders (a leading ``.``) are skipped.
    """
    found: list[tuple[tuple[str, ...], Path]] = []
    for path in folder.rglob("*.sql"):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        found.append((relative.parts, path))
    found.sort(key=lambda item: item[0])
    return [("/".join(parts), path) for parts, path in found]


def read_sql(path: Path, display: str) -> str:
    """The text of a SQL file: UTF-8 (a byte-order mark dropped), CRLF as LF.

    Raises InputError naming ``display`` when the file cannot be read or is not UTF-8.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{display}: cannot read: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{display}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")
