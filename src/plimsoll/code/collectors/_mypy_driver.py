"""Runs mypy in-process on what ``mypy <paths>`` checks, minus what plimsoll leaves out.

Usage: ``python -m plimsoll.code.collectors._mypy_driver OUTPUT REQUEST`` where REQUEST is a
JSON object (passed through the argument driver on stdin): ``flags`` (mypy options),
``paths`` (the configured paths, as a user would pass them) and ``allowed`` (the files
plimsoll analyses: its Python and stub files after its excludes). The result is written to
OUTPUT as JSON: ``sources`` (the files checked), ``messages`` (mypy's output lines),
``blocked``, ``skipped`` (path -> why) and ``usage_error``.

Mypy itself turns the paths into sources (``mypy.main.process_options``), so its own rules
hold exactly: a folder is crawled, a ``.pyi`` stub stands for the ``.py`` beside it, a
package folder shadows a module of the same name, and the project's ``exclude`` applies.
Plimsoll's excludes then take out what they name.

A file mypy cannot parse stops the whole run. Such a file is left out and reported, and
the build runs again; when a checked file imports it, the module gets ``follow_imports =
skip`` (what a user would write for it), so mypy treats it as untyped instead of stopping.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from plimsoll.code.collectors._mypy_messages import parse_failures


def _relative(path: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path))).as_posix()


def _allowed_sources(sources: list[Any], allowed: set[str], build_source: Any) -> list[Any]:
    """The sources plimsoll analyses; a module whose stub it excludes is checked from its .py.

    That is what mypy does when its own ``exclude`` names the stub: the crawl never sees
    it, so the ``.py`` beside it becomes the module's source.
    """
    kept = []
    for source in sources:
        path = _relative(source.path) if source.path else None
        if path in allowed:
            kept.append(source)
        elif path is not None and path.endswith(".pyi") and path[:-1] in allowed:
            module_file = os.path.join(os.path.dirname(source.path), os.path.basename(path[:-1]))
            kept.append(build_source(module_file, source.module, None, source.base_dir))
    return kept


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Check the allowed sources of ``mypy <paths>``, leaving out files that do not parse."""
    from mypy.defaults import RECURSION_LIMIT
    from mypy.find_sources import SourceFinder
    from mypy.fscache import FileSystemCache
    from mypy.main import process_options, run_build
    from mypy.modulefinder import BuildSource

    # As `mypy` itself does: deeply nested code needs more than Python's default.
    sys.setrecursionlimit(max(sys.getrecursionlimit(), RECURSION_LIMIT))

    flags: list[str] = list(request["flags"])
    paths: list[str] = list(request["paths"])
    allowed = set(request["allowed"])
    skipped: dict[str, str] = {}
    skip_modules: set[str] = set()
    # Each round leaves out at least one more file or module, so this bound is never reached
    # unless mypy keeps stopping on the same file.
    for _ in range(2 * len(allowed) + 2):
        out, err = io.StringIO(), io.StringIO()
        fscache = FileSystemCache()
        try:
            sources, options = process_options(
                [*flags, *paths], stdout=out, stderr=err, fscache=fscache
            )
        except SystemExit as exc:
            text = err.getvalue() or out.getvalue()
            return {"usage_error": text.strip() or f"mypy exited with {exc.code}"}
        chosen = [s for s in _allowed_sources(sources, allowed, BuildSource) if s.path]
        chosen = [s for s in chosen if _relative(str(s.path)) not in skipped]
        for module in skip_modules:
            settings = dict(options.per_module_options.get(module, {}))
            settings["follow_imports"] = "skip"
            options.per_module_options[module] = settings
        if getattr(options, "num_workers", 0):
            # As `mypy` itself does: its parallel mode only works with the native parser.
            options.native_parser = True
        checked = [_relative(str(s.path)) for s in chosen]
        if not chosen:
            return {"sources": [], "messages": [], "blocked": False, "skipped": skipped}
        _, messages, blocked = run_build(chosen, options, fscache, time.time(), out, err)
        if not blocked:
            return {"sources": checked, "messages": messages, "blocked": False, "skipped": skipped}
        progress = False
        for path, (line, message) in parse_failures(messages).items():
            relative = _relative(path)
            reason = (
                f"does not parse: line {line} {message}" if line else f"does not parse: {message}"
            )
            if relative in checked:
                skipped[relative] = reason
                progress = True
                continue
            # Not one of the files checked: a module they import, which mypy follows.
            module, _base = SourceFinder(fscache, options).crawl_up(os.path.normpath(path))
            if module and module not in skip_modules:
                skip_modules.add(module)
                skipped.setdefault(relative, reason)
                progress = True
        if not progress:
            return {"sources": checked, "messages": messages, "blocked": True, "skipped": skipped}
    return {"sources": [], "messages": [], "blocked": True, "skipped": skipped}


def main(argv: list[str]) -> int:
    """Entry point: ``OUTPUT REQUEST``; writes the JSON result to OUTPUT."""
    output, request = argv
    result = run(json.loads(request))
    Path(output).write_text(json.dumps(result), "utf-8")
    sys.stdout.flush()
    sys.stderr.flush()
    # Like mypy itself: freeing everything mypy built takes longer than the check.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
