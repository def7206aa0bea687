"""adding-field-with-default."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict

from plimsoll.db.catalog import quote_ident
from plimsoll.db.lint.rule import Severity, Violation
from plimsoll.db.lint.rules.safety._statement_parts import ADD_COLUMN, AlterCommand, AlterTableRule
from plimsoll.db.sqljson import (
    SERIAL_TYPES,
    Node,
    function_name,
    strings,
    unwrap,
    walk,
)

# Built-in and common extension functions that are VOLATILE (pg_proc.provolatile = 'v'):
# a default that calls one is evaluated once per row, so every row is rewritten.
VOLATILE_FUNCTIONS = frozenset(
    {
        "random",
        "random_normal",
        "setseed",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "gen_random_bytes",
        "gen_salt",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "currval",
        "lastval",
        "setval",
        "set_config",
        "pg_sleep",
        "txid_status",
    }
)
# Functions often used in defaults that are STABLE or IMMUTABLE: PostgreSQL 11+ evaluates the
# default once and stores it in the catalog. Anything else is unknown (a function is VOLATILE
# unless declared otherwise) and reported as a possible rewrite.
NON_VOLATILE_FUNCTIONS = frozenset(
    {
        "now",
        "statement_timestamp",
        "transaction_timestamp",
        "current_setting",
        "current_schema",
        "current_schemas",
        "current_database",
        "current_user",
        "session_user",
        "version",
        "txid_current",
        "pg_current_xact_id",
        "to_char",
        "to_date",
        "to_timestamp",
        "to_number",
        "date_trunc",
        "date_part",
        "extract",
        "make_date",
        "make_time",
        "make_timestamp",
        "make_timestamptz",
        "make_interval",
        "timezone",
        "age",
        "lower",
        "upper",
        "initcap",
        "concat",
        "concat_ws",
        "format",
        "btrim",
        "ltrim",
        "rtrim",
        "lpad",
        "rpad",
        "left",
        "right",
        "substr",
        "substring",
        "replace",
        "repeat",
        "length",
        "md5",
        "sha224",
        "sha256",
        "sha384",
        "sha512",
        "encode",
        "decode",
        "abs",
        "round",
        "trunc",
        "floor",
        "ceil",
        "ceiling",
        "to_json",
        "to_jsonb",
        "json_build_object",
        "jsonb_build_object",
        "json_build_array",
        "jsonb_build_array",
        "json_object",
        "jsonb_object",
        "array_fill",
        "array_to_string",
        "string_to_array",
        "uuid_generate_v3",
        "uuid_generate_v5",
        "uuid_nil",
        "int4range",
        "int8range",
        "numrange",
        "tsrange",
        "tstzrange",
        "daterange",
    }
)


class AddingFieldWithDefault(AlterTableRule):
    """Add columns to existing tables without a default that rewrites every row.

    **Problem.** ``ALTER TABLE ... ADD COLUMN`` rewrites the whole table, under an ACCESS
    EXCLUSIVE lock that blocks reads and writes, when the new column needs a value computed
    per row: a VOLATILE default (``gen_random_uuid()``, ``clock_timestamp()``, ``random()``,
    ``nextval()``), a ``serial`` type or an identity column (a sequence fills each row), a
    ``GENERATED ... STORED`` column, or a column whose type is a domain with constraints
    (``CREATE DOMAIN zip AS text CHECK (...)``, or ``NOT NULL``): PostgreSQL checks the
    domain's constraints on every existing row's value, default or not, by rewriting the
    table (measured: 0.5 ms for a plain column, 1.4 s for the domain on 3 million rows, and a
    new relfilenode). Before PostgreSQL 11 *any* non-null default rewrites the table.

    **Why.** From PostgreSQL 11 a constant or STABLE default (``0``, ``'new'``, ``now()``,
    ``CURRENT_TIMESTAMP``) is evaluated once and stored in the catalog: adding the column is
    instant. A volatile one must be evaluated for each row, so the table is copied, which on a
    large table means minutes of downtime. A function the rule does not know is reported as
    a possible rewrite: functions are VOLATILE unless declared STABLE or IMMUTABLE. The rule
    knows a domain when the linted files create it (schema files and earlier migrations) or,
    with ``--env``, when the live database has it. PostgreSQL 19 is to evaluate a domain's
    non-volatile constraints once instead (not yet released: the rule reports the domain up
    to 18).

    **Fix.** Add the column without the default (or with a constant one), then set the
    default for new rows with ``ALTER COLUMN ... SET DEFAULT``, and backfill existing rows in
    batches. For a stored generated column, add a plain column, backfill it and keep it
    current with a trigger (on PostgreSQL 18, a ``VIRTUAL`` generated column needs no
    rewrite). For a domain with constraints, add the column as the domain's base type, add
    its check as a table ``CHECK ... NOT VALID`` and ``VALIDATE`` it in another transaction.
    A table created in the same migration is exempt.

    **Example.**

    ```sql
    -- rewrites orders under an ACCESS EXCLUSIVE lock
    ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();
    -- instant, then backfill in batches
    ALTER TABLE orders ADD COLUMN token uuid;
    ALTER TABLE orders ALTER COLUMN token SET DEFAULT gen_random_uuid();
    UPDATE orders SET token = gen_random_uuid() WHERE id BETWEEN 1 AND 10000 AND token IS NULL;
    -- with CREATE DOMAIN zip AS text CHECK (VALUE ~ '^[0-9]{5}$'): rewrites orders
    ALTER TABLE orders ADD COLUMN ship_zip zip;
    -- instant, then validated without blocking
    ALTER TABLE orders ADD COLUMN ship_zip text;
    ALTER TABLE orders ADD CONSTRAINT orders_ship_zip_check
        CHECK (ship_zip ~ '^[0-9]{5}$') NOT VALID;
    ```
    """

    id = "adding-field-with-default"
    severity = Severity.WARNING
    version = "1.1.0"
    help = (
        "Add the column without a volatile default, SET DEFAULT afterwards, and backfill"
        " existing rows in batches."
    )
    subtypes = ADD_COLUMN

    class Options(BaseModel):
        """Options of adding-field-with-default."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        non_volatile_functions: tuple[str, ...] = ()
        """Your own STABLE or IMMUTABLE functions (``app.default_tenant`` or a bare name)."""

    def judge(self, command: AlterCommand) -> Iterator[Violation]:
        """Flag an ADD COLUMN whose value must be computed (or checked) row by row."""
        found = self._column(command.definition, command.table, command.context.pg_version)
        if found is None:
            found = _constrained_domain(command)
        if found is not None:
            yield found

    def _column(self, column: Node, table: str, pg_version: int) -> Violation | None:
        name = column.get("colname", "")
        where = f"ADD COLUMN {name} on {table}"
        locked = "the table is rewritten under an ACCESS EXCLUSIVE lock: reads and writes are"
        locked += " blocked until every row is written"
        type_names = strings((column.get("typeName") or {}).get("names"))
        if type_names and type_names[-1] in SERIAL_TYPES and len(type_names) == 1:
            return Violation(
                f"{where} is a {type_names[-1]}: a sequence fills every existing row, so {locked}",
                location=column.get("location"),
                help="Add a nullable bigint column, backfill it in batches, then attach the"
                " sequence default (or the identity) once it is filled.",
            )
        for item in column.get("constraints") or ():
            _, constraint = unwrap(item)
            contype = constraint.get("contype")
            if contype == "CONSTR_IDENTITY":
                return Violation(
                    f"{where} is an identity column: a sequence fills every existing row, so"
                    f" {locked}",
                    location=constraint.get("location"),
                    help="Add a nullable bigint column, backfill it in batches, then ADD"
                    " GENERATED ... AS IDENTITY on the filled column.",
                )
            if contype == "CONSTR_GENERATED" and constraint.get("generated_kind") != "v":
                virtual = " (or a VIRTUAL generated column)" if pg_version >= 18 else ""
                return Violation(
                    f"{where} is a STORED generated column: every existing row is computed,"
                    f" so {locked}",
                    location=constraint.get("location"),
                    help="Add a plain nullable column, backfill it in batches and keep it"
                    f" current with a trigger{virtual}.",
                )
            if contype == "CONSTR_DEFAULT":
                found = self._default(constraint, where, locked, pg_version)
                if found is not None:
                    return found
        return None

    def _default(
        self, constraint: Node, where: str, locked: str, pg_version: int
    ) -> Violation | None:
        expression = constraint.get("raw_expr")
        kind, inner = unwrap(expression)
        if kind == "A_Const" and inner.get("isnull"):
            return None  # DEFAULT NULL stores nothing, on every version
        location = inner.get("location", constraint.get("location"))
        volatile, unknown = self._functions(expression)
        if volatile is not None:
            return Violation(
                f"{where} has the volatile default {volatile}(): {locked}",
                location=volatile_location(expression, volatile) or location,
            )
        if pg_version < 11:
            return Violation(
                f"{where} has a DEFAULT: before PostgreSQL 11 any non-null default means {locked}",
                location=location,
                help="Add the column without a default, SET DEFAULT afterwards, and backfill"
                " existing rows in batches.",
            )
        if unknown is not None:
            return Violation(
                f"{where} has the default {unknown}(), not known to be STABLE or IMMUTABLE"
                f" (functions are VOLATILE unless declared otherwise): if it is volatile,"
                f" {locked}",
                location=volatile_location(expression, unknown) or location,
                help="Declare the function STABLE or IMMUTABLE if it is (and list it in the"
                " rule's non_volatile_functions), or add the column without it and backfill.",
            )
        return None

    def _functions(self, expression: object) -> tuple[str | None, str | None]:
        """The first volatile function the expression calls, and the first unknown one."""
        volatile: str | None = None
        unknown: str | None = None
        allowed = {name.lower() for name in self.options.non_volatile_functions}
        for kind, inner in walk(expression):
            if kind != "FuncCall":
                continue
            name = function_name(inner)
            bare = name.rsplit(".", 1)[-1]
            if name in allowed or bare in allowed:
                continue
            if bare in VOLATILE_FUNCTIONS:
                volatile = volatile or name
            elif bare not in NON_VOLATILE_FUNCTIONS:
                unknown = unknown or name
        return volatile, unknown


# The last major version whose ADD COLUMN rewrites for any domain with constraints: the next
# one (in development) evaluates a non-volatile domain check once and stores the value.
LAST_DOMAIN_REWRITE = 18


def _constrained_domain(command: AlterCommand) -> Violation | None:
    """ADD COLUMN of a domain with constraints: every row's value is checked, by a rewrite."""
    context = command.context
    if context.pg_version > LAST_DOMAIN_REWRITE:
        return None
    type_node = command.definition.get("typeName")
    found = context.known.domain(type_node, context.default_schema)
    if found is None or not context.known.constrained(found[0], context.default_schema):
        return None
    key, domain = found
    base = context.known.base_type(key, context.default_schema)
    where = "" if domain.origin == "the database" else f" (created in {domain.origin})"
    return Violation(
        f"ADD COLUMN {command.column} on {command.table} is of domain {key}, which has"
        f" constraints{where}: PostgreSQL checks them on every existing row by rewriting"
        " the table under an ACCESS EXCLUSIVE lock: reads and writes are blocked until every"
        " row is written",
        location=(type_node or {}).get("location", command.definition.get("location")),
        help=f"Add {quote_ident(command.column)} as {base} (the domain's base type), add the"
        " domain's check as a table CHECK ... NOT VALID, and VALIDATE it in another"
        " transaction.",
    )


def volatile_location(expression: object, name: str) -> int | None:
    """The location of the first call of ``name`` in ``expression``."""
    for kind, inner in walk(expression):
        if kind == "FuncCall" and function_name(inner) == name:
            location = inner.get("location")
            return location if isinstance(location, int) and location >= 0 else None
    return None
