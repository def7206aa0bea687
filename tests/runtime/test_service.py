"""RuntimeService: a service's health, metrics, monitor and usage from its configuration."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from plimsoll.core.errors import ConfigError
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage, usage
from plimsoll.runtime.instruments import Counter
from plimsoll.runtime.service import RuntimeService
from tests.runtime.health_schema import validate
from tests.runtime.test_endpoints import fetch, serve_asgi, serve_wsgi

PYPROJECT = """\
[project]
name = "svc"

[tool.plimsoll.runtime.health]
service_id = "svc"

[[tool.plimsoll.runtime.health.checks]]
type = "system"
options = { resources = ["memory"] }

[tool.plimsoll.runtime.monitor]
interval_seconds = 30
system = false

[tool.plimsoll.runtime.usage]
enabled = true
flush_interval_seconds = 0.05
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "pkg").mkdir()
    return tmp_path


@usage.track_usage("reports.export")
def export(fail: bool = False) -> str:
    if fail:
        raise ValueError("no")
    return "ok"


def test_start_samples_the_registry_and_stop_flushes_usage(project: Path) -> None:
    registry = CollectorRegistry()
    jobs = Counter("jobs", "Jobs done.", registry=registry)
    runtime = RuntimeService.from_config(start=project / "pkg", registry=registry)
    assert runtime.loaded.root == project and not runtime.running
    with runtime:
        assert runtime.running and runtime.monitor is not None
        jobs.inc(3)
        export()
        with pytest.raises(ValueError):
            export(fail=True)
    assert not runtime.running
    with SqliteStore(project / ".plimsoll" / "state.db") as store:
        # The first tick at start saw 0; the last one, at stop, the 3 jobs.
        values = [value for _, value in storage.samples(store, "jobs_total", None, None)]
        assert values == [0.0, 3.0]
        events = storage.events(store, feature="reports.export")
        assert [e.ok for e in events] == [True, False]
        assert events[1].error == "ValueError"


def test_the_health_app_runs_the_configured_checks_mounted_or_not(project: Path) -> None:
    runtime = RuntimeService.from_config(project / "pyproject.toml", monitor=False, usage=False)
    with serve_asgi(runtime.health_asgi()) as url:
        status, headers, body = fetch(f"{url}/health/ready")
        assert status == 200 and headers["content-type"].startswith("application/health+json")
        report = json.loads(body)
        validate(report)
        assert report["serviceId"] == "svc" and "system:memoryUtilization" in report["checks"]
        assert fetch(f"{url}/health/live")[0] == 200
        assert fetch(f"{url}/ready")[0] == 404
    # Mounted at /health by a router (the ASGI root_path carries the mount point).
    mounted = runtime.health_asgi(base="")
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/health/ready", "root_path": "/health"}
    asyncio.run(mounted(scope, receive, send))
    assert sent[0]["status"] == 200
    with serve_wsgi(runtime.health_wsgi()) as url:
        assert fetch(f"{url}/health")[0] == 200


def test_metrics_and_the_lifespan(project: Path) -> None:
    registry = CollectorRegistry()
    Counter("served", "Requests served.", registry=registry).inc()
    runtime = RuntimeService.from_config(start=project, registry=registry, usage=False)
    with serve_asgi(runtime.metrics_asgi(path="/metrics")) as url:
        status, _, body = fetch(f"{url}/metrics")
        assert status == 200 and b"served_total 1.0" in body

    async def serve() -> bool:
        async with runtime.lifespan(None):
            return runtime.running

    assert asyncio.run(serve()) is True and not runtime.running


def test_a_bad_configuration_names_the_key(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.plimsoll.runtime.monitor]\ninterval_seconds = -1\n"
    )
    with pytest.raises(ConfigError, match=r"runtime\.monitor\.interval_seconds"):
        RuntimeService.from_config(start=tmp_path)
