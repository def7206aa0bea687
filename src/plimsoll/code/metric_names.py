"""Metric names: check a path a threshold or a trend names against what the collectors record.

A path is ``<collector>.<key>[.<more>]``. The collector must be registered (the list
``plimsoll code collectors`` prints) and the key one it declares; what may follow depends on
what the key holds (:class:`~plimsoll.code.collectors.base.KeyKind`):

- a number or a text: nothing (``complexity.max``);
- a group: one of its members (``stats.totals.sloc``; the group itself is no value);
- a complete count map: one code the tool can report (``ruff.by_code.F841``), checked
  against the installed tool's own catalogue (see :mod:`plimsoll.code.collectors._codes`),
  because an absent code reads 0 (:mod:`plimsoll.code.lookup`) and a misspelt one would
  otherwise read 0 forever;
- per-item detail: any path into it (``maintainability.per_file.app.py.mi``).

A path whose value a record holds is taken as it is (unless it is a group), so records of
other versions and collectors without declarations keep working. Catalogues are cached per
tool fingerprint (version, settings) in memory and, given a cache folder, on disk under
``<cache>/metric-names/``, so a trend or a gate asks a tool at most once per version. A tool
that cannot be asked (not installed) is warned about once and its codes are not checked.
"""

from __future__ import annotations

import difflib
import functools
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from plimsoll.code.collectors.base import (
    CatalogueUnavailable,
    CodeCatalogue,
    CodeSource,
    KeyKind,
    MetricKey,
)
from plimsoll.core import log, plugins
from plimsoll.core.rules import MetricMissing, not_one_value, resolve

CACHE_FOLDER = "metric-names"
# A cached list of another key (version, settings) unused this long is removed.
STALE_SECONDS = 30 * 24 * 3600
_log = log.get_logger("code.metric_names")

# Catalogues by fingerprint, shared by every MetricNames of the process.
_MEMORY: dict[str, CodeCatalogue] = {}
# Tools already warned about (once per process is enough).
_WARNED: set[str] = set()
_KIND_WORDS = {KeyKind.NUMBER: "one number", KeyKind.TEXT: "one text value"}


def _nearest(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates closest to ``word``: a case-insensitive match first, then difflib's."""
    pool = sorted(set(candidates))
    folded = [c for c in pool if c.lower() == word.lower()]
    if folded:
        return folded[:n]
    return difflib.get_close_matches(word, pool, n=n, cutoff=0.6)


def _did_you_mean(paths: Sequence[str]) -> str:
    return f" (did you mean {' or '.join(paths)}?)" if paths else ""


def _listed(items: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return f"{shown}, ..." if len(items) > limit else shown


class MetricNames:
    """The metric names the registered collectors declare, and the codes their tools report.

    ``root`` is the analysed project's folder (the tools are asked there, so its settings and
    plugins count; default: the working directory); ``cache_dir`` where catalogues are kept
    between runs (None: in memory only); ``discovered`` the collectors (default: the
    ``plimsoll.collectors`` entry points). ``before_collecting``: no record is here yet to
    show what a collector that does not describe its keys (a plugin with only ``keys``)
    really records, so a key it does not declare is left for the check after collecting,
    which accepts it when the new record holds it: both checks then agree.
    """

    def __init__(
        self,
        root: Path | None = None,
        cache_dir: Path | None = None,
        discovered: plugins.Discovered | None = None,
        *,
        before_collecting: bool = False,
    ) -> None:
        self.root = root if root is not None else Path.cwd()
        self.cache_dir = cache_dir
        self._given = discovered
        self.before_collecting = before_collecting

    @functools.cached_property
    def discovered(self) -> plugins.Discovered:
        """The registered collectors (loaded once)."""
        return self._given if self._given is not None else plugins.discover(plugins.COLLECTORS)

    # --- checking a path ---------------------------------------------------------------------

    def problem(self, path: str, records: Iterable[Mapping[str, Any] | None] = ()) -> str | None:
        """What is wrong with ``path`` as a metric to compare, or None when it names one.

        ``records`` are metrics the path will be read from: a value one of them holds is
        accepted as it is (a group excepted), without asking any tool.
        """
        for metrics in records:
            if metrics is None:
                continue
            value = resolve(metrics, path)
            if isinstance(value, Mapping):
                collector, _, key = path.partition(".")
                return self._group_problem(path, self._key_info(collector).get(key), value)
            shape = not_one_value(path, value)
            if shape is not None:
                return shape
            if not isinstance(value, MetricMissing):
                return None
        return self._declared_problem(path)

    def code_problem(self, path: str) -> str | None:
        """What is wrong with the code ``path`` names in a complete count map, or None.

        None as well when ``path`` names no count map's code, or the tool cannot be asked.
        """
        parts = path.split(".", 2)
        if len(parts) != 3 or not all(parts):
            return None
        collector, key, code = parts
        info = self._key_info(collector).get(key)
        if info is None or info.kind is not KeyKind.COUNTS:
            return None
        return self._code_problem(collector, key, code)

    def _declared_problem(self, path: str) -> str | None:
        if not path or any(not part for part in path.split(".")):
            return f"{path!r} is not a metric path (collector.key, e.g. complexity.max)"
        collector, _, rest = path.partition(".")
        cls = self.discovered.loaded.get(collector)
        if cls is None:
            return self._collector_problem(collector, rest)
        keys = tuple(getattr(cls, "keys", ()))
        if not rest:
            examples = [f"{collector}.{k}" for k in keys]
            return (
                f"{collector} is a collector, not a metric: name one of its metrics "
                f"({_listed(examples, 4)})"
            )
        key, _, more = rest.partition(".")
        undescribed = not getattr(cls, "key_info", None)
        if keys and key not in keys and not (self.before_collecting and undescribed):
            near = [f"{collector}.{k}" for k in _nearest(key, keys)]
            return (
                f"collector {collector} records no metric {key!r}{_did_you_mean(near)}; "
                f"its metrics: {', '.join(keys)}"
            )
        info = self._key_info(collector).get(key)
        if info is None:
            return None  # a key of a collector that does not describe its keys
        head = f"{collector}.{key}"
        if info.kind in _KIND_WORDS:
            if more:
                return f"{head} is {_KIND_WORDS[info.kind]}: it holds no {more!r}"
            return None
        if info.kind is KeyKind.DETAIL:
            if not more:
                return f"{head} is per-item detail, not one value: {info.description}"
            return None
        if not more:
            return self._group_problem(head, info, None)
        if info.kind is KeyKind.GROUP:
            return self._member_problem(head, info, more)
        return self._code_problem(collector, key, more)

    def _collector_problem(self, collector: str, rest: str) -> str:
        failed = {f.name: f.error for f in self.discovered.failures}
        if collector in failed:
            return (
                f"collector {collector!r} is installed but could not be loaded "
                f"({failed[collector]})"
            )
        installed = sorted(self.discovered.loaded)
        near = [self._suggestion(name, rest) for name in _nearest(collector, installed)]
        return (
            f"no collector {collector!r} is installed{_did_you_mean(near)}; the collectors: "
            f"{', '.join(installed) or 'none'} (a plugin collector registers under the "
            f"{plugins.COLLECTORS} entry point group)"
        )

    def _suggestion(self, collector: str, rest: str) -> str:
        """``collector.rest`` when that collector records ``rest``'s first key (or declares
        none); else the collector's closest key, or the collector alone."""
        if not rest:
            return collector
        keys = tuple(getattr(self.discovered.loaded[collector], "keys", ()))
        key, dot, more = rest.partition(".")
        if not keys or key in keys:
            return f"{collector}.{rest}"
        closest = _nearest(key, keys)
        return f"{collector}.{closest[0]}{dot}{more}" if closest else collector

    def _group_problem(
        self, head: str, info: MetricKey | None, value: Mapping[str, Any] | None
    ) -> str:
        members: list[str] = []
        if info is not None and info.members is not None:
            members = list(info.members)
        elif value is not None:
            members = [str(k) for k in value]
        elif info is not None and info.example is not None:
            members = [info.example]
        if info is not None and info.kind is KeyKind.COUNTS:
            example = f"{head}.{members[0]}" if members else f"{head}.<code>"
            return f"{head} is a group of metrics (counts by code): name one code ({example})"
        if members:
            listed = _listed([f"{head}.{m}" for m in members], 6)
            return f"{head} is a group of metrics: name one of its keys ({listed})"
        return f"{head} is a group of metrics: name one of its keys ({head}.<key>)"

    def _member_problem(self, head: str, info: MetricKey, member: str) -> str | None:
        if info.members is None or member in info.members:
            return None
        near = [f"{head}.{m}" for m in _nearest(member, info.members)]
        return (
            f"{head} has no key {member!r}{_did_you_mean(near)}; its keys: "
            f"{', '.join(info.members)}"
        )

    def _code_problem(self, collector: str, key: str, code: str) -> str | None:
        source = self._source(collector, key)
        if source is None:
            return None
        catalogue = self.catalogue(source)
        if catalogue is None or code in catalogue.codes:
            return None
        head = f"{collector}.{key}"
        named = catalogue.aliases.get(code)
        if named is not None and named in catalogue.codes:
            return (
                f"{head} counts by {source.noun}: {code} is {named} (did you mean {head}.{named}?)"
            )
        near = _nearest(code, catalogue.codes, n=2)
        if not near:
            # A name given where a code is wanted (ruff's unused-import for F401), any case.
            aliased = _nearest(code, catalogue.aliases, n=1)
            near = [
                catalogue.aliases[a] for a in aliased if catalogue.aliases[a] in catalogue.codes
            ]
        return (
            f"{source.label} reports no {source.noun} {code!r}"
            f"{_did_you_mean([f'{head}.{c}' for c in near])}"
        )

    # --- declarations and catalogues ---------------------------------------------------------

    def _key_info(self, collector: str) -> Mapping[str, MetricKey]:
        cls = self.discovered.loaded.get(collector)
        info = getattr(cls, "key_info", None)
        return info if isinstance(info, Mapping) else {}

    def _source(self, collector: str, key: str) -> CodeSource | None:
        cls = self.discovered.loaded.get(collector)
        if cls is None:
            return None
        try:
            source = cls().code_source(key, self.root)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not stop the check
            _warn_once(collector, f"collector {collector} cannot say which codes it counts: {exc}")
            return None
        return source if isinstance(source, CodeSource) else None

    def catalogue(self, source: CodeSource) -> CodeCatalogue | None:
        """The codes ``source``'s tool can report: from memory, the cache folder, or the tool.

        None (after a warning, once per tool) when the tool cannot be asked.
        """
        found = _MEMORY.get(source.fingerprint)
        if found is None:
            found = self._read_cache(source)
        if found is None:
            try:
                found = source.fetch()
            except CatalogueUnavailable as exc:
                _warn_once(
                    source.tool,
                    f"cannot list the codes {source.tool} reports ({exc}): a {source.tool} code "
                    "named in a threshold or trend is not checked, and reads 0 while absent",
                )
                return None
            self._write_cache(source, found)
        _MEMORY[source.fingerprint] = found
        return found

    def _cache_file(self, source: CodeSource) -> Path | None:
        if self.cache_dir is None:
            return None
        digest = hashlib.sha256(source.fingerprint.encode()).hexdigest()[:16]
        return self.cache_dir / CACHE_FOLDER / f"{source.tool}-{digest}.json"

    def _read_cache(self, source: CodeSource) -> CodeCatalogue | None:
        path = self._cache_file(source)
        if path is None:
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
            if data.get("fingerprint") != source.fingerprint:
                return None
            return CodeCatalogue(
                frozenset(map(str, data["codes"])),
                {str(k): str(v) for k, v in dict(data["aliases"]).items()},
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None  # absent or damaged: ask the tool again

    def _write_cache(self, source: CodeSource, catalogue: CodeCatalogue) -> None:
        path = self._cache_file(source)
        if path is None:
            return
        data = {
            "fingerprint": source.fingerprint,
            "codes": sorted(catalogue.codes),
            "aliases": dict(sorted(catalogue.aliases.items())),
        }
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written beside and renamed: a concurrent reader sees the old file or the new.
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
            os.replace(tmp, path)
            # Other keys' files may be another subproject's of a monorepo (one cache folder,
            # their own settings) or another job's: only those unused for a month go.
            stale = time.time() - STALE_SECONDS
            for old in path.parent.glob(f"{source.tool}-*.json"):
                if old != path and old.stat().st_mtime < stale:
                    old.unlink(missing_ok=True)
        except OSError:
            pass  # the cache only saves time: a read-only folder costs a tool run next time


def _warn_once(tool: str, message: str) -> None:
    if tool in _WARNED:
        return
    _WARNED.add(tool)
    _log.warning(message, extra={"event": "metric_codes_unchecked", "tool": tool})


def describe_keys(cls: Any) -> list[dict[str, Any]]:
    """Each key of collector class ``cls``: ``{key, kind, description}`` (for ``collectors``).

    A collector that does not describe its keys gives them with an empty description.
    """
    info = getattr(cls, "key_info", None) or {}
    rows = []
    for key in getattr(cls, "keys", ()):
        described = info.get(key)
        rows.append(
            {
                "key": key,
                "kind": described.kind.value if described is not None else None,
                "description": described.description if described is not None else "",
            }
        )
    return rows
