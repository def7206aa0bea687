"""Flattens a record's nested metrics into ``collector.key`` paths for tables, diffs and trends."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Nested maps larger than this are detail (per-file results, counts per rule), not headlines.
MAX_MAP_ENTRIES = 12
# Keys holding per-item detail (per file, per finding, top-N lists), not headline metrics.
DETAIL_KEYS = frozenset({"per_file", "items", "skipped_files", "top", "worst", "columns"})
# Also left out of tables: a collector's per-file map under "files" (where it is a count, the
# table shows it elsewhere; the trend index keeps it).
TABLE_SKIPPED_KEYS = DETAIL_KEYS | {"files"}


def is_detail(key: str) -> bool:
    """Whether ``key`` holds per-item detail rather than a headline metric."""
    return key in DETAIL_KEYS or key.startswith("top_")


Scalar = int | float | str | bool | None


def flatten(metrics: Mapping[str, Any], max_depth: int = 3) -> dict[str, Scalar]:
    """Scalar leaves of ``metrics`` as dotted paths, skipping lists and large per-item maps."""
    out: dict[str, Scalar] = {}

    def walk(prefix: str, value: Any, depth: int) -> None:
        if isinstance(value, bool | int | float | str) or value is None:
            out[prefix] = value
            return
        if not isinstance(value, Mapping) or depth >= max_depth:
            return
        if depth > 1 and len(value) > MAX_MAP_ENTRIES:
            return
        for key in value:
            if key in TABLE_SKIPPED_KEYS or is_detail(key):
                continue
            walk(f"{prefix}.{key}" if prefix else str(key), value[key], depth + 1)

    walk("", metrics, 0)
    return out


def is_number(value: Any) -> bool:
    """Whether ``value`` is an int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def difference(
    a: Mapping[str, Scalar], b: Mapping[str, Scalar]
) -> list[tuple[str, Scalar, Scalar, float | None]]:
    """Rows (path, a, b, b - a) for every path whose value differs between two flat maps."""
    rows = []
    for path in sorted(set(a) | set(b)):
        left, right = a.get(path), b.get(path)
        if left == right:
            continue
        change = right - left if is_number(left) and is_number(right) else None  # type: ignore[operator]
        rows.append((path, left, right, tidy(change)))
    return rows


# Significant digits kept in a computed difference: enough for any metric, few enough to drop
# the binary floating-point noise of a subtraction (71.1 - 71.0 = 0.09999999999999432).
CHANGE_DIGITS = 12


def tidy(value: float | None) -> float | None:
    """``value`` rounded to :data:`CHANGE_DIGITS` significant digits (ints stay ints)."""
    if value is None or isinstance(value, int):
        return value
    return float(f"{value:.{CHANGE_DIGITS}g}")


@dataclass(frozen=True)
class Skipped:
    """A file some collectors skipped for one reason: which collectors, and why."""

    path: str
    error: str
    collectors: tuple[str, ...]

    def describe(self) -> str:
        """``<collectors> skipped <path>: <why>``, as a warning line says it."""
        return f"{', '.join(self.collectors)} skipped {self.path}: {self.error}"


def skipped_files(metrics: Mapping[str, Any]) -> list[Skipped]:
    """The files collectors skipped (did not parse, unreadable, too slow): who, and why.

    Each collector lists its own ``skipped_files``; a file several collectors skip for the
    same reason is one entry naming them all (in name order), and a file skipped for
    different reasons is one entry per reason: a file only interrogate cannot read is never
    reported as if every collector had skipped it.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for name in sorted(metrics):
        group = metrics[name]
        items = group.get("skipped_files") if isinstance(group, Mapping) else None
        if not isinstance(items, list):
            continue
        for item in items:
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                key = (item["path"], str(item.get("error") or "skipped"))
                found.setdefault(key, []).append(name)
    return [Skipped(path, error, tuple(names)) for (path, error), names in sorted(found.items())]
