"""``plimsoll runtime alerts|watch|rules`` end to end, in subprocesses, with a real webhook."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from tests.support.cli import ENV, plimsoll
from tests.support.servers import HttpRecorder

RULES = """
evaluation_interval: 0.2s
channels: [hook]
group_wait: 0s
group_interval: 0s
rules:
  - name: HighLatency
    metric: app_latency_ms
    op: ">"
    value: 100
    severity: critical
    summary: "latency {value} ms on {route}"
"""


@pytest.fixture
def project(tmp_path: Path, http_recorder: HttpRecorder) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[notify.channels.hook]\nkind = "webhook"\nurl = "{http_recorder.url}/hook"\nretries = 0\n'
    )
    (root / "rules.yaml").write_text(RULES)
    return root


def sample(root: Path, value: float) -> None:
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        storage.add_samples(
            store, [storage.Sample("app_latency_ms", value, time.time(), {"route": "/pay"})]
        )


def wait_for(check: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_watch_fires_resolves_and_stops_on_sigterm(
    project: Path, http_recorder: HttpRecorder
) -> None:
    sample(project, 250)
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "runtime", "watch", "--rules", "rules.yaml",
         "--no-monitor", "-f", "json"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        wait_for(lambda: len(http_recorder.requests) >= 1)
        fired = http_recorder.requests[0].json()
        assert fired["title"] == "[FIRING:1] HighLatency (alertname=HighLatency)"
        assert "latency 250 ms on /pay" in fired["body"]
        listed = json.loads(plimsoll(project, "runtime", "alerts", "list", "-f", "json").stdout)
        [alert] = listed["alerts"]
        assert alert["state"] == "firing" and alert["labels"]["route"] == "/pay"
        sample(project, 20)
        wait_for(lambda: len(http_recorder.requests) >= 2)
        assert http_recorder.requests[1].json()["title"].startswith("[RESOLVED] HighLatency")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["cycles"] >= 2 and stats["delivered"] == 2 and stats["errors"] == []


def test_ack_silence_and_list(project: Path) -> None:
    sample(project, 500)
    from plimsoll.runtime.alerts.engine import AlertEngine
    from plimsoll.runtime.alerts.loader import read_rules_file
    from plimsoll.runtime.alerts.samples import StoreSamples

    with SqliteStore(project / ".plimsoll" / "state.db") as store:
        AlertEngine(read_rules_file(project / "rules.yaml"), store, StoreSamples(store)).cycle()
    done = plimsoll(project, "runtime", "alerts", "ack", "HighLatency", "--by", "ana", "-f", "json")
    [acked] = json.loads(done.stdout)["acknowledged"]
    assert acked["state"] == "acknowledged" and acked["acked_by"] == "ana"
    text = plimsoll(project, "runtime", "alerts", "list").stdout
    assert "HighLatency" in text and "acknowledged" in text
    # Acknowledging it again is no error: it says who took it, and changes nothing.
    again = plimsoll(project, "runtime", "alerts", "ack", "HighLatency", "--by", "bo")
    assert f"{acked['fingerprint'][:8]} HighLatency was acknowledged already (by ana at" in (
        again.stdout
    )
    repeat = plimsoll(project, "runtime", "alerts", "ack", "HighLatency", "-f", "json")
    assert json.loads(repeat.stdout)["acknowledged"] == []
    [still] = json.loads(repeat.stdout)["already_acknowledged"]
    assert still["acked_by"] == "ana" and still["acked_at"] == acked["acked_at"]
    missing = plimsoll(project, "runtime", "alerts", "ack", "Nope", check=2)
    assert missing.stderr.strip() == (
        "plimsoll: error: no firing alert matches 'Nope' (a rule or a fingerprint;"
        " `plimsoll runtime alerts list` shows them)"
    )
    made = plimsoll(
        project, "runtime", "alerts", "silence", "-m", "route=~/p.*", "--for", "2h",
        "--comment", "deploy", "-f", "json",
    )  # fmt: skip
    silence = json.loads(made.stdout)["silence"]
    assert silence["matchers"] == ['route=~"/p.*"']
    assert silence["ends_at"] - silence["starts_at"] == pytest.approx(7200)
    listed = json.loads(
        plimsoll(project, "runtime", "alerts", "silence", "--list", "-f", "json").stdout
    )
    assert [s["id"] for s in listed["silences"]] == [silence["id"]]
    plimsoll(project, "runtime", "alerts", "silence", "--expire", str(silence["id"]))
    listed = json.loads(
        plimsoll(project, "runtime", "alerts", "silence", "--list", "-f", "json").stdout
    )
    assert listed["silences"] == []
    bad = plimsoll(project, "runtime", "alerts", "silence", "-m", "route~x", check=2)
    assert "invalid matcher 'route~x'" in bad.stderr and "Traceback" not in bad.stderr


def test_alerts_test_reports_each_channel(project: Path, http_recorder: HttpRecorder) -> None:
    done = plimsoll(project, "runtime", "alerts", "test", "--rules", "rules.yaml", "-f", "json")
    [result] = json.loads(done.stdout)["results"]
    assert result["channel"] == "hook" and result["status"] == "delivered"
    assert http_recorder.requests[0].json()["title"] == "[TEST] plimsoll alert notification"
    http_recorder.script(500)
    failed = plimsoll(project, "runtime", "alerts", "test", "--rules", "rules.yaml", check=1)
    assert "hook: FAILED: webhook" in failed.stdout and "HTTP 500" in failed.stdout


def test_bad_rules_file_names_file_and_key(project: Path) -> None:
    (project / "bad.yaml").write_text("rules:\n  - name: X\n    metric: m\n    op: '>'\n")
    done = plimsoll(project, "runtime", "rules", "export", "--rules", "bad.yaml", check=2)
    assert done.stderr.strip().startswith("plimsoll: error: bad.yaml: rules[0]:")
    assert "needs op and value" in done.stderr
    (project / "broken.yaml").write_text("rules: [\n")
    done = plimsoll(project, "runtime", "rules", "export", "--rules", "broken.yaml", check=2)
    assert "broken.yaml: line" in done.stderr and "invalid YAML" in done.stderr


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed")
def test_rules_export_prometheus_passes_promtool(project: Path) -> None:
    plimsoll(project, "runtime", "rules", "export", "--prometheus", "--rules", "rules.yaml",
             "-o", "out.yml")  # fmt: skip
    done = subprocess.run(
        ["promtool", "check", "rules", str(project / "out.yml")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and "SUCCESS: 1 rules found" in done.stdout, done.stdout
    routes = plimsoll(project, "runtime", "rules", "export", "--alertmanager", "--rules",
                      "rules.yaml", "-f", "json")  # fmt: skip
    assert json.loads(routes.stdout)["route"]["receiver"] == "hook"


def test_rules_export_to_a_folder_or_a_missing_one_exits_2(project: Path) -> None:
    (project / "out.d").mkdir()
    for target in ("missing/out.yml", "out.d"):
        done = plimsoll(project, "runtime", "rules", "export", "--rules", "rules.yaml", "-o",
                        target, check=2)  # fmt: skip
        assert f"{target}: cannot write:" in done.stderr and "Traceback" not in done.stderr
