"""``plimsoll runtime`` as the issue 6 review found it: what is refused, said and shown."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.alerts.engine import AlertEngine
from plimsoll.runtime.alerts.loader import read_rules_file
from plimsoll.runtime.alerts.samples import StoreSamples
from plimsoll.runtime.slo.alerting import BurnRateSource
from plimsoll.runtime.slo.loader import read_file
from tests.support.cli import COMMAND, ENV, plimsoll
from tests.support.servers import HttpRecorder

RULES = """
evaluation_interval: 1s
channels: [hook]
group_wait: 0s
rules:
  - name: QueueDeep
    metric: queue_depth
    op: ">"
    value: 10
    summary: "the queue of {queue} holds {value} jobs, more than its workers can take in a minute"
  - name: CatalogDown
    metric: health_check_status
    matchers: ['check="catalog:responseTime"']
    op: ">="
    value: 2
"""

SLOS = """
objectives:
  - name: availability
    target: 0.99
    ratio: {good: http_requests_total, total: http_requests_ok_total}
  - name: nope
    target: 0.99
    ratio: {good: nope_good_total, total: nope_total}
  - name: checkout-payments-with-a-long-name
    target: 0.999
"""

# Off a terminal: no COLUMNS, so rich assumes 80 columns, as in `plimsoll ... | less`.
PIPED = {k: v for k, v in ENV.items() if k != "COLUMNS"}


@pytest.fixture
def project(tmp_path: Path, http_recorder: HttpRecorder) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)
    (root / "plimsoll.toml").write_text(
        f'[notify.channels.hook]\nkind = "webhook"\nurl = "{http_recorder.url}/hook"\nretries = 0\n'
    )
    (root / "rules.yaml").write_text(RULES)
    (root / "slo.yaml").write_text(SLOS)
    return root


def _store(root: Path) -> SqliteStore:
    return SqliteStore(root / ".plimsoll" / "state.db")


def _piped(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*COMMAND, *args], cwd=root, capture_output=True, text=True, env=PIPED, check=False
    )


def test_a_zero_evaluation_interval_is_refused(project: Path) -> None:
    """Review item 3: `--interval 0s` and `evaluation_interval = "0s"` spun a CPU."""
    done = plimsoll(project, "runtime", "watch", "--rules", "rules.yaml", "--interval", "0s",
                    "--no-monitor", "--no-health", check=2)  # fmt: skip
    assert done.stderr.strip() == "plimsoll: error: --interval: must be longer than zero"
    (project / "zero.yaml").write_text(
        RULES.replace("evaluation_interval: 1s", "evaluation_interval: 0s")
    )
    done = plimsoll(project, "runtime", "watch", "--rules", "zero.yaml", "--no-monitor", check=2)
    assert done.stderr.strip() == (
        "plimsoll: error: zero.yaml: evaluation_interval: must be longer than zero"
    )


def test_watch_says_its_interval_with_a_unit_and_counts_in_words(project: Path) -> None:
    proc = subprocess.Popen(
        [*COMMAND, "runtime", "watch", "--rules", "rules.yaml", "--interval", "0.25",
         "--no-monitor", "--no-health"],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()
        time.sleep(0.4)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert first.strip() == "watching: 2 rules every 250ms (SIGTERM or Ctrl-C to stop)"
    cycles = int(out.split()[2])
    noun = "cycle" if cycles == 1 else "cycles"
    assert out.strip() == f"stopped after {cycles} {noun}; 0 notifications delivered"


def test_an_unknown_channel_names_the_file_it_is_in(project: Path) -> None:
    """Review item 15: `runtime.alerts.channels: unknown channel nope` named no file."""
    config = project / "plimsoll.toml"
    config.write_text(config.read_text() + '\n[runtime.alerts]\nchannels = ["nope"]\n')
    done = plimsoll(project, "runtime", "watch", "--no-monitor", check=2)
    assert done.stderr.strip() == (
        f"plimsoll: error: {config}: runtime.alerts.channels: unknown channel nope"
        " (configured under notify.channels: hook)"
    )
    (project / "nope.yaml").write_text(RULES.replace("channels: [hook]", "channels: [nope]"))
    for command in (("watch", "--no-monitor"), ("alerts", "test"), ("rules", "export")):
        extra = ("--alertmanager",) if command[0] == "rules" else ()
        done = plimsoll(project, "runtime", *command, *extra, "--rules", "nope.yaml", check=2)
        assert done.stderr.strip() == (
            "plimsoll: error: nope.yaml: channels: unknown channel nope (configured under notify.channels: hook)"
        ), command
    done = plimsoll(project, "runtime", "alerts", "test", "--channel", "pager", check=2)
    assert (
        "--channel: unknown channel pager (configured under notify.channels: hook)" in done.stderr
    )


def test_a_failed_test_notification_is_not_said_to_be_queued(
    project: Path, http_recorder: HttpRecorder
) -> None:
    """Review item 14: `alerts test -f json` said "queued", "outbox_id": 1, keeping nothing."""
    http_recorder.script(503)
    done = plimsoll(project, "runtime", "alerts", "test", "--rules", "rules.yaml", "-f", "json",
                    check=1)  # fmt: skip
    [result] = json.loads(done.stdout)["results"]
    assert result["status"] == "failed" and result["delivered"] is False
    assert "outbox_id" not in result and "HTTP 503" in result["error"]
    # Really nothing kept: no later delivery of a test nobody is watching.
    with _store(project) as store:
        assert store.outbox_pending() == []
    assert len(http_recorder.requests) == 1


def test_the_prometheus_export_leaves_out_what_prometheus_never_sees(project: Path) -> None:
    """Review item 5: CatalogDown over health_check_status was exported."""
    done = plimsoll(project, "runtime", "rules", "export", "--prometheus", "--rules", "rules.yaml")
    assert "QueueDeep" in done.stdout and "CatalogDown" not in done.stdout
    assert done.stderr.startswith("note: rule CatalogDown left out: health_check_status is")


def _fire(root: Path, at: float) -> None:
    """A QueueDeep alert firing at ``at`` on a queue with a long name."""
    with _store(root) as store:
        storage.add_samples(
            store,
            [storage.Sample("queue_depth", 4200.0, at, {"queue": "invoices-to-render-as-pdf"})],
        )
        AlertEngine(read_rules_file(root / "rules.yaml"), store, StoreSamples(store)).cycle(at)


def test_alerts_list_off_a_terminal_shows_every_value_whole(project: Path) -> None:
    """Review item 11: piped, `alerts list` wrapped `fingerpri/nt` and the summary."""
    _fire(project, time.time())
    done = _piped(project, "runtime", "alerts", "list")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "the queue of invoices-to-render-as-pdf holds 4200 jobs, more than its workers" in (
        done.stdout
    )
    assert any(
        line.startswith("    ") and "queue=invoices-to-render-as-pdf" in line for line in lines
    )
    assert "…" not in done.stdout and "fingerpri" not in done.stdout
    # On a terminal wide enough for every cell whole: the table.
    wide = subprocess.run(
        [*COMMAND, "runtime", "alerts", "list"],
        cwd=project, capture_output=True, text=True, env={**ENV, "COLUMNS": "300"}, check=True,
    )  # fmt: skip
    assert "┃ id" in wide.stdout and "│ firing" in wide.stdout


def _slo_samples(root: Path, now: float) -> None:
    """Ten minutes of the counters, good and total swapped: 14 times more "good" than total."""
    with _store(root) as store:
        storage.add_samples(
            store,
            [
                storage.Sample(name, k * factor, now - 600 + k, {"route": "/items"})
                for k in range(0, 600, 10)
                for name, factor in (("http_requests_total", 14.0), ("http_requests_ok_total", 1.0))
            ],
        )


def test_slo_warns_of_counters_that_cannot_be_right(project: Path) -> None:
    """Review item 4: swapped counters read 100% compliance; missing ones 100% budget left."""
    now = time.time()
    _slo_samples(project, now)
    done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "-f", "json", check=None)
    report = {s["name"]: s for s in json.loads(done.stdout)["slos"]}
    [swapped] = report["availability"]["warnings"]
    assert swapped.startswith("good events exceed the total over the last 30d (8260 good of 590,")
    assert "ratio.good = http_requests_total, ratio.total = http_requests_ok_total" in swapped
    assert report["nope"]["warnings"] == [
        f"no samples of {name} over the last 30d: is the name right, and is the monitor"
        " sampling the service's registry?"
        for name in ("nope_good_total", "nope_total")
    ]
    assert report["checkout-payments-with-a-long-name"]["warnings"] == [
        "no events recorded for checkout-payments-with-a-long-name over the last 30d"
    ]
    text = _piped(project, "runtime", "slo", "--file", "slo.yaml")
    assert "warning: slo availability: good events exceed the total" in text.stderr
    assert "warning: slo nope: no samples of nope_total" in text.stderr


def test_slo_tables_off_a_terminal_are_never_cut(project: Path) -> None:
    """Review item 11: piped, `runtime slo` showed `99.00…`, `compl…`, `budget left -9608…`."""
    with _store(project) as store:
        from plimsoll.runtime.slo import storage as slo_storage

        now = time.time()
        slo_storage.record_many(
            store,
            [("checkout-payments-with-a-long-name", 900, 1000, now - k * 60) for k in range(1, 30)],
        )
    done = _piped(project, "runtime", "slo", "--file", "slo.yaml")
    assert done.returncode == 1, done.stderr  # the budget is exhausted
    assert "…" not in done.stdout
    assert (
        "checkout-payments-with-a-long-name: target 99.900% / 30d, compliance 90.000%,"
        " budget left -9900.0%, bad / allowed 2900 / 29"
    ) in done.stdout
    assert "  burning: fast-burn, medium-burn, slow-burn" in done.stdout


def test_slo_at_takes_a_real_time_and_shows_the_alerts_raised_then(project: Path) -> None:
    """Review item 12: `--at` took -5, nan and 1e30, and showed today's alerts at any time."""
    for nonsense in ("-5", "nan", "1e30"):
        done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", f"--at={nonsense}",
                        check=2)  # fmt: skip
        assert "is not a Unix time in seconds, now or past" in done.stderr
    now = time.time()
    config = read_file(project / "slo.yaml")
    with _store(project) as store:
        from plimsoll.runtime.slo import storage as slo_storage

        name = "checkout-payments-with-a-long-name"
        # Fine two hours ago, burning for the last hour.
        slo_storage.record_many(store, [(name, 1000, 1000, now - k * 60) for k in range(60, 180)])
        slo_storage.record_many(store, [(name, 100, 1000, now - k * 60) for k in range(0, 60)])
        source = BurnRateSource(config, store)
        engine = AlertEngine(
            read_rules_file(project / "rules.yaml"), store, StoreSamples(store), sources=[source]
        )
        engine.cycle(now - 7200)
        engine.cycle(now)

    def raised(at: float) -> list[str]:
        done = plimsoll(project, "runtime", "slo", "--file", "slo.yaml", "--at", str(at),
                        "-f", "json", check=None)  # fmt: skip
        report = {s["name"]: s for s in json.loads(done.stdout)["slos"]}
        return sorted(a["alertname"] for a in report[name]["raised"])

    assert raised(now) == ["SLOFastBurn", "SLOMediumBurn", "SLOSlowBurn"]
    assert raised(now - 3600) == []  # none was raised then (the watch saw no burn)
