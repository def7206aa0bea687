"""When a module's pylint result still holds after a file it imports changed.

A module's pylint messages depend on what astroid infers into the modules it imports, so its
cached result is keyed by its whole import closure (:mod:`._imports`). Most changes to a module
imported everywhere cannot reach most of its importers, though: a function appended, or one
edited that a given importer never uses, directly or through what it uses. :func:`reusable`
decides it for one importer, conservatively:

* the changed file's top-level statements, old and new, are matched by content (positions
  left out: a statement moved down by an edit above it is the same statement); the ones
  that do not match are the *changed* ones;
* the importer *reaches* a top-level statement of the changed file when the statement binds
  a name at module level (a ``def``, a ``class``, an assignment, an import, a ``global`` in a
  function, the object of an attribute or item assignment) that the importer or any other
  unchanged file of its closure mentions, as a name, an attribute, an import or a string, or
  that a statement it reaches mentions (what a reached function's body names, it may infer
  into);
* the result holds when no changed statement, old or new, is reached, and no file involved
  has a star import (whose names come from another file). A module ``__getattr__`` and
  ``__all__`` count as mentioned by every importer (pylint consults them unasked). Writes
  that only run (``setattr``, ``globals()[...]``) are left out as astroid leaves them out.

An edit of anything the importer can infer into, an import that brings a new file into its
closure, or an unknown file re-lints it, as before.

A file outside the import closure can reach a result too: pylint builds every file of a run
before checking any, and astroid records an attribute assignment (``other.Config.timeout =
5``, even inside a function) on the object assigned to. :func:`influencers` adds the files
assigning an attribute a file or its closure mentions to its closure, for its cache key and
for the check above. Line numbers of the changed file are not
compared: pylint reports an importer's messages at the importer's own lines and names, and an
edit shifts the statements after it in order, which keeps every "defined before" the same.
A file's :class:`ModuleShape` is what the check needs of it, kept in the cache by content
hash.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

# Module names pylint consults for an importer without the importer naming them: a module
# __getattr__ silences its no-member and no-name-in-module checks; __all__ is what a star
# import takes.
_IMPLIED = frozenset({"__getattr__", "__all__"})
_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class TopStatement:
    """One top-level statement: its content digest, the module names it binds, the names it
    mentions."""

    digest: str
    binds: frozenset[str]
    mentions: frozenset[str]


@dataclass(frozen=True)
class ModuleShape:
    """What :func:`reusable` needs of one file: its top-level statements, whether it has a
    star import (``dynamic``: names that no statement of it spells), and the attributes it
    assigns on objects that may live in other modules (``stores``: see :func:`influencers`)."""

    statements: tuple[TopStatement, ...]
    dynamic: bool
    stores: frozenset[str] = frozenset()

    @cached_property
    def mentions(self) -> frozenset[str]:
        """Every name the file mentions."""
        return frozenset().union(*(s.mentions for s in self.statements))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form (for the cache)."""
        return {
            "statements": [
                [s.digest, sorted(s.binds), sorted(s.mentions)] for s in self.statements
            ],
            "dynamic": self.dynamic,
            "stores": sorted(self.stores),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModuleShape | None:
        """The shape stored by :meth:`to_dict`, or None for an entry of another form."""
        try:
            statements = tuple(
                TopStatement(str(digest), frozenset(binds), frozenset(mentions))
                for digest, binds, mentions in data["statements"]
            )
            dynamic = bool(data["dynamic"])
            stores = frozenset(str(name) for name in data["stores"])
        except (KeyError, TypeError, ValueError):
            return None
        return cls(statements, dynamic, stores)


def module_shape(tree: ast.Module) -> ModuleShape:
    """The shape of a parsed file."""
    statements = []
    dynamic = False
    stores: set[str] = set()
    for statement in tree.body:
        binds, mentions, star = _scan(statement, stores)
        dynamic = dynamic or star
        digest = hashlib.sha256(ast.dump(statement).encode()).hexdigest()[:32]
        statements.append(TopStatement(digest, frozenset(binds), frozenset(mentions)))
    return ModuleShape(tuple(statements), dynamic, frozenset(stores))


def influencers(
    paths: Iterable[str],
    members_of: Mapping[str, set[str]],
    shapes: Mapping[str, ModuleShape | None],
) -> dict[str, set[str]]:
    """For each of ``paths``, the files outside its import closure that can still change its
    pylint result: those assigning an attribute it or its closure mentions.

    Pylint builds every file of a run before checking any, and astroid records an attribute
    assignment on the object assigned to wherever that object lives: ``other.Config.timeout
    = 5`` in a file nobody imports removes a ``no-member`` from every module reading
    ``Config.timeout`` (checked with pylint 3). Such a file is as good as imported.
    """
    storers: dict[str, set[str]] = {}
    for path, shape in shapes.items():
        for name in shape.stores if shape is not None else ():
            storers.setdefault(name, set()).add(path)
    if not storers:
        return {path: set() for path in paths}
    stored = storers.keys()
    hits = {p: shape.mentions & stored for p, shape in shapes.items() if shape is not None}
    found: dict[str, set[str]] = {}
    for path in paths:
        members = members_of[path]
        names = set().union(*(hits.get(m, ()) for m in members))
        found[path] = set().union(*(storers[n] for n in names)) - members
    return found


def _scan(statement: ast.stmt, stores: set[str]) -> tuple[set[str], set[str], bool]:
    """In one walk: the module-level names ``statement`` binds, every name it mentions, and
    whether it holds a star import.

    Bound: a ``def``/``class`` name, assignment and ``del`` targets, the object of an
    attribute or item assignment (``Session.timeout = 5`` changes ``Session``), the names of
    an attribute assigned anywhere but on ``self``/``cls`` (astroid records it on the
    object assigned to, in its own module), imports,
    ``except ... as``, match captures, walrus targets, and the names a function declares
    ``global``. Mentioned: identifiers, attributes, definitions, arguments, imports, keywords
    and the words of strings (``getattr(m, "name")``, string annotations).
    """
    binds: set[str] = set()
    mentions: set[str] = set()
    star = False
    stack: list[tuple[ast.AST, bool]] = [(statement, True)]
    while stack:
        node, top = stack.pop()
        if isinstance(node, ast.Name):
            mentions.add(node.id)
            if top and not isinstance(node.ctx, ast.Load):
                binds.add(node.id)
        elif isinstance(node, ast.Attribute):
            mentions.add(node.attr)
            if not isinstance(node.ctx, ast.Load):
                _bind_attribute(node, top, binds, stores)
        elif isinstance(node, ast.Subscript):
            if top and not isinstance(node.ctx, ast.Load):
                _bind_root(node, binds)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            mentions.add(node.name)
            if top:
                binds.add(node.name)
            for child in ast.iter_child_nodes(node):
                stack.append((child, False))
            continue
        elif isinstance(node, ast.Global):
            binds.update(node.names)  # a function's assignments to them are module-level
        elif isinstance(node, ast.arg):
            mentions.add(node.arg)
        elif isinstance(node, ast.alias):
            mentions.update(node.name.split("."))
            if node.asname:
                mentions.add(node.asname)
            if top:
                binds.add(node.asname or node.name.split(".")[0])
            star = star or node.name == "*"
        elif isinstance(node, ast.keyword):
            if node.arg:
                mentions.add(node.arg)
        elif isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                mentions.add(node.value)
                mentions.update(_WORDS.findall(node.value))
        elif isinstance(node, ast.ExceptHandler | ast.MatchAs | ast.MatchStar):
            if top and node.name:
                binds.add(node.name)
                mentions.add(node.name)
        for child in ast.iter_child_nodes(node):
            stack.append((child, top))
    return binds, mentions, star


def _bind_attribute(node: ast.Attribute, top: bool, binds: set[str], stores: set[str]) -> None:
    """An attribute assignment: astroid records it on the object assigned to, in whatever
    module that object lives (``other.Config.timeout = 5``, even in a function, records
    ``timeout`` on ``Config``), so the attribute's name is bound for whoever reads it;
    ``self.x`` / ``cls.x`` in a method belongs to the class being defined, reached through
    its name. At module level the object's own name is bound too."""
    if top:
        _bind_root(node, binds)
    else:
        root: ast.expr = node.value
        while isinstance(root, ast.Attribute | ast.Subscript):
            root = root.value
        if isinstance(root, ast.Name) and root.id in ("self", "cls"):
            return
    binds.add(node.attr)
    stores.add(node.attr)


def _bind_root(node: ast.Attribute | ast.Subscript, binds: set[str]) -> None:
    """The name whose object an attribute or item assignment changes (``a.b[c].d = 1``: a)."""
    root: ast.expr = node
    while isinstance(root, ast.Attribute | ast.Subscript):
        root = root.value
    if isinstance(root, ast.Name):
        binds.add(root.id)


def changed_statements(old: ModuleShape, new: ModuleShape) -> tuple[set[int], set[int]]:
    """The indexes of the statements of ``old`` and of ``new`` that do not match by content."""
    before = [s.digest for s in old.statements]
    after = [s.digest for s in new.statements]
    kept_old: set[int] = set()
    kept_new: set[int] = set()
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for block in matcher.get_matching_blocks():
        kept_old.update(range(block.a, block.a + block.size))
        kept_new.update(range(block.b, block.b + block.size))
    return set(range(len(before))) - kept_old, set(range(len(after))) - kept_new


def reached(shape: ModuleShape, names: Iterable[str]) -> set[int]:
    """The statements of ``shape`` an importer mentioning ``names`` can infer into."""
    wanted = set(names)
    found: set[int] = set()
    grew = True
    while grew:
        grew = False
        for index, statement in enumerate(shape.statements):
            if index not in found and statement.binds & wanted:
                found.add(index)
                wanted |= statement.mentions
                grew = True
    return found


def reusable(
    path: str,
    old_members: Mapping[str, str],
    new_members: Mapping[str, str],
    shape_of: Callable[[str], ModuleShape | None],
) -> bool:
    """Whether ``path``'s old result holds for its new closure.

    ``old_members`` and ``new_members`` map each file of its import closure to its signature
    (content hash, module name and import resolution: :func:`._imports.signatures`) and,
    after a colon, its content hash. ``shape_of`` gives a file's shape by content hash (None
    when it is not known).
    """
    if set(old_members) != set(new_members) or old_members.get(path) != new_members.get(path):
        return False
    changed = [m for m in new_members if new_members[m] != old_members[m]]
    if not changed:
        return True
    versions: list[tuple[ModuleShape, ModuleShape]] = []
    for member in changed:
        old_sha = old_members[member].rpartition(":")[2]
        new_sha = new_members[member].rpartition(":")[2]
        if old_sha == new_sha:
            return False  # same content, other import resolution: a different closure
        old, new = shape_of(old_sha), shape_of(new_sha)
        if old is None or new is None or old.dynamic or new.dynamic:
            return False
        versions.append((old, new))
    names: set[str] = set(_IMPLIED)
    for member in new_members:
        if member not in changed:
            shape = shape_of(new_members[member].rpartition(":")[2])
            if shape is None or shape.dynamic:
                return False
            names |= shape.mentions
    for index, (old, new) in enumerate(versions):
        # What the other changed files mention, in either version, may reach this one.
        others = [v for i, pair in enumerate(versions) if i != index for v in pair]
        start = names.union(*(shape.mentions for shape in others))
        if not _untouched(old, new, start):
            return False
    return True


def _untouched(old: ModuleShape, new: ModuleShape, names: set[str]) -> bool:
    """Whether no changed statement of either version is reached from ``names``."""
    changed_old, changed_new = changed_statements(old, new)
    pairs: Sequence[tuple[ModuleShape, set[int]]] = ((old, changed_old), (new, changed_new))
    return all(not (reached(shape, names) & changed) for shape, changed in pairs)
