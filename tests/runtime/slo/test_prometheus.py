"""SLOs as Prometheus recording and alerting rules, checked and unit-tested by promtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from plimsoll.runtime.slo.model import SloConfig
from plimsoll.runtime.slo.prometheus import error_ratio, rule_file, to_yaml

PROMTOOL = shutil.which("promtool") or "promtool"
needs_promtool = pytest.mark.skipif(
    shutil.which("promtool") is None, reason="promtool is not installed"
)

CONFIG = SloConfig.model_validate(
    {
        "objectives": [
            {"name": "api", "target": "99.9%",
             "ratio": {"good": "http_requests_good_total", "total": "http_requests_total",
                       "labels": {"job": "api"}}},
            {"name": "api-latency", "target": 0.99,
             "latency": {"metric": "http_request_duration_seconds", "threshold": 1}},
            {"name": "jobs", "target": 0.95},
        ]
    }
)  # fmt: skip


def test_expressions() -> None:
    api, latency, _ = CONFIG.objectives
    assert (
        error_ratio(api, "1h")
        == (
            ' 1 - (sum(rate(http_requests_good_total{job="api"}[1h]))'
            ' / sum(rate(http_requests_total{job="api"}[1h])))'
        ).strip()
    )
    # The le label as prometheus_client writes it: 1 is "1.0".
    assert 'http_request_duration_seconds_bucket{le="1.0"}[3d]' in error_ratio(latency, "3d")
    document, notes = rule_file(CONFIG)
    assert notes == ["objective jobs counts events recorded by the application: not exported"]
    recording, alerting = document["groups"][0]["rules"], document["groups"][1]["rules"]
    assert [r["record"] for r in recording] == [
        f"slo:sli_error:ratio_rate{w}" for w in ("5m", "30m", "1h", "6h", "3d")
    ]
    assert [r["alert"] for r in alerting] == ["SLOFastBurn", "SLOMediumBurn", "SLOSlowBurn"]
    assert alerting[0]["expr"] == (
        'slo:sli_error:ratio_rate1h{slo="api"} > (14.4 * 0.001)\nand\n'
        'slo:sli_error:ratio_rate5m{slo="api"} > (14.4 * 0.001)'
    )
    assert alerting[2]["labels"] == {
        "slo": "api",
        "severity": "ticket",
        "burn": "slow-burn",
        "window": "3d/6h",
    }  # the labels `runtime watch` gives the alerts it raises itself


def test_the_yaml_writes_shared_labels_out_in_full() -> None:
    import yaml

    document = rule_file(CONFIG)[0]
    text = to_yaml(document)
    # The same label mapping used by several rules is not written as a YAML alias.
    assert "&id" not in text and "*id" not in text
    assert yaml.safe_load(text) == document


@needs_promtool
def test_promtool_checks_the_rule_file(tmp_path: Path) -> None:
    path = tmp_path / "slo.yml"
    path.write_text(to_yaml(rule_file(CONFIG)[0]))
    done = subprocess.run(
        [PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    # Two objectives, each with 5 recording and 3 alerting rules.
    assert "SUCCESS: 16 rules found" in done.stdout


@needs_promtool
def test_promtool_fires_only_the_fast_burn(tmp_path: Path) -> None:
    # The same scenario as the store's: three days at 1,000 requests a minute, 2% failing
    # during the last hour. Prometheus must page with the fast burn only.
    api = CONFIG.objectives[0]
    (tmp_path / "slo.yml").write_text(to_yaml(rule_file(SloConfig(objectives=[api]))[0]))
    group_rules = rule_file(SloConfig(objectives=[api]))[0]["groups"][1]["rules"]
    expected = {
        rule["alert"]: [{"exp_labels": rule["labels"], "exp_annotations": rule["annotations"]}]
        for rule in group_rules
    }
    tests = {
        "rule_files": ["slo.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": 'http_requests_total{job="api"}', "values": "0+1000x4320"},
                    {
                        "series": 'http_requests_good_total{job="api"}',
                        "values": "0+1000x4260 4260980+980x59",
                    },
                ],  # fmt: skip
                "alert_rule_test": [
                    {
                        "eval_time": "4320m",
                        "alertname": "SLOFastBurn",
                        "exp_alerts": expected["SLOFastBurn"],
                    },
                    {"eval_time": "4320m", "alertname": "SLOMediumBurn", "exp_alerts": []},
                    {"eval_time": "4320m", "alertname": "SLOSlowBurn", "exp_alerts": []},
                    # Before the errors began nothing fires.
                    {"eval_time": "4250m", "alertname": "SLOFastBurn", "exp_alerts": []},
                ],  # fmt: skip
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(tests, sort_keys=False))
    done = subprocess.run(
        [PROMTOOL, "test", "rules", "test.yml"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout
