"""CREATE INDEX: keys (columns and expressions) with their options, INCLUDE, WHERE.

Unnamed indexes get PostgreSQL's names (``t_a_b_idx``, ``t_lower_idx``, ``t_expr_idx``);
the definition is printed in the shape of ``pg_get_indexdef``, expression keys as written.
Indexes on materialized views are listed with the view; those on tables a build leaves out
are not listed, but their names are taken. An index on a partitioned table is copied to
its partitions (an equivalent index a partition has is adopted instead); with ONLY it is
not, and stays invalid (printed ``ON ONLY``) until each partition attaches one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plimsoll.db.ddl.expressions import column_refs
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.names import index_column_names, name_addition
from plimsoll.db.ddl.partitions import clone_index, partitions_of
from plimsoll.db.ddl.state import IndexDraft, TableDraft, quote
from plimsoll.db.ddl.tokens import LPAREN, Tokens
from plimsoll.db.sqljson import Node, strings, unwrap

if TYPE_CHECKING:
    from plimsoll.db.ddl.views import ViewDraft

_ORDERING = {"SORTBY_ASC": " ASC", "SORTBY_DESC": " DESC"}
_NULLS = {"SORTBY_NULLS_FIRST": " NULLS FIRST", "SORTBY_NULLS_LAST": " NULLS LAST"}
# Expression nodes pg_get_indexdef prints without parentheses ("looks like a function").
_FUNCTION_LIKE = frozenset(
    {"FuncCall", "CoalesceExpr", "MinMaxExpr", "SQLValueFunction", "XmlExpr"}
)


def create_index(model: Model, node: Node) -> None:
    """CREATE [UNIQUE] INDEX."""
    relation = node.get("relation") or {}
    table_key = model.relation(relation)
    table: TableDraft | ViewDraft | None = model.tables.get(table_key)
    if table is None:
        view = model.views.get(table_key)
        table = view if view is not None and view.materialized else None
    schema = table.schema if table is not None else table_key.partition(".")[0]
    name = node.get("idxname")
    if name and f"{schema}.{name}" in model.relations and node.get("if_not_exists"):
        return
    if table is None:
        if name:
            # An index on a view or a left-out table: not listed, its name is taken.
            model.relations[f"{schema}.{name}"] = "i"
        return
    elements = [unwrap(p)[1] for p in node.get("indexParams") or ()]
    index = IndexDraft("", model.here())
    if node.get("unique"):
        index.unique = True
    if "accessMethod" in node:
        index.method = node["accessMethod"]
    if "indexIncludingParams" in node:
        index.include = tuple(unwrap(p)[1].get("name", "") for p in node["indexIncludingParams"])
    if node.get("nulls_not_distinct"):
        index.nulls_not_distinct = True
    if "whereClause" in node or any("expr" in e for e in elements):
        _keys_from_source(model, node, relation, elements, index)
    else:
        # Column keys only: nothing to cut from the source.
        columns = tuple([e.get("name", "") for e in elements])
        index.columns = columns
        index.elements = [
            quote(c) + element_options(e) for c, e in zip(columns, elements, strict=True)
        ]
        index.keys = index_column_names([(c, None) for c in columns])
    if not name:
        addition = name_addition(index.keys + list(index.include))
        name = model.choose_relation_name(table.schema, table.name, addition, "idx")
    index.name = name
    model.register_index(table, index)
    if isinstance(table, TableDraft) and table.partition_by is not None:
        if not relation.get("inh"):
            # ON ONLY: invalid until each partition attaches a copy.
            index.only = bool(table.partitions)
        else:
            for partition in partitions_of(model, table):
                clone_index(model, table, index, partition)


def _keys_from_source(
    model: Model, node: Node, relation: Node, elements: list[Node], index: IndexDraft
) -> None:
    """An index's keys and predicate when some are expressions, cut from the source."""
    tokens = model.tokens()
    opening = tokens.find(tokens.at(relation.get("location", model.start)), LPAREN)
    items = tokens.split(opening)
    columns: list[str] = []
    printed: list[str] = []
    refs: set[str] = set()
    for position, element in enumerate(elements):
        expression = element.get("expr")
        if expression is None:
            text = quote(element.get("name", ""))
            columns.append(element.get("name", ""))
        else:
            begin, end = items[position] if position < len(items) else (0, 0)
            text = index_expression(tokens, begin, end, expression)
            columns.append(text)
            refs |= column_refs(expression)
        printed.append(text + element_options(element))
    index.columns = tuple(columns)
    index.elements = printed
    if "whereClause" in node:
        where = tokens.find_top(items[-1][1] + 1 if items else 0, "WHERE")
        index.predicate = tokens.expression(where + 1)
        refs |= column_refs(node["whereClause"])
    index.refs = frozenset(refs)
    index.keys = index_column_names([(e.get("name"), e.get("expr")) for e in elements])


def index_expression(tokens: Tokens, begin: int, end: int, expression: Any) -> str:
    """An index key expression as pg_get_indexdef prints a key: a function call bare,
    anything else in parentheses."""
    names = tokens.names
    if begin < end and names[begin] == LPAREN:
        closing = tokens.match(begin)
        inner_begin, inner_end = begin + 1, closing
        # Redundant parentheses: ((a + b)) is (a + b).
        while (
            inner_begin < inner_end
            and names[inner_begin] == LPAREN
            and tokens.match(inner_begin) == inner_end - 1
        ):
            inner_begin, inner_end = inner_begin + 1, inner_end - 1
        text = tokens.text(inner_begin, inner_end)
    else:
        # A bare function call: its name and argument list (CURRENT_DATE has none).
        opening = tokens.find(begin, LPAREN)
        if opening >= end:
            text = tokens.text(begin, begin + 1)
        else:
            text = tokens.text(begin, min(tokens.match(opening), end - 1) + 1)
    if unwrap(expression)[0] in _FUNCTION_LIKE:
        return text
    return f"({text})"


def element_options(element: Node) -> str:
    """An index element's collation, operator class, order and NULLS placement."""
    if (
        "collation" not in element
        and "opclass" not in element
        and element.get("ordering") == "SORTBY_DEFAULT"
        and element.get("nulls_ordering") == "SORTBY_NULLS_DEFAULT"
    ):
        return ""
    text = ""
    collation = strings(element.get("collation"))
    if collation:
        text += f" COLLATE {'.'.join(quote(c) for c in collation)}"
    opclass = strings(element.get("opclass"))
    if opclass:
        text += f" {'.'.join(quote(c) for c in opclass)}"
    text += _ORDERING.get(element.get("ordering", ""), "")
    text += _NULLS.get(element.get("nulls_ordering", ""), "")
    return text
