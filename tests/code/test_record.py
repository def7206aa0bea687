"""The record document: serialization, the migration chain, validation and file names."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from plimsoll.code.record import (
    CURRENT_SCHEMA_VERSION,
    KNOWN_SCHEMA_VERSIONS,
    MIGRATIONS,
    Record,
    RecordError,
    migrate_document,
    parse_record_filename,
    parse_timestamp,
    record_filename,
    record_path,
    sanitize_version,
)
from plimsoll.core.errors import ExitCode, InputError

WHEN = datetime(2025, 11, 14, 22, 45, 0, 123456, tzinfo=UTC)


def make_record(**changes: Any) -> Record:
    fields: dict[str, Any] = {
        "timestamp": WHEN,
        "commit_sha": "700e012d85d1393de95d0634eec8efa224ff0bc9",
        "commit_message": "Add storage",
        "branch": "main",
        "package_version": "0.1.0",
        "python_version": "3.11.9",
        "plimsoll_version": "0.1.0",
        "workflow_status": {"last_run": "success"},
        "worktree_dirty": True,
        "detached_head": False,
        "metrics": {"stats": {"lines": 120, "functions": 7}, "coverage": {"line": 81.5}},
        "collection_duration_seconds": 2.5,
        "collector_durations": {"stats": 0.5, "coverage": 2.0},
        "collector_errors": {"mypy": "mypy is not installed"},
    }
    fields.update(changes)
    return Record(**fields)


def umpyre_doc() -> dict[str, Any]:
    """A record exactly as umpyre's MetricSchema.create_metric_data wrote it."""
    return {
        "schema_version": "1.0",
        "timestamp": "2025-11-14T22:45:00.123456Z",
        "commit_sha": "700e012d85d1393de95d0634eec8efa224ff0bc9",
        "commit_message": "Simplify storage",
        "python_version": "3.10",
        "workflow_status": {},
        "metrics": {
            "umpyre_stats": {"num_functions": 12},
            "wily": {"error": "wily is not installed"},
        },
        "collection_duration_seconds": 1.25,
    }


# -- serialization --------------------------------------------------------------------------


def test_round_trip_through_json_keeps_every_field() -> None:
    record = make_record()
    assert Record.from_json(record.to_json()) == record
    assert Record.from_dict(record.to_dict()) == record


def test_json_is_stable_sorted_and_strict() -> None:
    record = make_record()
    text = record.to_json()
    assert text == make_record().to_json()
    assert text.endswith("\n")
    doc = json.loads(text)
    assert list(doc) == sorted(doc)
    assert doc["schema_version"] == CURRENT_SCHEMA_VERSION
    assert doc["timestamp"] == "2025-11-14T22:45:00.123456Z"
    assert record.to_bytes() == text.encode("utf-8")


def test_to_dict_has_exactly_the_documented_fields() -> None:
    assert set(make_record().to_dict()) == {
        "schema_version",
        "timestamp",
        "commit_sha",
        "commit_message",
        "branch",
        "project_path",
        "package_version",
        "python_version",
        "plimsoll_version",
        "workflow_status",
        "worktree_dirty",
        "detached_head",
        "metrics",
        "collection_duration_seconds",
        "collector_durations",
        "collector_errors",
    }


def test_nan_metric_cannot_be_written() -> None:
    with pytest.raises(RecordError, match="JSON"):
        make_record(metrics={"x": {"y": float("nan")}}).to_json()


def test_unknown_top_level_keys_survive_a_round_trip() -> None:
    doc = make_record().to_dict()
    doc["ci_run_url"] = "https://ci.example/1"
    record = Record.from_dict(doc)
    assert record.extra == {"ci_run_url": "https://ci.example/1"}
    assert record.to_dict()["ci_run_url"] == "https://ci.example/1"


def test_timestamp_must_be_aware_and_is_normalized_to_utc() -> None:
    with pytest.raises(ValueError):
        make_record(timestamp=datetime(2025, 1, 1))
    plus_two = datetime(2025, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    assert make_record(timestamp=plus_two).timestamp == datetime(2025, 1, 1, 10, 0, tzinfo=UTC)
    assert make_record(timestamp=plus_two).timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-02T03:04:05Z", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2025-01-02T03:04:05+00:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2025-01-02T05:04:05+02:00", datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2025-01-02T03:04:05.5", datetime(2025, 1, 2, 3, 4, 5, 500000, tzinfo=UTC)),
    ],
)
def test_parse_timestamp_accepts_z_offsets_and_naive_utc(text: str, expected: datetime) -> None:
    value = parse_timestamp(text)
    assert value == expected
    assert value.utcoffset() == timedelta(0)


# -- migrations -----------------------------------------------------------------------------


def test_chain_covers_every_known_version() -> None:
    assert KNOWN_SCHEMA_VERSIONS[-1] == CURRENT_SCHEMA_VERSION
    for older, newer in zip(KNOWN_SCHEMA_VERSIONS, KNOWN_SCHEMA_VERSIONS[1:], strict=False):
        assert MIGRATIONS[older][0] == newer


def test_umpyre_record_migrates_on_load() -> None:
    record = Record.from_dict(umpyre_doc())
    assert record.timestamp == WHEN
    assert record.commit_message == "Simplify storage"
    assert record.python_version == "3.10"
    assert record.package_version is None
    assert record.collector_durations == {}
    assert record.branch is None
    assert record.worktree_dirty is False
    assert record.detached_head is False
    assert record.plimsoll_version is None
    # umpyre's failed collector moves out of the metrics into collector_errors.
    assert record.metrics == {"umpyre_stats": {"num_functions": 12}}
    assert record.collector_errors == {"wily": "wily is not installed"}
    assert record.to_dict()["schema_version"] == CURRENT_SCHEMA_VERSION


def test_umpyre_optional_fields_may_be_missing() -> None:
    doc = {
        "schema_version": "1.0",
        "timestamp": "2025-11-14T22:45:00Z",
        "commit_sha": "abc1234",
        "metrics": {},
    }
    record = Record.from_dict(doc)
    assert record.commit_message is None
    assert record.workflow_status == {}
    assert record.collection_duration_seconds is None


def test_each_step_adds_its_fields() -> None:
    step_1_1 = MIGRATIONS["1.0"][1](umpyre_doc())
    assert step_1_1["schema_version"] == "1.1"
    assert step_1_1["package_version"] is None
    assert step_1_1["collector_durations"] == {}
    assert "branch" not in step_1_1
    step_1_2 = MIGRATIONS["1.1"][1](step_1_1)
    assert step_1_2["schema_version"] == "1.2"
    assert {"branch", "worktree_dirty", "detached_head", "collector_errors"} <= set(step_1_2)
    assert "plimsoll_version" in step_1_2
    assert "project_path" not in step_1_2
    step_1_3 = MIGRATIONS["1.2"][1](step_1_2)
    assert step_1_3["schema_version"] == "1.3"
    # Which project of a monorepo wrote an older record is unknown, never guessed.
    assert step_1_3["project_path"] is None


def test_a_record_carries_its_project_path() -> None:
    record = make_record(project_path="services/api")
    again = Record.from_json(record.to_json())
    assert again.project_path == "services/api"
    assert again.to_dict()["project_path"] == "services/api"


def test_a_1_1_record_keeps_its_package_version() -> None:
    doc = {**umpyre_doc(), "schema_version": "1.1", "package_version": "2.0.1"}
    doc["collector_durations"] = {"umpyre_stats": 0.25}
    record = Record.from_dict(doc)
    assert record.package_version == "2.0.1"
    assert record.collector_durations == {"umpyre_stats": 0.25}


def test_migration_never_mutates_its_input() -> None:
    doc = umpyre_doc()
    before = json.dumps(doc, sort_keys=True)
    migrated = migrate_document(doc)
    assert json.dumps(doc, sort_keys=True) == before
    assert migrated["schema_version"] == CURRENT_SCHEMA_VERSION


# -- validation -----------------------------------------------------------------------------


def current_doc(**changes: Any) -> dict[str, Any]:
    doc = make_record().to_dict()
    doc.update(changes)
    return doc


@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        ({**umpyre_doc(), "schema_version": "9.9"}, "unknown schema_version '9.9'"),
        ({k: v for k, v in umpyre_doc().items() if k != "schema_version"}, "schema_version"),
        (
            {**umpyre_doc(), "schema_version": 1.0},
            "'schema_version' must be a string such as '1.2', not a number (1.0)",
        ),
        ({k: v for k, v in current_doc().items() if k != "branch"}, "missing field 'branch'"),
        ({k: v for k, v in umpyre_doc().items() if k != "commit_sha"}, "'commit_sha'"),
        (current_doc(metrics=[1, 2]), "'metrics' must be an object, not list"),
        (current_doc(worktree_dirty="yes"), "'worktree_dirty' must be true or false"),
        (current_doc(commit_sha=""), "'commit_sha' must not be empty"),
        (current_doc(commit_message=3), "'commit_message' must be a string or null"),
        (current_doc(timestamp="yesterday"), "not an ISO-8601 time"),
        (current_doc(collection_duration_seconds=-1), "collection_duration_seconds"),
        (current_doc(collector_durations={"stats": "fast"}), "collector_durations.stats"),
        (current_doc(collector_errors={"mypy": 3}), "collector_errors.mypy"),
    ],
)
def test_bad_documents_raise_record_error_naming_the_problem(
    doc: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(RecordError) as info:
        Record.from_dict(doc)
    assert fragment in str(info.value)
    assert "\n" not in str(info.value)


def test_record_error_is_an_input_error_with_exit_code_2() -> None:
    with pytest.raises(InputError) as info:
        Record.from_json(b"{not json")
    assert info.value.exit_code == ExitCode.USAGE
    with pytest.raises(RecordError, match="JSON object"):
        Record.from_json("[1, 2]")
    with pytest.raises(RecordError):
        Record.from_json(b"\xff\xfe")


# -- file names -----------------------------------------------------------------------------


def test_record_filename_is_utc_sha7_and_version() -> None:
    assert record_filename(make_record()) == "history/2025_11_14_22_45_00__700e012__0.1.0.json"
    local = WHEN.astimezone(timezone(timedelta(hours=-5)))
    assert record_filename(make_record(timestamp=local)).startswith("history/2025_11_14_22_45")


def test_record_filename_with_unknown_or_odd_versions() -> None:
    assert record_filename(make_record(package_version=None)).endswith("__unknown.json")
    odd = make_record(package_version="1.0/beta_2 (dev)")
    name = record_filename(odd)
    assert name.endswith("__1.0-beta-2-dev.json")
    assert name.count("/") == 1
    assert sanitize_version("") == "unknown"
    assert sanitize_version("..") == "unknown"
    assert sanitize_version("2.0.0+local") == "2.0.0+local"


def test_parse_record_filename_round_trips() -> None:
    record = make_record()
    parsed = parse_record_filename(record_filename(record))
    assert parsed is not None
    assert parsed.timestamp == WHEN.replace(microsecond=0)
    assert parsed.sha7 == "700e012"
    assert parsed.version == "0.1.0"
    assert parsed.compressed is False
    assert parsed.suffix is None


def test_parse_compressed_and_suffixed_names() -> None:
    path = record_path(WHEN, "abc1234", "1.2.3", suffix=3, compressed=True)
    assert path == "history/2025_11_14_22_45_00__abc1234__1.2.3__3.json.gz"
    parsed = parse_record_filename(path)
    assert parsed is not None
    assert (parsed.sha7, parsed.version, parsed.compressed, parsed.suffix) == (
        "abc1234",
        "1.2.3",
        True,
        3,
    )
    with pytest.raises(ValueError):
        record_path(WHEN, "abc1234", "1", suffix=1)


@pytest.mark.parametrize(
    "name",
    [
        "README.md",
        "latest.json",
        "2025_11_14_22_45_00__abc1234.json",
        "2025_13_40_22_45_00__abc1234__1.0.json",
        "2025_11_14_22_45_00__abc1234__1.0.txt",
    ],
)
def test_non_record_names_are_not_parsed(name: str) -> None:
    assert parse_record_filename(name) is None
