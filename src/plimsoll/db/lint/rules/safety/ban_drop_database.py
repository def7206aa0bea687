"""ban-drop-database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, def_options


class BanDropDatabase(StatementRule):
    """Never drop a database from a migration or a schema file.

    **Problem.** ``DROP DATABASE`` deletes a whole database, every schema, table and row in
    it, irreversibly. It cannot run inside a transaction block, so nothing rolls it back,
    and ``WITH (FORCE)`` (PostgreSQL 13 and later) also terminates every session connected
    to it.

    **Why.** Migrations and schema files run against every environment, production
    included, often unattended; a statement that is harmless on a developer's machine is a
    disaster there. Creating and dropping databases is the job of provisioning, not of the
    schema.

    **Fix.** Remove the statement; drop databases by hand or in provisioning scripts, where
    the target is explicit. The rule applies to migrations and schema files alike, with
    ``IF EXISTS`` or not.

    **Example.**

    ```sql
    -- deletes everything in "reporting", in every environment this runs in
    DROP DATABASE reporting;
    ```
    """

    id = "ban-drop-database"
    severity = Severity.ERROR
    help = "Remove DROP DATABASE: drop databases in provisioning, not in schema changes."
    node_types: ClassVar[tuple[str, ...]] = ("DropdbStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag every DROP DATABASE."""
        node = statement.node
        name = node.get("dbname", "")
        force = "force" in def_options(node.get("options"))
        sessions = ", and WITH (FORCE) terminates every session connected to it" if force else ""
        yield Violation(
            f"DROP DATABASE {name} deletes the database and all its data, irreversibly{sessions}"
        )
