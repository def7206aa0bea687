"""Two questions the lock profile asks about column changes, after the PostgreSQL docs.

* Does ``ADD COLUMN ... DEFAULT expr`` rewrite the table? Since PostgreSQL 11 a default that
  is constant or only STABLE (``0``, ``'new'``, ``now()``, ``CURRENT_TIMESTAMP``) is evaluated
  once and stored in the catalog; a VOLATILE one (``gen_random_uuid()``, ``clock_timestamp()``,
  ``random()``, ``nextval()``) is evaluated for each row, so the table is rewritten. Before 11
  every non-null default rewrites.
* Does ``ALTER COLUMN ... TYPE`` rewrite it? Not when the old type is binary-coercible to the
  new one: ``varchar(n)`` to a longer ``varchar`` or to ``text``, ``text`` to ``varchar``, a
  ``numeric`` precision increase at the same scale (or dropping the limit), a longer
  ``varbit``, a higher precision of ``timestamp``/``time``/``interval``, ``cidr`` to ``inet``,
  and (PostgreSQL 12+) ``timestamp`` to ``timestamptz`` and back when the session TimeZone
  has a fixed offset of zero (``UTC``, ``Etc/UTC``, ``GMT``...; checked with relfilenode on
  PostgreSQL 15). Anything else, or a ``USING`` clause, rewrites.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plimsoll.db.risk.operations import Knowledge
from plimsoll.db.sqljson import Node, function_name, type_name, unwrap, walk


@dataclass(frozen=True)
class Verdict:
    """Whether a change rewrites the table, and why, in words.

    ``assumed``: the verdict is the worst case for want of a fact (the column's current type,
    a function's volatility, the session TimeZone), not a certainty.
    """

    rewrites: bool
    reason: str
    assumed: bool = False


def default_rewrites(expression: object, knowledge: Knowledge) -> Verdict:
    """Whether adding a column with DEFAULT ``expression`` (a JSON parse tree) rewrites."""
    kind, inner = unwrap(expression)
    if kind == "A_Const" and inner.get("isnull"):
        return Verdict(False, "DEFAULT NULL is not stored")
    if knowledge.pg_version < 11:
        return Verdict(True, f"PostgreSQL {knowledge.pg_version} rewrites for any non-null default")
    unknown: list[str] = []
    for node_kind, node in walk(expression):
        if node_kind == "NextValueExpr":
            return Verdict(True, "the default takes nextval() per row")
        if node_kind != "FuncCall":
            continue
        name = function_name(node)
        volatility = knowledge.function_volatility(name)
        if volatility == "v":
            return Verdict(True, f"the volatile default {name}() is computed for every row")
        if volatility is None:
            unknown.append(name)
    if unknown:
        return Verdict(
            True,
            f"the volatility of {unknown[0]}() is not known, so it is assumed VOLATILE "
            "(computed for every row)",
            assumed=True,
        )
    return Verdict(False, "a constant or stable default is stored in the catalog (PostgreSQL 11+)")


_MODIFIERS = re.compile(r"^(?P<head>[a-z ]+?)\s*\((?P<mods>[0-9, ]+)\)(?P<tail>[a-z ]*)$")


@dataclass(frozen=True)
class _Type:
    base: str
    mods: tuple[int, ...]


def _split(text: str) -> _Type | None:
    """``character varying(40)`` as (``character varying``, (40,)); None for other shapes."""
    text = " ".join(text.strip().lower().split())
    if "(" not in text:
        return _Type(text, ()) if re.fullmatch(r"[a-z ]+", text) else None
    match = _MODIFIERS.match(text)
    if match is None:
        return None
    mods = tuple(int(m) for m in match["mods"].replace(" ", "").split(",") if m)
    # timestamp(3) without time zone: the modifier sits inside the name.
    base = " ".join(part for part in (match["head"].strip(), match["tail"].strip()) if part)
    return _Type(base, mods)


_TEXTUAL = {"text", "character varying"}
_PRECISION = {
    "timestamp without time zone",
    "timestamp with time zone",
    "time without time zone",
    "time with time zone",
    "interval",
}


def type_change_rewrites(
    old: str | None, new_type: Node, using: object, knowledge: Knowledge
) -> Verdict:
    """Whether ``ALTER COLUMN ... TYPE new_type [USING using]`` rewrites a column of type ``old``.

    ``old`` is the live type as ``format_type`` prints it (None when not known: a rewrite is
    assumed). ``new_type`` is the statement's TypeName node.
    """
    new = type_name(new_type)
    if old is None:
        return Verdict(
            True,
            f"the column's current type is not known, so a change to {new} is "
            "assumed to rewrite the table",
            assumed=True,
        )
    if using:
        return Verdict(True, f"ALTER TYPE {new} USING ... rewrites the table")
    if {old, new} == set(_TIMESTAMPS) and knowledge.pg_version >= 12:
        return _timestamps(old, new, knowledge)
    free = _binary_coercible(old, new, knowledge)
    if free:
        return Verdict(False, f"{old} to {new} is binary-coercible: no rewrite")
    return Verdict(True, f"{old} to {new} is not binary-coercible: the table is rewritten")


_TIMESTAMPS = ("timestamp without time zone", "timestamp with time zone")


def _timestamps(old: str, new: str, knowledge: Knowledge) -> Verdict:
    """timestamp <-> timestamptz: no rewrite when the session TimeZone is always UTC (12+)."""
    if knowledge.timezone_utc:
        return Verdict(
            False,
            f"{old} to {new} keeps the stored values when the session TimeZone has a fixed "
            "offset of zero, as the migrator's has: no rewrite (PostgreSQL 12+)",
        )
    if knowledge.timezone_utc is None:
        return Verdict(
            True,
            f"{old} to {new} rewrites unless the session TimeZone is UTC, which is not known "
            "here: assumed to rewrite",
            assumed=True,
        )
    return Verdict(
        True,
        f"{old} to {new} rewrites the table: the session TimeZone is not UTC, so every "
        "value is converted",
    )


def binary_coercible(old: str, new: str) -> bool:
    """Whether a column of type ``old`` (as PostgreSQL prints types) becomes ``new`` without a
    rewrite, whatever the session (timestamp <-> timestamptz depends on it: False here)."""
    return _binary_coercible(old, new, None)


def _binary_coercible(old: str, new: str, knowledge: Knowledge | None) -> bool:
    if old == new:
        return True
    a, b = _split(old), _split(new)
    if a is None or b is None:
        return False
    if a.base == "character varying" and b.base in _TEXTUAL:
        return not b.mods or (bool(a.mods) and b.mods[0] >= a.mods[0])
    if a.base == "text" and b.base == "character varying":
        return not b.mods
    if a.base == "cidr" and b.base == "inet":
        return True
    if a.base == b.base == "numeric":
        if not b.mods:
            return True
        if not a.mods:
            return False
        scale_a = a.mods[1] if len(a.mods) > 1 else 0
        scale_b = b.mods[1] if len(b.mods) > 1 else 0
        return scale_a == scale_b and b.mods[0] >= a.mods[0]
    if a.base == b.base == "bit varying":
        return not b.mods or (bool(a.mods) and b.mods[0] >= a.mods[0])
    if a.base == b.base and a.base in _PRECISION:
        # No modifier is the highest precision (6).
        old_precision = a.mods[0] if a.mods else 6
        new_precision = b.mods[0] if b.mods else 6
        return new_precision >= old_precision
    return False
