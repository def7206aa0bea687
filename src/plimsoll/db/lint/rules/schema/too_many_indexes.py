"""too-many-indexes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Table
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.rules.schema._objects import TableLimitRule


class TooManyIndexes(TableLimitRule):
    """Tables carry a bounded number of indexes (10 by default).

    **Problem.** Every index on a table is maintained by every write: an INSERT adds an
    entry to each one, and an UPDATE that changes any indexed column (BRIN indexes aside,
    from PostgreSQL 16) cannot be a HOT (heap-only tuple) update, so it adds an entry to
    every index, changed column or not.

    **Why.** Past a dozen or so indexes the writes pay for all of them: more WAL, more
    replication lag, more vacuum work and more memory for the cache. Indexes also pile up
    unnoticed, each added for one query, many later unused (``pg_stat_user_indexes.
    idx_scan`` says which).

    **Fix.** Drop unused and redundant indexes (see ``redundant-index``), merge those that
    share leading columns into one multicolumn index, use partial indexes for the rows
    queries really filter on. ``max_indexes`` (default 10) sets the limit; the indexes of
    primary key, unique and exclusion constraints count.

    **Example.**

    ```sql
    -- instead of one index per status value, one partial index for the rows queried
    CREATE INDEX orders_open_created_idx ON orders (created_at) WHERE status = 'open';
    ```
    """

    id = "too-many-indexes"
    severity = Severity.WARNING
    help = "Drop unused or redundant indexes; merge or make partial those that overlap."
    counted = "indexes"
    cost = "every INSERT, and every UPDATE of an indexed column, writes to all of them"

    class Options(BaseModel):
        """``max_indexes``: the most indexes a table may have (constraint indexes included)."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        max_indexes: int = Field(default=10, ge=1)

    def limit(self) -> int:
        """``max_indexes``."""
        limit: int = self.options.max_indexes
        return limit

    def count(self, table: Table, limit: int) -> int:
        """The table's indexes, those of its primary key, unique and exclusion constraints included."""
        count = len(table.indexes)
        if count + len(table.constraints) <= limit:
            return count  # cannot reach the limit: skip counting the constraints
        return count + sum(1 for c in table.constraints if c.kind in ("p", "u", "x"))
