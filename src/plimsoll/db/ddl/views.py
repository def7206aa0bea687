"""CREATE [MATERIALIZED] VIEW: the query's text and the relations it reads.

The definition is the query as written (``pg_get_viewdef`` prints PostgreSQL's analysed
query back, which needs the server); ``depends_on`` is exact, so views can be dropped and
created in dependency order and CASCADE can follow them.
"""

from __future__ import annotations

from typing import Any

from plimsoll.db.catalog import Origin, View
from plimsoll.db.ddl.drops import drop_relation
from plimsoll.db.ddl.model import Model
from plimsoll.db.ddl.privileges import default_privileges
from plimsoll.db.ddl.state import IndexDraft, Privileges, grant_set
from plimsoll.db.ddl.tokens import Tokens
from plimsoll.db.sqljson import Node, walk


class ViewDraft:
    """A view or materialized view being built."""

    def __init__(self, schema: str, name: str, origin: Origin | None) -> None:
        self.schema = schema
        self.name = name
        self.definition = ""
        self.materialized = False
        self.comment: str | None = None
        self.grants: Privileges = {}
        self.depends_on: set[str] = set()
        # A materialized view's indexes, by name.
        self.indexes: dict[str, IndexDraft] = {}
        self.origin = origin

    @property
    def key(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"

    def frozen(self) -> View:
        """The catalog's View."""
        return View(
            schema=self.schema,
            name=self.name,
            definition=self.definition,
            materialized=self.materialized,
            comment=self.comment,
            grants=grant_set(self.grants),
            depends_on=tuple(sorted(self.depends_on)),
            indexes=tuple(self.indexes[n].frozen(self) for n in sorted(self.indexes)),
            origin=self.origin,
        )


def create_view(model: Model, node: Node) -> None:
    """CREATE [OR REPLACE] VIEW."""
    define_view(model, node.get("view") or {}, node.get("query"), False, node.get("replace"))


def define_view(model: Model, relation: Node, query: Any, materialized: bool, replace: Any) -> None:
    """A view or materialized view named by ``relation``, reading ``query``."""
    if relation.get("relpersistence") == "t":
        return
    schema, name = model.creation_key(relation)
    key = f"{schema}.{name}"
    previous = model.views.get(key)
    if key in model.relations and previous is None:
        drop_relation(model, key, cascade=False)
    view = ViewDraft(schema, name, model.here())
    view.materialized = materialized
    if previous is not None and replace:
        # CREATE OR REPLACE keeps the view's comment and privileges.
        view.comment = previous.comment
        view.grants = previous.grants
    else:
        view.grants = dict(default_privileges(model, "TABLES", schema) or {})
    tokens = model.tokens()
    start = tokens.find_top(tokens.at(relation.get("location", model.start)), "AS")
    view.definition = tokens.text(start + 1, _query_end(tokens, start))
    view.depends_on = _read_relations(model, query) - {key}
    model.views[key] = view
    model.relations[key] = "m" if materialized else "v"


def _read_relations(model: Model, query: Any) -> set[str]:
    """The keys of the relations a query reads (common table expressions left out)."""
    ctes: set[str] = set()
    ranges: list[Node] = []
    for kind, inner in walk(query):
        if kind == "RangeVar":
            ranges.append(inner)
        elif kind == "CommonTableExpr":
            ctes.add(inner.get("ctename", ""))
    out = set()
    for range_var in ranges:
        if not range_var.get("schemaname") and range_var.get("relname") in ctes:
            continue
        out.add(model.relation(range_var))
    return out


def _query_end(tokens: Tokens, start: int) -> int:
    """Where a view's query ends: before a trailing WITH [CASCADED|LOCAL] CHECK OPTION or
    WITH [NO] DATA."""
    names = tokens.names
    stop = len(names)
    if stop - start > 2 and names[-1] in ("OPTION", "DATA_P"):
        for index in range(stop - 2, max(start, stop - 5), -1):
            if names[index] == "WITH":
                return index
    return stop
