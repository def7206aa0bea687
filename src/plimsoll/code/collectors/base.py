"""The collector contract: one class per module with ``name``, ``keys`` and ``collect(context)``.

Collectors that analyse files one at a time subclass :class:`PerFileCollector`: their
per-file results are cached by content hash, so a second run after a small change only
re-analyses what changed, and a file that takes too long or does not parse is reported
and skipped while the rest goes on.
"""

from __future__ import annotations

import hashlib
import json
import signal
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Protocol

from plimsoll.core.config import CodeConfig

# A file that one collector cannot analyse within this many seconds is skipped and reported
# (radon's raw analysis, for one, is very slow on huge literals).
PER_FILE_SECONDS = 20.0


class FileCache(Protocol):
    """Per-file results keyed by (collector key, content hash)."""

    def get(self, key: str, sha: str) -> dict[str, Any] | None:
        """The cached result, or None."""

    def put(self, key: str, sha: str, value: dict[str, Any]) -> None:
        """Store a result."""


class NullCache:
    """A cache that remembers nothing (tests, ``--no-cache``)."""

    def get(self, key: str, sha: str) -> dict[str, Any] | None:
        """Always a miss."""
        return None

    def put(self, key: str, sha: str, value: dict[str, Any]) -> None:
        """Forget ``value``."""


# The content hash of a file that could not be read: never looked up in the cache.
UNREADABLE = ""


@dataclass(frozen=True)
class SourceFile:
    """One Python file to analyse: its path relative to the root, and its content hash
    (:data:`UNREADABLE` for a file that could not be read)."""

    path: str
    sha: str

    @property
    def readable(self) -> bool:
        """Whether the file could be read when it was found."""
        return self.sha != UNREADABLE


@dataclass(frozen=True)
class CollectContext:
    """What a collector gets: the project root, the files to analyse, config and cache.

    ``root`` is the project's folder (where its configuration file is), the working directory
    of every tool; ``files`` are its Python files and ``stubs`` its ``.pyi`` stub files, both
    under the configured paths minus the excludes. Only the tools that read stubs when run on
    a folder (mypy, pylint, ruff) look at ``stubs``.
    """

    root: Path
    files: tuple[SourceFile, ...]
    config: CodeConfig = field(default_factory=CodeConfig)
    cache: FileCache = field(default_factory=NullCache)
    stubs: tuple[SourceFile, ...] = ()

    @property
    def paths(self) -> list[str]:
        """The relative paths of the files, in order."""
        return [f.path for f in self.files]

    @property
    def stub_paths(self) -> list[str]:
        """The relative paths of the stub files, in order."""
        return [f.path for f in self.stubs]

    def unreadable(self) -> dict[str, str]:
        """The files (sources and stubs) that cannot be read: path -> ``cannot read: <why>``.

        Whole-project tools leave them out and list them as skipped, as the per-file
        collectors do, rather than stop on them (mypy) or fail the whole score (pylint).
        """
        found: dict[str, str] = {}
        for item in (*self.files, *self.stubs):
            if item.readable:
                continue
            try:
                (self.root / item.path).read_bytes()
            except OSError as exc:
                found[item.path] = f"cannot read: {exc.strerror or type(exc).__name__}"
        return found

    def read(self, path: str) -> str:
        """The text of ``path`` (relative to the root), decoded as Python source is."""
        data = (self.root / path).read_bytes()
        return decode_source(data)


def decode_source(data: bytes) -> str:
    """Decode Python source honouring a PEP 263 coding line, falling back to UTF-8 with replacement."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return data.decode("utf-8", errors="replace")


class CollectorError(Exception):
    """A collector could not produce its result; the message is recorded in the record."""


class SkipFile(Exception):
    """Raised by ``analyze_file`` to skip one file with a reason of its own (the message).

    For what is not a syntax error: a file the tool cannot read although Python can (never
    reported as "does not parse").
    """


class KeyKind(StrEnum):
    """What a metric key holds, which says how a threshold or a trend may name it."""

    NUMBER = "number"  # one number (null when nothing was measured): named as it is
    TEXT = "text"  # one text value: compared with == and != only
    GROUP = "group"  # a fixed set of numbers: a rule names one member (stats.totals.sloc)
    COUNTS = "counts"  # counts by code, complete: a rule names one code the tool can report
    DETAIL = "detail"  # per-item detail (per file, per function): a path names one item's value


@dataclass(frozen=True)
class MetricKey:
    """One key a collector returns: what it means and what it holds.

    ``members`` are a group's keys (None when the configuration decides them, as the debt
    markers do); ``example`` one member or code to show in a message (``F401``).
    """

    description: str
    kind: KeyKind = KeyKind.NUMBER
    members: tuple[str, ...] | None = None
    example: str | None = None


# Every collector that analyses files one at a time (and the whole-project tools that leave
# unreadable files out) lists what it left out under this key.
SKIPPED_FILES = MetricKey(
    "files left out, each {path, error}: a file that does not parse, cannot be read, or is too "
    "large or too slow to analyse",
    KeyKind.DETAIL,
)


@dataclass(frozen=True)
class CodeCatalogue:
    """The codes a tool can report, to check a code named in a complete count map.

    ``aliases`` maps another spelling of a code to the code as the map holds it (a pylint
    message id to its symbol, a ruff rule name to its code), for suggestions.
    """

    codes: frozenset[str]
    aliases: Mapping[str, str] = field(default_factory=dict)


class CatalogueUnavailable(Exception):
    """The tool cannot be asked for its codes (not installed, failed); the message says why."""


@dataclass(frozen=True)
class CodeSource:
    """How to learn the codes a tool can report.

    ``label`` names the tool and its version in messages (``ruff 0.6.9``), ``noun`` what a
    code is to it (``rule code``, ``message symbol``). ``fingerprint`` is cheap to compute
    and changes whenever the answer may (the tool's version, the settings that load its
    plugins): it is the cache key. ``fetch`` asks the tool itself, and raises
    :class:`CatalogueUnavailable` when it cannot.
    """

    tool: str
    label: str
    noun: str
    fingerprint: str
    fetch: Callable[[], CodeCatalogue]


class Collector(ABC):
    """A source of metrics. ``collect`` returns a JSON-serialisable dict with ``keys`` at its top.

    The runner checks what ``collect`` returns: anything but a dict with string keys and
    strict JSON values (no NaN or infinity, no set, no other object) is recorded as this
    collector's error, naming the key path, as if ``collect`` had raised. A top-level key
    not declared in ``keys`` (or ``key_info``) is kept in the record, with a warning.

    ``key_info`` describes each key (what ``plimsoll code collectors`` shows, and what a
    threshold may name); a collector without it is taken at its ``keys``.
    """

    name: ClassVar[str]
    keys: ClassVar[tuple[str, ...]]
    key_info: ClassVar[Mapping[str, MetricKey]] = {}
    # Keys (among ``keys``) holding complete counts by code: every code the tool reported is
    # in the map, so an absent code was counted zero times (``ruff.by_code.F401 <= 0`` holds
    # once the last F401 is fixed). :mod:`plimsoll.code.lookup` reads them so.
    complete_counts: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    version: ClassVar[str] = "1"

    def unavailable(self) -> str | None:
        """Why this collector cannot run here (a tool missing), or None when it can."""
        return None

    def code_source(self, key: str, root: Path) -> CodeSource | None:
        """How to learn the codes the complete count map ``key`` may hold, for a project in
        ``root``; None when they cannot be checked (an absent code then simply reads 0)."""
        return None

    @abstractmethod
    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Analyse the project and return the metrics."""


class FileTimeout(Exception):
    """One file took longer than :data:`PER_FILE_SECONDS`."""


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`FileTimeout` in the main thread after ``seconds`` (no limit off the main thread)."""
    if threading.current_thread() is not threading.main_thread() or seconds <= 0:
        yield
        return

    def _expire(signum: int, frame: Any) -> None:
        raise FileTimeout()

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class PerFileCollector(Collector):
    """A collector whose result is a summary of independent per-file results."""

    per_file_seconds: ClassVar[float] = PER_FILE_SECONDS

    def cache_key(self, context: CollectContext) -> str:
        """Identifies everything besides the file's content that its result depends on."""
        return f"{self.name}:{self.version}:{config_fingerprint(self.relevant_config(context))}"

    def relevant_config(self, context: CollectContext) -> Any:
        """The part of the configuration the per-file result depends on (for the cache key)."""
        return None

    @abstractmethod
    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """Analyse one file; raise SyntaxError when it does not parse."""

    @abstractmethod
    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Combine the per-file results (path -> result) into the collector's metrics."""

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Analyse each file (from cache when unchanged) and summarise; report skipped files."""
        key = self.cache_key(context)
        per_file: dict[str, dict[str, Any]] = {}
        skipped: list[dict[str, str]] = []
        for source_file in context.files:
            cacheable = source_file.readable
            result = context.cache.get(key, source_file.sha) if cacheable else None
            if result is None:
                result = self._analyze_one(source_file, context)
                if cacheable:
                    context.cache.put(key, source_file.sha, result)
            if "__skipped__" in result:
                skipped.append({"path": source_file.path, "error": result["__skipped__"]})
            else:
                per_file[source_file.path] = result
        summary = self.summarize(per_file, context)
        summary["skipped_files"] = skipped
        return summary

    def _analyze_one(self, source_file: SourceFile, context: CollectContext) -> dict[str, Any]:
        try:
            source = context.read(source_file.path)
        except OSError as exc:
            return {"__skipped__": f"cannot read: {exc.strerror}"}
        try:
            with time_limit(self.per_file_seconds):
                return self.analyze_file(source_file.path, source, context)
        except SkipFile as exc:
            return {"__skipped__": str(exc)}
        except SyntaxError as exc:
            line = f" line {exc.lineno}" if exc.lineno else ""
            return {"__skipped__": f"does not parse:{line} {exc.msg}"}
        except FileTimeout:
            return {"__skipped__": f"took longer than {self.per_file_seconds:g}s; skipped"}
        except RecursionError:
            return {"__skipped__": "nested too deeply to analyse"}


def config_fingerprint(value: Any) -> str:
    """A short stable hash of a JSON-serialisable value."""
    blob = json.dumps(value, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]
