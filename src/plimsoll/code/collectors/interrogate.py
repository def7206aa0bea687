"""Docstring coverage through interrogate's Python API, cached per file.

The configuration is the one ``interrogate`` run in the project's root would use: the
``[tool.interrogate]`` table of ``pyproject.toml`` or ``[tool:interrogate]`` of ``setup.cfg``
(``ignore-*`` switches, ``style``, ``ignore-regex``, ``whitelist-regex``, ``exclude``,
``ext``). Interrogate counts each file on its own and the overall percentage is covered over
total, so per-file results add up to exactly what it reports for the whole project.
"""

from __future__ import annotations

import ast
import codecs
import io
import os
import re
import tokenize
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, ClassVar

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import (
    SKIPPED_FILES,
    CollectContext,
    CollectorError,
    MetricKey,
    PerFileCollector,
    SkipFile,
)

# Settings that change which objects interrogate counts; the others only change its output.
_SWITCHES = (
    "ignore_magic",
    "ignore_module",
    "ignore_private",
    "ignore_semiprivate",
    "ignore_init_method",
    "ignore_init_module",
    "ignore_nested_classes",
    "ignore_nested_functions",
    "ignore_overloaded_functions",
    "ignore_property_decorators",
)
# Directories interrogate leaves out of every walk of a path.
_COMMON_EXCLUDE = (".tox", ".venv", "venv", ".git", ".hg")


def read_project_settings(root: Path) -> dict[str, Any]:
    """The interrogate settings of the root's pyproject.toml or setup.cfg, read as it does."""
    from interrogate import config

    path = config.find_project_config([str(root)])
    if path is None:
        return {}
    try:
        if path.endswith(".toml"):
            settings = config.parse_pyproject_toml(path)
        else:
            settings = config.parse_setup_cfg(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable config is reported, one line
        raise CollectorError(f"interrogate: cannot read {path}: {exc}") from None
    return dict(settings or {})


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def normalize_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The settings that decide what interrogate counts, with its CLI's defaults and renamings."""
    include = _as_list(settings.get("whitelist_regex"))
    result: dict[str, Any] = {name: bool(settings.get(name, False)) for name in _SWITCHES}
    result["ignore_property_setters"] = bool(settings.get("ignore_setters", False))
    result["docstring_style"] = str(settings.get("style", "sphinx"))
    result["ignore_regex"] = _as_list(settings.get("ignore_regex"))
    result["include_regex"] = include
    if include:
        # As interrogate's CLI does: a whitelist leaves module docstrings out of the count.
        result["ignore_module"] = True
    result["exclude"] = _as_list(settings.get("exclude"))
    result["ext"] = _as_list(settings.get("ext"))
    return result


def is_excluded(path: str, root: Path, settings: dict[str, Any]) -> bool:
    """Whether interrogate run in ``root`` would leave ``path`` (relative to root) out."""
    if settings["ignore_init_module"] and os.path.basename(path) == "__init__.py":
        return True
    base = os.path.abspath(root)
    full = os.path.join(base, path)
    # The CLI resolves each exclude against the working directory and matches it as a prefix.
    patterns = [os.path.join(base, name) for name in _COMMON_EXCLUDE]
    patterns += [os.path.abspath(os.path.join(base, name)) for name in settings["exclude"]]
    return any(fnmatch(full, pattern + "*") for pattern in patterns)


def build_config(settings: dict[str, Any]) -> Any:
    """An ``InterrogateConfig`` from normalised settings."""
    from interrogate.config import InterrogateConfig

    try:
        return InterrogateConfig(
            docstring_style=settings["docstring_style"],
            ignore_regex=[re.compile(r) for r in settings["ignore_regex"]] or False,
            include_regex=[re.compile(r) for r in settings["include_regex"]] or False,
            ignore_property_setters=settings["ignore_property_setters"],
            **{name: settings[name] for name in _SWITCHES},
        )
    except (ValueError, re.error) as exc:
        raise CollectorError(f"interrogate: invalid setting: {exc}") from None


def interrogate_cannot_read(data: bytes) -> str | None:
    """Why interrogate (which reads every file as plain UTF-8) cannot read ``data``, or None.

    Python reads both of these, so the file is fine and only interrogate skips it: one that
    starts with a UTF-8 byte-order mark (interrogate fails on U+FEFF), and one in another
    encoding declared by a PEP 263 coding line (interrogate fails to decode it).
    """
    if data.startswith(codecs.BOM_UTF8):
        return "interrogate cannot read a file that starts with a UTF-8 byte-order mark (BOM)"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        try:
            declared, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError:
            declared = ""
        named = f" ({declared})" if declared and declared != "utf-8" else ""
        return f"interrogate cannot read a file that is not UTF-8{named}"
    return None


def percent(covered: int, total: int) -> float:
    """Interrogate's coverage percentage: covered over total, 100 when there is nothing to count."""
    return 100.0 if total == 0 else covered / total * 100


class InterrogateCollector(PerFileCollector):
    """Docstring coverage as interrogate reports it: percentage, total, covered, missing."""

    name: ClassVar[str] = "interrogate"
    key_info: ClassVar[dict[str, MetricKey]] = {
        "percent_covered": MetricKey("docstring coverage in percent, as interrogate reports it"),
        "total": MetricKey("objects interrogate checks for a docstring"),
        "covered": MetricKey("objects with a docstring"),
        "missing": MetricKey("objects without a docstring"),
        "files": MetricKey("files interrogate checked"),
        "skipped_files": SKIPPED_FILES,
    }
    keys: ClassVar[tuple[str, ...]] = tuple(key_info)
    description: ClassVar[str] = (
        "docstring coverage by interrogate (the project's interrogate settings)"
    )
    version: ClassVar[str] = "2"

    def __init__(self) -> None:
        self._settings: dict[str, dict[str, Any]] = {}
        self._configs: dict[str, Any] = {}

    def unavailable(self) -> str | None:
        """Why interrogate cannot run here, or None."""
        return _tools.missing_reason("interrogate")

    def settings(self, context: CollectContext) -> dict[str, Any]:
        """The project's interrogate settings (read once per root)."""
        key = str(context.root)
        if key not in self._settings:
            self._settings[key] = normalize_settings(read_project_settings(context.root))
        return self._settings[key]

    def relevant_config(self, context: CollectContext) -> Any:
        """The project's settings and interrogate's version: a file's result depends on both."""
        return [self.settings(context), _tools.tool_version("interrogate")]

    def collect(self, context: CollectContext) -> dict[str, Any]:
        """Count the files interrogate would count in the root, from cache when unchanged."""
        settings = self.settings(context)
        extensions = (".py", *settings["ext"])
        kept = tuple(
            f
            # Stubs count only when the project's `ext` names them, as with interrogate itself.
            for f in (*context.files, *context.stubs)
            if f.path.endswith(extensions) and not is_excluded(f.path, context.root, settings)
        )
        return super().collect(CollectContext(context.root, kept, context.config, context.cache))

    def analyze_file(self, path: str, source: str, context: CollectContext) -> dict[str, Any]:
        """Interrogate one file: its total, covered and missing objects."""
        from interrogate.coverage import InterrogateCoverage

        key = str(context.root)
        if key not in self._configs:
            self._configs[key] = build_config(self.settings(context))
        full = os.path.join(os.path.abspath(context.root), path)
        unreadable = interrogate_cannot_read(Path(full).read_bytes())
        if unreadable is not None:
            raise SkipFile(unreadable)
        try:
            results = InterrogateCoverage(paths=[full], conf=self._configs[key]).get_coverage()
        except UnicodeDecodeError as exc:
            raise SkipFile(f"interrogate cannot read it: not UTF-8 ({exc.reason})") from None
        except SyntaxError as exc:
            ast.parse(source)  # a real syntax error is reported as one (by the caller)
            raise SkipFile(f"interrogate fails on it ({exc.msg}); Python parses it") from None
        return {"total": results.total, "covered": results.covered, "missing": results.missing}

    def summarize(
        self, per_file: dict[str, dict[str, Any]], context: CollectContext
    ) -> dict[str, Any]:
        """Add the files' counts up and compute interrogate's percentage."""
        total = sum(int(r["total"]) for r in per_file.values())
        covered = sum(int(r["covered"]) for r in per_file.values())
        missing = sum(int(r["missing"]) for r in per_file.values())
        return {
            "percent_covered": percent(covered, total),
            "total": total,
            "covered": covered,
            "missing": missing,
            "files": len(per_file),
        }
