"""ban-drop-table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, name_key, unwrap

_KINDS = {"OBJECT_TABLE": "TABLE", "OBJECT_FOREIGN_TABLE": "FOREIGN TABLE"}


class BanDropTable(StatementRule):
    """Do not drop a table that running code may still use.

    **Problem.** ``DROP TABLE`` deletes the table and all its rows the moment the migration
    commits: application servers still running the previous release fail on every query
    that uses it, and a rollback of the application does not bring the data back. With
    ``CASCADE`` the views and foreign keys that depend on it go too. The drop takes an
    ACCESS EXCLUSIVE lock on the table, so it also waits behind any long query on it and
    blocks everything queued after it. ``IF EXISTS`` makes the statement re-runnable, not
    safe: it is flagged as well.

    **Why.** Deployments are not atomic: old and new code run side by side for a while. The
    table must be unused by every running release before it goes, and its data kept until
    nobody will ask for it.

    **Fix.** First release code that no longer uses the table, then drop it in a later
    migration, after a backup (or rename it first, and drop it once nobody has complained).
    A table created earlier in the same migration is not flagged. Schema files build a
    fresh database and are not checked.

    **Example.**

    ```sql
    -- running code that still reads audit_events fails, and the rows are gone
    DROP TABLE audit_events;
    -- instead: release code that no longer uses it, back it up, then drop it
    ```
    """

    id = "ban-drop-table"
    severity = Severity.WARNING
    help = (
        "Release code that no longer uses the table first, back its data up, then drop it in"
        " a later migration."
    )
    node_types: ClassVar[tuple[str, ...]] = ("DropStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag DROP TABLE naming a table not created in this migration."""
        node = statement.node
        kind = _KINDS.get(node.get("removeType", ""))
        if not context.migration or kind is None:
            return
        keys = []
        for item in node.get("objects") or ():
            _, names = unwrap(item)
            key = name_key(names.get("items"), context.default_schema)
            if key and not context.is_new(key):
                keys.append(key)
        if not keys:
            return
        tables = ", ".join(keys)
        its, it = ("their", "them") if len(keys) > 1 else ("its", "it")
        cascade = (
            f" and everything that depends on {it}"
            if node.get("behavior") == "DROP_CASCADE"
            else ""
        )
        yield Violation(
            f"DROP {kind} {tables} deletes {its} rows{cascade} and breaks running code that"
            f" still uses {it}"
        )
