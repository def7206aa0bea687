"""A cache of migration files' checksums, keyed by name, size and modification time.

Reading and hashing thousands of migration files is most of what ``status`` does; like git's
index and make, a file whose size and nanosecond modification time are unchanged is taken to
be unchanged, so its SHA-256 comes from here. The cache is only a cache: a damaged or missing
file means hashing again, never an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from plimsoll.core.paths import ensure_private_dir


class ChecksumCache:
    """``file -> sha256`` for files whose (size, mtime_ns) are as recorded, kept in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, list[object]] = {}
        self._dirty = False
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self._entries = data
        except (OSError, ValueError):
            self._entries = {}

    def get(self, file: Path, stat: os.stat_result) -> str | None:
        """The recorded checksum of ``file``, if its size and mtime are unchanged."""
        entry = self._entries.get(str(file))
        if (
            isinstance(entry, list)
            and len(entry) == 3
            and entry[0] == stat.st_size
            and entry[1] == stat.st_mtime_ns
            and isinstance(entry[2], str)
        ):
            return entry[2]
        return None

    def put(self, file: Path, stat: os.stat_result, digest: str) -> None:
        """Record ``digest`` for ``file`` as it is now."""
        self._entries[str(file)] = [stat.st_size, stat.st_mtime_ns, digest]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed (atomically: a reader never sees half a file)."""
        if not self._dirty:
            return
        try:
            ensure_private_dir(self.path.parent)
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            temporary.write_text(json.dumps(self._entries), encoding="utf-8")
            os.replace(temporary, self.path)
            self._dirty = False
        except OSError:
            pass  # only a cache: the next run hashes again
