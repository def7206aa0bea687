"""A cache of migration files' checksums, keyed by name and the file's stat.

Reading and hashing thousands of migration files is most of what ``status`` does; like git's
index, a file whose size, nanosecond modification time, inode change time and inode number
are unchanged is taken to be unchanged, so its SHA-256 comes from here. The modification time
alone is not enough: ``cp -p``, ``touch -r``, ``rsync -t`` and CI cache restores set it back
after changing the content. The change time (``st_ctime_ns``) cannot be set by users: any
write, rename or ``utime`` moves it; the inode number catches a file replaced by another.
The cache is only a cache: a damaged or missing file means hashing again, never an error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from plimsoll.core.paths import ensure_private_dir


def _key(stat: os.stat_result) -> list[int]:
    """What must be unchanged for a recorded checksum to stand."""
    return [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]


class ChecksumCache:
    """``file -> sha256`` for files whose (size, mtime_ns, ctime_ns, inode) are as recorded,
    kept in a JSON file."""

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
        """The recorded checksum of ``file``, if its stat key is unchanged (see the module)."""
        entry = self._entries.get(str(file))
        # An entry of an older layout (size, mtime, digest) has another length: a miss.
        if isinstance(entry, list) and len(entry) == 5 and isinstance(entry[4], str):
            if entry[:4] == _key(stat):
                return entry[4]
        return None

    def put(self, file: Path, stat: os.stat_result, digest: str) -> None:
        """Record ``digest`` for ``file`` as it is now."""
        self._entries[str(file)] = [*_key(stat), digest]
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
