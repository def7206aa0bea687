"""security-public-grant."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import SENSITIVE_COLUMN_PATTERNS
from plimsoll.db.lint.schema_facts import finding, matcher, matching_columns, public_grants


class SecurityPublicGrant(SchemaRule):
    """No privileges granted to PUBLIC on sensitive tables.

    **Problem.** ``GRANT ... TO PUBLIC`` gives the privilege to every role of the database
    cluster, present and future: reporting users, monitoring agents, the role of some other
    application sharing the server. On a table holding credentials (password hashes,
    tokens, API keys, secrets) that is every one of them able to read, or change, them.

    **Why.** Least privilege is the one defence that still holds when some role's password
    leaks. PostgreSQL grants nothing on tables to PUBLIC by default; a PUBLIC grant is
    always a deliberate shortcut, and on a sensitive table it turns any database login into
    access to credentials (password hashes can be cracked offline).

    **Fix.** ``REVOKE ALL ON <table> FROM PUBLIC`` and grant what each application role
    needs to that role. A table is sensitive when one of its column names matches
    ``columns`` (default: password, passphrase, secret, token, api key, private key,
    anywhere in the name, so hashes count) or its name or ``schema.name`` matches
    ``tables`` (patterns of tables that are sensitive anyway: ``^users$``, ``glob:audit.*``;
    views whose name matches are checked too). Patterns are regular expressions searched in
    the lower-case name, or ``glob:`` patterns.

    **Example.**

    ```sql
    CREATE TABLE api_clients (id bigint PRIMARY KEY, api_key_hash bytea NOT NULL);
    GRANT SELECT ON api_clients TO PUBLIC;        -- every role reads the key hashes
    REVOKE ALL ON api_clients FROM PUBLIC;
    GRANT SELECT ON api_clients TO billing_app;   -- only the role that needs it
    ```
    """

    id = "security-public-grant"
    severity = Severity.ERROR
    help = "REVOKE ALL ON the table FROM PUBLIC, and grant what each role needs to that role."

    class Options(BaseModel):
        """``columns``: names of sensitive columns; ``tables``: names of sensitive tables."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        columns: list[str] = list(SENSITIVE_COLUMN_PATTERNS)
        tables: list[str] = []

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each sensitive table or view on which PUBLIC holds a privilege."""
        columns = matcher(tuple(self.options.columns))
        tables = matcher(tuple(self.options.tables))
        # Partitions too: a partition is read directly under its own grants.
        for table in catalog.all_tables(partitions=True):
            if not table.grants:
                continue
            privileges = public_grants(table)
            if not privileges:
                continue
            secret = [c.name for c in matching_columns(table, columns)] if columns else []
            if secret:
                reason = f"which holds {', '.join(secret)}"
            elif tables and tables.table(table):
                reason = "a sensitive table"
            else:
                continue
            yield finding(
                table,
                f"PUBLIC holds {', '.join(privileges)} on {table.key}, {reason}: every role"
                " in the cluster can use it",
                help=f"REVOKE ALL ON {table.sql_name} FROM PUBLIC; grant to the roles that need it.",
            )
        if not tables:
            return
        for view in catalog.views.values():
            if not view.grants or not (tables(view.name) or tables(view.key)):
                continue
            privileges = public_grants(view)
            if privileges:
                yield finding(
                    view,
                    f"PUBLIC holds {', '.join(privileges)} on {view.key}, a sensitive view:"
                    " every role in the cluster can use it",
                    help=f"REVOKE ALL ON {view.sql_name} FROM PUBLIC; grant to the roles that need it.",
                )
