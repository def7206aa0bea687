"""Configuration errors in the user's own keys: all of them, suggestions, both files, bad bytes."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.config import find_config, load, parse
from plimsoll.core.errors import ConfigError


def _message(raw: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as err:
        parse(raw, "plimsoll.toml")
    return str(err.value)


def test_unknown_key_suggests_the_closest_known_one() -> None:
    assert _message({"code": {"retention": {"keep_dayz": 3}}}) == (
        "plimsoll.toml: code.retention.keep_dayz: unknown key (did you mean 'keep_days'?)"
    )


def test_unknown_key_far_from_any_has_no_suggestion() -> None:
    assert _message({"code": {"zzzzzz": 1}}) == "plimsoll.toml: code.zzzzzz: unknown key"


def test_channel_paths_leave_out_the_union_member_name() -> None:
    smtp = {"kind": "smtp", "sender": "a@b", "to": ["c@d"], "port": "many"}
    message = _message({"notify": {"channels": {"team": smtp}}})
    assert message.startswith("plimsoll.toml: notify.channels.team.port: ")
    assert ".smtp." not in message
    hook = {"kind": "webhook", "url": "http://127.0.0.1/", "timeout": 3}
    assert _message({"notify": {"channels": {"team": hook}}}) == (
        "plimsoll.toml: notify.channels.team.timeout: unknown key (did you mean 'timeout_seconds'?)"
    )


def test_every_error_is_listed_up_to_five_then_counted() -> None:
    two = _message({"cod": {}, "db": {"lint": {"pg_versio": 3}}})
    assert "cod: unknown key (did you mean 'code'?)" in two
    assert "db.lint.pg_versio: unknown key (did you mean 'pg_version'?)" in two
    many = _message({f"k{i}": 1 for i in range(8)})
    assert many.count("unknown key") == 5
    assert many.endswith("(and 3 more)")


def test_both_files_configuring_plimsoll_are_refused(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.plimsoll.code]\npaths = ["pkg"]\n', encoding="utf-8"
    )
    (tmp_path / "plimsoll.toml").write_text('[code]\npaths = ["pkg"]\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        find_config(tmp_path)
    assert "plimsoll.toml and" in str(err.value)
    assert "pyproject.toml [tool.plimsoll] configure plimsoll" in str(err.value)
    # A pyproject.toml without a plimsoll table is no conflict.
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n', encoding="utf-8")
    assert find_config(tmp_path) == tmp_path / "plimsoll.toml"


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bin.toml"
    bad.write_bytes(b"\xff\xfe[code]\n")
    with pytest.raises(ConfigError) as err:
        load(bad)
    assert str(err.value) == f"{bad}: not UTF-8 text (byte 0xff at offset 0)"


def test_a_folder_given_as_config_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path)
    assert str(err.value) == f"{tmp_path}: is a folder, not a configuration file"


def test_a_broken_pyproject_does_not_stop_a_plimsoll_toml_project(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text('[code]\npaths = ["pkg"]\n', encoding="utf-8")
    for text in ('[tool.poetry]\nname = "x"\nname = "y"\n', 'tool = "x"\n'):
        (tmp_path / "pyproject.toml").write_text(text, encoding="utf-8")
        assert find_config(tmp_path) == tmp_path / "plimsoll.toml"
    # Alone, a pyproject.toml whose tool is not a table is named, not an internal error.
    (tmp_path / "plimsoll.toml").unlink()
    with pytest.raises(ConfigError, match=r"pyproject.toml: \[tool\] must be a table"):
        find_config(tmp_path)
