"""Runs pylint in-process on some of a project's files and writes per-file results as JSON.

Usage: ``python -m plimsoll.code.collectors._pylint_driver OUTPUT REQUEST`` where REQUEST is
a JSON object (passed through the argument driver on stdin): ``files`` (every project file,
in order), ``lint`` (the files to lint now) and ``cached`` (path -> the cross-module data
recorded for each file not linted now).

Pylint's two project-wide checks, ``duplicate-code`` and ``cyclic-import``, work by the same
map/reduce pylint uses for ``--jobs``: each file contributes its similarity ``LineSet`` and its
import-graph edges, and the checkers' ``reduce_map_data`` computes the messages from all of
them. Recording that data per file lets a run that lints only changed files still get the
project-wide messages exactly, without linting the rest again.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

PROJECT_WIDE = ("duplicate-code", "cyclic-import")
# The checkers whose map/reduce data this driver records and replays; any other checker that
# computes messages at the end of a run (a plugin) makes per-file caching unsafe.
REDUCED_CHECKERS = ("imports", "similarities")


def _relative(path: str) -> str:
    return Path(os.path.relpath(os.path.abspath(path))).as_posix()


def _lineset_data(lineset: Any) -> dict[str, Any]:
    return {
        "real": list(lineset.real_lines),
        "stripped": [[spec.line_number, spec.text] for spec in lineset.stripped_lines],
    }


def _lineset(name: str, data: dict[str, Any]) -> Any:
    from pylint.checkers.symilar import LineSet, LineSpecifs

    lineset = LineSet(name, [])
    lineset._real_lines = list(data["real"])  # noqa: SLF001 - rebuilt from recorded data
    lineset._stripped_lines = [  # noqa: SLF001
        LineSpecifs(line_number=number, text=text) for number, text in data["stripped"]
    ]
    return lineset


def _unsafe_checkers(linter: Any) -> list[str]:
    from pylint.checkers import BaseChecker

    found = []
    for checker in linter.prepare_checkers():
        if checker.name in REDUCED_CHECKERS:
            continue
        kind = type(checker)
        if kind.close is not BaseChecker.close or kind.reduce_map_data is not (
            BaseChecker.reduce_map_data
        ):
            found.append(checker.name)
    return sorted(set(found))


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Lint ``request['lint']``, then compute the project-wide messages over all files."""
    from pylint.lint import PyLinter, Run
    from pylint.reporters import CollectingReporter

    files: list[str] = request["files"]
    lint: list[str] = request["lint"]
    cached: dict[str, dict[str, Any]] = request["cached"]
    cold = set(lint) == set(files)

    visited: dict[str, str] = {}
    original = PyLinter.set_current_module

    def record(self: Any, modname: str | None, filepath: str | None = None) -> None:
        if modname is not None and filepath is not None:
            visited[_relative(filepath)] = modname
        original(self, modname, filepath)  # type: ignore[arg-type]

    PyLinter.set_current_module = record  # type: ignore[method-assign]
    reporter = CollectingReporter()
    args = ["--persistent=n", "--jobs=1", "--reports=n", "--score=n", *lint]
    try:
        linter = Run(args, reporter=reporter, exit=False).linter
    finally:
        PyLinter.set_current_module = original  # type: ignore[method-assign]

    checkers = {c.name: c for c in linter.get_checkers() if c.name in REDUCED_CHECKERS}
    imports = checkers.get("imports")
    similar = checkers.get("similarities")
    linesets = {ls.name: ls for ls in getattr(similar, "linesets", [])}
    graph = getattr(imports, "import_graph", {})
    excluded = getattr(imports, "_excluded_edges", {})

    per_file: dict[str, dict[str, Any]] = {}
    for path in lint:
        module = visited.get(path)
        stats: dict[str, Any] = dict(linter.stats.by_module.get(module, {})) if module else {}
        lineset = linesets.get(module) if module else None
        per_file[path] = {
            "module": module,
            "statements": int(stats.get("statement", 0)),
            "messages": [],
            "lineset": _lineset_data(lineset) if lineset is not None else None,
            "graph": sorted(graph.get(module, ())) if module else [],
            "excluded": sorted(excluded.get(module, ())) if module else [],
        }
    project: list[list[str]] = []
    orphans: list[list[str]] = []
    for message in reporter.messages:
        entry = [message.symbol, message.category]
        if message.symbol in PROJECT_WIDE:
            project.append(entry)
            continue
        target = per_file.get(_relative(message.abspath)) if message.abspath else None
        (target["messages"] if target is not None else orphans).append(entry)
    file_modules = {visited.get(path) for path in lint}
    extra_modules = sorted(m for m in linter.stats.by_module if m not in file_modules)

    if not cold:
        # The run's own project-wide messages saw only the linted files; replay pylint's
        # map/reduce step over every file's recorded data instead.
        project = []
        start = len(reporter.messages)
        all_data = {**cached, **per_file}
        modules = [(all_data[p]["module"], all_data[p]) for p in files if p in all_data]
        if similar is not None:
            sets = [_lineset(m, d["lineset"]) for m, d in modules if m and d["lineset"]]
            similar.reduce_map_data(linter, [sets])
        if imports is not None:
            edges: defaultdict[str, set[str]] = defaultdict(set)
            skipped: defaultdict[str, set[str]] = defaultdict(set)
            for module, data in modules:
                if module and data["graph"]:
                    edges[module] = set(data["graph"])
                if module and data["excluded"]:
                    skipped[module] = set(data["excluded"])
            imports.reduce_map_data(linter, [(edges, skipped)])
        project = [[m.symbol, m.category] for m in reporter.messages[start:]]

    return {
        "files": per_file,
        "project": project,
        "orphans": orphans,
        "extra_modules": extra_modules,
        "statement": int(linter.stats.statement),
        "evaluation": linter.config.evaluation,
        "unsafe": _unsafe_checkers(linter),
    }


def main(argv: list[str]) -> int:
    """Entry point: ``OUTPUT REQUEST``; writes the JSON result to OUTPUT."""
    output, request = argv
    result = run(json.loads(request))
    Path(output).write_text(json.dumps(result), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
