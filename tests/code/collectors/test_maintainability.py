"""The ``maintainability`` collector against ``radon mi -j`` and radon's API on the same files."""

from __future__ import annotations

import json
import time
from pathlib import Path

from radon.metrics import mi_rank, mi_visit
from radon.raw import analyze

from plimsoll.code.collectors.maintainability import MaintainabilityCollector
from tests.code.collectors.test_complexity import BRANCHY, real_files
from tests.code.collectors.test_stats import SAMPLE, make_context, radon_cli

# A hard-to-maintain module (many decisions, no comments), so ranks other than A show up.
TANGLED = "def tangled(a, b, c, d):\n" + "".join(
    f"    if a > {i} and b < {i} or c == {i}:\n        d = a * {i} + b / (c - {i}) - d ** {i}\n"
    for i in range(120)
)


def test_per_file_mi_equals_radon_mi_cli(tmp_path: Path) -> None:
    files = {"sample.py": SAMPLE, "branchy.py": BRANCHY, "tangled.py": TANGLED, **real_files()}
    context = make_context(tmp_path, files)
    result = MaintainabilityCollector().collect(context)
    expected = radon_cli(tmp_path, "mi", "-j", *files)

    assert result["skipped_files"] == []
    assert result["per_file"] == {path: expected[path] for path in sorted(files)}
    values = [expected[path]["mi"] for path in files]
    assert result["file_count"] == len(files)
    assert result["average"] == sum(values) / len(values)
    assert result["min"] == min(values)
    assert result["ranks"] == {r: sum(expected[p]["rank"] == r for p in files) for r in "ABC"}
    assert result["ranks"]["C"] >= 1
    # Weighted by radon's sloc of each file.
    weights = {path: analyze(context.read(path)).sloc for path in files}
    weighted = sum(expected[p]["mi"] * weights[p] for p in files) / sum(weights.values())
    assert abs(result["weighted_average"] - weighted) < 1e-9
    assert set(result) == set(MaintainabilityCollector.keys)
    json.dumps(result)


def test_worst_files_are_the_lowest_mi(tmp_path: Path) -> None:
    files = {"sample.py": SAMPLE, "branchy.py": BRANCHY, "tangled.py": TANGLED, **real_files()}
    context = make_context(tmp_path, files)
    result = MaintainabilityCollector().collect(context)
    by_mi = sorted(files, key=lambda path: mi_visit(context.read(path), True))
    assert [entry["file"] for entry in result["worst"]] == by_mi[: len(result["worst"])]
    assert result["worst"][0]["file"] == "tangled.py"
    worst = result["worst"][0]
    assert worst["rank"] == mi_rank(worst["mi"])


def test_file_that_does_not_parse_is_skipped_and_reported(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"good.py": SAMPLE, "bad.py": "if True\n    pass\n"})
    result = MaintainabilityCollector().collect(context)
    assert [item["path"] for item in result["skipped_files"]] == ["bad.py"]
    assert list(result["per_file"]) == ["good.py"]


def test_huge_literal_is_skipped_quickly(tmp_path: Path) -> None:
    huge = "DATA = {\n" + "".join(f"    'key{i}': [{i}, {i * 2}],\n" for i in range(30_000)) + "}\n"
    context = make_context(tmp_path, {"huge.py": huge, "small.py": SAMPLE})
    started = time.perf_counter()
    result = MaintainabilityCollector().collect(context)
    assert time.perf_counter() - started < 5
    assert [item["path"] for item in result["skipped_files"]] == ["huge.py"]
    assert list(result["per_file"]) == ["small.py"]


def test_no_files_gives_no_values(tmp_path: Path) -> None:
    result = MaintainabilityCollector().collect(make_context(tmp_path, {}))
    assert result["file_count"] == 0
    assert result["average"] is None
    assert result["min"] is None
    assert result["worst"] == []
