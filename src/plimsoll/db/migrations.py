"""Migration files and the plan of what to apply: pure logic, no database.

A migration is ``<version>_<name>.up.sql`` with an optional ``<version>_<name>.down.sql``, or a
Python module ``<version>_<name>.py`` defining ``up(conn)`` and optionally ``down(conn)``.
Versions are numbers (``0001``, ``20240501120000``) or dotted numbers (``1.2``) and are
ordered numerically; two files claiming one version are an error (exit 2).

Order: like Flyway's default (``outOfOrder = false``), a pending migration older than the
newest applied one (a branch merged after a newer migration was deployed) is *out of order*:
:func:`plan_up` refuses it unless asked (``--out-of-order``, ``db.out_of_order``), because it
was written against a schema without the newer migrations. ``down`` reverts in the reverse of
the order migrations were applied, which after an out-of-order one is not the version order.
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

from plimsoll.core.errors import ExitCode, InputError, PlimsollError, UsageError
from plimsoll.core.files import create_all
from plimsoll.db.checksums import ChecksumCache

_NAME = re.compile(
    r"^(?P<version>\d+(?:\.\d+)*)_(?P<name>[A-Za-z0-9][A-Za-z0-9_\-]*?)"
    r"(?P<suffix>\.up\.sql|\.down\.sql|\.py)$"
)
# What a migration's file name starts with: a version, then "_".
_LOOKS_LIKE = re.compile(r"^\d+(?:\.\d+)*_")

EXPECTED = "expected <version>_<name>.up.sql, <version>_<name>.down.sql or <version>_<name>.py"
"""The file names a migrations folder holds, as the errors and warnings say it."""


class OutOfOrderError(PlimsollError):
    """Pending migrations older than the newest applied one, not allowed (exit 1: the files
    disagree with the database)."""

    exit_code = ExitCode.FINDINGS
    slug = "migration-out-of-order"


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


@dataclass(frozen=True)
class Misnamed:
    """A file that starts like a migration (a version, then ``_``) but is not one.

    Such a file (``0007_x.up.sq``, ``0007_x.UP.SQL``, ``0007_x.up.sql.bak``) is not applied: a
    warning says so, since a typo would otherwise leave a migration silently unapplied.
    """

    path: Path
    reason: str

    @property
    def message(self) -> str:
        """The warning: the file, and why it is not a migration."""
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Scan:
    """What a migrations folder holds: its migrations (by version) and misnamed files."""

    migrations: tuple[Migration, ...]
    misnamed: tuple[Misnamed, ...] = ()


def discover(folder: Path, cache: ChecksumCache | None = None) -> list[Migration]:
    """The migrations in ``folder``, ordered by version (see :func:`scan`)."""
    return list(scan(folder, cache).migrations)


def scan(folder: Path, cache: ChecksumCache | None = None) -> Scan:
    """The migrations in ``folder``, ordered by version (checksums from ``cache`` when fresh),
    and the files that look like migrations but are not.

    Dot-files, editor backups (``~``), names starting with ``_`` and files that neither end
    in ``.sql``/``.py`` nor start with a version (a README) are ignored. A ``.sql`` or ``.py``
    whose name does not follow the pattern, a ``.down.sql`` without its ``.up.sql``, two
    migrations with one version, a folder named as a migration, and a folder or file that
    cannot be read (the up files and modules are read for their checksums) are errors
    naming the file (exit 2). Any other name starting with a version and ``_`` is
    :class:`Misnamed`.
    """
    require_folder(folder)
    # version key -> label -> suffix -> file: a version claimed by two labels is an error.
    found: dict[tuple[int, ...], dict[str, dict[str, Path]]] = {}
    misnamed: list[Misnamed] = []
    try:
        # scandir: whether an entry is a folder comes with its name, without a stat each.
        with os.scandir(folder) as listing:
            entries = {entry.name: entry for entry in listing}
    except OSError as exc:
        raise unreadable(folder, exc) from None
    # Sorting names, not Path objects: a folder of thousands of migrations is listed often.
    for entry in sorted(entries):
        if entry.startswith((".", "_")) or entry.endswith("~"):
            continue
        match = _NAME.match(entry)
        if match is None:
            if entry.endswith((".sql", ".py")):
                raise InputError(f"{folder / entry}: not a migration name: {EXPECTED}")
            if _LOOKS_LIKE.match(entry):
                misnamed.append(Misnamed(folder / entry, _why_misnamed(entry)))
            continue
        if _is_folder(entries[entry]):
            raise InputError(f"{folder / entry}: is a folder, not a migration file")
        label = f"{match['version']}_{match['name']}"
        slot = found.setdefault(version_key(match["version"]), {})
        slot.setdefault(label, {})[match["suffix"]] = folder / entry
    for labels in found.values():
        if len(labels) > 1:
            _duplicate(labels)
    found_migrations = sorted(
        (
            _migration(label, files, cache)
            for labels in found.values()
            for label, files in labels.items()
        ),
        key=lambda m: m.key,
    )
    if cache is not None:
        cache.save()
    return Scan(tuple(found_migrations), tuple(misnamed))


def require_folder(folder: Path) -> None:
    """Raise InputError (exit 2) when the migrations folder does not exist."""
    if not folder.is_dir():
        raise InputError(f"{folder}: migrations folder not found (run `plimsoll db init`)")


def unreadable(path: Path, exc: OSError) -> InputError:
    """The error for a migration file or folder that cannot be read: the file and why, one line."""
    if isinstance(exc, IsADirectoryError):
        return InputError(f"{path}: is a folder, not a migration file")
    return InputError(f"{path}: cannot read: {exc.strerror or exc}")


def read_bytes(path: Path) -> bytes:
    """The bytes of a migration file; InputError naming it when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from None


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a folder (or a link to one); False when it cannot tell."""
    try:
        return entry.is_dir()
    except OSError:
        return False  # reading it will say what is wrong


def _why_misnamed(entry: str) -> str:
    """Why ``entry``, which starts like a migration, is not one."""
    reason = f"not a migration file name; {EXPECTED}"
    if _NAME.match(entry.lower()):
        return f"{reason} (the suffix in lower case)"
    return reason


def _duplicate(labels: Mapping[str, Mapping[str, Path]]) -> None:
    """Raise the error for one version claimed by several migrations, naming their up files."""
    # The file a migration is known by: its .up.sql or module; a lone .down.sql otherwise.
    named = [
        next(files[s] for s in (".up.sql", ".py", ".down.sql") if s in files).name
        for files in labels.values()
    ]
    version = next(iter(labels)).split("_", 1)[0]
    listing = ", ".join(named[:-1]) + f" and {named[-1]}"
    raise InputError(f"duplicate migration version {version}: {listing}")


def _file_checksum(path: Path, cache: ChecksumCache | None) -> str:
    if cache is None:
        return checksum(read_bytes(path))
    try:
        stat = path.stat()
    except OSError as exc:
        raise unreadable(path, exc) from None
    known = cache.get(path, stat)
    if known is None:
        known = checksum(read_bytes(path))
        cache.put(path, stat, known)
    return known


def _migration(label: str, files: Mapping[str, Path], cache: ChecksumCache | None) -> Migration:
    version, name = label.split("_", 1)
    if ".py" in files and len(files) > 1:
        raise InputError(f"duplicate migration version {version}: {label} is both SQL and Python")
    if ".py" in files:
        up = files[".py"]
        data = read_bytes(up)
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

    @property
    def label(self) -> str:
        """``<version>_<name>`` as it was applied."""
        return f"{self.version}_{self.name}"


class DriftKind(StrEnum):
    """How an applied migration's file differs from what was applied."""

    CHANGED = "changed"
    MISSING = "missing"
    RENAMED = "renamed"


@dataclass(frozen=True)
class Drift:
    """An applied migration whose file changed, was renamed, or is gone.

    ``name`` is the file's name when there is a file (a renamed one's new name), else the
    name it was applied under.
    """

    version: str
    name: str
    problem: str
    kind: DriftKind = DriftKind.CHANGED

    @property
    def label(self) -> str:
        """``<version>_<name>``."""
        return f"{self.version}_{self.name}"


def drift(migrations: Sequence[Migration], applied: Iterable[Applied]) -> list[Drift]:
    """Applied migrations whose file changed since (checksum), was renamed, or is gone."""
    by_key = {m.key: m for m in migrations}
    out = []
    for row in applied:
        current = by_key.get(version_key(row.version))
        if current is None:
            out.append(
                Drift(row.version, row.name, "applied, but its file is gone", DriftKind.MISSING)
            )
            continue
        renamed = f"renamed from {row.label}" if current.label != row.label else None
        if current.checksum != row.checksum:
            problem = "changed since it was applied (checksum)"
            if renamed:
                problem += f", and {renamed}"
            out.append(Drift(current.version, current.name, problem, DriftKind.CHANGED))
        elif renamed:
            out.append(Drift(current.version, current.name, renamed, DriftKind.RENAMED))
    return out


def _applied_keys(applied: Iterable[Applied]) -> set[tuple[int, ...]]:
    return {version_key(a.version) for a in applied}


def pending(migrations: Sequence[Migration], applied: Iterable[Applied]) -> list[Migration]:
    """Migrations not applied yet, in order (an older one added late is pending too)."""
    done = _applied_keys(applied)
    return [m for m in migrations if m.key not in done]


def newest_applied(applied: Iterable[Applied]) -> Applied | None:
    """The applied migration with the highest version (None: nothing applied)."""
    return max(applied, key=lambda a: version_key(a.version), default=None)


def out_of_order(migrations: Sequence[Migration], applied: Sequence[Applied]) -> list[Migration]:
    """The migrations of ``migrations`` not applied yet and older than the newest applied one."""
    newest = newest_applied(applied)
    if newest is None:
        return []
    limit = version_key(newest.version)
    return [m for m in pending(migrations, applied) if m.key < limit]


def check_order(
    plan: Sequence[Migration], applied: Sequence[Applied], *, allowed: bool
) -> list[Migration]:
    """The migrations of ``plan`` that would be applied out of order (see the module).

    Raises OutOfOrderError naming them and the newest applied migration unless ``allowed``.
    """
    late = out_of_order(plan, applied)
    if late and not allowed:
        newest = newest_applied(applied)
        assert newest is not None  # out_of_order found something older than it
        names = ", ".join(m.label for m in late)
        one = len(late) == 1
        raise OutOfOrderError(
            f"{names} {'is' if one else 'are'} older than the newest applied migration"
            f" {newest.label}: {'it' if one else 'they'} would be applied out of order (use"
            f" --out-of-order, or db.out_of_order = true, to apply {'it' if one else 'them'}"
            " anyway)"
        )
    return late


def plan_up(
    migrations: Sequence[Migration],
    applied: Sequence[Applied],
    target: str | None = None,
    *,
    out_of_order: bool = False,
) -> list[Migration]:
    """What ``up`` applies: every pending migration, or those up to and including ``target``.

    A planned migration older than the newest applied one is refused (OutOfOrderError)
    unless ``out_of_order``.
    """
    todo = pending(migrations, applied)
    if target is not None:
        limit = _target_key(target)
        if limit not in {m.key for m in migrations}:
            raise UsageError(f"--target {target}: no migration has that version")
        todo = [m for m in todo if m.key <= limit]
    check_order(todo, applied, allowed=out_of_order)
    return todo


def plan_baseline(
    migrations: Sequence[Migration], applied: Sequence[Applied], target: str
) -> list[Migration]:
    """What ``baseline`` marks as applied: the pending migrations up to and including
    ``target``, in version order. ``target`` must be the version of a migration on disk."""
    limit = baseline_key(migrations, target)
    return [m for m in pending(migrations, applied) if m.key <= limit]


def baseline_key(migrations: Sequence[Migration], target: str) -> tuple[int, ...]:
    """The version key of ``target``; a usage error when no migration has that version."""
    limit = _target_key(target)
    if limit not in {m.key for m in migrations}:
        raise UsageError(f"baseline {target}: no migration has that version")
    return limit


def plan_down(
    migrations: Sequence[Migration],
    applied: Sequence[Applied],
    *,
    steps: int | None = None,
    target: str | None = None,
) -> list[Migration]:
    """What ``down`` reverts, last applied first: ``steps`` migrations (default 1), or every
    migration applied after ``target``.

    ``applied`` is in the order the migrations were applied (as the migrator reads the
    tracking table): after an out-of-order migration that is not the version order, and
    reverting by version could drop what a later-applied migration depends on. ``target``
    ``0`` reverts everything. A migration to revert that has no way down, or whose file is
    gone, is a usage error naming it.
    """
    if steps is not None and target is not None:
        raise UsageError("give either --steps or --target, not both")
    by_key = {m.key: m for m in migrations}
    done = list(reversed(applied))
    if target is not None:
        limit = _target_key(target)
        keys = [version_key(a.version) for a in done]
        if not any(limit):
            chosen = done
        elif limit in keys:
            chosen = done[: keys.index(limit)]
        else:
            raise UsageError(f"--target {target}: that version is not applied")
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


def new_migration_files(
    folder: Path,
    name: str,
    version: str,
    up_text: str | None = None,
    down_text: str | None = None,
) -> tuple[Path, Path]:
    """Write the up and down pair of ``name`` (empty ones, with a comment, by default).

    Both files or neither (see :func:`plimsoll.core.files.create_all`): a write that fails
    (a full disk, a read-only folder) is a UsageError naming the file, and leaves no half
    pair that ``up`` would apply without its down. ``folder`` is created when missing.
    Refuses a bad name or an existing file.
    """
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]*", name):
        raise UsageError(f"migration name {name!r}: use letters, digits, '_' and '-'")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{folder}: cannot create: {exc.strerror or exc}") from None
    up = folder / f"{version}_{name}.up.sql"
    down = folder / f"{version}_{name}.down.sql"
    create_all(
        {
            up: f"-- {version}_{name}: up\n" if up_text is None else up_text,
            down: f"-- {version}_{name}: down (undo what the up migration does)\n"
            if down_text is None
            else down_text,
        }
    )
    return up, down
