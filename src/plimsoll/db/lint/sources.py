"""Which files a lint run reads, in which order, and what each one is.

A file named like a migration (``<version>_<name>.up.sql`` / ``.down.sql``) is a migration.
Any other ``.sql`` file is a schema file when it lies in the project's schema folder (or when
no schema folder is given), and a migration otherwise: a loose ``hotfix.sql`` is checked as
a change to a live database, as squawk and ``plimsoll db risk`` take it, not as a fresh
build in which every table is new (where the statement rules would find nothing to say).
Schema files keep the build order of their folder
(``plimsoll db build``'s order); migrations are ordered by version across every path given.
Down migrations are linted but do not make up the schema. Migrations of the project's own
migrations folder start with the settings plimsoll's migrator gives them (``lock_timeout``,
``statement_timeout``, one transaction per migration) when ``migrator_settings`` is on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from plimsoll.core.errors import UsageError
from plimsoll.db.lint.engine import SourceFile
from plimsoll.db.sqlfiles import read_sql, sql_files

_MIGRATION = re.compile(r"^(?P<version>\d+(?:\.\d+)*)_.+\.(?P<direction>up|down)\.sql$")


def _version(name: str) -> tuple[int, ...]:
    match = _MIGRATION.match(name)
    return tuple(int(p) for p in match["version"].split(".")) if match else ()


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return [p for _, p in sql_files(path)]
    if path.is_file():
        return [path]
    raise UsageError(f"{path}: no such file or folder")


def collect_sources(
    paths: Sequence[Path],
    root: Path,
    *,
    migrations_dir: Path | None = None,
    schema_dir: Path | None = None,
    migrator_settings: Mapping[str, str] | None = None,
) -> list[SourceFile]:
    """The files under ``paths`` as lint sources: schema files first (build order), then
    migrations (version order). A path that does not exist is a UsageError (exit 2)."""
    schema_root = schema_dir.resolve() if schema_dir is not None else None
    schema: list[Path] = []
    migrations: list[Path] = []
    loose: list[Path] = []  # neither named like a migration nor in the schema folder
    seen: set[Path] = set()
    for path in paths:
        for file in _files_of(path):
            resolved = file.resolve()
            if resolved in seen:
                continue
            seen.add(resolved)
            if _MIGRATION.match(file.name):
                migrations.append(file)
            elif schema_root is None or resolved.is_relative_to(schema_root):
                schema.append(file)
            else:
                loose.append(file)
    migrations.sort(key=lambda p: (_version(p.name), p.name.endswith(".down.sql"), p.name))
    own = migrations_dir.resolve() if migrations_dir is not None else None
    out = [SourceFile(_display(p, root), read_sql(p, _display(p, root)), False) for p in schema]
    for path in migrations:
        display = _display(path, root)
        # The project's own migrations run through plimsoll's migrator (when asked to assume so).
        ours = migrator_settings is not None and own is not None and path.resolve().parent == own
        out.append(
            SourceFile(
                display,
                read_sql(path, display),
                True,
                build=path.name.endswith(".up.sql"),
                settings=dict(migrator_settings or {}) if ours else {},
                wrapped=ours,
            )
        )
    # Loose files after the numbered migrations, in the order given: changes to the database
    # as it stands, each run as written (no migrator around it).
    out.extend(SourceFile(_display(p, root), read_sql(p, _display(p, root)), True) for p in loose)
    return out
