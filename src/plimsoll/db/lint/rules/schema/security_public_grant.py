"""security-public-grant."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.schema._objects import SENSITIVE_COLUMN_PATTERNS
from plimsoll.db.lint.schema_facts import (
    NameMatcher,
    Patterns,
    exposed_columns,
    grant_finding,
    matcher,
    matching_columns,
    public_column_grants,
    public_grants,
    revoke_column_help,
)


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
    views whose name matches are checked too). Column privileges count as much as table
    ones: ``GRANT SELECT (id, password_hash) ON users TO PUBLIC`` is reported on the
    sensitive columns it reaches (on every column of a sensitive table). A view granted to
    PUBLIC is reported when it exposes a sensitive column of a table it reads (it names the
    column, or selects ``*``): a view reads with its owner's privileges, so the table's
    REVOKE does not protect it. Patterns are regular expressions searched in the lower-case
    name, or ``glob:`` patterns.

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

        columns: Patterns = tuple(SENSITIVE_COLUMN_PATTERNS)
        tables: Patterns = ()

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each sensitive table, column or view on which PUBLIC holds a privilege."""
        columns = matcher(tuple(self.options.columns))
        tables = matcher(tuple(self.options.tables))
        secrets: dict[str, list[str]] = {}
        # Partitions too: a partition is read directly under its own grants.
        for table in catalog.all_tables(partitions=True):
            secret = [c.name for c in matching_columns(table, columns)] if columns else []
            sensitive_table = bool(tables) and tables.table(table)
            if secret:
                secrets[table.key] = secret
            if not (secret or sensitive_table):
                continue
            privileges = public_grants(table) if table.grants else []
            if privileges:
                reason = f"which holds {', '.join(secret)}" if secret else "a sensitive table"
                yield grant_finding(
                    table,
                    table.grants,
                    f"PUBLIC holds {', '.join(privileges)} on {table.key}, {reason}: every role"
                    " in the cluster can use it",
                    help=f"REVOKE ALL ON {table.sql_name} FROM PUBLIC; grant to the roles that"
                    " need it.",
                )
                continue
            # Column privileges (GRANT SELECT (col) ... TO PUBLIC) reach the same data.
            exposed = None if sensitive_table else matching_columns(table, columns)
            for grant in public_column_grants(table, exposed):
                yield grant.finding(
                    f"PUBLIC holds {', '.join(grant.privileges)} on column"
                    f" {table.key}.{grant.column.name} ({grant.statement}), a sensitive"
                    f" {'table' if sensitive_table and not columns(grant.column.name) else 'column'}:"
                    " every role in the cluster can use it",
                    help=revoke_column_help(grant),
                )
        yield from self._views(catalog, tables, secrets)

    def _views(
        self, catalog: Catalog, tables: NameMatcher, secrets: dict[str, list[str]]
    ) -> Iterator[Violation]:
        """Views granted to PUBLIC that are sensitive by name or expose a secret column."""
        for view in catalog.views.values():
            privileges = public_grants(view) if view.grants else []
            if not privileges:
                continue
            if tables and (tables(view.name) or tables(view.key)):
                reason = "a sensitive view"
            else:
                exposed = exposed_columns(view, secrets)
                if not exposed:
                    continue
                reason = f"which exposes {', '.join(exposed)}"
            kind = "materialized view" if view.materialized else "view"
            yield grant_finding(
                view,
                view.grants,
                f"PUBLIC holds {', '.join(privileges)} on {kind} {view.key}, {reason}: every"
                " role in the cluster can use it",
                help=f"REVOKE ALL ON {view.sql_name} FROM PUBLIC; grant to the roles that need it.",
            )
