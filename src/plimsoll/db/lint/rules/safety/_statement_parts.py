"""Where the parts of a statement are, and which ALTER TABLE subcommands concern the rules.

Shared by the safety rules of this folder. Two questions come up again and again:

* which subcommands of a migration's ``ALTER TABLE`` change a table that already exists
  (:func:`alter_commands`): a table created earlier in the same migration is empty and
  invisible to other sessions, and a schema file builds a fresh database, so the lock rules
  leave both alone;
* where a subcommand of ``ALTER TABLE`` (or the ``RENAME`` of a ``RenameStmt``) starts. The
  parse tree gives no location for an ``AlterTableCmd``, yet a finding should point at the
  ``DROP COLUMN`` on the third line of a long statement, not at its ``ALTER``. The statement
  is scanned with PostgreSQL's own lexer, only when a rule has something to report, so the
  cost is paid per finding and never per statement.

Which column types a statement declares is :mod:`._column_types`' question.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import ClassVar

import pglast.parser

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, Node, unwrap

# Tokens that open and close a nesting level: a comma inside them does not end a subcommand
# (``numeric(10,2)``, ``UNIQUE (a, b)``, ``DEFAULT ARRAY[1, 2]``).
_OPEN = frozenset({"ASCII_40", "ASCII_91"})
_CLOSE = frozenset({"ASCII_41", "ASCII_93"})
_COMMA = "ASCII_44"
_DOT = "ASCII_46"
_STAR = "ASCII_42"
# The lexer reports comments as tokens; they belong to no subcommand.
_COMMENTS = frozenset({"SQL_COMMENT", "C_COMMENT"})


@dataclass(frozen=True, slots=True)
class Span:
    """A part of the file, in byte offsets: ``start`` included, ``end`` excluded."""

    start: int
    end: int


# The statement whose subcommand spans were read last, and the spans: several rules (or one
# rule, once per subcommand) report on the same statement one after the other.
_last_spans: tuple[JsonStatement | None, Node | None, list[Span]] = (None, None, [])


def command_spans(
    statement: JsonStatement, context: StatementContext, relation: Node | None
) -> list[Span]:
    """The spans of the subcommands that follow ``relation``'s name in ``statement``.

    For ``ALTER TABLE s.t ADD COLUMN c int, DROP COLUMN d`` that is ``ADD COLUMN c int`` and
    ``DROP COLUMN d``, in the order of the tree's ``cmds``; for a ``RenameStmt`` it is the
    one span from ``RENAME`` to the end. Empty when the relation's name cannot be found (the
    caller then points at the statement).
    """
    global _last_spans
    cached, named, spans = _last_spans
    if cached is statement and named is relation:
        return spans
    spans = _command_spans(statement, context, relation)
    _last_spans = (statement, relation, spans)
    return spans


def _command_spans(
    statement: JsonStatement, context: StatementContext, relation: Node | None
) -> list[Span]:
    if not relation:
        return []
    text = context.text(statement)
    data = context.script.data
    base = statement.start
    location = relation.get("location", -1)
    if not isinstance(location, int) or location < base:
        return []
    # The lexer counts characters; the tree and the findings count bytes.
    name_at = len(data[base:location].decode("utf-8", "replace"))
    try:
        tokens = [t for t in pglast.parser.scan(text) if t.name not in _COMMENTS]
    except Exception:  # noqa: BLE001 - the statement parsed, so this is not expected
        return []
    index = next((i for i, token in enumerate(tokens) if token.start >= name_at), len(tokens))
    index += 1  # past the first part of the name
    while index + 1 < len(tokens) and tokens[index].name == _DOT:
        index += 2  # past ``.name``
    if index < len(tokens) and tokens[index].name == _STAR:
        index += 1  # ``ALTER TABLE t* ...``: descendants included
    if index >= len(tokens):
        return []
    # Each subcommand runs from its first token to its last one before a comma at depth 0.
    bounds: list[list[int]] = []
    depth = 0
    fresh = True
    for token in tokens[index:]:
        name = token.name
        if name == _COMMA and depth == 0:
            fresh = True
            continue
        if name in _OPEN:
            depth += 1
        elif name in _CLOSE:
            depth -= 1
        if fresh:
            bounds.append([token.start, token.end + 1])
            fresh = False
        else:
            bounds[-1][1] = token.end + 1

    def to_bytes(char_offset: int) -> int:
        return base + len(text[:char_offset].encode("utf-8"))

    return [Span(to_bytes(start), to_bytes(end)) for start, end in bounds]


def command_location(
    statement: JsonStatement, context: StatementContext, relation: Node | None, index: int
) -> int | None:
    """The byte offset of subcommand ``index`` (see :func:`command_spans`), or None."""
    spans = command_spans(statement, context, relation)
    return spans[index].start if index < len(spans) else None


def existing_relation(context: StatementContext, range_var: Node | None) -> str | None:
    """The key of the relation a migration's statement changes, when it already existed.

    None in a schema file (it builds a fresh database) and for a relation created earlier in
    the same migration (empty, and invisible to other sessions until the commit): the lock
    rules leave both alone.
    """
    if not context.migration:
        return None
    key = context.key(range_var)
    return None if context.is_new(key) else key


# Kinds of ALTER TABLE subcommands the rules look for (``subtypes`` of :func:`alter_commands`).
ADD_COLUMN = frozenset({"AT_AddColumn"})
# What may bring constraints along: ADD CONSTRAINT, and ADD COLUMN with column constraints.
ADDS = frozenset({"AT_AddConstraint", "AT_AddColumn"})


@dataclass(frozen=True, slots=True)
class AlterCommand:
    """One subcommand of an ``ALTER TABLE`` on an existing table (see :func:`alter_commands`).

    ``cmd`` holds the ``AlterTableCmd``'s fields and ``definition`` those of its ``def`` (the
    ColumnDef of ``ADD COLUMN`` and ``ALTER COLUMN ... TYPE``, the Constraint of ``ADD
    CONSTRAINT``; empty when there is none); ``position`` is its index in the statement.
    """

    table: str
    subtype: str
    cmd: Node
    definition: Node
    position: int
    statement: JsonStatement
    context: StatementContext

    @property
    def name(self) -> str:
        """The ``name`` of the subcommand: the column, constraint or partition it is about."""
        name: str = self.cmd.get("name", "")
        return name

    @property
    def column(self) -> str:
        """The column it changes: the new column of ``ADD COLUMN``, else its ``name``."""
        if self.subtype == "AT_AddColumn":
            colname: str = self.definition.get("colname", "")
            return colname
        return self.name

    @property
    def location(self) -> int | None:
        """The byte offset where the subcommand starts (read with the lexer: report only)."""
        relation = self.statement.node.get("relation")
        return command_location(self.statement, self.context, relation, self.position)

    def constraints(self, contype: str) -> list[Node]:
        """The constraints of kind ``contype`` (``CONSTR_FOREIGN``...) it adds.

        The constraint of ``ADD CONSTRAINT``, or the column constraints of ``ADD COLUMN``.
        """
        if self.subtype == "AT_AddConstraint":
            return [self.definition] if self.definition.get("contype") == contype else []
        found = []
        for item in self.definition.get("constraints") or ():
            _, constraint = unwrap(item)
            if constraint.get("contype") == contype:
                found.append(constraint)
        return found


def alter_commands(
    statement: JsonStatement,
    context: StatementContext,
    subtypes: frozenset[str],
    *,
    any_relation: bool = False,
) -> Iterator[AlterCommand]:
    """The subcommands of kinds ``subtypes`` of a migration's ALTER TABLE on an existing table.

    Nothing for a schema file, for a table created earlier in the same migration (see
    :func:`existing_relation`), or, unless ``any_relation``, for ``ALTER`` of anything but a
    table (``ALTER INDEX``, ``ALTER VIEW``...).
    """
    node = statement.node
    if not any_relation and node.get("objtype", "OBJECT_TABLE") != "OBJECT_TABLE":
        return
    table = existing_relation(context, node.get("relation"))
    if table is None:
        return
    for position, command in enumerate(node.get("cmds") or ()):
        _, cmd = unwrap(command)
        subtype = cmd.get("subtype", "")
        if subtype in subtypes:
            _, definition = unwrap(cmd.get("def"))
            yield AlterCommand(table, subtype, cmd, definition, position, statement, context)


class AlterTableRule(StatementRule):
    """A rule about some subcommands of a migration's ALTER TABLE on an existing table.

    Subclasses list the subcommand kinds they look at in ``subtypes`` and judge each one in
    :meth:`judge`; :func:`alter_commands` says which subcommands reach them.
    """

    node_types: ClassVar[tuple[str, ...]] = ("AlterTableStmt",)
    subtypes: ClassVar[frozenset[str]] = frozenset()
    # Whether ALTER INDEX, ALTER VIEW... are judged too, not only ALTER TABLE.
    any_relation: ClassVar[bool] = False

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterable[Violation]:
        """The findings of :meth:`judge` on each subcommand of ``subtypes``."""
        # A plain function, not a generator: in a schema file (every statement of a large
        # schema) the rule is done before anything is built.
        if not context.migration:
            return ()
        return self._judge_all(statement, context)

    def _judge_all(
        self, statement: JsonStatement, context: StatementContext
    ) -> Iterator[Violation]:
        commands = alter_commands(statement, context, self.subtypes, any_relation=self.any_relation)
        for command in commands:
            yield from self.judge(command)

    @abstractmethod
    def judge(self, command: AlterCommand) -> Iterable[Violation]:
        """The findings on one subcommand (its statement and context come with it)."""


def span_text(context: StatementContext, span: Span, limit: int = 60) -> str:
    """The text of ``span`` on one line, cut to ``limit`` characters."""
    raw = context.script.data[span.start : span.end].decode("utf-8", "replace")
    flat = " ".join(raw.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."
