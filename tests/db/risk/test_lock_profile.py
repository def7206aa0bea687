"""The lock profile, statement kind by statement kind and PostgreSQL version by version."""

from __future__ import annotations

from typing import Any

import pytest

from plimsoll.db.risk.lock_profile import ScopeLock, profile, unnamed_tables
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    ColumnInfo,
    ConstraintInfo,
    Knowledge,
    StatementProfile,
    WorkKind,
)
from plimsoll.db.sqljson import parse_json

AE = LockLevel.ACCESS_EXCLUSIVE
SUE = LockLevel.SHARE_UPDATE_EXCLUSIVE
SRE = LockLevel.SHARE_ROW_EXCLUSIVE


def prof(sql: str, version: int = 15, **knowledge: Any) -> StatementProfile:
    (statement,) = parse_json(sql).statements
    return profile(statement.kind, statement.node, Knowledge(pg_version=version, **knowledge))


def locks(p: StatementProfile) -> dict[str, LockLevel]:
    return {lock.table: lock.level for lock in p.locks}


def kinds(p: StatementProfile) -> list[WorkKind]:
    return [w.kind for w in p.work]


@pytest.mark.parametrize(
    "default",
    [
        "gen_random_uuid()",
        "clock_timestamp()",
        "random()",
        "nextval('s')",
        "public.gen_random_uuid()",
    ],
)
def test_a_volatile_default_rewrites_the_table(default: str) -> None:
    p = prof(f"ALTER TABLE orders ADD COLUMN c text DEFAULT {default}")
    assert locks(p) == {"orders": AE}
    assert p.rewrites and p.scans and p.blocks_reads and p.blocks_writes
    assert kinds(p) == [WorkKind.REWRITE]
    assert any("rewritten" in n for n in p.notes)
    assert any("backfill" in r for r in p.recommendations)


@pytest.mark.parametrize("default", ["0", "'new'", "now()", "CURRENT_TIMESTAMP", "NULL"])
def test_a_constant_or_stable_default_is_stored_in_the_catalog_since_11(default: str) -> None:
    p = prof(f"ALTER TABLE orders ADD COLUMN c timestamptz DEFAULT {default}")
    assert locks(p) == {"orders": AE}
    assert not p.rewrites and not p.scans
    assert kinds(p) == [WorkKind.CATALOG]
    assert not p.recommendations


def test_before_11_any_non_null_default_rewrites() -> None:
    assert prof("ALTER TABLE orders ADD COLUMN c int DEFAULT 0", version=10).rewrites
    assert not prof("ALTER TABLE orders ADD COLUMN c int DEFAULT NULL", version=10).rewrites


def test_function_volatility_comes_from_the_live_catalog_first() -> None:
    sql = "ALTER TABLE orders ADD COLUMN c int DEFAULT app.next_code()"
    unknown = prof(sql)
    assert unknown.rewrites and "not known" in " ".join(unknown.notes)
    assert not prof(sql, volatility={"next_code": "s"}).rewrites
    assert prof(sql, volatility={"next_code": "v"}).rewrites


def test_serial_identity_and_stored_generated_columns_rewrite() -> None:
    assert prof("ALTER TABLE t ADD COLUMN n bigserial").rewrites
    assert prof("ALTER TABLE t ADD COLUMN n bigint GENERATED ALWAYS AS IDENTITY").rewrites
    assert prof("ALTER TABLE t ADD COLUMN n int GENERATED ALWAYS AS (a * 2) STORED").rewrites


def test_add_column_constraints_add_their_work() -> None:
    p = prof("ALTER TABLE t ADD COLUMN r bigint REFERENCES parents (id)")
    assert locks(p) == {"t": AE, "parents": SRE}
    assert kinds(p) == [WorkKind.FOREIGN_KEY_SCAN]
    assert kinds(prof("ALTER TABLE t ADD COLUMN u int UNIQUE")) == [WorkKind.INDEX_BUILD]


@pytest.mark.parametrize(
    ("old", "new", "rewrites"),
    [
        ("character varying(40)", "varchar(80)", False),
        ("character varying(40)", "text", False),
        ("character varying(40)", "varchar(20)", True),
        ("text", "varchar", False),
        ("text", "varchar(10)", True),
        ("integer", "bigint", True),
        ("numeric(10,2)", "numeric(12,2)", False),
        ("numeric(10,2)", "numeric(12,3)", True),
        ("numeric(10,2)", "numeric", False),
        ("timestamp(3) without time zone", "timestamp(6)", False),
        ("cidr", "inet", False),
        ("bit varying(5)", "varbit(8)", False),
    ],
)
def test_alter_type_rewrites_unless_binary_coercible(old: str, new: str, rewrites: bool) -> None:
    columns = {"t": {"c": ColumnInfo(old)}}
    p = prof(f"ALTER TABLE t ALTER COLUMN c TYPE {new}", columns=columns)
    assert locks(p) == {"t": AE}
    assert p.rewrites is rewrites


def test_alter_type_worst_case_without_the_old_type_and_with_using() -> None:
    assert prof("ALTER TABLE t ALTER COLUMN c TYPE text").rewrites
    columns = {"t": {"c": ColumnInfo("character varying(10)")}}
    assert prof("ALTER TABLE t ALTER COLUMN c TYPE text USING c || ''", columns=columns).rewrites


def test_timestamp_to_timestamptz_is_free_in_utc_since_12() -> None:
    columns = {"t": {"c": ColumnInfo("timestamp without time zone")}}
    sql = "ALTER TABLE t ALTER COLUMN c TYPE timestamptz"
    assert not prof(sql, columns=columns, timezone_utc=True).rewrites
    assert prof(sql, version=11, columns=columns, timezone_utc=True).rewrites
    assert prof(sql, columns=columns, timezone_utc=False).rewrites


def test_set_not_null_scans_unless_a_valid_check_proves_it_since_12() -> None:
    sql = "ALTER TABLE t ALTER COLUMN c SET NOT NULL"
    assert kinds(prof(sql)) == [WorkKind.SCAN]
    proof = {"t": {"c_nn": ConstraintInfo("c", True, "CHECK ((c IS NOT NULL))")}}
    assert kinds(prof(sql, constraints=proof)) == [WorkKind.CATALOG]
    assert kinds(prof(sql, version=11, constraints=proof)) == [WorkKind.SCAN]
    not_valid = {"t": {"c_nn": ConstraintInfo("c", False, "CHECK ((c IS NOT NULL)) NOT VALID")}}
    assert kinds(prof(sql, constraints=not_valid)) == [WorkKind.SCAN]
    already = {"t": {"c": ColumnInfo("integer", not_null=True)}}
    assert kinds(prof(sql, columns=already)) == [WorkKind.CATALOG]
    assert "NOT VALID" in prof(sql).recommendations[0]


def test_check_and_foreign_keys_scan_unless_not_valid() -> None:
    check = prof("ALTER TABLE t ADD CONSTRAINT c CHECK (n > 0)")
    assert locks(check) == {"t": AE} and kinds(check) == [WorkKind.SCAN]
    assert "NOT VALID, then VALIDATE" in check.recommendations[0]
    assert kinds(prof("ALTER TABLE t ADD CONSTRAINT c CHECK (n > 0) NOT VALID")) == [
        WorkKind.CATALOG
    ]
    fk = prof("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES parents (id)")
    assert locks(fk) == {"t": SRE, "parents": SRE}
    assert fk.blocks_writes and not fk.blocks_reads
    assert kinds(fk) == [WorkKind.FOREIGN_KEY_SCAN] and fk.work[0].referenced == "parents"
    fk_nv = prof("ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (p) REFERENCES parents NOT VALID")
    assert kinds(fk_nv) == [WorkKind.CATALOG] and not fk_nv.recommendations


def test_validate_constraint_takes_share_update_exclusive() -> None:
    p = prof("ALTER TABLE t VALIDATE CONSTRAINT c")
    assert locks(p) == {"t": SUE}
    assert not p.blocks_reads and not p.blocks_writes
    assert p.work[0].kind is WorkKind.SCAN and p.work[0].concurrent
    fk = {
        "t": {"f": ConstraintInfo("f", False, "FOREIGN KEY (p) REFERENCES parents(id)", "parents")}
    }
    validated = prof("ALTER TABLE t VALIDATE CONSTRAINT f", constraints=fk)
    assert locks(validated) == {"t": SUE, "parents": LockLevel.ROW_SHARE}
    assert validated.work[0].kind is WorkKind.FOREIGN_KEY_SCAN


def test_primary_key_builds_an_index_unless_using_index() -> None:
    built = prof("ALTER TABLE t ADD PRIMARY KEY (id)")
    assert locks(built) == {"t": AE}
    assert WorkKind.INDEX_BUILD in kinds(built) and WorkKind.SCAN in kinds(built)
    assert "USING INDEX" in built.recommendations[0]
    using = prof(
        "ALTER TABLE t ADD CONSTRAINT t_pkey PRIMARY KEY USING INDEX t_id",
        columns={"t": {"id": ColumnInfo("bigint", not_null=True)}},
    )
    assert kinds(using) == [WorkKind.CATALOG]


def test_light_alter_table_forms() -> None:
    assert locks(prof("ALTER TABLE t ALTER COLUMN c SET STATISTICS 500")) == {"t": SUE}
    assert locks(prof("ALTER TABLE t SET (fillfactor = 70, autovacuum_enabled = off)")) == {
        "t": SUE
    }
    assert locks(prof("ALTER TABLE t SET (oids = false)")) == {"t": AE}
    assert locks(prof("ALTER TABLE t DISABLE TRIGGER audit")) == {"t": SRE}
    assert locks(prof("ALTER TABLE t DROP COLUMN c")) == {"t": AE}
    assert kinds(prof("ALTER TABLE t DROP COLUMN c")) == [WorkKind.CATALOG]
    assert prof("ALTER TABLE t SET TABLESPACE fast").rewrites
    assert prof("ALTER TABLE t SET LOGGED").rewrites


def test_subcommands_combine_into_one_rewrite_and_the_strongest_lock() -> None:
    p = prof(
        "ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid(), "
        "ADD CONSTRAINT c CHECK (n > 0), ALTER COLUMN n SET STATISTICS 100"
    )
    assert locks(p) == {"t": AE}
    # The check is verified while the table is copied: one pass.
    assert kinds(p) == [WorkKind.REWRITE]


def test_partitions_by_version() -> None:
    attach = "ALTER TABLE measures ATTACH PARTITION measures_2024 FOR VALUES FROM (1) TO (2)"
    assert locks(prof(attach)) == {"measures": SUE, "measures_2024": AE}
    assert locks(prof(attach, version=11)) == {"measures": AE, "measures_2024": AE}
    assert kinds(prof(attach)) == [WorkKind.SCAN]
    detach = "ALTER TABLE measures DETACH PARTITION measures_2024 CONCURRENTLY"
    assert locks(prof(detach)) == {"measures": SUE, "measures_2024": SUE}
    assert prof(detach).concurrently
    assert locks(prof("ALTER TABLE measures DETACH PARTITION measures_2024")) == {
        "measures": AE,
        "measures_2024": AE,
    }


def test_create_index_and_concurrently_differ_as_documented() -> None:
    plain = prof("CREATE INDEX orders_customer ON orders (customer_id)")
    concurrent = prof("CREATE INDEX CONCURRENTLY orders_customer ON orders (customer_id)")
    assert locks(plain) == {"orders": LockLevel.SHARE}
    assert plain.blocks_writes and not plain.blocks_reads and not plain.concurrently
    assert locks(concurrent) == {"orders": SUE}
    assert not concurrent.blocks_writes and not concurrent.blocks_reads and concurrent.concurrently
    assert plain.work[0].columns == ("customer_id",) and concurrent.work[0].concurrent
    assert "CONCURRENTLY" in plain.recommendations[0] and not concurrent.recommendations
    expression = prof("CREATE INDEX ON orders (lower(email))")
    assert expression.work[0].columns is None


def test_drop_reindex_rename_by_version() -> None:
    drop = prof("DROP INDEX orders_customer")
    assert drop.locks[0].via_index and drop.locks[0].level is AE
    assert "CONCURRENTLY" in drop.recommendations[0]
    drop_c = prof("DROP INDEX CONCURRENTLY orders_customer")
    assert drop_c.locks[0].level is SUE and drop_c.concurrently
    reindex = prof("REINDEX TABLE orders")
    assert locks(reindex) == {"orders": LockLevel.SHARE} and reindex.work[0].every_index
    assert prof("REINDEX (CONCURRENTLY) TABLE orders").locks[0].level is SUE
    assert prof("REINDEX (CONCURRENTLY) TABLE orders", version=11).locks[0].level is LockLevel.SHARE
    assert prof("ALTER INDEX i RENAME TO j").locks[0].level is SUE
    assert prof("ALTER INDEX i RENAME TO j", version=11).locks[0].level is AE
    assert locks(prof("ALTER TABLE t RENAME COLUMN a TO b")) == {"t": AE}


def test_table_level_statements() -> None:
    assert locks(prof("TRUNCATE a, b")) == {"a": AE, "b": AE}
    assert prof("VACUUM FULL orders").rewrites and locks(prof("VACUUM FULL orders")) == {
        "orders": AE
    }
    vacuum = prof("VACUUM orders")
    assert locks(vacuum) == {"orders": SUE} and vacuum.concurrently
    assert prof("CLUSTER orders USING orders_pkey").rewrites
    assert locks(prof("REFRESH MATERIALIZED VIEW totals")) == {"totals": AE}
    assert locks(prof("REFRESH MATERIALIZED VIEW CONCURRENTLY totals")) == {
        "totals": LockLevel.EXCLUSIVE
    }
    assert locks(prof("CREATE TRIGGER audit AFTER INSERT ON orders EXECUTE FUNCTION f()")) == {
        "orders": SRE
    }
    assert locks(prof("CREATE POLICY p ON orders USING (true)")) == {"orders": AE}
    assert locks(prof("LOCK TABLE orders IN SHARE MODE")) == {"orders": LockLevel.SHARE}
    assert locks(prof("COMMENT ON COLUMN orders.note IS 'x'")) == {"orders": SUE}
    assert locks(prof("DROP TRIGGER audit ON orders")) == {"orders": AE}


def test_create_statements() -> None:
    child = prof("CREATE TABLE items (id int, order_id bigint REFERENCES orders (id))")
    assert locks(child) == {"orders": SRE} and child.creates == ("items",)
    partition = prof("CREATE TABLE m_2024 PARTITION OF measures FOR VALUES FROM (1) TO (2)")
    assert locks(partition) == {"measures": AE}
    assert any("ATTACH PARTITION" in r for r in partition.recommendations)
    # Before 12, ATTACH locks the parent ACCESS EXCLUSIVE too: nothing better to advise.
    old = prof("CREATE TABLE m_2024 PARTITION OF measures FOR VALUES FROM (1) TO (2)", 11)
    assert old.recommendations == ()
    ctas = prof("CREATE TABLE copy AS SELECT * FROM orders")
    assert ctas.work[0].kind is WorkKind.ROWS and ctas.work[0].estimate
    assert ctas.creates == ("copy",) and not ctas.locks
    assert prof("CREATE TABLE copy AS SELECT * FROM orders WITH NO DATA").work[0].kind is (
        WorkKind.CATALOG
    )
    assert locks(prof("CREATE OR REPLACE VIEW v AS SELECT 1")) == {"v": AE}
    assert not prof("CREATE VIEW v AS SELECT 1").locks


def test_dml_takes_row_exclusive_and_counts_rows() -> None:
    insert = prof("INSERT INTO orders (id) VALUES (1), (2), (3)")
    assert locks(insert) == {"orders": LockLevel.ROW_EXCLUSIVE}
    assert insert.work[0].rows == 3 and not insert.work[0].estimate
    assert not insert.blocks_reads and not insert.blocks_writes
    update = prof("UPDATE orders SET state = 'x'")
    assert update.work[0].estimate and "batches" in update.recommendations[0]
    assert not prof("DELETE FROM orders WHERE id = 1").recommendations


def test_catalog_only_statements_lock_no_table() -> None:
    for sql in (
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'",
        "CREATE SCHEMA app",
        "CREATE TYPE mood AS ENUM ('a')",
        "GRANT SELECT ON orders TO reader",
        "CREATE EXTENSION IF NOT EXISTS pgcrypto",
        "SET lock_timeout = '5s'",
    ):
        p = prof(sql)
        assert p.known and not p.locks and kinds(p) == [WorkKind.CATALOG], sql


def test_unknown_statements_are_the_worst_case_and_say_so() -> None:
    block = prof("DO $$ BEGIN PERFORM 1; END $$")
    assert not block.known and block.rewrites and kinds(block) == [WorkKind.UNKNOWN]
    assert "worst case" in block.notes[0]
    cascade = prof("DROP SCHEMA app CASCADE")
    assert not cascade.known
    domain = prof("ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0)")
    assert not domain.known
    assert prof("ALTER DOMAIN positive ADD CONSTRAINT p CHECK (VALUE > 0) NOT VALID").known


def test_index_storage_parameters_and_attach_by_lock_level() -> None:
    # Checked in pg_locks on PostgreSQL 15.
    assert (
        prof("ALTER INDEX i SET (fillfactor = 80, deduplicate_items = off)").locks[0].level is SUE
    )
    assert prof("ALTER INDEX g SET (fastupdate = off)").locks[0].level is AE
    assert locks(prof("ALTER TABLE t SET (user_catalog_table = true)")) == {"t": AE}
    attach = prof("ALTER INDEX m_at ATTACH PARTITION m_1_at")
    assert locks(attach) == {"m_at": SUE, "m_1_at": AE}
    assert all(lock.via_index for lock in attach.locks)


def scope(sql: str, version: int = 15) -> ScopeLock | None:
    (statement,) = parse_json(sql).statements
    return unnamed_tables(statement.kind, statement.node, Knowledge(pg_version=version))


def test_locks_on_tables_a_statement_does_not_name() -> None:
    assert scope("VACUUM FULL") == ScopeLock(AE, "every table of the database")
    assert scope("VACUUM FULL orders") is None and scope("VACUUM") is None
    assert scope("CLUSTER") == ScopeLock(AE, "every clustered table")
    assert scope("CLUSTER orders") is None
    assert scope("REINDEX SCHEMA app") == ScopeLock(LockLevel.SHARE, "app")
    assert scope("REINDEX (CONCURRENTLY) SCHEMA app").level is SUE  # type: ignore[union-attr]
    assert scope("REINDEX TABLE orders") is None
    assert scope("DROP SCHEMA a, b CASCADE") == ScopeLock(AE, "a, b")
    assert scope("DROP SCHEMA a") is None


def test_attach_partition_names_the_checks_that_may_spare_its_scan() -> None:
    sql = "ALTER TABLE measures ATTACH PARTITION m_1 FOR VALUES FROM (0) TO (10)"
    bare = prof(sql)
    assert locks(bare) == {"measures": SUE, "m_1": AE} and WorkKind.SCAN in kinds(bare)
    assert not any("has validated CHECK" in n for n in bare.notes)
    checked = prof(
        sql,
        constraints={
            "m_1": {
                "m_1_bound": ConstraintInfo("c", True, "CHECK (at >= 0 AND at < 10)"),
                "m_1_later": ConstraintInfo("c", False, "CHECK (at > 0)"),
            }
        },
    )
    assert any("has validated CHECK constraints (m_1_bound)" in n for n in checked.notes)
    assert locks(checked) == locks(bare)  # said, not assumed: the profile stays the worst case
