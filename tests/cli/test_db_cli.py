"""``plimsoll db init`` and ``plimsoll db server ...`` through Typer, against the real binaries."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import typer
from typer.testing import CliRunner

from plimsoll.cli import db as db_cli
from plimsoll.cli.state import State
from plimsoll.db.server import EmbeddedServer
from tests.db.test_server import _halt, _require_binaries, project_dir  # noqa: F401 - fixture

REPO = Path(__file__).resolve().parents[2]


def _app() -> typer.Typer:
    """The db group under a root with the global state, as ``plimsoll`` registers it."""
    root = typer.Typer()

    @root.callback()
    def main(ctx: typer.Context) -> None:
        ctx.obj = State()

    root.add_typer(db_cli.app, name="db")
    return root


def run(*args: str, code: int = 0) -> str:
    """Invoke ``plimsoll db ...`` and check the exit code; returns stdout."""
    result = CliRunner().invoke(_app(), ["db", *args], env={"NO_COLOR": "1", "COLUMNS": "200"})
    assert result.exit_code == code, f"{result.output}\n{result.exception!r}"
    return result.stdout


@pytest.fixture
def project(project_dir: Path) -> Iterator[Path]:  # noqa: F811 - the imported fixture
    """A project folder whose embedded server is stopped at the end."""
    try:
        yield project_dir
    finally:
        _halt(EmbeddedServer(project_dir))


def test_init_text_then_nothing_to_do(tmp_path: Path) -> None:
    out = run("init", "-C", str(tmp_path))
    assert "created  db/migrations" in out and "created  plimsoll.toml" in out
    assert "nothing to do" in run("init", "--path", str(tmp_path))


def test_init_json(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    data = json.loads(run("init", "-C", str(tmp_path), "--format", "json"))
    assert data["changed"] and data["updated"] == ["pyproject.toml"]
    assert "db/schema/00_common/README.md" in data["created"]
    again = json.loads(run("init", "-C", str(tmp_path), "-f", "json"))
    assert again == {**again, "changed": False, "created": [], "updated": []}


@pytest.mark.integration
def test_server_start_status_url_stop(project: Path) -> None:
    _require_binaries()
    stopped = json.loads(run("server", "status", "-C", str(project), "-f", "json", code=1))
    assert stopped["running"] is False and stopped["initialized"] is False
    assert "stopped" in run("server", "status", "-C", str(project), code=1)

    started = json.loads(run("server", "start", "-C", str(project), "-f", "json"))
    assert started["started"] and started["initialized_now"] and started["database_created"]
    assert "already running" in run("server", "start", "-C", str(project))

    status = json.loads(run("server", "status", "-C", str(project), "--format", "json"))
    assert status["running"] and status["pid"] == started["pid"]
    table = run("server", "status", "-C", str(project))
    assert "running" in table and str(started["pid"]) in table

    url = run("server", "url", "-C", str(project)).strip()
    assert url == started["url"]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("plimsoll",)
    assert json.loads(run("server", "url", "-C", str(project), "-f", "json")) == {
        "url": url,
        "running": True,
    }

    assert "stopped" in run("server", "stop", "-C", str(project))
    assert json.loads(run("server", "stop", "-C", str(project), "-f", "json")) == {
        "stopped": False,
        "was_running": False,
    }
    run("server", "status", "-C", str(project), code=1)


def test_url_from_a_subprocess(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from plimsoll.cli.db import app; app()",
            "server",
            "url",
            "--path",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == EmbeddedServer(tmp_path).url()


@pytest.mark.integration
def test_a_command_starting_the_embedded_server_says_so_once(project: Path) -> None:
    _require_binaries()
    run("init", "-C", str(project))

    def status() -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "plimsoll", "db", "migrate", "status", "-f", "json"],
            cwd=project,
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": "/usr/bin:/bin", "CI": "true", "HOME": str(project)},
        )
        assert done.returncode == 0, done.stderr
        return done

    first, second = status(), status()
    said = "started the embedded PostgreSQL under .plimsoll/pg; `plimsoll db server stop` stops it"
    assert first.stderr.strip() == said
    assert second.stderr == ""  # it was running already
    assert json.loads(first.stdout)["pending"] == []
