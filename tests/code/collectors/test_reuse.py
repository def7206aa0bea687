"""When an importer's pylint result survives a change to a file it imports (pure logic)."""

from __future__ import annotations

import ast

import pytest

from plimsoll.code.collectors._reuse import (
    ModuleShape,
    changed_statements,
    influencers,
    module_shape,
    reached,
    reusable,
)

UTILS = '''"""Utilities."""
import os

CACHE = {}


def helper(parts):
    """Helper."""
    return list(parts)


def join(*parts):
    """Join."""
    return os.path.join(*helper(parts))


def unused(value):
    """Nobody calls this."""
    return value * 2


class Session:
    """A session."""

    def send(self):
        return join("a", "b")
'''


def shape(source: str) -> ModuleShape:
    return module_shape(ast.parse(source))


def test_statements_match_by_content_whatever_their_place() -> None:
    old = shape(UTILS)
    assert changed_statements(old, old) == (set(), set())
    # Lines added above every function, and a function reformatted: nothing changed.
    moved = UTILS.replace("import os\n", "import os\n\n\n# spacing\n").replace(
        "return value * 2", "return (value\n            * 2)"
    )
    assert changed_statements(old, shape(moved)) == (set(), set())
    edited = UTILS.replace("return value * 2", "return value * 3")
    assert changed_statements(old, shape(edited)) == ({5}, {5})
    appended = UTILS + "\n\ndef spare():\n    return 1\n"
    assert changed_statements(old, shape(appended)) == (set(), {7})


def test_an_importer_reaches_what_it_names_and_what_that_names() -> None:
    utils = shape(UTILS)
    names = [s.binds for s in utils.statements]
    assert names[1] == {"os"} and names[2] == {"CACHE"} and names[6] == {"Session"}
    # Session.send calls join, which calls helper and uses os: all reached; unused is not.
    assert reached(utils, {"Session"}) == {1, 3, 4, 6}
    assert reached(utils, {"CACHE"}) == {2}
    assert reached(utils, {"nothing"}) == set()


def _members(**files: str) -> dict[str, str]:
    # A member's value is "<signature>:<content hash>"; here the hash is a key of SHAPES.
    return {path: f"sig-{sha}:{sha}" for path, sha in files.items()}


SOURCES = {
    "utils": UTILS,
    "client": "from app import utils\n\n\ndef go():\n    return utils.Session().send()\n",
    "cache_user": "from app.utils import CACHE\n\nCACHE['x'] = 1\n",
    "stringly": "from app import utils\n\n\ndef go():\n    return getattr(utils, 'spare')\n",
    "star": "from app.utils import *\n",
    # Changes to utils, each against the client (which reaches Session, join, helper, os).
    "appended": UTILS + "\n\ndef spare(value):\n    return value\n",
    "unused_edited": UTILS.replace("return value * 2", "return value * 3"),
    "moved_down": UTILS.replace("import os\n", "import os\n\n\n# a note\n"),
    "named_append": UTILS + "\n\ndef go():\n    return 1\n",
    "join_edited": UTILS.replace("*helper(parts)", "*parts"),
    "helper_edited": UTILS.replace("return list(parts)", "return tuple(parts)"),
    "method_edited": UTILS.replace('return join("a", "b")', 'return join("a")'),
    "attribute_set": UTILS + "\nSession.timeout = 5\n",
    "global_write": UTILS + "\n\ndef reset():\n    global CACHE\n    CACHE = {}\n",
    "module_getattr": UTILS + "\n\ndef __getattr__(name):\n    return name\n",
    "star_in_utils": UTILS + "\nfrom os.path import *\n",
}
SHAPES = {name: shape(text) for name, text in SOURCES.items()}


@pytest.mark.parametrize("new", ["appended", "unused_edited", "moved_down"])
def test_a_change_the_importer_cannot_reach_keeps_its_result(new: str) -> None:
    old = _members(**{"client.py": "client", "utils.py": "utils"})
    after = _members(**{"client.py": "client", "utils.py": new})
    assert reusable("client.py", old, after, SHAPES.get)


@pytest.mark.parametrize(
    ("importer", "new", "why"),
    [
        ("client", "named_append", "a new function under a name the importer uses"),
        ("client", "join_edited", "a function it reaches, edited"),
        ("client", "helper_edited", "a function reached through another one, edited"),
        ("client", "method_edited", "a method of a class it names"),
        ("client", "attribute_set", "an attribute set on a class it names"),
        ("cache_user", "global_write", "a function rebinding a global it imports"),
        ("stringly", "appended", "a name it spells in a string"),
        ("client", "module_getattr", "a module __getattr__ (pylint consults it unasked)"),
        ("client", "star_in_utils", "a star import in the changed file"),
        ("client", "unknown", "no shape for the new content"),
    ],
)
def test_a_change_it_can_reach_lints_it_again(importer: str, new: str, why: str) -> None:
    old = _members(**{"x.py": importer, "utils.py": "utils"})
    after = _members(**{"x.py": importer, "utils.py": new})
    assert not reusable("x.py", old, after, SHAPES.get), why


def test_a_star_import_elsewhere_in_the_closure_lints_it_again() -> None:
    old = _members(**{"client.py": "client", "s.py": "star", "utils.py": "utils"})
    after = _members(**{"client.py": "client", "s.py": "star", "utils.py": "appended"})
    assert not reusable("client.py", old, after, SHAPES.get)


def test_the_closure_itself_must_be_the_same() -> None:
    old = _members(**{"client.py": "client", "utils.py": "utils"})
    grown = {**_members(**{"client.py": "client", "utils.py": "appended"}), "more.py": "s:star"}
    assert not reusable("client.py", old, grown, SHAPES.get)
    own = _members(**{"client.py": "stringly", "utils.py": "utils"})
    assert not reusable("client.py", old, own, SHAPES.get)
    moved = {**old, "utils.py": "sig-other:utils"}  # same content, another module name
    assert not reusable("client.py", old, moved, SHAPES.get)
    assert reusable("client.py", old, old, SHAPES.get)


def test_the_shape_survives_the_cache() -> None:
    found = SHAPES["utils"]
    assert ModuleShape.from_dict(found.to_dict()) == found
    assert ModuleShape.from_dict({"statements": [["x"]], "dynamic": False}) is None
    assert ModuleShape.from_dict({"dynamic": False}) is None


def test_a_name_a_reached_function_used_before_it_was_defined() -> None:
    # join's body calls `later`, undefined until the change defines it: join now infers
    # into it, so an importer reaching join is linted again; one that does not, is not.
    lazy = UTILS.replace("*helper(parts)", "*later(parts)")
    shapes = {
        "old": shape(lazy),
        "new": shape(lazy + "\n\ndef later(parts):\n    return parts\n"),
        "client": SHAPES["client"],
        "cache_user": SHAPES["cache_user"],
    }
    for importer, expected in (("client", False), ("cache_user", True)):
        old = _members(**{"x.py": importer, "utils.py": "old"})
        new = _members(**{"x.py": importer, "utils.py": "new"})
        assert reusable("x.py", old, new, shapes.get) is expected, importer


def test_an_attribute_assigned_to_another_modules_object_reaches_its_readers() -> None:
    # astroid records `other.Config.timeout = 5` on Config wherever it is written, even in a
    # function: an importer reading `timeout` is linted again. `self.size` in a new class
    # belongs to that class, reached only through its name.
    reader = shape("from app.other import Config\n\n\ndef go():\n    return Config.timeout + 1\n")
    sizes = shape("from app import utils\n\n\ndef go(box):\n    return box.size\n")
    shapes = {
        "old": SHAPES["utils"],
        "setter": shape(UTILS + "\n\ndef tune(other):\n    other.Config.timeout = 5\n"),
        "own": shape(UTILS + "\n\nclass Box:\n    def __init__(self):\n        self.size = 1\n"),
        "reader": reader,
        "sizes": sizes,
    }
    for importer, new, expected in (
        ("reader", "setter", False),
        ("sizes", "own", True),
        ("sizes", "setter", True),
    ):
        old = _members(**{"x.py": importer, "utils.py": "old"})
        after = _members(**{"x.py": importer, "utils.py": new})
        assert reusable("x.py", old, after, shapes.get) is expected, (importer, new)


def test_files_assigning_what_a_file_reads_count_as_its_closure() -> None:
    shapes = {
        "d.py": shape("from pkg.other import Config\n\nprint(Config.timeout)\n"),
        "other.py": shape("class Config:\n    pass\n"),
        "p.py": shape("from pkg import other\n\n\ndef tune():\n    other.Config.timeout = 5\n"),
        "q.py": shape("class Box:\n    def __init__(self):\n        self.timeout = 1\n"),
        "r.py": shape("def unrelated(x):\n    x.colour = 2\n"),
    }
    assert shapes["p.py"].stores == {"timeout"}
    assert shapes["q.py"].stores == frozenset()  # self.timeout is Box's own
    members = {"d.py": {"d.py", "other.py"}, "other.py": {"other.py"}, "r.py": {"r.py"}}
    found = influencers(["d.py", "other.py", "r.py"], members, shapes)
    assert found == {"d.py": {"p.py"}, "other.py": set(), "r.py": set()}
    assert influencers(["x"], {"x": {"x"}}, {"x": shapes["q.py"]}) == {"x": set()}
