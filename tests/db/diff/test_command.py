"""``plimsoll db diff`` on changes without DDL and destructive ones (the real command)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.db.diff.conftest import Pair
from tests.db.test_differ import _plimsoll


def test_command_marks_destructive_changes_and_refuses_what_it_cannot_write(
    pair: Pair, tmp_path: Path
) -> None:
    root = tmp_path / "service"
    root.mkdir()
    (root / "plimsoll.toml").write_text(
        f'[db.environments.a]\nurl = "{pair.a}"\n[db.environments.b]\nurl = "{pair.b}"\n'
    )
    pair.run(pair.a, "CREATE TYPE public.mood AS ENUM ('a', 'b');")
    pair.run(pair.b, "CREATE TYPE public.mood AS ENUM ('b');")
    done = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b", "-f", "json")
    assert done.returncode == 1, done.stderr
    [change] = json.loads(done.stdout)["changes"]
    assert (change["object_type"], change["destructive"]) == ("enum", True)
    text = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b")
    assert "destructive" in text.stdout and "public.mood" in text.stdout

    pair.run(pair.b, "CREATE TABLE public.days (day date) PARTITION BY RANGE (day);")
    refused = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b", "--generate", "x")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "partitioned table public.days" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (root / "db" / "migrations").exists() or not list(
        (root / "db" / "migrations").iterdir()
    )
