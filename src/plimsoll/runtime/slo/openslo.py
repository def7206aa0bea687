"""OpenSLO v1 documents (``apiVersion: openslo/v1``) read as objectives.

Supported: ``kind: SLO`` with ``budgetingMethod: Occurrences``, a rolling ``timeWindow``
(30 days when absent), ``objectives`` (``target`` or ``targetPercent``; one objective per
entry), and an indicator given inline (``spec.indicator``) or by name (``spec.indicatorRef``
to a ``kind: SLI`` document of the same file) with either

- ``ratioMetric`` with ``counter: true`` and ``good``/``total``: a ratio objective, or
- ``thresholdMetric``: a latency objective over a histogram, the threshold being the
  objective's ``value`` with ``op: lte`` (``lt`` is accepted too: histogram buckets count
  ``<=``).

A ``metricSource.spec`` names a metric the monitor samples: ``metric`` (with optional
``labels``), or a ``query`` that is a plain selector such as
``http_requests_total{job="api"}``. Other kinds of the specification (``Service``,
``DataSource``, ``AlertPolicy``, ...) are accepted and ignored. Anything else is refused with
a ConfigError naming the file, the document and the field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plimsoll.core.errors import ConfigError
from plimsoll.runtime.slo.model import DEFAULT_PERIOD, Objective

__all__ = ["API_VERSION", "load", "parse"]

API_VERSION = "openslo/v1"
_IGNORED_KINDS = {
    "Service",
    "DataSource",
    "AlertPolicy",
    "AlertCondition",
    "AlertNotificationTarget",
}
_SELECTOR = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*$", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')


class _Invalid(Exception):
    """A problem at a field path of one document (turned into a ConfigError by the caller)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _get(node: Any, key: str, where: str, kind: type | tuple[type, ...], required: bool) -> Any:
    if not isinstance(node, dict):
        raise _Invalid(where, "expected a mapping")
    value = node.get(key)
    path = f"{where}.{key}" if where else key
    if value is None:
        if required:
            raise _Invalid(path, "missing")
        return None
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        expected = {"dict": "a mapping", "list": "a list", "str": "text"}.get(names, names)
        raise _Invalid(path, f"expected {expected}, got {type(value).__name__}")
    return value


def _selector(text: str, where: str) -> tuple[str, dict[str, str]]:
    match = _SELECTOR.match(text)
    if match is None:
        raise _Invalid(
            where,
            f'{text!r} is not a plain selector such as metric_name{{label="value"}}: '
            "plimsoll reads sampled metrics, not PromQL expressions",
        )
    labels: dict[str, str] = {}
    inside = (match.group(2) or "").strip()
    pos = 0
    while pos < len(inside):
        found = _MATCHER.match(inside, pos)
        if found is None:
            raise _Invalid(where, f'{text!r}: only equality matchers label="value" are supported')
        labels[found.group(1)] = found.group(2).replace('\\"', '"').replace("\\\\", "\\")
        pos = found.end()
    return match.group(1), labels


def _metric(source_holder: Any, where: str) -> tuple[str, dict[str, str]]:
    source = _get(source_holder, "metricSource", where, dict, True)
    at = f"{where}.metricSource"
    spec = _get(source, "spec", at, dict, True)
    at = f"{at}.spec"
    if "metric" in spec:
        name = _get(spec, "metric", at, str, True)
        labels = _get(spec, "labels", at, dict, False) or {}
        metric, extra = _selector(name, f"{at}.metric")
        if extra:
            raise _Invalid(f"{at}.metric", "give labels under 'labels', not in the name")
        return metric, {str(k): str(v) for k, v in labels.items()}
    if "query" in spec:
        return _selector(_get(spec, "query", at, str, True), f"{at}.query")
    raise _Invalid(at, "needs 'metric' (a sampled metric's name) or 'query' (a plain selector)")


def _indicator(spec: dict[str, Any], slis: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], str]:
    """The SLI spec of an SLO (inline or by reference) and the field path it sits at."""
    if "indicator" in spec:
        inline = _get(spec, "indicator", "spec", dict, True)
        return _get(inline, "spec", "spec.indicator", dict, True), "spec.indicator.spec"
    ref = _get(spec, "indicatorRef", "spec", str, False)
    if ref is None:
        raise _Invalid("spec.indicator", "missing (give an indicator or an indicatorRef)")
    if ref not in slis:
        known = ", ".join(sorted(slis)) or "none"
        raise _Invalid("spec.indicatorRef", f"no SLI named {ref!r} in this file (SLIs: {known})")
    return slis[ref], f"SLI {ref}: spec"


def _targets(spec: dict[str, Any]) -> list[tuple[str, dict[str, Any], Any]]:
    objectives = _get(spec, "objectives", "spec", list, True)
    if not objectives:
        raise _Invalid("spec.objectives", "needs at least one objective")
    out = []
    for index, item in enumerate(objectives):
        where = f"spec.objectives[{index}]"
        if not isinstance(item, dict):
            raise _Invalid(where, "expected a mapping")
        if "target" in item:
            target: Any = item["target"]
        elif "targetPercent" in item:
            percent = item["targetPercent"]
            if isinstance(percent, bool) or not isinstance(percent, int | float):
                raise _Invalid(f"{where}.targetPercent", "expected a number such as 99.9")
            target = f"{percent}%"
        else:
            raise _Invalid(f"{where}.target", "missing (give target or targetPercent)")
        if "timeSliceTarget" in item:
            raise _Invalid(f"{where}.timeSliceTarget", "time slices are not supported")
        out.append((where, item, target))
    return out


def _period(spec: dict[str, Any]) -> str:
    windows = _get(spec, "timeWindow", "spec", list, False)
    if not windows:
        return DEFAULT_PERIOD
    if len(windows) != 1:
        raise _Invalid("spec.timeWindow", "exactly one time window is supported")
    window = windows[0]
    if not isinstance(window, dict):
        raise _Invalid("spec.timeWindow[0]", "expected a mapping")
    if window.get("isRolling") is False or "calendar" in window:
        raise _Invalid(
            "spec.timeWindow[0]", "calendar-aligned windows are not supported: use isRolling: true"
        )
    return str(_get(window, "duration", "spec.timeWindow[0]", (str, int), True))


def _objectives(
    doc: dict[str, Any], slis: dict[str, dict[str, Any]], source: str
) -> list[Objective]:
    metadata = _get(doc, "metadata", "", dict, True)
    name = _get(metadata, "name", "metadata", str, True)
    spec = _get(doc, "spec", "", dict, True)
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise _Invalid("spec.budgetingMethod", f"{method!r} is not supported (only Occurrences)")
    period = _period(spec)
    sli, at = _indicator(spec, slis)
    ratio: dict[str, Any] | None = None
    threshold_metric: tuple[str, dict[str, str]] | None = None
    if "ratioMetric" in sli:
        node = _get(sli, "ratioMetric", at, dict, True)
        at = f"{at}.ratioMetric"
        if node.get("counter") is not True:
            raise _Invalid(f"{at}.counter", "only counters are supported (counter: true)")
        for unsupported in ("bad", "raw"):
            if unsupported in node:
                raise _Invalid(f"{at}.{unsupported}", "not supported: give good and total")
        good = _metric(_get(node, "good", at, dict, True), f"{at}.good")
        total = _metric(_get(node, "total", at, dict, True), f"{at}.total")
        if good[1] != total[1]:
            # Both counters are read with one label set: differing selectors cannot be kept.
            raise _Invalid(f"{at}.good", "good and total must select the same labels")
        ratio = {"good": good[0], "total": total[0], "labels": good[1]}
    elif "thresholdMetric" in sli:
        threshold_metric = _metric(
            _get(sli, "thresholdMetric", at, dict, True), f"{at}.thresholdMetric"
        )
    else:
        raise _Invalid(at, "needs ratioMetric or thresholdMetric")
    targets = _targets(spec)
    out = []
    for index, (where, item, target) in enumerate(targets):
        fields: dict[str, Any] = {
            "name": name if len(targets) == 1 else f"{name}/{item.get('displayName') or index}",
            "target": target,
            "period": period,
            "description": str(spec.get("description") or metadata.get("displayName") or ""),
            "source": source,
        }
        service = spec.get("service")
        if isinstance(service, str) and service:
            fields["labels"] = {"service": service}
        if ratio is not None:
            fields["ratio"] = ratio
        elif threshold_metric is not None:
            op = item.get("op")
            if op not in ("lte", "lt"):
                raise _Invalid(f"{where}.op", f"expected lte (latency at most value), got {op!r}")
            value = item.get("value")
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise _Invalid(f"{where}.value", "expected the latency threshold in seconds")
            fields["latency"] = {
                "metric": threshold_metric[0],
                "threshold": value,
                "labels": threshold_metric[1],
            }
        try:
            out.append(Objective.model_validate(fields))
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(p) for p in first["loc"])
            field = {"target": f"{where}.target", "period": "spec.timeWindow[0].duration",
                     "name": "metadata.name"}.get(loc, f"{where} ({loc})")  # fmt: skip
            message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
            raise _Invalid(field, message) from None
    return out


def parse(text: str, source: str) -> list[Objective]:
    """The objectives of the OpenSLO documents in YAML ``text``; errors name ``source``."""
    import yaml

    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}:" if mark is not None else ""
        raise ConfigError(f"{source}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not docs:
        raise ConfigError(f"{source}: no OpenSLO document")

    def fail(index: int, field: str, message: str) -> ConfigError:
        which = f"document {index + 1}: " if len(docs) > 1 else ""
        return ConfigError(f"{source}: {which}{field}: {message}")

    slis: dict[str, dict[str, Any]] = {}
    slos: list[tuple[int, dict[str, Any]]] = []
    for index, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise fail(index, "<root>", "expected a mapping")
        if doc.get("apiVersion") != API_VERSION:
            raise fail(
                index, "apiVersion", f"expected {API_VERSION!r}, got {doc.get('apiVersion')!r}"
            )
        kind = doc.get("kind")
        try:
            if kind == "SLO":
                slos.append((index, doc))
            elif kind == "SLI":
                name = _get(_get(doc, "metadata", "", dict, True), "name", "metadata", str, True)
                slis[name] = _get(doc, "spec", "", dict, True)
            elif kind not in _IGNORED_KINDS:
                raise _Invalid("kind", f"unknown kind {kind!r}")
        except _Invalid as exc:
            raise fail(index, exc.field, exc.message) from None
    if not slos:
        raise ConfigError(f"{source}: no document of kind SLO")
    objectives: list[Objective] = []
    for index, doc in slos:
        try:
            objectives.extend(_objectives(doc, slis, source))
        except _Invalid as exc:
            raise fail(index, exc.field, exc.message) from None
    return objectives


def load(path: Path) -> list[Objective]:
    """The objectives of an OpenSLO YAML file (see :func:`parse`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return parse(text, str(path))
