"""What differs between two catalogs, and the DDL that turns one into the other and back.

:func:`diff` compares catalog A with catalog B and returns :class:`Change` records, one per
object that was added, removed or changed. Each change carries one or more :class:`Step`: a
statement that moves A towards B (``up``) and the statement that undoes it (``down``), with
the phase of the migration it belongs to.

Ordering. A migration runs every step's ``up`` sorted by phase, then its ``down`` file runs
every step's ``down`` in exactly the reverse order. The phases go from dropping dependents
(triggers, policies, views, foreign keys, constraints, indexes, then tables) to creating
things in dependency order (schemas, types, sequences, functions, tables, columns, then
constraints, indexes, foreign keys, views, triggers, row-level security, policies, comments,
grants); since each ``down`` undoes its own ``up``, reversing the whole list gives a valid
order for the way back too. Views are dropped in reverse dependency order and created in
dependency order, and a view that reads a table whose columns change type or disappear is
dropped before and recreated after the change.

:func:`generate` writes the steps as a ``<version>_<name>.up.sql`` and ``.down.sql`` pair in
a migrations folder, with the version the folder's naming gives the next migration.

Not covered: column collations, partitioned tables and partitions, table inheritance,
materialized views' indexes, column-level grants, grants on functions, sequences and schemas,
ownership, extensions, composite and domain types, and changing an enum's labels (an enum
added or removed is covered; a label change is reported and its DDL refused).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import IntEnum, StrEnum
from pathlib import Path
from typing import Any

from plimsoll.core.errors import UsageError
from plimsoll.db import migrations as files
from plimsoll.db.catalog import (
    Catalog,
    Column,
    Constraint,
    EnumType,
    Function,
    Grant,
    Index,
    Policy,
    Sequence,
    Table,
    Trigger,
    View,
    quote_ident,
    quote_literal,
    sql_name,
)


class ChangeKind(StrEnum):
    """What happened to an object between A and B."""

    ADDED = "added"
    REMOVED = "removed"
    CHANGED = "changed"


class Phase(IntEnum):
    """Where a step runs in a migration; ``down`` runs the steps in reverse."""

    DROP_TRIGGERS = 10
    DROP_POLICIES = 20
    DROP_VIEWS = 30
    DROP_FOREIGN_KEYS = 40
    DROP_CONSTRAINTS = 50
    DROP_INDEXES = 60
    DISOWN_SEQUENCES = 65
    DROP_TABLES = 70
    CREATE_SCHEMAS = 80
    CREATE_TYPES = 90
    SEQUENCES = 100
    FUNCTIONS = 110
    CREATE_TABLES = 120
    DROP_COLUMNS = 130
    ADD_COLUMNS = 140
    ALTER_COLUMNS = 150
    DROP_FUNCTIONS = 160
    DROP_SEQUENCES = 170
    DROP_TYPES = 180
    DROP_SCHEMAS = 190
    ADD_CONSTRAINTS = 200
    CREATE_INDEXES = 210
    ADD_FOREIGN_KEYS = 220
    OWN_SEQUENCES = 230
    CREATE_VIEWS = 240
    CREATE_TRIGGERS = 250
    ROW_SECURITY = 260
    CREATE_POLICIES = 270
    COMMENTS = 280
    GRANTS = 290


@dataclass(frozen=True)
class Step:
    """One statement (or a few that belong together) and the statement undoing it.

    ``rank`` orders steps inside a phase (views in dependency order); equal ranks keep the
    order in which the differ produced them.
    """

    phase: Phase
    up: str
    down: str
    rank: int = 0

    @property
    def order(self) -> tuple[int, int]:
        """The sort key of this step in a migration."""
        return (int(self.phase), self.rank)


@dataclass(frozen=True)
class Change:
    """One object added, removed or changed, with the steps that migrate it."""

    kind: ChangeKind
    object_type: str
    name: str
    detail: str = ""
    steps: tuple[Step, ...] = field(default=(), repr=False)

    @property
    def up_sql(self) -> str:
        """The DDL turning A into B for this object."""
        return "\n".join(s.up for s in sorted(self.steps, key=lambda s: s.order))

    @property
    def down_sql(self) -> str:
        """The DDL turning B back into A for this object."""
        # reversed(sorted(...)), not sorted(reverse=True): steps of one phase must reverse too.
        ordered = sorted(self.steps, key=lambda s: s.order)
        return "\n".join(s.down for s in reversed(ordered))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the change."""
        return {
            "kind": str(self.kind),
            "object_type": self.object_type,
            "name": self.name,
            "detail": self.detail,
            "up_sql": self.up_sql,
            "down_sql": self.down_sql,
        }


# --- SQL text ----------------------------------------------------------------------------------


def _column_spec(column: Column) -> str:
    parts = [quote_ident(column.name), column.type]
    if column.generated and column.default is not None:
        parts.append(f"GENERATED ALWAYS AS ({column.default}) STORED")
    elif column.identity is not None:
        parts.append(f"GENERATED {column.identity} AS IDENTITY")
    elif column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if not column.nullable:
        parts.append("NOT NULL")
    return " ".join(parts)


def _comment_sql(what: str, comment: str | None) -> str:
    return f"COMMENT ON {what} IS {quote_literal(comment) if comment is not None else 'NULL'};"


def _grant_sql(grant: Grant, on: str) -> str:
    option = " WITH GRANT OPTION" if grant.grantable else ""
    return f"GRANT {grant.privilege} ON {on} TO {_role(grant.grantee)}{option};"


def _revoke_sql(grant: Grant, on: str) -> str:
    return f"REVOKE {grant.privilege} ON {on} FROM {_role(grant.grantee)};"


def _role(name: str) -> str:
    return "PUBLIC" if name.lower() == "public" else quote_ident(name)


def _sorted_grants(grants: Iterable[Grant]) -> list[Grant]:
    return sorted(grants, key=lambda g: (g.grantee, g.privilege, g.grantable))


def _alter(table: Table, action: str) -> str:
    return f"ALTER TABLE {table.sql_name} {action};"


def _rls_sql(table: Table) -> list[str]:
    out = []
    if table.rls_enabled:
        out.append(_alter(table, "ENABLE ROW LEVEL SECURITY"))
    if table.rls_forced:
        out.append(_alter(table, "FORCE ROW LEVEL SECURITY"))
    return out


def _create_table_sql(table: Table) -> str:
    """CREATE TABLE with its columns and every constraint but foreign keys, then its comments,
    row-level security switches and grants (indexes, foreign keys, triggers and policies are
    steps of their own)."""
    lines = [f"    {_column_spec(c)}" for c in table.columns]
    lines += [
        f"    CONSTRAINT {quote_ident(k.name)} {k.definition}"
        for k in table.constraints
        if not k.is_foreign_key
    ]
    body = ",\n".join(lines)
    out = [
        f"CREATE TABLE {table.sql_name} (\n{body}\n);"
        if lines
        else f"CREATE TABLE {table.sql_name} ();"
    ]
    if table.comment is not None:
        out.append(_comment_sql(f"TABLE {table.sql_name}", table.comment))
    for column in table.columns:
        if column.comment is not None:
            out.append(_column_comment_sql(table, column.name, column.comment))
    out += _rls_sql(table)
    out += [_grant_sql(g, f"TABLE {table.sql_name}") for g in _sorted_grants(table.grants)]
    return "\n".join(out)


def _column_comment_sql(table: Table, column: str, comment: str | None) -> str:
    return _comment_sql(f"COLUMN {table.sql_name}.{quote_ident(column)}", comment)


def _add_column_sql(table: Table, column: Column) -> str:
    out = [_alter(table, f"ADD COLUMN {_column_spec(column)}")]
    if column.comment is not None:
        out.append(_column_comment_sql(table, column.name, column.comment))
    return "\n".join(out)


def _drop_column_sql(table: Table, column: Column) -> str:
    return _alter(table, f"DROP COLUMN {quote_ident(column.name)}")


def _add_constraint_sql(table: Table, constraint: Constraint) -> str:
    return _alter(table, f"ADD CONSTRAINT {quote_ident(constraint.name)} {constraint.definition}")


def _drop_constraint_sql(table: Table, constraint: Constraint) -> str:
    return _alter(table, f"DROP CONSTRAINT {quote_ident(constraint.name)}")


def _create_index_sql(index: Index) -> str:
    return f"{index.definition};"


def _drop_index_sql(table: Table, index: Index) -> str:
    return f"DROP INDEX {sql_name(table.schema, index.name)};"


def _create_trigger_sql(trigger: Trigger) -> str:
    return f"{trigger.definition};"


def _drop_trigger_sql(table: Table, trigger: Trigger) -> str:
    return f"DROP TRIGGER {quote_ident(trigger.name)} ON {table.sql_name};"


def _create_policy_sql(table: Table, policy: Policy) -> str:
    text = (
        f"CREATE POLICY {quote_ident(policy.name)} ON {table.sql_name}"
        f" AS {'PERMISSIVE' if policy.permissive else 'RESTRICTIVE'}"
        f" FOR {policy.command} TO {', '.join(_role(r) for r in policy.roles)}"
    )
    if policy.using is not None:
        text += f" USING ({policy.using})"
    if policy.with_check is not None:
        text += f" WITH CHECK ({policy.with_check})"
    return text + ";"


def _drop_policy_sql(table: Table, policy: Policy) -> str:
    return f"DROP POLICY {quote_ident(policy.name)} ON {table.sql_name};"


def _view_kind(view: View) -> str:
    return "MATERIALIZED VIEW" if view.materialized else "VIEW"


def _create_view_sql(view: View) -> str:
    query = view.definition.strip().rstrip(";").strip()
    out = [f"CREATE {_view_kind(view)} {view.sql_name} AS\n{query};"]
    if view.comment is not None:
        out.append(_comment_sql(f"{_view_kind(view)} {view.sql_name}", view.comment))
    out += [_grant_sql(g, f"TABLE {view.sql_name}") for g in _sorted_grants(view.grants)]
    return "\n".join(out)


def _drop_view_sql(view: View) -> str:
    return f"DROP {_view_kind(view)} {view.sql_name};"


def _function_kind(function: Function) -> str:
    return "PROCEDURE" if function.procedure else "FUNCTION"


def _create_function_sql(function: Function) -> str:
    out = []
    if "LANGUAGE sql" in function.definition:
        # A SQL-language body is checked against the tables it reads when created, and
        # functions are created before the tables (defaults and checks may call them).
        out.append("SET check_function_bodies = false;")
    out.append(function.definition.rstrip().rstrip(";") + ";")
    if function.comment is not None:
        out.append(
            _comment_sql(f"{_function_kind(function)} {function.signature}", function.comment)
        )
    return "\n".join(out)


def _drop_function_sql(function: Function) -> str:
    return f"DROP {_function_kind(function)} {function.signature};"


def _sequence_options(sequence: Sequence) -> str:
    return (
        f"AS {sequence.data_type} INCREMENT BY {sequence.increment}"
        f" MINVALUE {sequence.minimum} MAXVALUE {sequence.maximum}"
        f" START WITH {sequence.start} CACHE {sequence.cache}"
        f" {'CYCLE' if sequence.cycle else 'NO CYCLE'}"
    )


def _owned_by_sql(sequence: Sequence, owner: tuple[str, str, str] | None) -> str:
    target = "NONE" if owner is None else f"{sql_name(owner[0], owner[1])}.{quote_ident(owner[2])}"
    return f"ALTER SEQUENCE {sequence.sql_name} OWNED BY {target};"


def _create_enum_sql(enum: EnumType) -> str:
    labels = ", ".join(quote_literal(label) for label in enum.labels)
    return f"CREATE TYPE {enum.sql_name} AS ENUM ({labels});"


# --- diffing -----------------------------------------------------------------------------------


def _pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    return sorted(set(a) | set(b))


def _by_name(items: Iterable[Any]) -> dict[str, Any]:
    return {item.name: item for item in items}


def _show(value: str | None) -> str:
    return "none" if value is None else value


def diff(a: Catalog, b: Catalog) -> list[Change]:
    """The changes turning catalog ``a`` into catalog ``b``, in the order a migration runs them."""
    changes: list[Change] = []
    changes += _diff_schemas(a, b)
    changes += _diff_enums(a, b)
    changes += _diff_sequences(a, b)
    changes += _diff_functions(a, b)
    rewritten: set[str] = set()
    for key in _pairs(a.tables, b.tables):
        table_changes, rewrites = _diff_table(a.tables.get(key), b.tables.get(key))
        changes += table_changes
        if rewrites:
            rewritten.add(key)
    changes += _diff_views(a, b, rewritten)
    return sorted(changes, key=lambda c: min((s.order for s in c.steps), default=(0, 0)))


def _diff_schemas(a: Catalog, b: Catalog) -> list[Change]:
    out = []
    for name in sorted(b.schemas - a.schemas):
        create, drop = f"CREATE SCHEMA {quote_ident(name)};", f"DROP SCHEMA {quote_ident(name)};"
        out.append(
            Change(
                ChangeKind.ADDED, "schema", name, "", (Step(Phase.CREATE_SCHEMAS, create, drop),)
            )
        )
    for name in sorted(a.schemas - b.schemas):
        create, drop = f"CREATE SCHEMA {quote_ident(name)};", f"DROP SCHEMA {quote_ident(name)};"
        out.append(
            Change(
                ChangeKind.REMOVED, "schema", name, "", (Step(Phase.DROP_SCHEMAS, drop, create),)
            )
        )
    return out


def _diff_enums(a: Catalog, b: Catalog) -> list[Change]:
    out = []
    for key in _pairs(a.enums, b.enums):
        old, new = a.enums.get(key), b.enums.get(key)
        if old is None and new is not None:
            step = Step(Phase.CREATE_TYPES, _create_enum_sql(new), f"DROP TYPE {new.sql_name};")
            out.append(Change(ChangeKind.ADDED, "enum", key, "", (step,)))
        elif new is None and old is not None:
            step = Step(Phase.DROP_TYPES, f"DROP TYPE {old.sql_name};", _create_enum_sql(old))
            out.append(Change(ChangeKind.REMOVED, "enum", key, "", (step,)))
        elif old is not None and new is not None and old.labels != new.labels:
            detail = f"labels {', '.join(old.labels)} -> {', '.join(new.labels)}"
            out.append(Change(ChangeKind.CHANGED, "enum", key, detail, ()))
    return out


def _diff_sequences(a: Catalog, b: Catalog) -> list[Change]:
    out = []
    for key in _pairs(a.sequences, b.sequences):
        old, new = a.sequences.get(key), b.sequences.get(key)
        steps: list[Step] = []
        if old is None and new is not None:
            create = f"CREATE SEQUENCE {new.sql_name} {_sequence_options(new)};"
            steps.append(Step(Phase.SEQUENCES, create, f"DROP SEQUENCE {new.sql_name};"))
            if new.owned_by is not None:
                steps.append(
                    Step(
                        Phase.OWN_SEQUENCES,
                        _owned_by_sql(new, new.owned_by),
                        _owned_by_sql(new, None),
                    )
                )
            out.append(Change(ChangeKind.ADDED, "sequence", key, "", tuple(steps)))
        elif new is None and old is not None:
            if old.owned_by is not None:
                # Dropping the owning table would drop the sequence with it, and the way back
                # needs the sequence before the table (its default calls nextval).
                steps.append(
                    Step(
                        Phase.DISOWN_SEQUENCES,
                        _owned_by_sql(old, None),
                        _owned_by_sql(old, old.owned_by),
                    )
                )
            create = f"CREATE SEQUENCE {old.sql_name} {_sequence_options(old)};"
            steps.append(Step(Phase.DROP_SEQUENCES, f"DROP SEQUENCE {old.sql_name};", create))
            out.append(Change(ChangeKind.REMOVED, "sequence", key, "", tuple(steps)))
        elif old is not None and new is not None and old != new:
            details = []
            if _sequence_options(old) != _sequence_options(new):
                details.append("options")
                steps.append(
                    Step(
                        Phase.SEQUENCES,
                        f"ALTER SEQUENCE {new.sql_name} {_sequence_options(new)};",
                        f"ALTER SEQUENCE {old.sql_name} {_sequence_options(old)};",
                    )
                )
            if old.owned_by != new.owned_by:
                details.append("owner")
                if old.owned_by is not None:
                    steps.append(
                        Step(
                            Phase.DISOWN_SEQUENCES,
                            _owned_by_sql(old, None),
                            _owned_by_sql(old, old.owned_by),
                        )
                    )
                if new.owned_by is not None:
                    steps.append(
                        Step(
                            Phase.OWN_SEQUENCES,
                            _owned_by_sql(new, new.owned_by),
                            _owned_by_sql(new, None),
                        )
                    )
            out.append(
                Change(ChangeKind.CHANGED, "sequence", key, ", ".join(details), tuple(steps))
            )
    return out


def _diff_functions(a: Catalog, b: Catalog) -> list[Change]:
    out = []
    for key in _pairs(a.functions, b.functions):
        old, new = a.functions.get(key), b.functions.get(key)
        either = new or old
        kind = "procedure" if either is not None and either.procedure else "function"
        if old is None and new is not None:
            step = Step(Phase.FUNCTIONS, _create_function_sql(new), _drop_function_sql(new))
            out.append(Change(ChangeKind.ADDED, kind, key, "", (step,)))
        elif new is None and old is not None:
            step = Step(Phase.DROP_FUNCTIONS, _drop_function_sql(old), _create_function_sql(old))
            out.append(Change(ChangeKind.REMOVED, kind, key, "", (step,)))
        elif old is not None and new is not None and old != new:
            steps, details = _function_steps(old, new)
            out.append(Change(ChangeKind.CHANGED, kind, key, ", ".join(details), tuple(steps)))
    return out


def _function_steps(old: Function, new: Function) -> tuple[list[Step], list[str]]:
    steps = []
    details = []
    # CREATE OR REPLACE cannot change the result type, argument names or kind; such a
    # function is dropped and created again, which also loses its comment.
    replaceable = (old.returns, old.identity_args, old.procedure) == (
        new.returns,
        new.identity_args,
        new.procedure,
    )
    if old.definition != new.definition or not replaceable:
        details.append("definition")
        if replaceable:
            up = _create_function_sql(replace(new, comment=None))
            down = _create_function_sql(replace(old, comment=None))
        else:
            up = f"{_drop_function_sql(old)}\n{_create_function_sql(new)}"
            down = f"{_drop_function_sql(new)}\n{_create_function_sql(old)}"
        steps.append(Step(Phase.FUNCTIONS, up, down))
    if old.comment != new.comment:
        details.append("comment")
        if replaceable:
            steps.append(
                Step(
                    Phase.COMMENTS,
                    _comment_sql(f"{_function_kind(new)} {new.signature}", new.comment),
                    _comment_sql(f"{_function_kind(old)} {old.signature}", old.comment),
                )
            )
    return steps, details


def _empty(table: Table) -> Table:
    return Table(table.schema, table.name)


def _diff_table(old: Table | None, new: Table | None) -> tuple[list[Change], bool]:
    """The changes of one table, and whether views reading it must be rebuilt."""
    if old is None and new is not None:
        step = Step(Phase.CREATE_TABLES, _create_table_sql(new), f"DROP TABLE {new.sql_name};")
        changes = [Change(ChangeKind.ADDED, "table", new.key, "", (step,))]
        return changes + _diff_parts(_empty(new), new, with_constraints=False), False
    if new is None and old is not None:
        step = Step(Phase.DROP_TABLES, f"DROP TABLE {old.sql_name};", _create_table_sql(old))
        changes = [Change(ChangeKind.REMOVED, "table", old.key, "", (step,))]
        return changes + _diff_parts(old, _empty(old), with_constraints=False), False
    assert old is not None and new is not None
    changes, rewrites = _diff_columns(old, new)
    changes += _diff_parts(old, new, with_constraints=True)
    changes += _diff_table_attributes(old, new)
    return changes, rewrites


def _diff_columns(old: Table, new: Table) -> tuple[list[Change], bool]:
    out = []
    rewrites = False
    before, after = _by_name(old.columns), _by_name(new.columns)
    for column in old.columns:
        if column.name not in after:
            rewrites = True
            step = Step(
                Phase.DROP_COLUMNS, _drop_column_sql(old, column), _add_column_sql(old, column)
            )
            out.append(
                Change(ChangeKind.REMOVED, "column", f"{old.key}.{column.name}", "", (step,))
            )
    for column in new.columns:
        if column.name not in before:
            step = Step(
                Phase.ADD_COLUMNS, _add_column_sql(new, column), _drop_column_sql(new, column)
            )
            out.append(Change(ChangeKind.ADDED, "column", f"{new.key}.{column.name}", "", (step,)))
    for column in new.columns:
        previous = before.get(column.name)
        if previous is None or previous == column:
            continue
        steps, details, rewrite = _column_steps(new, previous, column)
        rewrites = rewrites or rewrite
        if steps:
            out.append(
                Change(
                    ChangeKind.CHANGED,
                    "column",
                    f"{new.key}.{column.name}",
                    "; ".join(details),
                    tuple(steps),
                )
            )
    return out, rewrites


def _column_steps(table: Table, old: Column, new: Column) -> tuple[list[Step], list[str], bool]:
    """The ALTER COLUMN steps from ``old`` to ``new``, their description, and whether the
    column's type changes (views reading it must then be rebuilt)."""
    name = quote_ident(new.name)
    column = f"ALTER COLUMN {name}"
    if old.generated or new.generated:
        if (old.generated, old.default, old.type) != (new.generated, new.default, new.type):
            # A generation expression cannot be altered in place: the column is recreated.
            recreate = [
                Step(Phase.DROP_COLUMNS, _drop_column_sql(table, old), _add_column_sql(table, old)),
                Step(Phase.ADD_COLUMNS, _add_column_sql(table, new), _drop_column_sql(table, new)),
            ]
            return recreate, ["generated expression"], True
        steps: list[Step] = []
        details: list[str] = []
    else:
        steps, details = _plain_column_steps(table, old, new, column)
    if old.comment != new.comment:
        details.append("comment")
        steps.append(
            Step(
                Phase.COMMENTS,
                _column_comment_sql(table, new.name, new.comment),
                _column_comment_sql(table, old.name, old.comment),
            )
        )
    return steps, details, old.type != new.type


def _plain_column_steps(
    table: Table, old: Column, new: Column, column: str
) -> tuple[list[Step], list[str]]:
    # The order matters: a default is dropped before the type changes (it may not cast), an
    # identity needs NOT NULL before it is added, and a default can only be set once an
    # identity is gone. Reversed, the same list is a valid way back.
    steps: list[Step] = []
    details: list[str] = []
    retype = old.type != new.type
    default_changes = old.default != new.default
    if old.default is not None and (default_changes or retype):
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} DROP DEFAULT"),
                _alter(table, f"{column} SET DEFAULT {old.default}"),
            )
        )
    if old.identity is not None and new.identity is None:
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} DROP IDENTITY"),
                _alter(table, f"{column} ADD GENERATED {old.identity} AS IDENTITY"),
            )
        )
    if retype:
        details.append(f"type {old.type} -> {new.type}")
        name = quote_ident(new.name)
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} TYPE {new.type} USING {name}::{new.type}"),
                _alter(table, f"{column} TYPE {old.type} USING {name}::{old.type}"),
            )
        )
    if old.nullable != new.nullable:
        details.append("nullable" if new.nullable else "NOT NULL")
        set_, drop = (
            _alter(table, f"{column} SET NOT NULL"),
            _alter(table, f"{column} DROP NOT NULL"),
        )
        steps.append(
            Step(
                Phase.ALTER_COLUMNS, drop if new.nullable else set_, set_ if new.nullable else drop
            )
        )
    if old.identity is not None and new.identity is not None and old.identity != new.identity:
        details.append(f"identity {old.identity} -> {new.identity}")
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} SET GENERATED {new.identity}"),
                _alter(table, f"{column} SET GENERATED {old.identity}"),
            )
        )
    if new.identity is not None and old.identity is None:
        details.append(f"identity {new.identity}")
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} ADD GENERATED {new.identity} AS IDENTITY"),
                _alter(table, f"{column} DROP IDENTITY"),
            )
        )
    elif old.identity is not None and new.identity is None:
        details.append("identity dropped")
    if default_changes:
        details.append(f"default {_show(old.default)} -> {_show(new.default)}")
    if new.default is not None and (default_changes or retype):
        steps.append(
            Step(
                Phase.ALTER_COLUMNS,
                _alter(table, f"{column} SET DEFAULT {new.default}"),
                _alter(table, f"{column} DROP DEFAULT"),
            )
        )
    return steps, details


def _diff_parts(old: Table, new: Table, *, with_constraints: bool) -> list[Change]:
    """Constraints (all of them, or only foreign keys for a table created or dropped whole),
    indexes, triggers and policies."""
    out: list[Change] = []
    key = new.key
    before, after = _by_name(old.constraints), _by_name(new.constraints)
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        foreign = (was or now).is_foreign_key  # type: ignore[union-attr]
        if not foreign and not with_constraints:
            continue
        drop_phase = Phase.DROP_FOREIGN_KEYS if foreign else Phase.DROP_CONSTRAINTS
        add_phase = Phase.ADD_FOREIGN_KEYS if foreign else Phase.ADD_CONSTRAINTS
        steps = []
        if was is not None and was != now:
            steps.append(
                Step(drop_phase, _drop_constraint_sql(old, was), _add_constraint_sql(old, was))
            )
        if now is not None and was != now:
            steps.append(
                Step(add_phase, _add_constraint_sql(new, now), _drop_constraint_sql(new, now))
            )
        if steps:
            detail = (now or was).definition  # type: ignore[union-attr]
            out.append(Change(_kind(was, now), "constraint", f"{key}.{name}", detail, tuple(steps)))
    out += _diff_named(
        old.indexes,
        new.indexes,
        "index",
        key,
        lambda i: Step(Phase.DROP_INDEXES, _drop_index_sql(old, i), _create_index_sql(i)),
        lambda i: Step(Phase.CREATE_INDEXES, _create_index_sql(i), _drop_index_sql(new, i)),
    )
    out += _diff_named(
        old.triggers,
        new.triggers,
        "trigger",
        key,
        lambda t: Step(Phase.DROP_TRIGGERS, _drop_trigger_sql(old, t), _create_trigger_sql(t)),
        lambda t: Step(Phase.CREATE_TRIGGERS, _create_trigger_sql(t), _drop_trigger_sql(new, t)),
    )
    out += _diff_named(
        old.policies,
        new.policies,
        "policy",
        key,
        lambda p: Step(Phase.DROP_POLICIES, _drop_policy_sql(old, p), _create_policy_sql(old, p)),
        lambda p: Step(Phase.CREATE_POLICIES, _create_policy_sql(new, p), _drop_policy_sql(new, p)),
    )
    return out


def _kind(was: object | None, now: object | None) -> ChangeKind:
    if was is None:
        return ChangeKind.ADDED
    if now is None:
        return ChangeKind.REMOVED
    return ChangeKind.CHANGED


def _diff_named(
    old: Iterable[Any],
    new: Iterable[Any],
    object_type: str,
    table_key: str,
    drop: Any,
    create: Any,
) -> list[Change]:
    before, after = _by_name(old), _by_name(new)
    out = []
    for name in sorted(set(before) | set(after)):
        was, now = before.get(name), after.get(name)
        if was == now:
            continue
        steps = []
        if was is not None:
            steps.append(drop(was))
        if now is not None:
            steps.append(create(now))
        detail = getattr(now or was, "definition", "")
        out.append(
            Change(_kind(was, now), object_type, f"{table_key}.{name}", detail, tuple(steps))
        )
    return out


def _diff_table_attributes(old: Table, new: Table) -> list[Change]:
    """Row-level security switches, the table's comment and its grants."""
    out = []
    for flag, enable, disable in (
        ("rls_enabled", "ENABLE ROW LEVEL SECURITY", "DISABLE ROW LEVEL SECURITY"),
        ("rls_forced", "FORCE ROW LEVEL SECURITY", "NO FORCE ROW LEVEL SECURITY"),
    ):
        was, now = getattr(old, flag), getattr(new, flag)
        if was != now:
            up, down = (
                (_alter(new, enable), _alter(new, disable))
                if now
                else (_alter(new, disable), _alter(new, enable))
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
    if old.comment != new.comment:
        step = Step(
            Phase.COMMENTS,
            _comment_sql(f"TABLE {new.sql_name}", new.comment),
            _comment_sql(f"TABLE {old.sql_name}", old.comment),
        )
        out.append(
            Change(
                ChangeKind.CHANGED,
                "comment",
                new.key,
                f"{_show(old.comment)} -> {_show(new.comment)}",
                (step,),
            )
        )
    out += _diff_grants(old.grants, new.grants, f"TABLE {new.sql_name}", new.key)
    return out


def _diff_grants(old: frozenset[Grant], new: frozenset[Grant], on: str, key: str) -> list[Change]:
    out = []
    for grant in _sorted_grants(old - new):
        step = Step(Phase.GRANTS, _revoke_sql(grant, on), _grant_sql(grant, on), rank=0)
        out.append(
            Change(
                ChangeKind.REMOVED, "grant", key, f"{grant.privilege} to {grant.grantee}", (step,)
            )
        )
    for grant in _sorted_grants(new - old):
        # Granted after every revoke, so a grant whose option changed is revoked then granted.
        step = Step(Phase.GRANTS, _grant_sql(grant, on), _revoke_sql(grant, on), rank=1)
        out.append(
            Change(ChangeKind.ADDED, "grant", key, f"{grant.privilege} to {grant.grantee}", (step,))
        )
    return out


def _topological(views: Mapping[str, View]) -> list[str]:
    """View keys so that every view comes after the views it reads."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(key: str, path: frozenset[str]) -> None:
        if key in seen or key in path:
            return
        for dependency in views[key].depends_on:
            if dependency in views:
                visit(dependency, path | {key})
        seen.add(key)
        order.append(key)

    for key in sorted(views):
        visit(key, frozenset())
    return order


def _diff_views(a: Catalog, b: Catalog, rewritten_tables: set[str]) -> list[Change]:
    # Views whose query changed, or that read a table whose columns change type or go away,
    # or that read such a view, are dropped first and created again after the tables change.
    rebuild: set[str] = set()
    for key in _topological(a.views):
        view, target = a.views[key], b.views.get(key)
        if target is None:
            continue
        changed = (view.definition, view.materialized) != (target.definition, target.materialized)
        reads_changed = any(d in rewritten_tables or d in rebuild for d in view.depends_on)
        if changed or reads_changed:
            rebuild.add(key)
    drop_rank = {key: -i for i, key in enumerate(_topological(a.views))}
    create_rank = {key: i for i, key in enumerate(_topological(b.views))}
    out = []
    for key in _pairs(a.views, b.views):
        old, new = a.views.get(key), b.views.get(key)
        drop_step = (
            Step(Phase.DROP_VIEWS, _drop_view_sql(old), _create_view_sql(old), drop_rank[key])
            if old is not None
            else None
        )
        create_step = (
            Step(Phase.CREATE_VIEWS, _create_view_sql(new), _drop_view_sql(new), create_rank[key])
            if new is not None
            else None
        )
        if old is None and create_step is not None:
            out.append(Change(ChangeKind.ADDED, "view", key, "", (create_step,)))
        elif new is None and drop_step is not None:
            out.append(Change(ChangeKind.REMOVED, "view", key, "", (drop_step,)))
        elif old is not None and new is not None and drop_step and create_step:
            if key in rebuild:
                detail = (
                    "definition"
                    if (old.definition, old.materialized) != (new.definition, new.materialized)
                    else "recreated: it reads a changed table or view"
                )
                out.append(
                    Change(ChangeKind.CHANGED, "view", key, detail, (drop_step, create_step))
                )
                continue
            if old.comment != new.comment:
                what = f"{_view_kind(new)} {new.sql_name}"
                step = Step(
                    Phase.COMMENTS, _comment_sql(what, new.comment), _comment_sql(what, old.comment)
                )
                out.append(
                    Change(
                        ChangeKind.CHANGED,
                        "comment",
                        key,
                        f"{_show(old.comment)} -> {_show(new.comment)}",
                        (step,),
                    )
                )
            out += _diff_grants(old.grants, new.grants, f"TABLE {new.sql_name}", key)
    return out


# --- writing a migration -----------------------------------------------------------------------


def migration_sql(changes: Iterable[Change]) -> tuple[str, str]:
    """The up and down scripts of ``changes``: every step's up by phase, every down reversed.

    Raises UsageError when a change has no DDL (an enum whose labels changed).
    """
    changes = list(changes)
    missing = [c for c in changes if not c.steps]
    if missing:
        names = ", ".join(f"{c.object_type} {c.name} ({c.detail})" for c in missing)
        raise UsageError(
            f"cannot generate DDL for: {names}; write that part of the migration by hand"
        )
    steps = sorted((s for c in changes for s in c.steps), key=lambda s: s.order)
    up = "\n\n".join(s.up for s in steps)
    down = "\n\n".join(s.down for s in reversed(steps))
    return up, down


def generate(
    changes: Iterable[Change], name: str, folder: Path, now: str | None = None
) -> tuple[Path, Path]:
    """Write ``<next version>_<name>.up.sql`` and ``.down.sql`` for ``changes`` in ``folder``.

    ``now`` (``YYYYMMDDHHMMSS``, default the current UTC time) is used by timestamp-style
    folders. Returns the two paths.
    """
    up, down = migration_sql(changes)
    existing = files.discover(folder) if folder.is_dir() else []
    version = files.next_version(existing, now or datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    up_path, down_path = files.new_migration_files(folder, name, version)
    label = f"{version}_{name}"
    up_path.write_text(
        f"-- {label}: up (generated by plimsoll db diff)\n\n{up}\n", encoding="utf-8"
    )
    down_path.write_text(
        f"-- {label}: down (generated by plimsoll db diff)\n\n{down}\n", encoding="utf-8"
    )
    return up_path, down_path
