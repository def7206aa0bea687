"""Metric lookups that read a code absent from a complete count map as zero.

Some collectors record counts by code: ruff's ``by_code``, bandit's ``by_test``, mypy's
``by_code``, pylint's ``by_symbol``. Each lists every code the tool reported, so a code that
is not there was reported zero times, and a gate such as ``ruff.by_code.F401 <= 0`` must
pass once the last F401 is fixed. A collector declares such maps in its ``complete_counts``
(next to its ``keys``); this module is the one place that applies the rule:

- ``<collector>.<map>.<code>`` with ``<map>`` declared complete by ``<collector>`` reads 0
  when the code is absent, provided the collector ran without error (its metrics are in the
  record and hold that map);
- when the collector did not run, failed, or wrote no such map (a record older than the
  map), the metric is still missing.

Thresholds, ``trend`` and ``diff`` read metrics through here. Reading 0 is right only for a
code the tool can report: a code a user names (a threshold, a trend) is checked first against
the tool's own catalogue by :mod:`plimsoll.code.metric_names`, so a misspelt code (``f841``)
is refused rather than read as 0 forever. Codes taken from records (``diff``) need no check.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from plimsoll.core.rules import MetricMissing, resolve

CountMaps = Collection[tuple[str, str]]


@functools.cache
def complete_maps() -> frozenset[tuple[str, str]]:
    """``(collector, map)`` of every registered collector's complete count maps."""
    from plimsoll.core import plugins

    found = plugins.discover(plugins.COLLECTORS)
    return frozenset(
        (name, key)
        for name, cls in found.loaded.items()
        for key in getattr(cls, "complete_counts", ())
    )


def count_path(path: str, maps: CountMaps | None = None) -> tuple[str, str, str] | None:
    """``(collector, map, code)`` when ``path`` names a code of a complete count map, else None."""
    parts = path.split(".", 2)
    if len(parts) != 3 or not all(parts):
        return None
    collector, key, code = parts
    return (collector, key, code) if (collector, key) in _maps(maps) else None


def _maps(maps: CountMaps | None) -> CountMaps:
    return complete_maps() if maps is None else maps


def counted_zero(metrics: Mapping[str, Any], path: str, maps: CountMaps | None = None) -> bool:
    """Whether ``path`` is a code absent from a complete count map of a collector that ran."""
    found = count_path(path, maps)
    if found is None:
        return False
    collector, key, code = found
    group = metrics.get(collector)
    counts = group.get(key) if isinstance(group, Mapping) else None
    return isinstance(counts, Mapping) and code not in counts


def resolve_metric(metrics: Mapping[str, Any], path: str, maps: CountMaps | None = None) -> Any:
    """The value at ``path`` (see :func:`plimsoll.core.rules.resolve`), 0 for an absent count."""
    value = resolve(metrics, path)
    if isinstance(value, MetricMissing) and counted_zero(metrics, path, maps):
        return 0
    return value


def with_counts(
    metrics: Mapping[str, Any], paths: Iterable[str], maps: CountMaps | None = None
) -> Mapping[str, Any]:
    """``metrics`` with a 0 at each of ``paths`` that is an absent count (see the module doc).

    Only the maps written to are copied; ``metrics`` itself is never changed. Paths that are
    present, or missing for any other reason, are left as they are.
    """
    out: dict[str, Any] | None = None
    for path in paths:
        if not isinstance(resolve(metrics, path), MetricMissing):
            continue
        if not counted_zero(metrics, path, maps):
            continue
        collector, key, code = path.split(".", 2)
        if out is None:
            out = dict(metrics)
        group = dict(out[collector])
        group[key] = {**group[key], code: 0}
        out[collector] = group
    return metrics if out is None else out


def flat_counted_zero(flat: Mapping[str, Any], path: str, maps: CountMaps | None = None) -> bool:
    """:func:`counted_zero` for flattened metrics (the trend index's ``collector.map.code`` rows).

    The map is there when one of its codes is, or when it is recorded empty (``{}`` at
    ``collector.map``, which the index keeps for this purpose).
    """
    found = count_path(path, maps)
    if found is None or path in flat:
        return False
    collector, key, _ = found
    prefix = f"{collector}.{key}"
    if isinstance(flat.get(prefix), Mapping):
        return True
    start = prefix + "."
    return any(name.startswith(start) for name in flat)
