"""Why a statement may lose data or fail on the rows already there: the reasons a step
carries (:attr:`Step.up_risk`, :attr:`Step.down_risk`) and that make a change destructive.

Each function answers for one kind of statement, on PostgreSQL's own terms (checked on 15):

- dropping a table, a partition, a column, a sequence (an identity column's too, with
  ``DROP IDENTITY``) or a materialized view loses what it holds (a generated column
  excepted: it is computed again from the row; made plain, it comes back empty);
- ``SET NOT NULL`` (on a column or a domain) scans the rows and fails on a NULL; ``ADD
  COLUMN ... NOT NULL`` without a default (or identity, or generation) fails on a table
  with rows;
- a column type change rewrites every value through a cast that may fail, round or trim
  (``numeric(5,2)``, ``varchar(3)``, ``timestamptz``), unless it only widens: a longer
  ``varchar`` (or ``text``), a ``numeric`` with more digits and the same scale, a wider
  integer or float, a finer timestamp or time;
- a constraint added without ``NOT VALID`` (check, unique, primary key, foreign key,
  exclusion), a unique index, a domain's new check, and ``ATTACH PARTITION`` (the bound)
  check every row and fail on one that does not fit; so does a partition created next to
  a default partition already holding rows of its bound;
- ``ALTER SEQUENCE`` (or an identity's ``ALTER COLUMN ... SET MINVALUE``...) narrowing the
  range fails when the current value falls outside it;
- dropping an attribute of a composite type a column stores loses that part of each value.

A reason is one line of plain text naming the objects by key (``schema.name``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from plimsoll.db.catalog import Column, Constraint, Index, Sequence, quote_ident

# format_type texts of the types whose changes can be judged: a base name, its modifiers,
# the time zone part of timestamps and times, and array brackets.
_TYPE = re.compile(
    r"^(?P<base>[a-z][a-z ]*?)(?:\((?P<mods>[0-9, ]+)\))?"
    r"(?P<zone> with(?:out)? time zone)?(?P<array>(?:\[\])*)$"
)
# Lossless widenings between types (each to itself is handled by the modifiers).
_WIDER = {
    "smallint": ("integer", "bigint", "numeric"),
    "integer": ("bigint", "numeric"),
    "bigint": ("numeric",),
    "real": ("double precision",),
    "character varying": ("text",),
    "text": ("character varying",),
}
# Types whose single modifier is a maximum (length or fractional digits): a larger one, or
# none, keeps every value as it is.
_LIMITED = ("character varying", "bit varying", "timestamp", "time")


def _parse(text: str) -> tuple[str, tuple[int, ...] | None, str] | None:
    """A type's base name (with its time zone part and array brackets), its modifiers (None
    when it has none), or None when the text is not a plain built-in type."""
    found = _TYPE.match(text)
    if found is None:
        return None
    mods = tuple(int(m) for m in found["mods"].split(",")) if found["mods"] is not None else None
    return found["base"], mods, (found["zone"] or "") + found["array"]


def safe_retype(old: str, new: str) -> bool:
    """Whether changing a column from type ``old`` to ``new`` keeps every value as it is and
    cannot fail (both are ``format_type`` texts)."""
    if old == new:
        return True
    before, after = _parse(old), _parse(new)
    if before is None or after is None:
        return False
    (base, mods, rest), (new_base, new_mods, new_rest) = before, after
    if rest != new_rest:
        return False
    if base != new_base:
        # A limited varchar to text keeps its values; text to a limited one may not.
        return new_base in _WIDER.get(base, ()) and new_mods is None
    if new_mods is None:
        return True
    if mods is None:
        return False
    if base in _LIMITED:
        return len(mods) == len(new_mods) == 1 and new_mods[0] >= mods[0]
    if base == "numeric" and len(mods) == len(new_mods) == 2:
        # As many digits after the point, at least as many before it.
        return new_mods[1] == mods[1] and new_mods[0] >= mods[0]
    return False


def one_line(reason: str) -> str:
    """``reason`` safe in a ``--`` comment: a line break inside a name is written ``\\n``."""
    return reason.replace("\r", "\\r").replace("\n", "\\n")


def drop_relation(kind: str, key: str) -> str:
    """A table, partitioned table or partition dropped."""
    return f"drops {kind} {key} and its rows"


def drop_column(table_key: str, column: Column) -> str:
    """A column dropped (nothing is lost with a generated one: its rows compute it again)."""
    if column.generated:
        return ""
    return f"drops column {table_key}.{column.name} and its data"


def ungenerate(table_key: str, column: str) -> str:
    """A generated column recreated as a plain one: its values go, the new column is empty."""
    return (
        f"recreates generated column {table_key}.{column} as a plain one:"
        " its values are dropped, the new column starts empty"
    )


def add_column(table_key: str, column: Column) -> str:
    """A column added to a table that may have rows: NOT NULL with nothing to fill it fails."""
    if column.nullable or column.default is not None or column.identity is not None:
        return ""
    return (
        f"adds NOT NULL column {table_key}.{column.name} without a default:"
        f" fails if {table_key} has rows"
    )


def set_not_null(table_key: str, column: str) -> str:
    """``ALTER COLUMN ... SET NOT NULL``."""
    return f"makes {table_key}.{column} NOT NULL: fails if a row holds NULL"


def retype(table_key: str, column: str, old: str, new: str) -> str:
    """``ALTER COLUMN ... TYPE`` from ``old`` to ``new``."""
    if safe_retype(old, new):
        return ""
    return (
        f"changes {table_key}.{column} from {old} to {new}:"
        " existing values may fail to convert or change"
    )


def column_change(table_key: str, old: Column, new: Column) -> list[str]:
    """What going from ``old`` to ``new`` risks on the rows of one column (its type, its
    NOT NULL), whoever's statement does it."""
    out = []
    if old.type != new.type and (found := retype(table_key, new.name, old.type, new.type)):
        out.append(found)
    if old.nullable and not new.nullable:
        out.append(set_not_null(table_key, new.name))
    return out


def add_constraint(table_key: str, constraint: Constraint, had: Iterable[Constraint] = ()) -> str:
    """A constraint added to a table that may have rows (NOT VALID skips the check); none
    when the table ``had`` the same constraint under another name (the rows passed it)."""
    if not constraint.validated or constraint.definition.rstrip().endswith("NOT VALID"):
        return ""
    if any(c.definition == constraint.definition for c in had):
        return ""
    return (
        f"adds constraint {constraint.name} to {table_key}, checking every row:"
        " fails on a row that breaks it"
    )


def create_index(table_key: str, index: Index, had: Iterable[Index] = ()) -> str:
    """An index built on a table that may have rows: a unique one fails on duplicates; none
    when the table ``had`` the same index under another name."""
    unique = index.unique or index.definition.startswith("CREATE UNIQUE INDEX")
    if not unique or any(_unnamed(i) == _unnamed(index) for i in had):
        return ""
    return f"builds unique index {index.name} on {table_key}: fails on duplicate rows"


def _unnamed(index: Index) -> str:
    """An index's definition without its name."""
    return index.definition.replace(f" {quote_ident(index.name)} ON ", " ON ", 1)


def drop_identity(table_key: str, column: str) -> str:
    """``DROP IDENTITY``: the column's sequence goes, and where it had got to with it."""
    return f"drops the identity of {table_key}.{column} and its sequence's current value"


def drop_sequence(key: str) -> str:
    """A sequence dropped."""
    return f"drops sequence {key} and its current value"


def narrow_sequence(key: str, old: Sequence, new: Sequence) -> str:
    """``ALTER SEQUENCE`` to ``new``'s options: a narrower range fails when the current
    value falls outside it."""
    if new.maximum >= old.maximum and new.minimum <= old.minimum:
        return ""
    return f"narrows the range of sequence {key}: fails if its current value is outside it"


def narrow_identity(table_key: str, column: str, old: tuple[int, int], new: tuple[int, int]) -> str:
    """An identity's sequence options changed from the range ``old`` to ``new`` (MINVALUE,
    MAXVALUE): a narrower range fails when the current value falls outside it."""
    if new[0] <= old[0] and new[1] >= old[1]:
        return ""
    return (
        f"narrows the range of the identity of {table_key}.{column}: fails if its current"
        " value is outside it"
    )


def drop_materialized_view(key: str) -> str:
    """A materialized view dropped (not rebuilt)."""
    return f"drops materialized view {key} and its stored rows"


def domain_not_null(key: str) -> str:
    """``ALTER DOMAIN ... SET NOT NULL``."""
    return f"makes domain {key} NOT NULL: fails if a column of the domain holds NULL"


def domain_check(key: str, name: str, definition: str, validated: bool) -> str:
    """``ALTER DOMAIN ... ADD CONSTRAINT`` (NOT VALID skips the check)."""
    if not validated or definition.rstrip().endswith("NOT VALID"):
        return ""
    return (
        f"adds constraint {name} to domain {key}: fails if a column of the domain holds"
        " a value that breaks it"
    )


def drop_attributes(key: str, attributes: list[str], used_by: list[str]) -> str:
    """Attributes dropped from a composite type that table columns store."""
    if not attributes or not used_by:
        return ""
    return (
        f"drops attribute {', '.join(attributes)} of {key} from the values of"
        f" {', '.join(sorted(used_by))}"
    )


def attach(table_key: str, parent: str, bound: str) -> str:
    """``ATTACH PARTITION``: every row of the table is checked against the bound."""
    return (
        f"attaches {table_key} to {parent} {bound}, checking every row:"
        " fails on a row outside the bound"
    )


def next_to_default(table_key: str, default: str) -> str:
    """A partition created (or attached) while a default partition holds rows: those of
    the new bound must not be there."""
    return (
        f"creates {table_key} next to default partition {default}:"
        " fails if it holds rows of its bound"
    )


def drop_labels(key: str, labels: list[str]) -> str:
    """An enum recreated without some of its labels."""
    return f"removes label {', '.join(labels)} from enum {key}"


def convert_labels(table_key: str, column: str, key: str, labels: list[str]) -> str:
    """A column converted to an enum recreated without some labels."""
    return (
        f"converts {table_key}.{column} to the new {key}: fails on a row holding"
        f" {', '.join(labels)}"
    )


def repartition(key: str) -> str:
    """A table whose partitioning changes: only rebuilt by hand, every row moved."""
    return f"changing how {key} is partitioned means rebuilding it by hand and moving its rows"


def drop_extension(name: str) -> str:
    """An extension dropped, with the types, functions and tables it owns."""
    return f"drops extension {name} and everything it owns"
