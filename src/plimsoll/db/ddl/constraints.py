"""Table constraints: checks, primary keys, unique and exclusion constraints, foreign keys.

CREATE TABLE and ALTER TABLE ... ADD collect their constraints and add them together, in
PostgreSQL's order (checks, the primary key, unique and exclusion constraints, then foreign
keys): the order in which generated names are chosen, so ``t_a_key`` and ``t_a_key1`` land
as they do in the database.
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.catalog import Origin
from plimsoll.db.ddl.expressions import column_refs
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.names import index_column_names, name_addition
from plimsoll.db.ddl.state import ConstraintDraft, TableDraft
from plimsoll.db.ddl.tokens import LPAREN
from plimsoll.db.sqljson import Node, strings, unwrap

# A constraint waiting to be added, with the column it was written on (None for a table
# constraint).
Pending = list[tuple[Node, str | None]]

_FK_ACTIONS = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


def add_constraints(model: Model, table: TableDraft, pending: Pending, *, creating: bool) -> None:
    """Add constraints in PostgreSQL's order: checks, primary key, unique and exclusion,
    then foreign keys (the order generated names are chosen in)."""
    if len(pending) == 1:
        # The usual case (one key, or one ALTER TABLE ... ADD CONSTRAINT): no ordering.
        _add(model, table, *pending[0], creating)
        return
    checks: Pending = []
    keyed: Pending = []
    indexed: Pending = []
    foreign: Pending = []
    for item in pending:
        contype = item[0].get("contype")
        if contype == "CONSTR_CHECK":
            checks.append(item)
        elif contype == "CONSTR_PRIMARY":
            keyed.append(item)
        elif contype == "CONSTR_FOREIGN":
            foreign.append(item)
        else:
            indexed.append(item)
    keyed += indexed
    if creating and len(keyed) > 1:
        keyed = _without_duplicates(keyed)
    for constraint, column in checks + keyed + foreign:
        _add(model, table, constraint, column, creating)


def _add(model: Model, table: TableDraft, node: Node, column: str | None, creating: bool) -> None:
    contype = node.get("contype")
    if contype == "CONSTR_FOREIGN":
        _add_foreign_key(model, table, node, column, creating)
    elif contype == "CONSTR_CHECK":
        _add_check(model, table, node, creating)
    else:
        _add_index_constraint(model, table, node, column)


def _without_duplicates(keyed: Pending) -> Pending:
    """CREATE TABLE keeps one of identical key specifications (the primary key first),
    with a name when one of them has one."""
    kept: Pending = []
    signatures: list[tuple[Any, ...]] = []
    for constraint, column in keyed:
        if constraint.get("contype") == "CONSTR_EXCLUSION":
            kept.append((constraint, column))
            signatures.append(("x", len(kept)))
            continue
        keys = (column,) if column else tuple(strings(constraint.get("keys")))
        signature = (
            keys,
            tuple(strings(constraint.get("including"))),
            bool(constraint.get("nulls_not_distinct")),
            bool(constraint.get("deferrable")),
            bool(constraint.get("initdeferred")),
        )
        if signature in signatures:
            position = signatures.index(signature)
            prior, prior_column = kept[position]
            if not prior.get("conname") and constraint.get("conname"):
                prior = dict(prior)
                prior["conname"] = constraint["conname"]
                kept[position] = (prior, prior_column)
            continue
        kept.append((constraint, column))
        signatures.append(signature)
    return kept


def _add_check(model: Model, table: TableDraft, node: Node, creating: bool) -> None:
    expression = node.get("raw_expr")
    refs = frozenset(column_refs(expression) & table.columns.keys())
    name = node.get("conname")
    if not name:
        single = next(iter(refs)) if len(refs) == 1 else None
        name = model.choose_constraint_name(table.schema, table.name, single, "check")
    constraint = ConstraintDraft(name, "c", model.at(node))
    constraint.expression = model.keyword_group(node, "CHECK")
    constraint.refs = refs
    constraint.validated = creating or not node.get("skip_validation")
    model.store_constraint(table, constraint)


def _deferral(constraint: ConstraintDraft, node: Node) -> None:
    """DEFERRABLE and INITIALLY DEFERRED, as written on ``node`` (false when left out)."""
    if "deferrable" in node:
        constraint.deferrable = bool(node["deferrable"])
    if "initdeferred" in node:
        constraint.deferred = bool(node["initdeferred"])


def _names(node: Node, field: str) -> tuple[str, ...]:
    """A list-of-names field of ``node`` as a tuple (empty when left out)."""
    items = node.get(field)
    return tuple(strings(items)) if items else ()


def _add_index_constraint(model: Model, table: TableDraft, node: Node, column: str | None) -> None:
    contype = node.get("contype")
    origin = model.at(node)
    if node.get("indexname"):
        _constraint_from_index(model, table, node, origin)
        return
    if contype == "CONSTR_EXCLUSION":
        _add_exclusion(model, table, node, origin)
        return
    kind = "p" if contype == "CONSTR_PRIMARY" else "u"
    columns = (column,) if column else _names(node, "keys")
    include = _names(node, "including")
    name = node.get("conname")
    if not name:
        addition = None if kind == "p" else name_addition(columns + include)
        label = "pkey" if kind == "p" else "key"
        name = model.choose_relation_name(table.schema, table.name, addition, label, True)
    constraint = ConstraintDraft(name, kind, origin)
    constraint.columns = columns
    if include:
        constraint.include = include
    if "nulls_not_distinct" in node:
        constraint.nulls_not_distinct = bool(node["nulls_not_distinct"])
    _deferral(constraint, node)
    if kind == "p":
        model.set_not_null(table, columns)
    model.register_index_constraint(table, constraint)


def _add_exclusion(model: Model, table: TableDraft, node: Node, origin: Origin) -> None:
    elements: list[tuple[str | None, Any]] = []
    for item in node.get("exclusions") or ():
        pair = unwrap(item)[1].get("items") or ()
        element = unwrap(pair[0])[1] if pair else {}
        elements.append((element.get("name"), element.get("expr")))
    include = tuple(strings(node.get("including")))
    name = node.get("conname")
    if not name:
        addition = name_addition(index_column_names(elements) + list(include))
        name = model.choose_relation_name(table.schema, table.name, addition, "excl", True)
    constraint = ConstraintDraft(name, "x", origin)
    constraint.columns = tuple(n for n, _e in elements if n)
    constraint.include = include
    _deferral(constraint, node)
    # The element list and WHERE, as written.
    tokens = model.tokens()
    keyword = tokens.find(tokens.at(node.get("location", model.start)), "EXCLUDE")
    opening = tokens.find(keyword, LPAREN)
    closing = tokens.match(opening)
    items = [tokens.text(a, b) for a, b in tokens.split(opening)]
    text = f"USING {node.get('access_method') or 'gist'} ({', '.join(items)})"
    if node.get("where_clause"):
        where = tokens.find_top(closing + 1, "WHERE")
        if where < len(tokens):
            text += f" WHERE ({tokens.group(where)})"
    constraint.exclusion = text
    model.register_index_constraint(table, constraint)


def _constraint_from_index(model: Model, table: TableDraft, node: Node, origin: Origin) -> None:
    """ADD CONSTRAINT ... USING INDEX: the index becomes the constraint's (and its name)."""
    index_name = node.get("indexname", "")
    index = table.indexes.pop(index_name, None)
    if index is None:
        return
    model.relations.pop(f"{table.schema}.{index_name}", None)
    model.index_table.pop(f"{table.schema}.{index_name}", None)
    kind = "p" if node.get("contype") == "CONSTR_PRIMARY" else "u"
    constraint = ConstraintDraft(node.get("conname") or index_name, kind, origin)
    constraint.columns = index.columns
    constraint.include = index.include
    constraint.nulls_not_distinct = index.nulls_not_distinct
    _deferral(constraint, node)
    if kind == "p":
        model.set_not_null(table, index.columns)
    model.register_index_constraint(table, constraint)


def _add_foreign_key(
    model: Model, table: TableDraft, node: Node, column: str | None, creating: bool
) -> None:
    columns = (column,) if column else _names(node, "fk_attrs")
    reference = model.relation(node.get("pktable") or {}, ("r",))
    ref_columns = _names(node, "pk_attrs")
    if not ref_columns:
        referenced = table if reference == table.key else model.tables.get(reference)
        ref_columns = referenced.primary_key() if referenced is not None else ()
    name = node.get("conname")
    if not name:
        name = model.choose_constraint_name(
            table.schema, table.name, name_addition(columns), "fkey"
        )
    constraint = ConstraintDraft(name, "f", model.at(node))
    constraint.columns = columns
    schema, _dot, relname = reference.partition(".")
    constraint.references = (schema, relname)
    constraint.ref_columns = ref_columns
    # Actions are one-letter codes, "a" (NO ACTION) unless written.
    delete, update = node.get("fk_del_action", "a"), node.get("fk_upd_action", "a")
    if delete != "a":
        constraint.on_delete = _FK_ACTIONS.get(delete, "NO ACTION")
        constraint.delete_columns = _names(node, "fk_del_set_cols")
    if update != "a":
        constraint.on_update = _FK_ACTIONS.get(update, "NO ACTION")
    if node.get("fk_matchtype") == "f":
        constraint.match_full = True
    _deferral(constraint, node)
    if not creating and node.get("skip_validation"):
        constraint.validated = False
    model.store_constraint(table, constraint)
