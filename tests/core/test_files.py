"""core.files.write_whole: the new text whole, or the old file untouched."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core.errors import UsageError
from plimsoll.core.files import write_whole


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only: skipped elsewhere)."""
    folder = tmp_path / "full"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_full_disk_leaves_the_previous_file_and_no_temporary(small_disk: Path) -> None:
    target = small_disk / "out.sql"
    write_whole(target, "previous\n")
    with pytest.raises(UsageError, match=r"out\.sql: cannot write: No space left on device"):
        write_whole(target, "x" * 200_000)
    assert target.read_text(encoding="utf-8") == "previous\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["out.sql"]


def test_text_is_written_as_given(tmp_path: Path) -> None:
    target = tmp_path / "a.sql"
    write_whole(target, "line one\r\nline two\n")
    assert target.read_bytes() == b"line one\r\nline two\n"
    with pytest.raises(UsageError, match="cannot write"):
        write_whole(tmp_path / "missing" / "a.sql", "x")
