"""redundant-index."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from plimsoll.db.catalog import Catalog, Origin, Table, quote_ident, sql_name
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.schema_facts import finding


def _groups(text: str, start: int) -> Iterator[tuple[int, int]]:
    """The (open, close) offsets of each top-level parenthesised group from ``start`` on,
    skipping quoted identifiers and string literals."""
    depth = 0
    opened = -1
    index = start
    size = len(text)
    while index < size:
        char = text[index]
        if char in "\"'":
            close = text.find(char, index + 1)
            while close != -1 and text.startswith(char * 2, close):
                close = text.find(char, close + 2)
            if close == -1:
                return
            index = close + 1
            continue
        if char == "(":
            if depth == 0:
                opened = index
            depth += 1
        elif char == ")" and depth:
            depth -= 1
            if depth == 0:
                yield opened, index
        index += 1


def _item(text: str) -> str:
    """One key item, whitespace collapsed and a plain quoted column unquoted (as a
    constraint's column list names it)."""
    item = " ".join(text.split())
    if len(item) > 2 and item[0] == item[-1] == '"' and '"' not in item[1:-1]:
        return item[1:-1]
    return item


def _split(text: str) -> tuple[str, ...]:
    """The top-level comma-separated items of ``text``, normalised by :func:`_item`."""
    items: list[str] = []
    depth = 0
    quote = ""
    current: list[str] = []
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(_item("".join(current)))
            current = []
            continue
        current.append(char)
    last = _item("".join(current))
    if last:
        items.append(last)
    return tuple(items)


def key_parts(definition: str) -> tuple[tuple[str, ...], frozenset[str]] | None:
    """An index definition's key items as written (with opclass, collation, order) and its
    INCLUDE columns; None when the text has no recognisable key list."""
    upper = definition.upper()
    on = upper.find(" ON ")
    if on < 0:
        return None
    groups = _groups(definition, on)
    first = next(groups, None)
    if first is None:
        return None
    keys = _split(definition[first[0] + 1 : first[1]])
    include: frozenset[str] = frozenset()
    rest = upper[first[1] + 1 :].lstrip()
    if rest.startswith("INCLUDE"):
        second = next(groups, None)
        if second is not None:
            include = frozenset(_split(definition[second[0] + 1 : second[1]]))
    return keys, include


@dataclass(frozen=True)
class _Entry:
    """One index of a table, whether a plain index or one a constraint owns."""

    what: str
    name: str
    key: str
    method: str
    parts: tuple[str, ...]
    include: frozenset[str]
    unique: bool
    predicate: str
    origin: Origin | None
    # Plain indexes are reported before the constraints they duplicate (a constraint may be
    # referenced by foreign keys and means more than its index).
    rank: int

    def label(self) -> str:
        return f"{self.what} {self.name} ({', '.join(self.parts)})"


def entries(table: Table) -> list[_Entry]:
    """Every index of ``table`` that can be compared (exclusion constraints left out)."""
    out: list[_Entry] = []
    for constraint in table.constraints:
        if constraint.kind not in ("p", "u") or not constraint.columns:
            continue
        include: frozenset[str] = frozenset()
        if "INCLUDE" in constraint.definition.upper():
            parsed = key_parts(" ON " + constraint.definition)
            include = parsed[1] if parsed else include
        out.append(
            _Entry(
                "primary key" if constraint.kind == "p" else "unique constraint",
                constraint.name,
                f"{table.key}.{constraint.name}",
                "btree",
                tuple(constraint.columns),
                include,
                True,
                "",
                constraint.origin,
                0 if constraint.kind == "p" else 1,
            )
        )
    for index in table.indexes:
        if not index.columns:
            continue
        parsed = key_parts(index.definition)
        if parsed is not None and len(parsed[0]) == len(index.columns):
            parts, include = parsed
        else:
            # Not a definition we can read: compare the derived key columns alone.
            parts, include = tuple(index.columns), frozenset()
        out.append(
            _Entry(
                "unique index" if index.unique else "index",
                index.name,
                f"{table.schema}.{index.name}",
                index.method,
                parts,
                include,
                index.unique,
                " ".join((index.predicate or "").split()),
                index.origin,
                2,
            )
        )
    return out


def covers(keep: _Entry, drop: _Entry) -> bool:
    """Whether ``keep`` does everything ``drop`` does, so ``drop`` can go."""
    if keep.method != drop.method or keep.predicate != drop.predicate:
        return False
    if drop.unique and not (keep.unique and keep.parts == drop.parts):
        return False  # a unique index enforces something only an equal unique key replaces
    if keep.parts == drop.parts:
        return drop.include <= keep.include
    if keep.method != "btree" or len(drop.parts) >= len(keep.parts):
        return False  # only a B-tree serves a prefix of its keys
    if keep.parts[: len(drop.parts)] != drop.parts:
        return False
    return drop.include <= set(keep.parts) | keep.include


class RedundantIndex(SchemaRule):
    """No index duplicates another or is a leading prefix of another.

    **Problem.** An index on ``(customer_id)`` next to one on ``(customer_id, created_at)``
    serves no query the second one does not (a B-tree serves any leading prefix of its
    columns); two indexes on the same columns, or a unique constraint on the primary key's
    columns, are the same index twice.

    **Why.** Every index is written on every INSERT, on every UPDATE that is not HOT, and
    vacuumed; it takes disk, cache and WAL volume, and slows replication and backups. A
    redundant one costs all that for nothing.

    **Fix.** Drop the redundant index (``DROP INDEX CONCURRENTLY`` on a live table; for a
    constraint, ``ALTER TABLE ... DROP CONSTRAINT``, recreating any foreign key that used
    it). Indexes are compared on the same table, with the same method and the same partial
    predicate, key by key as written (operator class, collation and order included, so a
    ``text_pattern_ops`` index is not taken for a plain one). A unique index is only
    redundant with an equal unique key: it enforces something. One finding per redundant
    index, at its definition; the one kept is named.

    **Example.**

    ```sql
    CREATE INDEX orders_customer_idx ON orders (customer_id);              -- redundant
    CREATE INDEX orders_customer_created_idx ON orders (customer_id, created_at);
    ```
    """

    id = "redundant-index"
    severity = Severity.WARNING
    help = "Drop the redundant index (DROP INDEX CONCURRENTLY on a live table)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each index that another index of the same table makes useless."""
        for table in catalog.all_tables():
            if len(table.indexes) + len(table.constraints) < 2 or not _may_overlap(table):
                continue
            found = entries(table)
            if len(found) < 2:
                continue
            reported: set[str] = set()
            # Report plain indexes before constraints, and the later of two equal ones.
            ordered = sorted(found, key=lambda e: (-e.rank, e.name))
            # Name the widest index that covers a redundant one: it is the one to keep.
            widest = sorted(found, key=lambda e: (-len(e.parts), e.rank, e.name))
            for drop in ordered:
                for keep in widest:
                    if keep is drop or keep.name in reported or not covers(keep, drop):
                        continue
                    if covers(drop, keep) and (drop.rank, drop.name) < (keep.rank, keep.name):
                        continue  # equal twins: the other one of the pair is reported
                    reported.add(drop.name)
                    how = "duplicates" if keep.parts == drop.parts else "is a prefix of"
                    yield finding(
                        drop,
                        f"{drop.label()} on {table.key} {how} {keep.label()}: it serves no"
                        f" query the other does not, and every write to {table.key} updates"
                        " both",
                        help=_remedy(drop, table),
                    )
                    break


def _may_overlap(table: Table) -> bool:
    """Whether two of the table's key column lists are equal or one is a prefix of the
    other: the cheap test that spares reading index definitions on most tables."""
    lists = [c.columns for c in table.constraints if c.kind in ("p", "u") and c.columns]
    lists.extend(i.columns for i in table.indexes if i.columns)
    if len(lists) < 2:
        return False
    firsts = [columns[0] for columns in lists]
    # Overlapping lists start with the same column.
    return len(set(firsts)) < len(firsts)


def _remedy(entry: _Entry, table: Table) -> str:
    """The statement that drops ``entry``, its names quoted as PostgreSQL needs them."""
    index = sql_name(table.schema, entry.name)
    if entry.rank == 2 and table.partitioned:
        # A partitioned table's index cannot be dropped CONCURRENTLY (the server refuses).
        return (
            f"DROP INDEX {index} (a partitioned table's index cannot be dropped"
            " CONCURRENTLY: set a short lock_timeout)."
        )
    if entry.rank == 2:
        return f"DROP INDEX CONCURRENTLY {index}."
    return (
        f"ALTER TABLE {table.sql_name} DROP CONSTRAINT {quote_ident(entry.name)} (recreate any"
        " foreign key that uses it)."
    )
