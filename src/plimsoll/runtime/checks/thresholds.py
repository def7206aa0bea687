"""The warn/fail thresholds and the latency measure the built-in checks share."""

from __future__ import annotations

import time

__all__ = ["elapsed_ms", "threshold_pair"]


def threshold_pair(
    name: str, warn: float | None, fail: float | None
) -> tuple[float | None, float | None]:
    """``(warn, fail)`` for the options ``<name>_warn...`` and ``<name>_fail...``; a ValueError
    when both are set and ``warn`` exceeds ``fail`` (the check could never warn)."""
    if warn is not None and fail is not None and warn > fail:
        raise ValueError(f"{name}_warn ({warn:g}) must not exceed {name}_fail ({fail:g})")
    return warn, fail


def elapsed_ms(started: float) -> float:
    """Milliseconds since ``started`` (a ``time.perf_counter()`` reading), to 0.01 ms."""
    return round((time.perf_counter() - started) * 1000.0, 2)
