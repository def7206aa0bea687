"""The project's import graph from ``ast``: which project files each file imports, transitively.

A folder holding ``__init__.py`` is a package; a file's dotted module name is built from the
chain of package folders above it, so the folder above the top-level package (``src/``, or the
project root) is its source root, as pylint and Python see it. Imports that do not name a
project file (the standard library, installed packages, misspellings) are kept as unresolved
names: a file added later that makes one resolve changes the importer's closure key.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath


@dataclass(frozen=True)
class ImportInfo:
    """One file's module name and the dotted names it imports, resolved to project files."""

    module: str
    resolved: dict[str, str | None]


PACKAGE_MARKERS = ("__init__.py", "__init__.pyi")


def module_name(path: str, files: frozenset[str]) -> str:
    """The dotted module name of ``path`` given the project's files (packages by ``__init__.py``,
    or ``__init__.pyi`` as astroid also takes it). A stub has its module's name."""
    pure = PurePosixPath(path)
    parts = [] if pure.stem == "__init__" else [pure.stem]
    folder = pure.parent
    while folder != PurePosixPath(".") and any(
        (folder / marker).as_posix() in files for marker in PACKAGE_MARKERS
    ):
        parts.insert(0, folder.name)
        folder = folder.parent
    if not parts:
        # An __init__.py outside any package: Python would import it by its folder's name.
        parts = [pure.parent.name or "__init__"]
    return ".".join(parts)


def _prefixes(dotted: str) -> list[str]:
    pieces = dotted.split(".")
    return [".".join(pieces[: i + 1]) for i in range(len(pieces))]


def _attribute_chain(node: ast.Attribute) -> tuple[str, list[str]] | None:
    attrs: list[str] = []
    current: ast.expr = node
    while isinstance(current, ast.Attribute):
        attrs.insert(0, current.attr)
        current = current.value
    return (current.id, attrs) if isinstance(current, ast.Name) else None


def imported_names(source: str, module: str, is_package: bool) -> set[str]:
    """Every dotted name ``source`` may import, including parent packages and ``pkg.sub`` chains.

    Attribute chains on an imported name (``import pkg`` then ``pkg.sub.f()``) count too:
    astroid resolves ``pkg.sub`` to the submodule even when only ``pkg`` was imported.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = module.split(".") if is_package else module.split(".")[:-1]
    names: set[str] = set()
    bound: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names.update(_prefixes(alias.name))
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    bound[top] = top
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                keep = len(package) - (node.level - 1)
                if keep <= 0:
                    continue
                base_parts = package[:keep] + (node.module.split(".") if node.module else [])
            else:
                base_parts = (node.module or "").split(".")
            base = ".".join(part for part in base_parts if part)
            if not base:
                continue
            names.update(_prefixes(base))
            for alias in node.names:
                if alias.name != "*":
                    names.add(f"{base}.{alias.name}")
                    bound[alias.asname or alias.name] = f"{base}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Load):
            chain = _attribute_chain(node)
            if chain is not None and chain[0] in bound:
                names.update(_prefixes(".".join([bound[chain[0]], *chain[1]]))[1:])
    return names


def build_imports(sources: Mapping[str, str]) -> dict[str, ImportInfo]:
    """For each path (-> source text), its module name and imported names resolved to paths."""
    files = frozenset(sources)
    modules = {path: module_name(path, files) for path in sorted(files)}
    by_name: dict[str, str] = {}
    for path, name in modules.items():
        by_name.setdefault(name, path)
    infos: dict[str, ImportInfo] = {}
    for path, source in sources.items():
        is_package = PurePosixPath(path).name in PACKAGE_MARKERS
        wanted = imported_names(source, modules[path], is_package)
        infos[path] = ImportInfo(modules[path], {name: by_name.get(name) for name in wanted})
    return infos


def sibling(path: str) -> str | None:
    """The stub of a module (``m.py`` -> ``m.pyi``) or the module of a stub, by name."""
    if path.endswith(".pyi"):
        return path[:-1]
    if path.endswith(".py"):
        return path + "i"
    return None


def closures(infos: Mapping[str, ImportInfo]) -> dict[str, set[str]]:
    """For each path, the project files it imports transitively (itself included).

    A module and its stub count as importing each other: pylint lints a stub from the
    module's source (or the module from its stub, with ``prefer-stubs``), and an importer
    may infer into either.
    """
    edges = {
        path: {p for p in info.resolved.values() if p is not None and p in infos}
        for path, info in infos.items()
    }
    for path, found in edges.items():
        other = sibling(path)
        if other is not None and other in infos:
            found.add(other)
    result: dict[str, set[str]] = {}
    for start in infos:
        seen = {start}
        stack = [start]
        while stack:
            for nxt in edges[stack.pop()]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        result[start] = seen
    return result


def signatures(infos: Mapping[str, ImportInfo], shas: Mapping[str, str]) -> dict[str, str]:
    """A hash per path over its content, its module name and how its imports resolve."""
    return {
        path: hashlib.sha256(
            "\n".join(
                [shas[path], info.module, *(f"{k}={v}" for k, v in sorted(info.resolved.items()))]
            ).encode()
        ).hexdigest()
        for path, info in infos.items()
    }


def closure_keys(
    infos: Mapping[str, ImportInfo],
    shas: Mapping[str, str],
    members: Mapping[str, set[str]] | None = None,
) -> dict[str, str]:
    """A hash per path over the :func:`signatures` of its closure (``members``: the
    :func:`closures`, when the caller has them)."""
    signed = signatures(infos, shas)
    # The path leads: files of one import cycle share a closure but not their results.
    return {
        path: _digest([path, *(f"{p}:{signed[p]}" for p in sorted(closure))])
        for path, closure in (members if members is not None else closures(infos)).items()
    }


def _digest(lines: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()
