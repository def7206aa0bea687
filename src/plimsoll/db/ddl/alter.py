"""ALTER TABLE: its subcommands, in PostgreSQL's order (the drops first).

Constraints added by one ALTER TABLE are added together at its end, as in CREATE TABLE; NOT
VALID is kept (CREATE TABLE ignores it). On a partitioned table (without ONLY), added
constraints are copied to the partitions, dropped ones dropped from them, and column changes
(ADD, DROP, TYPE, DEFAULT, NOT NULL) made on them too. ATTACH and DETACH PARTITION, and
ALTER INDEX ... ATTACH PARTITION, are :mod:`~plimsoll.db.ddl.partitions`'.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plimsoll.db.ddl.constraints import Pending, add_constraints
from plimsoll.db.ddl.drops import drop_column
from plimsoll.db.ddl.expressions import loose_default_text
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.partition_keys import bound_text
from plimsoll.db.ddl.partitions import (
    added_column,
    attach,
    attach_index,
    clone_constraint,
    detach,
    drop_copies,
    partitions_of,
)
from plimsoll.db.ddl.state import TableDraft
from plimsoll.db.ddl.tables import IDENTITY, add_column, collation_text, set_identity
from plimsoll.db.ddl.user_types import alter_composite
from plimsoll.db.sqljson import Node, constant, def_options, unwrap

# ALTER COLUMN SET GENERATED stores the attidentity byte as an Integer ('a' = 97, 'd' = 100).
_IDENTITY_CODES = {97: IDENTITY["a"], 100: IDENTITY["d"]}
# ALTER TABLE subcommands PostgreSQL runs in its first pass (AT_PASS_DROP).
_DROP_SUBCOMMANDS = frozenset(
    {"AT_DropColumn", "AT_DropConstraint", "AT_DropNotNull", "AT_DropIdentity", "AT_DropExpression"}
)
# Subcommands that set one flag of the table.
_TABLE_FLAGS = {
    "AT_EnableRowSecurity": ("rls_enabled", True),
    "AT_DisableRowSecurity": ("rls_enabled", False),
    "AT_ForceRowSecurity": ("rls_forced", True),
    "AT_NoForceRowSecurity": ("rls_forced", False),
    "AT_SetUnLogged": ("unlogged", True),
    "AT_SetLogged": ("unlogged", False),
}
# The flags whose last setter is remembered, and where (TableDraft's attribute).
_ORIGIN_OF_FLAG = {"rls_enabled": "rls_origin", "rls_forced": "rls_forced_origin"}

Column = dict[str, Any]


def alter_table(model: Model, node: Node) -> None:
    """ALTER TABLE on a table, ALTER TYPE ... ATTRIBUTE on a composite type, ALTER INDEX
    ... ATTACH PARTITION (ALTER TABLE on a view, sequence or index is left out otherwise)."""
    objtype = node.get("objtype", "OBJECT_TABLE")
    commands = [c["AlterTableCmd"] for c in node.get("cmds") or () if "AlterTableCmd" in c]
    if objtype == "OBJECT_TYPE":
        key = model.relation(node.get("relation"), ("c",))
        alter_composite(model, key, commands)
        return
    if objtype == "OBJECT_INDEX":
        for command in commands:
            if command.get("subtype") == "AT_AttachPartition":
                index = model.relation(node.get("relation"), ("i",))
                child = model.relation(unwrap(command.get("def"))[1].get("name"), ("i",))
                attach_index(model, index, child)
        return
    if objtype != "OBJECT_TABLE":
        return
    table = model.table(node.get("relation"))
    if table is None:
        return
    if len(commands) > 1:
        # PostgreSQL runs an ALTER TABLE's drops before the rest of its subcommands.
        commands.sort(key=_alter_pass)
    pending: Pending = []
    tables = model.tables
    # Only a partitioned table's changes reach further (ONLY keeps them on the table).
    recurse = bool(table.partitions) and bool((node.get("relation") or {}).get("inh"))
    before = set(table.constraints) if recurse else None
    for command in commands:
        _alter_command(model, table, command, pending)
        if table.key not in tables:
            return
        if recurse:
            _recurse(model, table, command)
    if pending:
        add_constraints(model, table, pending, creating=False)
        if before is not None:
            # The constraints added reach the partitions.
            for name in [n for n in table.constraints if n not in before]:
                constraint = table.constraints[name]
                for partition in partitions_of(model, table):
                    clone_constraint(model, table, constraint, partition)


def _recurse(model: Model, table: TableDraft, command: Node) -> None:
    """A column subcommand on a partitioned table, on its partitions too (and theirs)."""
    subtype = command.get("subtype", "")
    if subtype == "AT_AddColumn":
        added_column(model, table, unwrap(command.get("def"))[1].get("colname", ""))
    elif subtype in _COLUMN_COMMANDS:
        for partition in partitions_of(model, table):
            column = partition.columns.get(command.get("name", ""))
            if column is not None:
                _COLUMN_COMMANDS[subtype](model, partition, column, command)
                _recurse(model, partition, command)


def _alter_pass(command: Node) -> int:
    """0 for a subcommand PostgreSQL runs with the drops, 1 for the others (a stable sort
    keeps each group's written order)."""
    subtype = command.get("subtype")
    if subtype in _DROP_SUBCOMMANDS or (subtype == "AT_ColumnDefault" and not command.get("def")):
        return 0
    return 1


def _alter_command(model: Model, table: TableDraft, command: Node, pending: Pending) -> None:
    subtype = command.get("subtype", "")
    definition = command.get("def")
    name = command.get("name", "")
    if subtype == "AT_AddConstraint":
        pending.append((unwrap(definition)[1], None))
    elif subtype == "AT_AddColumn":
        column_def = unwrap(definition)[1]
        if column_def.get("colname", "") not in table.columns:
            add_column(model, table, column_def, pending)
    elif subtype in _TABLE_FLAGS:
        flag, value = _TABLE_FLAGS[subtype]
        setattr(table, flag, value)
        if flag in _ORIGIN_OF_FLAG:
            # Findings about the table's row-level security point at what set it last.
            setattr(table, _ORIGIN_OF_FLAG[flag], model.here())
    elif subtype == "AT_AlterConstraint":
        changed = unwrap(definition)[1]
        constraint = table.constraints.get(changed.get("conname", ""))
        if constraint is not None:
            constraint.deferrable = bool(changed.get("deferrable"))
            constraint.deferred = bool(changed.get("initdeferred"))
    elif subtype in ("AT_AddInherit", "AT_DropInherit"):
        parent = model.table(unwrap(definition)[1])
        if parent is None:
            return
        if subtype == "AT_DropInherit":
            if parent.key in table.inherits:
                table.inherits.remove(parent.key)
                _columns_left_by(model, table, parent)
        elif parent.key not in table.inherits:
            table.inherits.append(parent.key)
    elif subtype in ("AT_DropConstraint", "AT_ValidateConstraint"):
        constraint = table.constraints.get(name)
        if constraint is not None and subtype == "AT_DropConstraint":
            model.remove_constraint(table, constraint)
            drop_copies(model, table, name)
        elif constraint is not None:
            constraint.validated = True
    elif subtype in ("AT_AttachPartition", "AT_DetachPartition", "AT_DetachPartitionFinalize"):
        _partition_command(model, table, subtype, unwrap(definition)[1])
    else:
        change = _COLUMN_COMMANDS.get(subtype)
        column = table.columns.get(name)
        if change is not None and column is not None:
            change(model, table, column, command)


def _partition_command(model: Model, table: TableDraft, subtype: str, command: Node) -> None:
    """ATTACH PARTITION (a bound) and DETACH PARTITION [CONCURRENTLY | FINALIZE]."""
    partition = model.table(command.get("name"))
    if partition is None:
        return
    if subtype == "AT_AttachPartition" and table.partition_by is not None:
        attach(model, table, partition, bound_text(model, command.get("bound") or {}, table))
    elif subtype != "AT_AttachPartition":
        detach(model, table, partition)


def _drop_column(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    drop_column(model, table, column["name"], command.get("behavior") == "DROP_CASCADE")


def _set_type(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    definition = unwrap(command.get("def"))[1]
    column["type"] = model.type_text(definition.get("typeName"))
    # Without COLLATE, the column takes its new type's default collation.
    column["collation"] = collation_text(definition.get("collClause"))


def _set_default(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    definition = command.get("def")
    column["default"] = (
        None if definition is None else loose_default_text(model, definition, column["type"])
    )


def _set_not_null(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    column["nullable"] = False


def _drop_not_null(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    column["nullable"] = True


def _add_identity(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    set_identity(model, table, column, unwrap(command.get("def"))[1].get("generated_when", "a"))


def _set_identity(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    options = def_options(unwrap(command.get("def"))[1].get("items"))
    if "generated" in options:
        code = constant(options["generated"])
        column["identity"] = _IDENTITY_CODES.get(code, column["identity"])


def _drop_identity(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    column["identity"] = None


def _drop_expression(model: Model, table: TableDraft, column: Column, command: Node) -> None:
    column["generated"] = False
    column["default"] = None


_COLUMN_COMMANDS: dict[str, Callable[[Model, TableDraft, Column, Node], None]] = {
    "AT_DropColumn": _drop_column,
    "AT_AlterColumnType": _set_type,
    "AT_ColumnDefault": _set_default,
    "AT_SetNotNull": _set_not_null,
    "AT_DropNotNull": _drop_not_null,
    "AT_AddIdentity": _add_identity,
    "AT_SetIdentity": _set_identity,
    "AT_DropIdentity": _drop_identity,
    "AT_DropExpression": _drop_expression,
}


def _columns_left_by(model: Model, table: TableDraft, parent: TableDraft) -> None:
    """NO INHERIT: a column no other parent gives becomes the table's own (attislocal)."""
    others = [model.tables[k] for k in table.inherits if k in model.tables]
    for name, column in table.columns.items():
        if name in parent.columns and not any(name in other.columns for other in others):
            column["local"] = True
