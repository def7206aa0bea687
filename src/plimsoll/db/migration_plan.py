"""How each migration file runs: its statements, whether in one transaction, what it touches.

:func:`plan_sql` parses one SQL migration (see :mod:`plimsoll.db.migrator` for the rules on
transactions); :func:`load_module` imports a Python migration.

Parsing is not done ahead in a thread: measured, a parser thread beside the applying one made
a run of 500 small migrations four times slower (the applying thread, woken by the server's
answer, waits for the GIL behind the parser).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InputError

if TYPE_CHECKING:
    from plimsoll.db.sql import QualifiedName, Statement


@dataclass(frozen=True)
class MigrationPlan:
    """A migration file's statements, whether they run in one transaction, and why not.

    ``tables`` are the relations the statements create, alter or write (as the parser names
    them, see :func:`plimsoll.db.sql.touched_tables`), without duplicates.
    """

    statements: tuple[Statement, ...]
    transactional: bool
    reason: str | None
    tables: tuple[QualifiedName, ...] = ()


def plan_sql(path: Path, server_version: int) -> MigrationPlan:
    """Parse a SQL migration and decide how it runs (see :mod:`plimsoll.db.migrator`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    return plan_text(text, str(path), server_version)


def plan_text(text: str, source: str, server_version: int) -> MigrationPlan:
    """Plan the SQL migration ``text`` (shown as ``source``), as :func:`plan_sql` does.

    The linter asks this too, so that what it says about a migration's transaction is what
    the migrator will do. Transaction control other than one pair around the whole file is
    an InputError naming the line.
    """
    # The parser (pglast) is loaded when a migration is planned, not for `status`.
    from plimsoll.db.sql import (
        parse_sql,
        strip_outer_transaction,
        touched_tables,
        transaction_control,
    )
    from plimsoll.db.sql import transactional as transaction_requirement

    script = parse_sql(text, source)
    if transaction_control(script):
        stripped = strip_outer_transaction(script)
        if stripped is None:
            first = transaction_control(script)[0]
            raise InputError(
                f"{source}:{first.start_line}: transaction control inside a migration; the "
                "migrator runs each migration in its own transaction (one BEGIN ... COMMIT "
                "around the whole file is allowed and dropped)"
            )
        script = stripped
    reasons = []
    for statement in script.statements:
        requirement = transaction_requirement(statement, server_version)
        if not requirement.in_transaction:
            reasons.append(f"line {statement.start_line}: {requirement.reason}")
    tables = dict.fromkeys(
        name for statement in script.statements for name in touched_tables(statement)
    )
    return MigrationPlan(
        tuple(script.statements), not reasons, "; ".join(reasons) or None, tuple(tables)
    )


def load_module(path: Path) -> Any:
    """Import a Python migration from its file."""
    spec = importlib.util.spec_from_file_location(f"plimsoll_migration_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise InputError(f"{path}: cannot load as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's module, reported as input
        raise InputError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from None
    return module
