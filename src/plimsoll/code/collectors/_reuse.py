"""When a module's pylint result still holds after a file it imports changed.

A module's pylint messages depend on what astroid infers into the modules it imports, so its
cached result is keyed by its whole import closure (:mod:`._imports`). One kind of change
cannot reach it, though, and it is the usual change to a module imported everywhere: new
functions or classes appended to it. The module's existing code is untouched, line for line,
so what astroid infers from it is the same; the new definitions are only reached by a module
that names them. :func:`reusable` decides it, exactly and conservatively:

* the changed file's top-level statements before the change are, positions included, the
  first ones after it, and what follows are ``def``/``class`` statements holding no import,
  ``global`` or ``nonlocal`` (nothing that changes another module's names or the import
  graph pylint's ``cyclic-import`` walks);
* their names are new to the file: not mentioned anywhere in it before (as a name, an
  attribute, an import or a string), so no existing code of it can come to mean them;
* no file of the importer's closure other than the changed ones mentions those names (in
  any of those ways), uses a star import, or has a module ``__getattr__``, and the changed
  file had neither: names that come from elsewhere could not be checked.

Anything else (an edited function, a moved one, an import added) re-lints the importers, as
before. A file's :class:`ModuleShape` is what the check needs of it, kept in the cache by
content hash.
"""

from __future__ import annotations

import ast
import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

# Statements that may be appended without reaching other modules.
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
# Nodes that would let an appended definition reach other modules' names or imports.
_REACHING = (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class ModuleShape:
    """What :func:`reusable` needs of one file.

    ``statements`` digests each top-level statement with its position; ``definitions`` gives,
    for each, the name it defines when it is a ``def``/``class`` that could be appended
    harmlessly (else None); ``names`` are the identifiers, attributes, import names and
    strings the file mentions; ``dynamic`` says it has a star import or a module
    ``__getattr__`` (names not all written in it).
    """

    statements: tuple[str, ...]
    definitions: tuple[str | None, ...]
    names: frozenset[str]
    dynamic: bool

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the cache)."""
        return {
            "statements": list(self.statements),
            "definitions": list(self.definitions),
            "names": sorted(self.names),
            "dynamic": self.dynamic,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleShape | None:
        """The shape stored by :meth:`to_dict`, or None for an entry of another form."""
        try:
            statements = tuple(str(s) for s in data["statements"])
            definitions = tuple(None if d is None else str(d) for d in data["definitions"])
            names = frozenset(str(n) for n in data["names"])
            dynamic = bool(data["dynamic"])
        except (KeyError, TypeError):
            return None
        if len(definitions) != len(statements):
            return None
        return cls(statements, definitions, names, dynamic)


def module_shape(tree: ast.Module) -> ModuleShape:
    """The shape of a parsed file."""
    statements: list[str] = []
    definitions: list[str | None] = []
    dynamic = False
    for statement in tree.body:
        digest = hashlib.sha256(ast.dump(statement, include_attributes=True).encode())
        statements.append(digest.hexdigest()[:32])
        defines = None
        if isinstance(statement, _DEFINITIONS) and not any(
            isinstance(node, _REACHING) for node in ast.walk(statement)
        ):
            defines = statement.name
        definitions.append(defines)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            dynamic = dynamic or statement.name == "__getattr__"
    return ModuleShape(
        tuple(statements), tuple(definitions), _mentioned(tree), dynamic or _star(tree)
    )


def _mentioned(tree: ast.Module) -> frozenset[str]:
    """Every name the file mentions: identifiers, attributes, definitions, imports, strings."""
    names: set[str] = set()
    add = names.add
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            add(node.id)
        elif isinstance(node, ast.Attribute):
            add(node.attr)
        elif isinstance(node, _DEFINITIONS):
            add(node.name)
        elif isinstance(node, ast.arg):
            add(node.arg)
        elif isinstance(node, ast.alias):
            add(node.name.split(".")[0])
            add(node.name.rsplit(".", 1)[-1])
            if node.asname:
                add(node.asname)
        elif isinstance(node, ast.keyword) and node.arg:
            add(node.arg)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            # getattr(module, "name"), __all__ entries, string annotations: as a whole and by
            # the words in it (a string annotation "Session | None").
            add(node.value)
            names.update(_WORDS.findall(node.value))
    return frozenset(names)


def _star(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names)
        for node in ast.walk(tree)
    )


def appended_names(old: ModuleShape, new: ModuleShape) -> frozenset[str] | None:
    """The names ``new`` defines by appending harmless definitions to ``old``; None when the
    change is anything else (see the module notes)."""
    if old.dynamic or new.dynamic:
        return None
    count = len(old.statements)
    if new.statements[:count] != old.statements:
        return None
    added = new.definitions[count:]
    names = frozenset(name for name in added if name is not None)
    if len(names) != len(added):
        return None
    # New to the file: no existing code of it can come to mean them.
    if names & old.names:
        return None
    return names


def reusable(
    path: str,
    old_members: Mapping[str, str],
    new_members: Mapping[str, str],
    shape_of: Callable[[str], ModuleShape | None],
) -> bool:
    """Whether ``path``'s old result holds for its new closure.

    ``old_members`` and ``new_members`` map each file of its import closure to its signature
    (content hash, module name and import resolution: :func:`._imports.closure_keys`'s) and,
    after a colon, its content hash. ``shape_of`` gives a file's shape by content hash (None
    when it is not known).
    """
    if set(old_members) != set(new_members) or old_members.get(path) != new_members.get(path):
        return False
    changed = [m for m in new_members if new_members[m] != old_members[m]]
    if not changed:
        return True
    added: set[str] = set()
    for member in changed:
        old_signature, _, old_sha = old_members[member].rpartition(":")
        new_signature, _, new_sha = new_members[member].rpartition(":")
        if old_sha == new_sha:
            return False  # same content, other import resolution: a different closure
        old, new = shape_of(old_sha), shape_of(new_sha)
        if old is None or new is None:
            return False
        names = appended_names(old, new)
        if names is None:
            return False
        added |= names
    for member in new_members:
        if member in changed:
            continue
        shape = shape_of(new_members[member].rpartition(":")[2])
        if shape is None or shape.dynamic or shape.names & added:
            return False
    return True
