"""Metric names: paths checked against the collectors' declarations and the tools' own codes."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.code import metric_names
from plimsoll.code.collectors import _codes, _tools
from plimsoll.code.collectors.bandit import BanditCollector
from plimsoll.code.collectors.base import KeyKind
from plimsoll.code.collectors.interrogate import InterrogateCollector
from plimsoll.code.collectors.mypy import MypyCollector
from plimsoll.code.collectors.pylint import PylintCollector
from plimsoll.code.collectors.ruff import RuffCollector
from plimsoll.code.metric_names import MetricNames
from plimsoll.core import plugins
from tests.code.collectors.data_tools import context_for, make_project


@pytest.fixture(autouse=True)
def fresh_process_state() -> Iterator[None]:
    """Each test starts as a new process would: no catalogue in memory, no tool warned about."""
    metric_names._MEMORY.clear()
    metric_names._WARNED.clear()
    yield
    metric_names._MEMORY.clear()
    metric_names._WARNED.clear()


def tool_json(*args: str) -> object:
    done = subprocess.run(
        [sys.executable, "-m", *args], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(done.stdout)


# --- declarations -----------------------------------------------------------------------------


def test_every_built_in_collector_describes_each_of_its_keys() -> None:
    found = plugins.discover(plugins.COLLECTORS)
    for name, cls in found.loaded.items():
        assert tuple(cls.key_info) == cls.keys, name
        for key, info in cls.key_info.items():
            assert info.description, f"{name}.{key}"
        # A complete count map is one whose codes can be checked.
        counts = tuple(k for k, i in cls.key_info.items() if i.kind is KeyKind.COUNTS)
        assert counts == cls.complete_counts, name
        for key in counts:
            assert cls().code_source(key, Path.cwd()) is not None, f"{name}.{key}"


@pytest.mark.parametrize("name", ["stats", "complexity", "maintainability", "debt", "interrogate"])
def test_skipped_files_is_declared_where_it_is_recorded(name: str) -> None:
    cls = plugins.discover(plugins.COLLECTORS).loaded[name]
    assert "skipped_files" in cls.keys
    rows = {row["key"]: row for row in metric_names.describe_keys(cls)}
    assert rows["skipped_files"]["kind"] == "detail"
    assert "does not parse" in rows["skipped_files"]["description"]


def test_complexity_descriptions_say_class_blocks_are_not_counted() -> None:
    rows = {r["key"]: r for r in metric_names.describe_keys(PylintCollector)}
    assert rows["by_symbol"]["kind"] == "counts"
    cls = plugins.discover(plugins.COLLECTORS).loaded["complexity"]
    described = {r["key"]: r["description"] for r in metric_names.describe_keys(cls)}
    assert "radon cc -a" in described["average"] and "class blocks" in described["average"]
    assert "class blocks" in described["ranks"]


def test_a_collector_without_descriptions_is_listed_by_its_keys() -> None:
    class Plain:
        keys = ("score", "count")

    assert metric_names.describe_keys(Plain) == [
        {"key": "score", "kind": None, "description": ""},
        {"key": "count", "kind": None, "description": ""},
    ]


# --- declared names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "complexty.max",
            "no collector 'complexty' is installed (did you mean complexity.max?)",
        ),
        (
            "complexity.maxx",
            "collector complexity records no metric 'maxx' (did you mean complexity.max?)",
        ),
        (
            "stats.totals",
            "stats.totals is a group of metrics: name one of its keys (stats.totals.loc, "
            "stats.totals.lloc, stats.totals.sloc,",
        ),
        ("stats.totals.Sloc", "stats.totals has no key 'Sloc' (did you mean stats.totals.sloc?)"),
        ("complexity.ranks.a", "(did you mean complexity.ranks.A?)"),
        ("complexity.max.x", "complexity.max is one number: it holds no 'x'"),
        ("complexity", "complexity is a collector, not a metric: name one of its metrics"),
        ("ruff.by_code", "ruff.by_code is a group of metrics (counts by code): name one code"),
        ("stats.per_file", "stats.per_file is per-item detail, not one value"),
        ("acme.score", "no collector 'acme' is installed; the collectors: bandit, complexity"),
    ],
)
def test_a_name_no_collector_records_is_a_problem(path: str, expected: str) -> None:
    problem = MetricNames().problem(path)
    assert problem is not None and expected in problem, problem


@pytest.mark.parametrize(
    "path",
    [
        "complexity.max",
        "stats.totals.sloc",
        "bandit.by_severity.HIGH",
        "coverage.source",
        "debt.by_marker.TODO",  # the configuration decides the markers
        "stats.per_file.pkg/app.py.0",
        "pylint.top_symbols.fixme",
        "ruff.by_code.F841",
        "pylint.by_symbol.unused-import",
        "bandit.by_test.B602",
        "mypy.by_code.arg-type",
    ],
)
def test_a_name_a_collector_records_is_fine(path: str) -> None:
    assert MetricNames().problem(path) is None


def test_a_value_a_record_holds_is_taken_as_it_is_but_a_group_never() -> None:
    names = MetricNames()
    record = {"acme": {"score": 3}, "ruff": {"by_code": {"F841": 2}}, "stats": {"totals": {}}}
    assert names.problem("acme.score", [record]) is None
    assert names.problem("ruff.by_code", [None, record]) == (
        "ruff.by_code is a group of metrics (counts by code): name one code (ruff.by_code.F841)"
    )
    assert "is a group of metrics" in str(names.problem("stats.totals", [record]))


def test_a_plugin_collector_that_fails_to_load_is_named() -> None:
    found = plugins.discover(plugins.COLLECTORS)
    broken = plugins.Discovered(
        plugins.COLLECTORS,
        dict(found.loaded),
        (plugins.LoadFailure(plugins.COLLECTORS, "acme", "acme:C", "ImportError: no acme"),),
    )
    problem = MetricNames(discovered=broken).problem("acme.score")
    assert problem == "collector 'acme' is installed but could not be loaded (ImportError: no acme)"


# --- codes against the tools' own catalogues ---------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("ruff.by_code.f841", "reports no rule code 'f841' (did you mean ruff.by_code.F841?)"),
        ("ruff.by_code.NOTACODE", "reports no rule code 'NOTACODE'"),
        ("ruff.by_code.unused-import", "unused-import is F401 (did you mean ruff.by_code.F401?)"),
        (
            "pylint.by_symbol.unused-imprt",
            "reports no message symbol 'unused-imprt' (did you mean pylint.by_symbol.unused-import",
        ),
        (
            "pylint.by_symbol.C0114",
            "pylint.by_symbol counts by message symbol: C0114 is missing-module-docstring "
            "(did you mean pylint.by_symbol.missing-module-docstring?)",
        ),
        ("bandit.by_test.b602", "(did you mean bandit.by_test.B602?)"),
        ("bandit.by_test.assert_used", "assert_used is B101"),
        (
            "mypy.by_code.arg_type",
            "reports no error code 'arg_type' (did you mean mypy.by_code.arg-type",
        ),
    ],
)
def test_a_code_the_tool_cannot_report_is_a_problem(path: str, expected: str) -> None:
    problem = MetricNames().problem(path)
    assert problem is not None and expected in problem, problem
    # A trend asks the same question of a code no record holds.
    assert MetricNames().code_problem(path) == problem


def test_the_label_names_the_installed_tool_version() -> None:
    problem = MetricNames().problem("ruff.by_code.f841")
    assert problem is not None
    assert problem.startswith(f"ruff {_tools.tool_version('ruff')} reports no rule code")


def test_ruffs_catalogue_is_every_rule_ruff_lists() -> None:
    rules = tool_json("ruff", "rule", "--all", "--output-format", "json")
    assert isinstance(rules, list)
    catalogue = _codes.parse_ruff_rules(json.dumps(rules))
    listed = {r["code"] or r["name"] for r in rules}
    assert listed <= catalogue.codes
    assert catalogue.codes - listed == _codes.RUFF_EXTRA - listed


def test_pylints_catalogue_has_its_extensions_and_message_ids() -> None:
    source = PylintCollector().code_source("by_symbol", Path.cwd())
    assert source is not None
    catalogue = source.fetch()
    # docparams is an optional extension: a project may load it, so its symbols count.
    assert {"unused-import", "missing-param-doc", "syntax-error"} <= catalogue.codes
    assert catalogue.aliases["W0611"] == "unused-import"


def test_a_code_of_a_plugin_the_projects_settings_load_is_known(tmp_path: Path) -> None:
    # A pylint plugin of the project's own, loaded through its settings as a run would.
    (tmp_path / "acme_checker.py").write_text(
        "from pylint.checkers import BaseChecker\n\n\n"
        "class AcmeChecker(BaseChecker):\n"
        "    name = 'acme'\n"
        "    msgs = {'W9901': ('acme says no', 'acme-says-no', 'a test message')}\n\n\n"
        "def register(linter):\n"
        "    linter.register_checker(AcmeChecker(linter))\n",
        encoding="utf-8",
    )
    (tmp_path / "pyproject.toml").write_text(
        '[tool.pylint.main]\nload-plugins = ["acme_checker"]\ninit-hook = '
        "\"import sys; sys.path.insert(0, '.')\"\n",
        encoding="utf-8",
    )
    names = MetricNames(tmp_path)
    assert names.problem("pylint.by_symbol.acme-says-no") is None
    assert MetricNames(Path(__file__).parent).problem("pylint.by_symbol.acme-says-no") is not None


@pytest.mark.integration
def test_every_code_the_tools_report_on_a_real_project_is_known(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "pkg" / "broken.py").write_text("def broken(:\n    pass\n", encoding="utf-8")
    context = context_for(root)
    names = MetricNames(root)
    seen = 0
    for collector, key in (
        (RuffCollector(), "by_code"),
        (PylintCollector(), "by_symbol"),
        (BanditCollector(), "by_test"),
        (MypyCollector(), "by_code"),
    ):
        metrics = collector.collect(context)
        assert set(metrics) == set(collector.keys), collector.name  # every key declared
        counts = metrics[key]
        assert counts, collector.name  # the sample has issues of every kind
        for code in counts:
            assert names.problem(f"{collector.name}.{key}.{code}") is None, (collector.name, code)
            seen += 1
    assert seen >= 10
    interrogate = InterrogateCollector().collect(context)
    assert set(interrogate) == set(InterrogateCollector.keys)
    assert [item["path"] for item in interrogate["skipped_files"]] == ["pkg/broken.py"]


# --- caching and falling back ------------------------------------------------------------------


def test_catalogues_are_cached_on_disk_per_tool_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    problem = MetricNames(cache_dir=cache).problem("pylint.by_symbol.unused-imprt")
    [stored] = (cache / metric_names.CACHE_FOLDER).glob("pylint-*.json")
    data = json.loads(stored.read_text())
    assert "unused-import" in data["codes"] and data["aliases"]["W0611"] == "unused-import"

    # A new process reads the file: pylint is not asked again.
    metric_names._MEMORY.clear()

    def no_asking(*args: object) -> str:
        raise AssertionError("pylint was asked although its catalogue is cached")

    monkeypatch.setattr(_codes, "_ask", no_asking)
    assert MetricNames(cache_dir=cache).problem("pylint.by_symbol.unused-imprt") == problem

    # Another version (another fingerprint: another subproject's settings of a monorepo share
    # the folder too) does not use it, and keeps it while it is recent.
    metric_names._MEMORY.clear()
    monkeypatch.undo()
    monkeypatch.setattr(_tools, "tool_version", lambda name: "0.0-other")
    assert MetricNames(cache_dir=cache).problem("pylint.by_symbol.unused-imprt") is not None
    files = set((cache / metric_names.CACHE_FOLDER).glob("pylint-*.json"))
    [other] = files - {stored}
    assert json.loads(other.read_text())["fingerprint"] != data["fingerprint"]

    # One unused for longer than STALE_SECONDS goes when another is written.
    old = time.time() - metric_names.STALE_SECONDS - 60
    os.utime(stored, (old, old))
    other.unlink()
    metric_names._MEMORY.clear()
    assert MetricNames(cache_dir=cache).problem("pylint.by_symbol.unused-imprt") is not None
    assert not stored.exists()


def test_a_damaged_cache_file_is_ignored(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    MetricNames(cache_dir=cache).problem("ruff.by_code.f841")
    [stored] = (cache / metric_names.CACHE_FOLDER).glob("ruff-*.json")
    stored.write_text("{not json", encoding="utf-8")
    metric_names._MEMORY.clear()
    assert "F841" in str(MetricNames(cache_dir=cache).problem("ruff.by_code.f841"))


def test_a_tool_that_cannot_be_asked_is_not_checked_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(
        _tools, "missing_reason", lambda module, distribution=None: f"{module} is not installed"
    )
    names = MetricNames()
    with caplog.at_level(logging.WARNING, logger="plimsoll"):
        assert names.problem("pylint.by_symbol.unused-imprt") is None
        assert names.problem("pylint.by_symbol.another-typo") is None
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per tool
    assert (
        warnings[0]
        .getMessage()
        .startswith("cannot list the codes pylint reports (pylint is not installed)")
    )
    # The declared names are still checked.
    assert names.problem("pylint.by_symbl.unused-import") is not None


def test_a_plugin_key_it_does_not_declare_is_judged_the_same_before_and_after_collecting() -> None:
    """Before collecting, no record shows what a plugin that only lists ``keys`` returns: its
    undeclared key is left to the check on the new record, which accepts a value it holds
    (``collect --validate`` and ``code validate`` agree)."""

    class Acme:
        keys = ("score",)

    found = plugins.Discovered(plugins.COLLECTORS, {"acme": Acme})
    before = MetricNames(discovered=found, before_collecting=True)
    assert before.problem("acme.extra") is None
    after = MetricNames(discovered=found)
    assert after.problem("acme.extra", [{"acme": {"extra": 3}}]) is None
    assert "records no metric 'extra'" in str(after.problem("acme.extra", [{"acme": {}}]))
    # A collector that describes its keys is checked before collecting too.
    assert "complexity" in str(MetricNames(before_collecting=True).problem("complexity.maxx"))


def test_a_mistyped_collector_is_suggested_with_a_metric_it_records() -> None:
    class Acme:
        keys = ("todo_files", "file_count")

    found = plugins.Discovered(plugins.COLLECTORS, {"acme": Acme})
    names = MetricNames(discovered=found)
    # `acme.x` does not exist: the collector alone is suggested, not a made-up metric.
    assert "did you mean acme?" in str(names.problem("acmee.x"))
    assert "did you mean acme.todo_files?" in str(names.problem("acmee.todo_file"))
    assert "did you mean acme.file_count?" in str(names.problem("acmee.file_count"))
