"""The runtime tables on both state store backends: samples, usage events, alerts, SLO events.

Each test runs on SQLite and on a fresh PostgreSQL database (``any_store``) and checks the same
values, so the SQL written once for both (with its dialect hooks) means the same thing on each.
"""

from __future__ import annotations

import statistics
import threading

import pytest

from plimsoll.core.errors import InputError
from plimsoll.core.store import SqliteStore, Store, open_store
from plimsoll.runtime import analytics, storage
from plimsoll.runtime.alerts.silences import Silence, parse_matchers
from plimsoll.runtime.alerts.state import Alert, AlertState, AlertStore, GroupState
from plimsoll.runtime.slo import storage as slo_storage
from plimsoll.runtime.slo.budget import Counts
from tests.runtime.alerts.helpers import T0, alerts_config, cpu, dispatcher, engine, notify_config
from tests.support.postgres import PgDatabase
from tests.support.servers import HttpRecorder

HOUR = 3600.0


def _backend(store: Store) -> str:
    return "sqlite" if isinstance(store, SqliteStore) else "postgres"


def test_samples_by_series_label_and_time(any_store: Store) -> None:
    batch = [
        storage.Sample("http_requests_total", float(i), 1000.0 + i, {"path": "/a", "code": "200"})
        for i in range(5)
    ]
    batch += [
        storage.Sample("http_requests_total", 10.0 * i, 1000.5 + i, {"path": "/b"})
        for i in range(3)
    ]
    # A label name holding path syntax is one key, never a path.
    batch.append(storage.Sample("odd", 7.0, 1001.0, {"a.b[0]": "x"}))
    # Names SQLite's JSON paths cannot spell: a quote, a backslash, non-ASCII (stored escaped).
    batch.append(storage.Sample("odder", 8.0, 1001.0, {'q"b': "x", "c\\d": "y", "é": "z"}))
    batch.append(storage.Sample("skipped", float("nan"), 1000.0))
    assert storage.add_samples(any_store, batch) == 10

    assert storage.metric_names(any_store) == ["http_requests_total", "odd", "odder"]
    assert storage.samples(any_store, "http_requests_total", 1001.0, 1003.0, {"path": "/a"}) == [
        (1001.0, 1.0),
        (1002.0, 2.0),
        (1003.0, 3.0),
    ]
    assert storage.samples(any_store, "odd", None, None, {"a.b[0]": "x"}) == [(1001.0, 7.0)]
    assert storage.samples(any_store, "odd", None, None, {"a.b[0]": "y"}) == []
    for name, value in (('q"b', "x"), ("c\\d", "y"), ("é", "z")):
        assert storage.samples(any_store, "odder", None, None, {name: value}) == [(1001.0, 8.0)]
        assert storage.samples(any_store, "odder", None, None, {name: "other"}) == []
    found = storage.series(any_store, "http_requests_total", None, None)
    assert found == {
        (("code", "200"), ("path", "/a")): [(1000.0 + i, float(i)) for i in range(5)],
        (("path", "/b"),): [(1000.5 + i, 10.0 * i) for i in range(3)],
    }
    assert storage.latest(any_store, "http_requests_total") == (1004.0, 4.0)
    assert storage.latest(any_store, "http_requests_total", {"path": "/b"}, before=1001.0) == (
        1000.5,
        0.0,
    )


def test_downsample_and_purge(any_store: Store) -> None:
    # Two minutes of samples every 10 s, one series: 6 per minute.
    values = [float(i) for i in range(12)]
    storage.add_samples(
        any_store, [storage.Sample("cpu", v, 6000.0 + 10 * i) for i, v in enumerate(values)]
    )
    moved = storage.downsample(any_store, source=0, target=60, before=6120.0, max_rows=1000)
    assert moved == 12
    rows = storage.sample_rows(any_store, "cpu")
    assert [(r.timestamp, r.resolution, r.count) for r in rows] == [
        (6000.0, 60, 6),
        (6060.0, 60, 6),
    ]
    assert rows[0].value == pytest.approx(statistics.fmean(values[:6]))
    assert (rows[1].min_value, rows[1].max_value) == (6.0, 11.0)
    # Minutes into an hour: the mean of the raw samples, their count and extremes kept.
    assert storage.downsample(any_store, source=60, target=3600, before=7200.0, max_rows=10) == 2
    [hour] = storage.sample_rows(any_store, "cpu")
    assert (hour.timestamp, hour.resolution, hour.count) == (3600.0, 3600, 12)
    assert hour.value == pytest.approx(statistics.fmean(values))
    assert (hour.min_value, hour.max_value) == (0.0, 11.0)
    assert storage.purge_samples(any_store, resolution=3600, before=7200.0, max_rows=5) == 1
    assert storage.sample_rows(any_store) == []


def test_usage_events_drops_and_purge(any_store: Store) -> None:
    events = [
        storage.UsageEvent(
            "feature",
            "search",
            100.0 + i,
            duration_ms=float(i),
            ok=i != 2,
            error="KeyError" if i == 2 else None,
            session="s1",
            properties={"n": i},
        )
        for i in range(4)
    ]
    assert storage.add_events(any_store, events, dropped=3, now=104.0) == 4
    storage.add_drops(any_store, 2, 101.0)
    assert storage.count_events(any_store) == 4
    assert storage.count_events(any_store, 101.0, 102.0) == 2
    assert storage.dropped_total(any_store) == 5
    stored = storage.events(any_store, kinds=["feature"], feature="search")
    assert [(e.timestamp, e.ok, e.error, e.properties) for e in stored] == [
        (100.0, True, None, {"n": 0}),
        (101.0, True, None, {"n": 1}),
        (102.0, False, "KeyError", {"n": 2}),
        (103.0, True, None, {"n": 3}),
    ]
    assert all(e.id is not None for e in stored)
    assert storage.purge_events(any_store, 102.0, max_rows=1) == 1
    assert storage.purge_events(any_store, 102.0) == 1
    assert storage.count_events(any_store) == 2
    assert storage.dropped_total(any_store) == 3  # the drop count before 102 went too


def test_analytics(any_store: Store) -> None:
    now = 10 * 86400.0
    durations = [5.0, 1.0, 3.0, 2.0, 4.0]
    rows = [
        storage.UsageEvent(
            "feature",
            "export",
            now - 100 + i,
            duration_ms=d,
            ok=i != 0,
            session="s1" if i < 3 else "s2",
        )
        for i, d in enumerate(durations)
    ]
    rows.append(storage.UsageEvent("error", "export", now - 50, error="ValueError", session="s1"))
    rows.append(storage.UsageEvent("feature", "login", now - 200, duration_ms=None, session="s2"))
    rows.append(storage.UsageEvent("feature", "login", now - 300, session="s1"))
    storage.add_events(any_store, rows)
    stats = {s.feature: s for s in analytics.PerformanceAnalyzer(any_store, now=now).features("1h")}
    export = stats["export"]
    assert (export.calls, export.failed, export.error_events) == (5, 1, 1)
    assert export.p50_ms == statistics.quantiles(sorted(durations), n=100, method="inclusive")[49]
    assert export.max_ms == 5.0
    assert (stats["login"].calls, stats["login"].p50_ms) == (2, None)
    behavior = analytics.BehaviorAnalyzer(any_store, now=now)
    assert behavior.session_paths("1h") == {
        "s1": ["login", "export", "export", "export"],
        "s2": ["login", "export", "export"],
    }
    [top] = behavior.sequences("1h", min_sessions=2, top=1)
    assert (top.steps, top.sessions, top.occurrences) == (("export", "export"), 2, 3)
    by_hour = behavior.usage_by_hour("1h")
    # now is midnight UTC: everything happened in the last minutes of hour 23.
    assert by_hour[23] == 8 and sum(by_hour) == 8
    report = analytics.usage_report(any_store, "1h", now=now)
    assert (report.events, report.sessions) == (8, 2)


def _alert(fp: str, state: AlertState, at: float) -> Alert:
    return Alert(
        fp,
        "HighCPU",
        {"alertname": "HighCPU", "host": fp},
        "critical",
        state,
        at,
        value=90.0,
        active_since=at,
    )


def test_alert_store(any_store: Store) -> None:
    alerts = AlertStore(any_store)
    with alerts.db.transaction() as conn:
        alerts.write(
            conn,
            [_alert("a1", AlertState.FIRING, 10.0), _alert("b2", AlertState.PENDING, 11.0)],
            [("a1", 10.0, None, "firing", "")],
        )
        # Written again: the row is replaced, not doubled.
        alerts.write(conn, [_alert("b2", AlertState.FIRING, 12.0)])
        alerts.save_groups(
            conn, [GroupState(0, "k", {"alertname": "HighCPU"}, 10.0, 11.0, ("a1",), 1)]
        )
        alerts.save_groups(
            conn, [GroupState(0, "k", {"alertname": "HighCPU"}, 10.0, 13.0, ("a1", "b2"), 2)]
        )
    assert {a.fingerprint: (a.state, a.last_eval) for a in alerts.alerts()} == {
        "a1": (AlertState.FIRING, 10.0),
        "b2": (AlertState.FIRING, 12.0),
    }
    with alerts.db.read() as conn:
        [group] = alerts.groups(conn).values()
        assert (group.sent, group.sends, group.last_sent_at) == (("a1", "b2"), 2, 13.0)
    [acked] = alerts.acknowledge("a1", by="ana", now=20.0)
    assert acked.acked_by == "ana"
    assert [e["to_state"] for e in alerts.events("a1")] == ["firing", "acknowledged"]
    with pytest.raises(InputError, match="no firing alert"):
        alerts.acknowledge("zz", by="ana", now=21.0)
    silence = alerts.add_silence(
        Silence(parse_matchers(["host=a1"]), starts_at=0.0, ends_at=100.0, comment="db work"),
        now=0.0,
    )
    assert silence.id is not None and silence.id >= 1
    assert [s.id for s in alerts.silences(active_at=50.0)] == [silence.id]
    alerts.expire_silence(silence.id, now=40.0)
    assert alerts.silences(active_at=50.0) == []
    assert [s.ends_at for s in alerts.silences()] == [40.0]
    with pytest.raises(InputError, match="no silence"):
        alerts.expire_silence(silence.id + 100, now=40.0)


def test_alert_engine_lifecycle(any_store: Store, http_recorder: HttpRecorder) -> None:
    notify = notify_config(f"{http_recorder.url}/hook")
    eng = engine(any_store, alerts_config(), notify)  # type: ignore[arg-type]
    clock = [T0]
    for step, value in enumerate((95, 96, 97)):
        cpu(any_store, T0 + 60 * step, value)  # type: ignore[arg-type]
        eng.cycle(T0 + 60 * step)
    [alert] = AlertStore(any_store).alerts()
    assert alert.state is AlertState.FIRING and alert.value == 97
    clock[0] = T0 + 120
    [delivered] = dispatcher(any_store, notify, clock).flush_outbox()  # type: ignore[arg-type]
    assert delivered.delivered
    assert http_recorder.requests[0].json()["title"] == "[FIRING:1] HighCPU (alertname=HighCPU)"
    cpu(any_store, T0 + 180, 10)  # type: ignore[arg-type]
    eng.cycle(T0 + 180)
    [alert] = AlertStore(any_store).alerts()
    assert alert.state is AlertState.RESOLVED and alert.resolved_at == T0 + 180


def test_slo_events(any_store: Store) -> None:
    slo_storage.record(any_store, "api", 9, 10, 125.0)
    slo_storage.record_many(
        any_store, [("api", 5, 5, 170.0), ("api", 1, 2, 185.0), ("web", 1, 1, 61.0)]
    )
    # 125 and 170 share the bucket starting at 120; 185 starts the next.
    assert slo_storage.event_counts(any_store, "api", 120.0, 180.0) == Counts(14, 15)
    assert slo_storage.event_counts(any_store, "api", 0.0, 1000.0) == Counts(15, 17)
    assert slo_storage.purge(any_store, 200.0, max_rows=1) == 1  # the oldest: web at 60
    assert slo_storage.event_counts(any_store, "web", 0.0, 1000.0) == Counts(0, 0)
    assert slo_storage.purge(any_store, 181.0) == 2
    assert slo_storage.event_counts(any_store, "api", 0.0, 1000.0) == Counts(0, 0)


def test_the_part_versions_are_kept(any_store: Store) -> None:
    assert storage.ensure_schema(any_store) == len(storage.MIGRATIONS)
    assert slo_storage.ensure_schema(any_store) == len(slo_storage.POSTGRES_MIGRATIONS)
    AlertStore(any_store)
    assert len(storage.MIGRATIONS) == len(storage.POSTGRES_MIGRATIONS)
    # Opening again finds the tables current on either backend.
    assert any_store.ensure_part_schema("alerts", [(), ()]) == 2, _backend(any_store)


def test_an_acknowledgement_waits_for_a_running_cycle(pg_database: PgDatabase) -> None:
    """On PostgreSQL too, a cycle's read-then-write of the alerts excludes an acknowledgement."""
    with open_store(url=pg_database.dsn) as first, open_store(url=pg_database.dsn) as second:
        engine_side, cli_side = AlertStore(first), AlertStore(second)
        with engine_side.db.transaction() as conn:
            engine_side.write(conn, [_alert("a1", AlertState.FIRING, 10.0)])
        done = threading.Event()
        with engine_side.db.transaction() as conn:
            assert engine_side.acknowledgements(conn) == {}  # the cycle's first read: locks
            worker = threading.Thread(
                target=lambda: (cli_side.acknowledge("a1", by="ana", now=11.0), done.set())
            )
            worker.start()
            assert not done.wait(0.5)  # held back until the cycle commits
            engine_side.write(conn, [_alert("a1", AlertState.FIRING, 12.0)])
        worker.join(10)
        assert done.is_set()
    with open_store(url=pg_database.dsn) as store:
        [alert] = AlertStore(store).alerts()
    # The acknowledgement came after the cycle's write, so it is what remains.
    assert (alert.state, alert.acked_by, alert.last_eval) == (AlertState.ACKNOWLEDGED, "ana", 12.0)
