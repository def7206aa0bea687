"""What a migration file does as a whole, for the safety rules that look back or ahead.

Most statement rules need only their statement and the
:class:`~plimsoll.db.lint.context.StatementContext`. A few need more of the file:

* ``DROP INDEX`` and ``REINDEX INDEX`` of an index created earlier in the same migration
  (the context tracks the relations a migration creates, not its indexes);
* ``SET NOT NULL`` after a validated ``CHECK (col IS NOT NULL)`` earlier in the file, which
  PostgreSQL 12 and later use to skip the scan;
* ``VALIDATE CONSTRAINT`` in the same transaction as the constraint's ``NOT VALID`` add;
* a ``BEGIN`` that the file never commits, and a ``COMMIT`` that ends the transaction the
  migration tool opened.

:func:`migration_facts` gathers all of them in one pass over the file the first time a rule
asks, and keeps them for that file only (a one-entry cache keyed on the script): the cost is
one cheap pass per file that needs it, never per statement.
"""

from __future__ import annotations

import bisect
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plimsoll.db.lint.carried import not_null_columns
from plimsoll.db.sqljson import Node, constant, relation_key, unwrap

if TYPE_CHECKING:
    from plimsoll.db.lint.context import StatementContext
    from plimsoll.db.sqljson import JsonScript

_BEGINS = frozenset({"TRANS_STMT_BEGIN", "TRANS_STMT_START"})
_ENDS = frozenset(
    {"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED"}
)


@dataclass
class MigrationFacts:
    """Facts about one file, with the statement index where each became true.

    Relation keys are ``schema.name`` with the schema the file's ``search_path`` gave at that
    statement (``public`` unless set), as :meth:`key_at` computes them.
    """

    # (statement index, default schema from then on), in order.
    schemas: list[tuple[int, str]] = field(default_factory=lambda: [(-1, "public")])
    # Index key -> statement indices of its CREATE INDEX.
    indexes: dict[str, list[int]] = field(default_factory=dict)
    # Statement indices of BEGIN/START and of COMMIT/ROLLBACK/PREPARE, in order.
    begins: list[int] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)
    boundaries: list[int] = field(default_factory=list)
    # (table key, constraint name) -> statement indices of its ADD ... NOT VALID.
    not_valid: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    # (table key, column) -> (statement index, proven) events: a validated CHECK (col IS NOT
    # NULL) proves it; dropping that CHECK takes the proof away.
    not_null: dict[tuple[str, str], list[tuple[int, bool]]] = field(default_factory=dict)
    # (table key, column) -> (statement index, is NOT NULL) events of SET/DROP NOT NULL.
    attnotnull: dict[tuple[str, str], list[tuple[int, bool]]] = field(default_factory=dict)

    def schema_at(self, index: int) -> str:
        """The default schema in effect at statement ``index``."""
        position = bisect.bisect_left(self.schemas, (index, "")) - 1
        return self.schemas[max(position, 0)][1]

    def key_at(self, range_var: Node | None, index: int) -> str:
        """The ``schema.name`` key of a RangeVar at statement ``index``."""
        return relation_key(range_var, self.schema_at(index))

    def name_key_at(self, names: list[str], index: int) -> str:
        """The key of a dotted name (``[schema,] name``) at statement ``index``."""
        if not names:
            return ""
        if len(names) == 1:
            return f"{self.schema_at(index)}.{names[0]}"
        return f"{names[-2]}.{names[-1]}"

    def index_created_before(self, key: str, index: int) -> bool:
        """Whether a CREATE INDEX of ``key`` comes before statement ``index``."""
        found = self.indexes.get(key)
        return bool(found) and found[0] < index  # type: ignore[index]

    def boundary_between(self, first: int, last: int) -> bool:
        """Whether a BEGIN, COMMIT or ROLLBACK lies strictly between two statements."""
        position = bisect.bisect_right(self.boundaries, first)
        return position < len(self.boundaries) and self.boundaries[position] < last

    def ended_before(self, index: int) -> bool:
        """Whether a COMMIT or ROLLBACK comes before statement ``index``."""
        return bool(self.ends) and self.ends[0] < index

    def ends_after(self, index: int) -> bool:
        """Whether a COMMIT or ROLLBACK comes after statement ``index``."""
        return bool(self.ends) and self.ends[-1] > index

    def not_valid_before(self, table: str, constraint: str, index: int) -> int | None:
        """The latest statement before ``index`` that added ``constraint`` NOT VALID."""
        found = self.not_valid.get((table, constraint))
        if not found:
            return None
        position = bisect.bisect_left(found, index) - 1
        return found[position] if position >= 0 else None

    def not_null_proven(self, table: str, column: str, index: int) -> bool:
        """Whether, before statement ``index``, the file proved ``column`` has no NULLs.

        Either a validated CHECK says so, or the column is already NOT NULL (a second SET NOT
        NULL has nothing to check).
        """
        return _latest(self.not_null, (table, column), index) or _latest(
            self.attnotnull, (table, column), index
        )


def _latest(
    events: dict[tuple[str, str], list[tuple[int, bool]]], key: tuple[str, str], index: int
) -> bool:
    """The state the last event of ``key`` before statement ``index`` set (False: none)."""
    found = events.get(key)
    if not found:
        return False
    position = bisect.bisect_left(found, (index, False)) - 1
    return position >= 0 and found[position][1]


def migration_facts(context: StatementContext) -> MigrationFacts:
    """The facts of the file ``context`` is linting (gathered once per file)."""
    script = context.script
    cached = _CACHE.get("facts")
    if cached is not None and cached[0]() is script:
        return cached[1]
    facts = _gather(script)
    _CACHE["facts"] = (weakref.ref(script), facts)
    return facts


_CACHE: dict[str, tuple[weakref.ref[JsonScript], MigrationFacts]] = {}


def _gather(script: JsonScript) -> MigrationFacts:
    facts = MigrationFacts()
    # (table, constraint) -> columns a not-yet-validated CHECK would prove non-null.
    pending: dict[tuple[str, str], list[str]] = {}
    # (table, constraint) -> columns a validated CHECK proves non-null.
    proofs: dict[tuple[str, str], list[str]] = {}
    for statement in script.statements:
        kind, node, index = statement.kind, statement.node, statement.index
        if kind == "TransactionStmt":
            what = node.get("kind", "")
            if what in _BEGINS:
                facts.begins.append(index)
                facts.boundaries.append(index)
            elif what in _ENDS:
                facts.ends.append(index)
                facts.boundaries.append(index)
        elif kind == "IndexStmt":
            name = node.get("idxname")
            if name:
                relation = node.get("relation") or {}
                schema = relation.get("schemaname") or facts.schema_at(index)
                facts.indexes.setdefault(f"{schema}.{name}", []).append(index)
        elif kind == "VariableSetStmt":
            if (node.get("name") or "").lower() == "search_path" and node.get("args"):
                facts.schemas.append((index, str(constant(node["args"][0]))))
        elif kind == "AlterTableStmt":
            table = facts.key_at(node.get("relation"), index)
            _alter(facts, table, node, index, pending, proofs)
    return facts


def _alter(
    facts: MigrationFacts,
    table: str,
    node: Node,
    index: int,
    pending: dict[tuple[str, str], list[str]],
    proofs: dict[tuple[str, str], list[str]],
) -> None:
    for command in node.get("cmds") or ():
        _, cmd = unwrap(command)
        subtype = cmd.get("subtype")
        if subtype == "AT_AddConstraint":
            _, constraint = unwrap(cmd.get("def"))
            name = constraint.get("conname") or ""
            if constraint.get("skip_validation"):
                if name:
                    facts.not_valid.setdefault((table, name), []).append(index)
            if constraint.get("contype") != "CONSTR_CHECK":
                continue
            columns = not_null_columns(constraint.get("raw_expr"))
            if not columns:
                continue
            if constraint.get("skip_validation"):
                # NOT ENFORCED (PostgreSQL 18) leaves ``is_enforced`` out: it proves nothing.
                if name and constraint.get("is_enforced"):
                    pending[(table, name)] = columns
            else:
                if name:
                    proofs[(table, name)] = columns
                for column in columns:
                    facts.not_null.setdefault((table, column), []).append((index, True))
        elif subtype == "AT_ValidateConstraint":
            columns = pending.pop((table, cmd.get("name", "")), [])
            if columns:
                proofs[(table, cmd.get("name", ""))] = columns
            for column in columns:
                facts.not_null.setdefault((table, column), []).append((index, True))
        elif subtype == "AT_DropConstraint":
            pending.pop((table, cmd.get("name", "")), None)
            for column in proofs.pop((table, cmd.get("name", "")), []):
                facts.not_null.setdefault((table, column), []).append((index, False))
        elif subtype in ("AT_SetNotNull", "AT_DropNotNull"):
            state = subtype == "AT_SetNotNull"
            facts.attnotnull.setdefault((table, cmd.get("name", "")), []).append((index, state))
