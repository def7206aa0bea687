"""impossible-foreign-key-action."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Column, Constraint, Table, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation

# PostgreSQL 15's column list: ON DELETE SET NULL (a) sets only the columns named.
_COLUMN_LIST = re.compile(r"ON\s+DELETE\s+SET\s+(?:NULL|DEFAULT)\s*\(([^)]*)\)", re.IGNORECASE)


def _set_columns(constraint: Constraint, event: str) -> tuple[str, ...]:
    """The columns an ON <event> SET NULL/DEFAULT action assigns."""
    if event == "DELETE":
        match = _COLUMN_LIST.search(constraint.definition)
        if match:
            return tuple(p.strip().strip('"') for p in match.group(1).split(",") if p.strip())
    return constraint.columns


def _not_null(table: Table, column: Column) -> bool:
    if not column.nullable:
        return True
    key = next((c for c in table.constraints if c.kind == "p"), None)
    return key is not None and column.name in key.columns


def _remedy(
    table: Table, constraint: Constraint, event: str, action: str, pg_version: int
) -> str | None:
    """PostgreSQL 15's column list when some of a multi-column key can be set to NULL."""
    if event != "DELETE" or action != "SET NULL" or pg_version < 15:
        return None
    nullable = [
        quote_ident(name)
        for name in constraint.columns
        if (column := table.column(name)) is not None and not _not_null(table, column)
    ]
    if not nullable:
        return None
    return (
        f"Set only the nullable columns: ON DELETE SET NULL ({', '.join(nullable)})"
        " (PostgreSQL 15 and later), or use CASCADE or RESTRICT."
    )


class ImpossibleForeignKeyAction(SchemaRule):
    """ON DELETE/UPDATE SET NULL or SET DEFAULT does not target a NOT NULL column.

    **Problem.** ``ON DELETE SET NULL`` on a foreign key whose column is ``NOT NULL`` (or
    part of the primary key) can never be carried out: PostgreSQL accepts the definition,
    and every delete of a referenced row that has referencing rows then fails with "null
    value in column violates not-null constraint". ``SET DEFAULT`` on a NOT NULL column
    with no default is the same (the default is NULL). The same holds for ``ON UPDATE``.

    **Why.** The schema says that deleting a parent detaches its children, while in fact
    it makes the parent undeletable as long as it has any: the failure shows up in
    production, on the first such delete, as a constraint error nobody expects from a
    delete.

    **Fix.** Decide what deleting the parent means: ``ON DELETE CASCADE`` (the children go
    too), ``RESTRICT``/``NO ACTION`` (refuse the delete), or make the column nullable (the
    children stay, detached). For ``SET DEFAULT``, give the column a default that exists
    in the referenced table. With PostgreSQL 15's ``SET NULL (column, ...)`` only the
    listed columns are checked.

    **Example.**

    ```sql
    -- every DELETE FROM teams that has members fails
    CREATE TABLE members (id bigint PRIMARY KEY,
                          team_id bigint NOT NULL REFERENCES teams ON DELETE SET NULL);
    -- members stay, without a team
    CREATE TABLE members (id bigint PRIMARY KEY,
                          team_id bigint REFERENCES teams ON DELETE SET NULL);
    ```
    """

    id = "impossible-foreign-key-action"
    severity = Severity.ERROR
    help = "Use CASCADE or RESTRICT, or make the column nullable (or give it a default for SET DEFAULT)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each SET NULL/SET DEFAULT action that a NOT NULL column makes fail."""
        for table in catalog.all_tables():
            for constraint in table.constraints:
                if constraint.kind != "f":
                    continue
                for event, action in (
                    ("DELETE", constraint.on_delete),
                    ("UPDATE", constraint.on_update),
                ):
                    if action not in ("SET NULL", "SET DEFAULT"):
                        continue
                    for name in _set_columns(constraint, event):
                        column = table.column(name)
                        if column is None or not _not_null(table, column):
                            continue
                        if action == "SET DEFAULT" and (column.default or column.identity):
                            continue  # a default to set: whether it exists upstream is data
                        referenced = constraint.references or "the referenced table"
                        yield Violation(
                            f"foreign key {constraint.name} on {table.key} says ON {event}"
                            f" {action}, but {name} is NOT NULL"
                            f"{' without a default' if action == 'SET DEFAULT' else ''}: every"
                            f" {event} of a row of {referenced} that {table.key} references"
                            " fails",
                            object=f"{table.key}.{constraint.name}",
                            origin=constraint.origin,
                            help=_remedy(table, constraint, event, action, context.pg_version),
                        )
                        break
