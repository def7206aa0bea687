"""The runtime-service example walked the way its README walks a new user, against the real thing.

A copy of ``examples/runtime-service`` is served by uvicorn on a free port; ``/metrics`` and
``/health/ready`` are read over HTTP; ``plimsoll runtime health``, ``watch``, ``slo``, ``usage``
and ``alerts list`` run as subprocesses in the copy, as a user runs them. The configuration is
the example's own, with shorter timings: a test copy of its ``[tool.plimsoll]`` written to
``plimsoll.yaml``, and the copy's ``pyproject.toml`` without its plimsoll section (plimsoll
refuses two files configuring it; the keys are the same, so a renamed or removed key of the
example fails here with a KeyError). The alert webhook is the
``http_recorder`` fixture.
"""

from __future__ import annotations

import http.client
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.runtime.health_schema import validate
from tests.support.cli import COMMAND, ENV
from tests.support.servers import HttpRecorder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "runtime-service"
ITEMS = "/items/{id}"
HEALTH_KEYS = {
    "system:memoryUtilization",
    "system:diskUtilization",
    "system:openFiles",
    "system:threads",
    "catalog:responseTime",
}
T = TypeVar("T")


def fast_settings() -> dict[str, Any]:
    """The example's ``[tool.plimsoll]`` with timings short enough for a test."""
    pyproject = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))
    settings: dict[str, Any] = pyproject["tool"]["plimsoll"]
    runtime = settings["runtime"]
    runtime["health"]["interval_seconds"] = 0.5
    runtime["monitor"]["interval_seconds"] = 0.5
    alerts = runtime["alerts"]
    alerts["evaluation_interval"] = "0.5s"
    alerts["group_interval"] = "1s"
    rules = {rule["name"]: rule for rule in alerts["rules"]}
    rules["ItemErrors"]["window"] = "5s"
    rules["ItemErrors"]["for"] = "1s"
    rules["CatalogDown"]["for"] = "1s"
    return settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(what: str, check: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Poll ``check`` until it returns something other than None (or fail naming ``what``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Service:
    """The example running under uvicorn in ``root``, and how to reach and stop it."""

    root: Path
    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            connection.close()

    def plimsoll(self, *args: str, check: int | None = 0) -> subprocess.CompletedProcess[str]:
        """``plimsoll ARGS`` in the example's folder; its exit code checked, no traceback."""
        done = subprocess.run(
            [*COMMAND, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check is not None:
            assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def start(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        """Start ``plimsoll ARGS`` in the background: its output in ``log``, errors in ``.err``."""
        with (self.root / log).open("wb") as out, (self.root / f"{log}.err").open("wb") as err:
            return subprocess.Popen(
                [*COMMAND, *args], cwd=self.root, env=self.env, stdout=out, stderr=err
            )


def terminate(process: subprocess.Popen[bytes], timeout: float = 30.0) -> int:
    """SIGTERM, then wait for the exit code (killed, and the test failed, if it hangs)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(f"{process.args!r} did not stop on SIGTERM") from None


@pytest.fixture
def service(tmp_path: Path, http_recorder: HttpRecorder) -> Iterator[Service]:
    root = tmp_path / "runtime-service"
    shutil.copytree(EXAMPLE, root, ignore=shutil.ignore_patterns(".plimsoll", "__pycache__"))
    (root / "plimsoll.yaml").write_text(yaml.safe_dump(fast_settings()), encoding="utf-8")
    pyproject = root / "pyproject.toml"
    project_only = pyproject.read_text(encoding="utf-8").split("[tool.plimsoll", 1)[0]
    pyproject.write_text(project_only, encoding="utf-8")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**ENV, "SERVICE_URL": url, "ALERT_WEBHOOK_URL": f"{http_recorder.url}/alerts"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = root / "uvicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
            cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = Service(root, port, env, process, log)
    try:

        def live() -> bool | None:
            assert process.poll() is None, log.read_text()
            try:
                return running.get("/health/live").status == 200 or None
            except OSError:
                return None

        wait_for("the service to answer", live)
        yield running
    finally:
        if process.poll() is None:
            terminate(process)


def scrape(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by name and labels, parsed by prometheus_client."""
    reply = service.get("/metrics")
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.body.decode())
        for s in family.samples
    }


def items(status: int) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("http_requests_total", (("method", "GET"), ("route", ITEMS), ("status", str(status))))


def notes(recorder: HttpRecorder, rule: str) -> list[dict[str, Any]]:
    """The notifications about ``rule`` the webhook received, in order."""
    found = [r.json() for r in recorder.requests_to("/alerts", "POST")]
    return [n for n in found if n["fields"].get("group.alertname") == rule]


def test_the_readme_walk(service: Service, http_recorder: HttpRecorder) -> None:
    # --- /metrics: the request instruments by route template and status ------------------------
    for path, status in (
        ("/items/1", 200),
        ("/items/2", 200),
        ("/items/99", 404),
        ("/items/x", 404),
    ):
        assert service.get(path).status == status
    assert service.get("/items/3").json() == {"id": 3, "name": "sextant", "stock": 3}
    samples = scrape(service)
    assert samples[items(200)] == 3
    assert samples[items(404)] == 2
    assert samples[items(500)] == 0  # created at zero up front
    route = (("method", "GET"), ("route", ITEMS))
    assert samples[("http_requests_ok_total", route)] == 5
    assert samples[("http_request_duration_seconds_count", route)] == 5
    assert samples[("http_request_duration_seconds_bucket", (("le", "+Inf"), *route))] == 5
    assert samples[("http_requests_in_flight", ())] == 1  # the scrape itself
    # --- /health/ready: the configured checks, as application/health+json ----------------------
    ready = service.get("/health/ready")
    assert ready.status == 200
    assert ready.headers["content-type"] == "application/health+json"
    document = ready.json()
    validate(document)
    assert document["status"] == "pass" and document["serviceId"] == "catalog"
    assert set(document["checks"]) == HEALTH_KEYS
    [catalog] = document["checks"]["catalog:responseTime"]
    assert catalog["componentId"] == f"{service.url}/health/live"
    assert catalog["status"] == "pass" and catalog["observedUnit"] == "ms"
    # --- plimsoll runtime health ----------------------------------------------------------------
    report = json.loads(service.plimsoll("runtime", "health", "--format", "json").stdout)
    validate(report)
    assert set(report["checks"]) == HEALTH_KEYS
    [catalog] = report["checks"]["catalog:responseTime"]
    assert catalog["status"] == "pass" and catalog["observedValue"] > 0
    # --- plimsoll runtime watch: ItemErrors fires on server errors, then resolves ----------------
    watch = service.start("runtime", "watch", "--no-monitor", "--format", "json", log="watch.log")
    try:
        failed = 0

        def fired() -> dict[str, Any] | None:
            nonlocal failed
            assert watch.poll() is None, (service.root / "watch.log.err").read_text()
            assert service.get("/items/1?fail=1").status == 500
            failed += 1
            found = notes(http_recorder, "ItemErrors")
            return found[0] if found else None

        firing = wait_for("ItemErrors to fire", fired)
        assert firing["title"] == "[FIRING:1] ItemErrors (alertname=ItemErrors)"
        assert firing["severity"] == "critical"
        assert firing["fields"]["status"] == "firing"
        assert "method=GET, route=/items/{id}, severity=critical, status=500" in firing["body"]
        assert "/items/{id} answers" in firing["body"]
        # The errors stop; users keep getting their items.
        for item in (1, 2, 3):
            assert service.get(f"/items/{item}").status == 200

        def resolved_note() -> dict[str, Any] | None:
            found = notes(http_recorder, "ItemErrors")
            return found[1] if len(found) > 1 else None

        resolved = wait_for("ItemErrors to resolve", resolved_note)
        assert resolved["title"] == "[RESOLVED] ItemErrors (alertname=ItemErrors)"
        assert resolved["fields"]["status"] == "resolved" and resolved["severity"] == "success"
        listed = json.loads(
            service.plimsoll("runtime", "alerts", "list", "--all", "-f", "json").stdout
        )
        states = {a["rule"]: a["state"] for a in listed["alerts"]}
        assert states["ItemErrors"] == "resolved"
        # --- plimsoll runtime slo: the budget the errors consumed, and the burn rates -----------
        final = scrape(service)
        good = final[("http_requests_ok_total", route)]
        total = sum(final[items(s)] for s in (200, 404, 500))
        assert final[items(500)] == failed and total == good + failed

        def slo_counted() -> dict[str, Any] | None:
            # The app samples its counters every 0.5 s: wait for the last requests' sample.
            done = service.plimsoll("runtime", "slo", "--format", "json", check=None)
            assert done.returncode in (0, 1), done.stderr
            [status] = json.loads(done.stdout)["slos"]
            return status if status["budget"]["total"] == total else None

        slo = wait_for("the SLO to count every request", slo_counted, timeout=15)
        assert slo["name"] == "items-availability" and slo["target"] == 0.99
        budget = slo["budget"]
        assert (budget["good"], budget["bad"]) == (good, failed)
        burn = (failed / total) / (1 - 0.99)
        assert budget["consumed_fraction"] == pytest.approx(burn)
        assert budget["remaining_fraction"] == pytest.approx(1 - burn)
        assert budget["remaining"] == pytest.approx(0.01 * total - failed)
        # Every request is inside every burn window, so each burns at the same rate.
        assert slo["burn_rates"] == pytest.approx(
            dict.fromkeys(("5m", "30m", "1h", "6h", "3d"), burn)
        )
        assert "fast-burn" in slo["firing"]
        # Over budget: `plimsoll runtime slo` exits 1.
        assert service.plimsoll("runtime", "slo", check=1).stdout
        # --- plimsoll runtime usage: the tracked catalog lookups ---------------------------------
        lookups = int(good + failed) - 1  # every item request but /items/x reached the lookup

        def usage_flushed() -> dict[str, Any] | None:
            report = json.loads(service.plimsoll("runtime", "usage", "--format", "json").stdout)
            found = {f["feature"]: f for f in report["features"]}.get("catalog.lookup")
            return found if found is not None and found["calls"] == lookups else None

        lookup = wait_for("the usage events to be flushed", usage_flushed, timeout=15)
        assert lookup["failed"] == failed
        assert lookup["error_rate"] == pytest.approx(failed / lookups)
        assert 0 < lookup["p50_ms"] <= lookup["p95_ms"] <= lookup["p99_ms"]
        # --- the service stops: its health check fails and CatalogDown fires ---------------------
        # uvicorn shuts down gracefully, then (since 0.29) re-raises SIGTERM to say what stopped it.
        assert terminate(service.process) in (0, -signal.SIGTERM)
        served = service.log.read_text()
        assert "Application shutdown complete." in served and "Traceback" not in served

        def down_note() -> dict[str, Any] | None:
            found = notes(http_recorder, "CatalogDown")
            return found[0] if found else None

        down = wait_for("CatalogDown to fire", down_note)
        assert down["title"] == "[FIRING:1] CatalogDown (alertname=CatalogDown)"
        assert "the catalog service does not answer its health check" in down["body"]
    finally:
        code = terminate(watch)
    assert code == 0, (service.root / "watch.log.err").read_text()
    assert "Traceback" not in (service.root / "watch.log.err").read_text()
    stats = json.loads((service.root / "watch.log").read_text())
    assert stats["errors"] == [] and stats["failed_deliveries"] == 0
    assert stats["delivered"] == len(http_recorder.requests_to("/alerts", "POST"))
    # One notification as ItemErrors fired, one as it resolved: no flapping, no repeat.
    assert [n["fields"]["status"] for n in notes(http_recorder, "ItemErrors")] == [
        "firing",
        "resolved",
    ]
