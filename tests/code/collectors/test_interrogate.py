"""The interrogate collector against interrogate's own command-line report on a real project."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from plimsoll.code.collectors.base import CollectorError
from plimsoll.code.collectors.interrogate import (
    InterrogateCollector,
    build_config,
    is_excluded,
    normalize_settings,
    percent,
)
from tests.code.collectors.data_tools import DictCache, context_for, make_project, run


def _cli_totals(root: Path) -> tuple[int, int, int, float]:
    """Total, missing, covered and the percentage from `interrogate -vv` run in ``root``."""
    text = run(root, "interrogate", "-vv", "--no-color").stdout
    row = re.search(r"\| TOTAL\s+\|\s+(\d+) \|\s+(\d+) \|\s+(\d+) \|\s+([\d.]+)% \|", text)
    assert row is not None, text
    return int(row.group(1)), int(row.group(2)), int(row.group(3)), float(row.group(4))


def _check_equal(metrics: dict[str, Any], root: Path) -> None:
    total, missing, covered, shown = _cli_totals(root)
    assert (metrics["total"], metrics["missing"], metrics["covered"]) == (total, missing, covered)
    assert f"{metrics['percent_covered']:.1f}" == f"{shown:.1f}"


def test_settings_are_normalised_as_the_cli_does() -> None:
    settings = normalize_settings(
        {"ignore_setters": True, "whitelist_regex": "^api_", "style": "google"}
    )
    assert settings["ignore_property_setters"] is True
    assert settings["include_regex"] == ["^api_"]
    assert settings["ignore_module"] is True
    config = build_config(settings)
    assert config.docstring_style == "google"
    assert [r.pattern for r in config.include_regex] == ["^api_"]
    with pytest.raises(CollectorError, match="invalid setting"):
        build_config(normalize_settings({"style": "numpy"}))


def test_excludes_match_the_cli(tmp_path: Path) -> None:
    settings = normalize_settings({"exclude": ["tests", "pkg/gen"], "ignore_init_module": True})
    assert is_excluded("tests/test_a.py", tmp_path, settings)
    assert is_excluded("pkg/gen/x.py", tmp_path, settings)
    assert is_excluded("pkg/__init__.py", tmp_path, settings)
    assert is_excluded("venv/lib/x.py", tmp_path, settings)
    assert not is_excluded("pkg/core.py", tmp_path, settings)
    assert percent(0, 0) == 100.0
    assert percent(1, 4) == 25.0


@pytest.mark.integration
def test_totals_equal_interrogates_own(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    metrics = InterrogateCollector().collect(context_for(root))
    _check_equal(metrics, root)
    # The sample's settings ignore __init__.py modules and magic methods.
    assert metrics["files"] == 4
    assert metrics["skipped_files"] == []


@pytest.mark.integration
def test_other_project_settings_are_honoured(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "ignore-magic = true",
            "ignore-magic = false\nignore-module = true\nignore-nested-functions = true\n"
            'exclude = ["tests"]\nignore-regex = ["^pick$"]',
        )
    )
    metrics = InterrogateCollector().collect(context_for(root))
    _check_equal(metrics, root)
    assert metrics["files"] == 3


@pytest.mark.integration
def test_setup_cfg_settings_and_google_style(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "pyproject.toml").unlink()
    (root / "setup.cfg").write_text("[tool:interrogate]\nstyle = google\nignore-private = true\n")
    metrics = InterrogateCollector().collect(context_for(root))
    _check_equal(metrics, root)


@pytest.mark.integration
def test_unchanged_files_come_from_the_cache(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    cache = DictCache()
    first = InterrogateCollector().collect(context_for(root, cache=cache))
    assert cache.hits == 0
    assert InterrogateCollector().collect(context_for(root, cache=cache)) == first
    assert cache.hits == first["files"]
    core = root / "pkg" / "core.py"
    core.write_text(core.read_text() + '\n\ndef documented():\n    """Now documented."""\n')
    changed = InterrogateCollector().collect(context_for(root, cache=cache))
    assert changed["covered"] == first["covered"] + 1
    _check_equal(changed, root)


@pytest.mark.integration
def test_unparseable_file_is_skipped(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    (root / "pkg" / "broken.py").write_text("def broken(:\n    pass\n")
    metrics = InterrogateCollector().collect(context_for(root))
    assert metrics["skipped_files"][0]["path"] == "pkg/broken.py"
    (root / "pkg" / "broken.py").unlink()
    _check_equal(metrics, root)
