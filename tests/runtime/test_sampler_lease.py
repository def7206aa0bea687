"""One sampler among a service's workers: the lease, and real worker processes electing one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from plimsoll.core.store import SqliteStore
from plimsoll.runtime import storage
from plimsoll.runtime.monitor import PerformanceMonitor
from plimsoll.runtime.sampler_lease import LOCK_NAME, SamplerLease, default_lock_path

# --- the lease ------------------------------------------------------------------------------


def test_one_holder_at_a_time_and_release_hands_it_over(tmp_path: Path) -> None:
    path = tmp_path / "locks" / "m.lock"
    first, second = SamplerLease(path), SamplerLease(path)
    assert first.acquire() and first.held
    assert first.acquire()  # held already: still true
    assert not second.acquire() and not second.held
    assert path.read_text() == f"{os.getpid()}\n"
    first.release()
    assert not first.held
    assert second.acquire() and second.held
    assert not first.acquire()
    second.release()
    second.release()  # not held: nothing to do


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    path = tmp_path / "m.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        mine = SamplerLease(path)
        assert not mine.acquire()
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        assert mine.acquire()
        mine.release()
    finally:
        holder.kill()
        holder.wait(10)


_HOLD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from plimsoll.runtime.sampler_lease import SamplerLease
    lease = SamplerLease(Path(sys.argv[1]))
    assert lease.acquire()
    print("held", flush=True)
    time.sleep(60)
    """
)


def test_a_forked_child_neither_holds_nor_keeps_alive_the_parents_lease(tmp_path: Path) -> None:
    # A worker forked from a parent holding the lease stands by; when the parent is killed,
    # the copy of the lock the child inherited must not keep the lease from it.
    done = subprocess.run(
        [sys.executable, "-c", _FORK, str(tmp_path / "m.lock")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.stdout.split() == ["child-standby", "child-took-over"], done.stderr


_FORK = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from plimsoll.runtime.sampler_lease import SamplerLease
    lease = SamplerLease(Path(sys.argv[1]))
    assert lease.acquire()
    read, write = os.pipe()
    parent = os.getpid()
    if os.fork() == 0:
        os.close(read)
        print("child-standby" if not lease.acquire() else "child-held", flush=True)
        os.write(write, b"x")
        deadline = time.time() + 20
        while os.getppid() == parent and time.time() < deadline:
            pass  # until the parent is gone (killed, never released)
        while not lease.acquire() and time.time() < deadline:
            time.sleep(0.05)
        print("child-took-over" if lease.held else "child-locked-out", flush=True)
        os._exit(0)
    os.close(write)
    os.read(read, 1)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_the_default_place_is_the_multiprocess_directory_else_dot_plimsoll(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("prometheus_multiproc_dir", raising=False)
    assert default_lock_path(tmp_path) == tmp_path / ".plimsoll" / LOCK_NAME
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "mp"))
    assert default_lock_path(tmp_path) == tmp_path / "mp" / LOCK_NAME


def test_a_monitor_standing_by_writes_nothing_and_takes_over(tmp_path: Path) -> None:
    path = tmp_path / "m.lock"
    with SqliteStore(tmp_path / "state.db") as store:
        leader = PerformanceMonitor(store, system=False, lease=SamplerLease(path))
        standby = PerformanceMonitor(store, system=False, lease=SamplerLease(path))
        assert not leader.tick(100.0).standby
        result = standby.tick(100.0)
        assert result.standby and result.written == 0 and not standby.sampling
        assert standby.summary()["sampling"] is False
        assert leader.lease is not None
        leader.lease.release()
        assert not standby.tick(110.0).standby and standby.sampling


def test_a_lock_file_that_cannot_be_made_leaves_the_process_sampling(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with SqliteStore(tmp_path / "state.db") as store:
        monitor = PerformanceMonitor(
            store, system=False, sample_registry=False, lease=SamplerLease(blocker / "m.lock")
        )
        assert not monitor.tick(100.0).standby and monitor.sampling


# --- workers of one service -----------------------------------------------------------------

PYPROJECT = """\
[project]
name = "svc"

[tool.plimsoll.runtime.monitor]
interval_seconds = 0.1
system = false
"""

# A worker: its own registry holds a gauge of its pid, so each sample says who wrote it.
WORKER = textwrap.dedent(
    """
    import os, sys, time
    from prometheus_client import CollectorRegistry, Gauge
    from plimsoll.runtime.service import RuntimeService

    registry = CollectorRegistry()
    Gauge("worker_pid", "The sampling worker.", registry=registry).set(os.getpid())
    with RuntimeService.from_config(start=sys.argv[1], registry=registry, usage=False):
        print("up", flush=True)
        time.sleep(float(sys.argv[2]))
    """
)


def _writers(store_path: Path, since: float = 0.0) -> list[int]:
    with SqliteStore(store_path) as store:
        rows = storage.samples(store, "worker_pid", since, None)
    return [int(value) for _, value in rows]


def test_workers_elect_one_sampler_and_another_takes_over_when_it_dies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    env = {k: v for k, v in os.environ.items() if not k.lower().startswith("prometheus_multiproc")}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tmp_path), "60"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    try:
        for worker in workers:
            assert worker.stdout is not None and worker.stdout.readline().strip() == "up"
        store_path = tmp_path / ".plimsoll" / "state.db"
        deadline = time.time() + 30
        while len(_writers(store_path)) < 10 and time.time() < deadline:
            time.sleep(0.1)
        writers = set(_writers(store_path))
        assert len(writers) == 1, writers
        (leader,) = writers
        assert leader in {w.pid for w in workers}
        assert (tmp_path / ".plimsoll" / LOCK_NAME).read_text() == f"{leader}\n"

        by_pid = {w.pid: w for w in workers}
        by_pid[leader].send_signal(signal.SIGKILL)
        by_pid[leader].wait(10)
        killed_at = time.time()
        deadline = killed_at + 30
        while not set(_writers(store_path, killed_at)) and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        after = set(_writers(store_path, killed_at))
        assert len(after) == 1 and leader not in after, after
        assert after <= set(by_pid) - {leader}
    finally:
        for worker in workers:
            worker.kill()
            worker.wait(10)
