"""Structured logs (text and JSON lines) and plugin discovery that never fails on a broken plugin."""

from __future__ import annotations

import json
import logging
from importlib.metadata import EntryPoint

import pytest

from plimsoll.core import log, plugins


def test_json_lines_carry_the_extra_fields(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure("info", "json")
    log.get_logger("code.runner").info(
        "collector %s done", "stats", extra={"event": "collector.done", "duration_ms": 12}
    )
    line = json.loads(capsys.readouterr().err.strip())
    assert line["message"] == "collector stats done"
    assert (line["event"], line["duration_ms"], line["level"]) == ("collector.done", 12, "info")
    assert line["logger"] == "plimsoll.code.runner"


def test_text_lines_and_level(capsys: pytest.CaptureFixture[str]) -> None:
    log.configure("warning", "text")
    logger = log.get_logger("plimsoll.x")
    logger.info("hidden")
    logger.warning("shown", extra={"phase": "up"})
    # The terminal gets a readable line; the fields only with --debug (and in the JSON log).
    assert capsys.readouterr().err.strip() == "warning: shown"
    log.configure("debug", "text")
    logger.warning("shown", extra={"phase": "up"})
    assert capsys.readouterr().err.strip() == "warning: shown [phase=up]"
    logging.getLogger("plimsoll").handlers.clear()


def test_builtin_collectors_are_discovered() -> None:
    found = plugins.discover(plugins.COLLECTORS)
    assert {"stats", "complexity", "pylint", "coverage"} <= set(found.loaded)
    assert not found.failures


def test_a_broken_plugin_is_reported_and_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    good = EntryPoint("good", "plimsoll.core.plugins:discover", plugins.VALIDATORS)
    bad = EntryPoint("bad", "no_such_module_anywhere:thing", plugins.VALIDATORS)

    def fake(group: str) -> list[EntryPoint]:
        return [bad, good] if group == plugins.VALIDATORS else []

    monkeypatch.setattr(plugins, "_entry_points", fake)
    found = plugins.discover(plugins.VALIDATORS)
    assert found.loaded == {"good": plugins.discover}
    assert [(f.name, f.value) for f in found.failures] == [("bad", "no_such_module_anywhere:thing")]
    assert "ModuleNotFoundError" in found.failures[0].error


def test_names_without_loading(monkeypatch: pytest.MonkeyPatch) -> None:
    ep = EntryPoint("x", "no_such_module_anywhere:thing", plugins.HOOKS)
    monkeypatch.setattr(plugins, "_entry_points", lambda group: [ep])
    # The module does not exist: listing names must not try to import it.
    assert plugins.names(plugins.HOOKS) == ["x"]
