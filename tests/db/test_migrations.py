"""Migration discovery and planning: pure logic over files in a folder and applied rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from plimsoll.core.errors import ExitCode, InputError, UsageError
from plimsoll.db import migrations as m


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def test_discovery_orders_numerically_and_pairs_up_and_down(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "migrations",
        {
            "10_tenth.up.sql": "select 10;",
            "9_ninth.up.sql": "select 9;",
            "9_ninth.down.sql": "select -9;",
            "0011_py.py": "def up(conn):\n    pass\n\ndef down(conn):\n    pass\n",
            "12_py_no_down.py": "def up(conn):\n    pass\n",
            "README.md": "notes",
            "__init__.py": "",
        },
    )
    found = m.discover(folder)
    assert [x.label for x in found] == ["9_ninth", "10_tenth", "0011_py", "12_py_no_down"]
    assert [x.has_down for x in found] == [True, False, True, False]
    assert found[0].down == folder / "9_ninth.down.sql"
    assert found[0].checksum == m.checksum(b"select 9;")
    assert found[2].kind is m.Kind.PYTHON


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"1_a.up.sql": "", "01_b.up.sql": ""}, "duplicate migration version"),
        ({"1_a.up.sql": "", "1_a.py": ""}, "both SQL and Python"),
        ({"1_a.down.sql": ""}, "a down migration without its .up.sql"),
        ({"create_users.sql": ""}, "not a migration name"),
        ({"1_a.sql": ""}, "not a migration name"),
    ],
)
def test_bad_folders_are_input_errors(tmp_path: Path, files: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        m.discover(_write(tmp_path / "mig", files))
    assert err.value.exit_code is ExitCode.USAGE


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="run `plimsoll db init`"):
        m.discover(tmp_path / "nope")


def _mig(version: str, down: bool = True, text: str = "x") -> m.Migration:
    path = Path(f"/m/{version}_n.up.sql")
    return m.Migration(version, "n", m.Kind.SQL, path, None, m.checksum(text.encode()), down)


def _applied(*versions: str) -> list[m.Applied]:
    return [m.Applied(v, "n", m.checksum(b"x")) for v in versions]


def test_plans_up() -> None:
    all_ = [_mig("1"), _mig("2"), _mig("3"), _mig("4")]
    assert [x.version for x in m.plan_up(all_, _applied("1", "2"))] == ["3", "4"]
    assert [x.version for x in m.plan_up(all_, _applied("1"), target="3")] == ["2", "3"]
    with pytest.raises(UsageError, match="no migration has that version"):
        m.plan_up(all_, [], target="9")


def test_plans_down() -> None:
    all_ = [_mig("1"), _mig("2", down=False), _mig("3"), _mig("4")]
    applied = _applied("1", "2", "3", "4")
    assert [x.version for x in m.plan_down(all_, applied)] == ["4"]
    assert [x.version for x in m.plan_down(all_, applied, steps=2)] == ["4", "3"]
    assert m.plan_down(all_, applied, steps=0) == []
    with pytest.raises(UsageError, match="cannot revert 2_n: it has no down migration"):
        m.plan_down(all_, applied, target="1")
    assert [x.version for x in m.plan_down(all_, _applied("1", "3", "4"), target="1")] == ["4", "3"]
    with pytest.raises(UsageError, match="not applied"):
        m.plan_down(all_, _applied("1"), target="3")
    with pytest.raises(UsageError, match="either --steps or --target"):
        m.plan_down(all_, applied, steps=1, target="1")
    with pytest.raises(UsageError, match="its file is gone"):
        m.plan_down([_mig("1")], _applied("1", "5"), steps=1)


def test_drift_finds_changed_and_missing_files() -> None:
    current = [_mig("1"), _mig("2", text="changed")]
    found = m.drift(current, _applied("1", "2", "3"))
    assert [(d.version, d.problem) for d in found] == [
        ("2", "changed since it was applied (checksum)"),
        ("3", "applied, but its file is gone"),
    ]


def test_next_version_and_new_files(tmp_path: Path) -> None:
    assert m.next_version([]) == "0001"
    assert m.next_version([_mig("0006"), _mig("0012")]) == "0013"
    assert m.next_version([_mig("20240101120000")], now="20260101000000") == "20260101000000"
    assert m.next_version([_mig("20990101120000")], now="20260101000000") == "20990101120001"
    up, down = m.new_migration_files(tmp_path / "mig", "add_users", "0001")
    assert [x.name for x in m.discover(tmp_path / "mig")] == ["add_users"]
    assert down.read_text().startswith("-- 0001_add_users: down")
    with pytest.raises(UsageError, match="already exists"):
        m.new_migration_files(tmp_path / "mig", "add_users", "0001")
    # Words apart are joined by "_", as alembic makes a slug of its message.
    up, down = m.new_migration_files(tmp_path / "mig", "add users table", "0002")
    assert (up.name, down.name) == ("0002_add_users_table.up.sql", "0002_add_users_table.down.sql")
    assert [x.label for x in m.discover(tmp_path / "mig")] == [
        "0001_add_users",
        "0002_add_users_table",
    ]


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("add users table", "add_users_table"),
        ("  add   users\ttable ", "add_users_table"),
        ("Add users' e-mail (v2)", "Add_users_e-mail_v2"),
        ("add/users.table", "add_users_table"),
        ("ajouter la clé étrangère", "ajouter_la_cle_etrangere"),
        ("add-users_2", "add-users_2"),
    ],
)
def test_migration_names_are_made_of_words(given: str, name: str) -> None:
    assert m.migration_name(given) == name


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("-foo", "'-foo': must start with a letter or a digit (then letters, digits, '_' and '-')"),
        ("_foo", "'_foo': must start with a letter or a digit"),
        ("日本語", "'日本語': needs letters or digits (A-Z, a-z, 0-9)"),
        ("  ", "needs letters or digits"),
    ],
)
def test_a_name_that_cannot_be_a_file_name_says_the_rule(given: str, message: str) -> None:
    with pytest.raises(UsageError) as err:
        m.migration_name(given)
    assert message in str(err.value)
    assert "use letters, digits" not in str(err.value)


def test_checksum_cache_skips_unchanged_files_and_sees_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from plimsoll.db.checksums import ChecksumCache

    folder = _write(tmp_path / "mig", {"1_a.up.sql": "select 1;", "2_b.up.sql": "select 2;"})
    cache_file = tmp_path / ".plimsoll" / "cache" / "sums.json"
    first = m.discover(folder, ChecksumCache(cache_file))
    assert cache_file.is_file()
    reads: list[str] = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: reads.append(self.name) or real(self))
    again = m.discover(folder, ChecksumCache(cache_file))
    assert [x.checksum for x in again] == [x.checksum for x in first]
    assert reads == []  # nothing re-read: sizes and mtimes unchanged
    # Same size, new content, new mtime: hashed again and the change is seen.
    (folder / "1_a.up.sql").write_text("select 9;")
    os.utime(folder / "1_a.up.sql", ns=(1, 1_000_000_000))
    changed = m.discover(folder, ChecksumCache(cache_file))
    assert reads == ["1_a.up.sql"]
    assert changed[0].checksum == m.checksum(b"select 9;") != first[0].checksum
    # A damaged cache file is only a miss.
    cache_file.write_text("{not json")
    assert [x.checksum for x in m.discover(folder, ChecksumCache(cache_file))] == [
        x.checksum for x in changed
    ]


@pytest.mark.parametrize("how", ["in place", "replaced"])
def test_checksum_cache_sees_an_edit_that_kept_size_and_mtime(tmp_path: Path, how: str) -> None:
    import os
    import shutil

    from plimsoll.db.checksums import ChecksumCache

    folder = _write(tmp_path / "mig", {"1_a.up.sql": "select 1;"})
    path = folder / "1_a.up.sql"
    cache_file = tmp_path / "sums.json"
    first = m.discover(folder, ChecksumCache(cache_file))
    before = path.stat()
    # What `cp -p`, `touch -r`, `rsync -t` or a CI cache restore leave: new content of the
    # same size, with the old modification time set back.
    if how == "in place":
        path.write_text("select 2;")
    else:
        other = tmp_path / "other.sql"
        other.write_text("select 2;")
        shutil.copy2(other, path.with_suffix(".tmp"))
        os.replace(path.with_suffix(".tmp"), path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)

    (found,) = m.discover(folder, ChecksumCache(cache_file))
    assert found.checksum == m.checksum(b"select 2;") != first[0].checksum


def test_a_duplicate_version_names_the_up_files(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "mig",
        {
            "0002_alice_orders.up.sql": "",
            "0002_alice_orders.down.sql": "",
            "0002_bob_items.up.sql": "",
            "0002_bob_items.down.sql": "",
        },
    )
    with pytest.raises(InputError) as err:
        m.discover(folder)
    assert str(err.value) == (
        "duplicate migration version 0002: 0002_alice_orders.up.sql and 0002_bob_items.up.sql"
    )
    # A Python module is its own up file; three claimants are all named.
    _write(folder, {"02_carol.py": "def up(conn):\n    pass\n"})
    with pytest.raises(InputError, match=r"0002_alice_orders.up.sql, 0002_bob_items.up.sql and"):
        m.discover(folder)


def test_mistyped_migration_names_are_warnings_and_backups_are_ignored(tmp_path: Path) -> None:
    folder = _write(
        tmp_path / "mig",
        {
            "20261125000001_ok.up.sql": "select 1;",
            "20261125000002_typo.up.sq": "",
            "20261125000003_x.UP.SQL": "",
            "20261125000004_y.up.sql.bak": "",
            "20261125000005_ok.up.sql~": "",  # an editor's backup: silent
            ".20261125000006_swap.up.sql": "",  # a dot-file: silent
            "README.md": "",
        },
    )
    (folder / "20261125000007_data").mkdir()
    scanned = m.scan(folder)
    assert [x.label for x in scanned.migrations] == ["20261125000001_ok"]
    assert [x.path.name for x in scanned.misnamed] == [
        "20261125000002_typo.up.sq",
        "20261125000003_x.UP.SQL",
        "20261125000004_y.up.sql.bak",
        "20261125000007_data",
    ]
    assert all(
        "not a migration file name; expected <version>_<name>.up.sql" in x.message
        for x in scanned.misnamed
    )
    assert "lower case" in scanned.misnamed[1].message
    assert m.discover(folder) == list(scanned.migrations)
    # What does not start like a migration and ends in .sql stays an error.
    _write(folder, {"notes.sql": ""})
    with pytest.raises(InputError, match="notes.sql: not a migration name"):
        m.scan(folder)


def test_a_renamed_applied_migration_is_drift() -> None:
    current = [
        m.Migration("1", "new_name", m.Kind.SQL, Path("/m/1_new_name.up.sql"), None, "x", True),
        m.Migration("2", "other", m.Kind.SQL, Path("/m/2_other.up.sql"), None, "y", True),
    ]
    found = m.drift(current, [m.Applied("1", "old_name", "x"), m.Applied("2", "was", "z")])
    assert [(d.version, d.name, d.kind, d.problem) for d in found] == [
        ("1", "new_name", m.DriftKind.RENAMED, "renamed from 1_old_name"),
        (
            "2",
            "other",
            m.DriftKind.CHANGED,
            "changed since it was applied (checksum), and renamed from 2_was",
        ),
    ]
    missing = m.drift([], [m.Applied("3", "gone", "x")])
    assert [d.kind for d in missing] == [m.DriftKind.MISSING]


def test_an_older_pending_migration_is_out_of_order_and_refused() -> None:
    all_ = [_mig("1"), _mig("2"), _mig("3"), _mig("4")]
    applied = _applied("1", "3")
    assert [x.version for x in m.out_of_order(all_, applied)] == ["2"]
    with pytest.raises(m.OutOfOrderError) as err:
        m.plan_up(all_, applied)
    assert err.value.exit_code is ExitCode.FINDINGS
    assert str(err.value) == (
        "2_n is older than the newest applied migration 3_n: it would be applied out of"
        " order (use --out-of-order, or db.out_of_order = true, to apply it anyway)"
    )
    assert [x.version for x in m.plan_up(all_, applied, out_of_order=True)] == ["2", "4"]
    # A target below the out-of-order migration leaves it out of the plan: nothing refused.
    assert m.plan_up([_mig("1"), _mig("2"), _mig("5")], _applied("1", "5"), target="1") == []
    assert m.out_of_order(all_, []) == []


def test_down_follows_the_order_migrations_were_applied_in() -> None:
    all_ = [_mig("1"), _mig("2"), _mig("3")]
    applied = _applied("1", "3", "2")  # 2 applied last, out of order
    assert [x.version for x in m.plan_down(all_, applied)] == ["2"]
    assert [x.version for x in m.plan_down(all_, applied, steps=2)] == ["2", "3"]
    # --target: what was applied after the target, newest first.
    assert [x.version for x in m.plan_down(all_, applied, target="3")] == ["2"]
    assert [x.version for x in m.plan_down(all_, applied, target="1")] == ["2", "3"]
    assert [x.version for x in m.plan_down(all_, applied, target="0")] == ["2", "3", "1"]


# --- versions -------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["٣", "٢٠٣٠", "1.٢", "²", "１"])
def test_only_ascii_digits_make_a_version_a_user_types(version: str) -> None:
    with pytest.raises(UsageError, match=f"--target {version}: not a migration version"):
        m.plan_up([_mig("1")], [], target=version)


def test_a_superscript_is_no_version_even_in_a_tracking_row() -> None:
    with pytest.raises(ValueError, match="not a migration version"):
        m.version_key("²")


def test_a_file_versioned_with_other_digits_is_not_a_migration(tmp_path: Path) -> None:
    folder = _write(tmp_path / "mig", {"1_ok.up.sql": "select 1;"})
    _write(folder, {"٢٠٣٠_arabic.up.sql": "select 2;"})
    with pytest.raises(InputError, match="٢٠٣٠_arabic.up.sql: not a migration name"):
        m.scan(folder)
    (folder / "٢٠٣٠_arabic.up.sql").unlink()
    _write(folder, {"٢٠٣٠_arabic.txt": ""})  # neither .sql nor a version: ignored
    assert [x.label for x in m.discover(folder)] == ["1_ok"]


def test_one_and_one_point_zero_are_two_versions() -> None:
    # As plimsoll has always applied them: a database may hold both already.
    assert m.version_key("1") != m.version_key("1.0")
    assert m.version_key("01") == m.version_key("1") == (1,)
    assert m.version_key("1.0.1") == (1, 0, 1)
    assert m.version_key("1.10") > m.version_key("1.9") > m.version_key("1")


def test_a_tracking_row_with_other_digits_still_compares() -> None:
    # An earlier plimsoll applied `٦_arabic.up.sql` (Python's \d): its row must not crash
    # every command after the upgrade; it compares by its value. Typed versions stay ASCII.
    assert m.version_key("٦") == (6,)
    newest = m.newest_applied([_applied("0001")[0], _applied("٦")[0]])
    assert newest is not None and newest.version == "٦"
    with pytest.raises(UsageError, match="not a migration version"):
        m.target_key("٣")


def test_versions_equal_as_numbers_are_a_duplicate(tmp_path: Path) -> None:
    folder = _write(tmp_path / "mig", {"01_a.up.sql": "", "1_b.up.sql": ""})
    with pytest.raises(InputError) as err:
        m.discover(folder)
    assert str(err.value) == (
        "duplicate migration version: 01_a.up.sql and 1_b.up.sql have versions 01 and 1,"
        " which are one number; rename one of them"
    )
    assert err.value.exit_code is ExitCode.USAGE


def test_a_target_names_the_version_however_it_is_written() -> None:
    found = [_mig("0001"), _mig("1.0"), _mig("2")]
    assert [x.version for x in m.plan_up(found, [], target="1")] == ["0001"]
    assert [x.version for x in m.plan_up(found, [], target="2")] == ["0001", "1.0", "2"]
    assert [x.version for x in m.plan_baseline(found, [], "1.0")] == ["0001", "1.0"]


@pytest.mark.parametrize("version", ["-1", "abc", "1e3", "1.", ".1", "v1", ""])
def test_baseline_names_its_own_argument(version: str) -> None:
    with pytest.raises(UsageError) as err:
        m.plan_baseline([_mig("1")], [], version)
    assert str(err.value) == (
        f"baseline {version}: not a migration version (digits 0-9 and dots, such as 0003)"
    )
    with pytest.raises(UsageError, match=rf"^--target {version}: not a migration version"):
        m.plan_down([_mig("1")], _applied("1"), target=version)
    with pytest.raises(UsageError, match=rf"^--migration {version}: not a migration version"):
        m.target_key(version, "--migration")


# --- byte-order marks and line endings -------------------------------------------------------


def test_a_sql_migration_is_read_without_its_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "1_a.up.sql"
    path.write_bytes(m.BOM + b"CREATE TABLE a (id int);\r\nSELECT 1;\r\n")
    # The line endings stay as written (the statements run as they are); the checksum is the
    # file's bytes, mark included.
    assert m.read_sql_text(path) == "CREATE TABLE a (id int);\r\nSELECT 1;\r\n"
    (found,) = m.discover(tmp_path)
    assert found.checksum == m.checksum(path.read_bytes())
    path.write_bytes(m.BOM + b"SELECT '\xff';")
    with pytest.raises(InputError) as err:
        m.read_sql_text(path)
    assert str(err.value) == f"{path}: not UTF-8 (byte 0xff at offset 11)"


def test_a_python_migration_with_a_byte_order_mark_still_has_its_down(tmp_path: Path) -> None:
    (tmp_path / "1_a.py").write_bytes(
        m.BOM + b"def up(conn):\n    pass\n\n\ndef down(conn):\n    pass\n"
    )
    (found,) = m.discover(tmp_path)
    assert found.kind is m.Kind.PYTHON and found.has_down


APPLIED_TEXT = b"CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n"


@pytest.mark.parametrize(
    ("applied", "now"),
    [
        (APPLIED_TEXT.replace(b"\n", b"\r\n"), APPLIED_TEXT),  # CRLF re-saved as LF
        (APPLIED_TEXT, APPLIED_TEXT.replace(b"\n", b"\r\n")),  # LF re-saved as CRLF
        (APPLIED_TEXT, m.BOM + APPLIED_TEXT),  # a byte-order mark added
        (m.BOM + APPLIED_TEXT, APPLIED_TEXT),  # and removed
        (m.BOM + APPLIED_TEXT.replace(b"\n", b"\r\n"), APPLIED_TEXT),  # both at once
        (APPLIED_TEXT, APPLIED_TEXT.replace(b"\n", b"\r\n", 1)),  # one line made CRLF
    ],
    ids=["crlf-to-lf", "lf-to-crlf", "bom-added", "bom-removed", "both", "lf-to-mixed"],
)
def test_a_re_saved_file_is_not_drift(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, applied: bytes, now: bytes
) -> None:
    path = tmp_path / "1_a.up.sql"
    path.write_bytes(now)
    found = m.discover(tmp_path)
    assert found[0].checksum != m.checksum(applied)  # the stored checksum format is kept
    with caplog.at_level("INFO", logger="plimsoll"):
        assert m.drift(found, [m.Applied("1", "a", m.checksum(applied))]) == []
    assert "1_a: only its line endings (or byte-order mark) changed since it was applied" in (
        caplog.text
    )


def test_a_re_saved_file_with_another_change_is_drift(tmp_path: Path) -> None:
    path = tmp_path / "1_a.up.sql"
    path.write_bytes(APPLIED_TEXT.replace(b"(1)", b"(2)"))
    found = m.discover(tmp_path)
    stored = m.checksum(APPLIED_TEXT.replace(b"\n", b"\r\n"))
    (changed,) = m.drift(found, [m.Applied("1", "a", stored)])
    assert changed.kind is m.DriftKind.CHANGED
    # Renamed and re-saved: only the rename is said.
    (renamed,) = m.drift(
        [m.Migration("1", "b", m.Kind.SQL, path, None, m.checksum(path.read_bytes()), False)],
        [m.Applied("1", "a", m.checksum(path.read_bytes().replace(b"\n", b"\r\n")))],
    )
    assert (renamed.kind, renamed.problem) == (m.DriftKind.RENAMED, "renamed from 1_a")


# --- subfolders -----------------------------------------------------------------------------


def test_a_subfolder_holding_migrations_is_warned_about(tmp_path: Path) -> None:
    folder = _write(tmp_path / "mig", {"1_a.up.sql": "select 1;"})
    _write(folder / "archive", {"2_b.up.sql": "", "2_b.down.sql": "", "notes.md": ""})
    _write(folder / "archive" / "2024", {"3_c.py": ""})
    _write(folder / "docs", {"README.md": "", "example.sql": ""})  # no migration names: silent
    _write(folder / "__pycache__", {"4_d.py": ""})
    _write(folder / "archive" / ".git", {"5_e.up.sql": ""})
    scanned = m.scan(folder)
    assert [x.label for x in scanned.migrations] == ["1_a"]
    (warned,) = scanned.misnamed
    assert warned.path == folder / "archive"
    assert warned.message == (
        f"{folder / 'archive'}: a subfolder holding 3 files named like migrations"
        " (2024/3_c.py, 2_b.down.sql, 2_b.up.sql): they are never applied; migrations are"
        f" the files directly in {folder} (move them there to apply them)"
    )


def test_a_subfolder_of_many_migrations_names_a_few(tmp_path: Path) -> None:
    folder = _write(tmp_path / "mig", {})
    _write(folder / "old", {f"{n}_x.up.sql": "" for n in range(1, 6)})
    (warned,) = m.scan(folder).misnamed
    assert "5 files named like migrations (1_x.up.sql, 2_x.up.sql, 3_x.up.sql and 2 more)" in (
        warned.message
    )
