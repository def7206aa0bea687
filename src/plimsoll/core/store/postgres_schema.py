"""The PostgreSQL store's schema: its own ``SCHEMA_VERSION``, history and migrations.

The tables hold what the SQLite store's do, with PostgreSQL types: identity keys, ``double
precision`` Unix timestamps (the records carry floats, so both backends return the same
values), ``boolean`` flags and ``jsonb`` documents. They live in one schema of their own
(``plimsoll`` unless the URL chooses another, see :mod:`plimsoll.core.store.postgres_connection`),
so they never mix with an application's tables.
"""

from __future__ import annotations

# The table holding the schema version (key ``schema_version``) and each part's version
# (key ``schema.<part>``); named so it is recognisable even in a shared schema.
META_TABLE = "plimsoll_store_meta"

META_DDL = f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key text PRIMARY KEY, value text NOT NULL)"

# Schema versions, one line each; a new version appends a migration to MIGRATIONS below.
#   1: outbox (with a unique undelivered dedupe key per channel), breaker, migration_runs,
#      query_baselines, query_samples, baseline_checks, operation_timings: the content of
#      the SQLite store's version 3.
#   2: outbox.dead_at (an item given up, as the SQLite store's version 4): the claim and
#      the dedupe key's unique index now cover the live items (neither delivered nor given
#      up), and outbox_live lists the live items in order for the first in, first out
#      claim.
SCHEMA_VERSION = 2

# MIGRATIONS[n] takes the schema from version n-1 to version n; pending ones run in order in
# one transaction under an advisory lock, so concurrent openers migrate it exactly once.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """
        CREATE TABLE outbox (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            channel text NOT NULL,
            dedupe_key text,
            payload jsonb NOT NULL,
            created_at double precision NOT NULL,
            attempts integer NOT NULL DEFAULT 0,
            next_attempt_at double precision NOT NULL,
            last_error text,
            delivered_at double precision
        )
        """,
        # The claim query: undelivered and due, oldest first.
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE delivered_at IS NULL",
        # One undelivered item per channel and key: what makes the dedupe an atomic upsert.
        "CREATE UNIQUE INDEX outbox_pending_key ON outbox (channel, dedupe_key)"
        " WHERE delivered_at IS NULL AND dedupe_key IS NOT NULL",
        "CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL",
        """
        CREATE TABLE breaker (
            channel text PRIMARY KEY,
            failures integer NOT NULL DEFAULT 0,
            opened_at double precision
        )
        """,
        """
        CREATE TABLE migration_runs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            database text NOT NULL,
            version text NOT NULL,
            name text NOT NULL,
            direction text NOT NULL,
            started_at double precision NOT NULL,
            finished_at double precision NOT NULL,
            duration_ms bigint NOT NULL,
            outcome text NOT NULL,
            error text,
            server_version integer,
            tables jsonb NOT NULL DEFAULT '[]'
        )
        """,
        "CREATE INDEX migration_runs_version ON migration_runs (database, version)",
        """
        CREATE TABLE query_baselines (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            database text NOT NULL,
            query_key text NOT NULL,
            name text,
            query text NOT NULL,
            metric text NOT NULL,
            created_at double precision NOT NULL,
            updated_at double precision NOT NULL,
            superseded_at double precision
        )
        """,
        "CREATE INDEX query_baselines_key ON query_baselines (database, query_key, superseded_at)",
        """
        CREATE TABLE query_samples (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            baseline_id bigint NOT NULL REFERENCES query_baselines (id) ON DELETE CASCADE,
            recorded_at double precision NOT NULL,
            value double precision NOT NULL,
            execution_ms double precision,
            planning_ms double precision,
            total_cost double precision,
            rows double precision,
            shared_hit bigint,
            shared_read bigint,
            plan jsonb NOT NULL DEFAULT '{}'
        )
        """,
        "CREATE INDEX query_samples_baseline ON query_samples (baseline_id)",
        """
        CREATE TABLE baseline_checks (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            database text NOT NULL,
            query_key text NOT NULL,
            baseline_id bigint,
            checked_at double precision NOT NULL,
            status text NOT NULL,
            improved boolean NOT NULL DEFAULT false,
            stale boolean NOT NULL DEFAULT false,
            metric text NOT NULL,
            current double precision NOT NULL,
            mean double precision,
            stddev double precision,
            low double precision,
            high double precision,
            samples integer NOT NULL DEFAULT 0,
            change double precision,
            message text NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX baseline_checks_key ON baseline_checks (database, query_key, checked_at)",
        """
        CREATE TABLE operation_timings (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            operation text NOT NULL,
            seconds double precision NOT NULL,
            recorded_at double precision NOT NULL,
            ok boolean NOT NULL DEFAULT true
        )
        """,
        "CREATE INDEX operation_timings_operation ON operation_timings (operation, recorded_at)",
    ),
    2: (
        "ALTER TABLE outbox ADD COLUMN dead_at double precision",
        "DROP INDEX outbox_due",
        "CREATE INDEX outbox_due ON outbox (next_attempt_at, id)"
        " WHERE delivered_at IS NULL AND dead_at IS NULL",
        "DROP INDEX outbox_pending_key",
        "CREATE UNIQUE INDEX outbox_pending_key ON outbox (channel, dedupe_key)"
        " WHERE delivered_at IS NULL AND dead_at IS NULL AND dedupe_key IS NOT NULL",
        # The live items in order: the claim's scan, which the planner would otherwise take
        # along the primary key through every delivered row kept for the retention.
        "CREATE INDEX outbox_live ON outbox (id) WHERE delivered_at IS NULL AND dead_at IS NULL",
    ),
}
