"""The ``complexity`` collector against ``radon cc -j``, and cognitive complexity by hand."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import radon.complexity
import radon.metrics
import radon.raw
import radon.visitors
from radon.complexity import cc_rank

from plimsoll.code.collectors._astutil import cognitive_complexity, nesting_depth
from plimsoll.code.collectors.complexity import ComplexityCollector
from tests.code.collectors.test_stats import SAMPLE, make_context, radon_cli

BRANCHY = textwrap.dedent(
    """\
    import asyncio


    async def poll(items, limit):
        async for item in items:
            if item > limit or item < 0:
                return item
        async with asyncio.timeout(1):
            while limit:
                limit -= 1
        return [x for x in range(limit) if x % 2]


    class Machine:
        def step(self, state):
            match state:
                case "a":
                    return 1
                case "b" if self:
                    return 2
                case _:
                    return 0

        def retry(self, n):
            try:
                return self.retry(n - 1) if n else 0
            except ValueError:
                return -1
            else:
                assert n
    """
)


def function_source(source: str) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The first function defined in ``source`` (dedented)."""
    tree = ast.parse(textwrap.dedent(source))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return node
    raise AssertionError("no function")


def radon_functions(cli_output: dict, path: str) -> list[tuple[str, int, int, str]]:
    """(full name, line, complexity, rank) of the function and method blocks radon lists."""
    return sorted(
        (
            f"{block['classname']}.{block['name']}" if block["type"] == "method" else block["name"],
            block["lineno"],
            block["complexity"],
            block["rank"],
        )
        for block in cli_output.get(path, [])
        if block["type"] != "class"
    )


def real_files() -> dict[str, str | bytes]:
    """Radon's own modules: real-world code with classes, closures and branches."""
    files: dict[str, str | bytes] = {}
    for module in (radon.visitors, radon.raw, radon.complexity, radon.metrics):
        assert module.__file__ is not None
        files[f"real/{Path(module.__file__).name}"] = Path(module.__file__).read_bytes()
    return files


def test_cyclomatic_complexity_equals_radon_cc_cli(tmp_path: Path) -> None:
    files = {"sample.py": SAMPLE, "branchy.py": BRANCHY, **real_files()}
    context = make_context(tmp_path, files)
    collector = ComplexityCollector()
    result = collector.collect(context)
    expected = radon_cli(tmp_path, "cc", "-j", *files)

    assert result["skipped_files"] == []
    reference = [row for path in files for row in radon_functions(expected, path)]
    per_file = {path: collector.analyze_file(path, context.read(path), context) for path in files}
    for path in files:
        mine = sorted(
            (f["name"], f["line"], f["cc"], f["rank"]) for f in per_file[path]["functions"]
        )
        assert mine == radon_functions(expected, path), path

    values = [row[2] for row in reference]
    assert result["function_count"] == len(reference)
    assert result["average"] == sum(values) / len(values)
    assert result["max"] == max(values)
    assert result["ranks"] == {r: sum(row[3] == r for row in reference) for r in "ABCDEF"}
    assert sum(result["ranks"].values()) == len(reference)
    assert set(result) == set(ComplexityCollector.keys)
    json.dumps(result)


def test_average_and_ranks_are_radons_function_and_method_blocks_not_radon_cc_a(
    tmp_path: Path,
) -> None:
    """`radon cc -a` averages class blocks too; plimsoll's figures leave them out (as documented)."""
    import click.core

    assert click.core.__file__ is not None
    files: dict[str, str | bytes] = {"core.py": Path(click.core.__file__).read_bytes()}
    context = make_context(tmp_path, files)
    result = ComplexityCollector().collect(context)
    blocks = radon_cli(tmp_path, "cc", "-j", "core.py")["core.py"]
    functions = [b for b in blocks if b["type"] in ("function", "method")]
    classes = [b for b in blocks if b["type"] == "class"]
    assert classes and functions
    values = [b["complexity"] for b in functions]
    assert result["function_count"] == len(functions)
    assert result["average"] == pytest.approx(sum(values) / len(values))
    assert result["ranks"] == {r: sum(b["rank"] == r for b in functions) for r in "ABCDEF"}

    # radon's own average line counts every block, classes included.
    text = subprocess.run(
        [sys.executable, "-m", "radon", "cc", "-a", "core.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    counted = re.search(r"^(\d+) blocks \(classes, functions, methods\) analyzed\.$", text, re.M)
    average = re.search(r"^Average complexity: [A-F] \(([\d.]+)\)$", text, re.M)
    assert counted is not None and average is not None
    assert int(counted.group(1)) == len(functions) + len(classes)
    every_block = [b["complexity"] for b in blocks]
    assert float(average.group(1)) == pytest.approx(sum(every_block) / len(every_block))
    assert float(average.group(1)) != pytest.approx(result["average"])
    # ... and the keys' descriptions (what `plimsoll code collectors` shows) say so.
    assert "radon cc -a" in ComplexityCollector.key_info["average"].description


def test_async_functions_and_methods_are_included(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"branchy.py": BRANCHY})
    functions = ComplexityCollector().analyze_file("branchy.py", BRANCHY, context)["functions"]
    by_name = {f["name"]: f for f in functions}
    assert set(by_name) == {"poll", "Machine.step", "Machine.retry"}
    assert by_name["poll"]["kind"] == "function"
    assert by_name["Machine.step"]["kind"] == "method"
    # radon: 1 + async for + if + `or` + while + comprehension (1) + its `if` (1) = 7.
    assert by_name["poll"]["cc"] == 7
    assert by_name["poll"]["rank"] == cc_rank(7) == "B"


def test_top_functions_are_the_most_complex(tmp_path: Path) -> None:
    files = {"branchy.py": BRANCHY, **real_files()}
    context = make_context(tmp_path, files)
    result = ComplexityCollector().collect(context)
    expected = radon_cli(tmp_path, "cc", "-j", *files)
    reference = sorted(row[2] for path in files for row in radon_functions(expected, path))
    top = result["top"]
    assert len(top) == ComplexityCollector.top_n
    assert [entry["cc"] for entry in top] == sorted(reference, reverse=True)[: len(top)]
    assert set(top[0]) == {"file", "line", "name", "cc", "rank", "cognitive", "nesting"}
    assert result["max"] == top[0]["cc"]
    assert result["cognitive_max"] >= max(entry["cognitive"] for entry in top)


def test_cognitive_complexity_hand_computed() -> None:
    # if +1 (nesting 0); for +2 (nesting 1); inner if +3 (nesting 2); elif +1; else +1;
    # `x and y or z` is two operator sequences +2. Total 10.
    assert (
        cognitive_complexity(
            function_source(
                """
                def a(x, y, z):
                    if x:
                        for i in x:
                            if i:
                                pass
                    elif x is None:
                        pass
                    else:
                        pass
                    return x and y or z
                """
            )
        )
        == 10
    )
    # ternary +1, recursive call +1. Total 2.
    assert (
        cognitive_complexity(
            function_source("def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n")
        )
        == 2
    )


def test_cognitive_complexity_method_recursion_and_try() -> None:
    source = """
    class Walker:
        def walk(self, node):
            try:
                for child in node:
                    self.walk(child)
            except (TypeError, ValueError):
                pass
            except KeyError:
                if node:
                    pass
            else:
                pass
            finally:
                pass
    """
    function = function_source(source)
    # for +1 (try adds no nesting); self.walk recursion +1; first except +1; second
    # except +1; if inside the except +2 (nesting 1); try's else +1. Total 7.
    assert cognitive_complexity(function, "Walker") == 7
    # As a plain function, `self.walk(...)` is not a call to itself: 6.
    assert cognitive_complexity(function) == 6
    # try > for and try > except > if: two levels.
    assert nesting_depth(function) == 2


def test_cognitive_complexity_nested_functions_and_shorthand() -> None:
    nested = function_source(
        """
        def outer(items):
            def key(item):
                if item:
                    return 1
                return 0
            return sorted(items, key=lambda i: i if i else 0)
        """
    )
    # the if in the nested function +2 (nesting 1); the ternary in the lambda +2 (nesting 1).
    assert cognitive_complexity(nested) == 4
    # A nested def adds no nesting level of its own: only the if counts.
    assert nesting_depth(nested) == 1

    shorthand = function_source(
        """
        def e(a, b, c, cmd):
            while a:
                a -= 1
            else:
                pass
            match cmd:
                case "x" if a or b:
                    pass
                case _:
                    pass
            ok = a and (b and c)
            mixed = a and not (b or c)
            with open(cmd) as handle:
                pass
            return [x for x in a if x], ok, mixed, handle
        """
    )
    # while +1; its else +1; match +1; `a or b` in the guard +1; `a and (b and c)` is one
    # sequence +1; `a and not (b or c)` is two +2; with and the comprehension add nothing.
    assert cognitive_complexity(shorthand) == 7
    assert nesting_depth(shorthand) == 1

    else_if = function_source(
        """
        def f(x):
            if x:
                pass
            else:
                if x > 1:
                    pass
        """
    )
    # if +1; else +1; the if nested in the else (not an elif) +2. Total 4, depth 2.
    assert cognitive_complexity(else_if) == 4
    assert nesting_depth(else_if) == 2


def test_nesting_depth_is_reported(tmp_path: Path) -> None:
    source = textwrap.dedent(
        """\
        def deep(rows):
            for row in rows:
                with open(row) as handle:
                    try:
                        if handle:
                            while row:
                                row = row[1:]
                    except OSError:
                        pass
            return rows
        """
    )
    context = make_context(tmp_path, {"deep.py": source})
    result = ComplexityCollector().collect(context)
    # for > with > try > if > while.
    assert result["max_nesting"] == 5
    assert result["top"][0]["nesting"] == 5


def test_file_that_does_not_parse_is_skipped_and_reported(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"good.py": BRANCHY, "bad.py": "class :\n"})
    result = ComplexityCollector().collect(context)
    assert [item["path"] for item in result["skipped_files"]] == ["bad.py"]
    assert result["function_count"] == 3


def test_no_functions_gives_zero_summary(tmp_path: Path) -> None:
    context = make_context(tmp_path, {"constants.py": "X = 1\n"})
    result = ComplexityCollector().collect(context)
    assert result["function_count"] == 0
    assert result["average"] == 0.0
    assert result["max"] == 0
    assert result["top"] == []
