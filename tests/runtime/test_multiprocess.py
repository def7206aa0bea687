"""Multiprocess mode with real processes: two workers write the same metrics into one directory,
and this test process (the third) serves their combined exposition over HTTP with uvicorn (ASGI)
and wsgiref (WSGI), read back with prometheus_client's own parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, values

from plimsoll.core.errors import UsageError
from plimsoll.runtime import exposition, multiprocess
from plimsoll.runtime.instruments import Counter
from tests.runtime.test_exposition import fetch, samples, serve_asgi, serve_wsgi

# One worker: declares the instruments the plimsoll way, waits until the other worker is running
# too, then counts and observes what its JSON argument says.
_WORKER = r"""
import json, os, sys, time
from pathlib import Path

from plimsoll.runtime.instruments import Counter, Gauge, Histogram

job = json.loads(sys.argv[1])
jobs = Counter("jobs", "Jobs done.", ["queue"])
latency = Histogram("job_seconds", "Job latency.", ["queue"], buckets=(0.1, 0.5, 1.0))
busy = Gauge("busy_workers", "Workers busy.", multiprocess_mode="livesum")
tag = Gauge("worker_tag", "One value per worker.", multiprocess_mode="all")
busy.inc()
tag.set(job["tag"])

barrier = Path(job["barrier"])
(barrier / str(os.getpid())).touch()
deadline = time.monotonic() + 20
while len(list(barrier.iterdir())) < 2 and time.monotonic() < deadline:
    time.sleep(0.005)

done = jobs.labels("default")
observe = latency.labels("default").observe
for _ in range(job["count"]):
    done.inc()
for value in job["observations"]:
    observe(value)
print(os.getpid())
"""

_SETUP_AFTER_IMPORT = r"""
import sys, warnings
import prometheus_client  # imported before multiprocess mode is on: it picks in-process values
from plimsoll.runtime import multiprocess
from plimsoll.runtime.instruments import Counter

early = Counter("early", "Declared before setup.")
early.inc()
warnings.simplefilter("always")
print(multiprocess.setup(sys.argv[1], clean=False))
Counter("late", "Declared after setup.").inc(3)
"""

BUCKETS = ("0.1", "0.5", "1.0", "+Inf")


@dataclass(frozen=True)
class Job:
    """What one worker does."""

    tag: float
    count: int
    observations: tuple[float, ...]


JOBS = (Job(1.0, 1500, (0.05, 0.3, 0.3, 2.0)), Job(2.0, 2500, (0.09, 0.7, 5.0)))


def _env(mp_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k.lower() != multiprocess.ENV_VAR.lower()}
    if mp_dir is not None:
        env[multiprocess.ENV_VAR] = str(mp_dir)
    return env


@pytest.fixture
def mp_dir(tmp_path: Path) -> Path:
    """An empty multiprocess directory."""
    folder = tmp_path / "prometheus"
    folder.mkdir()
    return folder


@pytest.fixture
def worker_pids(mp_dir: Path, tmp_path: Path) -> list[int]:
    """Run the two workers at the same time, to their end; their pids."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                json.dumps(
                    {
                        "tag": job.tag,
                        "count": job.count,
                        "observations": job.observations,
                        "barrier": str(barrier),
                    }
                ),
            ],
            env=_env(mp_dir),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for job in JOBS
    ]
    pids = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        pids.append(int(out.strip()))
    assert pids == [proc.pid for proc in procs]
    return pids


@pytest.fixture
def in_multiprocess_mode(mp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process scrapes the workers' directory (the variable set only for the test)."""
    monkeypatch.setenv(multiprocess.ENV_VAR, str(mp_dir))
    return mp_dir


def _scrape_both() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``/metrics`` with no registry given, served by uvicorn and by wsgiref: the same samples."""
    with serve_asgi(exposition.make_asgi_app()) as url:
        asgi = samples(fetch(url + "/metrics").text)
    with serve_wsgi(exposition.make_wsgi_app()) as url:
        wsgi = samples(fetch(url + "/metrics").text)
    assert asgi == wsgi
    return asgi


def test_the_exposition_sums_two_processes(
    worker_pids: list[int], in_multiprocess_mode: Path
) -> None:
    parsed = _scrape_both()
    queue = (("queue", "default"),)
    assert parsed[("jobs_total", queue)] == sum(job.count for job in JOBS)
    observations = [value for job in JOBS for value in job.observations]
    assert parsed[("job_seconds_count", queue)] == len(observations)
    assert parsed[("job_seconds_sum", queue)] == pytest.approx(sum(observations))
    for le in BUCKETS:
        expected = sum(1 for value in observations if value <= float(le.replace("+Inf", "inf")))
        assert parsed[("job_seconds_bucket", (("le", le), ("queue", "default")))] == expected
    assert parsed[("busy_workers", ())] == 2  # livesum: both workers' 1
    # mode "all": one series per process, labelled with its pid.
    tags = {labels: value for (name, labels), value in parsed.items() if name == "worker_tag"}
    assert tags == {
        (("pid", str(pid)),): job.tag for pid, job in zip(worker_pids, JOBS, strict=True)
    }


def test_a_dead_worker_leaves_the_live_gauges(
    worker_pids: list[int], in_multiprocess_mode: Path
) -> None:
    first, second = worker_pids
    multiprocess.mark_process_dead(first)
    parsed = _scrape_both()
    assert parsed[("busy_workers", ())] == 1
    # Counters and histograms keep the dead worker's part: totals stay true.
    assert parsed[("jobs_total", (("queue", "default"),))] == 4000
    assert len([name for name, _ in parsed if name == "worker_tag"]) == 2

    @dataclass
    class GunicornWorker:
        pid: int

    multiprocess.child_exit(object(), GunicornWorker(second))
    assert ("busy_workers", ()) not in _scrape_both()


def test_collector_registry_reads_the_directory(worker_pids: list[int], mp_dir: Path) -> None:
    # Without the variable, a path given explicitly.
    registry = multiprocess.collector_registry(mp_dir)
    assert registry.get_sample_value("jobs_total", {"queue": "default"}) == 4000
    body, _ = exposition.render(registry, names=["jobs_total"])
    assert samples(body.decode()) == {("jobs_total", (("queue", "default"),)): 4000}


def test_setup_after_prometheus_client_was_imported(mp_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SETUP_AFTER_IMPORT, str(mp_dir)],
        env=_env(None),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(mp_dir.resolve())
    assert "metrics declared before multiprocess.setup() keep in-process values" in done.stderr
    assert "missing from the multiprocess exposition: early" in done.stderr
    registry = multiprocess.collector_registry(mp_dir)
    assert registry.get_sample_value("late_total") == 3
    assert registry.get_sample_value("early_total") is None


@pytest.fixture
def restore_mode() -> Iterator[None]:
    """Undo what setup() does to this process: the variable and prometheus_client's value store."""
    saved_env = os.environ.get(multiprocess.ENV_VAR)
    saved_class = values.ValueClass
    try:
        yield
    finally:
        values.close_all_multiprocess_files()
        values.ValueClass = saved_class
        if saved_env is None:
            os.environ.pop(multiprocess.ENV_VAR, None)
        else:
            os.environ[multiprocess.ENV_VAR] = saved_env


def test_setup_cleans_only_prometheus_files(mp_dir: Path, restore_mode: None) -> None:
    (mp_dir / "counter_4242.db").write_bytes(b"stale")
    (mp_dir / "notes.txt").write_text("keep me")
    with warnings.catch_warnings():
        # Instruments of earlier tests may still be alive here; that warning is tested above.
        warnings.simplefilter("ignore", RuntimeWarning)
        folder = multiprocess.setup(mp_dir)
    assert folder == mp_dir.resolve()
    assert sorted(p.name for p in mp_dir.iterdir()) == ["notes.txt"]
    assert os.environ[multiprocess.ENV_VAR] == str(folder)
    assert multiprocess.is_enabled() and multiprocess.directory() == folder
    # Metrics made from now on in this process write to the directory.
    Counter("in_process", "I.", registry=CollectorRegistry()).inc(2)
    assert (mp_dir / f"counter_{os.getpid()}.db").exists()
    assert multiprocess.collector_registry().get_sample_value("in_process_total") == 2


def test_setup_creates_a_missing_directory_and_refuses_a_file(
    tmp_path: Path, restore_mode: None
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        created = multiprocess.setup(tmp_path / "new" / "dir")
    assert created.is_dir()
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(
        UsageError, match=f"multiprocess directory {a_file}: exists and is not a directory"
    ):
        multiprocess.setup(a_file)


def test_without_multiprocess_mode(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(multiprocess.ENV_VAR, raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    assert not multiprocess.is_enabled()
    with pytest.raises(
        UsageError, match="multiprocess mode is not set up: PROMETHEUS_MULTIPROC_DIR is not set"
    ):
        multiprocess.collector_registry()
    with pytest.raises(UsageError, match="not set up"):
        multiprocess.mark_process_dead(1234)
    with pytest.raises(UsageError, match="not a directory"):
        multiprocess.collector_registry(tmp_path / "missing")
