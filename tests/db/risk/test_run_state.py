"""Reading a run in order (pure logic): search_path, earlier statements, CASCADE, failures,
timezones and what recorded runs may teach."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.store import MigrationRun
from plimsoll.db.risk.cascade import reach
from plimsoll.db.risk.learned import LearnedModel, Sample, folder_profiler, samples_from_runs
from plimsoll.db.risk.lock_profile import profile
from plimsoll.db.risk.locks import LockLevel
from plimsoll.db.risk.operations import (
    ColumnInfo,
    ColumnUser,
    ConstraintInfo,
    Dependents,
    ForeignKeyLink,
    Knowledge,
    StatementProfile,
    WorkKind,
)
from plimsoll.db.risk.paths import Qualifier, Schemas
from plimsoll.db.risk.run_state import RunState, interval_seconds, not_null_columns
from plimsoll.db.risk.type_changes import type_change_rewrites
from plimsoll.db.sqljson import parse_json, unwrap

AE = LockLevel.ACCESS_EXCLUSIVE

# customers <- orders (orders_customer_fk on customer_id); a view big_orders on orders.
LIVE = Knowledge(
    pg_version=15,
    live=True,
    timezone_utc=True,
    columns={
        "customers": {"id": ColumnInfo("bigint", True, True), "email": ColumnInfo("text")},
        "orders": {
            "id": ColumnInfo("bigint", True, True),
            "customer_id": ColumnInfo("bigint", True, True),
            "uid": ColumnInfo("uuid"),
            "created": ColumnInfo("timestamp with time zone"),
        },
    },
    constraints={
        "customers": {
            "customers_pkey": ConstraintInfo("p", columns=("id",), index="customers_pkey")
        },
        "orders": {
            "orders_customer_fk": ConstraintInfo(
                "f", referenced="customers", columns=("customer_id",)
            )
        },
    },
    missing=frozenset({"nosuch"}),
    dependents={
        "customers": Dependents(
            referencing=(
                ForeignKeyLink("orders_customer_fk", "orders", ("id",), "customers_pkey"),
            ),
            truncates=("orders", "order_lines"),
        ),
        "orders": Dependents(
            references=(ForeignKeyLink("orders_customer_fk", "customers", ("customer_id",)),),
            views=("big_orders", "bigger_orders"),
            columns={
                "customer_id": (ColumnUser("view", "big_orders", ("big_orders", "bigger_orders")),),
                "created": (ColumnUser("trigger", "audit"),),
            },
        ),
    },
)


def one(sql: str, knowledge: Knowledge = LIVE) -> StatementProfile:
    (statement,) = parse_json(sql).statements
    return reach(
        statement.kind,
        statement.node,
        profile(statement.kind, statement.node, knowledge),
        knowledge,
    )


def run(sql: str, knowledge: Knowledge = LIVE, **kw: object) -> list[StatementProfile]:
    """Profile a script in order, as the assessment does (missing things included)."""
    state = RunState(knowledge, **kw)  # type: ignore[arg-type]
    out = []
    for statement in parse_json(sql).statements:
        known = state.knowledge()
        found = reach(
            statement.kind, statement.node, profile(statement.kind, statement.node, known), known
        )
        missing = state.failure(statement.kind, statement.node, found)
        if missing:
            from dataclasses import replace

            found = replace(found, fails=missing)
        out.append(found)
        state.apply(statement.kind, statement.node, found, f"line {statement.index + 1}")
    return out


def locked(found: StatementProfile) -> dict[str, LockLevel]:
    return {lock.table: lock.level for lock in found.locks}


# --- CASCADE and what RESTRICT refuses ----------------------------------------------------


def test_truncate_cascade_empties_and_locks_the_referencing_tables() -> None:
    found = one("TRUNCATE customers CASCADE")
    assert locked(found) == {"customers": AE, "orders": AE, "order_lines": AE}
    assert all(lock.emptied for lock in found.locks)
    assert found.fails is None and found.action == "TRUNCATE customers CASCADE"
    refused = one("TRUNCATE customers")
    assert refused.fails and "orders references customers" in refused.fails
    assert one("TRUNCATE customers, orders").fails is None  # truncated together


def test_drop_table_cascade_reaches_views_and_foreign_keys() -> None:
    found = one("DROP TABLE orders CASCADE")
    assert locked(found) == {"orders": AE, "big_orders": AE, "bigger_orders": AE, "customers": AE}
    dropped = {lock.table for lock in found.locks if lock.dropped}
    assert dropped == {"orders", "big_orders", "bigger_orders"}
    customers = next(lock for lock in found.locks if lock.table == "customers")
    assert "orders_customer_fk" in (customers.reason or "") and not customers.dropped
    restrict = one("DROP TABLE orders")
    assert restrict.fails and "view big_orders" in restrict.fails
    # Without CASCADE the other side of a foreign key is locked all the same.
    assert locked(one("DROP TABLE customers CASCADE"))["orders"] is AE
    assert "constraint orders_customer_fk" in (one("DROP TABLE customers").fails or "")


def test_drop_column_and_constraint_reach_what_depends_on_them() -> None:
    column = one("ALTER TABLE customers DROP COLUMN id CASCADE")
    assert locked(column) == {"customers": AE, "orders": AE}
    assert "constraint orders_customer_fk" in (
        one("ALTER TABLE customers DROP COLUMN id").fails or ""
    )
    view = one("ALTER TABLE orders DROP COLUMN customer_id CASCADE")
    assert {"big_orders", "bigger_orders", "customers"} <= set(locked(view))
    assert one("ALTER TABLE orders DROP COLUMN uid").fails is None  # nothing uses it
    assert locked(one("ALTER TABLE orders DROP CONSTRAINT orders_customer_fk")) == {
        "orders": AE,
        "customers": AE,
    }
    assert "constraint orders_customer_fk" in (
        one("ALTER TABLE customers DROP CONSTRAINT customers_pkey").fails or ""
    )


def test_a_type_change_under_a_view_or_trigger_fails_and_rebuilds_foreign_keys() -> None:
    view = one("ALTER TABLE orders ALTER COLUMN customer_id TYPE integer")
    assert view.fails == (
        "cannot alter type of a column used by a view or rule: "
        "view big_orders depends on column customer_id"
    )
    trigger = one("ALTER TABLE orders ALTER COLUMN created TYPE timestamp")
    assert (trigger.fails or "").startswith("cannot alter type of a column used in a trigger")
    rebuilt = one("ALTER TABLE customers ALTER COLUMN id TYPE integer")
    assert rebuilt.fails is None and locked(rebuilt)["orders"] is AE
    # Rewritten: the foreign key is checked again, reading both tables.
    assert any(w.kind is WorkKind.FOREIGN_KEY_SCAN for w in rebuilt.work)


def test_without_live_facts_nothing_is_added() -> None:
    blank = Knowledge(pg_version=15)
    assert locked(one("TRUNCATE customers CASCADE", blank)) == {"customers": AE}
    assert one("DROP TABLE orders", blank).fails is None


# --- earlier statements of the run ----------------------------------------------------------


def test_a_check_validated_earlier_spares_the_not_null_scan() -> None:
    first, second, third = run(
        "ALTER TABLE orders ADD CONSTRAINT uid_nn CHECK (uid IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE orders VALIDATE CONSTRAINT uid_nn;\n"
        "ALTER TABLE orders ALTER COLUMN uid SET NOT NULL;\n"
    )
    assert not first.scans and second.scans and not third.scans
    # Not validated: the scan stays.
    _, alone = run(
        "ALTER TABLE orders ADD CONSTRAINT uid_nn CHECK (uid IS NOT NULL) NOT VALID;\n"
        "ALTER TABLE orders ALTER COLUMN uid SET NOT NULL;\n"
    )
    assert alone.scans
    assert not_null_columns(
        unwrap(
            parse_json("ALTER TABLE t ADD CHECK (a IS NOT NULL AND b > 0 AND c IS NOT NULL)")
            .statements[0]
            .node["cmds"][0]
        )[1]["def"]["Constraint"]["raw_expr"]
    ) == ("a", "c")
    # NOT (c IS NULL) proves it too (PostgreSQL 12+ skips the scan for it as well).
    assert not_null_columns(
        unwrap(
            parse_json("ALTER TABLE t ADD CHECK (NOT (d IS NULL))").statements[0].node["cmds"][0]
        )[1]["def"]["Constraint"]["raw_expr"]
    ) == ("d",)


def test_missing_and_existing_tables_and_columns_fail() -> None:
    found = run(
        "ALTER TABLE nosuch ADD COLUMN x int DEFAULT random();\n"
        "ALTER TABLE orders ALTER COLUMN nope TYPE text;\n"
        "ALTER TABLE orders ADD COLUMN uid uuid;\n"
        "ALTER TABLE orders ADD COLUMN IF NOT EXISTS uid uuid;\n"
        "CREATE TABLE orders (id int);\n"
        "ALTER TABLE orders ADD COLUMN fresh int;\n"
        "ALTER TABLE orders ALTER COLUMN fresh SET NOT NULL;\n"
        "DROP TABLE IF EXISTS nosuch;\n"
    )
    assert [f.fails for f in found] == [
        'relation "nosuch" does not exist',
        'column "nope" of relation "orders" does not exist',
        'column "uid" of relation "orders" already exists',
        None,
        'relation "orders" already exists',
        None,
        None,  # added two lines earlier
        None,
    ]


def test_relations_created_earlier_exist() -> None:
    found = run(
        "CREATE INDEX fresh_idx ON orders (uid);\nDROP INDEX fresh_idx;\n"
        "CREATE SEQUENCE fresh_seq;\nDROP SEQUENCE fresh_seq;\n"
        "ALTER INDEX orders_pkey RENAME TO orders_key;\nALTER INDEX orders_key SET (fillfactor = 90);\n",
        replace_knowledge(missing=frozenset({"fresh_idx", "fresh_seq", "orders_key"})),
    )
    assert [f.fails for f in found] == [None] * 6


def test_a_column_added_to_a_parent_reaches_its_partitions() -> None:
    knowledge = replace_knowledge(
        parents=frozenset({"orders"}),
        columns={**LIVE.columns, "orders_2024": {"id": ColumnInfo("bigint")}},
    )
    found = run(
        "ALTER TABLE orders_2024 ALTER COLUMN extra SET NOT NULL;\n"
        "ALTER TABLE orders ADD COLUMN extra int;\n"
        "ALTER TABLE orders_2024 ALTER COLUMN extra SET NOT NULL;\n",
        knowledge,
    )
    assert found[0].fails == 'column "extra" of relation "orders_2024" does not exist'
    assert found[2].fails is None  # the partition has it now


def replace_knowledge(**changes: object) -> Knowledge:
    from dataclasses import replace

    return replace(LIVE, **changes)  # type: ignore[arg-type]


def test_a_table_dropped_earlier_is_missing_and_a_do_block_makes_the_rest_unknown() -> None:
    dropped = run("DROP TABLE customers CASCADE;\nTRUNCATE customers;\n")
    assert dropped[1].fails == 'relation "customers" does not exist (dropped at line 1)'
    after_do = run("DO $$ BEGIN CREATE TABLE nosuch (id int); END $$;\nTRUNCATE nosuch;\n")
    assert after_do[1].fails is None  # the DO block may have created it


def test_search_path_set_in_a_migration_qualifies_later_names() -> None:
    qualifier = Qualifier(
        Schemas(holding={"orders": frozenset({"app", "public"})}, existing=frozenset({"app"}))
    )
    script = parse_json(
        "SET search_path = app, public;\n"
        "ALTER TABLE orders ADD COLUMN u2 uuid DEFAULT gen_random_uuid();\n"
        "CREATE TABLE fresh (id int);\nDROP TABLE fresh, public.kept;\n"
    ).statements
    trees = [qualifier.statement(s.kind, s.node) for s in script]
    assert profile(script[1].kind, trees[1]).locks[0].table == "app.orders"
    assert profile(script[2].kind, trees[2]).creates == ("app.fresh",)
    assert [lock.table for lock in profile(script[3].kind, trees[3]).locks] == [
        "app.fresh",
        "public.kept",
    ]
    assert qualifier.text() == "app, public"
    assert script[1].node["relation"].get("schemaname") is None  # the parse tree is untouched
    local = Qualifier(Schemas(existing=frozenset({"app"})))
    (statement,) = parse_json("SET LOCAL search_path = app").statements
    local.statement(statement.kind, statement.node)
    assert local.text() == "app"
    local.end_migration()
    assert local.text() is None  # SET LOCAL ends with its migration


def test_set_timezone_and_lock_timeout_in_a_migration() -> None:
    columns = {"t": {"c": ColumnInfo("timestamp with time zone")}}
    knowledge = Knowledge(pg_version=15, live=True, columns=columns, timezone_utc=True)
    found = run(
        "ALTER TABLE t ALTER COLUMN c TYPE timestamp;\n"
        "SET TIME ZONE 'Europe/Berlin';\n"
        "ALTER TABLE t ALTER COLUMN c TYPE timestamptz;\n"
        "SET TIME ZONE 0;\n"
        "ALTER TABLE t ALTER COLUMN c TYPE timestamp;\n",
        knowledge,
        zones={"Europe/Berlin": False},
    )
    assert [f.rewrites for f in found if f.kind == "AlterTableStmt"] == [False, True, False]
    state = RunState(knowledge, settings={"lock_timeout": 5.0})
    for statement in parse_json("SET lock_timeout = '200ms'").statements:
        state.apply(statement.kind, statement.node, profile(statement.kind, statement.node), "")
    assert state.timeout("lock_timeout") == pytest.approx(0.2)
    assert interval_seconds("0") is None


@pytest.mark.parametrize(
    ("old", "new", "utc", "rewrites", "assumed"),
    [
        ("timestamp with time zone", "timestamp", True, False, False),
        ("timestamp without time zone", "timestamptz", True, False, False),
        ("timestamp with time zone", "timestamp", False, True, False),
        ("timestamp with time zone", "timestamp", None, True, True),
    ],
)
def test_timestamp_changes_both_ways(
    old: str, new: str, utc: bool | None, rewrites: bool, assumed: bool
) -> None:
    (statement,) = parse_json(f"ALTER TABLE t ALTER COLUMN c TYPE {new}").statements
    _, cmd = unwrap(statement.node["cmds"][0])
    _, definition = unwrap(cmd["def"])
    verdict = type_change_rewrites(
        old, definition["typeName"], None, Knowledge(pg_version=15, timezone_utc=utc)
    )
    assert (verdict.rewrites, verdict.assumed) == (rewrites, assumed)
    before_12 = Knowledge(pg_version=11, timezone_utc=True)
    assert type_change_rewrites(old, definition["typeName"], None, before_12).rewrites


# --- what recorded runs may teach -------------------------------------------------------------


def _run(version: str, name: str, ms: int) -> MigrationRun:
    return MigrationRun(
        database="db",
        version=version,
        name=name,
        direction="up",
        started_at=0.0,
        finished_at=1.0,
        duration_ms=ms,
        outcome="applied",
        server_version=150005,
        tables=(("orders", 188_000_000),),
    )


def test_runs_whose_work_was_only_assumed_teach_nothing(tmp_path: Path) -> None:
    files = {
        "0001_widen": "ALTER TABLE orders ALTER COLUMN note TYPE varchar(100);\n",  # 20 ms
        "0002_nn": "ALTER TABLE orders ALTER COLUMN note SET NOT NULL;\n",
        "0003_do": "DO $$ BEGIN NULL; END $$;\nCREATE INDEX ON orders (id);\n",
        "0004_uuid": "ALTER TABLE orders ADD COLUMN u uuid DEFAULT gen_random_uuid();\n",
        "0005_fn": "ALTER TABLE orders ADD COLUMN v int DEFAULT my_function();\n",
    }
    for name, text in files.items():
        (tmp_path / f"{name}.up.sql").write_text(text)
    durations = (20, 90, 900, 1600, 1500)
    runs = [_run(*name.split("_"), ms) for name, ms in zip(files, durations, strict=True)]
    samples = samples_from_runs(runs, folder_profiler(tmp_path))
    assert [s.label for s in samples] == ["0004_uuid"]
    assert samples[0].kind is WorkKind.REWRITE


def test_a_learned_rewrite_never_has_a_zero_lower_bound() -> None:
    # Wildly spread samples: a symmetric interval would reach below zero.
    samples = [
        Sample(WorkKind.REWRITE, "a", 188_000_000, seconds, 15, f"{i}_a")
        for i, seconds in enumerate((0.02, 1.6, 1.7, 1.5))
    ]
    estimate = LearnedModel(samples).predict(WorkKind.REWRITE, 188_000_000, 15)
    assert estimate is not None and estimate.mean is not None
    assert 0 < estimate.low < estimate.mean < estimate.high
