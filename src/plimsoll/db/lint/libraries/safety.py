"""The ``safety`` library: migration-safety rules (on by default).

What a migration does to a live table (locks, rewrites, scans, failures on existing rows),
what breaks running code (renames, drops), what cannot be re-run, and column types that are
costly to change later. It covers every rule squawk runs by default that is about locks,
rewrites and types; see ``bench/bench_lint.py`` for the side-by-side agreement.
"""

from plimsoll.db.lint.library import Library

LIBRARY = Library.of(
    "safety",
    "1.4.0",
    "What a migration does to a live table: locks, rewrites, scans, and how to avoid them.",
    # Locks and rewrites
    "require-concurrent-index-creation",
    "require-concurrent-index-deletion",
    "require-concurrent-reindex",
    "require-concurrent-refresh",
    "require-unique-index-for-concurrent-refresh",
    "ban-concurrent-index-on-partitioned-table",
    "require-concurrent-partition-detach",
    "require-check-before-attach",
    "prefer-attach-partition",
    "adding-field-with-default",
    "adding-required-field",
    "adding-not-nullable-field",
    "constraint-missing-not-valid",
    "adding-foreign-key-constraint",
    "adding-primary-key-constraint",
    "disallowed-unique-constraint",
    "changing-column-type",
    "ban-drop-not-null",
    "ban-vacuum-full",
    "ban-cluster",
    "ban-truncate-cascade",
    "ban-create-domain-with-constraint",
    "ban-alter-domain-with-add-constraint",
    # Transactions and timeouts
    "transaction-nesting",
    "ban-concurrent-index-creation-in-transaction",
    "ban-uncommitted-transaction",
    "ban-non-transactional-statement-in-transaction",
    "ban-uncommitted-enum-value",
    "require-lock-timeout",
    "require-statement-timeout",
    # What breaks running code, and re-runs
    "renaming-column",
    "renaming-table",
    "ban-drop-column",
    "ban-drop-table",
    "ban-drop-database",
    "ban-drop-default",
    "require-enum-value-ordering",
    "prefer-robust-stmts",
    # Types that are costly to change later
    "prefer-identity",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-text-field",
    "ban-char-field",
    "prefer-timestamp-tz",
    "prefer-jsonb",
)
