"""OpenSLO v1 files read as objectives; invalid ones refused naming the file and the field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from plimsoll.core.errors import ConfigError
from plimsoll.runtime.slo import openslo
from plimsoll.runtime.slo.loader import read_file

RATIO = """\
apiVersion: openslo/v1
kind: Service
metadata:
  name: checkout
spec:
  description: the checkout service
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout-availability
spec:
  service: checkout
  description: requests that succeed
  budgetingMethod: Occurrences
  timeWindow:
    - duration: 28d
      isRolling: true
  indicator:
    metadata:
      name: good-requests
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_good_total{job="checkout"}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_requests_total{job="checkout"}
  objectives:
    - displayName: three nines
      target: 0.999
"""

LATENCY = """\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: latency
spec:
  thresholdMetric:
    metricSource:
      type: plimsoll
      spec:
        metric: http_request_duration_seconds
        labels: {route: /pay}
---
apiVersion: openslo/v1
kind: SLO
metadata:
  name: pay-latency
spec:
  budgetingMethod: Occurrences
  indicatorRef: latency
  objectives:
    - displayName: fast
      op: lte
      value: 0.3
      targetPercent: 99
    - displayName: ok
      op: lte
      value: 1.0
      target: 0.999
"""


def test_ratio_slo(tmp_path: Path) -> None:
    (objective,) = openslo.parse(RATIO, "checkout.yaml")
    assert objective.name == "checkout-availability"
    assert objective.target == pytest.approx(0.999) and objective.period == "28d"
    assert objective.ratio is not None
    assert (objective.ratio.good, objective.ratio.total) == (
        "http_requests_good_total",
        "http_requests_total",
    )
    assert objective.ratio.labels == {"job": "checkout"}
    assert objective.labels == {"service": "checkout"}
    path = tmp_path / "slo.yaml"
    path.write_text(RATIO)
    assert read_file(path).objectives == [objective.model_copy(update={"source": str(path)})]


def test_threshold_slo_by_reference() -> None:
    fast, ok = openslo.parse(LATENCY, "lat.yaml")
    assert fast.name == "pay-latency/fast" and ok.name == "pay-latency/ok"
    assert fast.target == pytest.approx(0.99) and fast.period == "30d"
    assert fast.latency is not None and fast.latency.threshold == 0.3
    assert fast.latency.metric == "http_request_duration_seconds"
    assert fast.latency.labels == {"route": "/pay"}
    assert ok.latency is not None and ok.latency.threshold == 1.0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("apiVersion: openslo/v1\nkind: SLO", "apiVersion: openslo/v2\nkind: SLO"),
         r"document 2: apiVersion: expected 'openslo/v1', got 'openslo/v2'"),
        (("budgetingMethod: Occurrences", "budgetingMethod: Timeslices"),
         r"document 2: spec.budgetingMethod: 'Timeslices' is not supported"),
        (("target: 0.999", "target: 1.5"),
         r"document 2: spec.objectives\[0\].target: target 1.5 must be between 0 and 1"),
        (("target: 0.999", "displayName: x"), r"spec.objectives\[0\].target: missing"),
        (("counter: true", "counter: false"),
         r"spec.indicator.spec.ratioMetric.counter: only counters are supported"),
        (('query: http_requests_total{job="checkout"}', "query: sum(rate(x[5m]))"),
         r"spec.indicator.spec.ratioMetric.total.metricSource.spec.query: .* not a plain selector"),
        (("isRolling: true", "isRolling: false"),
         r"spec.timeWindow\[0\]: calendar-aligned windows are not supported"),
        (("duration: 28d", "duration: 28 days"), r"spec.timeWindow\[0\].duration: invalid duration"),
        (("kind: Service", "kind: Dashboard"), r"document 1: kind: unknown kind 'Dashboard'"),
        (("  name: checkout-availability\n", "  title: x\n"), r"document 2: metadata.name: missing"),
    ],
)  # fmt: skip
def test_invalid_files_name_file_and_field(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "broken.yaml"
    assert change[0] in RATIO
    path.write_text(RATIO.replace(change[0], change[1], 1))
    if not message.startswith("document"):
        message = f"document 2: {message}"  # the SLO is the file's second document
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}: {message}"):
        openslo.load(path)


def test_unknown_reference_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^lat.yaml: document 2: spec.indicatorRef: no SLI named"
    ):
        openslo.parse(LATENCY.replace("indicatorRef: latency", "indicatorRef: nope"), "lat.yaml")
    with pytest.raises(ConfigError, match=r"spec.objectives\[0\].op: expected lte"):
        openslo.parse(LATENCY.replace("op: lte", "op: gte", 1), "lat.yaml")
    with pytest.raises(ConfigError, match=r"^x.yaml: line \d+: invalid YAML"):
        openslo.parse("apiVersion: openslo/v1\nkind: [SLO\n", "x.yaml")
    with pytest.raises(ConfigError, match=r"^x.yaml: no document of kind SLO"):
        openslo.parse(LATENCY.split("---")[0], "x.yaml")
    with pytest.raises(ConfigError, match=r"cannot read"):
        openslo.load(tmp_path / "missing.yaml")
