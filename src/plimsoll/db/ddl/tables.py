"""CREATE TABLE (columns, serial and identity, LIKE, INHERITS), CREATE TABLE AS, SELECT INTO.

A primary key, identity and serial make their columns NOT NULL; a serial column becomes its
integer type with a ``nextval`` default and an owned sequence; an identity column's
sequence is not listed but its name is taken. LIKE copies columns with NOT NULL, then
defaults, identity, generation expressions, check constraints, indexes and comments as its
INCLUDING options say; INHERITS copies the parents' columns (merged by name), NOT NULL,
defaults and inheritable checks. PARTITION BY records the key; PARTITION OF makes a
partition with its parent's columns and copies of its constraints and indexes
(:mod:`~plimsoll.db.ddl.partitions`), then the partition's own column options and
constraints. CREATE TABLE AS and SELECT INTO make a table without columns (their types
need the query's analysis).
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.catalog import EXCLUDED_TABLES, ScriptOrigin, quote_ident, quote_literal
from plimsoll.db.ddl.constraints import Pending, add_constraints
from plimsoll.db.ddl.drops import make_room
from plimsoll.db.ddl.expressions import default_text, unquote
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.names import name_addition
from plimsoll.db.ddl.partition_keys import bound_text, partition_key
from plimsoll.db.ddl.partitions import clone_all, copy_columns
from plimsoll.db.ddl.privileges import default_privileges
from plimsoll.db.ddl.state import (
    COLUMN_DEFAULTS,
    INDEX_KINDS,
    INDEX_LABELS,
    TableDraft,
    column_record,
    sql_name,
)
from plimsoll.db.ddl.types import INTEGER_MAXIMUM, type_key
from plimsoll.db.ddl.views import define_view
from plimsoll.db.sqljson import SERIAL_TYPES, Node, constant, function_name, strings, unwrap

IDENTITY = {"a": "ALWAYS", "d": "BY DEFAULT"}
# TableLikeClause option bits (CREATE_TABLE_LIKE_*).
_LIKE_COMMENTS = 1 << 0
_LIKE_CONSTRAINTS = 1 << 2
_LIKE_DEFAULTS = 1 << 3
_LIKE_GENERATED = 1 << 4
_LIKE_IDENTITY = 1 << 5
_LIKE_INDEXES = 1 << 6
# Column constraints added with the table's constraints once every column is known.
_TABLE_CONSTRAINTS = frozenset(
    {"CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_CHECK", "CONSTR_FOREIGN", "CONSTR_EXCLUSION"}
)
# DEFERRABLE / INITIALLY ...: each sets one field of the column constraint before it.
_DEFERRAL_ATTRIBUTES = {
    "CONSTR_ATTR_DEFERRABLE": ("deferrable", True),
    "CONSTR_ATTR_NOT_DEFERRABLE": ("deferrable", False),
    "CONSTR_ATTR_DEFERRED": ("initdeferred", True),
    "CONSTR_ATTR_IMMEDIATE": ("initdeferred", False),
}


def create_table(model: Model, node: Node) -> None:
    """CREATE TABLE."""
    relation = node.get("relation") or {}
    if relation.get("relpersistence") == "t":
        return
    schema = relation.get("schemaname") or model.create_in
    name = relation.get("relname", "")
    key = f"{schema}.{name}"
    if key in model.relations and not make_room(model, key, bool(node.get("if_not_exists"))):
        return
    if name in EXCLUDED_TABLES:
        # The migrator's tracking table: introspection skips it.
        model.relations[key] = "p"
        return
    if "partbound" in node:
        _create_partition(model, node, schema, name, relation)
        return
    table = _add_table(model, schema, name, relation)
    pending: Pending = []
    for parent in node.get("inhRelations") or ():
        found = model.table(unwrap(parent)[1])
        _inherit(model, table, found)
        if found is not None:
            table.inherits.append(found.key)
    columns = table.columns
    known_types = model.builtin_types
    lines, start = model.lines, model.start
    new_record = COLUMN_DEFAULTS.copy
    for element in node.get("tableElts") or ():
        item = element.get("ColumnDef")
        if item is None:
            ((kind, item),) = element.items()
            if kind == "Constraint":
                pending.append((item, None))
            elif kind == "TableLikeClause":
                _like(model, table, item)
            continue
        name = item.get("colname", "")
        # The common column, a type already spelled, no constraints, no collation: made
        # here (as column_record makes it), without a call; a large schema has tens of
        # thousands.
        if "constraints" not in item and "collClause" not in item and name not in columns:
            type_text = known_types.get(type_key(item.get("typeName")))
            if type_text is not None:
                record = new_record()
                record["name"] = name
                record["type"] = type_text
                record["origin"] = ScriptOrigin(lines, item.get("location", start))
                columns[name] = record
                continue
        add_column(model, table, item, pending)
    if pending:
        add_constraints(model, table, pending, creating=True)
    if "partspec" in node:
        partition_key(model, table, node["partspec"])


def _create_partition(model: Model, node: Node, schema: str, name: str, relation: Node) -> None:
    """CREATE TABLE ... PARTITION OF: the partitioned table's columns and copies of its
    constraints and indexes, then the partition's own column options and constraints."""
    parents = node.get("inhRelations") or ()
    parent_key = model.relation(unwrap(parents[0])[1], ("r",)) if parents else ""
    parent = model.tables.get(parent_key)
    table = _add_table(model, schema, name, relation)
    table.partition_of = parent_key
    table.bound = bound_text(model, node["partbound"], parent)
    if parent is not None:
        copy_columns(model, parent, table)
        parent.partitions.append(table.key)
        clone_all(model, parent, table)
    pending: Pending = []
    columns = table.columns
    for element in node.get("tableElts") or ():
        kind, item = unwrap(element)
        if kind == "Constraint":
            pending.append((item, None))
        elif kind == "ColumnDef" and item.get("colname", "") in columns:
            # A column's options (NOT NULL, DEFAULT, constraints): still not its own.
            add_column(model, table, item, pending)
            columns[item.get("colname", "")]["local"] = False
    if pending:
        add_constraints(model, table, pending, creating=True)
    if "partspec" in node:
        partition_key(model, table, node["partspec"])


def _add_table(model: Model, schema: str, name: str, relation: Node) -> TableDraft:
    """A new empty table, made where the statement starts."""
    table = TableDraft(schema, name, model.here())
    if relation.get("relpersistence") == "u":
        table.unlogged = True
    defaults = default_privileges(model, "TABLES", schema)
    if defaults:
        table.grants = dict(defaults)
    key = table.key
    model.tables[key] = table
    model.relations[key] = "r"
    return table


def add_column(model: Model, table: TableDraft, definition: Node, pending: Pending) -> None:
    """A column definition (CREATE TABLE, ADD COLUMN): its constraints that concern other
    columns or the table are left in ``pending``."""
    name = definition.get("colname", "")
    type_text = model.type_text(definition.get("typeName"))
    columns = table.columns
    column = columns.get(name)
    if column is None:
        column = column_record(name, type_text, model.at(definition))
        columns[name] = column
    else:
        # A column also inherited: the local definition merges into it, and it is local.
        column["local"] = True
    if "collClause" in definition:
        column["collation"] = collation_text(definition["collClause"])
    serial = SERIAL_TYPES.get(type_text)
    if serial is not None:
        column["type"] = serial
        column["nullable"] = False
        _serial_sequence(model, table, name, serial, column)
    for item in definition.get("constraints") or ():
        constraint = item["Constraint"]
        contype = constraint.get("contype")
        if contype == "CONSTR_NOTNULL":
            column["nullable"] = False
        elif contype == "CONSTR_NULL":
            column["nullable"] = True
        elif contype == "CONSTR_DEFAULT":
            column["default"] = default_text(model, constraint, column["type"])
        elif contype == "CONSTR_IDENTITY":
            set_identity(model, table, column, constraint.get("generated_when", "a"))
        elif contype == "CONSTR_GENERATED":
            column["generated"] = True
            column["default"] = model.keyword_group(constraint, "GENERATED")
        elif contype in _DEFERRAL_ATTRIBUTES and pending:
            # DEFERRABLE / INITIALLY ... written after a column constraint modify it.
            previous, owner = pending[-1]
            field, value = _DEFERRAL_ATTRIBUTES[contype]
            pending[-1] = ({**previous, field: value}, owner)
        elif contype in _TABLE_CONSTRAINTS:
            pending.append((constraint, name))


def set_identity(model: Model, table: TableDraft, column: dict[str, Any], when: str) -> None:
    """GENERATED ... AS IDENTITY on ``column`` (NOT NULL, with a sequence of its own)."""
    column["identity"] = IDENTITY.get(when, "ALWAYS")
    column["nullable"] = False
    _identity_sequence(model, table, column["name"])


def _serial_sequence(
    model: Model, table: TableDraft, column: str, data_type: str, record: dict[str, Any]
) -> None:
    """The sequence a serial column owns, and the default that reads it."""
    name = model.choose_relation_name(table.schema, table.name, column, "seq")
    key = f"{table.schema}.{name}"
    model.relations[key] = "S"
    model.sequences[key] = {
        "schema": table.schema,
        "name": name,
        "data_type": data_type,
        "start": 1,
        "increment": 1,
        "minimum": 1,
        "maximum": INTEGER_MAXIMUM[data_type],
        "cache": 1,
        "cycle": False,
        "owned_by": (table.schema, table.name, column),
        "comment": None,
        "grants": frozenset(),
        "origin": record["origin"],
    }
    table.owned.append(key)
    record["default"] = f"nextval({quote_literal(sql_name(table.schema, name))}::regclass)"


def _identity_sequence(model: Model, table: TableDraft, column: str) -> None:
    """An identity column's sequence: not listed, but its name is taken."""
    name = model.choose_relation_name(table.schema, table.name, column, "seq")
    key = f"{table.schema}.{name}"
    model.relations[key] = "S"
    table.owned.append(key)


def collation_text(clause: Node | None) -> str | None:
    """A ``COLLATE`` clause as introspection reads it: schema-qualified and quoted, None for
    the type's default. An unqualified name is taken as PostgreSQL's own (``pg_catalog``):
    collations made with CREATE COLLATION are not followed, so name their schema."""
    names = strings((clause or {}).get("collname"))
    if not names or names == ["default"]:
        return None
    schema = names[0] if len(names) > 1 else "pg_catalog"
    return f"{quote_ident(schema)}.{quote_ident(names[-1])}"


def _inherit(model: Model, table: TableDraft, parent: TableDraft | None) -> None:
    """INHERITS: the parent's columns (merged by name), NOT NULL, defaults and checks."""
    if parent is None:
        return
    columns = table.columns
    for name, column in parent.columns.items():
        mine = columns.get(name)
        if mine is None:
            copy = dict(column)
            copy["identity"] = None
            copy["comment"] = None
            copy["grants"] = frozenset()
            copy["local"] = False
            columns[name] = copy
        elif not column["nullable"]:
            mine["nullable"] = False
    _copy_checks(model, table, parent)


def _copy_checks(model: Model, table: TableDraft, source: TableDraft) -> None:
    """The check constraints of ``source`` (under their names), onto ``table``."""
    for constraint in source.constraints.values():
        if constraint.kind == "c" and constraint.name not in table.constraints:
            copy = constraint.copy()
            table.constraints[copy.name] = copy
            model.take_constraint_name(table.schema, copy.name)


def _like(model: Model, table: TableDraft, clause: Node) -> None:
    """LIKE: the columns with NOT NULL, the rest as its INCLUDING options say."""
    source = model.tables.get(model.relation(clause.get("relation")))
    if source is None:
        return
    options = clause.get("options", 0)
    columns = table.columns
    for name, column in source.columns.items():
        copy = dict(column)
        copy["local"] = True
        if not options & _LIKE_COMMENTS:
            copy["comment"] = None
        if column["generated"]:
            if not options & _LIKE_GENERATED:
                copy["generated"] = False
                copy["default"] = None
        elif not options & _LIKE_DEFAULTS:
            copy["default"] = None
        if column["identity"] is not None:
            if options & _LIKE_IDENTITY:
                _identity_sequence(model, table, name)
            else:
                copy["identity"] = None
        columns[name] = copy
    if options & _LIKE_CONSTRAINTS:
        _copy_checks(model, table, source)
    if options & _LIKE_INDEXES:
        _copy_indexes(model, table, source)


def _copy_indexes(model: Model, table: TableDraft, source: TableDraft) -> None:
    """LIKE ... INCLUDING INDEXES: the indexes and index-backed constraints of ``source``,
    under names generated for ``table``."""
    for constraint in source.constraints.values():
        if constraint.kind in INDEX_KINDS:
            copy = constraint.copy()
            addition = (
                None
                if constraint.kind == "p"
                else name_addition(constraint.columns + constraint.include)
            )
            copy.name = model.choose_relation_name(
                table.schema, table.name, addition, INDEX_LABELS[constraint.kind], True
            )
            model.register_index_constraint(table, copy)
    for index in source.indexes.values():
        index_copy = index.copy()
        addition = name_addition(index.keys + list(index.include))
        index_copy.name = model.choose_relation_name(table.schema, table.name, addition, "idx")
        model.register_index(table, index_copy)


def create_table_as(model: Model, node: Node) -> None:
    """CREATE TABLE AS (a table without columns) and CREATE MATERIALIZED VIEW."""
    into = node.get("into") or {}
    if node.get("objtype") == "OBJECT_MATVIEW":
        define_view(model, into.get("rel") or {}, node.get("query"), True, False)
        return
    _table_from_query(model, into, bool(node.get("if_not_exists")))


def select(model: Model, node: Node) -> None:
    """SELECT INTO, and ``SELECT pg_catalog.set_config('search_path', ...)`` (pg_dump's)."""
    into = node.get("intoClause")
    if into:
        _table_from_query(model, into, False)
        return
    targets: list[Any] = node.get("targetList") or []
    if len(targets) != 1 or node.get("fromClause"):
        return
    kind, call = unwrap(unwrap(targets[0])[1].get("val"))
    if kind != "FuncCall" or function_name(call) != "set_config":
        return
    arguments = [constant(a) for a in call.get("args") or ()]
    if len(arguments) == 3 and arguments[0] == "search_path" and isinstance(arguments[1], str):
        model.set_path([unquote(p.strip()) for p in arguments[1].split(",")])


def _table_from_query(model: Model, into: Node, if_not_exists: bool) -> None:
    relation = into.get("rel") or {}
    if relation.get("relpersistence") == "t":
        return
    schema, name = model.creation_key(relation)
    if make_room(model, f"{schema}.{name}", if_not_exists):
        _add_table(model, schema, name, relation)
