"""The state store interface every backend implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from plimsoll.core.store.records import (
    BaselineCheck,
    BreakerState,
    MigrationRun,
    OperationTiming,
    OutboxItem,
    QueryBaseline,
    QuerySample,
)

if TYPE_CHECKING:
    from plimsoll.core.config import StoreConfig

# Where the SQLite store lives by default, relative to the project root.
DEFAULT_PATH = ".plimsoll/state.db"


class Store(ABC):
    """The state store interface: every backend (SQLite, PostgreSQL) implements it.

    Times are Unix timestamps in seconds (UTC), passed in by the caller so logic stays testable.
    """

    @property
    @abstractmethod
    def schema_version(self) -> int:
        """Return the schema version of the opened store."""

    @abstractmethod
    def close(self) -> None:
        """Release the store's connection."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- outbox ---------------------------------------------------------------------------

    @abstractmethod
    def outbox_add(
        self,
        channel: str,
        payload: Mapping[str, Any],
        *,
        now: float,
        next_attempt_at: float,
        attempts: int = 0,
        last_error: str | None = None,
        dedupe_key: str | None = None,
    ) -> int:
        """Keep ``payload`` for ``channel`` and return its outbox id.

        With a ``dedupe_key``, a live item of the same channel and key is replaced by the
        newer payload (its id, so its place in the channel's order, and its attempts kept)
        rather than queued twice.
        """

    @abstractmethod
    def outbox_claim(
        self,
        now: float,
        *,
        lease_seconds: float,
        channels: Sequence[str] | None = None,
        limit: int = 100,
    ) -> list[OutboxItem]:
        """Take the live items due at ``now``, oldest first, leasing them for a while.

        A claimed item is hidden from other claimers for ``lease_seconds``, so two processes
        flushing at once never deliver the same item twice. First in, first out per channel:
        an item is taken only with every older live item of its channel, so one that is not
        due yet (waiting for a retry, or leased by another claimer) holds the later ones back.
        """

    @abstractmethod
    def outbox_delivered(self, item_id: int, now: float) -> None:
        """Mark an outbox item as delivered at ``now``."""

    @abstractmethod
    def outbox_failed(self, item_id: int, *, error: str, next_attempt_at: float) -> None:
        """Record a failed attempt on an outbox item and when to try again."""

    @abstractmethod
    def outbox_postpone(self, item_id: int, next_attempt_at: float) -> None:
        """Move an item's next attempt without counting an attempt (e.g. its breaker is open)."""

    @abstractmethod
    def outbox_supersede(self, channel: str, dedupe_key: str, now: float) -> int:
        """Retire the undelivered items of ``channel`` with ``dedupe_key``: a newer one went out."""

    @abstractmethod
    def outbox_give_up(self, item_id: int, *, now: float, error: str) -> None:
        """Stop trying an item: it is kept (with why) but no longer holds its channel back."""

    @abstractmethod
    def outbox_revive(self, item_id: int, *, next_attempt_at: float, error: str) -> None:
        """Undo :meth:`outbox_give_up`: the item is live again (its last error ``error``),
        due at ``next_attempt_at``."""

    @abstractmethod
    def outbox_pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the live items (neither delivered nor given up), oldest first, optionally
        of one channel."""

    @abstractmethod
    def outbox_head(self, channel: str) -> OutboxItem | None:
        """Return the oldest live item of ``channel`` (the next to go out), or None."""

    @abstractmethod
    def outbox_given_up(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the items given up (until purged), oldest first, optionally of one channel."""

    @abstractmethod
    def outbox_get(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item by id, or None."""

    @abstractmethod
    def outbox_purge(self, delivered_before: float) -> int:
        """Delete items delivered (or given up) before ``delivered_before``; return how many."""

    # --- circuit breaker ------------------------------------------------------------------

    @abstractmethod
    def breaker_get(self, channel: str) -> BreakerState:
        """Return the breaker state of ``channel`` (closed with no failures when unknown)."""

    @abstractmethod
    def breaker_failure(self, channel: str, *, now: float, threshold: int) -> BreakerState:
        """Count one more consecutive failure; open (or re-open) the breaker at ``threshold``."""

    @abstractmethod
    def breaker_success(self, channel: str) -> None:
        """Close the breaker of ``channel`` and forget its failures."""

    # --- migration runs -------------------------------------------------------------------

    @abstractmethod
    def ensure_part_schema(self, part: str, migrations: Sequence[Sequence[str]]) -> int:
        """Bring a part's own tables up to date; return their schema version.

        A part (runtime alerts, usage analytics, ...) keeps its tables in the store without the
        core knowing them: ``migrations[n]`` holds the statements that take its tables from
        version ``n`` to ``n + 1``; the version reached is kept in ``meta`` as
        ``schema.<part>``. Applied in one transaction; a store written by a newer plimsoll
        (a higher version than the part knows) is refused with CannotRunError.
        """

    @abstractmethod
    def migration_run_add(self, run: MigrationRun) -> int:
        """Record one migration applied or reverted; return its id."""

    @abstractmethod
    def migration_runs(self, database: str | None = None, limit: int = 1000) -> list[MigrationRun]:
        """The recorded runs, newest first (of one database when given)."""

    # --- query baselines ------------------------------------------------------------------

    @abstractmethod
    def baseline_record(
        self, baseline: QueryBaseline, samples: Sequence[QuerySample], *, append: bool = False
    ) -> QueryBaseline:
        """Store ``samples`` as the current baseline of ``baseline``'s query; return it, stored.

        By default the query's current baseline (if any) is superseded, kept as history, and a
        new one starts at ``baseline.updated_at``. With ``append`` the samples join the current
        baseline of the same metric instead (one is started when there is none).
        """

    @abstractmethod
    def baseline_get(self, database: str, query_key: str) -> QueryBaseline | None:
        """The current baseline of one query, with its samples, or None."""

    @abstractmethod
    def baselines(
        self,
        database: str | None = None,
        *,
        query_key: str | None = None,
        include_superseded: bool = False,
    ) -> list[QueryBaseline]:
        """Baselines with their samples, by query then newest first (current ones by default)."""

    @abstractmethod
    def baseline_checks_add(self, checks: Sequence[BaselineCheck]) -> None:
        """Keep the verdicts of one regression check."""

    @abstractmethod
    def baseline_checks(
        self, database: str | None = None, *, query_key: str | None = None, limit: int = 1000
    ) -> list[BaselineCheck]:
        """Past verdicts, newest first (of one database and one query when given)."""

    # --- operation timings ----------------------------------------------------------------

    @abstractmethod
    def timings_add(self, timings: Sequence[OperationTiming]) -> None:
        """Keep how long some of plimsoll's own operations took."""

    @abstractmethod
    def timings(
        self, operation: str | None = None, *, since: float | None = None
    ) -> list[OperationTiming]:
        """Recorded timings, oldest first (of one operation, from ``since``, when given)."""

    @abstractmethod
    def timings_purge(self, before: float) -> int:
        """Delete timings recorded before ``before``; return how many went."""


def open_store(
    path: str | Path = DEFAULT_PATH, *, url: str | None = None, root: Path | None = None
) -> Store:
    """Open the configured store: PostgreSQL at ``url`` when given, else SQLite at ``path``.

    A relative ``path`` is taken from ``root``. The PostgreSQL backend (and psycopg) is imported
    only when a URL asks for it, so every other command starts without it.
    """
    if url is not None and url.strip():
        from plimsoll.core.store.postgres import PostgresStore

        return PostgresStore(url.strip())
    from plimsoll.core.store.sqlite import SqliteStore

    target = Path(path)
    if root is not None and not target.is_absolute():
        target = root / target
    return SqliteStore(target)


def open_configured(settings: StoreConfig, root: Path) -> Store:
    """The store the ``store`` section of a configuration names, relative to the project root.

    An empty ``url`` (``url = "${PLIMSOLL_STORE_URL:-}"`` with the variable unset) means SQLite.
    """
    url = settings.url.get_secret_value() if settings.url is not None else None
    return open_store(settings.path, url=url, root=root)
