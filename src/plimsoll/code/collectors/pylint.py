"""Pylint score and message counts equal to a whole-project ``--output-format=json2`` run.

The files are those ``pylint <paths>`` lints (:func:`pylint_targets`), minus plimsoll's
excludes: stub files (``.pyi``) included, as pylint takes them from a folder. Pylint lints a
stub from the source of the module beside it (astroid reads ``m.py`` for ``m.pyi``), so such
a pair counts that module twice, exactly as pylint run by hand does.

Pylint runs in-process in :mod:`._pylint_driver`, in the project's root, so its
``pyproject.toml``/``.pylintrc``/``setup.cfg`` settings apply. Each file's result (its
messages, its statement count and the data pylint's project-wide checks need) is cached
under a key made of pylint's version, the project's pylint settings and the file's *closure*:
its content and that of every project file it imports, transitively, because a module's
messages depend on inference into what it imports, and of every file assigning an attribute
it mentions on another module's object (astroid records that assignment on the object, so
it reaches the file without being imported). A later run lints only the files whose
closure changed; ``duplicate-code`` and ``cyclic-import`` are recomputed over all files with
pylint's own map/reduce step (the one behind ``--jobs``) from the cached per-file data. A
file whose closure changed only where it cannot infer into (a function appended to a module
it imports, or one edited that neither it nor the rest of its closure uses, directly or
through what they use) keeps its result: :mod:`._reuse` says when.

Pylint's time on a few changed files goes mostly into building the trees of what they import
(the standard library, the dependencies). Outside CI, after a cold run, a warm server
(:mod:`._pylint_server`) builds those once and serves the next runs from a forked child with
the same driver; its results are the cold driver's (:mod:`._pylint_warm` says when it is used).

The score is json2's: the configured ``evaluation`` over the summed counts and statements.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import sys
import tempfile
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from plimsoll.code.collectors import _codes, _imports, _pylint_warm, _reuse, _tools
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CodeSource,
    CollectContext,
    Collector,
    CollectorError,
    KeyKind,
    MetricKey,
    NullCache,
)
from plimsoll.core.log import get_logger

MESSAGE_TYPES = ("fatal", "error", "warning", "refactor", "convention", "info")
TOP_SYMBOLS = 20
# Pylint's exit status is a bit field; 32 means it could not run (usage or configuration error).
USAGE_ERROR = 32
DRIVER = "plimsoll.code.collectors._pylint_driver"
log = get_logger("code.collectors.pylint")
# Files in the project root whose pylint settings change every file's result.
CONFIG_FILES = ("pylintrc", ".pylintrc", "pyproject.toml", "setup.cfg", "tox.ini")
_STATEMENTS = re.compile(r"^(\d+) statements analysed\.$", re.MULTILINE)


@dataclass(frozen=True)
class PylintReport:
    """What one pylint run reported."""

    score: float | None
    counts: dict[str, int]
    symbols: dict[str, int]
    modules: int
    statements: int | None
    # Messages pylint lists but does not count by type (nor in the score): about its
    # settings, said before its run opens (an unrecognized option, say).
    uncounted: int = 0


def parse_json2(text: str) -> PylintReport:
    """Read pylint's json2 output (``messages`` and ``statistics``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CollectorError(
            f"pylint wrote no valid json2 output: {exc.msg} at line {exc.lineno}"
        ) from None
    stats = data.get("statistics", {})
    counts_raw = stats.get("messageTypeCount", {})
    counts = {kind: int(counts_raw.get(kind, 0)) for kind in MESSAGE_TYPES}
    raw_score = stats.get("score")
    # A project-defined `evaluation` that fails makes pylint report a message instead of a number.
    score = float(raw_score) if isinstance(raw_score, int | float) else None
    symbols = Counter(
        str(m.get("symbol") or m.get("messageId") or "unknown") for m in data.get("messages", [])
    )
    return PylintReport(
        score=score,
        counts=counts,
        symbols=dict(symbols),
        modules=int(stats.get("modulesLinted", 0)),
        statements=None,
        uncounted=max(0, len(data.get("messages", [])) - sum(counts.values())),
    )


def parse_statements(text: str) -> int | None:
    """The statement count from pylint's text report, or None when it printed no report."""
    match = _STATEMENTS.search(text)
    return int(match.group(1)) if match else None


def report_metrics(report: PylintReport) -> dict[str, Any]:
    """The collector's metrics from a parsed report."""
    ranked = sorted(report.symbols.items(), key=lambda item: (-item[1], item[0]))
    return {
        "score": report.score,
        "by_type": report.counts,
        "total": sum(report.counts.values()) + report.uncounted,
        "top_symbols": dict(ranked[:TOP_SYMBOLS]),
        "by_symbol": dict(ranked),
        "statements": report.statements,
        "modules": report.modules,
    }


def pylint_settings(root: Path) -> dict[str, str]:
    """The pylint settings a run in ``root`` reads, as text per source (for the cache key)."""
    found: dict[str, str] = {}
    candidates = [root / name for name in CONFIG_FILES]
    home = Path.home()
    candidates += [home / ".pylintrc", home / ".config" / "pylintrc"]
    if os.environ.get("PYLINTRC"):
        candidates.append(Path(os.environ["PYLINTRC"]))
    for path in candidates:
        try:
            text = path.read_text("utf-8", errors="replace")
        except OSError:
            continue
        if path.name == "pyproject.toml":
            try:
                section = tomllib.loads(text).get("tool", {}).get("pylint")
            except tomllib.TOMLDecodeError:
                section = text  # pylint fails on it too; any edit must still show
            if section is None:
                continue
            text = json.dumps(section, sort_keys=True, default=str)
        elif path.name in ("setup.cfg", "tox.ini"):
            # Only the [pylint.*] sections matter; keeping them whole is simpler than parsing.
            blocks = re.split(r"(?m)^(?=\[)", text)
            text = "".join(b for b in blocks if b.lstrip("[").lower().startswith("pylint"))
            if not text:
                continue
        found[str(path)] = text
    return found


def json2_score(evaluation: str, counts: dict[str, int], statements: int) -> float | None:
    """The score pylint's json2 reporter computes: ``evaluation`` over counts and statements."""
    try:
        # The project's own configured expression, evaluated exactly as pylint does.
        note = eval(evaluation, {}, {**counts, "statement": statements or 1})  # noqa: S307
    except Exception:  # noqa: BLE001 - pylint reports a message instead of a number then
        return None
    return float(note) if isinstance(note, int | float) else None


def pylint_targets(context: CollectContext) -> list[str]:
    """The files ``pylint <paths>`` lints, among plimsoll's Python and stub files.

    As pylint expands a folder: a package (a folder with ``__init__.py``) brings its modules
    and stubs and those of its subpackages, but not of subfolders that are no package; any
    other folder brings every Python file and stub below it. A file is itself.
    """
    candidates = sorted({*context.paths, *context.stub_paths})
    chosen: set[str] = set()
    root = context.root
    for entry in context.config.paths:
        target = root / entry
        prefix = Path(os.path.normpath(entry)).as_posix()
        prefix = "" if prefix == "." else prefix
        if target.is_file():
            chosen.update(c for c in candidates if c == prefix)
            continue
        inside = [c for c in candidates if not prefix or c.startswith(prefix + "/")]
        if (target / "__init__.py").is_file():
            inside = [c for c in inside if _in_package(root, prefix, c)]
        chosen.update(inside)
    return sorted(chosen)


def oversized(sources: dict[str, str], max_bytes: int) -> dict[str, str]:
    """The files pylint is not to lint, being larger than ``max_bytes``: path -> the reason.

    Some of pylint's checks are quadratic in a module's tokens: a generated module of about
    1 MB (an 80,000-element list literal and 2,000 functions) takes pylint 4.1 28 s alone,
    and one of 2 MB over four minutes. Deciding by size before pylint runs keeps the result
    the same on every run and machine; a time limit inside pylint could not (interrupting
    astroid leaves a half-built module in its cache, which other files are linted against).
    A stub is linted from the source of the module beside it, so that source's size counts.
    """
    found: dict[str, str] = {}
    for path, text in sources.items():
        linted = sources.get(path[:-1], text) if path.endswith(".pyi") else text
        size = max(_size(text), _size(linted))
        if size > max_bytes:
            found[path] = (
                f"larger than {max_bytes} bytes: pylint's checks are quadratic in a file's "
                "tokens; skipped"
            )
    return found


@dataclass(frozen=True)
class _Warm:
    """What a run needs to ask the warm server: the cache key (which names the server), the
    pylint settings (which say whether it may be used), the files' sizes (to share them)."""

    key: str
    settings: dict[str, str]
    sizes: dict[str, int]


def _size(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _in_package(root: Path, top: str, path: str) -> bool:
    """Whether every folder from ``top`` down to ``path``'s is a package (astroid's test)."""
    folder = Path(path).parent
    stop = Path(top)
    while folder != stop and folder != Path("."):
        if not any((root / folder / marker).is_file() for marker in _imports.PACKAGE_MARKERS):
            return False
        folder = folder.parent
    return True


class PylintCollector(Collector):
    """Pylint's score, message counts by type, the most frequent symbols and statements analysed.

    ``score`` is json2's ``statistics.score`` (None when the project's ``evaluation`` fails);
    ``by_symbol`` counts every message by symbol (a complete count: a symbol absent from it
    was reported zero times), ``top_symbols`` holds the 20 most frequent of them;
    ``linted_files`` and ``cached_files`` tell how many files this run linted and took from
    the cache. ``skipped_files`` lists the files left out (path and reason): one that cannot
    be read, and one larger than ``code.pylint_max_file_bytes`` (:func:`oversized`), which
    pylint is never asked to lint: it counts for nothing (no messages, statements, nor part in
    ``duplicate-code``/``cyclic-import``) and the others are linted as pylint lints them
    without it, so one pathological file never loses the whole result.
    """

    name: ClassVar[str] = "pylint"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "score": MetricKey("pylint's score out of 10, as its json2 report computes it"),
        "by_type": MetricKey("messages per type", KeyKind.GROUP, MESSAGE_TYPES),
        "total": MetricKey(
            "messages pylint reported, those about its settings included (json2 lists them"
            " but leaves them out of messageTypeCount and the score)"
        ),
        "top_symbols": MetricKey(
            "the most frequent message symbols (not complete: use by_symbol in rules)",
            KeyKind.DETAIL,
        ),
        "by_symbol": MetricKey(
            "messages per symbol, complete: a symbol pylint can report that is absent was "
            "reported zero times (pylint.by_symbol.unused-import; symbols, not ids like W0611)",
            KeyKind.COUNTS,
            example="unused-import",
        ),
        "statements": MetricKey("statements pylint analysed"),
        "modules": MetricKey("modules pylint linted"),
        "linted_files": MetricKey("files linted in this run"),
        "cached_files": MetricKey("files whose result came from the cache"),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    complete_counts: ClassVar[tuple[str, ...]] = ("by_symbol",)
    description: ClassVar[str] = "pylint score and messages (the project's pylint configuration)"
    # 4: skips by size; entries of version 3 may hold skips by time, not to be reused.
    # 5: messages about the settings kept apart (listed, not counted by type).
    version: ClassVar[str] = "5"

    def unavailable(self) -> str | None:
        """Why pylint cannot run here, or None."""
        return _tools.missing_reason("pylint")

    def code_source(self, key: str, root: Path) -> CodeSource | None:
        """Pylint's message symbols for ``by_symbol``, with the project's plugins."""
        return _codes.pylint_codes(root, pylint_settings(root)) if key == "by_symbol" else None

    def cache_key(self, context: CollectContext) -> str:
        """Pylint's, astroid's and Python's versions and the project's pylint settings."""
        return self._key(pylint_settings(context.root))

    def _key(self, found: dict[str, str]) -> str:
        """:meth:`cache_key` for the pylint settings ``found`` (:func:`pylint_settings`)."""
        settings = hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()[:16]
        python = ".".join(map(str, sys.version_info[:3]))
        tools = f"{_tools.tool_version('pylint')}:{_tools.tool_version('astroid')}"
        return f"{self.name}:{self.version}:{tools}:{python}:{settings}"

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Lint the files whose closure changed, take the others from the cache, and sum up."""
        # A file that cannot be read is left out and listed, as the other collectors do,
        # rather than counted as pylint's fatal parse-error (a score of 0).
        unreadable = context.unreadable()
        targets = pylint_targets(context)
        paths = [p for p in targets if p not in unreadable]
        unread = [{"path": p, "error": unreadable[p]} for p in targets if p in unreadable]
        if not paths:
            metrics = report_metrics(PylintReport(None, dict.fromkeys(MESSAGE_TYPES, 0), {}, 0, 0))
            return {**metrics, "linted_files": 0, "cached_files": 0, "skipped_files": unread}
        sources: dict[str, str] = {}
        for path in paths:
            try:
                sources[path] = context.read(path)
            except OSError:
                sources[path] = ""
        big = oversized(sources, context.config.pylint_max_file_bytes)
        unread += [{"path": p, "error": reason} for p, reason in big.items()]
        shas = {f.path: f.sha for f in (*context.files, *context.stubs)}
        infos = _imports.build_imports(sources)
        settings = pylint_settings(context.root)
        key = self._key(settings)
        carry = _Carry(context, key, sources, shas)
        # A file's result depends on its import closure and on the files assigning attributes
        # it mentions (see _reuse.influencers): its key covers both.
        members_of = _imports.closures(infos)
        shapes = {path: carry.shape(shas[path]) for path in paths}
        for path, extra in _reuse.influencers(paths, members_of, shapes).items():
            members_of[path] |= extra
        closure = _imports.closure_keys(infos, shas, members_of)
        signed = _imports.signatures(infos, shas)
        members = {path: {m: f"{signed[m]}:{shas[m]}" for m in members_of[path]} for path in paths}
        # A big file still counts in its importers' closures above (astroid reads it to infer
        # into it); only linting it is left out.
        paths = [p for p in paths if p not in big]
        if not paths:
            metrics = report_metrics(PylintReport(None, dict.fromkeys(MESSAGE_TYPES, 0), {}, 0, 0))
            skipped = sorted(unread, key=lambda item: item["path"])
            return {**metrics, "linted_files": 0, "cached_files": 0, "skipped_files": skipped}
        entries: dict[str, dict[str, Any]] = {}
        for path in paths:
            found = context.cache.get(key, closure[path])
            if found is None and _imports.sibling(path) not in shas:
                # A module with a stub is linted from either's source: any change matters.
                found = carry.carried_over(path, members[path], closure[path])
            if found is not None:
                entries[path] = found
        # The project-wide messages depend on which files take part: a file becoming or ceasing
        # to be too big (another limit) changes the set, so it changes the key.
        project_sha = hashlib.sha256(
            "\n".join([*(closure[p] for p in paths), *sorted(big)]).encode()
        ).hexdigest()
        project = context.cache.get(f"{key}:project", project_sha) if entries else None
        missing = [p for p in paths if p not in entries]
        linted = len(missing)
        if missing or project is None:
            # With every file cached but no project-wide entry (another file set), lint one
            # small file so the run replays the project-wide step over all of them.
            lint = missing or [min(paths, key=lambda p: len(sources[p]))]
            linted = len(lint)
            warm = _Warm(key, settings, {p: _size(text) for p, text in sources.items()})
            result = self._drive(context, paths, lint, entries, warm)
            if result["unsafe"] and len(lint) < len(paths):
                result = self._drive(context, paths, paths, {}, warm)
                linted = len(paths)
            cacheable = not result["unsafe"]
            for path, entry in result["files"].items():
                entries[path] = entry
                if cacheable:
                    context.cache.put(key, closure[path], entry)
                    carry.remember(path, members[path], closure[path])
            project = {
                "messages": result["project"] + result["orphans"],
                "uncounted": result["uncounted"],
                "extra_modules": result["extra_modules"],
                "evaluation": result["evaluation"],
            }
            if cacheable:
                context.cache.put(f"{key}:project", project_sha, project)
        metrics = self._summarize(entries, project, linted, len(paths) - linted)
        metrics["skipped_files"] = sorted(
            [*unread, *metrics["skipped_files"]], key=lambda item: item["path"]
        )
        return metrics

    def _drive(
        self,
        context: CollectContext,
        paths: list[str],
        lint: list[str],
        entries: dict[str, dict[str, Any]],
        setting: _Warm,
    ) -> dict[str, Any]:
        cached = {p: e for p, e in entries.items() if p not in set(lint)}
        payload = {"files": paths, "lint": lint, "cached": cached}
        timeout = _tools.timeout_for(context.config.collector_timeout_seconds)
        idle = context.config.pylint_server_idle_seconds
        warm = None
        if _pylint_warm.wanted(idle, setting.settings, not isinstance(context.cache, NullCache)):
            warm = _pylint_warm.socket_for(context.root, setting.key)
        if warm is not None:
            parts = _pylint_warm.parts_for(lint, os.cpu_count())
            answer = _pylint_warm.ask_parallel(warm, payload, timeout, setting.sizes, parts)
            if answer is not None:
                log.debug(
                    "pylint: %d file(s) linted by the warm server (%d at once)",
                    len(lint),
                    parts,
                    extra={"event": "pylint_warm_served", "parts": parts},
                )
                return answer
        data = self._drive_cold(context, payload, timeout)
        if warm is not None:
            _pylint_warm.start(warm, context.root, data.get("built", []), idle)
        return data

    @staticmethod
    def _drive_cold(
        context: CollectContext, payload: dict[str, Any], timeout: float | None
    ) -> dict[str, Any]:
        """Run the driver in a new process (pylint's imports and every tree built afresh)."""
        request = json.dumps(payload)
        with tempfile.TemporaryDirectory(prefix="plimsoll-pylint-") as tmp:
            output = Path(tmp) / "result.json"
            result = _tools.run_tool(
                DRIVER,
                [str(output), request],
                cwd=context.root,
                timeout=timeout,
                ok_codes=range(256),
                via_stdin=True,
            )
            if result.returncode != 0:
                detail = _tools.one_line(result.stderr or result.stdout)
                raise CollectorError(f"pylint failed (exit code {result.returncode}): {detail}")
            try:
                data: dict[str, Any] = json.loads(output.read_text("utf-8"))
            except (OSError, json.JSONDecodeError):
                raise CollectorError(
                    f"pylint wrote no report: {_tools.one_line(result.stderr)}"
                ) from None
        return data

    @staticmethod
    def _summarize(
        entries: dict[str, dict[str, Any]], project: dict[str, Any], linted: int, cached: int
    ) -> dict[str, Any]:
        counts = dict.fromkeys(MESSAGE_TYPES, 0)
        symbols: Counter[str] = Counter()
        messages = [m for e in entries.values() for m in e["messages"]] + project["messages"]
        for symbol, category in messages:
            counts[category] = counts.get(category, 0) + 1
            symbols[symbol] += 1
        uncounted = project.get("uncounted", [])
        symbols.update(symbol for symbol, _ in uncounted)
        statements = sum(int(e["statements"]) for e in entries.values())
        modules = {e["module"] for e in entries.values() if e["module"]}
        skipped = [
            {"path": path, "error": str(entry["skipped"])}
            for path, entry in sorted(entries.items())
            if entry.get("skipped")
        ]
        score = json2_score(str(project["evaluation"]), counts, statements)
        report = PylintReport(
            score,
            counts,
            dict(symbols),
            len(modules | set(project["extra_modules"])),
            statements,
            len(uncounted),
        )
        return {
            **report_metrics(report),
            "linted_files": linted,
            "cached_files": cached,
            "skipped_files": skipped,
        }


class _Carry:
    """Results carried over a closure change that cannot reach them (see :mod:`._reuse`).

    For each file linted, the cache keeps its closure's members as they were (under
    ``<key>:latest``) and each member's shape by content hash (``pylint-shape``): what the
    next run needs to tell whether that result still holds.
    """

    SHAPES = "pylint-shape:2"

    def __init__(
        self, context: CollectContext, key: str, sources: dict[str, str], shas: dict[str, str]
    ) -> None:
        self._cache = context.cache
        self._latest = f"{key}:latest"
        self._key = key
        self._sources = {shas[path]: text for path, text in sources.items()}
        self._shapes: dict[str, _reuse.ModuleShape | None] = {}

    def shape(self, sha: str) -> _reuse.ModuleShape | None:
        """The shape of the file with content hash ``sha`` (a current file's is made and kept)."""
        if sha in self._shapes:
            return self._shapes[sha]
        stored = self._cache.get(self.SHAPES, sha)
        found = _reuse.ModuleShape.from_dict(stored) if stored is not None else None
        if found is None and sha in self._sources:
            try:
                tree = ast.parse(self._sources[sha])
            except (SyntaxError, ValueError):
                tree = None
            if tree is not None:
                found = _reuse.module_shape(tree)
                self._cache.put(self.SHAPES, sha, found.to_dict())
        self._shapes[sha] = found
        return found

    def carried_over(
        self, path: str, members: dict[str, str], closure: str
    ) -> dict[str, Any] | None:
        """``path``'s last result when the change of its closure cannot reach it, else None."""
        latest = self._cache.get(self._latest, path)
        before = latest.get("members") if latest is not None else None
        # An entry of another form (a damaged cache) is a miss, as in the cache itself.
        if not isinstance(before, dict) or not all(isinstance(v, str) for v in before.values()):
            return None
        if not _reuse.reusable(path, before, members, self.shape):
            return None
        assert latest is not None
        entry = self._cache.get(self._key, str(latest.get("closure")))
        if entry is not None:
            self._cache.put(self._key, closure, entry)
            self.remember(path, members, closure)
        return entry

    def remember(self, path: str, members: dict[str, str], closure: str) -> None:
        """Keep what the next run needs to carry ``path``'s result over."""
        for value in members.values():
            self.shape(value.rpartition(":")[2])
        self._cache.put(self._latest, path, {"closure": closure, "members": members})
