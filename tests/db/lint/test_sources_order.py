"""The order of a folder's files: version prefixes compared as numbers, part by part."""

from __future__ import annotations

from pathlib import Path

from plimsoll.db.lint.sources import collect, order_key


def _sorted(names: list[str]) -> list[str]:
    return sorted(names, key=order_key)


def test_flyway_versions_compare_part_by_part() -> None:
    assert _sorted(["V10__c.sql", "V2__b.sql", "V1__a.sql"]) == [
        "V1__a.sql",
        "V2__b.sql",
        "V10__c.sql",
    ]
    assert _sorted(["V1.2.10__b.sql", "V1.2.9__a.sql", "V1_2_11__c.sql"]) == [
        "V1.2.9__a.sql",
        "V1.2.10__b.sql",
        "V1_2_11__c.sql",
    ]


def test_plain_prefixes_then_unversioned_then_repeatables() -> None:
    assert _sorted(["R__views.sql", "notes.sql", "10_b.sql", "2_a.sql", "V3__c.sql"]) == [
        "2_a.sql",
        "V3__c.sql",
        "10_b.sql",
        "notes.sql",
        "R__views.sql",
    ]


def test_folders_are_ordered_by_their_prefix_too() -> None:
    assert _sorted(["10_views/a.sql", "2_tables/b.sql", "2_tables/a.sql"]) == [
        "2_tables/a.sql",
        "2_tables/b.sql",
        "10_views/a.sql",
    ]


def test_collect_says_when_the_order_is_not_alphabetical(tmp_path: Path) -> None:
    folder = tmp_path / "sql"
    folder.mkdir()
    for name in ("V10__b.sql", "V2__a.sql"):
        (folder / name).write_text("SELECT 1;\n")
    collected = collect([folder], tmp_path)
    assert [s.path for s in collected.sources] == ["sql/V2__a.sql", "sql/V10__b.sql"]
    assert collected.order == "version"
    assert collected.reordered == [
        "sql: by version prefix, not alphabetically (V2__a.sql before V10__b.sql)"
    ]
    assert collected.sources[0].absolute == str((folder / "V2__a.sql").resolve())
    zero_padded = tmp_path / "padded"
    zero_padded.mkdir()
    for name in ("0001_a.sql", "0002_b.sql"):
        (zero_padded / name).write_text("SELECT 1;\n")
    collected = collect([zero_padded], tmp_path)
    assert collected.order == "alphabetical" and collected.reordered == []


def test_migrations_carry_their_version_and_whether_they_are_the_projects(
    tmp_path: Path,
) -> None:
    own = tmp_path / "db" / "migrations"
    own.mkdir(parents=True)
    (own / "1.2_a.up.sql").write_text("SELECT 1;\n")
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "3_b.up.sql").write_text("SELECT 1;\n")
    sources = collect([own, other], tmp_path, migrations_dir=own).sources
    assert [(s.path, s.version, s.own, s.wrapped) for s in sources] == [
        ("db/migrations/1.2_a.up.sql", (1, 2), True, False),
        ("elsewhere/3_b.up.sql", (3,), False, False),
    ]


def test_schema_files_are_linted_in_the_order_build_applies_them(tmp_path: Path) -> None:
    from plimsoll.db.builder import build_schema

    schema = tmp_path / "db" / "schema"
    (schema / "2_views").mkdir(parents=True)
    loose = tmp_path / "scripts"
    loose.mkdir()
    for folder in (schema, loose):
        for name in ("1_a.sql", "2_b.sql", "10_v.sql"):
            (folder / name).write_text("SELECT 1;\n")
    (schema / "2_views" / "v.sql").write_text("SELECT 1;\n")
    built = [s.path for s in build_schema(schema, "db/schema").sources]
    assert built == ["10_v.sql", "1_a.sql", "2_b.sql", "2_views/v.sql"]

    # Given as the schema folder itself, or as folders holding it and a loose folder: the
    # loose folder's files keep the version order, and only that order is noted.
    loose_note = "scripts: by version prefix, not alphabetically (1_a.sql before 10_v.sql)"
    root_note = ".: by version prefix, not alphabetically (scripts/1_a.sql before scripts/10_v.sql)"
    cases = [([schema], []), ([tmp_path / "db", loose], [loose_note]), ([tmp_path], [root_note])]
    for paths, notes in cases:
        collected = collect(paths, tmp_path, schema_dir=schema)
        linted = [s.path for s in collected.sources]
        assert linted[:4] == [f"db/schema/{path}" for path in built], paths
        assert not any(s.migration for s in collected.sources[:4])
        assert linted[4:] == (
            ["scripts/1_a.sql", "scripts/2_b.sql", "scripts/10_v.sql"] if notes else []
        )
        assert collected.reordered == notes
