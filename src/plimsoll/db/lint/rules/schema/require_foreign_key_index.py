"""require-foreign-key-index."""

from __future__ import annotations

import re
from collections.abc import Iterator

from plimsoll.db.catalog import Catalog, Table, quote_ident
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation

_NOT_NULL_TEST = re.compile(r'^"?([^"\s()]+)"?\s+is\s+not\s+null$', re.IGNORECASE)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def _not_null_columns(predicate: str) -> set[str] | None:
    """The columns a predicate made only of ``col IS NOT NULL`` tests names, else None."""
    out: set[str] = set()
    for part in _AND.split(predicate):
        match = _NOT_NULL_TEST.match(part.strip().strip("()").strip())
        if match is None:
            return None
        out.add(match.group(1))
    return out


def index_prefixes(table: Table) -> list[tuple[tuple[str, ...], set[str] | None]]:
    """The key columns of every index that can serve an equality lookup on a prefix.

    Each entry is (key columns, the columns a partial index requires NOT NULL, or None for a
    full index). B-tree indexes serve any leading prefix; a hash index only its one column;
    GiST, GIN, BRIN and exclusion-constraint indexes are left out.
    """
    out: list[tuple[tuple[str, ...], set[str] | None]] = []
    for constraint in table.constraints:
        if constraint.kind in ("p", "u") and constraint.columns:
            out.append((constraint.columns, None))
    for index in table.indexes:
        if not index.columns or index.method not in ("btree", "hash"):
            continue
        columns = index.columns if index.method == "btree" else index.columns[:1]
        if index.predicate:
            required = _not_null_columns(index.predicate)
            if required is None:
                continue  # a partial index on some other condition misses rows
            out.append((columns, required))
        else:
            out.append((columns, None))
    return out


def is_indexed(
    columns: tuple[str, ...], prefixes: list[tuple[tuple[str, ...], set[str] | None]]
) -> bool:
    """Whether some index's leading columns are ``columns`` (in any order)."""
    wanted = set(columns)
    size = len(columns)
    for keys, required in prefixes:
        if len(keys) < size or set(keys[:size]) != wanted:
            continue
        # A partial index WHERE fk IS NOT NULL holds every row a lookup by key can find.
        if required is None or required <= wanted:
            return True
    return False


class RequireForeignKeyIndex(SchemaRule):
    """Every foreign key has an index on its columns.

    **Problem.** PostgreSQL indexes the referenced side of a foreign key (it must be a
    primary key or unique) but never the referencing side. Without an index whose leading
    columns are the foreign key's columns, every ``DELETE`` of a referenced row, and every
    ``UPDATE`` of its key, scans the whole referencing table to find (or rule out) rows that
    point at it; with ``ON DELETE CASCADE`` each cascaded delete does the same.

    **Why.** A delete on a small parent table turns into a sequential scan of a large child
    table, once per deleted row, while the parent row is locked; joins from the parent to
    the child (``WHERE customer_id = $1``), the most common query on the child, scan too.

    **Fix.** Create an index whose first columns are the foreign key's columns, in any
    order (``CREATE INDEX CONCURRENTLY`` on a live table). Primary key and unique
    constraints count, so do B-tree indexes (a hash index for a one-column key) and partial
    indexes whose only condition is ``<key column> IS NOT NULL``. One finding per foreign
    key, at its definition.

    **Example.**

    ```sql
    CREATE TABLE orders (
        id bigint PRIMARY KEY,
        customer_id bigint NOT NULL REFERENCES customers (id)
    );
    -- without this, DELETE FROM customers scans orders for every customer deleted
    CREATE INDEX orders_customer_id_idx ON orders (customer_id);
    ```
    """

    id = "require-foreign-key-index"
    severity = Severity.WARNING
    help = "Create an index on the foreign key's columns (CONCURRENTLY on a live table)."

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag each foreign key whose columns lead no index of its table."""
        for table in catalog.all_tables():
            prefixes: list[tuple[tuple[str, ...], set[str] | None]] | None = None
            for constraint in table.constraints:
                if constraint.kind != "f" or not constraint.columns:
                    continue
                if prefixes is None:
                    prefixes = index_prefixes(table)
                if is_indexed(constraint.columns, prefixes):
                    continue
                columns = ", ".join(constraint.columns)
                referenced = constraint.references or "the referenced table"
                yield Violation(
                    f"foreign key {constraint.name} on {table.key} ({columns}) has no index:"
                    f" each DELETE or key UPDATE on {referenced} scans {table.key} for"
                    f" referencing rows, and joins on ({columns}) scan it too",
                    object=f"{table.key}.{constraint.name}",
                    origin=constraint.origin,
                    help=_remedy(table, constraint.columns),
                )


def _remedy(table: Table, columns: tuple[str, ...]) -> str:
    """The index to create; on a partitioned table (which refuses CONCURRENTLY), the recipe."""
    keys = ", ".join(quote_ident(c) for c in columns)
    if table.partitioned:
        return (
            f"CREATE INDEX ... ON ONLY {table.sql_name} ({keys}), then CREATE INDEX CONCURRENTLY"
            " on each partition and ALTER INDEX ... ATTACH PARTITION each (a partitioned table"
            " refuses CONCURRENTLY)."
        )
    return f"CREATE INDEX CONCURRENTLY ON {table.sql_name} ({keys})."
