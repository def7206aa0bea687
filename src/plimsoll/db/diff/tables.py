"""Tables and their columns: CREATE / DROP TABLE, ADD / DROP / ALTER COLUMN (with the
column's settings: :mod:`~plimsoll.db.diff.settings`), row-level security switches,
storage parameters, comments and grants (table and column level)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from plimsoll.db.catalog import Column, Constraint, Table, quote_ident, sql_name
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.settings import (
    column_settings_sql,
    describe_identity,
    describe_options,
    identity_clause,
    identity_options_step,
    options_clause,
    options_step,
    restore_before_retype,
    settings_steps,
)
from plimsoll.db.diff.text import (
    by_name,
    comment_sql,
    diff_comment,
    diff_grants,
    grant_sql,
    show,
    sorted_grants,
)


def alter(table: Table, action: str) -> str:
    """``ALTER TABLE <table> <action>;``."""
    return f"ALTER TABLE {table.sql_name} {action};"


def column_spec(column: Column) -> str:
    """A column as CREATE TABLE / ADD COLUMN write it (its storage and statistics target
    are set after: :func:`~plimsoll.db.diff.settings.column_settings_sql`)."""
    parts = [quote_ident(column.name), column.type]
    if column.compression is not None:
        parts.append(f"COMPRESSION {column.compression}")
    if column.collation is not None:
        parts.append(f"COLLATE {column.collation}")
    if column.generated and column.default is not None:
        parts.append(f"GENERATED ALWAYS AS ({column.default}) STORED")
    elif column.identity is not None:
        parts.append(identity_clause(column))
    elif column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if not column.nullable:
        parts.append("NOT NULL")
    return " ".join(parts)


def _rls_sql(table: Table) -> list[str]:
    out = []
    if table.rls_enabled:
        out.append(alter(table, "ENABLE ROW LEVEL SECURITY"))
    if table.rls_forced:
        out.append(alter(table, "FORCE ROW LEVEL SECURITY"))
    return out


def _column_grants_sql(table: Table, column: Column) -> list[str]:
    columns = f" ({quote_ident(column.name)})"
    return [grant_sql(g, f"TABLE {table.sql_name}", columns) for g in sorted_grants(column.grants)]


def constraint_comment_sql(table: Table, constraint: Constraint) -> str:
    """``COMMENT ON CONSTRAINT``."""
    return comment_sql(
        f"CONSTRAINT {quote_ident(constraint.name)} ON {table.sql_name}", constraint.comment
    )


def create_table_sql(table: Table) -> str:
    """CREATE [UNLOGGED] TABLE (``PARTITION BY`` for a partitioned table) with its columns,
    every constraint but foreign keys and its storage parameters, then its comments, column
    settings, row-level security switches and grants (indexes, foreign keys, triggers and
    policies are steps of their own)."""
    lines = [f"    {column_spec(c)}" for c in table.columns]
    # CREATE TABLE checks a NOT VALID constraint anyway (the table is empty): such a one is
    # added after, where NOT VALID holds.
    later = [k for k in table.constraints if not k.is_foreign_key and _not_valid(k.definition)]
    lines += [
        f"    CONSTRAINT {quote_ident(k.name)} {k.definition}"
        for k in table.constraints
        if not k.is_foreign_key and k not in later
    ]
    body = ",\n".join(lines)
    partitioned = f" PARTITION BY {table.partition_by}" if table.partition_by is not None else ""
    suffix = partitioned + options_clause(table.options)
    create = "CREATE UNLOGGED TABLE" if table.unlogged else "CREATE TABLE"
    out = [
        f"{create} {table.sql_name} (\n{body}\n){suffix};"
        if lines
        else f"{create} {table.sql_name} (){suffix};"
    ]
    out += [alter(table, f"ADD CONSTRAINT {quote_ident(k.name)} {k.definition}") for k in later]
    out += [
        constraint_comment_sql(table, k)
        for k in table.constraints
        if not k.is_foreign_key and k.comment is not None
    ]
    if table.comment is not None:
        out.append(comment_sql(f"TABLE {table.sql_name}", table.comment))
    for column in table.columns:
        if column.comment is not None:
            out.append(column_comment_sql(table, column.name, column.comment))
        out += column_settings_sql(table, column)
    out += table_settings_sql(table)
    for column in table.columns:
        out += _column_grants_sql(table, column)
    return "\n".join(out)


def _not_valid(definition: str) -> bool:
    return definition.rstrip().endswith("NOT VALID")


def table_settings_sql(table: Table) -> list[str]:
    """A new table's row-level security switches and table grants."""
    out = _rls_sql(table)
    out += [grant_sql(g, f"TABLE {table.sql_name}") for g in sorted_grants(table.grants)]
    return out


def inherit_steps(table: Table, before: tuple[str, ...], after: tuple[str, ...]) -> list[Step]:
    """``NO INHERIT`` from the parents left (early: a parent cannot be dropped under its
    children) and ``INHERIT`` the new ones (late: the child needs the parent's columns and
    checks first)."""
    steps = []
    for parent in before:
        if parent not in after:
            name = sql_name(*parent.split(".", 1))
            steps.append(
                Step(
                    Phase.DISINHERIT,
                    alter(table, f"NO INHERIT {name}"),
                    alter(table, f"INHERIT {name}"),
                )
            )
    for parent in after:
        if parent not in before:
            name = sql_name(*parent.split(".", 1))
            steps.append(
                Step(
                    Phase.INHERIT,
                    alter(table, f"INHERIT {name}"),
                    alter(table, f"NO INHERIT {name}"),
                )
            )
    return steps


def drop_table_sql(table: Table) -> str:
    """``DROP TABLE``."""
    return f"DROP TABLE {table.sql_name};"


def column_comment_sql(table: Table, column: str, comment: str | None) -> str:
    """``COMMENT ON COLUMN``."""
    return comment_sql(f"COLUMN {table.sql_name}.{quote_ident(column)}", comment)


def add_column_sql(table: Table, column: Column) -> str:
    """ADD COLUMN, with the column's comment, settings and grants."""
    out = [alter(table, f"ADD COLUMN {column_spec(column)}")]
    if column.comment is not None:
        out.append(column_comment_sql(table, column.name, column.comment))
    out += column_settings_sql(table, column)
    out += _column_grants_sql(table, column)
    return "\n".join(out)


def drop_column_sql(table: Table, column: Column) -> str:
    """DROP COLUMN."""
    return alter(table, f"DROP COLUMN {quote_ident(column.name)}")


def drop_column_step(table: Table, column: Column, rank: int = 0) -> Step:
    """DROP COLUMN, and ADD COLUMN back."""
    return Step(
        Phase.DROP_COLUMNS,
        drop_column_sql(table, column),
        add_column_sql(table, column),
        rank,
        up_risk=risks.drop_column(table.key, column),
        down_risk=risks.add_column(table.key, column),
    )


def add_column_step(table: Table, column: Column, rank: int = 0) -> Step:
    """ADD COLUMN, and DROP COLUMN back."""
    return Step(
        Phase.ADD_COLUMNS,
        add_column_sql(table, column),
        drop_column_sql(table, column),
        rank,
        up_risk=risks.add_column(table.key, column),
        down_risk=risks.drop_column(table.key, column),
    )


def diff_columns(
    old: Table, new: Table, defaults_elsewhere: Mapping[str, str] | None = None
) -> tuple[list[Change], bool]:
    """The column changes of a table, and whether views reading it must be rebuilt (a
    column dropped or retyped). The default of a column named in ``defaults_elsewhere`` is
    set by the change of the object it maps to (an enum recreated under it): reported here,
    written there."""
    elsewhere = defaults_elsewhere or {}
    out = []
    rewrites = False
    before, after = by_name(old.columns), by_name(new.columns)
    for column in old.columns:
        if column.name not in after:
            rewrites = True
            step = drop_column_step(old, column)
            out.append(
                Change(ChangeKind.REMOVED, "column", f"{old.key}.{column.name}", "", (step,))
            )
    for column in new.columns:
        if column.name not in before:
            step = add_column_step(new, column)
            out.append(Change(ChangeKind.ADDED, "column", f"{new.key}.{column.name}", "", (step,)))
    for column in new.columns:
        previous = before.get(column.name)
        if previous is None or previous == column:
            continue
        owner = elsewhere.get(column.name, "")
        steps, details, rewrite = column_steps(new, previous, column, owner)
        rewrites = rewrites or rewrite
        if steps or details:
            # Without a step of its own, what changed is done by ``owner``'s DDL.
            out.append(
                Change(
                    ChangeKind.CHANGED,
                    "column",
                    f"{new.key}.{column.name}",
                    "; ".join(details),
                    tuple(steps),
                    covered_by="" if steps else owner,
                )
            )
        # Column grants are changes of their own, as a table's grants are.
        out += diff_grants(
            previous.grants,
            column.grants,
            f"TABLE {new.sql_name}",
            f"{new.key}.{column.name}",
            columns=f" ({quote_ident(column.name)})",
        )
    return out, rewrites


def column_steps(
    table: Table, old: Column, new: Column, defaults_by: str = ""
) -> tuple[list[Step], list[str], bool]:
    """The ALTER COLUMN (and comment) steps from ``old`` to ``new``, their description, and
    whether the column's type changes (views reading it must then be rebuilt). With
    ``defaults_by`` (the key of the object whose DDL sets the default), the default is
    described but not written."""
    name = quote_ident(new.name)
    column = f"ALTER COLUMN {name}"
    if old.generated or new.generated:
        if (old.generated, old.default, old.type, old.collation) != (
            new.generated,
            new.default,
            new.type,
            new.collation,
        ):
            # A generation expression cannot be altered in place: the column is recreated
            # (a generated column made plain comes back empty, and the other way round).
            drop, add = drop_column_step(table, old), add_column_step(table, new)
            if old.generated and not new.generated:
                drop = replace(drop, up_risk=risks.ungenerate(table.key, old.name))
            if new.generated and not old.generated:
                add = replace(add, down_risk=risks.ungenerate(table.key, new.name))
            return [drop, add], ["generated expression"], True
        steps: list[Step] = []
        details: list[str] = []
        if old.nullable != new.nullable:
            steps.append(_nullable_step(table, old, new, column))
            details.append("nullable" if new.nullable else "NOT NULL")
        more_steps, more_details = settings_steps(table, old, new, retyped=False)
        steps += more_steps
        details += more_details
    else:
        steps, details = _plain_column_steps(table, old, new, column, defaults_by)
        if old.default != new.default:
            # Said where it happens when this change has statements of its own.
            own = steps or old.comment != new.comment
            by = f" (set by {defaults_by}'s DDL)" if defaults_by and own else ""
            details.append(f"default {show(old.default)} -> {show(new.default)}{by}")
    if old.comment != new.comment:
        details.append("comment")
        steps.append(
            Step(
                Phase.COMMENTS,
                column_comment_sql(table, new.name, new.comment),
                column_comment_sql(table, old.name, old.comment),
            )
        )
    return steps, details, (old.type, old.collation) != (new.type, new.collation)


def _type_sql(column: Column) -> str:
    """``TYPE t [COLLATE c] USING col::t``: without COLLATE, a column takes its new type's
    default collation."""
    collate = f" COLLATE {column.collation}" if column.collation is not None else ""
    return f"TYPE {column.type}{collate} USING {quote_ident(column.name)}::{column.type}"


def _nullable_step(table: Table, old: Column, new: Column, column: str) -> Step:
    """SET NOT NULL or DROP NOT NULL, and back; SET NOT NULL fails on a NULL."""
    set_, drop = alter(table, f"{column} SET NOT NULL"), alter(table, f"{column} DROP NOT NULL")
    check = risks.set_not_null(table.key, new.name)
    if new.nullable:
        return Step(Phase.ALTER_COLUMNS, drop, set_, down_risk=check)
    return Step(Phase.ALTER_COLUMNS, set_, drop, up_risk=check)


def _plain_column_steps(
    table: Table, old: Column, new: Column, column: str, defaults_by: str
) -> tuple[list[Step], list[str]]:
    # The order matters: a default is dropped before the type changes (it may not cast), an
    # identity needs NOT NULL before it is added, and a default can only be set once an
    # identity is gone. Reversed, the same list is a valid way back.
    steps: list[Step] = []
    details: list[str] = []
    retype = (old.type, old.collation) != (new.type, new.collation)
    default_changes = old.default != new.default
    steers_default = not defaults_by
    if retype:
        steps += restore_before_retype(table, old)
    if steers_default and old.default is not None and (default_changes or retype):
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} DROP DEFAULT"),
                alter(table, f"{column} SET DEFAULT {old.default}"),
            )
        )
    if old.identity is not None and new.identity is None:
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} DROP IDENTITY"),
                alter(table, f"{column} ADD {identity_clause(old)}"),
                up_risk=risks.drop_identity(table.key, new.name),
            )
        )
    if retype:
        if old.type != new.type:
            details.append(f"type {old.type} -> {new.type}")
        if old.collation != new.collation:
            details.append(f"collation {show(old.collation)} -> {show(new.collation)}")
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} {_type_sql(new)}"),
                alter(table, f"{column} {_type_sql(old)}"),
                up_risk=risks.retype(table.key, new.name, old.type, new.type),
                down_risk=risks.retype(table.key, new.name, new.type, old.type),
            )
        )
    if old.nullable != new.nullable:
        details.append("nullable" if new.nullable else "NOT NULL")
        steps.append(_nullable_step(table, old, new, column))
    if old.identity is not None and new.identity is not None and old.identity != new.identity:
        details.append(f"identity {old.identity} -> {new.identity}")
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} SET GENERATED {new.identity}"),
                alter(table, f"{column} SET GENERATED {old.identity}"),
            )
        )
    if (
        old.identity is not None
        and new.identity is not None
        and old.identity_options != new.identity_options
    ):
        details.append(
            f"identity options {describe_identity(old.identity_options)}"
            f" -> {describe_identity(new.identity_options)}"
        )
        steps.append(identity_options_step(table, old, new))
    if new.identity is not None and old.identity is None:
        details.append(
            f"identity {new.identity}"
            + (f" ({describe_identity(new.identity_options)})" if new.identity_options else "")
        )
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} ADD {identity_clause(new)}"),
                alter(table, f"{column} DROP IDENTITY"),
                down_risk=risks.drop_identity(table.key, new.name),
            )
        )
    elif old.identity is not None and new.identity is None:
        details.append("identity dropped")
    if steers_default and new.default is not None and (default_changes or retype):
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                alter(table, f"{column} SET DEFAULT {new.default}"),
                alter(table, f"{column} DROP DEFAULT"),
            )
        )
    more_steps, more_details = settings_steps(table, old, new, retype)
    return steps + more_steps, details + more_details


def diff_table_attributes(old: Table, new: Table) -> list[Change]:
    """Row-level security switches, storage parameters, the table's comment and its grants
    (its persistence is :mod:`~plimsoll.db.diff.persistence`'s)."""
    out = []
    for flag, enable, disable in (
        ("rls_enabled", "ENABLE ROW LEVEL SECURITY", "DISABLE ROW LEVEL SECURITY"),
        ("rls_forced", "FORCE ROW LEVEL SECURITY", "NO FORCE ROW LEVEL SECURITY"),
    ):
        was, now = getattr(old, flag), getattr(new, flag)
        if was != now:
            up, down = (
                (alter(new, enable), alter(new, disable))
                if now
                else (alter(new, disable), alter(new, enable))
            )
            out.append(
                Change(
                    ChangeKind.CHANGED,
                    "row level security",
                    new.key,
                    up.split(" ", 3)[-1].rstrip(";"),
                    (Step(Phase.ROW_SECURITY, up, down),),
                )
            )
    if old.options != new.options:
        step = options_step(f"TABLE {new.sql_name}", old.options, new.options, Phase.TABLE_SETTINGS)
        detail = describe_options(old.options, new.options)
        out.append(Change(ChangeKind.CHANGED, "table", new.key, detail, (step,)))
    out += diff_comment(old.comment, new.comment, f"TABLE {new.sql_name}", new.key)
    out += diff_grants(old.grants, new.grants, f"TABLE {new.sql_name}", new.key)
    return out
