"""The ``debt`` collector: markers in comments only, structural debt, fix times and the cache key."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from radon.complexity import cc_visit
from radon.visitors import Function

from plimsoll.code.collectors.base import CollectContext
from plimsoll.code.collectors.debt import DebtCollector
from plimsoll.core.config import CodeConfig, DebtConfig
from tests.code.collectors.test_stats import make_context

MARKERS = textwrap.dedent(
    '''\
    """Module docstring: TODO in a docstring is not a comment."""

    TODO_LIST = ["FIXME in a string"]  # TODO: real marker one


    def todo(fixme_count):
        # FIXME broken for negative counts
        text = "# HACK inside a string, not a comment"
        # todo in lower case and TODOS and mastodon are not markers
        return text  # XXX and BUG: two markers in one comment


    async def later():
        """HACK in a function docstring."""
        # HACK: async functions are scanned too
    '''
)


def with_debt(context: CollectContext, **debt: object) -> CollectContext:
    """``context`` with its debt settings replaced."""
    config = CodeConfig(debt=DebtConfig.model_validate(debt))
    return CollectContext(root=context.root, files=context.files, config=config)


def test_markers_only_in_comments(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"markers.py": MARKERS})
    result = DebtCollector().collect(context)
    markers = [item for item in result["items"] if item["kind"] == "marker"]
    # Line 3 TODO, line 7 FIXME, line 10 XXX and BUG, line 15 HACK; nothing from strings,
    # docstrings, identifiers (TODO_LIST, todo, fixme_count) or lower case / longer words.
    assert sorted((item["line"], item["name"]) for item in markers) == [
        (3, "TODO"),
        (7, "FIXME"),
        (10, "BUG"),
        (10, "XXX"),
        (15, "HACK"),
    ]
    assert result["by_marker"] == {
        "TODO": 1,
        "FIXME": 1,
        "HACK": 1,
        "XXX": 1,
        "BUG": 1,
        "OPTIMIZE": 0,
        "REFACTOR": 0,
    }
    assert result["by_kind"]["marker"] == 5
    severities = {item["name"]: item["severity"] for item in markers}
    assert severities == {
        "TODO": "low",
        "FIXME": "high",
        "BUG": "high",
        "XXX": "medium",
        "HACK": "medium",
    }
    assert all(item["minutes"] == DebtConfig().minutes_per_marker for item in markers)
    assert all(item["file"] == "markers.py" for item in markers)
    assert result["total_minutes"] == 5 * DebtConfig().minutes_per_marker
    assert result["total_hours"] == round(result["total_minutes"] / 60, 2)
    assert result["lines"] == len(MARKERS.splitlines())
    assert set(result) == set(DebtCollector.keys)
    json.dumps(result)


def test_configured_markers_are_used(tmp_path: Path) -> None:
    context = with_debt(make_context(tmp_path, {"markers.py": MARKERS}), markers=["HACK", "NOTE"])
    result = DebtCollector().collect(context)
    assert result["by_marker"] == {"HACK": 1, "NOTE": 0}
    assert result["item_count"] == 1


def long_function(name: str, lines: int) -> str:
    """A function of exactly ``lines`` physical lines."""
    body = "".join(f"    x{i} = {i}\n" for i in range(lines - 2))
    return f"def {name}():\n{body}    return 0\n"


def test_structural_debt(tmp_path: Path) -> None:
    methods = "".join(f"    def m{i}(self):\n        return {i}\n\n" for i in range(21))
    branches = "".join(f"    if x == {i}:\n        return {i}\n" for i in range(12))
    source = (
        long_function("long_one", 51)
        + long_function("just_fits", 50)
        + f"class Big:\n{methods}"
        + f"def branchy(x):\n{branches}    return -1\n"
        + textwrap.dedent(
            """\
            def deep(rows):
                for a in rows:
                    for b in a:
                        for c in b:
                            for d in c:
                                if d:
                                    return d
            """
        )
    )
    context = make_context(tmp_path, {"debt.py": source})
    result = DebtCollector().collect(context)
    config = DebtConfig()
    found = {(item["kind"], item["name"]): item for item in result["items"]}

    # 51 lines > 50; the 50-line function is within the limit.
    long_item = found[("long_function", "long_one")]
    assert long_item["line"] == 1
    assert long_item["severity"] == "medium"
    assert long_item["minutes"] == config.minutes_per_long_function
    assert ("long_function", "just_fits") not in found

    # 21 methods > 20.
    big = found[("large_class", "Big")]
    assert big["minutes"] == config.minutes_per_large_class

    # Depth 5 > 4.
    assert found[("deep_nesting", "deep")]["minutes"] == config.minutes_per_deep_nesting

    # Cyclomatic complexity as radon computes it; fix time per point above the limit.
    radon_cc = {b.name: b.complexity for b in cc_visit(source) if isinstance(b, Function)}
    assert radon_cc["branchy"] == 13
    complex_items = [item for item in result["items"] if item["kind"] == "high_complexity"]
    assert [item["name"] for item in complex_items] == ["branchy"]
    over = radon_cc["branchy"] - config.high_complexity
    assert complex_items[0]["minutes"] == over * config.minutes_per_complexity_point

    assert result["by_kind"] == {
        "marker": 0,
        "long_function": 1,
        "large_class": 1,
        "deep_nesting": 1,
        "high_complexity": 1,
    }
    assert result["total_minutes"] == sum(item["minutes"] for item in result["items"])
    assert result["items_per_kloc"] == round(4 * 1000 / len(source.splitlines()), 3)


def test_severity_high_beyond_twice_the_limit(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"long.py": long_function("huge", 101)})
    result = DebtCollector().collect(context)
    assert [(item["kind"], item["severity"]) for item in result["items"]] == [
        ("long_function", "high")
    ]


def test_debt_settings_change_the_cache_key(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"a.py": "x = 1\n"})
    collector = DebtCollector()
    key = collector.cache_key(context)
    assert collector.cache_key(with_debt(context)) == key
    assert collector.cache_key(with_debt(context, long_function_lines=10)) != key
    assert collector.cache_key(with_debt(context, markers=["TODO"])) != key
    assert collector.cache_key(with_debt(context, minutes_per_marker=1.0)) != key


def test_items_are_capped_but_counts_stay_exact(tmp_path: Path, monkeypatch) -> None:
    source = "".join(f"x{i} = {i}  # TODO item {i}\n" for i in range(30))
    monkeypatch.setattr(DebtCollector, "max_items", 10)
    result = DebtCollector().collect(make_context(tmp_path, {"many.py": source}))
    assert len(result["items"]) == 10
    assert result["items_truncated"] == 20
    assert result["item_count"] == 30
    assert result["by_marker"]["TODO"] == 30
    assert result["total_minutes"] == 30 * DebtConfig().minutes_per_marker


def test_file_that_does_not_parse_is_skipped_and_reported(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"good.py": MARKERS, "bad.py": "x = (\n# TODO never closed\n"})
    result = DebtCollector().collect(context)
    assert [item["path"] for item in result["skipped_files"]] == ["bad.py"]
    assert {item["file"] for item in result["items"]} == {"good.py"}
