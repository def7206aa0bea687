"""The built-in checks against real things: psutil's readings, a real PostgreSQL, a real HTTP server."""

from __future__ import annotations

import json
import os
import socket
import time
from collections import namedtuple
from pathlib import Path

import psutil
import pytest

from plimsoll.runtime.checks.database import DatabaseHealthCheck
from plimsoll.runtime.checks.service import ServiceHealthCheck
from plimsoll.runtime.checks.system import SystemHealthCheck, cpu_busy_percent
from plimsoll.runtime.health import HealthRunner, Status
from tests.runtime.health_schema import validate
from tests.support.postgres import PgDatabase
from tests.support.servers import HttpRecorder, Response

SECRET = "s3cret-pw"

# --- system ------------------------------------------------------------------------------------


def _by_key(results: list) -> dict:
    return {(r.key, r.component_id): r for r in results}


def test_system_readings_match_psutil(tmp_path: Path) -> None:
    check = SystemHealthCheck(disk_paths=["/", str(tmp_path)])
    results = check.check()
    memory = psutil.virtual_memory().percent
    fds = psutil.Process().num_fds()
    threads = psutil.Process().num_threads()
    found = {r.key: r for r in results}
    assert [r.key for r in results] == [
        "system:cpuUtilization",
        "system:memoryUtilization",
        "system:diskUtilization",
        "system:diskUtilization",
        "system:openFiles",
        "system:threads",
    ]
    assert 0.0 <= found["system:cpuUtilization"].observed_value <= 100.0
    assert abs(found["system:memoryUtilization"].observed_value - memory) < 5
    for result in (r for r in results if r.measurement == "diskUtilization"):
        assert result.observed_unit == "percent"
        assert result.observed_value == pytest.approx(
            psutil.disk_usage(str(result.component_id)).percent, abs=0.5
        )
    assert {r.component_id for r in results if r.measurement == "diskUtilization"} == {
        "/",
        str(tmp_path),
    }
    assert abs(found["system:openFiles"].observed_value - fds) <= 2
    assert found["system:threads"].observed_value == threads
    assert found["system:threads"].component_id == f"pid {os.getpid()}"
    assert found["system:memoryUtilization"].component_id == socket.gethostname()
    assert all(r.component_type == "system" for r in results)


def test_cpu_is_the_busy_share_between_two_samples() -> None:
    times = namedtuple("times", "user nice system idle iowait irq softirq steal guest guest_nice")
    before = times(100, 0, 50, 800, 50, 0, 0, 0, 10, 0)
    # 30 s user + 10 s system busy, 55 s idle, 5 s iowait; 4 s of guest is inside user already.
    after = times(130, 0, 60, 855, 55, 0, 0, 0, 14, 0)
    assert cpu_busy_percent(before, after) == 40.0
    assert cpu_busy_percent(after, after) == 0.0
    check = SystemHealthCheck(resources=["cpu"], cpu_warn_percent=0, cpu_fail_percent=None)
    [first] = check.check()
    [second] = check.check()
    # A threshold of 0 is reached by any reading: the check really compares what it measured.
    assert first.status is Status.WARN and second.status is Status.WARN
    assert first.observed_unit == "percent"


def test_system_thresholds_warn_and_fail() -> None:
    check = SystemHealthCheck(
        resources=["threads", "open_files", "memory"],
        threads_warn=1,
        threads_fail=None,
        open_files_warn_percent=None,
        open_files_fail_percent=0.0001,
        memory_warn_percent=100,
        memory_fail_percent=100,
    )
    report = HealthRunner([check]).run()
    found = {r.key: r for r in report.results}
    assert found["system:threads"].status is Status.WARN
    assert found["system:openFiles"].status is Status.FAIL
    soft = psutil.Process().rlimit(psutil.RLIMIT_NOFILE)[0]
    assert f"of {soft} (" in str(found["system:openFiles"].output)
    assert found["system:memoryUtilization"].status is Status.PASS
    assert report.status is Status.FAIL
    doc = report.document()
    validate(doc)
    assert doc["output"] == "fail: system:openFiles"
    assert check.keys() == (
        ("system", "threads"),
        ("system", "openFiles"),
        ("system", "memoryUtilization"),
    )


def test_a_missing_disk_path_fails_and_bad_thresholds_are_refused(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    [result] = SystemHealthCheck(resources=["disk"], disk_paths=[str(missing)]).check()
    assert result.status is Status.FAIL
    assert result.component_id == str(missing)
    assert str(missing) in str(result.output) and "No such file" in str(result.output)
    with pytest.raises(ValueError, match="cpu_warn .* must not exceed cpu_fail"):
        SystemHealthCheck(cpu_warn_percent=99, cpu_fail_percent=90)
    with pytest.raises(ValueError, match="unknown resource 'gpu'"):
        SystemHealthCheck(resources=["gpu"])  # type: ignore[list-item]


# --- database ----------------------------------------------------------------------------------


def test_database_check_connects_and_selects(pg_database: PgDatabase) -> None:
    check = DatabaseHealthCheck(url=pg_database.dsn, component="orders-db")
    result = check.check()
    assert result.status is Status.PASS, result.output
    assert result.key == "orders-db:responseTime"
    assert result.observed_unit == "ms" and result.observed_value > 0
    assert result.component_type == "datastore"
    expected_id = f"{pg_database.host}:{pg_database.port}/{pg_database.dbname}"
    assert result.component_id == expected_id
    # The latency is real: a fail threshold below it fails, one far above it passes.
    slow = DatabaseHealthCheck(url=pg_database.dsn, latency_warn_ms=0.0001, latency_fail_ms=0.001)
    assert slow.check().status is Status.FAIL
    fine = DatabaseHealthCheck(url=pg_database.dsn, latency_warn_ms=60_000)
    assert fine.check().status is Status.PASS


def test_database_check_reports_the_servers_own_refusal(pg_database: PgDatabase) -> None:
    missing = pg_database.server.dsn_for("no_such_database")
    result = DatabaseHealthCheck(url=missing).check()
    assert result.status is Status.FAIL
    assert 'database "no_such_database" does not exist' in str(result.output)


def test_database_conninfo_keeps_the_users_options_and_adds_timeouts(
    pg_database: PgDatabase,
) -> None:
    url = f"{pg_database.dsn}?options=-c%20search_path%3Dapp"
    check = DatabaseHealthCheck(url=url, timeout_seconds=3)
    conninfo = check.conninfo()
    assert "search_path=app" in conninfo and "statement_timeout=3000" in conninfo
    assert "connect_timeout=3" in conninfo and "application_name=plimsoll-health" in conninfo
    assert check.check().status is Status.PASS
    assert DatabaseHealthCheck(url=url, timeout_seconds=0.5).connect_timeout == 2


def test_an_unreachable_database_fails_without_showing_its_password() -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:1/app"
    check = DatabaseHealthCheck(url=url, timeout_seconds=3)
    report = HealthRunner([check]).run()
    [result] = report.results
    assert result.status is Status.FAIL and report.http_status == 503
    assert "127.0.0.1" in str(result.output) and "1" in str(result.output)
    assert result.component_id == "127.0.0.1:1/app"
    text = json.dumps(report.document()) + repr(check) + str(vars(check))
    assert SECRET not in text
    with pytest.raises(ValueError) as bad:
        DatabaseHealthCheck(url=f"host=db password={SECRET} port")
    assert SECRET not in str(bad.value)


# --- service -----------------------------------------------------------------------------------


def test_service_check_passes_on_the_expected_status(http_recorder: HttpRecorder) -> None:
    check = ServiceHealthCheck(
        url=f"{http_recorder.url}/health?token=abc",
        component="payments",
        headers={"Authorization": "Bearer xyz"},
    )
    result = check.check()
    assert result.status is Status.PASS, result.output
    assert result.key == "payments:responseTime"
    assert result.observed_unit == "ms" and result.observed_value > 0
    assert result.component_id == f"http://127.0.0.1:{http_recorder.port}/health"
    [request] = http_recorder.requests
    assert (request.method, request.path, request.query) == ("GET", "/health", {"token": ["abc"]})
    assert request.header("Authorization") == "Bearer xyz"


def test_service_check_fails_on_another_status(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500)
    result = ServiceHealthCheck(url=f"{http_recorder.url}/health").check()
    assert result.status is Status.FAIL
    assert result.output == "HTTP 500 (expected 200)"
    assert result.observed_value > 0
    http_recorder.script(204)
    head = ServiceHealthCheck(url=http_recorder.url, method="head", expected_status=[200, 204])
    assert head.check().status is Status.PASS
    assert http_recorder.requests[-1].method == "HEAD"


def test_a_slow_service_times_out(http_recorder: HttpRecorder) -> None:
    http_recorder.script(Response(200, {"ok": True}, delay_seconds=0.8))
    http_recorder.script(Response(200, {"ok": True}, delay_seconds=0.8))
    check = ServiceHealthCheck(url=f"{http_recorder.url}/slow", timeout_seconds=0.3)
    assert check.check().output == "timed out after 0.3s"
    report = HealthRunner([check]).run()
    assert [(r.status, r.output) for r in report.results] == [(Status.FAIL, "timed out after 0.3s")]
    assert len(http_recorder.requests_to("/slow")) == 2
    # The server answers the closed connections late and complains (a broken pipe) on
    # stderr: wait for that to happen inside this test, whose output pytest keeps.
    time.sleep(0.8)


def test_a_refused_connection_fails_and_bad_options_are_refused() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = ServiceHealthCheck(url=f"http://127.0.0.1:{port}/").check()
    assert result.status is Status.FAIL
    assert result.output is not None and "ConnectionRefusedError" in result.output
    with pytest.raises(ValueError, match="http:// or https://"):
        ServiceHealthCheck(url="ftp://example.com/")
    with pytest.raises(ValueError, match="expected_status"):
        ServiceHealthCheck(url="http://x/", expected_status=[700])
    with pytest.raises(ValueError, match="not an HTTP method"):
        ServiceHealthCheck(url="http://x/", method="GE T")


def test_a_password_that_breaks_the_url_is_refused_never_shown() -> None:
    # Not percent-encoded, "Zq9x/Wv7k" made libpq read "Wv7k@127.0.0.1:5999/x" as the path,
    # and the component id showed the password.
    password = "Zq9x/Wv7k"
    with pytest.raises(ValueError, match="percent-encode") as bad:
        DatabaseHealthCheck(url=f"postgresql://app:{password}@127.0.0.1:5999/x")
    assert password not in str(bad.value) and "Wv7k" not in str(bad.value)
