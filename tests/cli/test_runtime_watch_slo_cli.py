"""``plimsoll runtime watch`` raising SLO burn-rate alerts, end to end, as a user would run it.

A real ``plimsoll runtime watch`` subprocess over a project whose only alerting is one SLO (the
three standard burn alerts by default); the application's SLO events are written to the store
with the library, a local webhook receives the pages and the ticket, ``plimsoll runtime slo``
shows them raised, and once the events turn good every alert resolves. The monitor's retention
pass purges an SLO event older than the period.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime.slo import storage
from tests.support.cli import ENV, plimsoll
from tests.support.servers import HttpRecorder

DAY = 86400.0


@pytest.fixture
def project(tmp_path: Path, http_recorder: HttpRecorder) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f"""
[notify.channels.hook]
kind = "webhook"
url = "{http_recorder.url}/hook"
retries = 0

[runtime.monitor]
system = false
sample_registry = false

[runtime.alerts]
evaluation_interval = "0.2s"
channels = ["hook"]
group_wait = "0s"
group_interval = "0s"

[[runtime.slo.objectives]]
name = "checkout"
target = "99%"
labels = {{ service = "shop" }}
"""
    )
    return root


def record(root: Path, rows: list[tuple[str, float, float, float]]) -> None:
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        storage.record_many(store, rows)


def slo_rows(root: Path) -> int:
    with SqliteStore(root / ".plimsoll" / "state.db") as store:
        return int(store.db.query("SELECT COUNT(*) AS n FROM slo_events")[0]["n"])


def wait_for(check: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def titles(recorder: HttpRecorder) -> list[str]:
    return [r.json()["title"] for r in recorder.requests_to("/hook")]


def test_watch_pages_on_a_burning_slo_and_resolves_when_events_turn_good(
    project: Path, http_recorder: HttpRecorder
) -> None:
    now = time.time()
    # The last hour: 1,000 events a minute, 200 bad (20% against a 1% budget: 20x everywhere,
    # over every burn alert's factor); and one event 40 days old, past the 31-day retention.
    record(project, [("checkout", 800, 1000, now - k * 60) for k in range(60)])
    record(project, [("checkout", 1, 1, now - 40 * DAY)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "runtime", "watch", "--monitor-interval", "0.2",
         "-f", "json"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        wait_for(lambda: len(titles(http_recorder)) >= 3)
        assert sorted(titles(http_recorder)) == [
            "[FIRING:1] SLOFastBurn (alertname=SLOFastBurn)",
            "[FIRING:1] SLOMediumBurn (alertname=SLOMediumBurn)",
            "[FIRING:1] SLOSlowBurn (alertname=SLOSlowBurn)",
        ]
        bodies = {r.json()["title"]: r.json() for r in http_recorder.requests_to("/hook")}
        fast = bodies["[FIRING:1] SLOFastBurn (alertname=SLOFastBurn)"]
        assert fast["severity"] == "critical"
        assert "service=shop, severity=page, slo=checkout, window=1h/5m" in fast["body"]
        assert "SLO checkout burns its error budget at 20x over 1h and 20x over 5m" in fast["body"]
        slow = bodies["[FIRING:1] SLOSlowBurn (alertname=SLOSlowBurn)"]
        assert slow["severity"] == "warning" and "severity=ticket" in slow["body"]
        # `runtime slo` shows the burn rates now and the alerts the watch raised.
        done = plimsoll(project, "runtime", "slo", "-f", "json", check=1)
        [checkout] = json.loads(done.stdout)["slos"]
        assert checkout["firing"] == ["fast-burn", "medium-burn", "slow-burn"]
        raised = {a["alertname"]: a for a in checkout["raised"]}
        assert sorted(raised) == ["SLOFastBurn", "SLOMediumBurn", "SLOSlowBurn"]
        assert {a["state"] for a in raised.values()} == {"firing"}
        assert raised["SLOMediumBurn"]["window"] == "6h/30m"
        text = plimsoll(project, "runtime", "slo", check=1).stdout
        assert "SLOFastBurn firing" in text
        # The retention pass (the monitor's, every 0.2 s) purged the 40-day-old event.
        wait_for(lambda: slo_rows(project) == 60)
        # The events turn good: ten million good ones this minute dilute every window under 1x.
        record(project, [("checkout", 10_000_000, 10_000_000, time.time())])
        wait_for(lambda: len(titles(http_recorder)) >= 6)
        assert sorted(titles(http_recorder)[3:]) == [
            "[RESOLVED] SLOFastBurn (alertname=SLOFastBurn)",
            "[RESOLVED] SLOMediumBurn (alertname=SLOMediumBurn)",
            "[RESOLVED] SLOSlowBurn (alertname=SLOSlowBurn)",
        ]
        done = plimsoll(project, "runtime", "slo", "-f", "json")
        assert json.loads(done.stdout)["slos"][0]["raised"] == []
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    stats = json.loads(out)
    assert stats["delivered"] == 6 and stats["errors"] == []


def test_watch_rejects_an_unknown_channel_of_an_objective(project: Path) -> None:
    config = project / "plimsoll.toml"
    config.write_text(config.read_text() + 'channels = ["pager"]\n')
    done = plimsoll(project, "runtime", "watch", "--no-monitor", check=2)
    # Named by its file, as every other configuration error is.
    assert done.stderr.strip() == (
        f"plimsoll: error: {config}: runtime.slo.objectives[0].channels: unknown channel pager"
        " (configured under notify.channels: hook)"
    )


def test_alerts_test_reaches_the_channels_of_the_slos_too(
    project: Path, http_recorder: HttpRecorder
) -> None:
    config = project / "plimsoll.toml"
    text = config.read_text().replace(
        "[runtime.monitor]",
        f'[notify.channels.pager]\nkind = "webhook"\nurl = "{http_recorder.url}/pager"\n\n'
        "[runtime.monitor]",
    )
    config.write_text(text + 'channels = ["pager"]\n')
    done = plimsoll(project, "runtime", "alerts", "test", "-f", "json")
    results = json.loads(done.stdout)["results"]
    assert [(r["channel"], r["status"]) for r in results] == [
        ("hook", "delivered"),
        ("pager", "delivered"),
    ]
    assert sorted(r.path for r in http_recorder.requests) == ["/hook", "/pager"]


def test_watch_without_its_monitor_purges_old_slo_events_itself(project: Path) -> None:
    # `--no-monitor`: the service samples its own metrics; the SLO events the watch reads
    # still go when they are past the period.
    now = time.time()
    record(project, [("checkout", 1000, 1000, now - k * 60) for k in range(3)])
    record(project, [("checkout", 1, 1, now - 40 * DAY), ("checkout", 1, 1, now - 50 * DAY)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "runtime", "watch", "--no-monitor", "-f", "json"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        wait_for(lambda: slo_rows(project) == 3)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["errors"] == []
