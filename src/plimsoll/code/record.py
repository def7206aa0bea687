"""The metrics record: one JSON document per collection, versioned, migrated on load.

A record is what one ``plimsoll code collect`` run produces. Version ``1.0`` is the layout
written by umpyre, so an umpyre history branch can be read (and migrated) as it is; every
later version adds fields, and a chain of small pure steps brings an old document up to
:data:`CURRENT_SCHEMA_VERSION` before it is validated and turned into a :class:`Record`.

History files are named ``history/YYYY_MM_DD_HH_MM_SS__<sha7>__<version>.json`` (UTC;
``.json.gz`` once compressed) so listings can be sorted and filtered without reading blobs;
:func:`record_filename` builds such a name and :func:`parse_record_filename` reads it back.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from plimsoll.core.errors import InputError

# Schema versions of the record document, oldest first:
# 1.0: umpyre's layout: schema_version, timestamp, commit_sha, commit_message, python_version,
#      workflow_status, metrics, collection_duration_seconds.
# 1.1: adds package_version and collector_durations ({collector: seconds}).
# 1.2: adds branch, worktree_dirty, detached_head, collector_errors ({collector: message})
#      and plimsoll_version; a collector's failure moves out of metrics into collector_errors.
# 1.3: adds project_path, the analysed project's folder relative to the git work tree's top
#      ("." at the top; null when unknown, as in every record migrated from before 1.3).
CURRENT_SCHEMA_VERSION = "1.3"

HISTORY_DIR = "history"
LATEST_PATH = "latest.json"

_UNKNOWN_VERSION = "unknown"


class RecordError(InputError):
    """A record document is corrupt, of an unknown version, or missing or mistyping a field."""

    slug = "record"


# ---------------------------------------------------------------------------------------
# Migrations: each step takes a document of one version and returns a new document of the
# next; they never mutate their input, so a failed load leaves the caller's data intact.


def _migrate_1_0_to_1_1(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring an umpyre 1.0 document to 1.1: fill umpyre's optional fields, add the new ones."""
    out = dict(doc)
    # umpyre only required schema_version, timestamp, commit_sha and metrics; the others
    # could be absent, so they get the value umpyre itself would have written for "unknown".
    out.setdefault("commit_message", None)
    out.setdefault("python_version", None)
    out.setdefault("collection_duration_seconds", None)
    status = out.get("workflow_status")
    if status is None:
        out["workflow_status"] = {}
    elif isinstance(status, str):
        # umpyre wrote the CI outcome as a bare word ("success", "failure"); it becomes a field.
        out["workflow_status"] = {"status": status}
    out["package_version"] = None
    out["collector_durations"] = {}
    out["schema_version"] = "1.1"
    return out


def _migrate_1_1_to_1_2(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring a 1.1 document to 1.2: add the git context, move collector failures out of metrics."""
    out = dict(doc)
    metrics = out.get("metrics")
    errors: dict[str, Any] = {}
    if isinstance(metrics, dict):
        kept: dict[str, Any] = {}
        for name, value in metrics.items():
            # umpyre stored a failing collector as metrics[name] = {"error": "..."}; from 1.2 on
            # failures live in collector_errors so metric paths only ever hold real values.
            if (
                isinstance(value, dict)
                and set(value) == {"error"}
                and isinstance(value["error"], str)
            ):
                errors[name] = value["error"]
            else:
                kept[name] = value
        out["metrics"] = kept
    out["branch"] = None
    out["worktree_dirty"] = False
    out["detached_head"] = False
    out["collector_errors"] = errors
    out["plimsoll_version"] = None
    out["schema_version"] = "1.2"
    return out


def _migrate_1_2_to_1_3(doc: dict[str, Any]) -> dict[str, Any]:
    """Bring a 1.2 document to 1.3: the project's folder, unknown for an older record."""
    out = dict(doc)
    # Which project of a monorepo wrote a 1.2 record cannot be told from the record: it
    # stays unknown (null), and such records are never taken for another project's.
    out["project_path"] = None
    out["schema_version"] = "1.3"
    return out


# from-version -> (to-version, step)
MIGRATIONS: dict[str, tuple[str, Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "1.0": ("1.1", _migrate_1_0_to_1_1),
    "1.1": ("1.2", _migrate_1_1_to_1_2),
    "1.2": ("1.3", _migrate_1_2_to_1_3),
}

KNOWN_SCHEMA_VERSIONS: tuple[str, ...] = ("1.0", "1.1", "1.2", "1.3")


def migrate_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``doc`` migrated to :data:`CURRENT_SCHEMA_VERSION` (a new dict; input untouched)."""
    if "schema_version" not in doc:
        raise RecordError("record has no schema_version (expected a string such as '1.2')")
    version = doc["schema_version"]
    if not isinstance(version, str):
        # A number such as 1.0 is not "an unknown version": the field has the wrong type.
        raise RecordError(
            f"record field 'schema_version' must be a string such as '1.2', "
            f"not {_kind_of(version)} ({json.dumps(version)})"
        )
    if version not in KNOWN_SCHEMA_VERSIONS:
        raise RecordError(
            f"record has unknown schema_version {version!r} "
            f"(known: {', '.join(KNOWN_SCHEMA_VERSIONS)})"
        )
    out = dict(doc)
    while version != CURRENT_SCHEMA_VERSION:
        version, step = MIGRATIONS[version]
        out = step(out)
    return out


# ---------------------------------------------------------------------------------------
# Validation helpers: each names the field and what was expected.


def _require(doc: Mapping[str, Any], key: str) -> Any:
    if key not in doc:
        raise RecordError(f"record is missing field {key!r}")
    return doc[key]


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _kind_of(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "a number"
    return _type_name(value)


def _optional_str(doc: Mapping[str, Any], key: str) -> str | None:
    value = _require(doc, key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RecordError(f"record field {key!r} must be a string or null, not {_type_name(value)}")
    return value


def _text(doc: Mapping[str, Any], key: str) -> str:
    value = _require(doc, key)
    if not isinstance(value, str):
        raise RecordError(f"record field {key!r} must be a string, not {_type_name(value)}")
    return value


def _bool(doc: Mapping[str, Any], key: str) -> bool:
    value = _require(doc, key)
    if not isinstance(value, bool):
        raise RecordError(f"record field {key!r} must be true or false, not {_type_name(value)}")
    return value


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _seconds(doc: Mapping[str, Any], key: str) -> float | None:
    value = _require(doc, key)
    if value is None:
        return None
    if not _number(value) or value < 0:
        raise RecordError(
            f"record field {key!r} must be a non-negative number or null, not {value!r}"
        )
    return float(value)


def _object(doc: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = _require(doc, key)
    if not isinstance(value, dict):
        raise RecordError(f"record field {key!r} must be an object, not {_type_name(value)}")
    return value


def _durations(doc: Mapping[str, Any], key: str) -> dict[str, float]:
    value = _object(doc, key)
    out: dict[str, float] = {}
    for name, seconds in value.items():
        if not _number(seconds) or seconds < 0:
            raise RecordError(
                f"record field {key}.{name} must be a non-negative number, not {seconds!r}"
            )
        out[name] = float(seconds)
    return out


def _messages(doc: Mapping[str, Any], key: str) -> dict[str, str]:
    value = _object(doc, key)
    for name, message in value.items():
        if not isinstance(message, str):
            raise RecordError(
                f"record field {key}.{name} must be a string, not {_type_name(message)}"
            )
    return dict(value)


def parse_timestamp(text: str) -> datetime:
    """Parse an ISO-8601 timestamp into an aware UTC datetime (a naive one is taken as UTC)."""
    raw = text.strip()
    if raw.endswith(("Z", "z")):
        raw = raw[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise RecordError(f"record field 'timestamp' is not an ISO-8601 time: {text!r}") from exc
    if value.tzinfo is None:
        # Records are always written in UTC; a naive time can only be a UTC time without offset.
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with a ``Z`` suffix."""
    if value.tzinfo is None:
        raise ValueError("record timestamps must be timezone-aware")
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# Fields of the current schema, in the order they are documented.
RECORD_FIELDS: tuple[str, ...] = (
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
)


@dataclass(frozen=True)
class Record:
    """One collection's metrics and the context it ran in (current schema)."""

    timestamp: datetime
    commit_sha: str
    metrics: dict[str, Any]
    commit_message: str | None = None
    branch: str | None = None
    # The analysed project's folder relative to the work tree's top ("." there; None: unknown).
    project_path: str | None = None
    package_version: str | None = None
    python_version: str | None = None
    plimsoll_version: str | None = None
    workflow_status: dict[str, Any] = field(default_factory=dict)
    worktree_dirty: bool = False
    detached_head: bool = False
    collection_duration_seconds: float | None = None
    collector_durations: dict[str, float] = field(default_factory=dict)
    collector_errors: dict[str, str] = field(default_factory=dict)
    # Top-level keys this version does not know (written by a newer tool or by hand): kept so
    # that rewriting a record (migration, compression) never drops data.
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError("Record.timestamp must be timezone-aware")
        if self.timestamp.utcoffset() != UTC.utcoffset(None):
            object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))
        if not self.commit_sha:
            raise ValueError("Record.commit_sha must not be empty")

    @property
    def schema_version(self) -> str:
        """The schema version this record is written in (always the current one)."""
        return CURRENT_SCHEMA_VERSION

    @property
    def sha7(self) -> str:
        """The first seven characters of the commit sha, as used in file names."""
        return _sanitize(self.commit_sha.lower()[:7]) or "0000000"

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready document of the current schema."""
        doc: dict[str, Any] = dict(self.extra)
        doc.update(
            {
                "schema_version": CURRENT_SCHEMA_VERSION,
                "timestamp": format_timestamp(self.timestamp),
                "commit_sha": self.commit_sha,
                "commit_message": self.commit_message,
                "branch": self.branch,
                "project_path": self.project_path,
                "package_version": self.package_version,
                "python_version": self.python_version,
                "plimsoll_version": self.plimsoll_version,
                "workflow_status": dict(self.workflow_status),
                "worktree_dirty": self.worktree_dirty,
                "detached_head": self.detached_head,
                "metrics": dict(self.metrics),
                "collection_duration_seconds": self.collection_duration_seconds,
                "collector_durations": dict(self.collector_durations),
                "collector_errors": dict(self.collector_errors),
            }
        )
        return doc

    def to_json(self) -> str:
        """Serialize stably: sorted keys, two-space indent, a final newline, strict JSON."""
        try:
            text = json.dumps(
                self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False
            )
        except (TypeError, ValueError) as exc:
            # NaN/Infinity are not JSON and other tools (jq, the dashboard) would reject them.
            raise RecordError(f"record cannot be written as JSON: {exc}") from exc
        return text + "\n"

    def to_bytes(self) -> bytes:
        """The UTF-8 bytes of :meth:`to_json`, as stored in history."""
        return self.to_json().encode("utf-8")

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Record:
        """Build a record from a document of any known version, migrated to the current schema.

        Raises :class:`RecordError` naming the field for a corrupt document.
        """
        if not isinstance(doc, Mapping):
            raise RecordError(f"record must be a JSON object, not {_type_name(doc)}")
        current = migrate_document(doc)
        timestamp_text = _text(current, "timestamp")
        commit_sha = _text(current, "commit_sha")
        if not commit_sha:
            raise RecordError("record field 'commit_sha' must not be empty")
        return cls(
            timestamp=parse_timestamp(timestamp_text),
            commit_sha=commit_sha,
            metrics=_object(current, "metrics"),
            commit_message=_optional_str(current, "commit_message"),
            branch=_optional_str(current, "branch"),
            project_path=_optional_str(current, "project_path"),
            package_version=_optional_str(current, "package_version"),
            python_version=_optional_str(current, "python_version"),
            plimsoll_version=_optional_str(current, "plimsoll_version"),
            workflow_status=_object(current, "workflow_status"),
            worktree_dirty=_bool(current, "worktree_dirty"),
            detached_head=_bool(current, "detached_head"),
            collection_duration_seconds=_seconds(current, "collection_duration_seconds"),
            collector_durations=_durations(current, "collector_durations"),
            collector_errors=_messages(current, "collector_errors"),
            extra={k: v for k, v in current.items() if k not in RECORD_FIELDS},
        )

    @classmethod
    def from_json(cls, data: str | bytes) -> Record:
        """Parse a JSON document (text or UTF-8 bytes) into a record; RecordError if bad."""
        try:
            doc = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise RecordError(f"record is not valid JSON: {exc}") from exc
        return cls.from_dict(doc)


# ---------------------------------------------------------------------------------------
# File names


_UNSAFE = re.compile(r"[^A-Za-z0-9.+-]+")


def _sanitize(text: str) -> str:
    # Underscores are reserved as the field separator ("__") of the file name, slashes would
    # make subfolders, and leading dots would hide the file; everything else unusual becomes "-".
    return _UNSAFE.sub("-", text).strip("-.")


def sanitize_version(version: str | None) -> str:
    """Return ``version`` made safe for a history file name (``unknown`` when empty or None)."""
    cleaned = _sanitize(version or "")
    return cleaned or _UNKNOWN_VERSION


def record_filename(record: Record, suffix: int | None = None) -> str:
    """The history path of ``record``: ``history/YYYY_MM_DD_HH_MM_SS__<sha7>__<version>.json``.

    ``suffix`` (2, 3, ...) disambiguates two records that would otherwise get the same name.
    """
    return record_path(
        record.timestamp, record.sha7, sanitize_version(record.package_version), suffix=suffix
    )


def record_path(
    timestamp: datetime,
    sha7: str,
    version: str,
    *,
    suffix: int | None = None,
    compressed: bool = False,
) -> str:
    """Build a history path from its parts (the inverse of :func:`parse_record_filename`)."""
    stamp = timestamp.astimezone(UTC).strftime("%Y_%m_%d_%H_%M_%S")
    name = f"{stamp}__{sha7}__{version}"
    if suffix is not None:
        if suffix < 2:
            raise ValueError("a disambiguating suffix starts at 2")
        name += f"__{suffix}"
    return f"{HISTORY_DIR}/{name}.json" + (".gz" if compressed else "")


_NAME = re.compile(
    r"^(?P<y>\d{4})_(?P<mo>\d{2})_(?P<d>\d{2})_(?P<h>\d{2})_(?P<mi>\d{2})_(?P<s>\d{2})"
    r"__(?P<sha>[^_/]+)"
    r"__(?P<version>[^_/]+?)"
    r"(?:__(?P<suffix>\d+))?"
    r"\.json(?P<gz>\.gz)?$"
)


@dataclass(frozen=True)
class RecordName:
    """What a history file name says about its record, read without opening the file."""

    timestamp: datetime
    sha7: str
    version: str
    compressed: bool
    suffix: int | None = None


def parse_record_filename(path: str) -> RecordName | None:
    """Parse a history path (or bare file name) into its parts; None if it is not a record name."""
    name = path.rsplit("/", 1)[-1]
    match = _NAME.match(name)
    if match is None:
        return None
    try:
        # Built from the digits directly: strptime costs more than everything else on a
        # listing of thousands of records.
        stamp = datetime(
            int(match["y"]),
            int(match["mo"]),
            int(match["d"]),
            int(match["h"]),
            int(match["mi"]),
            int(match["s"]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    suffix = match["suffix"]
    return RecordName(
        timestamp=stamp,
        sha7=match["sha"],
        version=match["version"],
        compressed=match["gz"] is not None,
        suffix=int(suffix) if suffix is not None else None,
    )
