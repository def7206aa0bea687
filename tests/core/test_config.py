"""Configuration: the three file forms, environment interpolation, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core import config
from plimsoll.core.errors import ConfigError, ExitCode

TOML = """
[code]
paths = ["src"]
branch = "${BRANCH:-metrics}"

[[code.thresholds]]
metric = "pylint.score"
op = ">="
value = 8
"""

YAML = """
code:
  paths: [src]
  branch: ${BRANCH:-metrics}
  thresholds:
    - metric: pylint.score
      op: ">="
      value: 8
"""


def _same(loaded: config.LoadedConfig) -> None:
    code = loaded.config.code
    assert code.paths == ["src"]
    assert code.branch == "metrics"
    assert code.thresholds[0].metric == "pylint.score"
    assert code.thresholds[0].value == 8


def test_pyproject_plimsoll_toml_and_yaml_give_the_same_config(tmp_path: Path) -> None:
    one, two, three = (tmp_path / n for n in ("one", "two", "three"))
    for folder in (one, two, three):
        folder.mkdir()
    body = TOML.replace("[code]", "[tool.plimsoll.code]").replace(
        "[[code.thresholds]]", "[[tool.plimsoll.code.thresholds]]"
    )
    (one / "pyproject.toml").write_text(body)
    (two / "plimsoll.toml").write_text(TOML)
    (three / "plimsoll.yaml").write_text(YAML)
    for folder in (one, two, three):
        loaded = config.load(start=folder, env={})
        _same(loaded)
        assert loaded.root == folder


def test_no_file_gives_defaults_and_pyproject_without_table_is_skipped(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()  # the search stops at the repository's top
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    loaded = config.load(start=tmp_path, env={})
    assert loaded.source is None
    assert loaded.config.code.branch == "code-metrics"


def test_config_is_found_from_a_subfolder(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text(TOML)
    sub = tmp_path / "src" / "pkg"
    sub.mkdir(parents=True)
    assert config.load(start=sub, env={}).source == tmp_path / "plimsoll.toml"


def test_environment_variables(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text(TOML)
    assert config.load(start=tmp_path, env={"BRANCH": "q"}).config.code.branch == "q"
    (tmp_path / "plimsoll.toml").write_text('[code]\nbranch = "${NOPE}"\n')
    with pytest.raises(ConfigError) as err:
        config.load(start=tmp_path, env={})
    assert "plimsoll.toml: code.branch: environment variable NOPE is not set" in str(err.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[code]\ncolectors = []\n", "code.colectors: unknown key"),
        ("[code]\njobs = 'many'\n", "code.jobs: Input should be a valid integer"),
        (
            '[[code.thresholds]]\nmetric = "a"\nop = "=>"\nvalue = 1\n',
            "code.thresholds[0].op: Input should be",
        ),
        ('[[code.thresholds]]\nmetric = "a"\n', "code.thresholds[0]: a rule needs metric"),
        ("[code\n", "invalid TOML"),
    ],
)
def test_errors_name_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "plimsoll.toml").write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(start=tmp_path, env={})
    assert expected in str(err.value)
    assert str(tmp_path / "plimsoll.toml") in str(err.value)
    assert err.value.exit_code is ExitCode.USAGE


def test_yaml_error_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.yaml").write_text("code:\n  paths: [src\n  branch: x\n")
    with pytest.raises(ConfigError, match=r"plimsoll.yaml: line \d+ invalid YAML"):
        config.load(start=tmp_path, env={})


def test_a_password_is_never_shown(tmp_path: Path) -> None:
    (tmp_path / "plimsoll.toml").write_text(
        '[notify.channels.mail]\nkind = "smtp"\nsender = "a@b"\nto = ["c@d"]\n'
        'password = "hunter2-secret"\nport = "not-a-port-hunter2-secret"\n'
    )
    with pytest.raises(ConfigError) as err:
        config.load(start=tmp_path, env={})
    assert "notify.channels.mail" in str(err.value)
    assert "hunter2" not in str(err.value)
    (tmp_path / "plimsoll.toml").write_text(
        '[notify.channels.mail]\nkind = "smtp"\nsender = "a@b"\nto = ["c@d"]\n'
        'password = "hunter2-secret"\n'
    )
    loaded = config.load(start=tmp_path, env={})
    assert "hunter2" not in repr(loaded.config)


def test_explicit_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        config.load(tmp_path / "nope.toml")
