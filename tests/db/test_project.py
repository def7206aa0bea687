"""``init_project``: the scaffold, the config section it appends, and idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.config import DbConfig, load
from plimsoll.core.errors import ConfigError
from plimsoll.db.connection import resolve
from plimsoll.db.project import config_file_for, init_project

PYPROJECT = """\
[project]
name = "demo"   # keep this comment and spacing
version = "0.1.0"

[tool.plimsoll.code]
paths = ["src"]"""  # no trailing newline on purpose


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_empty_folder_gets_scaffold_and_plimsoll_toml(tmp_path: Path) -> None:
    result = init_project(tmp_path, DbConfig())
    assert result.changed and not result.updated
    rel = {str(p.relative_to(tmp_path)) for p in result.created}
    for folder in ("db/schema/00_common", "db/schema/10_tables", "db/schema/20_views"):
        assert folder in rel and f"{folder}/README.md" in rel
    assert {"db/migrations/README.md", "db/seeds/README.md", "plimsoll.toml"} <= rel
    readme = (tmp_path / "db/schema/10_tables/README.md").read_text()
    assert "00_common" in readme and "name order" in readme
    assert result.config_file == tmp_path / "plimsoll.toml"

    loaded = load(start=tmp_path, env={})
    assert loaded.source == tmp_path / "plimsoll.toml"
    db = loaded.config.db
    assert db.migrations_dir == "db/migrations" and db.tracking_table == "plimsoll_migrations"
    assert resolve(loaded).embedded  # DATABASE_URL unset: the embedded server
    with_url = load(start=tmp_path, env={"DATABASE_URL": "postgresql://u:p@db/app"})
    assert resolve(with_url).url.get_secret_value() == "postgresql://u:p@db/app"


def test_second_run_changes_nothing(tmp_path: Path) -> None:
    init_project(tmp_path)
    before = _snapshot(tmp_path)
    again = init_project(tmp_path)
    assert not again.changed and again.paths == []
    assert again.to_dict()["changed"] is False
    assert _snapshot(tmp_path) == before


def test_pyproject_gets_an_appended_section_and_keeps_its_text(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT)
    result = init_project(tmp_path, DbConfig(lock_timeout="3s"))
    assert result.updated == (pyproject,)
    assert not (tmp_path / "plimsoll.toml").exists()
    text = pyproject.read_text()
    assert text.startswith(PYPROJECT + "\n")
    assert "[tool.plimsoll.db]\n" in text
    assert '[tool.plimsoll.db.environments.development]\nurl = "${DATABASE_URL:-}"' in text

    loaded = load(start=tmp_path, env={})
    assert loaded.source == pyproject
    assert loaded.config.code.paths == ["src"]
    assert loaded.config.db.lock_timeout == "3s"
    assert resolve(loaded).embedded

    before = pyproject.read_bytes()
    assert not init_project(tmp_path).changed
    assert pyproject.read_bytes() == before


def test_existing_db_section_is_left_alone(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    original = (
        '[project]\nname = "demo"\n\n[tool.plimsoll.db.environments.prod]\n'
        'url = "postgresql://db/prod"\n'
    )
    pyproject.write_text(original)
    result = init_project(tmp_path)
    assert pyproject.read_text() == original
    assert result.updated == ()
    assert any(p.name == "migrations" for p in result.created)


def test_existing_folders_are_the_users(tmp_path: Path) -> None:
    schema = tmp_path / "db" / "schema"
    schema.mkdir(parents=True)
    (schema / "all.sql").write_text("CREATE TABLE t (id int);\n")
    result = init_project(tmp_path)
    assert list(schema.iterdir()) == [schema / "all.sql"]
    assert all(schema not in p.parents for p in result.created)


def test_plimsoll_yaml_gets_a_yaml_section(tmp_path: Path) -> None:
    config = tmp_path / "plimsoll.yaml"
    config.write_text("code:\n  paths: [src]\n")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    assert config_file_for(tmp_path) == config
    result = init_project(tmp_path)
    assert result.updated == (config,)
    assert (tmp_path / "pyproject.toml").read_text() == '[project]\nname = "demo"\n'
    loaded = load(start=tmp_path, env={})
    assert loaded.config.code.paths == ["src"]
    assert resolve(loaded).embedded
    assert not init_project(tmp_path).changed


def test_a_file_that_cannot_take_the_section_is_refused_untouched(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    original = '[tool]\nplimsoll = { code = { paths = ["src"] } }\n'
    pyproject.write_text(original)
    with pytest.raises(ConfigError, match="add it by hand"):
        init_project(tmp_path)
    assert pyproject.read_text() == original


def test_broken_config_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text("[db\n")
    with pytest.raises(ConfigError, match="cannot be parsed"):
        init_project(tmp_path)
