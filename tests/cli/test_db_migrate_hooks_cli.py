"""``plimsoll db migrate hooks``: the registered migration hooks, as a user lists them."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_code_cli import plimsoll


def test_lists_the_configured_hooks_in_json_and_text(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "plimsoll.toml").write_text(
        '[db]\nmigrations_dir = "m"\nhook_phase_timeouts = {before_migration = 5}\n\n'
        '[[db.hooks]]\nname = "gate"\nphase = "before_migration"\ncallable = "os.path:exists"\n'
        "priority = 3\ntimeout_seconds = 2\n"
    )
    listing = json.loads(plimsoll(tmp_path, "db", "migrate", "hooks", "-f", "json").stdout)
    [hook] = listing["hooks"]
    assert (hook["name"], hook["phase"], hook["source"], hook["priority"]) == (
        "gate",
        "before_migration",
        "config",
        3,
    )
    assert (hook["timeout_seconds"], hook["phase_timeout_seconds"]) == (2, 5)
    assert listing["failed"] == []
    text = plimsoll(tmp_path, "db", "migrate", "hooks").stdout
    assert "gate" in text and "before_migration" in text and "2s, phase 5s" in text
