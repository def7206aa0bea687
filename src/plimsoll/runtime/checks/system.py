"""``system``: CPU, memory and disk usage of the machine, open files and threads of this process.

Each resource has a warn and a fail threshold, reported under its own key:

=========================== ============================ ==========================
key                          observed                     thresholds (warn / fail)
=========================== ============================ ==========================
``system:cpuUtilization``    percent of all CPUs busy      80 / 95
``system:memoryUtilization`` percent of memory in use      85 / 95
``system:diskUtilization``   percent used, per path        85 / 95 (componentId: path)
``system:openFiles``         file descriptors open         80 % / 95 % of the soft limit
``system:threads``           threads of this process       500 / 1000
=========================== ============================ ==========================

CPU is measured without blocking: the busy share of the CPU times between this check's
previous run and now (a baseline is taken when the check is made), the way
``psutil.cpu_percent(interval=None)`` does it. The deltas are kept by the check rather than
taken from ``cpu_percent``, whose baseline is global to the process: another caller (the
performance monitor) would otherwise shrink the window to the time since *its* last call.
Only the very first run, if it comes less than 0.1 s after the check was made, waits for
the rest of those 0.1 s, since a shorter window measures noise.
"""

from __future__ import annotations

import os
import resource
import socket
import threading
import time
from collections.abc import Sequence
from typing import Any, Literal

import psutil

from plimsoll.runtime.checks.thresholds import threshold_pair
from plimsoll.runtime.health import CheckResult, HealthCheck, Status, by_threshold

Resource = Literal["cpu", "memory", "disk", "open_files", "threads"]
ALL_RESOURCES: tuple[Resource, ...] = ("cpu", "memory", "disk", "open_files", "threads")
MEASUREMENTS: dict[str, str] = {
    "cpu": "cpuUtilization",
    "memory": "memoryUtilization",
    "disk": "diskUtilization",
    "open_files": "openFiles",
    "threads": "threads",
}
# The shortest CPU window worth reporting (seconds).
MIN_CPU_WINDOW = 0.1


def _total(times: Any) -> float:
    # psutil's own accounting: on Linux guest time is already counted in user time.
    total = float(sum(times))
    return total - getattr(times, "guest", 0.0) - getattr(times, "guest_nice", 0.0)


def _busy(times: Any) -> float:
    return _total(times) - times.idle - getattr(times, "iowait", 0.0)


def cpu_busy_percent(before: Any, after: Any) -> float:
    """The percentage of CPU time spent busy between two ``psutil.cpu_times()`` samples."""
    total = _total(after) - _total(before)
    busy = _busy(after) - _busy(before)
    if total <= 0:
        return 0.0
    return round(min(100.0, max(0.0, busy / total * 100.0)), 1)


class SystemHealthCheck(HealthCheck):
    """CPU, memory and disk usage, open files and threads, each against warn and fail thresholds."""

    name = "system"
    measurement = "cpuUtilization"
    component_type = "system"

    def __init__(
        self,
        *,
        resources: Sequence[Resource] = ALL_RESOURCES,
        disk_paths: Sequence[str] = ("/",),
        cpu_warn_percent: float | None = 80.0,
        cpu_fail_percent: float | None = 95.0,
        memory_warn_percent: float | None = 85.0,
        memory_fail_percent: float | None = 95.0,
        disk_warn_percent: float | None = 85.0,
        disk_fail_percent: float | None = 95.0,
        open_files_warn_percent: float | None = 80.0,
        open_files_fail_percent: float | None = 95.0,
        threads_warn: int | None = 500,
        threads_fail: int | None = 1000,
        **common: Any,
    ) -> None:
        super().__init__(**common)
        unknown = [r for r in resources if r not in ALL_RESOURCES]
        if unknown:
            raise ValueError(f"unknown resource {unknown[0]!r} (known: {', '.join(ALL_RESOURCES)})")
        if not resources:
            raise ValueError("resources must name at least one of " + ", ".join(ALL_RESOURCES))
        if "disk" in resources and not disk_paths:
            raise ValueError("disk_paths must name at least one path")
        self.cpu = threshold_pair("cpu", cpu_warn_percent, cpu_fail_percent)
        self.memory = threshold_pair("memory", memory_warn_percent, memory_fail_percent)
        self.disk = threshold_pair("disk", disk_warn_percent, disk_fail_percent)
        self.open_files = threshold_pair(
            "open_files", open_files_warn_percent, open_files_fail_percent
        )
        self.threads = threshold_pair("threads", threads_warn, threads_fail)
        self.resources = tuple(dict.fromkeys(resources))
        self.disk_paths = tuple(disk_paths)
        # CPU and memory are the machine's: the host name tells two replicas apart.
        self.component_id = self.component_id or socket.gethostname()
        self._process = psutil.Process()
        self._cpu_lock = threading.Lock()
        self._cpu_times = psutil.cpu_times()
        self._cpu_at = time.monotonic()
        self._cpu_primed = False

    def keys(self) -> tuple[tuple[str, str], ...]:
        """One key per configured resource."""
        return tuple((self.component, MEASUREMENTS[r]) for r in self.resources)

    def check(self) -> list[CheckResult]:
        """Measure every configured resource now."""
        results: list[CheckResult] = []
        for name in self.resources:
            if name == "disk":
                results.extend(self._disk(path) for path in self.disk_paths)
            else:
                results.append(getattr(self, f"_{name}")())
        return results

    # --- one method per resource --------------------------------------------------------

    def _cpu(self) -> CheckResult:
        with self._cpu_lock:
            if not self._cpu_primed:
                waited = time.monotonic() - self._cpu_at
                if waited < MIN_CPU_WINDOW:
                    time.sleep(MIN_CPU_WINDOW - waited)
                self._cpu_primed = True
            now = psutil.cpu_times()
            percent = cpu_busy_percent(self._cpu_times, now)
            self._cpu_times, self._cpu_at = now, time.monotonic()
        return self._percent("cpu", percent, self.cpu, f"CPU {percent:g}% busy")

    def _memory(self) -> CheckResult:
        memory = psutil.virtual_memory()
        used = round(float(memory.percent), 1)
        return self._percent("memory", used, self.memory, f"memory {used:g}% used")

    def _disk(self, path: str) -> CheckResult:
        measurement = MEASUREMENTS["disk"]
        try:
            usage = psutil.disk_usage(path)
        except OSError as exc:
            return self.result(
                Status.FAIL,
                output=f"{path}: {exc.strerror or exc}",
                measurement=measurement,
                component_id=path,
            )
        used = round(float(usage.percent), 1)
        status = by_threshold(used, *self.disk)
        return self.result(
            status,
            used,
            "percent",
            f"disk {path} {used:g}% used ({usage.free // 2**20} MiB free)",
            measurement=measurement,
            component_id=path,
        )

    def _open_files(self) -> CheckResult:
        count = self._descriptors()
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        limited = soft not in (resource.RLIM_INFINITY, -1) and soft > 0
        share = round(count / soft * 100.0, 1) if limited else None
        status = by_threshold(share, *self.open_files)
        of_limit = f" of {soft} ({share:g}%)" if share is not None else ""
        output = f"{count} file descriptors open{of_limit}"
        return self._process_result("open_files", status, count, "files", output)

    def _threads(self) -> CheckResult:
        count = self._process.num_threads()
        status = by_threshold(count, *self.threads)
        return self._process_result("threads", status, count, "threads", f"{count} threads")

    def _process_result(
        self, name: str, status: Status, count: int, unit: str, output: str
    ) -> CheckResult:
        # This process's own resources: the pid tells two workers on one host apart.
        return self.result(
            status,
            count,
            unit,
            output,
            measurement=MEASUREMENTS[name],
            component_id=f"pid {os.getpid()}",
        )

    def _descriptors(self) -> int:
        # num_fds counts every descriptor (sockets too), which is what the limit applies to.
        if hasattr(self._process, "num_fds"):
            return int(self._process.num_fds())
        return len(self._process.open_files())

    def _percent(
        self,
        name: str,
        value: float,
        thresholds: tuple[float | None, float | None],
        output: str,
    ) -> CheckResult:
        return self.result(
            by_threshold(value, *thresholds),
            value,
            "percent",
            output,
            measurement=MEASUREMENTS[name],
        )
