"""Runs pylint in-process on some of a project's files and writes per-file results as JSON.

Usage: ``python -m plimsoll.code.collectors._pylint_driver OUTPUT REQUEST`` where REQUEST is
a JSON object (passed through the argument driver on stdin): ``files`` (every project file,
in order), ``lint`` (the files to lint now) and ``cached`` (path -> the cross-module data
recorded for each file not linted now; an entry without a module, a skipped file's, adds
nothing).

There is no time limit in here: interrupting astroid mid-build leaves a half-built module in
its cache that other files are then linted against. Files too large to lint are left out by
the caller before pylint runs (see :mod:`.pylint`).

Pylint's two project-wide checks, ``duplicate-code`` and ``cyclic-import``, work by the same
map/reduce pylint uses for ``--jobs``: each file contributes its similarity ``LineSet`` and its
import-graph edges, and the checkers' ``reduce_map_data`` computes the messages from all of
them. Recording that data per file lets a run that lints only changed files still get the
project-wide messages exactly, without linting the rest again.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
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


@dataclass
class _FileRecord:
    """What linting one file contributed, taken while pylint lints it."""

    statements: int = 0
    linesets: list[Any] = field(default_factory=list)
    graph: set[str] = field(default_factory=set)
    excluded: set[str] = field(default_factory=set)


class _Recorder:
    """Hooks into one pylint run to tell each linted file's part of the shared results.

    Pylint keys its statistics, similarity data and import graph by module name, and a stub
    and the module beside it share one (pylint lints both, from the module's source): each
    file's part is taken around pylint's ``_lint_file`` instead, and a message emitted while
    a file is linted belongs to that file (its location names the module's source).
    """

    def __init__(self) -> None:
        self.visited: dict[str, str] = {}
        self.current: str | None = None
        self.files: dict[str, _FileRecord] = {}
        self.owners: list[str | None] = []
        # pylint counts a message in its statistics (json2's messageTypeCount, the score) only
        # once its run has opened: what it says about its settings before that is listed,
        # not counted.
        self.opened = False
        self.counted: list[bool] = []

    def install(self, linter_class: Any) -> Any:
        """Wrap ``set_current_module`` and ``_lint_file``; return the undo."""
        recorder = self
        set_module = linter_class.set_current_module
        lint_file = linter_class._lint_file  # noqa: SLF001 - see the class docstring
        open_run = linter_class.open

        def record_open(self: Any) -> None:
            open_run(self)
            recorder.opened = True

        def record_module(self: Any, modname: str | None, filepath: str | None = None) -> None:
            if modname is not None and filepath is not None:
                recorder.visited[_relative(filepath)] = modname
            set_module(self, modname, filepath)

        def record_file(self: Any, file: Any, module: Any, check: Any) -> None:
            path = _relative(file.filepath)
            similar, imports = _reduced(self)
            before = len(similar.linesets) if similar is not None else 0
            graph = getattr(imports, "import_graph", None)
            excluded = getattr(imports, "_excluded_edges", None)
            # Set the module's edges aside, so the ones this file adds can be told apart.
            kept_graph = graph.pop(file.name, set()) if graph is not None else set()
            kept_excluded = excluded.pop(file.name, set()) if excluded is not None else set()
            recorder.current = path
            try:
                lint_file(self, file, module, check)
            finally:
                recorder.current = None
                record = recorder.files.setdefault(path, _FileRecord())
                stats = self.stats.by_module.get(file.name, {})
                record.statements = int(stats.get("statement", 0))
                if similar is not None:
                    record.linesets = list(similar.linesets[before:])
                if graph is not None:
                    record.graph = set(graph.get(file.name, ()))
                    graph[file.name] = kept_graph | record.graph
                if excluded is not None:
                    record.excluded = set(excluded.get(file.name, ()))
                    excluded[file.name] = kept_excluded | record.excluded

        linter_class.set_current_module = record_module
        linter_class._lint_file = record_file  # noqa: SLF001
        linter_class.open = record_open

        def undo() -> None:
            linter_class.set_current_module = set_module
            linter_class._lint_file = lint_file  # noqa: SLF001
            linter_class.open = open_run

        return undo

    def reporter(self) -> Any:
        """A collecting reporter that notes which file was being linted at each message."""
        from pylint.reporters import CollectingReporter

        recorder = self

        class _Owned(CollectingReporter):  # type: ignore[misc]
            def handle_message(self, msg: Any) -> None:
                super().handle_message(msg)
                recorder.owners.append(recorder.current)
                recorder.counted.append(recorder.opened)

        return _Owned()


def _reduced(linter: Any) -> tuple[Any, Any]:
    """The similarities and imports checkers of ``linter`` (None for one that is off)."""
    found = {c.name: c for c in linter.get_checkers() if c.name in REDUCED_CHECKERS}
    return found.get("similarities"), found.get("imports")


def _path_of_every_file(files: list[str]) -> Any:
    """Make pylint put on ``sys.path`` what a run over all ``files`` would; return the undo.

    Pylint puts the folder above each linted file's package on the path while it works, so
    what an import finds depends on the files linted: with ``tests/typing.py`` among them,
    ``import typing`` anywhere is that file. A run linting some of the files (a change, a
    warm server's child) uses the folders of all of them, in the same order, as the whole
    run does.
    """
    from pylint.lint import expand_modules, pylinter

    module: Any = pylinter  # patched for the run (see the docstring)
    linter_class: Any = pylinter.PyLinter
    given = module.augmented_sys_path
    check = linter_class.check
    roots: list[str] = []

    def every_file(_paths: Any) -> Any:
        folders = [expand_modules.discover_package_path(path, roots) for path in files]
        return given(list(dict.fromkeys(folders)))

    def check_noting_roots(self: Any, files_or_modules: Any) -> None:
        roots[:] = self.config.source_roots
        check(self, files_or_modules)

    module.augmented_sys_path = every_file
    linter_class.check = check_noting_roots

    def undo() -> None:
        module.augmented_sys_path = given
        linter_class.check = check

    return undo


def _build_lone_stubs(files: list[str], lint: list[str]) -> None:
    """Build the stubs with no module beside them that this run does not lint, as a whole
    run does.

    A whole run builds every file it lints under its module name before linting any, so a
    stub with no ``.py`` beside it (``pkg/_ext.pyi`` for a compiled ``_ext``) is what
    ``from ._ext import fast`` finds; an import alone does not find it. A run linting some
    of the files builds the others' lone stubs the same way, so those imports read the same.
    """
    from astroid import MANAGER
    from pylint.lint import expand_modules

    linted = set(lint)
    present = set(files)
    for path in files:
        if not path.endswith(".pyi") or path in linted or path[:-1] in present:
            continue
        found: dict[str, Any] = expand_modules.expand_modules([path], [], [], [], [])[0]
        name = found.get(path, {}).get("name")
        if not name:
            continue
        with contextlib.suppress(Exception):
            MANAGER.ast_from_file(os.path.abspath(path), name, source=True)


def run(request: dict[str, Any]) -> dict[str, Any]:
    """Lint ``request['lint']``, then compute the project-wide messages over all files."""
    from pylint.lint import PyLinter, Run

    files: list[str] = request["files"]
    lint: list[str] = request["lint"]
    cached: dict[str, dict[str, Any]] = request["cached"]
    cold = set(lint) == set(files)

    recorder = _Recorder()
    undo = recorder.install(PyLinter)
    undo_path = _path_of_every_file(files)
    _build_lone_stubs(files, lint)
    reporter = recorder.reporter()
    args = ["--persistent=n", "--jobs=1", "--reports=n", "--score=n", *lint]
    try:
        linter = Run(args, reporter=reporter, exit=False).linter
    finally:
        undo_path()
        undo()

    similar, imports = _reduced(linter)
    per_file: dict[str, dict[str, Any]] = {}
    for path in lint:
        module = recorder.visited.get(path)
        record = recorder.files.get(path, _FileRecord())
        per_file[path] = {
            "module": module,
            "statements": record.statements,
            "messages": [],
            "lineset": _lineset_data(record.linesets[0]) if record.linesets else None,
            "graph": sorted(record.graph),
            "excluded": sorted(record.excluded),
        }
    project: list[list[str]] = []
    orphans: list[list[str]] = []
    uncounted: list[list[str]] = []
    for message, owner, counted in zip(
        reporter.messages, recorder.owners, recorder.counted, strict=True
    ):
        entry = [message.symbol, message.category]
        if not counted:
            uncounted.append(entry)
            continue
        if message.symbol in PROJECT_WIDE:
            project.append(entry)
            continue
        if owner is None and message.abspath:
            owner = _relative(message.abspath)
        target = per_file.get(owner) if owner is not None else None
        (target["messages"] if target is not None else orphans).append(entry)
    file_modules = {recorder.visited.get(path) for path in lint}
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
            # A stub and its module share a module name: their edges add up, as in one run.
            edges: defaultdict[str, set[str]] = defaultdict(set)
            skipped: defaultdict[str, set[str]] = defaultdict(set)
            for module, data in modules:
                if module and data["graph"]:
                    edges[module] |= set(data["graph"])
                if module and data["excluded"]:
                    skipped[module] |= set(data["excluded"])
            imports.reduce_map_data(linter, [(edges, skipped)])
        project = [[m.symbol, m.category] for m in reporter.messages[start:]]

    return {
        "files": per_file,
        "built": _outside_modules(),
        "project": project,
        "orphans": orphans,
        "uncounted": uncounted,
        "extra_modules": extra_modules,
        "statement": int(linter.stats.statement),
        "evaluation": linter.config.evaluation,
        "unsafe": _unsafe_checkers(linter),
    }


def _outside_modules() -> list[list[str | None]]:
    """``[name, file]`` of each module astroid built that is not the project's own.

    Those are the modules a warm server builds ahead (see :mod:`._pylint_server`): what lives
    outside the project's folder, in a ``site-packages`` folder (a virtual environment inside
    the project), or is a built-in module (no file).
    """
    from astroid import MANAGER

    root = os.path.abspath(os.getcwd()) + os.sep
    found: list[list[str | None]] = []
    for name, module in list(MANAGER.astroid_cache.items()):
        path = getattr(module, "file", None)
        parts = Path(path).parts if path else ()
        if (
            path is None
            or not os.path.abspath(path).startswith(root)
            or "site-packages" in parts
            or "dist-packages" in parts
        ):
            found.append([name, path])
    return sorted(found, key=lambda item: item[0] or "")


def main(argv: list[str]) -> int:
    """Entry point: ``OUTPUT REQUEST``; writes the JSON result to OUTPUT."""
    output, request = argv
    result = run(json.loads(request))
    Path(output).write_text(json.dumps(result), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
