"""``plimsoll runtime usage`` and ``plimsoll runtime monitor`` end to end, in subprocesses."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.analytics import percentile
from plimsoll.runtime.storage import UsageEvent
from tests.support.cli import ENV, plimsoll


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)  # the configuration search stops here
    return root


def state_db(project: Path) -> Path:
    return project / ".plimsoll" / "state.db"


def test_usage_without_a_store_creates_none(project: Path) -> None:
    done = plimsoll(project, "runtime", "usage", "-f", "json")
    data = json.loads(done.stdout)
    assert data["events"] == 0 and data["features"] == [] and data["by_hour"] == [0] * 24
    assert "no state store" in data["notes"][0]
    assert not state_db(project).exists()


def test_usage_reports_what_was_tracked(project: Path) -> None:
    now = time.time()
    durations = [float(d) for d in range(1, 41)]
    events = [
        UsageEvent(
            "feature",
            "search",
            now - 60 - i,
            d,
            i % 8 != 0,
            None if i % 8 else "KeyError",
            f"s{i % 4}",
        )  # fmt: skip
        for i, d in enumerate(durations)
    ]
    events += [UsageEvent("api_call", "orders.create", now - 2 * 86400, 5.0)]  # outside 1d
    with SqliteStore(state_db(project)) as store:
        storage.add_events(store, events, dropped=3, now=now - 30)
    data = json.loads(plimsoll(project, "runtime", "usage", "--window", "1d", "-f", "json").stdout)
    [search] = data["features"]
    assert search["feature"] == "search" and search["calls"] == 40 and search["failed"] == 5
    assert search["error_rate"] == 0.125
    assert search["p95_ms"] == percentile(sorted(durations), 95)
    assert (data["events"], data["dropped"], data["sessions"]) == (40, 3, 4)
    week = json.loads(plimsoll(project, "runtime", "usage", "-w", "1w", "-f", "json").stdout)
    assert [f["feature"] for f in week["features"]] == ["orders.create", "search"]

    text = plimsoll(project, "runtime", "usage", "--window", "1d").stdout
    assert "usage over 1d" in text and "search" in text and "p99 ms" in text
    assert "12.5%" in text and "40 events, 4 sessions, 3 dropped" in text


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("runtime", "usage", "--window", "fortnight"), "window"),
        (("runtime", "usage", "--length", "0"), "--length"),
        (("runtime", "monitor", "--interval", "soon"), "--interval"),
        (("runtime", "monitor", "--duration", "0"), "--duration"),
    ],
)
def test_bad_options_exit_2(project: Path, args: tuple[str, ...], needle: str) -> None:
    done = plimsoll(project, *args, check=2)
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not state_db(project).exists()


def test_a_bad_config_exits_2_naming_the_key(project: Path) -> None:
    (project / "plimsoll.toml").write_text("[runtime.monitor]\ninterval_seconds = -1\n")
    done = plimsoll(project, "runtime", "monitor", "--duration", "1", check=2)
    assert "runtime.monitor.interval_seconds" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_monitor_runs_for_a_duration(project: Path) -> None:
    (project / "plimsoll.toml").write_text("[runtime.monitor]\ninterval_seconds = 0.2\n")
    done = plimsoll(project, "runtime", "monitor", "--duration", "1.1", "-f", "json")
    summary = json.loads(done.stdout)
    assert summary["stopped_by"] == "duration" and summary["interval_seconds"] == 0.2
    assert summary["ticks"] >= 3 and summary["errors"] == 0
    with SqliteStore(state_db(project)) as store:
        memory = storage.samples(store, "system_memory_percent", None, None)
        assert len(memory) == summary["ticks"]
        assert memory[-1][1] == pytest.approx(psutil.virtual_memory().percent, abs=5)
        # The CLI process's own registry: prometheus_client's process collector.
        assert storage.latest(store, "process_virtual_memory_bytes") is not None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_monitor_stops_cleanly_on_a_signal(project: Path, sig: signal.Signals) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "plimsoll", "runtime", "monitor", "-i", "0.1", "-f", "json"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        deadline = time.monotonic() + 30
        seen = 0
        while time.monotonic() < deadline and not seen:
            time.sleep(0.1)
            if state_db(project).exists():
                with SqliteStore(state_db(project)) as store:
                    seen = len(storage.samples(store, "process_threads", None, None))
        assert seen, "the monitor wrote no sample"
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["stopped_by"] == sig.name and summary["ticks"] >= 1
    assert "Traceback" not in err


def test_a_tracked_app_shows_up_in_usage(project: Path) -> None:
    """The new user's path: enable usage in the config, decorate, run, then look."""
    (project / "plimsoll.toml").write_text("[runtime.usage]\nenabled = true\n")
    (project / "app.py").write_text(
        "import asyncio\n"
        "from plimsoll.runtime import usage\n\n"
        "usage.configure()\n\n"
        "@usage.track_usage('reports.export')\n"
        "def export(n):\n"
        "    if n == 3:\n"
        "        raise ValueError('bad')\n"
        "    return n\n\n"
        "@usage.track_usage('orders.list', kind='api_call')\n"
        "async def orders():\n"
        "    await asyncio.sleep(0)\n\n"
        "for i in range(6):\n"
        "    try:\n"
        "        export(i)\n"
        "    except ValueError:\n"
        "        pass\n"
        "asyncio.run(orders())\n"
    )
    ran = subprocess.run(
        [sys.executable, "app.py"], cwd=project, capture_output=True, text=True, timeout=60,
        env=ENV, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    data = json.loads(plimsoll(project, "runtime", "usage", "-w", "1h", "-f", "json").stdout)
    stats = {f["feature"]: f for f in data["features"]}
    assert (stats["reports.export"]["calls"], stats["reports.export"]["failed"]) == (6, 1)
    assert stats["orders.list"]["kinds"] == ["api_call"]
