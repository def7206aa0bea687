"""Which files a lint run reads, in which order, and what each one is.

A file named like a migration (``<version>_<name>.up.sql`` / ``.down.sql``) is a migration.
Any other ``.sql`` file is a schema file when it lies in the project's schema folder (or when
no schema folder is given), and a migration otherwise: a loose ``hotfix.sql`` is checked as
a change to a live database, as squawk and ``plimsoll db risk`` take it, not as a fresh
build in which every table is new (where the statement rules would find nothing to say).
Migrations are ordered by version across every path given; down migrations are linted but
do not make up the schema. Migrations of the project's own migrations folder start with the
settings plimsoll's migrator gives them (``lock_timeout``, ``statement_timeout``, one
transaction per migration) when ``migrator_settings`` is on. A file that is not UTF-8 is
kept, without text, with where it stops decoding: the run reports it (``encoding-error``) and
lints the others.

The files of the schema folder are linted in the order ``plimsoll db build`` applies them
(:func:`plimsoll.db.sqlfiles.sql_files`: alphabetically by path, ``10_v.sql`` before
``1_a.sql``), wherever the paths given put them, so that lint checks the schema the build
makes. The files of any other folder (migration folders, loose folders) are ordered as
migration tools order them, by the version their names start with, compared numerically part by part (:func:`order_key`): Flyway's
``V<version>__<description>.sql`` (``V2__`` before ``V10__``, ``V1.2.10__`` after
``V1.2.9__``; ``.`` or ``_`` between the parts), plain ``<n>_`` prefixes (``2_`` before
``10_``, as plimsoll's migrator orders its own files), folders included; then names without a
version, alphabetically; then Flyway's repeatable ``R__`` files, which it runs after every
versioned one. When that order is not the plain alphabetical one, :class:`Collected` says so
(the text report's header repeats it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plimsoll.core.errors import InputError, UsageError
from plimsoll.db.lint.engine import EncodingProblem, SourceFile
from plimsoll.db.sqlfiles import read_sql, sql_files

# [0-9], not \d: \d is any Unicode digit (see plimsoll.db.migrations).
_MIGRATION = re.compile(r"^(?P<version>[0-9]+(?:\.[0-9]+)*)_.+\.(?P<direction>up|down)\.sql$")
# Flyway's versioned migrations: V<version>__<description> (parts split by . or _).
_FLYWAY = re.compile(r"^[Vv](?P<version>[0-9]+(?:[._][0-9]+)*)__")
_FLYWAY_REPEATABLE = re.compile(r"^R__")
# A plain version prefix: 10_tables, 0002_orders.sql, 1.2_x.sql.
_NUMBERED = re.compile(r"^(?P<version>[0-9]+(?:\.[0-9]+)*)_")

# The groups of names in a folder, in the order they run.
_VERSIONED, _UNVERSIONED, _REPEATABLE = 0, 1, 2


def _version(name: str) -> tuple[int, ...]:
    match = _MIGRATION.match(name)
    return tuple(int(p) for p in match["version"].split(".")) if match else ()


def part_key(name: str) -> tuple[int, tuple[int, ...], str]:
    """The sort key of one file or folder name: its group, its version, then the name."""
    match = _FLYWAY.match(name) or _NUMBERED.match(name)
    if match is not None:
        parts = re.split(r"[._]", match["version"])
        return (_VERSIONED, tuple(int(p) for p in parts), name)
    if _FLYWAY_REPEATABLE.match(name):
        return (_REPEATABLE, (), name)
    return (_UNVERSIONED, (), name)


def order_key(relative: str) -> tuple[tuple[int, tuple[int, ...], str], ...]:
    """The sort key of a file's path inside a folder (``/``-separated): each part's key."""
    return tuple(part_key(part) for part in relative.split("/"))


@dataclass
class Collected:
    """The files to lint, and each folder whose files version prefixes ordered otherwise than
    alphabetically (a note naming the folder and the first pair that swapped)."""

    sources: list[SourceFile]
    reordered: list[str] = field(default_factory=list)

    @property
    def order(self) -> str:
        """``version`` when version prefixes changed an order, else ``alphabetical``."""
        return "version" if self.reordered else "alphabetical"


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _is_schema(path: Path, schema_root: Path | None) -> bool:
    """Whether ``path`` is a schema file: not named like a migration, and in the schema
    folder (any such file is when no schema folder is given)."""
    if _MIGRATION.match(path.name):
        return False
    return schema_root is None or path.resolve().is_relative_to(schema_root)


def _files_of(
    path: Path, root: Path, reordered: list[str], schema_root: Path | None = None
) -> list[Path]:
    """The files of ``path``, a folder's in version order, with a note when that is not the
    alphabetical order of its files outside ``schema_root`` (:func:`collect` puts the schema
    folder's own files back in build order)."""
    if path.is_dir():
        # Alphabetical by path parts (code points), whatever order sql_files gives.
        alphabetical = sorted(sql_files(path), key=lambda item: tuple(item[0].split("/")))
        ordered = sorted(alphabetical, key=lambda item: order_key(item[0]))
        if schema_root is not None:
            # Only the files that keep the version order are worth a note.
            noted = [item for item in alphabetical if not _is_schema(item[1], schema_root)]
            _note_order(path, root, noted, reordered)
        else:
            _note_order(path, root, alphabetical, reordered)
        return [p for _, p in ordered]
    if path.is_file():
        return [path]
    raise UsageError(f"{path}: no such file or folder")


def _note_order(
    path: Path, root: Path, alphabetical: list[tuple[str, Path]], reordered: list[str]
) -> None:
    """Note the folder ``path`` when version prefixes order ``alphabetical`` otherwise."""
    ordered = sorted(alphabetical, key=lambda item: order_key(item[0]))
    if ordered != alphabetical:
        first = next(i for i, pair in enumerate(ordered) if pair != alphabetical[i])
        reordered.append(
            f"{_display(path, root)}: by version prefix, not alphabetically"
            f" ({ordered[first][0]} before {alphabetical[first][0]})"
        )


def _build_key(path: Path, schema_root: Path) -> tuple[str, ...]:
    """Where ``db build`` applies a schema file: its path parts inside the schema folder, as
    :func:`plimsoll.db.sqlfiles.sql_files` sorts them."""
    return path.resolve().relative_to(schema_root).parts


def collect(
    paths: Sequence[Path],
    root: Path,
    *,
    migrations_dir: Path | None = None,
    schema_dir: Path | None = None,
    migrator_settings: Mapping[str, str] | None = None,
) -> Collected:
    """The files under ``paths`` as lint sources: schema files first (in the order db build
    applies them when ``schema_dir`` is given, else a folder's in version order), then
    migrations (version order), then other files (in the order given, a folder's in version
    order). A path that does not exist is a UsageError (exit 2)."""
    schema_root = schema_dir.resolve() if schema_dir is not None else None
    schema: list[Path] = []
    migrations: list[Path] = []
    loose: list[Path] = []  # neither named like a migration nor in the schema folder
    seen: set[Path] = set()
    reordered: list[str] = []
    for path in paths:
        for file in _files_of(path, root, reordered, schema_root):
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if _MIGRATION.match(file.name):
                migrations.append(file)
            elif _is_schema(file, schema_root):
                schema.append(file)
            else:
                loose.append(file)
    if schema_root is not None:
        # In the order db build applies them (alphabetical: 10_v before 1_a), not by version:
        # lint checks the schema the build makes.
        schema.sort(key=lambda p: _build_key(p, schema_root))
    migrations.sort(key=lambda p: (_version(p.name), p.name.endswith(".down.sql"), p.name))
    own = migrations_dir.resolve() if migrations_dir is not None else None
    out = [_source(p, root, False) for p in schema]
    for path in migrations:
        # The project's own migrations run through plimsoll's migrator (when asked to assume so).
        mine = own is not None and path.resolve().parent == own
        ours = mine and migrator_settings is not None
        out.append(
            _source(
                path,
                root,
                True,
                build=path.name.endswith(".up.sql"),
                settings=dict(migrator_settings or {}) if ours else {},
                wrapped=ours,
                version=_version(path.name),
                own=mine,
            )
        )
    # Loose files after the numbered migrations, in the order given: changes to the database
    # as it stands, each run as written (no migrator around it).
    out.extend(_source(p, root, True) for p in loose)
    return Collected(out, reordered)


def _source(
    path: Path,
    root: Path,
    migration: bool,
    *,
    build: bool = True,
    settings: Mapping[str, str] | None = None,
    wrapped: bool = False,
    version: tuple[int, ...] = (),
    own: bool = False,
) -> SourceFile:
    display = _display(path, root)
    text, encoding = _read(path, display)
    return SourceFile(
        display,
        text,
        migration,
        build=build,
        settings=dict(settings or {}),
        wrapped=wrapped,
        absolute=str(path.resolve()),
        version=version,
        own=own,
        encoding=encoding,
    )


def _read(path: Path, display: str) -> tuple[str, EncodingProblem | None]:
    """The file's text as the build reads it; for a file that is not UTF-8, no text and where
    it stops decoding (a finding of the run, not the end of it: the other files are linted).
    A file that cannot be read at all is an InputError (exit 2)."""
    try:
        return read_sql(path, display), None
    except InputError:
        try:
            data = path.read_bytes()
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "", EncodingProblem.of(data, exc.start)
        except OSError:
            pass
        raise


def collect_sources(
    paths: Sequence[Path],
    root: Path,
    *,
    migrations_dir: Path | None = None,
    schema_dir: Path | None = None,
    migrator_settings: Mapping[str, str] | None = None,
) -> list[SourceFile]:
    """The files under ``paths`` as lint sources (see :func:`collect`)."""
    return collect(
        paths,
        root,
        migrations_dir=migrations_dir,
        schema_dir=schema_dir,
        migrator_settings=migrator_settings,
    ).sources
