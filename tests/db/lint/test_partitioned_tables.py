"""Schema rules over partitioned tables and their partitions, read from a real database.

A partitioned table is the table queries name: the rules about what a table holds (a primary
key, a comment, an index for each foreign key, column types) look at it, once, and not again
at each partition (whose columns, keys and inherited indexes are the parent's). The rules
about names and direct access look at the partitions too.
"""

from __future__ import annotations

from plimsoll.db.catalog import Catalog
from plimsoll.db.introspect import introspect
from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import SourceFile, lint_catalog, lint_sources
from plimsoll.db.lint.registry import load_registry
from tests.support.postgres import PgDatabase

RULES = [
    "require-primary-key",
    "require-table-comment",
    "require-foreign-key-index",
    "naming-snake-case",
    "security-public-grant",
    "foreign-key-type-mismatch",
]

SCHEMA = """
CREATE TABLE accounts (id bigint PRIMARY KEY);
COMMENT ON TABLE accounts IS 'who pays';
CREATE TABLE "Events" (
    id bigint,
    day date NOT NULL,
    account_id integer REFERENCES accounts (id),
    password text
) PARTITION BY RANGE (day);
CREATE TABLE events_2024 PARTITION OF "Events" FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE "Events_2025" PARTITION OF "Events"
    FOR VALUES FROM ('2025-01-01') TO ('2026-01-01') PARTITION BY LIST (account_id);
CREATE TABLE events_2025_rest PARTITION OF "Events_2025" DEFAULT;
GRANT SELECT ON "Events_2025" TO PUBLIC;

CREATE TABLE visits (
    day date NOT NULL,
    account_id bigint NOT NULL REFERENCES accounts (id),
    PRIMARY KEY (account_id, day)
) PARTITION BY RANGE (day);
COMMENT ON TABLE visits IS 'page views';
CREATE TABLE visits_2024 PARTITION OF visits FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
"""


def _catalog(pg_database: PgDatabase) -> Catalog:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(SCHEMA)  # type: ignore[arg-type]
    return introspect(pg_database.dsn)


def _findings(catalog: Catalog) -> list[tuple[str, str]]:
    active, audit = compose(load_registry(), [], select=RULES)
    report = lint_catalog(catalog, active, audit, pg_version=16)
    return sorted((f.rule, f.object or "") for f in report.findings)


def _static_findings(sql: str) -> list[tuple[str, str, int]]:
    """The findings of the schema file ``sql``, built statically, with their lines."""
    active, audit = compose(load_registry(), [], select=RULES)
    report = lint_sources(
        [SourceFile("schema.sql", sql, migration=False)], active, audit, pg_version=16
    )
    return sorted((f.rule, f.object or "", f.line) for f in report.findings)


def test_rules_see_a_partitioned_table_once_and_partitions_where_they_matter(
    pg_database: PgDatabase,
) -> None:
    catalog = _catalog(pg_database)
    # Introspection keeps them apart from plain tables.
    assert sorted(catalog.tables) == ["public.accounts"]
    assert sorted(catalog.partitioned) == ["public.Events", "public.Events_2025", "public.visits"]
    assert [t.key for t in catalog.all_tables()] == [
        "public.accounts",
        "public.Events",
        "public.visits",
    ]
    assert len(list(catalog.all_tables(partitions=True))) == 7
    assert (
        catalog.find_table("public.events_2025_rest")
        is catalog.partitions["public.events_2025_rest"]
    )
    assert catalog.find_table("public.nothing") is None

    assert _findings(catalog) == [
        ("foreign-key-type-mismatch", "public.Events.account_id"),
        ("naming-snake-case", "public.Events"),
        # The server named the key after the table.
        ("naming-snake-case", "public.Events.Events_account_id_fkey"),
        # A partition's own name (its columns are the parent's, reported there).
        ("naming-snake-case", "public.Events_2025"),
        ("require-foreign-key-index", "public.Events.Events_account_id_fkey"),
        ("require-primary-key", "public.Events"),
        ("require-table-comment", "public.Events"),
        # Read directly under its own grants: PUBLIC reads the parent's passwords through it.
        ("security-public-grant", "public.Events_2025"),
    ]


def test_a_well_kept_partitioned_table_is_clean(pg_database: PgDatabase) -> None:
    catalog = _catalog(pg_database)
    visits = [f for f in _findings(catalog) if "visits" in f[1]]
    # Its primary key leads with the foreign key's column: that index serves the key.
    assert visits == []


def test_the_schema_files_built_statically_give_the_live_databases_findings(
    pg_database: PgDatabase,
) -> None:
    live = _findings(_catalog(pg_database))
    static = _static_findings(SCHEMA)
    assert [(rule, key) for rule, key, _line in static] == live
    # Each at the line that made the object: the table, its column, the partition; the
    # PUBLIC grant at the GRANT.
    assert [line for _rule, _key, line in static] == [7, 4, 7, 11, 7, 4, 4, 14]
    lines = SCHEMA.splitlines()
    assert lines[3].startswith('CREATE TABLE "Events" (')
    assert lines[6].strip().startswith("account_id integer REFERENCES")
    assert lines[10].startswith('CREATE TABLE "Events_2025" PARTITION OF')
    assert lines[13].startswith('GRANT SELECT ON "Events_2025" TO PUBLIC')


def test_remedies_on_a_partitioned_table_avoid_what_it_refuses() -> None:
    # A partitioned table refuses CREATE INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY
    # (checked on PostgreSQL 15): the help gives what works there instead.
    sql = """
    CREATE TABLE accounts (id bigint PRIMARY KEY);
    CREATE TABLE plain (id bigint PRIMARY KEY, account_id bigint REFERENCES accounts (id));
    CREATE TABLE parted (day date NOT NULL, account_id bigint REFERENCES accounts (id))
        PARTITION BY RANGE (day);
    CREATE INDEX parted_day_idx ON parted (day);
    CREATE INDEX parted_day_account_idx ON parted (day, account_id);
    CREATE INDEX plain_a_idx ON plain (account_id, id);
    CREATE INDEX plain_b_idx ON plain (account_id);
    """
    active, audit = compose(
        load_registry(), [], select=["require-foreign-key-index", "redundant-index"]
    )
    report = lint_sources(
        [SourceFile("schema.sql", sql, migration=False)], active, audit, pg_version=16
    )
    helps = {(f.rule, f.object): f.help or "" for f in report.findings}
    fk = helps[("require-foreign-key-index", "public.parted.parted_account_id_fkey")]
    assert fk.startswith("CREATE INDEX ... ON ONLY public.parted (account_id)")
    assert "CONCURRENTLY on each partition" in fk
    (redundant,) = [
        h for (rule, key), h in helps.items() if rule == "redundant-index" and "parted" in key
    ]
    assert redundant.startswith("DROP INDEX public.parted_day_idx (")
    assert "cannot be dropped CONCURRENTLY" in redundant
    (plain,) = [
        h for (rule, key), h in helps.items() if rule == "redundant-index" and "plain" in key
    ]
    assert plain == "DROP INDEX CONCURRENTLY public.plain_b_idx."


def test_a_check_validated_by_an_earlier_migration_lets_the_attach_pass() -> None:
    # The recipe across migrations: the CHECK validated in one, the partition attached in the
    # next (VALIDATE wants a transaction of its own).
    validate = (
        "ALTER TABLE events_2025 ADD CONSTRAINT events_2025_bound"
        " CHECK (day >= '2025-01-01' AND day < '2026-01-01') NOT VALID;\n"
        "ALTER TABLE events_2025 VALIDATE CONSTRAINT events_2025_bound;\n"
    )
    attach = (
        "ALTER TABLE events ATTACH PARTITION events_2025"
        " FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');\n"
    )
    active, audit = compose(load_registry(), [], select=["require-check-before-attach"])

    def findings(*files: tuple[str, str]) -> list[str]:
        sources = [SourceFile(name, text, migration=True) for name, text in files]
        report = lint_sources(sources, active, audit, pg_version=16)
        return [f"{f.file}:{f.line}" for f in report.findings]

    assert findings(("0001_check.sql", validate), ("0002_attach.sql", attach)) == []
    assert findings(("0002_attach.sql", attach)) == ["0002_attach.sql:1"]
    # Order matters: a CHECK validated after the attach does not help it.
    assert findings(("0001_attach.sql", attach), ("0002_check.sql", validate)) == [
        "0001_attach.sql:1"
    ]
