"""Migration files and the plan of what to apply: pure logic, no database.

A migration is ``<version>_<name>.up.sql`` with an optional ``<version>_<name>.down.sql``, or a
Python module ``<version>_<name>.py`` defining ``up(conn)`` and optionally ``down(conn)``.
Versions are numbers (``0001``, ``20240501120000``) or dotted numbers (``1.2``) of ASCII
digits, ordered numerically (``0010`` after ``9``; leading zeros do not count), and two files
claiming one version are an error (exit 2). ``1`` and ``1.0`` are two versions, as plimsoll
has always compared them: a database may hold both already.

The folder is flat, as the design lays it out (``db/migrations/<version>_<name>.up.sql``):
files in its subfolders are not migrations, and a subfolder holding files named like
migrations is warned about (:class:`Misnamed`), since they would never be applied.

A SQL migration is read as UTF-8 with a leading byte-order mark dropped, as psql and Flyway
read it (:func:`read_sql_text`); its checksum is always that of the file's bytes. An applied
file whose bytes differ only in line endings (CRLF, LF) or a byte-order mark is not drift
(:func:`drift`): an editor or git's ``autocrlf`` re-saving it changed no statement.

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
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from plimsoll.core.errors import ExitCode, InputError, PlimsollError, UsageError
from plimsoll.core.files import create_all
from plimsoll.core.log import get_logger
from plimsoll.db.checksums import ChecksumCache

log = get_logger(__name__)

# [0-9], never \d: \d matches every Unicode digit (Arabic-Indic, Devanagari, ...), and int()
# reads them, so "٣" would have been version 3.
_VERSION = r"[0-9]+(?:\.[0-9]+)*"
_NAME = re.compile(
    rf"^(?P<version>{_VERSION})_(?P<name>[A-Za-z0-9][A-Za-z0-9_\-]*?)"
    r"(?P<suffix>\.up\.sql|\.down\.sql|\.py)$"
)
# What a migration's file name starts with: a version, then "_".
_LOOKS_LIKE = re.compile(rf"^{_VERSION}_")
_IS_VERSION = re.compile(_VERSION)
# A version as a tracking row may hold it: an earlier plimsoll read any Unicode decimal digit
# (Python's \d) in file names, so a row such as '٦' (6) can exist and must still compare.
_IS_ROW_VERSION = re.compile(r"\d+(?:\.\d+)*")
# A migration's name: what `generate` writes and _NAME reads.
_MIGRATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]*")
# What separates the words of a name given to `generate`: anything a name may not hold.
_SEPARATORS = re.compile(r"[^A-Za-z0-9_\-]+")
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte-order mark some Windows editors write at the start of a file."""

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

    ``1`` and ``1.0`` are two keys: plimsoll has always applied them as two migrations, and a
    database may hold both (comparing them as one, as Flyway does, would make its tracking
    rows ambiguous). File names and the versions a user types are ASCII digits and dots
    (:data:`_NAME`, :func:`target_key`); a tracking row written by an earlier plimsoll may
    hold other Unicode decimal digits, which compare by their value. Raises ValueError for
    anything else.

    Memoised: a status of thousands of migrations asks for each version's key several times
    (sorting the files, the tracking rows, pending, drift).
    """
    if not _IS_ROW_VERSION.fullmatch(version):
        raise ValueError(f"not a migration version: {version!r}")
    return tuple(int(part) for part in version.split("."))


def target_key(target: str, what: str = "--target") -> tuple[int, ...]:
    """The version key of a version the user gave as ``what`` (``--target``, ``baseline``,
    ``--migration``); a UsageError naming ``what`` when it is not a version at all."""
    try:
        if not _IS_VERSION.fullmatch(target):
            raise ValueError(target)
        return version_key(target)
    except ValueError:
        raise UsageError(
            f"{what} {target}: not a migration version (digits 0-9 and dots, such as 0003)"
        ) from None


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
    :class:`Misnamed`, and so is a subfolder holding files named like migrations (the
    folder is flat: they would never be applied).
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
        if match is None and _is_folder(entries[entry]):
            nested = _nested_migrations(folder / entry)
            if nested:
                misnamed.append(Misnamed(folder / entry, _why_nested(folder, nested)))
            elif _LOOKS_LIKE.match(entry):
                misnamed.append(Misnamed(folder / entry, _why_misnamed(entry)))
            continue
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


def decode_text(data: bytes, path: Path) -> str:
    """A migration file's bytes as text: UTF-8, a leading byte-order mark dropped (psql and
    Flyway skip it; the parser would read it as part of the first word). Line endings are
    kept: the statements run as written. InputError naming ``path`` when it is not UTF-8."""
    try:
        return data.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(BOM) if data.startswith(BOM) else 0)
        raise InputError(
            f"{path}: not UTF-8 (byte 0x{data[offset]:02x} at offset {offset})"
        ) from None


def read_sql_text(path: Path) -> str:
    """The text of a SQL migration as the migrator runs it (see :func:`decode_text`);
    InputError naming the file when it cannot be read or is not UTF-8."""
    return decode_text(read_bytes(path), path)


def _is_folder(entry: os.DirEntry[str]) -> bool:
    """Whether a folder entry is a folder (or a link to one); False when it cannot tell."""
    try:
        return entry.is_dir()
    except OSError:
        return False  # reading it will say what is wrong


def _nested_migrations(subfolder: Path) -> list[str]:
    """The files under ``subfolder`` (at any depth) named like migrations, as paths relative
    to it, sorted; hidden folders and ``_``-folders (``__pycache__``) are not looked into."""
    found: list[str] = []
    # onerror ignored: a subfolder that cannot be read holds nothing plimsoll would apply.
    for root, folders, names in os.walk(subfolder):
        folders[:] = [f for f in folders if not f.startswith((".", "_"))]
        base = Path(root).relative_to(subfolder)
        found.extend(str(base / name) for name in names if _NAME.match(name))
    return sorted(found)


def _why_nested(folder: Path, nested: Sequence[str]) -> str:
    """Why the migration files in a subfolder of ``folder`` are not applied."""
    shown = ", ".join(nested[:3]) + (f" and {len(nested) - 3} more" if len(nested) > 3 else "")
    if len(nested) == 1:
        what, it, verb = "a file named like a migration", "it", "is"
    else:
        what, it, verb = f"{len(nested)} files named like migrations", "them", "are"
    they = "it" if it == "it" else "they"
    return (
        f"a subfolder holding {what} ({shown}): {they} {verb} never applied; migrations are"
        f" the files directly in {folder} (move {it} there to apply {it})"
    )


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
    versions = sorted({label.split("_", 1)[0] for label in labels})
    listing = ", ".join(named[:-1]) + f" and {named[-1]}"
    if len(versions) == 1:
        raise InputError(f"duplicate migration version {versions[0]}: {listing}")
    # 01 and 1 are one version (leading zeros do not count): say so, or the message reads wrong.
    raise InputError(
        f"duplicate migration version: {listing} have versions {' and '.join(versions)}, which"
        " are one number; rename one of them"
    )


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
        # Python reads a module with a byte-order mark; ast.parse of the text would not.
        has_down = defines_function(data.removeprefix(BOM).decode("utf-8", "replace"), "down")
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


def resaved_variants(data: bytes) -> set[bytes]:
    """The bytes ``data`` would have after a re-save that changes no statement: with CRLF or
    LF line endings (or as they are), with or without a leading byte-order mark."""
    body = data.removeprefix(BOM)
    lf = body.replace(b"\r\n", b"\n")
    bodies = {body, lf, lf.replace(b"\n", b"\r\n")}
    return bodies | {BOM + b for b in bodies}


def only_resaved(migration: Migration, stored: str) -> bool:
    """Whether ``migration``'s file differs from the one whose checksum is ``stored`` only in
    its line endings or byte-order mark (see :func:`resaved_variants`).

    Asked only when the checksums differ, so the file is read only then. A file that cannot
    be read now is not excused (its checksum was read a moment ago; it is reported changed).
    """
    try:
        data = migration.up.read_bytes()
    except OSError:
        return False
    return any(checksum(variant) == stored for variant in resaved_variants(data))


def drift(migrations: Sequence[Migration], applied: Iterable[Applied]) -> list[Drift]:
    """Applied migrations whose file changed since (checksum), was renamed, or is gone.

    A file whose bytes differ from those applied only in line endings (CRLF and LF) or a
    leading byte-order mark did not change (see :func:`only_resaved`): the stored checksum
    stays that of the bytes applied, and an info line says so.
    """
    by_key = {m.key: m for m in migrations}
    out = []
    for row in applied:
        current = by_key.get(version_key(row.version))
        if current is None:
            out.append(
                Drift(row.version, row.name, "applied, but its file is gone", DriftKind.MISSING)
            )
            continue
        # Only the name counts: the version is the same number however it is spelt (a row
        # '٦' an earlier plimsoll wrote for a file since renamed to ASCII '6').
        renamed = f"renamed from {row.label}" if current.name != row.name else None
        changed = current.checksum != row.checksum
        if changed and only_resaved(current, row.checksum):
            changed = False
            log.info(
                "%s: only its line endings (or byte-order mark) changed since it was applied",
                current.label,
                extra={"event": "migration_resaved", "migration": current.label},
            )
        if changed:
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
        limit = target_key(target)
        if limit not in {m.key for m in migrations}:
            raise UsageError(f"--target {target}: no migration has that version")
        todo = [m for m in todo if m.key <= limit]
    check_order(todo, applied, allowed=out_of_order)
    return todo


def plan_baseline(
    migrations: Sequence[Migration], applied: Sequence[Applied], target: str
) -> list[Migration]:
    """What ``baseline`` marks as applied: the pending migrations up to and including
    ``target``, in version order. ``target`` must be the version of a migration on disk.

    Only migrations newer than the newest applied one are marked: a pending one older than it
    (a branch merged late) was never run on a database plimsoll already manages, and marking
    it would hide that; such a plan is a usage error naming them (``up --out-of-order``
    applies them).
    """
    limit = baseline_key(migrations, target)
    plan = [m for m in pending(migrations, applied) if m.key <= limit]
    newest = newest_applied(applied)
    if newest is None:
        return plan
    late = [m.label for m in plan if m.key < version_key(newest.version)]
    if late:
        raise UsageError(
            f"baseline {target}: {', '.join(late)} {'is' if len(late) == 1 else 'are'} older"
            f" than {newest.label}, the newest applied migration: baseline marks only what comes"
            " after it (to run an older one: plimsoll db migrate up --out-of-order)"
        )
    return plan


def baseline_key(migrations: Sequence[Migration], target: str) -> tuple[int, ...]:
    """The version key of ``target``; a usage error when no migration has that version."""
    limit = target_key(target, "baseline")
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
        limit = target_key(target)
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
    ``name`` is made a file name by :func:`migration_name`; an existing file is refused.
    """
    name = migration_name(name)
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


def migration_name(text: str) -> str:
    """The migration name made of ``text``, as alembic makes a slug of a message: words apart
    (spaces, punctuation, anything but letters, digits, ``_`` and ``-``) joined by ``_``,
    accents dropped (``"Add users' e-mail"`` -> ``Add_users_e-mail``).

    A UsageError when nothing is left, or when the name starts with ``_`` or ``-`` (a file
    name starting like that is taken for an option or a private file).
    """
    # NFKD splits an accented letter into its letter and accent; the ASCII letter is kept.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = "_".join(word for word in _SEPARATORS.split(ascii_text) if word)
    if not name:
        raise UsageError(
            f"migration name {text!r}: needs letters or digits (A-Z, a-z, 0-9), such as add_users"
        )
    if not _MIGRATION_NAME.fullmatch(name):
        raise UsageError(
            f"migration name {text!r}: must start with a letter or a digit (then letters,"
            " digits, '_' and '-')"
        )
    return name
