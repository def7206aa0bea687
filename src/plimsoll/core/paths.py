"""plimsoll's own folders inside a project, kept out of the project's git status."""

from __future__ import annotations

from pathlib import Path

STATE_DIR = ".plimsoll"


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents); a ``.plimsoll`` folder gets a ``.gitignore`` of ``*``.

    Like pytest's cache folder, it ignores itself, so collecting never makes a work tree dirty.
    """
    path.mkdir(parents=True, exist_ok=True)
    for folder in (path, *path.parents):
        if folder.name == STATE_DIR:
            ignore = folder / ".gitignore"
            if not ignore.exists():
                ignore.write_text("# created by plimsoll\n*\n", encoding="utf-8")
            break
    return path
