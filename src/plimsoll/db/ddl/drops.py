"""DROP, and what goes with a dropped object.

A partitioned table's partitions go with it, its indexes' copies with its indexes.
CASCADE is best effort: dropping a table or view with CASCADE drops the views reading it and
the foreign keys referencing it; a column, its constraints and indexes; a type, the columns
of that type; a function, the triggers calling it; a schema, everything in it. Without
CASCADE only the object goes (PostgreSQL would refuse if something depended on it).
"""

from __future__ import annotations

from plimsoll.db.ddl.functions import function_key
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.partitions import partitions_of
from plimsoll.db.ddl.state import TableDraft
from plimsoll.db.ddl.user_types import drop_domain_or_composite
from plimsoll.db.sqljson import Node, constant, strings, unwrap

_FUNCTION_KINDS = ("OBJECT_FUNCTION", "OBJECT_PROCEDURE", "OBJECT_ROUTINE")


def drop(model: Model, node: Node) -> None:
    """DROP of tables, views, indexes, sequences, functions, types, schemas, extensions,
    triggers and policies."""
    kind = node.get("removeType", "")
    cascade = node.get("behavior") == "DROP_CASCADE"
    for item in node.get("objects") or ():
        item_kind, inner = unwrap(item)
        names = strings(inner.get("items")) if item_kind == "List" else []
        if kind == "OBJECT_TABLE":
            key = model.names_key(names, ("r", "p"))
            if model.relations.get(key) in ("r", "p"):
                drop_relation(model, key, cascade)
        elif kind in ("OBJECT_VIEW", "OBJECT_MATVIEW"):
            key = model.names_key(names, ("v", "m"))
            if key in model.views:
                drop_relation(model, key, cascade)
        elif kind == "OBJECT_INDEX":
            drop_index(model, model.names_key(names, ("i",)))
        elif kind == "OBJECT_SEQUENCE":
            key = model.names_key(names, ("S",))
            if key in model.sequences:
                drop_relation(model, key, cascade)
        elif kind in _FUNCTION_KINDS:
            found = function_key(model, inner)
            if found is not None:
                _drop_function(model, found, cascade)
        elif kind in ("OBJECT_TYPE", "OBJECT_DOMAIN"):
            type_names = strings(inner.get("names")) if item_kind == "TypeName" else names
            _drop_type(model, model.type_names_key(type_names), cascade)
        elif kind == "OBJECT_SCHEMA":
            _drop_schema(model, str(constant(item) or ""), cascade)
        elif kind == "OBJECT_EXTENSION":
            model.extensions.discard(str(constant(item) or ""))
            model.extension_schemas.pop(str(constant(item) or ""), None)
        elif kind in ("OBJECT_TRIGGER", "OBJECT_POLICY") and len(names) >= 2:
            table = model.tables.get(model.names_key(names[:-1], ("r",)))
            if table is not None and kind == "OBJECT_TRIGGER":
                table.triggers.pop(names[-1], None)
            elif table is not None:
                table.policies.pop(names[-1], None)


def make_room(model: Model, key: str, if_not_exists: bool) -> bool:
    """Whether a relation ``key`` may be created: a relation of that name is dropped first
    (a static build replays files that may create an object again), unless IF NOT EXISTS
    says to keep it."""
    if key in model.relations:
        if if_not_exists:
            return False
        drop_relation(model, key, cascade=False)
    return True


def drop_relation(model: Model, key: str, cascade: bool) -> None:
    """Drop a table, view, sequence or index (and, on CASCADE, what depends on it)."""
    kind = model.relations.pop(key, None)
    if kind == "r":
        table = model.tables.pop(key)
        if table.partitions or table.partition_of is not None:
            _drop_partitioned(model, table, cascade)
        for constraint in list(table.constraints.values()):
            model.remove_constraint(table, constraint)
        for index_name in list(table.indexes):
            drop_index(model, f"{table.schema}.{index_name}")
        for owned in table.owned:
            model.relations.pop(owned, None)
            model.sequences.pop(owned, None)
        if cascade:
            _drop_references(model, table)
    elif kind in ("v", "m"):
        view = model.views.pop(key, None)
        if view is not None:
            # A materialized view's indexes go with it.
            for index_name in view.indexes:
                model.relations.pop(f"{view.schema}.{index_name}", None)
                model.index_table.pop(f"{view.schema}.{index_name}", None)
    elif kind == "S":
        drop_sequence(model, key)
    elif kind == "i":
        model.relations[key] = kind
        drop_index(model, key)
        return
    if cascade and kind in ("r", "v", "m", "p"):
        for view_key in [k for k, v in model.views.items() if key in v.depends_on]:
            if view_key in model.views:
                drop_relation(model, view_key, cascade=True)


def _drop_partitioned(model: Model, table: TableDraft, cascade: bool) -> None:
    """A partitioned table's partitions go with it; a partition leaves its table's list."""
    for partition in list(table.partitions):
        if model.relations.get(partition) == "r":
            drop_relation(model, partition, cascade)
    parent = model.tables.get(table.partition_of or "")
    if parent is not None and table.key in parent.partitions:
        parent.partitions.remove(table.key)


def _drop_references(model: Model, table: TableDraft, column: str | None = None) -> None:
    """The foreign keys referencing ``table`` (those naming ``column`` when one is given)."""
    me = (table.schema, table.name)
    for other in model.tables.values():
        for constraint in list(other.constraints.values()):
            if (
                constraint.kind == "f"
                and constraint.references == me
                and (column is None or column in constraint.ref_columns)
            ):
                model.remove_constraint(other, constraint)


def drop_column(model: Model, table: TableDraft, name: str, cascade: bool) -> None:
    """A column and the constraints and indexes on it (foreign keys to it on CASCADE)."""
    table.columns.pop(name, None)
    for constraint in list(table.constraints.values()):
        if constraint.mentions(name):
            model.remove_constraint(table, constraint)
    for index in list(table.indexes.values()):
        if index.mentions(name):
            drop_index(model, f"{table.schema}.{index.name}")
    for trigger in list(table.triggers.values()):
        if name in trigger.update_columns:
            del table.triggers[trigger.name]
    for key, sequence in list(model.sequences.items()):
        if sequence["owned_by"] == (table.schema, table.name, name):
            drop_sequence(model, key)
    if cascade:
        _drop_references(model, table, name)


def drop_index(model: Model, key: str) -> None:
    """Drop an index that no constraint owns (a constraint's index goes with it)."""
    owner = model.index_table.get(key, "")
    table = model.tables.get(owner)
    name = key.partition(".")[2]
    if table is not None and name in table.constraints:
        return
    model.relations.pop(key, None)
    model.index_table.pop(key, None)
    if table is not None:
        table.indexes.pop(name, None)
        # A partitioned table's index goes from its partitions too.
        for child in partitions_of(model, table):
            for copy in [i.name for i in child.indexes.values() if i.parent == name]:
                drop_index(model, f"{child.schema}.{copy}")
    view = model.views.get(owner)
    if view is not None:
        view.indexes.pop(name, None)


def drop_sequence(model: Model, key: str) -> None:
    """Drop a sequence (and its ownership by a table)."""
    model.relations.pop(key, None)
    model.sequences.pop(key, None)
    for table in model.tables.values():
        if key in table.owned:
            table.owned.remove(key)


def _drop_function(model: Model, key: str, cascade: bool) -> None:
    function = model.pop_function(key)
    if cascade:
        callee = (function.schema, function.name)
        for table in model.tables.values():
            for name in [n for n, t in table.triggers.items() if t.function == callee]:
                del table.triggers[name]


def columns_of_type(table: TableDraft, key: str) -> list[str]:
    """The names of ``table``'s columns of type ``key`` (or an array of it)."""
    array = f"{key}[]"
    return [n for n, c in table.columns.items() if c["type"] == key or c["type"] == array]


def _drop_type(model: Model, key: str, cascade: bool) -> None:
    if model.relations.get(key) == "c":
        del model.relations[key]
        drop_domain_or_composite(model, key)
        return
    if key not in model.types:
        return
    model.types.discard(key)
    model.enums.pop(key, None)
    drop_domain_or_composite(model, key)
    if cascade:
        for table in model.tables.values():
            for name in columns_of_type(table, key):
                drop_column(model, table, name, cascade=True)


def _drop_schema(model: Model, schema: str, cascade: bool) -> None:
    if schema not in model.schemas:
        return
    if cascade:
        for key in [k for k in model.relations if k.partition(".")[0] == schema]:
            if key in model.relations:
                drop_relation(model, key, cascade=True)
        for key in [k for k, f in model.functions.items() if f.schema == schema]:
            _drop_function(model, key, cascade=True)
        for key in [k for k in model.types if k.partition(".")[0] == schema]:
            _drop_type(model, key, cascade=True)
    model.schemas.discard(schema)
    model.schema_grants.pop(schema, None)
    model.schema_origins.pop(schema, None)
    model.refresh_creation_schema()
