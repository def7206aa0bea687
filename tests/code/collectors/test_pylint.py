"""The pylint collector against pylint's own json2 and text reports on a real project."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.collectors import _imports
from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.pylint import (
    PylintCollector,
    PylintReport,
    oversized,
    parse_json2,
    parse_statements,
    report_metrics,
)
from plimsoll.core.config import CodeConfig
from tests.code.collectors.data_tools import (
    CAPTURED,
    DictCache,
    context_for,
    discovered_context,
    make_project,
    python_files,
    run,
)


def test_parse_captured_reports() -> None:
    report = parse_json2((CAPTURED / "pylint.json2").read_text())
    statements = parse_statements((CAPTURED / "pylint.txt").read_text())
    assert statements == 86
    assert report.counts == {
        "fatal": 0,
        "error": 1,
        "warning": 2,
        "refactor": 1,
        "convention": 23,
        "info": 0,
    }
    assert report.score == pytest.approx(6.395348837209303)
    # Pylint's default evaluation, recomputed from the counts and statements, gives the same score.
    c = report.counts
    assert report.score == pytest.approx(
        10.0 - (5 * c["error"] + c["warning"] + c["refactor"] + c["convention"]) / statements * 10
    )
    metrics = report_metrics(
        PylintReport(report.score, report.counts, report.symbols, report.modules, statements)
    )
    assert metrics["total"] == 27
    assert metrics["top_symbols"]["missing-function-docstring"] == max(
        metrics["top_symbols"].values()
    )
    assert "too-few-public-methods" not in metrics["top_symbols"]


def test_parse_failures() -> None:
    assert parse_statements("no report here") is None
    with pytest.raises(CollectorError, match="no valid json2"):
        parse_json2("************* Module x")
    text = json.dumps(
        {
            "messages": [],
            "statistics": {
                "messageTypeCount": {},
                "modulesLinted": 0,
                "score": "An exception occurred while rating: x",
            },
        }
    )
    assert parse_json2(text).score is None


@pytest.mark.integration
def test_score_and_counts_equal_pylints_own(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    paths = python_files(root)
    metrics = PylintCollector().collect(context_for(root))
    plain = json.loads(run(root, "pylint", "--output-format=json2", *paths).stdout)
    assert metrics["score"] == plain["statistics"]["score"]
    assert metrics["by_type"] == plain["statistics"]["messageTypeCount"]
    assert metrics["modules"] == plain["statistics"]["modulesLinted"]
    assert metrics["total"] == len(plain["messages"])
    # The project's own settings apply: it disables too-few-public-methods.
    assert "too-few-public-methods" not in metrics["top_symbols"]
    # The statements are those behind pylint's own score (its default evaluation formula).
    c = metrics["by_type"]
    weighted = 5 * c["error"] + c["warning"] + c["refactor"] + c["convention"]
    assert metrics["score"] == pytest.approx(10.0 - weighted / metrics["statements"] * 10)


@pytest.mark.integration
def test_usage_errors_are_collector_errors(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('[tool.pylint.main]\njobs = "abc"\n')
    with pytest.raises(CollectorError) as info:
        PylintCollector().collect(context_for(tmp_path, ["a.py"]))
    assert (
        str(info.value) == "pylint failed (exit code 32): "
        "pylint: error: argument --jobs/-j: invalid int value: 'abc'"
    )


def test_import_graph_resolution() -> None:
    sources = {
        "src/pkg/__init__.py": "from .core import run\n",
        "src/pkg/core.py": "from . import util\nimport pkg.sub\n",
        "src/pkg/util.py": "import os\nfrom ..outside import x\n",
        "src/pkg/sub/__init__.py": "",
        "src/pkg/sub/deep.py": "from ..util import helper\n",
        "tests/test_x.py": "import pkg\npkg.sub.deep.f()\nimport missing_mod\n",
        "broken.py": "def (:\n",
    }
    infos = _imports.build_imports(sources)
    assert infos["src/pkg/core.py"].module == "pkg.core"
    assert infos["src/pkg/__init__.py"].module == "pkg"
    assert infos["src/pkg/sub/deep.py"].module == "pkg.sub.deep"
    assert infos["tests/test_x.py"].module == "test_x"
    resolved = {k: v for k, v in infos["src/pkg/core.py"].resolved.items() if v}
    assert resolved == {
        "pkg": "src/pkg/__init__.py",
        "pkg.util": "src/pkg/util.py",
        "pkg.sub": "src/pkg/sub/__init__.py",
    }
    assert infos["src/pkg/sub/deep.py"].resolved["pkg.util"] == "src/pkg/util.py"
    # An attribute chain on an imported package reaches the submodule astroid would load.
    assert infos["tests/test_x.py"].resolved["pkg.sub.deep"] == "src/pkg/sub/deep.py"
    assert infos["tests/test_x.py"].resolved["missing_mod"] is None
    assert infos["broken.py"].resolved == {}
    closure = _imports.closures(infos)
    assert closure["src/pkg/util.py"] == {"src/pkg/util.py"}
    assert "src/pkg/util.py" in closure["tests/test_x.py"]
    shas = dict.fromkeys(sources, "0")
    keys = _imports.closure_keys(infos, shas)
    # pkg and pkg.core import each other: one closure, distinct keys.
    assert closure["src/pkg/__init__.py"] == closure["src/pkg/core.py"]
    assert keys["src/pkg/__init__.py"] != keys["src/pkg/core.py"]
    changed = _imports.closure_keys(infos, {**shas, "src/pkg/util.py": "1"})
    assert changed["tests/test_x.py"] != keys["tests/test_x.py"]
    assert changed["broken.py"] == keys["broken.py"]


SAMPLE_FILES = {
    "app/__init__.py": '"""App."""\n',
    "app/models.py": (
        '"""Models."""\n\n\nclass Box:\n    """A box."""\n\n'
        "    def __init__(self):\n        self.size = 1\n\n\n"
        'def make():\n    """Make one."""\n    return Box()\n'
    ),
    "app/use.py": (
        '"""Uses models."""\nfrom app.models import make\n\n\n'
        'def area():\n    """Area."""\n    return make().size * 2\n'
    ),
    "app/ping.py": '"""Ping."""\nfrom app import pong\n\nVALUE = pong.VALUE\n',
    "app/pong.py": '"""Pong."""\nfrom app import ping\n\nVALUE = 1\nOTHER = ping\n',
    "app/dup_a.py": (
        '"""A."""\n\n\ndef first(items):\n    """First."""\n'
        "    total = 0\n    for item in items:\n        total += item * 3\n"
        "        total -= item // 2\n        total ^= item\n    return total\n"
    ),
    "app/dup_b.py": (
        '"""B."""\n\n\ndef second(items):\n    """Second."""\n'
        "    total = 0\n    for item in items:\n        total += item * 3\n"
        "        total -= item // 2\n        total ^= item\n    return total\n"
    ),
    "app/broken.py": "def broken(:\n    pass\n",
    "tests/test_use.py": "from app.use import area\n\n\ndef test_area():\n    assert area()\n",
    "pyproject.toml": '[tool.pylint."messages control"]\ndisable = ["too-few-public-methods"]\n',
}


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def _assert_equals_plain_run(root: Path, metrics: dict[str, object]) -> None:
    paths = python_files(root)
    plain = json.loads(run(root, "pylint", "--output-format=json2", *paths).stdout)
    text = run(root, "pylint", "--reports=y", "--score=n", *paths).stdout
    symbols: dict[str, int] = {}
    for message in plain["messages"]:
        symbols[message["symbol"]] = symbols.get(message["symbol"], 0) + 1
    assert metrics["score"] == plain["statistics"]["score"]
    assert metrics["by_type"] == plain["statistics"]["messageTypeCount"]
    assert metrics["modules"] == plain["statistics"]["modulesLinted"]
    assert metrics["total"] == len(plain["messages"])
    assert metrics["top_symbols"] == symbols
    assert metrics["statements"] == parse_statements(text)


@pytest.mark.integration
def test_incremental_collect_equals_pylints_own(tmp_path: Path) -> None:
    _write(tmp_path, SAMPLE_FILES)
    cache = DictCache()
    cold = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert cold["linted_files"] == len(python_files(tmp_path))
    symbols = cold["top_symbols"]
    assert isinstance(symbols, dict)
    for symbol in ("duplicate-code", "cyclic-import", "syntax-error"):
        assert symbols.get(symbol), symbol
    assert "no-member" not in symbols
    _assert_equals_plain_run(tmp_path, cold)

    unchanged = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert unchanged == {**cold, "linted_files": 0, "cached_files": cold["linted_files"]}

    # Box loses `size`: use.py, which only imports models, now gets a no-member error.
    models = SAMPLE_FILES["app/models.py"].replace("self.size = 1", "self.width = 1")
    _write(tmp_path, {"app/models.py": models})
    changed = PylintCollector().collect(context_for(tmp_path, cache=cache))
    # models.py, use.py (imports it) and the test importing use.py; the rest from the cache.
    assert changed["linted_files"] == 3
    changed_symbols = changed["top_symbols"]
    assert isinstance(changed_symbols, dict)
    assert changed_symbols["no-member"] == 1
    _assert_equals_plain_run(tmp_path, changed)

    # The duplicate goes away although neither copy's importers changed.
    _write(tmp_path, {"app/dup_b.py": '"""B."""\n\nSMALL = 1\n'})
    fewer = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert fewer["linted_files"] == 1
    _assert_equals_plain_run(tmp_path, fewer)


@pytest.mark.integration
def test_custom_evaluation_is_pylints_score(tmp_path: Path) -> None:
    files = {
        **SAMPLE_FILES,
        "pyproject.toml": '[tool.pylint.main]\nevaluation = "10.0 - error - convention / 2"\n',
    }
    _write(tmp_path, files)
    cache = DictCache()
    metrics = PylintCollector().collect(context_for(tmp_path, cache=cache))
    _assert_equals_plain_run(tmp_path, metrics)
    # The settings are part of the cache key: changing them lints everything again.
    _write(tmp_path, {"pyproject.toml": '[tool.pylint.main]\nevaluation = "1.0"\n'})
    again = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert again["linted_files"] == len(python_files(tmp_path))
    assert again["score"] == 1.0


@pytest.mark.integration
def test_changes_an_importer_cannot_reach_keep_its_cached_result(
    tmp_path: Path,
) -> None:
    _write(tmp_path, SAMPLE_FILES)
    cache = DictCache()
    PylintCollector().collect(context_for(tmp_path, cache=cache))

    # A function appended to models.py, named by nobody: only models.py is linted again.
    models = SAMPLE_FILES["app/models.py"] + (
        '\n\ndef spare(count):\n    """Spare."""\n    unused = 1\n    return count\n'
    )
    _write(tmp_path, {"app/models.py": models})
    appended = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert appended["linted_files"] == 1
    _assert_equals_plain_run(tmp_path, appended)

    # use.py starts naming a function models.py does not have yet: a no-member error...
    use = (
        SAMPLE_FILES["app/use.py"].replace(
            "from app.models import make\n", "from app import models\nfrom app.models import make\n"
        )
        + '\n\ndef later():\n    """Later."""\n    return models.later_box()\n'
    )
    _write(tmp_path, {"app/use.py": use})
    named = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert named["top_symbols"]["no-member"] == 1  # type: ignore[index]
    _assert_equals_plain_run(tmp_path, named)
    # ...which the appended definition ends: use.py (which names it) and its importer again.
    models += '\n\ndef later_box():\n    """Later box."""\n    return Box()\n'
    _write(tmp_path, {"app/models.py": models})
    defined = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert defined["linted_files"] == 3
    assert "no-member" not in defined["top_symbols"]  # type: ignore[operator]
    _assert_equals_plain_run(tmp_path, defined)

    # A function edited that no importer reaches (spare): only models.py again.
    models = models.replace("    unused = 1\n    return count\n", "    return count + 1\n")
    _write(tmp_path, {"app/models.py": models})
    untouched = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert untouched["linted_files"] == 1
    _assert_equals_plain_run(tmp_path, untouched)

    # A function edited that use.py calls (make): its importers are linted again.
    models = models.replace("return Box()\n", "return None\n", 1)
    _write(tmp_path, {"app/models.py": models})
    edited = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert edited["linted_files"] == 3
    _assert_equals_plain_run(tmp_path, edited)


@pytest.mark.integration
def test_damaged_carry_over_entries_are_misses(tmp_path: Path) -> None:
    _write(tmp_path, SAMPLE_FILES)
    cache = DictCache()
    PylintCollector().collect(context_for(tmp_path, cache=cache))
    # Every carry-over record and shape damaged: values of the wrong kind, missing fields.
    for (key, sha), value in list(cache.values.items()):
        if key.endswith(":latest"):
            cache.values[(key, sha)] = {"closure": 3, "members": dict.fromkeys(value["members"], 5)}
        elif key.startswith("pylint-shape"):
            cache.values[(key, sha)] = {"statements": [["d", 1, 2]], "dynamic": "x"}
    assert any(k.endswith(":latest") for k, _ in cache.values)
    models = SAMPLE_FILES["app/models.py"] + '\n\ndef spare():\n    """Spare."""\n'
    _write(tmp_path, {"app/models.py": models})
    again = PylintCollector().collect(context_for(tmp_path, cache=cache))
    # Nothing carried over: models.py and its two importers are linted again, correctly.
    assert again["linted_files"] == 3
    _assert_equals_plain_run(tmp_path, again)


@pytest.mark.integration
def test_an_attribute_assigned_from_a_file_nobody_imports_reaches_its_readers(
    tmp_path: Path,
) -> None:
    # Pylint builds every file of the run first, and astroid records `other.Config.timeout
    # = 5` on Config: d.py's no-member goes away although d.py does not import p.py.
    files = {
        "pkg/__init__.py": '"""Pkg."""\n',
        "pkg/other.py": '"""Other."""\n\n\nclass Config:\n    """C."""\n',
        "pkg/d.py": '"""D."""\nfrom pkg.other import Config\n\nprint(Config.timeout)\n',
    }
    _write(tmp_path, files)
    cache = DictCache()
    first = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert first["top_symbols"].get("no-member") == 1  # type: ignore[union-attr]
    _assert_equals_plain_run(tmp_path, first)
    _write(
        tmp_path,
        {
            "pkg/p.py": '"""P."""\nfrom pkg import other\n\n\ndef tune():\n    """T."""\n'
            "    other.Config.timeout = 5\n"
        },
    )
    second = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert "no-member" not in second["top_symbols"]  # type: ignore[operator]
    assert second["linted_files"] == 2  # p.py, and d.py which reads what it assigns
    _assert_equals_plain_run(tmp_path, second)


@pytest.mark.integration
def test_by_symbol_counts_every_symbol_as_pylint_does(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    paths = python_files(root)
    metrics = PylintCollector().collect(context_for(root))
    plain = json.loads(run(root, "pylint", "--output-format=json2", *paths).stdout)
    by_hand = Counter(m["symbol"] for m in plain["messages"])
    # Every symbol, not only the top 20: a gate on any symbol reads its real count.
    assert metrics["by_symbol"] == dict(by_hand)
    assert sum(metrics["by_symbol"].values()) == metrics["total"]
    assert set(metrics["top_symbols"]) <= set(metrics["by_symbol"])
    assert "by_symbol" in PylintCollector.complete_counts


def _pathological(n_items: int = 30_000, n_functions: int = 300) -> str:
    """A module pylint is slow on: a huge literal and many functions (about 300 KB).

    Pylint's trailing-comma check is quadratic in a module's tokens.
    """
    lines = ['"""Generated."""', "DATA = ["]
    lines += [f"    {i}," for i in range(n_items)]
    lines.append("]")
    for i in range(n_functions):
        lines.append(f"\n\ndef f{i}(x):\n    return x + {i}")
    return "\n".join(lines) + "\n"


def _reason(limit: int) -> str:
    return f"larger than {limit} bytes: pylint's checks are quadratic in a file's tokens; skipped"


@pytest.mark.integration
def test_a_file_too_big_to_lint_is_skipped_and_the_rest_equals_pylint(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    rest = python_files(root)
    (root / "pkg" / "generated.py").write_text(_pathological())
    config = CodeConfig(pylint_max_file_bytes=100_000)
    cache = DictCache()
    metrics = PylintCollector().collect(context_for(root, config=config, cache=cache))
    assert metrics["skipped_files"] == [{"path": "pkg/generated.py", "error": _reason(100_000)}]
    assert metrics["linted_files"] == len(rest) and metrics["cached_files"] == 0
    # The other files are linted as pylint lints them by hand without the big one.
    plain = json.loads(run(root, "pylint", "--output-format=json2", *rest).stdout)
    assert metrics["score"] == plain["statistics"]["score"]
    assert metrics["by_type"] == plain["statistics"]["messageTypeCount"]
    assert metrics["by_symbol"] == dict(Counter(m["symbol"] for m in plain["messages"]))
    assert metrics["modules"] == plain["statistics"]["modulesLinted"]
    text = run(root, "pylint", "--reports=y", "--score=n", *rest).stdout
    assert metrics["statements"] == parse_statements(text)
    # A second run takes everything from the cache and skips the same file.
    again = PylintCollector().collect(context_for(root, config=config, cache=cache))
    assert again["skipped_files"] == metrics["skipped_files"]
    assert again["linted_files"] == 0 and again["score"] == metrics["score"]
    # Under a limit it fits in, it is linted (not a cached skip) and counts like any file.
    wide = CodeConfig(pylint_max_file_bytes=1_000_000)
    whole = PylintCollector().collect(context_for(root, config=wide, cache=cache))
    assert whole["skipped_files"] == []
    assert whole["modules"] == metrics["modules"] + 1
    assert whole["statements"] > metrics["statements"]


@pytest.mark.integration
def test_a_big_file_leaves_no_half_built_module_for_its_importers(tmp_path: Path) -> None:
    # The reviewer's case against a time limit inside pylint: interrupted mid-build, astroid
    # kept a module without its attributes and user.py got a false no-member. By size,
    # slow.py is never linted, and user.py is inferred against the whole of it.
    attributes = "".join(f"        self.a{i} = {i}\n" for i in range(15_000))
    _write(
        tmp_path,
        {
            "slow.py": (
                '"""Many attributes."""\n\n\nclass Big:  # pylint: disable=too-many-instance-'
                'attributes,too-few-public-methods\n    """Big."""\n\n    def __init__(self):\n'
                + attributes
            ),
            "user.py": (
                '"""Uses Big."""\n\nfrom slow import Big\n\n\n'
                'def value() -> int:\n    """One attribute."""\n    return Big().a14999\n'
            ),
        },
    )
    limit = 100_000
    assert (tmp_path / "slow.py").stat().st_size > limit > (tmp_path / "user.py").stat().st_size
    metrics = PylintCollector().collect(
        context_for(tmp_path, config=CodeConfig(pylint_max_file_bytes=limit))
    )
    assert metrics["skipped_files"] == [{"path": "slow.py", "error": _reason(limit)}]
    assert metrics["total"] == 0 and metrics["by_symbol"] == {}
    plain = json.loads(run(tmp_path, "pylint", "--output-format=json2", "user.py").stdout)
    assert plain["messages"] == []
    assert metrics["score"] == plain["statistics"]["score"] == 10.0
    assert metrics["modules"] == plain["statistics"]["modulesLinted"]


def test_the_size_limit_counts_bytes_and_a_stubs_module() -> None:
    sources = {"a.py": "x = 'é'\n", "m.py": "y = 1\n" * 10, "m.pyi": "y: int\n"}
    assert oversized(sources, 100) == {}
    # "é" is two bytes in UTF-8: a.py is 9 bytes, not 8.
    assert oversized(sources, 8) == {"a.py": _reason(8), "m.py": _reason(8), "m.pyi": _reason(8)}
    # m.pyi is 7 bytes, but pylint lints it from m.py's 60.
    assert set(oversized(sources, 59)) == {"m.py", "m.pyi"}
    assert oversized({"m.pyi": "y: int\n"}, 6) == {"m.pyi": _reason(6)}
    assert oversized({"m.pyi": "y: int\n"}, 7) == {}
    assert CodeConfig().pylint_max_file_bytes == 1_000_000


@pytest.mark.integration
def test_a_message_about_the_settings_is_listed_but_not_counted_as_pylint_does(
    tmp_path: Path,
) -> None:
    # pylint lists unrecognized-option (an error) but leaves it out of messageTypeCount and of
    # the score: it was said before its run opened.
    files = {**SAMPLE_FILES, "pyproject.toml": "[tool.pylint.main]\nnot-a-pylint-option = 1\n"}
    _write(tmp_path, files)
    cache = DictCache()
    cold = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert cold["top_symbols"]["unrecognized-option"] == 1
    _assert_equals_plain_run(tmp_path, cold)
    _write(tmp_path, {"app/dup_b.py": '"""B."""\n\nSMALL = 1\n'})
    again = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert again["linted_files"] == 1
    assert again["top_symbols"]["unrecognized-option"] == 1
    _assert_equals_plain_run(tmp_path, again)


@pytest.mark.integration
def test_a_file_linted_again_alone_sees_the_path_of_the_whole_run(tmp_path: Path) -> None:
    # pylint puts tests/ on its path when a file of it is linted: `import typing` in pkg/ is
    # then tests/typing.py. Linting pkg/m0.py again alone must find the same module.
    use = '"""M."""\nimport typing\n\nX: typing.Any = typing.cast(int, 1)\n'
    files = {"pkg/__init__.py": '"""Pkg."""\n', "pkg/m0.py": use, "pkg/m1.py": use}
    files["tests/test_a.py"] = '"""T."""\nimport typing\n\nY = typing.cast(int, 1)\n'
    files["tests/typing.py"] = '"""Shadow."""\nVALUE = 1\n'
    _write(tmp_path, files)
    cache = DictCache()
    cold = PylintCollector().collect(context_for(tmp_path, cache=cache))
    _assert_equals_plain_run(tmp_path, cold)
    _write(tmp_path, {"pkg/m0.py": use + "# changed\n"})
    again = PylintCollector().collect(context_for(tmp_path, cache=cache))
    assert again["linted_files"] == 1
    _assert_equals_plain_run(tmp_path, again)


@pytest.mark.integration
def test_a_file_linted_again_alone_finds_a_lone_stub_as_the_whole_run(tmp_path: Path) -> None:
    # pkg/_ext.pyi has no .py beside it (a compiled module's stub): a whole run builds it
    # before linting, so `from ._ext import fast` finds it there; linting __init__.py again
    # alone must read that import the same way.
    init = (
        '"""Pkg."""\nVERSION = 1\ntry:\n    from ._ext import fast\n'
        "except ImportError:\n    from ._slow import fast\n"
    )
    files = {
        "pkg/__init__.py": init,
        "pkg/_slow.py": '"""Slow."""\n\n\ndef fast(value):\n    """Fast."""\n    return value\n',
        "pkg/_ext.pyi": "def fast(value: int) -> int: ...\n",
    }
    _write(tmp_path, files)

    def by_hand() -> dict[str, Any]:
        report: dict[str, Any] = json.loads(
            run(tmp_path, "pylint", "--output-format=json2", "pkg").stdout
        )
        return report

    cache = DictCache()
    cold = PylintCollector().collect(discovered_context(tmp_path, cache=cache))
    assert cold["top_symbols"]["import-self"] == 1
    assert cold["total"] == len(by_hand()["messages"]) == 3
    _write(tmp_path, {"pkg/__init__.py": init.replace("VERSION = 1", "VERSION = 2")})
    again = PylintCollector().collect(discovered_context(tmp_path, cache=cache))
    assert again["linted_files"] == 1
    plain = by_hand()
    assert again["top_symbols"]["import-self"] == 1
    assert again["score"] == plain["statistics"]["score"]
    assert again["by_type"] == plain["statistics"]["messageTypeCount"]
