"""The health runner and its document, with fake checks: aggregation, timeouts, caching, shape."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from plimsoll.runtime.health import (
    CheckResult,
    HealthCheck,
    HealthReport,
    HealthRunner,
    Status,
    by_threshold,
    iso_time,
    worst,
)
from tests.runtime.health_schema import validate


class Fixed(HealthCheck):
    """Answers a given status, counting its runs."""

    name = "fixed"
    measurement = "responseTime"

    def __init__(self, status: Status = Status.PASS, **common: Any) -> None:
        super().__init__(**common)
        self.status = status
        self.calls = 0

    def check(self) -> CheckResult:
        self.calls += 1
        return self.result(self.status, 1.5, "ms", f"{self.status.value} output")


class Blocking(HealthCheck):
    """Runs until released (a check stuck on a dead dependency)."""

    name = "blocking"

    def __init__(self, **common: Any) -> None:
        super().__init__(**common)
        self.release = threading.Event()
        self.entered = threading.Event()
        self.calls = 0

    def check(self) -> CheckResult:
        self.calls += 1
        self.entered.set()
        self.release.wait(10)
        return self.result(Status.PASS)


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def blocking() -> Iterator[Blocking]:
    check = Blocking(component="stuck", timeout_seconds=0.2)
    yield check
    check.release.set()  # let its thread end


def test_worst_and_thresholds() -> None:
    assert worst([]) is Status.PASS
    assert worst([Status.PASS, Status.WARN, Status.PASS]) is Status.WARN
    assert worst([Status.WARN, Status.FAIL, Status.PASS]) is Status.FAIL
    assert [by_threshold(v, 80, 95) for v in (79.9, 80, 94.9, 95, None)] == [
        Status.PASS,
        Status.WARN,
        Status.WARN,
        Status.FAIL,
        Status.PASS,
    ]
    assert by_threshold(1000, None, None) is Status.PASS
    assert (Status.PASS.http_status, Status.WARN.http_status, Status.FAIL.http_status) == (
        200,
        200,
        503,
    )


@pytest.mark.parametrize(
    ("statuses", "expected", "http"),
    [
        ((), Status.PASS, 200),
        ((Status.PASS, Status.PASS), Status.PASS, 200),
        ((Status.PASS, Status.WARN), Status.WARN, 200),
        ((Status.WARN, Status.FAIL, Status.PASS), Status.FAIL, 503),
    ],
)
def test_the_aggregate_is_the_worst(
    statuses: tuple[Status, ...], expected: Status, http: int
) -> None:
    checks = [Fixed(s, component=f"c{i}") for i, s in enumerate(statuses)]
    report = HealthRunner(checks).run()
    assert report.status is expected
    assert report.http_status == http
    assert [r.status for r in report.results] == list(statuses)


def test_the_document_has_the_drafts_shape() -> None:
    runner = HealthRunner(
        [
            Fixed(Status.PASS, component="db", component_id="db:5432/app"),
            Fixed(Status.WARN, component="cache"),
            Fixed(Status.PASS, component="db", component_id="replica:5432/app"),
        ],
        service_id="orders",
        description="the orders service",
        version="1",
        release_id="1.4.2",
    )
    doc = runner.run().document()
    validate(doc)
    assert doc["status"] == "warn"
    assert (doc["serviceId"], doc["description"], doc["version"], doc["releaseId"]) == (
        "orders",
        "the orders service",
        "1",
        "1.4.2",
    )
    assert doc["output"] == "warn: cache:responseTime"
    assert list(doc["checks"]) == ["db:responseTime", "cache:responseTime"]
    # Two results under one key: a list, told apart by componentId.
    db = doc["checks"]["db:responseTime"]
    assert [o["componentId"] for o in db] == ["db:5432/app", "replica:5432/app"]
    first = db[0]
    assert first["componentType"] == "component"
    assert (first["observedValue"], first["observedUnit"], first["status"]) == (1.5, "ms", "pass")
    assert "output" not in first  # the draft: omitted for pass
    assert doc["checks"]["cache:responseTime"][0]["output"] == "warn output"
    stamp = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_the_body_is_the_document_encoded_once() -> None:
    report = HealthRunner([Fixed(Status.FAIL)]).run()
    assert json.loads(report.body) == report.document()
    assert report.body is report.body
    assert iso_time(datetime(2024, 5, 1, 10, 0, 0, 123, tzinfo=UTC)) == "2024-05-01T10:00:00Z"
    validate(HealthReport(Status.PASS, ()).document())


def test_a_check_past_its_timeout_fails_and_is_not_started_twice(blocking: Blocking) -> None:
    other = Fixed(Status.PASS, component="fine")
    runner = HealthRunner([blocking, other])
    report = runner.run()
    by_key = {r.key: r for r in report.results}
    stuck = by_key["stuck:status"]
    assert (stuck.status, stuck.output) == (Status.FAIL, "timed out after 0.2s")
    assert by_key["fine:responseTime"].status is Status.PASS
    assert report.status is Status.FAIL and report.http_status == 503
    validate(report.document())
    # Still stuck at the next run: reported again, without a second thread piling up.
    again = runner.run(force=True)
    assert blocking.calls == 1 and other.calls == 2
    assert {r.key: r.output for r in again.results}["stuck:status"] == "timed out after 0.2s"
    blocking.release.set()
    # Once the stuck attempt has ended, the next run starts a fresh one, which passes.
    for _ in range(250):
        if runner.run(force=True).status is Status.PASS:
            break
        threading.Event().wait(0.02)
    assert runner.run().status is Status.PASS
    assert blocking.calls == 2


def test_a_crash_or_a_wrong_return_is_a_fail_naming_it() -> None:
    class Crashing(HealthCheck):
        name = "crashing"

        def check(self) -> CheckResult:
            raise RuntimeError("connection reset\n  while reading")

    class Wrong(HealthCheck):
        name = "wrong"

        def check(self) -> Any:
            return 42

    report = HealthRunner([Crashing(), Wrong()]).run()
    outputs = {r.key: (r.status, r.output) for r in report.results}
    assert outputs["crashing:status"] == (
        Status.FAIL,
        "RuntimeError: connection reset while reading",
    )
    assert outputs["wrong:status"][0] is Status.FAIL
    assert "returned int, expected a CheckResult" in str(outputs["wrong:status"][1])


def test_an_async_check_runs_in_its_own_loop() -> None:
    class Async(HealthCheck):
        name = "async"

        async def check(self) -> list[CheckResult]:  # type: ignore[override]
            await asyncio.sleep(0.01)
            return [self.result(Status.PASS, 1), self.result(Status.WARN, 2, measurement="depth")]

    report = HealthRunner([Async()]).run()
    assert [(r.key, r.status, r.observed_value) for r in report.results] == [
        ("async:status", Status.PASS, 1),
        ("async:depth", Status.WARN, 2),
    ]


def test_results_are_kept_for_each_checks_interval() -> None:
    clock = Clock()
    fast = Fixed(component="fast", interval_seconds=1)
    slow = Fixed(component="slow", interval_seconds=10)
    runner = HealthRunner([fast, slow], clock=clock)
    assert runner.peek() is None
    first = runner.run()
    assert runner.run() is first and runner.peek() is first
    assert (fast.calls, slow.calls) == (1, 1)
    clock.now += 5  # fast's interval is over, slow's is not
    assert runner.peek() is None
    second = runner.run()
    assert second is not first
    assert (fast.calls, slow.calls) == (2, 1)
    clock.now += 6
    runner.run()
    assert (fast.calls, slow.calls) == (3, 2)
    runner.run(force=True)
    assert (fast.calls, slow.calls) == (4, 3)


def test_checks_run_concurrently() -> None:
    # Each check waits for the other at a barrier: they pass only when both run at once.
    barrier = threading.Barrier(2, timeout=5)

    class Meeting(HealthCheck):
        name = "meeting"

        def check(self) -> CheckResult:
            barrier.wait()
            return self.result(Status.PASS)

    report = HealthRunner([Meeting(component="a"), Meeting(component="b")]).run()
    assert [r.status for r in report.results] == [Status.PASS, Status.PASS]


def test_callers_arriving_during_a_run_share_it(blocking: Blocking) -> None:
    blocking.timeout_seconds = 10
    runner = HealthRunner([blocking])
    reports: list[HealthReport] = []

    def call() -> None:
        reports.append(runner.run())

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    assert blocking.entered.wait(5)
    blocking.release.set()
    for thread in threads:
        thread.join(10)
    assert blocking.calls == 1
    assert len(reports) == 5 and all(r is reports[0] for r in reports)


def test_a_check_validates_its_names_and_timing() -> None:
    with pytest.raises(ValueError, match="must not contain ':'"):
        Fixed(component="db:primary")
    with pytest.raises(ValueError, match="timeout_seconds must be positive"):
        Fixed(timeout_seconds=0)
    with pytest.raises(ValueError, match="interval_seconds must not be negative"):
        Fixed(interval_seconds=-1)
    check = Fixed(component_id="x")
    assert check.component == "fixed" and check.keys() == (("fixed", "responseTime"),)
    [failed] = check.failures("down")
    assert (failed.key, failed.status, failed.output, failed.component_id) == (
        "fixed:responseTime",
        Status.FAIL,
        "down",
        "x",
    )
