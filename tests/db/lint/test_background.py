"""Work in a forked child: the same result as in process, and a failed child falls back."""

from __future__ import annotations

import os

import pytest

import plimsoll.db.lint.engine as engine
from plimsoll.db.lint.background import Background
from plimsoll.db.lint.compose import compose
from plimsoll.db.lint.engine import SourceFile, lint_sources
from plimsoll.db.lint.registry import load_registry


def _pid_and_square(value: int) -> tuple[int, int]:
    return os.getpid(), value * value


def test_forked_work_runs_in_a_child_and_returns_its_result() -> None:
    job = Background(lambda: _pid_and_square(7))
    assert job.forked
    pid, value = job.result()
    assert value == 49 and pid != os.getpid()


def test_a_failing_child_falls_back_to_this_process() -> None:
    calls = {"here": 0}

    def work() -> int:
        if os.getpid() != parent:
            raise RuntimeError("only in the child")
        calls["here"] += 1
        return 5

    parent = os.getpid()
    job = Background(work)
    assert job.result() == 5 and calls["here"] == 1


def test_without_fork_the_work_runs_here() -> None:
    job = Background(lambda: _pid_and_square(3), fork=False)
    assert not job.forked and job.result() == (os.getpid(), 9)


def test_parallel_and_sequential_lints_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    sql = "".join(
        f"CREATE TABLE t{n} (id int, name varchar(20));\nCREATE INDEX t{n}_i ON t{n} (name);\n"
        for n in range(200)
    )
    sources = [
        SourceFile("schema.sql", sql, False),
        SourceFile("1_m.up.sql", sql, True, build=False),
    ]
    active, audit = compose(load_registry(), ["safety", "general"], pg_version=16)
    monkeypatch.setattr(engine, "PARALLEL_CHARACTERS", 10**12)
    sequential = lint_sources(sources, active, audit, pg_version=16).findings
    monkeypatch.setattr(engine, "PARALLEL_CHARACTERS", 0)
    parallel = lint_sources(sources, active, audit, pg_version=16).findings
    assert parallel == sequential
    assert {f.rule for f in sequential} >= {"require-primary-key", "prefer-text-field"}
