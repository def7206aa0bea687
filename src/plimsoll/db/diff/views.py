"""Views and materialized views (with a materialized view's indexes), in dependency order.

A view whose query changed, or that reads a table whose columns change type or go away, or
a view rebuilt for either reason, is dropped first and created again after the tables
change; a materialized view's indexes are created again with it. A view's parameters
(``security_barrier``, ``check_option``, a materialized view's storage parameters) change
in place.
"""

from __future__ import annotations

from collections.abc import Mapping

from plimsoll.db.catalog import Catalog, View
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.parts import create_index_sql, diff_indexes
from plimsoll.db.diff.settings import describe_options, options_clause, options_step
from plimsoll.db.diff.text import (
    comment_sql,
    diff_comment,
    diff_grants,
    grant_sql,
    pairs,
    sorted_grants,
    topological,
)


def _kind(view: View) -> str:
    return "MATERIALIZED VIEW" if view.materialized else "VIEW"


def _create_sql(view: View) -> str:
    query = view.definition.strip().rstrip(";").strip()
    options = options_clause(view.options)
    out = [f"CREATE {_kind(view)} {view.sql_name}{options} AS\n{query};"]
    out += [create_index_sql(view.schema, index) for index in view.indexes]
    if view.comment is not None:
        out.append(comment_sql(f"{_kind(view)} {view.sql_name}", view.comment))
    out += [grant_sql(g, f"TABLE {view.sql_name}") for g in sorted_grants(view.grants)]
    return "\n".join(out)


def _drop_sql(view: View) -> str:
    return f"DROP {_kind(view)} {view.sql_name};"


def _order(views: Mapping[str, View]) -> list[str]:
    """View keys so that every view comes after the views it reads."""
    return topological(views, lambda key: views[key].depends_on)


def diff_views(a: Catalog, b: Catalog, rebuilt_relations: set[str]) -> list[Change]:
    """Views created, dropped, rebuilt or altered; ``rebuilt_relations`` are the tables (and
    views) whose change forces the views reading them to be rebuilt."""
    rebuild: set[str] = set()
    for key in _order(a.views):
        view, target = a.views[key], b.views.get(key)
        if target is None:
            continue
        changed = (view.definition, view.materialized) != (target.definition, target.materialized)
        reads_changed = any(d in rebuilt_relations or d in rebuild for d in view.depends_on)
        if changed or reads_changed or key in rebuilt_relations:
            rebuild.add(key)
    drop_rank = {key: -i for i, key in enumerate(_order(a.views))}
    create_rank = {key: i for i, key in enumerate(_order(b.views))}
    out = []
    for key in pairs(a.views, b.views):
        old, new = a.views.get(key), b.views.get(key)
        if old is None and new is not None:
            create = Step(
                Phase.CREATE_VIEWS,
                _create_sql(new),
                _drop_sql(new),
                create_rank[key],
                down_risk=_drop_risk(new),
            )
            out.append(Change(ChangeKind.ADDED, _object_type(new), key, "", (create,)))
        elif new is None and old is not None:
            drop = Step(
                Phase.DROP_VIEWS,
                _drop_sql(old),
                _create_sql(old),
                drop_rank[key],
                up_risk=_drop_risk(old),
            )
            out.append(Change(ChangeKind.REMOVED, _object_type(old), key, "", (drop,)))
        elif old is not None and new is not None:
            if key in rebuild:
                drop = Step(Phase.DROP_VIEWS, _drop_sql(old), _create_sql(old), drop_rank[key])
                create = Step(
                    Phase.CREATE_VIEWS, _create_sql(new), _drop_sql(new), create_rank[key]
                )
                detail = (
                    "definition"
                    if (old.definition, old.materialized) != (new.definition, new.materialized)
                    else "recreated: it reads a changed table, view or type"
                )
                out.append(
                    Change(ChangeKind.CHANGED, _object_type(new), key, detail, (drop, create))
                )
                continue
            if old.options != new.options:
                what = f"{_kind(new)} {new.sql_name}"
                step = options_step(what, old.options, new.options, Phase.CREATE_VIEWS)
                detail = describe_options(old.options, new.options)
                out.append(Change(ChangeKind.CHANGED, _object_type(new), key, detail, (step,)))
            out += diff_comment(old.comment, new.comment, f"{_kind(new)} {new.sql_name}", key)
            out += diff_grants(old.grants, new.grants, f"TABLE {new.sql_name}", key)
            out += diff_indexes(old.indexes, new.indexes, old.schema, key)
    return out


def _drop_risk(view: View) -> str:
    """A materialized view dropped for good takes its stored rows along (a view holds none;
    a rebuilt materialized view computes its rows again)."""
    return risks.drop_materialized_view(view.key) if view.materialized else ""


def _object_type(view: View) -> str:
    return "materialized view" if view.materialized else "view"
