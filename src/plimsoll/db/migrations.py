"""Migration files and the plan of what to apply: pure logic, no database.

A migration is ``<version>_<name>.up.sql`` with an optional ``<version>_<name>.down.sql``, or a
Python module ``<version>_<name>.py`` defining ``up(conn)`` and optionally ``down(conn)``.
Versions are numbers (``0001``, ``20240501120000``) or dotted numbers (``1.2``) and are
ordered numerically; two files claiming one version are an error (exit 2).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from plimsoll.core.errors import InputError, UsageError
from plimsoll.db.checksums import ChecksumCache

_NAME = re.compile(
    r"^(?P<version>\d+(?:\.\d+)*)_(?P<name>[A-Za-z0-9][A-Za-z0-9_\-]*?)"
    r"(?P<suffix>\.up\.sql|\.down\.sql|\.py)$"
)


class Kind(StrEnum):
    """How a migration is written."""

    SQL = "sql"
    PYTHON = "python"


@dataclass(frozen=True)
class Migration:
    """One migration: its version, name, files and the checksum of what ``up`` runs."""

    version: str
    name: str
    kind: Kind
    up: Path
    down: Path | None
    checksum: str
    has_down: bool
    # The numeric order of the version, computed once: plans compare it many times.
    key: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", version_key(self.version))

    @property
    def label(self) -> str:
        """``<version>_<name>``."""
        return f"{self.version}_{self.name}"


@functools.lru_cache(maxsize=1 << 16)
def version_key(version: str) -> tuple[int, ...]:
    """Numeric sort key of a version (``0010`` after ``9``; ``1.10`` after ``1.9``).

    Memoised: a status of thousands of migrations asks for each version's key several times
    (sorting the files, the tracking rows, pending, drift).
    """
    return tuple(int(part) for part in version.split("."))


def _target_key(target: str) -> tuple[int, ...]:
    """The version key of ``--target``; a UsageError when it is not a version at all."""
    if not re.fullmatch(r"\d+(?:\.\d+)*", target):
        raise UsageError(f"--target {target}: not a migration version (digits, such as 0003)")
    return version_key(target)


def checksum(data: bytes) -> str:
    """The SHA-256 of a file's bytes, as stored in the tracking table."""
    return hashlib.sha256(data).hexdigest()


def defines_function(source: str, function: str) -> bool:
    """Whether a module's source defines ``function`` at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function
        for node in tree.body
    )


def discover(folder: Path, cache: ChecksumCache | None = None) -> list[Migration]:
    """The migrations in ``folder``, ordered by version (checksums from ``cache`` when fresh).

    Files that are neither SQL nor Python (a README) are ignored; a ``.sql`` or ``.py`` whose
    name does not follow the pattern, a ``.down.sql`` without its ``.up.sql``, and two
    migrations with one version are errors naming the files.
    """
    if not folder.is_dir():
        raise InputError(f"{folder}: migrations folder not found (run `plimsoll db init`)")
    found: dict[tuple[int, ...], dict[str, Path]] = {}
    labels: dict[tuple[int, ...], str] = {}
    # Sorting names, not Path objects: a folder of thousands of migrations is listed often.
    for entry in sorted(os.listdir(folder)):
        if entry.startswith((".", "_")) or not entry.endswith((".sql", ".py")):
            continue
        path = folder / entry
        match = _NAME.match(entry)
        if match is None:
            raise InputError(
                f"{path}: not a migration name: expected <version>_<name>.up.sql, "
                "<version>_<name>.down.sql or <version>_<name>.py"
            )
        label = f"{match['version']}_{match['name']}"
        key = version_key(match["version"])
        slot = found.setdefault(key, {})
        if labels.setdefault(key, label) != label or match["suffix"] in slot:
            other = next(iter(slot.values()))
            raise InputError(
                f"duplicate migration version {match['version']}: {other.name} and {path.name}"
            )
        slot[match["suffix"]] = path
    found_migrations = sorted(
        (_migration(labels[key], files, cache) for key, files in found.items()),
        key=lambda m: m.key,
    )
    if cache is not None:
        cache.save()
    return found_migrations


def _file_checksum(path: Path, cache: ChecksumCache | None) -> str:
    if cache is None:
        return checksum(path.read_bytes())
    stat = path.stat()
    known = cache.get(path, stat)
    if known is None:
        known = checksum(path.read_bytes())
        cache.put(path, stat, known)
    return known


def _migration(label: str, files: Mapping[str, Path], cache: ChecksumCache | None) -> Migration:
    version, name = label.split("_", 1)
    if ".py" in files and len(files) > 1:
        raise InputError(f"duplicate migration version {version}: {label} is both SQL and Python")
    if ".py" in files:
        up = files[".py"]
        data = up.read_bytes()
        has_down = defines_function(data.decode("utf-8", "replace"), "down")
        return Migration(version, name, Kind.PYTHON, up, None, checksum(data), has_down)
    if ".up.sql" not in files:
        raise InputError(f"{files['.down.sql']}: a down migration without its .up.sql")
    up, down = files[".up.sql"], files.get(".down.sql")
    return Migration(version, name, Kind.SQL, up, down, _file_checksum(up, cache), down is not None)


@dataclass(frozen=True)
class Applied:
    """A row of the tracking table."""

    version: str
    name: str
    checksum: str


@dataclass(frozen=True)
class Drift:
    """An applied migration whose file changed, or whose file is gone."""

    version: str
    name: str
    problem: str


def drift(migrations: Sequence[Migration], applied: Iterable[Applied]) -> list[Drift]:
    """Applied migrations whose file changed since (checksum) or no longer exists."""
    by_key = {m.key: m for m in migrations}
    out = []
    for row in applied:
        current = by_key.get(version_key(row.version))
        if current is None:
            out.append(Drift(row.version, row.name, "applied, but its file is gone"))
        elif current.checksum != row.checksum:
            out.append(Drift(row.version, row.name, "changed since it was applied (checksum)"))
    return out


def _applied_keys(applied: Iterable[Applied]) -> set[tuple[int, ...]]:
    return {version_key(a.version) for a in applied}


def pending(migrations: Sequence[Migration], applied: Iterable[Applied]) -> list[Migration]:
    """Migrations not applied yet, in order (an older one added late is pending too)."""
    done = _applied_keys(applied)
    return [m for m in migrations if m.key not in done]


def plan_up(
    migrations: Sequence[Migration], applied: Iterable[Applied], target: str | None = None
) -> list[Migration]:
    """What ``up`` applies: every pending migration, or those up to and including ``target``."""
    todo = pending(migrations, applied)
    if target is None:
        return todo
    limit = _target_key(target)
    if limit not in {m.key for m in migrations}:
        raise UsageError(f"--target {target}: no migration has that version")
    return [m for m in todo if m.key <= limit]


def plan_down(
    migrations: Sequence[Migration],
    applied: Sequence[Applied],
    *,
    steps: int | None = None,
    target: str | None = None,
) -> list[Migration]:
    """What ``down`` reverts, newest first: ``steps`` migrations (default 1), or all above ``target``.

    ``target`` ``0`` reverts everything. A migration to revert that has no way down, or whose
    file is gone, is a usage error naming it.
    """
    if steps is not None and target is not None:
        raise UsageError("give either --steps or --target, not both")
    by_key = {m.key: m for m in migrations}
    done = sorted(applied, key=lambda a: version_key(a.version), reverse=True)
    if target is not None:
        limit = _target_key(target)
        if any(limit) and limit not in _applied_keys(applied):
            raise UsageError(f"--target {target}: that version is not applied")
        chosen = [a for a in done if version_key(a.version) > limit]
    else:
        count = 1 if steps is None else steps
        if count < 0:
            raise UsageError("--steps must be 0 or more")
        chosen = done[:count]
    plan = []
    for row in chosen:
        migration = by_key.get(version_key(row.version))
        if migration is None:
            raise UsageError(f"cannot revert {row.version}_{row.name}: its file is gone")
        if not migration.has_down:
            raise UsageError(f"cannot revert {migration.label}: it has no down migration")
        plan.append(migration)
    return plan


def next_version(migrations: Sequence[Migration], now: str | None = None) -> str:
    """The version a new migration gets: timestamp style if the folder uses it, else next number.

    Numbered folders keep their zero padding (``0007`` after ``0006``); an empty folder starts
    at ``0001``. ``now`` is ``YYYYMMDDHHMMSS`` for timestamp-style folders.
    """
    if not migrations:
        return "0001"
    last = max(migrations, key=lambda m: m.key)
    if "." not in last.version and len(last.version) >= 14 and now is not None:
        return max(now, str(int(last.version) + 1))
    head = last.key[0] + 1
    width = len(last.version.split(".")[0])
    return str(head).zfill(width)


def new_migration_files(folder: Path, name: str, version: str) -> tuple[Path, Path]:
    """Write an empty up and down pair for ``name``; refuses a bad name or an existing version."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
        raise UsageError(f"migration name {name!r}: use letters, digits, '_' and '-'")
    folder.mkdir(parents=True, exist_ok=True)
    up = folder / f"{version}_{name}.up.sql"
    down = folder / f"{version}_{name}.down.sql"
    if up.exists() or down.exists():
        raise UsageError(f"{up} already exists")
    up.write_text(f"-- {version}_{name}: up\n", encoding="utf-8")
    down.write_text(
        f"-- {version}_{name}: down (undo what the up migration does)\n", encoding="utf-8"
    )
    return up, down
