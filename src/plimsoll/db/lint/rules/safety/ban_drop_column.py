"""ban-drop-column."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_spans
from plimsoll.db.sqljson import JsonStatement, unwrap

_OWNERS = {"OBJECT_TABLE": "table", "OBJECT_FOREIGN_TABLE": "foreign table", "OBJECT_TYPE": "type"}


class BanDropColumn(StatementRule):
    """Do not drop a column that running code may still use.

    **Problem.** ``ALTER TABLE ... DROP COLUMN`` removes the column for everyone the moment
    the migration commits: application servers still running the previous release fail on
    every query that names it (and an ``INSERT`` listing it), and code reading ``SELECT *``
    by position sees a different shape. Its data is gone: a rollback of the application does
    not bring it back. Indexes and constraints on the column go with it (views and other
    dependents too, with ``CASCADE``). The drop takes an ACCESS EXCLUSIVE lock; it is quick,
    since the column is only marked dropped and its space is reclaimed as rows are
    rewritten, but it waits behind any long query on the table and blocks everything queued
    after it.

    **Why.** Deployments are not atomic: old and new code run side by side for a while. The
    column must be unused by every running release before it goes.

    **Fix.** First release code that no longer reads or writes the column (many ORMs can be
    told to ignore it), then drop it in a later migration, after a backup if the data may
    be wanted. A column of a table created earlier in the same migration is not flagged. An
    attribute of a composite type (``ALTER TYPE ... DROP ATTRIBUTE``) is flagged as well.
    Schema files build a fresh database and are not checked.

    **Example.**

    ```sql
    -- running code that still uses legacy_code fails once this commits
    ALTER TABLE orders DROP COLUMN legacy_code;
    -- instead: release code that ignores legacy_code, then drop it in a later migration
    ```
    """

    id = "ban-drop-column"
    severity = Severity.WARNING
    help = (
        "Release code that no longer uses the column first, then drop it in a later"
        " migration (after a backup if the data may be needed)."
    )
    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each DROP COLUMN on a table not created in this migration."""
        node = statement.node
        owner = _OWNERS.get(node.get("objtype", ""))
        if not context.migration or owner is None:
            return
        relation = node.get("relation")
        key = context.key(relation)
        if owner != "type" and context.is_new(key):
            return
        spans = None
        for index, command in enumerate(node.get("cmds") or ()):
            _, cmd = unwrap(command)
            if cmd.get("subtype") != "AT_DropColumn":
                continue
            if spans is None:
                spans = command_spans(statement, context, relation)
            column = cmd.get("name", "")
            what = "attribute" if owner == "type" else "column"
            yield Violation(
                f"DROP {what.upper()} {column} on {owner} {key} breaks running code that still"
                f" uses {column}, and its data is lost",
                location=spans[index].start if index < len(spans) else None,
            )
