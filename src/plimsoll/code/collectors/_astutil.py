"""Shared AST helpers for the per-file collectors: stats, complexity, maintainability, debt.

Everything here is pure: it takes source text or an already parsed tree and returns values,
so each collector parses a file once and hands the tree to whichever helpers it needs.

Nesting depth (used by ``complexity`` and ``debt``) is the largest number of compound
statements (``if``/``elif`` chain, ``for``, ``while``, ``try``, ``with``, ``match`` and their
async forms) enclosing any statement of a function. An ``elif`` continues its ``if`` at the
same level; a function or class defined inside the function does not add a level, its
statements count on from where it is defined. A function without blocks has depth 0.
"""

from __future__ import annotations

import ast
import re
import tokenize
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from radon.raw import Module, analyze

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef

# radon's raw analysis re-tokenizes a multi-line statement once per physical line it spans
# (it appends one line and retries until the tokenizer stops complaining), so a statement of
# k lines and t tokens costs about k * t tokenizer work: quadratic in the size of a big
# literal. Measured at 0.2 to 1 microsecond per unit (denser literals cost more), this limit
# lets through files that take up to a few seconds (typer's params.py, 7e6 units, 1-2.5 s)
# and refuses generated tables (rich's _emoji_codes.py, 1.2e8 units, over a minute).
RAW_COST_LIMIT = 8_000_000
# What the cost counts as one token: a word or a single punctuation character.
_TOKEN = re.compile(r"\w+|[^\s\w]")
_LINE_END = re.compile(r"\r\n|\r|\n")


def parse(source: str, path: str = "<unknown>") -> ast.Module:
    """Parse ``source`` into a module tree; anything the parser rejects raises SyntaxError."""
    try:
        return ast.parse(source, filename=path)
    except ValueError as exc:
        # ast.parse reports some malformed input (null bytes) as ValueError; for the
        # collectors it is simply a file that does not parse.
        raise SyntaxError(str(exc)) from exc


@dataclass(frozen=True)
class FunctionInfo:
    """A function or method that is not nested inside another function."""

    qualname: str
    node: FunctionNode
    class_name: str | None

    @property
    def lines(self) -> int:
        """Physical lines from the ``def`` line to the last line of the body."""
        end = self.node.end_lineno or self.node.lineno
        return end - self.node.lineno + 1


def outer_functions(tree: ast.AST) -> Iterator[FunctionInfo]:
    """Every function and method not defined inside another function, in source order.

    Functions nested in a function belong to it (their lines, nesting and cognitive
    complexity count towards the enclosing function), so each statement is counted once.
    Methods of nested classes are included, named ``Outer.Inner.method``.
    """

    def visit(node: ast.AST, prefix: str, class_name: str | None) -> Iterator[FunctionInfo]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                yield FunctionInfo(f"{prefix}{child.name}", child, class_name)
            elif isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}{child.name}.", child.name)
            else:
                yield from visit(child, prefix, class_name)

    yield from visit(tree, "", None)


def functions_by_position(tree: ast.AST) -> dict[tuple[int, int], FunctionNode]:
    """All function definitions keyed by (line, column) of their ``def``, as radon reports them."""
    return {
        (node.lineno, node.col_offset): node
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def docstring_lines(tree: ast.Module) -> int:
    """Physical lines taken by the docstrings of the module, its classes and its functions."""
    total = 0
    for node in ast.walk(tree):
        if not isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        if not node.body:
            continue
        first = node.body[0]
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            total += (first.end_lineno or first.lineno) - first.lineno + 1
    return total


def _is_elif(node: ast.If) -> bool:
    """Whether ``node``'s ``else`` branch is an ``elif`` (same column), not a nested if."""
    orelse = node.orelse
    return (
        len(orelse) == 1
        and isinstance(orelse[0], ast.If)
        and orelse[0].col_offset == node.col_offset
    )


def nesting_depth(function: FunctionNode) -> int:
    """The maximum nesting depth of compound statements in ``function`` (see module doc)."""

    def block(body: Sequence[ast.stmt], depth: int) -> int:
        best = depth
        for statement in body:
            best = max(best, one(statement, depth))
        return best

    def one(statement: ast.stmt, depth: int) -> int:
        if isinstance(statement, ast.If):
            best = block(statement.body, depth + 1)
            if _is_elif(statement):
                elif_node = statement.orelse[0]
                assert isinstance(elif_node, ast.If)
                best = max(best, one(elif_node, depth))
            elif statement.orelse:
                best = max(best, block(statement.orelse, depth + 1))
            return best
        if isinstance(statement, ast.For | ast.AsyncFor | ast.While):
            return max(block(statement.body, depth + 1), block(statement.orelse, depth + 1))
        if isinstance(statement, ast.With | ast.AsyncWith):
            return block(statement.body, depth + 1)
        if isinstance(statement, ast.Try | ast.TryStar):
            parts = [statement.body, statement.orelse, statement.finalbody]
            parts.extend(handler.body for handler in statement.handlers)
            return max(block(part, depth + 1) for part in parts)
        if isinstance(statement, ast.Match):
            return max(block(case.body, depth + 1) for case in statement.cases)
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            return block(statement.body, depth)
        return depth

    return block(function.body, 0)


class _Cognitive:
    """Accumulates the cognitive complexity of one function (rules in ``complexity``'s doc)."""

    def __init__(self, name: str, class_name: str | None) -> None:
        self.name = name
        self.class_name = class_name
        self.score = 0

    def block(self, body: Sequence[ast.AST], nesting: int) -> None:
        for node in body:
            self.visit(node, nesting)

    def visit(self, node: ast.AST, nesting: int) -> None:
        if isinstance(node, ast.If):
            self.visit_if(node, nesting, is_elif=False)
        elif isinstance(node, ast.For | ast.AsyncFor):
            self.score += 1 + nesting
            self.visit(node.target, nesting)
            self.visit(node.iter, nesting)
            self.loop_rest(node.body, node.orelse, nesting)
        elif isinstance(node, ast.While):
            self.score += 1 + nesting
            self.visit(node.test, nesting)
            self.loop_rest(node.body, node.orelse, nesting)
        elif isinstance(node, ast.Try | ast.TryStar):
            self.block(node.body, nesting)
            for handler in node.handlers:
                self.score += 1 + nesting
                if handler.type is not None:
                    self.visit(handler.type, nesting)
                self.block(handler.body, nesting + 1)
            if node.orelse:
                self.score += 1
                self.block(node.orelse, nesting + 1)
            self.block(node.finalbody, nesting)
        elif isinstance(node, ast.Match):
            self.score += 1 + nesting
            self.visit(node.subject, nesting)
            for case in node.cases:
                if case.guard is not None:
                    self.visit(case.guard, nesting + 1)
                self.block(case.body, nesting + 1)
        elif isinstance(node, ast.IfExp):
            self.score += 1 + nesting
            self.visit(node.test, nesting)
            self.visit(node.body, nesting + 1)
            self.visit(node.orelse, nesting + 1)
        elif isinstance(node, ast.BoolOp):
            self.score += 1
            self.visit_bool_operands(node, nesting)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            self.visit_nested_function(node, nesting)
        else:
            if isinstance(node, ast.Call) and self.is_recursive_call(node):
                self.score += 1
            for child in ast.iter_child_nodes(node):
                self.visit(child, nesting)

    def visit_if(self, node: ast.If, nesting: int, *, is_elif: bool) -> None:
        # ``elif`` is a hybrid increment: +1 without the nesting penalty.
        self.score += 1 if is_elif else 1 + nesting
        self.visit(node.test, nesting)
        self.block(node.body, nesting + 1)
        if _is_elif(node):
            elif_node = node.orelse[0]
            assert isinstance(elif_node, ast.If)
            self.visit_if(elif_node, nesting, is_elif=True)
        elif node.orelse:
            self.score += 1
            self.block(node.orelse, nesting + 1)

    def loop_rest(self, body: list[ast.stmt], orelse: list[ast.stmt], nesting: int) -> None:
        self.block(body, nesting + 1)
        if orelse:
            self.score += 1
            self.block(orelse, nesting + 1)

    def visit_bool_operands(self, node: ast.BoolOp, nesting: int) -> None:
        for value in node.values:
            # A parenthesised run of the same operator continues the sequence: no new +1.
            if isinstance(value, ast.BoolOp) and type(value.op) is type(node.op):
                self.visit_bool_operands(value, nesting)
            else:
                self.visit(value, nesting)

    def visit_nested_function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, nesting: int
    ) -> None:
        # Decorators and defaults are evaluated where the function is defined; the body is nested.
        if not isinstance(node, ast.Lambda):
            self.block(node.decorator_list, nesting)
            if node.returns is not None:
                self.visit(node.returns, nesting)
        self.visit(node.args, nesting)
        if isinstance(node, ast.Lambda):
            self.visit(node.body, nesting + 1)
        else:
            self.block(node.body, nesting + 1)

    def is_recursive_call(self, call: ast.Call) -> bool:
        func = call.func
        if self.class_name is None:
            return isinstance(func, ast.Name) and func.id == self.name
        return (
            isinstance(func, ast.Attribute)
            and func.attr == self.name
            and isinstance(func.value, ast.Name)
            and func.value.id in ("self", "cls", self.class_name)
        )


def cognitive_complexity(function: FunctionNode, class_name: str | None = None) -> int:
    """The cognitive complexity of ``function`` (a method of ``class_name`` when given)."""
    counter = _Cognitive(function.name, class_name)
    # The function's own decorators, defaults and annotations are not part of its flow.
    counter.block(function.body, 0)
    return counter.score


def _statement_spans(tree: ast.Module) -> Iterator[tuple[int, int]]:
    """(first, last) lines of each unit radon tokenizes in one piece (an upper bound)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.stmt):
            continue
        body = getattr(node, "body", None)
        if isinstance(node, ast.Match):
            first_case = node.cases[0].pattern.lineno if node.cases else node.lineno + 1
            yield node.lineno, max(node.lineno, first_case - 1)
        elif isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            # A compound statement: only its header (up to the first body line) is one unit.
            yield node.lineno, max(node.lineno, body[0].lineno - 1)
        else:
            yield node.lineno, node.end_lineno or node.lineno
        decorators = getattr(node, "decorator_list", None)
        if isinstance(decorators, list):
            for decorator in decorators:
                yield decorator.lineno, decorator.end_lineno or decorator.lineno


def raw_analysis_cost(tree: ast.Module, source: str) -> int:
    """Estimated raw-analysis work of radon on ``source``: sum of lines x tokens per unit.

    Single-line statements cost nothing here (their work is linear). Under the limit the
    cheaper lines x characters upper bound is returned instead.
    """
    # prefix[n] is the offset where line n + 1 starts, with line ends as the parser counts them.
    prefix = [0, *(match.end() for match in _LINE_END.finditer(source)), len(source)]
    last = len(prefix) - 1
    spans = []
    for first, end in _statement_spans(tree):
        end = min(end, last)
        if end > first:
            spans.append((first, end))
    # Characters bound tokens from above: when even that bound is under the limit (all
    # ordinary files), it is estimate enough and counting tokens is not worth the time.
    bound = sum((end - first + 1) * (prefix[end] - prefix[first - 1]) for first, end in spans)
    if bound <= RAW_COST_LIMIT:
        return bound
    return sum(
        (end - first + 1) * len(_TOKEN.findall(source, prefix[first - 1], prefix[end]))
        for first, end in spans
    )


def raw_analysis_refusal(tree: ast.Module, source: str) -> str | None:
    """Why radon's raw analysis would be pathologically slow on ``source``, or None."""
    cost = raw_analysis_cost(tree, source)
    if cost > RAW_COST_LIMIT:
        return (
            "a statement spans too many lines for radon's raw analysis "
            f"(estimated cost {cost:,} > {RAW_COST_LIMIT:,}); skipped"
        )
    return None


def parse_with_raw(source: str, path: str = "<unknown>") -> tuple[ast.Module, Module] | str:
    """The parsed tree and radon's raw metrics of one file, or why raw analysis is refused.

    Raises SyntaxError when the source does not parse or cannot be tokenized; returns the
    refusal reason (a string) when radon's raw analysis would be pathologically slow on it.
    """
    tree = parse(source, path)
    refusal = raw_analysis_refusal(tree, source)
    if refusal is not None:
        return refusal
    try:
        raw = analyze(source)
    except tokenize.TokenError as exc:
        raise SyntaxError(f"cannot tokenize: {exc.args[0] if exc.args else exc}") from exc
    return tree, raw
