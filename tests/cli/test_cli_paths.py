"""``--path``/``-C`` naming a folder that does not exist: exit 2, and nothing made there."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.test_code_cli import plimsoll


@pytest.mark.parametrize(
    "command",
    [
        ("runtime", "alerts", "list"),
        ("runtime", "slo"),
        ("runtime", "health"),
        ("code", "history"),
        ("db", "migrate", "status"),
    ],
)
def test_a_missing_folder_is_a_usage_error_and_nothing_is_created(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    missing = tmp_path / "typo" / "service"
    done = plimsoll(tmp_path, *command, "-C", str(missing), check=2)
    assert f"--path {missing}: no such folder" in done.stderr
    assert not (tmp_path / "typo").exists()


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "pyproject.toml"
    file.write_text("")
    done = plimsoll(tmp_path, "runtime", "alerts", "list", "-C", str(file), check=2)
    assert "is not a folder" in done.stderr
