"""multi-tenancy."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import Catalog, Origin, Table, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.policy_facts import COMMANDS, always_true, unrestricted
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import Patterns, finding, matcher, rls_origin


class MultiTenancy(SchemaRule):
    """Tenant tables carry a NOT NULL tenant column that leads their keys and drives RLS.

    **Problem.** In a shared-schema multi-tenant database every row of a tenant table
    belongs to one tenant. A tenant table without the tenant column, or with a nullable one,
    holds rows that belong to nobody; a unique key that does not start with the tenant
    column makes values unique across all tenants (one tenant's invoice number 1 blocks
    every other tenant's) and gives no index for the ``WHERE tenant_id = $1`` that every
    query carries; without row-level security a single forgotten ``WHERE`` leaks another
    tenant's data.

    **Why.** Isolation enforced by the database holds whatever the application forgets:
    with ``ENABLE ROW LEVEL SECURITY`` and a policy whose ``USING`` compares the tenant
    column with the current tenant (``current_setting('app.tenant_id')``), queries only
    ever see their tenant's rows. Keys led by the tenant column keep each tenant's data
    together in the index and make per-tenant uniqueness the rule.

    **Fix.** Select the tenant tables with ``schemas`` (patterns matched against the schema
    name) and/or ``tables`` (patterns matched against the table name or ``schema.name``);
    patterns are regular expressions searched in the lower-case name (anchor them:
    ``^tenant$``) or ``glob:`` shell patterns; ``exclude`` takes tables out (the tenants
    table itself). **With neither ``schemas`` nor ``tables`` set the rule finds nothing.**
    For each tenant table, the ``column`` (default ``tenant_id``) exists and is NOT NULL;
    it is the first column of the primary key and of every unique constraint and unique
    index; row-level security is enabled, and for each command (SELECT, INSERT, UPDATE,
    DELETE) the policies that apply to it isolate tenants: PostgreSQL ORs the permissive
    policies together and ANDs the restrictive ones in, so either every permissive policy
    for the command restricts the column, or a restrictive one does. A policy restricts the
    column when its condition requires it to equal a value of the session
    (``tenant_id = current_setting('app.tenant_id')::bigint``, ``= ANY (app.my_tenants())``,
    ``IN (SELECT ... WHERE login = current_user)``, ``= $1``); ``USING (true)``, ``USING
    (1 = 1)``, ``USING (tenant_id IS NOT NULL)`` or ``tenant_id = 7`` do not.
    With ``force_rls: true`` the table must also ``FORCE ROW LEVEL SECURITY`` (the table
    owner bypasses policies otherwise).

    **Example.**

    ```sql
    CREATE TABLE app.invoices (
        tenant_id bigint NOT NULL,
        id bigint GENERATED ALWAYS AS IDENTITY,
        number text NOT NULL,
        PRIMARY KEY (tenant_id, id),
        UNIQUE (tenant_id, number)
    );
    ALTER TABLE app.invoices ENABLE ROW LEVEL SECURITY;
    CREATE POLICY tenant_isolation ON app.invoices
        USING (tenant_id = current_setting('app.tenant_id')::bigint);
    ```
    """

    id = "multi-tenancy"
    severity = Severity.ERROR
    help = (
        "Give tenant tables a NOT NULL tenant column leading every unique key, and enable"
        " row-level security with a policy on it."
    )

    class Options(BaseModel):
        """Which tables are tenant tables, and the tenant column's name.

        ``schemas``: patterns of tenant schemas; ``tables``: patterns of tenant tables (name
        or ``schema.name``); ``exclude``: patterns of tables that are not tenant tables even
        so; ``column``: the tenant column (``tenant_id``); ``force_rls``: also require
        ``FORCE ROW LEVEL SECURITY``.
        """

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        schemas: Patterns = ()
        tables: Patterns = ()
        exclude: Patterns = ()
        column: str = "tenant_id"
        force_rls: bool = False

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Check every tenant table: column, NOT NULL, leading keys, row-level security."""
        options = self.options
        if not options.schemas and not options.tables:
            return
        schemas = matcher(tuple(options.schemas))
        tables = matcher(tuple(options.tables))
        exclude = matcher(tuple(options.exclude))
        for table in catalog.all_tables():
            if not schemas(table.schema) and not tables.table(table):
                continue
            if exclude.table(table):
                continue
            yield from self._check_table(table)

    def _check_table(self, table: Table) -> Iterator[Violation]:
        name = self.options.column
        column = table.column(name)
        if column is None:
            yield finding(
                table,
                f"tenant table {table.key} has no {name} column: its rows belong to no tenant"
                " and nothing can isolate them",
                help=f"Add {quote_ident(name)} NOT NULL (with a foreign key to the tenants table).",
            )
            return
        if column.nullable:
            key = f"{table.key}.{name}"
            yield Violation(
                f"{key} is nullable: rows with a NULL {name} belong to no tenant and no"
                " tenant policy ever shows them",
                object=key,
                origin=column.origin,
                help=f"ALTER TABLE {table.sql_name} ALTER COLUMN {quote_ident(name)} SET NOT NULL.",
            )
        for constraint in table.constraints:
            if constraint.kind not in ("p", "u") or not constraint.columns:
                continue
            if constraint.columns[0] != name:
                kind = "primary key" if constraint.kind == "p" else "unique constraint"
                yield self._not_leading(
                    table, kind, constraint.name, constraint.columns, constraint.origin
                )
        for index in table.indexes:
            if index.unique and index.columns and index.columns[0] != name:
                yield self._not_leading(
                    table, "unique index", index.name, index.columns, index.origin
                )
        if not table.rls_enabled:
            yield finding(
                table,
                f"tenant table {table.key} does not enable row-level security: a query that"
                f" forgets WHERE {name} = ... reads every tenant's rows",
                help=(
                    f"ALTER TABLE {table.sql_name} ENABLE ROW LEVEL SECURITY, and create a"
                    f" policy USING ({quote_ident(name)} = current_setting('app.{name}')::...)."
                ),
                origin=rls_origin(table),
            )
        else:
            yield from self._policies(table)
        if self.options.force_rls and table.rls_enabled and not table.rls_forced:
            yield finding(
                table,
                f"tenant table {table.key} does not force row-level security: its owner (often"
                " the application's role) bypasses the tenant policies",
                help=f"ALTER TABLE {table.sql_name} FORCE ROW LEVEL SECURITY.",
                origin=rls_origin(table, forced=True),
            )

    def _policies(self, table: Table) -> Iterator[Violation]:
        """Each command some permissive policy lets past the tenant column.

        Permissive policies are OR-ed: a row passes when any of them admits it, so each one
        applying to a command must restrict the tenant column to the session's tenant,
        unless a restrictive policy (AND-ed in) does it for that command.
        """
        name = self.options.column
        if not table.policies:
            yield finding(
                table,
                f"tenant table {table.key} enables row-level security but has no policy on"
                f" {name}: its policies do not isolate tenants",
                help=self._policy_help(table),
            )
            return
        leaks: dict[str, list[str]] = {}
        for command in COMMANDS:
            for policy in unrestricted(table.policies, command, name):
                leaks.setdefault(policy.name, []).append(command)
        for policy in table.policies:
            commands = leaks.get(policy.name)
            if not commands:
                continue
            conditions = [e for e in (policy.using, policy.with_check) if e is not None]
            if any(always_true(e) for e in conditions):
                why = "its condition is always true"
            else:
                shown = " / ".join(conditions) or "no condition"
                why = f"its condition ({shown}) does not compare {name} with the session's tenant"
            yield Violation(
                f"policy {policy.name} on tenant table {table.key} lets {', '.join(commands)}"
                f" reach every tenant's rows: {why}, and permissive policies are OR-ed, so"
                " it overrides the tenant policies",
                object=f"{table.key}.{policy.name}",
                origin=policy.origin or table.origin,
                help=self._policy_help(table),
            )

    def _policy_help(self, table: Table) -> str:
        name = self.options.column
        column = quote_ident(name)
        return (
            f"Restrict every permissive policy with {column} = current_setting('app.{name}')::..."
            f" (or add one AS RESTRICTIVE USING ({column} = ...)) on {table.sql_name}."
        )

    def _not_leading(
        self, table: Table, kind: str, name: str, columns: tuple[str, ...], origin: Origin | None
    ) -> Violation:
        column = self.options.column
        # Key entries that are columns are quoted; an index expression is already SQL.
        keys = [column, *(c for c in columns if c != column)]
        shown = ", ".join(quote_ident(c) if table.column(c) is not None else c for c in keys)
        return Violation(
            f"{kind} {name} on {table.key} ({', '.join(columns)}) does not start with"
            f" {column}: its values are unique across all tenants, not per tenant, and it"
            f" does not serve the WHERE {column} = ... of tenant queries",
            object=f"{table.key}.{name}",
            origin=origin,
            help=f"Put {quote_ident(column)} first: ({shown}).",
        )
