"""When an importer's pylint result survives a change to a file it imports (pure logic)."""

from __future__ import annotations

import ast

import pytest

from plimsoll.code.collectors._reuse import (
    ModuleShape,
    appended_names,
    module_shape,
    reusable,
)

BASE = '''"""Utilities."""
import os


def join(*parts):
    """Join."""
    return os.path.join(*parts)


class Session:
    """A session."""
'''


def shape(source: str) -> ModuleShape:
    return module_shape(ast.parse(source))


@pytest.mark.parametrize(
    ("added", "names"),
    [
        ("\n\ndef spare():\n    return 1\n", {"spare"}),
        (
            "\n\nasync def fetch():\n    return 1\n\n\nclass Pool(Session):\n    pass\n",
            {"fetch", "Pool"},
        ),
        ("", set()),
        ("\n# a comment only\n", set()),
    ],
)
def test_appended_definitions_are_named(added: str, names: set[str]) -> None:
    assert appended_names(shape(BASE), shape(BASE + added)) == names


LATE = BASE.replace("return os.path.join(*parts)", "return helper(parts)")
NAMED = BASE + '\nNAMES = ["later"]\n'


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # Not an append: an edit, an insertion that moves what follows, a removal.
        (BASE, BASE.replace("return os.path.join(*parts)", 'return "/".join(parts)')),
        (BASE, BASE.replace("\n\nclass Session", "\n\ndef first():\n    pass\n\n\nclass Session")),
        (BASE, BASE.split("\n\nclass Session")[0] + "\n"),
        # Appended, but reaching further: an import, a global, a plain assignment.
        (BASE, BASE + "\n\ndef spare():\n    import json\n    return json\n"),
        (BASE, BASE + "\n\ndef spare():\n    global CACHE\n    CACHE = 1\n"),
        (BASE, BASE + "\nLIMIT = 3\n"),
        # A name the file used before (late binding: join's body comes to mean it).
        (LATE, LATE + "\n\ndef helper(p):\n    return p\n"),
        # A name the file mentions in a string (getattr, __all__).
        (NAMED, NAMED + "\n\ndef later():\n    pass\n"),
        # Names that come from elsewhere cannot be checked.
        (BASE, BASE + "\n\ndef __getattr__(name):\n    return name\n"),
        ("from os import *\n", "from os import *\n\n\ndef f():\n    pass\n"),
    ],
)
def test_anything_else_is_not_an_append(old: str, new: str) -> None:
    assert appended_names(shape(old), shape(new)) is None


def test_a_star_import_or_a_module_getattr_makes_a_file_dynamic() -> None:
    assert shape("from os.path import *\n").dynamic
    assert shape("def __getattr__(name):\n    return name\n").dynamic
    assert not shape(BASE).dynamic


def test_the_shape_survives_the_cache() -> None:
    found = shape(BASE)
    assert ModuleShape.from_dict(found.to_dict()) == found
    assert ModuleShape.from_dict({"statements": []}) is None
    assert ModuleShape.from_dict({**found.to_dict(), "definitions": []}) is None


def _members(**files: str) -> dict[str, str]:
    # A member's value is "<signature>:<content hash>"; here the hash is the file's name.
    return {path: f"sig-{sha}:{sha}" for path, sha in files.items()}


SHAPES = {
    "utils1": shape(BASE),
    "utils2": shape(BASE + "\n\ndef spare():\n    return 1\n"),
    "utils3": shape(BASE.replace("return os", "return  os")),  # same code, reformatted
    "client": shape("from app import utils\n\n\ndef go():\n    return utils.join('a')\n"),
    "spare_user": shape("from app import utils\n\n\ndef go():\n    return utils.spare()\n"),
    "stringly": shape("from app import utils\n\n\ndef go():\n    return getattr(utils, 'spare')\n"),
    "star": shape("from app.utils import *\n"),
}


def test_an_importer_keeps_its_result_when_the_append_does_not_reach_it() -> None:
    old = _members(**{"client.py": "client", "utils.py": "utils1"})
    new = _members(**{"client.py": "client", "utils.py": "utils2"})
    assert reusable("client.py", old, new, SHAPES.get)
    assert reusable("client.py", old, old, SHAPES.get)  # nothing changed


@pytest.mark.parametrize(
    ("old", "new", "why"),
    [
        (
            {"utils.py": "utils1", "x.py": "spare_user"},
            {"utils.py": "utils2", "x.py": "spare_user"},
            "another member names it",
        ),
        (
            {"utils.py": "utils1", "x.py": "stringly"},
            {"utils.py": "utils2", "x.py": "stringly"},
            "named in a string",
        ),
        (
            {"utils.py": "utils1", "x.py": "star"},
            {"utils.py": "utils2", "x.py": "star"},
            "a star import",
        ),
        ({"utils.py": "utils1"}, {"utils.py": "utils3"}, "the positions moved"),
        ({"utils.py": "utils1"}, {"utils.py": "unknown"}, "no shape for the new content"),
        ({"utils.py": "utils1"}, {"utils.py": "utils2", "more.py": "client"}, "the closure grew"),
    ],
)
def test_otherwise_it_is_linted_again(old: dict[str, str], new: dict[str, str], why: str) -> None:
    before = _members(**{"client.py": "client", **old})
    after = _members(**{"client.py": "client", **new})
    assert not reusable("client.py", before, after, SHAPES.get), why


def test_the_importer_itself_changed_or_its_imports_resolve_elsewhere() -> None:
    old = _members(**{"client.py": "client", "utils.py": "utils1"})
    assert not reusable(
        "client.py", old, _members(**{"client.py": "spare_user", "utils.py": "utils1"}), SHAPES.get
    )
    moved = {**old, "utils.py": "sig-other:utils1"}  # same content, another module name
    assert not reusable("client.py", old, moved, SHAPES.get)
