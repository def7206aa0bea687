"""``plimsoll runtime slo`` and ``slo export`` end to end, in subprocesses, over a real store."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime.slo import storage
from tests.support.cli import plimsoll

NOW = 1_700_006_400.0

SLOS = """
objectives:
  - name: api
    target: 99.9%
  - name: checkout
    target: 0.99
    period: 7d
    ratio: {good: http_requests_good_total, total: http_requests_total}
"""

OPENSLO = """
apiVersion: openslo/v1
kind: SLO
metadata: {name: api}
spec:
  budgetingMethod: Occurrences
  indicator:
    spec:
      thresholdMetric:
        metricSource: {spec: {metric: http_request_duration_seconds}}
  objectives:
    - {op: lte, value: 0.5, target: 0.99}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)
    (root / "plimsoll.toml").write_text("[store]\npath = '.plimsoll/state.db'\n")
    (root / "slo.yaml").write_text(SLOS)
    return root


def record(root: Path, rows: list[tuple[str, float, float, float]]) -> None:
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        storage.record_many(store, rows)


def test_status_healthy_then_paging(project: Path) -> None:
    record(project, [("api", 1000, 1000, NOW - k * 60) for k in range(1, 600)])
    done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "--at", str(NOW),
                    "--format", "json")  # fmt: skip
    report = json.loads(done.stdout)
    api = report["slos"][0]
    assert api["name"] == "api" and api["target"] == pytest.approx(0.999)
    assert api["budget"]["total"] == 599_000 and api["budget"]["remaining_fraction"] == 1.0
    assert api["burn_rates"] == {"5m": 0, "30m": 0, "1h": 0, "6h": 0, "3d": 0}
    assert api["firing"] == [] and report["failing"] is False
    # checkout reads samples the monitor has not taken: no events, nothing burning.
    assert report["slos"][1]["budget"]["total"] == 0
    # The last ten minutes: another 1,000 events a minute, 200 of them bad.
    record(project, [("api", 800, 1000, NOW - k * 60) for k in range(1, 11)])
    done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "--at", str(NOW),
                    "--format", "json", check=1)  # fmt: skip
    api = json.loads(done.stdout)["slos"][0]
    # By hand: 2,000 bad in all. 5m: 1,000 of 10,000 -> 0.1 / 0.001 = 100; 1h: 2,000 of 70,000
    # -> 28.6 (fast burn: both over 14.4); 6h: 2,000 of 370,000 -> 5.4 (medium needs 6);
    # 3d: 2,000 of 609,000 -> 3.3 (slow burn: 3d and 6h both over 1).
    assert api["burn_rates"]["5m"] == pytest.approx(100.0)
    assert api["burn_rates"]["1h"] == pytest.approx(2000 / 70_000 / 0.001)
    assert api["burn_rates"]["6h"] == pytest.approx(2000 / 370_000 / 0.001)
    assert api["burn_rates"]["3d"] == pytest.approx(2000 / 609_000 / 0.001)
    assert api["firing"] == ["fast-burn", "slow-burn"]
    # 609,000 events allow 609 bad: 2,000 exhaust the budget.
    assert api["budget"]["exhausted"] is True
    assert api["budget"]["remaining"] == pytest.approx(609 - 2000)
    text = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "--at", str(NOW), check=1)
    assert "5m 100.00x" in text.stdout and "fast-burn" in text.stdout
    assert "slow-burn" in text.stdout and "medium-burn" not in text.stdout


def test_periods_report(project: Path) -> None:
    record(project, [("api", 990, 1000, NOW - 40 * 86400), ("api", 1000, 1000, NOW - 60)])
    done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "--at", str(NOW),
                    "--periods", "2", "--format", "json")  # fmt: skip
    periods = json.loads(done.stdout)["slos"][0]["periods"]
    assert [p["met"] for p in periods] == [False, True]
    # A past period's exhausted budget does not fail now: the current period is fine.
    assert periods[0]["exhausted"] is True and periods[1]["total"] == 1000


def test_openslo_file_and_bad_input(project: Path) -> None:
    (project / "lat.yaml").write_text(OPENSLO)
    done = plimsoll(project, "runtime", "slo", "--file", "lat.yaml", "--format", "json")
    (api,) = json.loads(done.stdout)["slos"]
    assert api["kind"] == "latency" and api["target"] == pytest.approx(0.99)
    (project / "bad.yaml").write_text(OPENSLO.replace("target: 0.99", "target: 2"))
    bad = plimsoll(project, "runtime", "slo", "--file", "bad.yaml", check=2)
    assert "bad.yaml: spec.objectives[0].target: target 2 must be between 0 and 1" in bad.stderr
    assert "Traceback" not in bad.stderr
    (project / "dup.yaml").write_text("objectives:\n  - {name: a, target: 0.9, colour: red}\n")
    bad = plimsoll(project, "runtime", "slo", "--file", "dup.yaml", check=2)
    assert "dup.yaml: objectives[0].colour: unknown key" in bad.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_export_prometheus_passes_promtool(project: Path) -> None:
    done = plimsoll(project, "runtime", "slo", "export", "--prometheus", "--file", "slo.yaml",
                    "-o", "rules.yml")  # fmt: skip
    assert "objective api counts events recorded by the application" in done.stderr
    check = subprocess.run(
        ["promtool", "check", "rules", str(project / "rules.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 8 rules found" in check.stdout
    as_json = plimsoll(project, "runtime", "slo", "export", "--prometheus", "--file", "slo.yaml",
                       "--format", "json")  # fmt: skip
    assert json.loads(as_json.stdout)["groups"][0]["name"] == "slo:checkout:recording"
    # Prometheus is the default (and only) format, as for `runtime rules export`.
    default = plimsoll(project, "runtime", "slo", "export", "--file", "slo.yaml", "-f", "json")
    assert default.stdout == as_json.stdout


def test_export_output_is_written_whole_or_not_at_all(project: Path) -> None:
    kept = project / "rules.yml"
    kept.write_text("previous\n")
    (project / "rules.yml.d").mkdir()
    for target in ("missing/rules.yml", "rules.yml.d"):
        done = plimsoll(project, "runtime", "slo", "export", "--file", "slo.yaml", "-o", target,
                        check=2)  # fmt: skip
        assert f"{target}: cannot write:" in done.stderr and "Traceback" not in done.stderr
    assert kept.read_text() == "previous\n"
    plimsoll(project, "runtime", "slo", "export", "--file", "slo.yaml", "-o", "rules.yml")
    assert kept.read_text().startswith("groups:")
    assert [p.name for p in project.iterdir() if p.name.startswith(".rules.yml")] == []
