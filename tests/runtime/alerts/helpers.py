"""Shared builders for the alert tests: configs, a store with samples, a dispatcher."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.config import NotifyConfig
from plimsoll.core.notify import Dispatcher
from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples

T0 = 1_700_000_000.0


def alerts_config(**overrides: Any) -> AlertsConfig:
    """An alerts config with quick timings and one CPU rule, overridable."""
    data: dict[str, Any] = {
        "channels": ["hook"],
        "group_wait": "0s",
        "group_interval": "1m",
        "repeat_interval": "1h",
        "rules": [
            {
                "name": "HighCPU",
                "metric": "system_cpu_percent",
                "op": ">",
                "value": 90,
                "for": "2m",
                "severity": "critical",
                "labels": {"team": "ops"},
                "summary": "CPU at {value}% on {host}",
            }
        ],
    }
    data.update(overrides)
    return AlertsConfig.model_validate(data)


def notify_config(url: str, **channels: Any) -> NotifyConfig:
    """A webhook channel ``hook`` to ``url`` (plus any others), fast retries for tests."""
    return NotifyConfig.model_validate(
        {
            "channels": {
                "hook": {
                    "kind": "webhook",
                    "url": url,
                    "retries": 0,
                    "backoff_seconds": 1,
                    "breaker_threshold": 3,
                    "breaker_reset_seconds": 30,
                    "timeout_seconds": 2,
                },
                **channels,
            }
        }
    )


def cpu(store: SqliteStore, at: float, value: float, host: str = "a") -> None:
    """Store one CPU sample."""
    storage.add_samples(store, [storage.Sample("system_cpu_percent", value, at, {"host": host})])


def open_store(tmp_path: Path) -> SqliteStore:
    """A store file in ``tmp_path``."""
    return SqliteStore(tmp_path / "state.db")


def engine(store: SqliteStore, config: AlertsConfig, notify: NotifyConfig) -> AlertEngine:
    """An engine over the store's samples."""
    return AlertEngine(config, store, StoreSamples(store), channels=list(notify.channels))


def dispatcher(store: SqliteStore, notify: NotifyConfig, clock: list[float]) -> Dispatcher:
    """A dispatcher sharing the store's outbox, on a controllable clock."""
    return Dispatcher(notify, store, clock=lambda: clock[0], sleep=lambda s: None)
