"""Prometheus rules and Alertmanager routes from the alert definitions, checked by promtool."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from plimsoll.runtime.alerts.prometheus import (
    STORE_ONLY_METRICS,
    alertmanager_config,
    duration,
    expression,
    rule_file,
    to_yaml,
)
from plimsoll.runtime.alerts.rule import AlertRule
from tests.runtime.alerts.helpers import T0, alerts_config, notify_config

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not installed (Debian package 'prometheus')"
)


def _rules() -> list[dict[str, object]]:
    return [
        {"name": "HighCPU", "metric": "node_cpu_busy_percent", "op": ">", "value": 90,
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
        'node_cpu_busy_percent{host=~"web.*"} > 90',
        "rate(http_errors_total[10m]) >= 0.5",
        "avg_over_time(latency_seconds[1m30s]) > 1.5",
        'absent_over_time(heartbeat{job="api"}[15m])',
    ]
    assert duration("1h30m") == "1h30m" and duration(0.25) == "250ms"


@needs_promtool
def test_rule_file_passes_promtool(tmp_path: Path) -> None:
    config = alerts_config(rules=_rules())
    path = tmp_path / "rules.yml"
    document, notes = rule_file(config)
    assert notes == []
    path.write_text(to_yaml(document))
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
    # The Slack webhook apprise posts to, as Alertmanager's slack_configs.
    [slack] = receivers["mail+chat"]["slack_configs"]
    assert slack == {"api_url": "https://hooks.slack.com/services/a/b/c", "send_resolved": True}
    assert doc["inhibit_rules"][0]["equal"] == ["host"]
    assert notes == []


def test_alertmanager_receivers_keep_credentials_and_say_what_they_leave_out() -> None:
    """Issue 6, review item 8: headers, SMTP logins and apprise services were dropped silently."""
    token = base64.b64encode(b"ops:pa:ss").decode()
    notify = notify_config(
        "http://hooks.example.test/alerts",
        bearer={"kind": "webhook", "url": "http://a.example.test/",
                "headers": {"Authorization": "Bearer T0KEN", "X-Team": "ops"}},
        basic={"kind": "webhook", "url": "http://b.example.test/",
               "headers": {"authorization": f"Basic {token}"}},
        mail={"kind": "smtp", "host": "mail.example.test", "port": 465, "ssl": True,
              "sender": "a@example.test", "to": ["x@example.test", "y@example.test"],
              "username": "relay", "password": "s3cret"},
        slack={"kind": "apprise", "url": "slack://T1/B2/C3/#alerts/#ops"},
        discord={"kind": "apprise", "url": "discord://123/abc"},
        bot={"kind": "apprise", "url": "slack://xoxb-1234-1234-4ddbc191d40ee098cbaae6f3523ada2d/#a"},
        telegram={"kind": "apprise", "url": "tgram://123456789:abcdefg/123"},
    )  # fmt: skip
    names = ["bearer", "basic", "mail", "slack", "discord", "bot", "telegram"]
    config = alerts_config(routes=[{"matchers": ["team=ops"], "channels": names}])
    doc, notes = alertmanager_config(config, notify)
    [receiver] = [r for r in doc["receivers"] if r["name"] == "+".join(names)]
    bearer, basic = receiver["webhook_configs"]
    assert bearer["http_config"] == {"authorization": {"type": "Bearer", "credentials": "T0KEN"}}
    assert basic["http_config"] == {"basic_auth": {"username": "ops", "password": "pa:ss"}}
    [mail] = receiver["email_configs"]
    assert (mail["auth_username"], mail["auth_password"]) == ("relay", "s3cret")
    assert mail["to"] == "x@example.test, y@example.test" and mail["require_tls"] is True
    [slack] = receiver["slack_configs"]
    assert slack["api_url"] == "https://hooks.slack.com/services/T1/B2/C3"
    assert slack["channel"] == "#alerts"
    [discord] = receiver["discord_configs"]
    assert discord["webhook_url"] == "https://discord.com/api/webhooks/123/abc"
    # What could not be carried is named, never dropped in silence.
    assert any("bearer: header X-Team left out" in n for n in notes), notes
    assert any("one Slack channel: #alerts (not #ops)" in n for n in notes), notes
    assert any(n.startswith("channel bot (a Slack bot token)") for n in notes), notes
    assert any(n.startswith("channel telegram (apprise tgram://)") for n in notes), notes
    assert len(notes) == 4, notes


def test_rules_over_series_only_plimsoll_stores_are_left_out_with_a_note(tmp_path: Path) -> None:
    """Issue 6, review item 5: the export held CatalogDown over health_check_status."""
    rules = [
        *_rules(),
        {"name": "CatalogDown", "metric": "health_check_status",
         "matchers": ['check="catalog:responseTime"'], "op": ">=", "value": 2},
        {"name": "HostCPU", "metric": "system_cpu_percent", "op": ">", "value": 95},
    ]  # fmt: skip
    document, notes = rule_file(alerts_config(rules=rules))
    exported = [r["alert"] for r in document["groups"][0]["rules"]]
    assert exported == ["HighCPU", "ErrorRate", "SlowAvg", "NoHeartbeat"]
    assert [n.split(":")[0] for n in notes] == [
        "rule CatalogDown left out",
        "rule HostCPU left out",
    ]
    assert "health_check_status is written by `plimsoll runtime watch`" in notes[0]
    # Nothing left to export: an empty file (still a valid one), and the notes.
    document, notes = rule_file(alerts_config(rules=rules[-2:]))
    assert document == {"groups": []} and len(notes) == 2


def test_the_store_only_list_matches_what_plimsoll_writes() -> None:
    from plimsoll.core.store import SqliteStore
    from plimsoll.runtime.monitor import PerformanceMonitor
    from plimsoll.runtime.watch import HEALTH_METRIC

    assert HEALTH_METRIC in STORE_ONLY_METRICS
    with SqliteStore.memory() as store:
        monitor = PerformanceMonitor(store, sample_registry=False)
        time.sleep(0.3)  # the CPU readings need a window since the first look
        written = {s.metric for s in monitor.collect(T0)}
    assert "system_cpu_percent" in written and "system_memory_percent" in written
    # process_resident_memory_bytes is also prometheus_client's own: Prometheus sees it.
    assert written - {"process_resident_memory_bytes"} <= set(STORE_ONLY_METRICS)
    assert "process_resident_memory_bytes" not in STORE_ONLY_METRICS


_TEXT_RULE = {
    "name": "QueueDeep", "metric": "queue_depth", "op": ">", "value": 10,
    "summary": "queue at {value} on {host} (limit {threshold}); {{value}} {x",
    "description": "it's 100% {{ not a template }} and {{{host}}} }}",
}  # fmt: skip

_PROMTOOL_TEST = """
rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'queue_depth{host="a"}'
        values: '50x5'
    alert_rule_test:
      - eval_time: 2m
        alertname: QueueDeep
        exp_alerts:
          - exp_labels: {severity: warning, host: a}
            exp_annotations:
              summary: 'queue at 50 on a (limit 10); {50} {x'
              description: "it's 100% {{ not a template }} and {{a}} }}"
"""


@needs_promtool
def test_literal_braces_in_user_text_stay_literal_for_promtool(tmp_path: Path) -> None:
    """Issue 6, review item 6: a literal {{ in a description broke the rule file."""
    document, _ = rule_file(alerts_config(rules=[_TEXT_RULE]))
    (tmp_path / "rules.yml").write_text(to_yaml(document))
    check = subprocess.run(
        [PROMTOOL, "check", "rules", "rules.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    # promtool renders the annotations of a firing alert: they read exactly as written.
    (tmp_path / "test.yml").write_text(_PROMTOOL_TEST)
    rendered = subprocess.run(
        [PROMTOOL, "test", "rules", "test.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
