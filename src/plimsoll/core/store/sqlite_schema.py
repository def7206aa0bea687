"""The SQLite store's schema: ``SCHEMA_VERSION``, its history, and the migrations that build it."""

from __future__ import annotations

# Schema versions, one line each; a new version appends a migration to MIGRATIONS below.
#   1: meta (key/value, holds the schema version), outbox (pending and delivered notifications,
#      with a dedupe key), breaker (consecutive failures and opening time per channel).
#   2: migration_runs (one row per migration applied or reverted: timing, outcome, server
#      version, the tables it touched with their sizes), for risk prediction.
#   3: query_baselines (a query's baseline per database; a replaced one is kept, superseded,
#      as history), query_samples (the measurements of each baseline), baseline_checks (every
#      regression check's verdict), operation_timings (how long plimsoll's own operations
#      took, for its objectives).
#   4: outbox.dead_at (an item given up: kept to be seen, no longer holding its channel's
#      later items) and outbox_live (a channel's undelivered items in order: what the claim
#      looks up to deliver each channel's items first in, first out).
SCHEMA_VERSION = 4

# MIGRATIONS[n] takes a database from version n-1 to version n; all pending ones run in order
# inside one transaction, so a store is never left half-migrated.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            channel TEXT NOT NULL,
            dedupe_key TEXT,
            payload TEXT NOT NULL,
            created_at REAL NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at REAL NOT NULL,
            last_error TEXT,
            delivered_at REAL
        )
        """,
        "CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at)",
        "CREATE INDEX outbox_key ON outbox (channel, dedupe_key)",
        """
        CREATE TABLE breaker (
            channel TEXT PRIMARY KEY,
            failures INTEGER NOT NULL DEFAULT 0,
            opened_at REAL
        )
        """,
    ),
    2: (
        """
        CREATE TABLE migration_runs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            version TEXT NOT NULL,
            name TEXT NOT NULL,
            direction TEXT NOT NULL,
            started_at REAL NOT NULL,
            finished_at REAL NOT NULL,
            duration_ms INTEGER NOT NULL,
            outcome TEXT NOT NULL,
            error TEXT,
            server_version INTEGER,
            tables TEXT NOT NULL DEFAULT '[]'
        )
        """,
        "CREATE INDEX migration_runs_version ON migration_runs (database, version)",
    ),
    3: (
        """
        CREATE TABLE query_baselines (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            query_key TEXT NOT NULL,
            name TEXT,
            query TEXT NOT NULL,
            metric TEXT NOT NULL,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            superseded_at REAL
        )
        """,
        "CREATE INDEX query_baselines_key ON query_baselines (database, query_key, superseded_at)",
        """
        CREATE TABLE query_samples (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            baseline_id INTEGER NOT NULL REFERENCES query_baselines (id) ON DELETE CASCADE,
            recorded_at REAL NOT NULL,
            value REAL NOT NULL,
            execution_ms REAL,
            planning_ms REAL,
            total_cost REAL,
            rows REAL,
            shared_hit INTEGER,
            shared_read INTEGER,
            plan TEXT NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX query_samples_baseline ON query_samples (baseline_id)",
        """
        CREATE TABLE baseline_checks (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            database TEXT NOT NULL,
            query_key TEXT NOT NULL,
            baseline_id INTEGER,
            checked_at REAL NOT NULL,
            status TEXT NOT NULL,
            improved INTEGER NOT NULL DEFAULT 0,
            stale INTEGER NOT NULL DEFAULT 0,
            metric TEXT NOT NULL,
            current REAL NOT NULL,
            mean REAL,
            stddev REAL,
            low REAL,
            high REAL,
            samples INTEGER NOT NULL DEFAULT 0,
            change REAL,
            message TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX baseline_checks_key ON baseline_checks (database, query_key, checked_at)",
        """
        CREATE TABLE operation_timings (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            operation TEXT NOT NULL,
            seconds REAL NOT NULL,
            recorded_at REAL NOT NULL,
            ok INTEGER NOT NULL DEFAULT 1
        )
        """,
        "CREATE INDEX operation_timings_operation ON operation_timings (operation, recorded_at)",
    ),
    4: (
        "ALTER TABLE outbox ADD COLUMN dead_at REAL",
        "CREATE INDEX outbox_live ON outbox (channel, id)"
        " WHERE delivered_at IS NULL AND dead_at IS NULL",
    ),
}

META_DDL = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
