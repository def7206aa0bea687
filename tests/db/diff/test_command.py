"""``plimsoll db diff`` on changes without DDL and destructive ones (the real command)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.db.diff.conftest import Pair
from tests.db.diff.test_settings import _PLAIN, _TUNED
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

    # PostgreSQL cannot change a partition key: reported, and --generate refuses it.
    pair.run(pair.a, "CREATE TABLE public.days (day date) PARTITION BY RANGE (day);")
    pair.run(pair.b, "CREATE TABLE public.days (day date) PARTITION BY LIST (day);")
    refused = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b", "--generate", "x")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "partitioning public.days (partition key RANGE (day) -> LIST (day)" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not (root / "db" / "migrations").exists() or not list(
        (root / "db" / "migrations").iterdir()
    )


def test_command_writes_a_parents_column_once_and_says_so_for_the_child(
    pair: Pair, tmp_path: Path
) -> None:
    root = tmp_path / "service"
    root.mkdir()
    (root / "plimsoll.toml").write_text(
        f'[db.environments.a]\nurl = "{pair.a}"\n[db.environments.b]\nurl = "{pair.b}"\n'
    )
    pair.run(
        pair.a, "CREATE TABLE public.p (id int); CREATE TABLE public.c () INHERITS (public.p);"
    )
    pair.run(
        pair.b,
        "CREATE TABLE public.p (id int, x text); CREATE TABLE public.c () INHERITS (public.p);",
    )
    shown = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b", "-f", "json")
    covered = [c for c in json.loads(shown.stdout)["changes"] if c["name"] == "public.c.x"]
    assert [(c["covered_by"], c["up_sql"]) for c in covered] == [("public.p", "")]
    done = _plimsoll(root, "db", "diff", "--from", "a", "--to", "b", "--generate", "add_x")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "done by public.p's DDL" in done.stdout
    [up] = (root / "db" / "migrations").glob("*_add_x.up.sql")
    assert up.read_text().count("ADD COLUMN") == 1


def test_command_reports_and_writes_what_pg_dump_shows(pair: Pair, tmp_path: Path) -> None:
    # The reviewer's repro: two databases differing only in settings the diff once missed.
    root = tmp_path / "service"
    root.mkdir()
    (root / "plimsoll.toml").write_text("[db]\n")
    pair.run(pair.a, _PLAIN)
    pair.run(pair.b, _TUNED)
    args = ("db", "diff", "--from", pair.a, "--to", pair.b)
    shown = _plimsoll(root, *args, "-f", "json")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    found = {(c["object_type"], c["name"]) for c in json.loads(shown.stdout)["changes"]}
    assert {
        ("table", "public.events"),
        ("table", "public.orders"),
        ("column", "public.orders.id"),
        ("index", "public.orders.orders_qty"),
        ("trigger", "public.orders.orders_touch"),
        ("constraint", "public.orders.qty_positive"),
        ("comment", "public"),
        ("default privilege", f"for role {pair.server.user} on tables"),
    } <= found
    text = _plimsoll(root, *args)
    assert text.returncode == 1 and "no differences" not in text.stdout

    done = _plimsoll(root, *args, "--generate", "tune")
    assert done.returncode == 1, done.stdout + done.stderr
    [up] = (root / "db" / "migrations").glob("*_tune.up.sql")
    [down] = (root / "db" / "migrations").glob("*_tune.down.sql")
    assert "ALTER TABLE public.events SET UNLOGGED;" in up.read_text()
    assert "SET START WITH 1000" in up.read_text()
    assert "ALTER TABLE public.events SET LOGGED;" in down.read_text()
