"""The helpers the runtime modules share: section loading, thresholds, ASGI plumbing, timing."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import BaseModel, ConfigDict

from plimsoll.core.errors import ConfigError
from plimsoll.runtime.asgi import lifespan, route_path, send_response
from plimsoll.runtime.checks.thresholds import elapsed_ms, threshold_pair
from plimsoll.runtime.config_loader import parse_settings, read_text, validate_section
from plimsoll.runtime.instruments import Gauge, Histogram, InstrumentError
from plimsoll.runtime.timing import InProgress, Timer


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    interval: int = 1
    names: list[str] = []


def test_validate_section_names_the_key_under_the_prefix() -> None:
    assert validate_section(_Section, {"interval": 5}, "cfg.toml").interval == 5
    with pytest.raises(ConfigError) as err:
        validate_section(_Section, {"names": ["a", 3]}, "cfg.toml", "runtime.x")
    assert str(err.value).startswith("cfg.toml: runtime.x.names[1]: ")
    with pytest.raises(ConfigError) as err:
        validate_section(_Section, {"bogus": 1}, "rules.yaml")
    assert str(err.value) == "rules.yaml: bogus: unknown key"


def test_validate_section_interpolates_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIMSOLL_TEST_INTERVAL", "7")
    assert validate_section(_Section, {"interval": "${PLIMSOLL_TEST_INTERVAL}"}, "x").interval == 7


def test_parse_settings_reads_toml_and_yaml_and_names_the_line(tmp_path: Path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text("interval = 3\n", encoding="utf-8")
    assert parse_settings(toml, read_text(toml)) == {"interval": 3}
    yaml_file = tmp_path / "s.yaml"
    assert parse_settings(yaml_file, "interval: 4\n") == {"interval": 4}
    assert parse_settings(yaml_file, "") == {}
    with pytest.raises(ConfigError, match=r"s\.yaml: line 2: invalid YAML"):
        parse_settings(yaml_file, "a: 1\nb: c: d\n")
    with pytest.raises(ConfigError, match=r"s\.toml: invalid TOML"):
        parse_settings(toml, "interval = \n")
    with pytest.raises(ConfigError, match="expected a table of settings"):
        parse_settings(yaml_file, "- 1\n- 2\n")
    with pytest.raises(ConfigError, match="cannot read"):
        read_text(tmp_path / "missing.yaml")


def test_threshold_pair_refuses_warn_above_fail() -> None:
    assert threshold_pair("latency", 10.0, 20.0) == (10.0, 20.0)
    assert threshold_pair("latency", None, 5.0) == (None, 5.0)
    with pytest.raises(
        ValueError, match=r"^latency_warn \(30\) must not exceed latency_fail \(20\)$"
    ):
        threshold_pair("latency", 30.0, 20.0)


def test_elapsed_ms_measures_milliseconds() -> None:
    started = time.perf_counter()
    time.sleep(0.02)
    took = elapsed_ms(started)
    assert 15.0 <= took < 2000.0
    assert took == round(took, 2)


def test_route_path_strips_the_mount_point() -> None:
    assert route_path({"path": "/app/health/live", "root_path": "/app"}) == "/health/live"
    assert route_path({"path": "/app", "root_path": "/app"}) == "/"
    assert route_path({"path": "", "root_path": ""}) == "/"
    assert route_path({"path": "/other", "root_path": "/app"}) == "/other"


def test_send_response_and_lifespan_speak_asgi() -> None:
    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(dict(message))

    incoming = iter([{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}])

    async def receive() -> Any:
        return next(incoming)

    async def run() -> None:
        await send_response(send, 404, [("Content-Type", "text/plain")], b"no")
        await lifespan(receive, send)

    asyncio.run(run())
    assert sent == [
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"text/plain")],
        },
        {"type": "http.response.body", "body": b"no"},
        {"type": "lifespan.startup.complete"},
        {"type": "lifespan.shutdown.complete"},
    ]


def test_timer_and_inprogress_from_their_own_module() -> None:
    reg = CollectorRegistry()
    hist = Histogram("shared_timer_seconds", "T.", registry=reg)
    gauge = Gauge("shared_running", "R.", registry=reg)
    assert isinstance(hist.time(), Timer)
    seen: list[float] = []

    @InProgress(gauge)
    def work() -> float:
        seen.append(reg.get_sample_value("shared_running") or 0.0)
        return 1.0

    async def awork() -> float:
        return 2.0

    timed = Timer(hist)(work)
    assert timed() == 1.0
    assert asyncio.run(Timer(hist)(awork)()) == 2.0
    assert seen == [1.0]
    assert reg.get_sample_value("shared_running") == 0.0
    assert reg.get_sample_value("shared_timer_seconds_count") == 2.0

    def gen() -> Any:
        yield 1

    with pytest.raises(InstrumentError, match="InProgress cannot decorate the generator"):
        InProgress(gauge)(gen)
    with pytest.raises(InstrumentError, match="Timer cannot decorate the generator"):
        Timer(hist)(gen)
