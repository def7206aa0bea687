"""``create_all``: several new files, all of them or none (see also the full-disk and
read-only folder tests in tests/cli/test_db_migrate_files.py)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from plimsoll.core import files
from plimsoll.core.errors import UsageError


def _names(folder: Path) -> list[str]:
    """Every entry of ``folder``, temporary (dot) files included."""
    return sorted(os.listdir(folder))


def test_creates_every_file_with_its_text_and_the_umask_mode(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        files.create_all({tmp_path / "a.sql": "one\n", tmp_path / "b.sql": "two\n"})
    finally:
        os.umask(previous)
    assert _names(tmp_path) == ["a.sql", "b.sql"]  # no temporary file left
    assert (tmp_path / "a.sql").read_text() == "one\n"
    assert (tmp_path / "b.sql").read_text() == "two\n"
    # As open() would have made them, not mkstemp's 0600.
    assert stat.S_IMODE((tmp_path / "a.sql").stat().st_mode) == 0o640


def test_an_existing_file_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "b.sql").write_text("mine\n")
    with pytest.raises(UsageError, match=r"b\.sql: already exists"):
        files.create_all({tmp_path / "a.sql": "one\n", tmp_path / "b.sql": "two\n"})
    assert _names(tmp_path) == ["b.sql"]
    assert (tmp_path / "b.sql").read_text() == "mine\n"


def test_a_file_that_cannot_be_written_leaves_none_of_them(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "b.sql"
    with pytest.raises(UsageError) as raised:
        files.create_all({tmp_path / "a.sql": "one\n", missing: "two\n"})
    assert str(raised.value) == f"{missing}: cannot write: No such file or directory"
    assert _names(tmp_path) == []


def test_a_failure_naming_the_second_file_removes_the_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_link = os.link

    def link(source: Path, target: Path) -> None:
        if Path(target).name == "b.sql":
            raise OSError(errno.ENOSPC, "No space left on device")
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(UsageError, match=r"b\.sql: cannot write: No space left on device"):
        files.create_all({tmp_path / "a.sql": "one\n", tmp_path / "b.sql": "two\n"})
    assert _names(tmp_path) == []


def test_a_file_system_without_hard_links_gets_the_files_by_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def link(source: Path, target: Path) -> None:
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", link)
    files.create_all({tmp_path / "a.sql": "one\n", tmp_path / "b.sql": "two\n"})
    assert _names(tmp_path) == ["a.sql", "b.sql"]
    assert (tmp_path / "b.sql").read_text() == "two\n"


def test_a_name_taken_meanwhile_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer creates b.sql after the check and before the link.
    real_link = os.link

    def link(source: Path, target: Path) -> None:
        if Path(target).name == "b.sql":
            Path(target).write_text("theirs\n")
        real_link(source, target)

    monkeypatch.setattr(os, "link", link)
    with pytest.raises(UsageError, match=r"b\.sql: already exists"):
        files.create_all({tmp_path / "a.sql": "one\n", tmp_path / "b.sql": "two\n"})
    assert _names(tmp_path) == ["b.sql"]
    assert (tmp_path / "b.sql").read_text() == "theirs\n"
