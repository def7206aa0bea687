"""foreign-key-type-mismatch."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation

# Integer types by size, and the largest value each holds.
_INTEGERS = {"smallint": 32767, "integer": 2147483647, "bigint": 9223372036854775807}
_CHARACTER = re.compile(r"^(text|character varying|varchar|character|char|bpchar)(?:\((\d+)\))?$")
# Built-in types whose names we know: a difference between two of them is real, while a
# domain or a type of an extension may well be the same type under another name.
_BUILTIN = re.compile(
    r"^(smallint|integer|bigint|numeric|real|double precision|boolean|uuid|date|bytea|"
    r"text|character varying|character|json|jsonb|inet|cidr|macaddr|interval|money|"
    r"time(stamp)? with(out)? time zone)(\(.*\))?$"
)


def _base(type_text: str) -> str:
    return type_text.strip().lower().removeprefix("pg_catalog.")


def _length(match: re.Match[str]) -> float:
    """A character type's length limit (unbounded for text and bare varchar)."""
    if match.group(1) == "text" or match.group(2) is None:
        # character without a length is character(1), as format_type prints it anyway.
        return 1 if match.group(1) in ("character", "char", "bpchar") else float("inf")
    return int(match.group(2))


def mismatch(child: str, parent: str) -> str | None:
    """Why a referencing column of type ``child`` cannot hold every ``parent`` key, or None."""
    child, parent = _base(child), _base(parent)
    if child == parent:
        return None
    if child in _INTEGERS and parent in _INTEGERS:
        if _INTEGERS[child] < _INTEGERS[parent]:
            return (
                f"once keys pass {_INTEGERS[child]} (the largest {child}) no row can reference them"
            )
        return None  # a wider referencing column holds every key
    child_chars, parent_chars = _CHARACTER.match(child), _CHARACTER.match(parent)
    if child_chars and parent_chars:
        if _length(child_chars) < _length(parent_chars):
            return "longer keys cannot be referenced"
        return None
    if _BUILTIN.match(child) and _BUILTIN.match(parent):
        return "every check and join converts between the two types"
    return None


def referenced_columns(catalog: Catalog, ref: Table, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The referenced columns: as given, or the referenced table's primary key."""
    if columns:
        return columns
    key = next((c for c in ref.constraints if c.kind == "p"), None)
    return key.columns if key is not None else ()


class ForeignKeyTypeMismatch(SchemaRule):
    """A foreign key column has the type of the column it references.

    **Problem.** PostgreSQL accepts a foreign key between columns of different types when
    they can be compared: an ``integer`` column referencing a ``bigint`` key, a
    ``varchar(20)`` referencing a ``text`` code, a ``numeric`` referencing an ``integer``.

    **Why.** A narrower referencing column cannot hold every key: once the referenced
    ``bigint`` ids pass 2147483647, inserting a reference fails with "integer out of range"
    (the classic ``serial`` child of a ``bigserial`` parent); longer codes cannot be
    referenced at all. Between unlike types each check and join has to convert, which can keep
    the planner from using the index on the other side. Fixing it later means ``ALTER
    COLUMN TYPE``, a rewrite of the referencing table under an ACCESS EXCLUSIVE lock.

    **Fix.** Declare the referencing column with exactly the referenced column's type. A
    wider referencing column (``bigint`` referencing ``integer``, ``text`` referencing
    ``varchar(20)``) holds every key and passes; so do types the rule cannot compare
    (domains, extension types).

    **Example.**

    ```sql
    CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);
    CREATE TABLE orders (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customers (id)   -- not integer
    );
    ```
    """

    id = "foreign-key-type-mismatch"
    severity = Severity.WARNING
    help = "Give the referencing column exactly the referenced column's type."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each foreign key column whose type differs from the referenced column's."""
        for table in catalog.all_tables():
            for constraint in table.constraints:
                if constraint.kind != "f" or not constraint.references:
                    continue
                ref = catalog.find_table(constraint.references)
                if ref is None:
                    continue
                targets = referenced_columns(catalog, ref, constraint.ref_columns)
                if len(targets) != len(constraint.columns):
                    continue
                for name, target in zip(constraint.columns, targets, strict=True):
                    column, referenced = table.column(name), ref.column(target)
                    if column is None or referenced is None:
                        continue
                    why = mismatch(column.type, referenced.type)
                    if why is None:
                        continue
                    key = f"{table.key}.{name}"
                    yield Violation(
                        f"{key} is {column.type} but references {ref.key}.{target}, which is"
                        f" {referenced.type}: {why}",
                        object=key,
                        origin=constraint.origin or column.origin,
                        help=(
                            f"ALTER TABLE {table.sql_name} ALTER COLUMN {quote_ident(name)} TYPE"
                            f" {referenced.type} (a rewrite: plan it), or declare it so."
                        ),
                    )
