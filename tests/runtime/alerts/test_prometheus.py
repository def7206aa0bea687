"""Prometheus rules and Alertmanager routes from the alert definitions, checked by promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from plimsoll.runtime.alerts.prometheus import (
    alertmanager_config,
    duration,
    expression,
    rule_file,
    to_yaml,
)
from plimsoll.runtime.alerts.rule import AlertRule
from tests.runtime.alerts.helpers import alerts_config, notify_config

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package 'prometheus')"
)


def _rules() -> list[dict[str, object]]:
    return [
        {"name": "HighCPU", "metric": "system_cpu_percent", "op": ">", "value": 90,
         "for": "5m", "severity": "critical", "matchers": ["host=~web.*"],
         "summary": "CPU {value}% on {host}"},
        {"name": "ErrorRate", "metric": "http_errors_total", "function": "rate",
         "window": "10m", "op": ">=", "value": 0.5},
        {"name": "SlowAvg", "metric": "latency.seconds", "aggregate": "avg", "window": "90s",
         "op": ">", "value": 1.5},
        {"name": "NoHeartbeat", "metric": "heartbeat", "function": "absent", "window": "15m",
         "matchers": ['job="api"']},
    ]  # fmt: skip


def test_expressions() -> None:
    rules = [AlertRule.model_validate(r) for r in _rules()]
    assert [expression(r) for r in rules] == [
        'system_cpu_percent{host=~"web.*"} > 90',
        "rate(http_errors_total[10m]) >= 0.5",
        "avg_over_time(latency_seconds[1m30s]) > 1.5",
        'absent_over_time(heartbeat{job="api"}[15m])',
    ]
    assert duration("1h30m") == "1h30m" and duration(0.25) == "250ms"


@needs_promtool
def test_rule_file_passes_promtool(tmp_path: Path) -> None:
    config = alerts_config(rules=_rules())
    path = tmp_path / "rules.yml"
    path.write_text(to_yaml(rule_file(config)))
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout
    doc = yaml.safe_load(path.read_text())
    high = doc["groups"][0]["rules"][0]
    assert high["for"] == "5m" and high["labels"]["severity"] == "critical"
    assert high["annotations"]["summary"] == "CPU {{ $value }}% on {{ $labels.host }}"


@needs_promtool
def test_promtool_rejects_a_broken_file(tmp_path: Path) -> None:
    # The check is real: a file with a bad expression fails it.
    path = tmp_path / "bad.yml"
    path.write_text("groups:\n- name: x\n  rules:\n  - alert: A\n    expr: rate(x[5m]\n")
    done = subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, check=False)
    assert done.returncode != 0


def test_alertmanager_routes_receivers_inhibition() -> None:
    notify = notify_config(
        "http://hooks.example.test/alerts",
        mail={"kind": "smtp", "host": "mail.example.test", "port": 587, "starttls": True,
              "sender": "a@example.test", "to": ["ops@example.test"]},
        chat={"kind": "apprise", "url": "slack://a/b/c"},
    )  # fmt: skip
    config = alerts_config(
        routes=[{"matchers": ["severity=critical"], "channels": ["mail", "chat"],
                 "repeat_interval": "30m", "continue": True}],
        inhibit=[{"source_matchers": ["alertname=HostDown"],
                  "target_matchers": ["severity=warning"], "equal": ["host"]}],
    )  # fmt: skip
    doc, notes = alertmanager_config(config, notify)
    route = doc["route"]
    assert route["receiver"] == "hook" and route["group_by"] == ["alertname"]
    assert route["repeat_interval"] == "1h"
    [child] = route["routes"]
    assert child["matchers"] == ['severity="critical"'] and child["continue"] is True
    assert child["repeat_interval"] == "30m" and child["receiver"] == "mail+chat"
    receivers = {r["name"]: r for r in doc["receivers"]}
    assert receivers["hook"]["webhook_configs"][0]["url"] == "http://hooks.example.test/alerts"
    assert receivers["mail+chat"]["email_configs"][0]["smarthost"] == "mail.example.test:587"
    assert doc["inhibit_rules"][0]["equal"] == ["host"]
    assert notes == ["channel chat (apprise) has no Alertmanager equivalent: its receiver is empty"]
