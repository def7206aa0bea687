"""ALTER ... RENAME and ALTER ... SET SCHEMA, and what follows a renamed object.

A renamed or moved table is followed by the foreign keys referencing it, the views reading
it, its partitions or partitioned table, its indexes and its owned sequences (whose
``nextval`` defaults follow too); a renamed column by the constraints, indexes and
triggers naming it (a partitioned table's column is renamed on its partitions too, a check
constraint's inherited copies with it); a renamed type by the columns of that type.
Expression texts are not rewritten (see the package's notes).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from plimsoll.db.catalog import quote_literal
from plimsoll.db.ddl.drops import columns_of_type
from plimsoll.db.ddl.functions import function_key
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.partitions import partitions_of, rename_copies
from plimsoll.db.ddl.state import INDEX_KINDS, ConstraintDraft, TableDraft, quote, sql_name
from plimsoll.db.ddl.user_types import rename_composite
from plimsoll.db.sqljson import Node, strings, unwrap

_RELATION_KINDS = ("OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_SEQUENCE")
_FUNCTION_KINDS = ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE")
_TYPE_KINDS = ("OBJECT_TYPE", "OBJECT_DOMAIN")


def rename(model: Model, node: Node) -> None:
    """ALTER ... RENAME [COLUMN | CONSTRAINT] ... TO."""
    kind = node.get("renameType", "")
    new = node.get("newname", "")
    if kind in _RELATION_KINDS or kind == "OBJECT_INDEX":
        key = model.relation(node.get("relation"))
        _move_relation(model, key, key.partition(".")[0], new)
    elif kind in _FUNCTION_KINDS:
        found = function_key(model, unwrap(node.get("object"))[1])
        if found is not None:
            _move_function(model, found, model.functions[found].schema, new)
    elif kind in _TYPE_KINDS:
        _move_type(model, _type_key(model, node), None, new)
    elif kind == "OBJECT_SCHEMA":
        _rename_schema(model, node.get("subname", ""), new)
    else:
        table = model.table(node.get("relation"))
        if table is not None:
            _rename_in_table(model, table, kind, node.get("subname", ""), new)


def _rename_in_table(model: Model, table: TableDraft, kind: str, old: str, new: str) -> None:
    """Rename a column, constraint, trigger or policy of ``table``."""
    if kind == "OBJECT_COLUMN":
        _rename_column(model, table, old, new)
        # A partitioned table's column is renamed on its partitions too.
        for partition in partitions_of(model, table):
            _rename_in_table(model, partition, kind, old, new)
    elif kind == "OBJECT_TABCONSTRAINT":
        constraint = table.constraints.get(old)
        if constraint is not None:
            _rename_constraint(model, table, constraint, new)
            if table.partitions:
                rename_copies(model, table, old, new, constraint.kind == "c")
    elif kind == "OBJECT_TRIGGER":
        trigger = table.triggers.pop(old, None)
        if trigger is not None:
            trigger.name = new
            table.triggers[new] = trigger
    elif kind == "OBJECT_POLICY":
        policy = table.policies.pop(old, None)
        if policy is not None:
            table.policies[new] = dataclasses.replace(policy, name=new)


def set_schema(model: Model, node: Node) -> None:
    """ALTER ... SET SCHEMA."""
    kind = node.get("objectType", "")
    schema = node.get("newschema", "")
    if kind in _RELATION_KINDS:
        key = model.relation(node.get("relation"))
        _move_relation(model, key, schema, key.partition(".")[2])
    elif kind in _FUNCTION_KINDS:
        found = function_key(model, unwrap(node.get("object"))[1])
        if found is not None:
            _move_function(model, found, schema, model.functions[found].name)
    elif kind in _TYPE_KINDS:
        key = _type_key(model, node)
        _move_type(model, key, schema, key.partition(".")[2])


def _type_key(model: Model, node: Node) -> str:
    """The key of the type a RENAME or SET SCHEMA names."""
    target = node.get("object")
    names = strings(unwrap(target)[1].get("items")) or strings(target)
    return model.type_names_key(names)


def _move_relation(model: Model, key: str, schema: str, name: str) -> None:
    """Rename a relation and/or move it to another schema, following what refers to it."""
    kind = model.relations.get(key)
    new_key = f"{schema}.{name}"
    if kind is None or new_key == key:
        return
    old_schema, _dot, old_name = key.partition(".")
    del model.relations[key]
    model.relations[new_key] = kind
    if kind == "r":
        table = model.tables.pop(key)
        table.move(schema, name)
        model.tables[new_key] = table
        _follow_table(model, table, (old_schema, old_name), key)
    elif kind in ("v", "m"):
        view = model.views.pop(key)
        view.schema, view.name = schema, name
        model.views[new_key] = view
        _follow_view_reads(model, key, new_key)
    elif kind == "i":
        table_key = model.index_table.pop(key, "")
        model.index_table[new_key] = table_key
        owner = model.tables.get(table_key)
        if owner is not None:
            _rename_index(model, owner, old_name, name)
            if owner.partitions:
                rename_copies(model, owner, old_name, name, False)
        matview = model.views.get(table_key)
        if matview is not None and old_name in matview.indexes:
            index = matview.indexes.pop(old_name)
            index.name = name
            matview.indexes[name] = index
    elif kind == "S":
        sequence = model.sequences.pop(key, None)
        for table in model.tables.values():
            if key in table.owned:
                table.owned[table.owned.index(key)] = new_key
        if sequence is not None:
            sequence["schema"], sequence["name"] = schema, name
            model.sequences[new_key] = sequence
            _follow_sequence(model, sequence, (old_schema, old_name))


def _rename_index(model: Model, owner: TableDraft, old: str, new: str) -> None:
    """An index of ``owner`` renamed (renaming a constraint's index renames the constraint)."""
    index = owner.indexes.pop(old, None)
    if index is not None:
        index.name = new
        owner.indexes[new] = index
    constraint = owner.constraints.get(old)
    if constraint is not None and constraint.kind in INDEX_KINDS:
        model.rename_constraint(owner, constraint, new)


def _follow_view_reads(model: Model, old_key: str, new_key: str) -> None:
    """The views reading relation ``old_key`` read ``new_key``."""
    for view in model.views.values():
        if old_key in view.depends_on:
            view.depends_on = (view.depends_on - {old_key}) | {new_key}


def _follow_table(model: Model, table: TableDraft, old: tuple[str, str], old_key: str) -> None:
    """What names a table follows its new name: references, views, indexes, sequences."""
    new = (table.schema, table.name)
    new_key = table.key
    moved = old[0] != table.schema
    for other in model.tables.values():
        for constraint in other.constraints.values():
            if constraint.references == old:
                constraint.references = new
        if old_key in other.inherits:
            other.inherits[other.inherits.index(old_key)] = new_key
        if other.partition_of == old_key:
            other.partition_of = new_key
        if old_key in other.partitions:
            other.partitions[other.partitions.index(old_key)] = new_key
    _follow_view_reads(model, old_key, new_key)
    for index_key, owner in list(model.index_table.items()):
        if owner != old_key:
            continue
        if moved:
            # Indexes go with their table to the new schema.
            del model.index_table[index_key]
            model.relations.pop(index_key, None)
            index_key = f"{table.schema}.{index_key.partition('.')[2]}"
            model.relations[index_key] = "i"
        model.index_table[index_key] = new_key
    for sequence in model.sequences.values():
        owned_by = sequence["owned_by"]
        if owned_by is not None and (owned_by[0], owned_by[1]) == old:
            sequence["owned_by"] = (*new, owned_by[2])
    if moved:
        for constraint in table.constraints.values():
            model.free_constraint_name(old[0], constraint.name)
            model.take_constraint_name(table.schema, constraint.name)
        # Owned sequences go with their table to the new schema.
        for owned in list(table.owned):
            _move_relation(model, owned, table.schema, owned.partition(".")[2])


def _follow_sequence(model: Model, sequence: dict[str, Any], old: tuple[str, str]) -> None:
    """An owned column's nextval default names the sequence's new name."""
    owner = sequence["owned_by"]
    table = model.tables.get(f"{owner[0]}.{owner[1]}") if owner else None
    column = table.columns.get(owner[2]) if table is not None and owner else None
    if column is not None and column["default"]:
        before = quote_literal(sql_name(*old))
        after = quote_literal(sql_name(sequence["schema"], sequence["name"]))
        column["default"] = column["default"].replace(before, after)


def _rename_column(model: Model, table: TableDraft, old: str, new: str) -> None:
    if old not in table.columns or new in table.columns:
        return
    table.columns = {
        (new if name == old else name): column for name, column in table.columns.items()
    }
    table.columns[new]["name"] = new

    def renamed(names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(new if n == old else n for n in names)

    for constraint in table.constraints.values():
        constraint.columns = renamed(constraint.columns)
        constraint.include = renamed(constraint.include)
        constraint.delete_columns = renamed(constraint.delete_columns)
        if old in constraint.refs:
            constraint.refs = (constraint.refs - {old}) | {new}
    quoted_old, quoted_new = quote(old), quote(new)
    for index in table.indexes.values():
        index.columns = renamed(index.columns)
        index.include = renamed(index.include)
        index.keys = list(renamed(tuple(index.keys)))
        index.elements = [
            quoted_new + element[len(quoted_old) :]
            if element == quoted_old or element.startswith(quoted_old + " ")
            else element
            for element in index.elements
        ]
    for trigger in table.triggers.values():
        trigger.update_columns = renamed(trigger.update_columns)
    me = (table.schema, table.name)
    for other in model.tables.values():
        for constraint in other.constraints.values():
            if constraint.references == me:
                constraint.ref_columns = renamed(constraint.ref_columns)
    for sequence in model.sequences.values():
        if sequence["owned_by"] == (*me, old):
            sequence["owned_by"] = (*me, new)


def _rename_constraint(
    model: Model, table: TableDraft, constraint: ConstraintDraft, new: str
) -> None:
    if constraint.kind in INDEX_KINDS:
        # The constraint's index takes the new name too.
        _move_relation(model, f"{table.schema}.{constraint.name}", table.schema, new)
    else:
        model.rename_constraint(table, constraint, new)


def _move_function(model: Model, key: str, schema: str, name: str) -> None:
    function = model.pop_function(key)
    function.schema, function.name = schema, name
    model.add_function(function)


def _move_type(model: Model, key: str, schema: str | None, name: str) -> None:
    """Rename or move an enum, a domain or a composite type; columns follow it."""
    old_schema = key.partition(".")[0]
    schema = schema or old_schema
    new_key = f"{schema}.{name}"
    if new_key == key:
        return
    if model.relations.get(key) == "c":
        del model.relations[key]
        model.relations[new_key] = "c"
        rename_composite(model, key, schema, name)
    elif key not in model.types:
        return
    else:
        model.types.discard(key)
        model.types.add(new_key)
    found = model.enums.pop(key, None)
    if found is not None:
        enum, labels = found
        model.enums[new_key] = (dataclasses.replace(enum, schema=schema, name=name), labels)
    domain = model.domains.pop(key, None)
    if domain is not None:
        domain.schema, domain.name = schema, name
        model.domains[new_key] = domain
    for table in model.tables.values():
        for column_name in columns_of_type(table, key):
            column = table.columns[column_name]
            column["type"] = new_key + column["type"][len(key) :]


def _rename_schema(model: Model, old: str, new: str) -> None:
    if old not in model.schemas or new in model.schemas:
        return
    # Indexes and owned sequences move with their tables.
    for key in [k for k in model.relations if k.partition(".")[0] == old]:
        if model.relations.get(key, "i") != "i":
            _move_relation(model, key, new, key.partition(".")[2])
    for key in [k for k, f in model.functions.items() if f.schema == old]:
        _move_function(model, key, new, model.functions[key].name)
    for key in [k for k in model.types if k.partition(".")[0] == old]:
        _move_type(model, key, new, key.partition(".")[2])
    model.schemas.discard(old)
    model.schemas.add(new)
    model.schema_grants[new] = model.schema_grants.pop(old, {})
    # The rename gave the schema its name: findings about the name point at it.
    model.schema_origins.pop(old, None)
    model.schema_origins[new] = model.here()
    model.refresh_creation_schema()
