"""Schemas (with their comments and USAGE/CREATE grants) and extensions."""

from __future__ import annotations

from plimsoll.db.catalog import Catalog, quote_ident
from plimsoll.db.diff import risks
from plimsoll.db.diff.model import Change, ChangeKind, Phase, Step
from plimsoll.db.diff.text import comment_sql, diff_comment, diff_grants, grants_sql


def diff_schemas(a: Catalog, b: Catalog) -> list[Change]:
    """Schemas created or dropped, and comments and grants on schemas."""
    out = []
    for name in sorted(b.schemas - a.schemas):
        create, drop = _create_sql(b, name), f"DROP SCHEMA {quote_ident(name)};"
        out.append(
            Change(
                ChangeKind.ADDED, "schema", name, "", (Step(Phase.CREATE_SCHEMAS, create, drop),)
            )
        )
    for name in sorted(a.schemas - b.schemas):
        create, drop = _create_sql(a, name), f"DROP SCHEMA {quote_ident(name)};"
        out.append(
            Change(
                ChangeKind.REMOVED, "schema", name, "", (Step(Phase.DROP_SCHEMAS, drop, create),)
            )
        )
    for name in sorted(a.schemas & b.schemas):
        old, new = a.schema_grants.get(name, frozenset()), b.schema_grants.get(name, frozenset())
        on = f"SCHEMA {quote_ident(name)}"
        out += diff_comment(a.schema_comments.get(name), b.schema_comments.get(name), on, name)
        out += diff_grants(old, new, on, name)
    return out


def _create_sql(catalog: Catalog, name: str) -> str:
    # A new schema grants nothing to others: its grants come with it.
    on = f"SCHEMA {quote_ident(name)}"
    lines = [f"CREATE SCHEMA {quote_ident(name)};"]
    comment = catalog.schema_comments.get(name)
    if comment is not None:
        lines.append(comment_sql(on, comment))
    lines += grants_sql(frozenset(), catalog.schema_grants.get(name, frozenset()), on)
    return "\n".join(lines)


def diff_extensions(a: Catalog, b: Catalog) -> list[Change]:
    """Extensions installed or removed (their own objects come and go with them)."""
    out = []
    for name in sorted(b.extensions - a.extensions):
        step = Step(
            Phase.CREATE_EXTENSIONS,
            _create_extension_sql(b, name),
            _drop_sql(name),
            down_risk=risks.drop_extension(name),
        )
        out.append(Change(ChangeKind.ADDED, "extension", name, _where(b, name), (step,)))
    for name in sorted(a.extensions - b.extensions):
        # What it owns goes with it: its types and functions, its tables and their rows.
        step = Step(
            Phase.DROP_EXTENSIONS,
            _drop_sql(name),
            _create_extension_sql(a, name),
            up_risk=risks.drop_extension(name),
        )
        out.append(Change(ChangeKind.REMOVED, "extension", name, _where(a, name), (step,)))
    return out


def _where(catalog: Catalog, name: str) -> str:
    schema = catalog.extension_schemas.get(name)
    return f"in schema {schema}" if schema else ""


def _create_extension_sql(catalog: Catalog, name: str) -> str:
    schema = catalog.extension_schemas.get(name)
    where = f" SCHEMA {quote_ident(schema)}" if schema else ""
    return f"CREATE EXTENSION IF NOT EXISTS {quote_ident(name)}{where};"


def _drop_sql(name: str) -> str:
    return f"DROP EXTENSION IF EXISTS {quote_ident(name)};"
