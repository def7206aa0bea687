"""ban-uncommitted-enum-value."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import PgVersions, Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._migration_facts import migration_facts
from plimsoll.db.lint.rules.safety._transactions import transaction_block
from plimsoll.db.sqljson import JsonScript, JsonStatement, name_key, strings, unwrap


@dataclass(frozen=True)
class _Added:
    """A label added by ``ALTER TYPE ... ADD VALUE``: to which type, at which statement, and
    whether that statement ran in a transaction block."""

    type_key: str
    index: int
    line: int
    in_block: bool


class BanUncommittedEnumValue(StatementRule):
    """Use a value added to an enum only after the transaction that added it commits.

    **Problem.** From PostgreSQL 12, ``ALTER TYPE ... ADD VALUE`` may run inside a
    transaction block, but the new value cannot be used until that transaction commits:
    ``UPDATE``, ``INSERT``, a ``DEFAULT``, an index predicate or a comparison that uses it in
    the same transaction fails with *unsafe use of new value "ok" of enum type mood*. (Even
    when the type itself was created in the same transaction: checked on PostgreSQL 15.)

    **Why.** The migration fails half-way, at the first use; with a migration tool that
    wraps every file in a transaction (plimsoll's migrator does, one transaction per
    migration) every ``ADD VALUE`` followed by a use in the same file fails, however it was
    tested by hand statement by statement.

    **Fix.** Add the value in one migration and use it in the next one, or ``COMMIT``
    between the two. A use is a string equal to the new label in a later statement of the
    same transaction, unless it is cast to another type (``'ok'::text``). Reported when
    both run in one transaction block: after ``BEGIN``, under ``assume_in_transaction``,
    or in one of the project's migrations that plimsoll's migrator runs in one transaction.
    Before PostgreSQL 12 ``ADD VALUE`` cannot run in a transaction block at all (see
    ``ban-non-transactional-statement-in-transaction``), and plimsoll's migrator runs such a
    migration outside one, so the value is committed at once.

    **Example.**

    ```sql
    ALTER TYPE mood ADD VALUE 'ok' AFTER 'sad';
    -- in the next migration, once the value is committed:
    UPDATE users SET mood = 'ok' WHERE mood IS NULL;
    ```
    """

    id = "ban-uncommitted-enum-value"
    severity = Severity.ERROR
    help = (
        "Commit the ADD VALUE before using the value: add it in a migration of its own, or"
        " COMMIT in between."
    )
    pg_versions = PgVersions(minimum=12)
    # ADD VALUE, and the statements that can hold a value of an enum.
    node_types: ClassVar[tuple[str, ...]] = (
        "AlterEnumStmt",
        "InsertStmt",
        "UpdateStmt",
        "DeleteStmt",
        "MergeStmt",
        "SelectStmt",
        "CopyStmt",
        "ExplainStmt",
        "CallStmt",
        "AlterTableStmt",
        "IndexStmt",
        "CreateStmt",
        "CreateTableAsStmt",
        "ViewStmt",
        "RuleStmt",
        "CreatePolicyStmt",
        "AlterPolicyStmt",
        "CreateTrigStmt",
        "CreateDomainStmt",
        "AlterDomainStmt",
        "CreateFunctionStmt",
    )

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        # The file being read and the labels it added so far, by label.
        self._script: weakref.ref[JsonScript] | None = None
        self._added: dict[str, list[_Added]] = {}

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Note a label added by ADD VALUE; flag a use of one in the same transaction."""
        if self._script is None or self._script() is not context.script:
            self._script = weakref.ref(context.script)
            self._added = {}
        kind, node = statement.kind, statement.node
        if kind == "AlterEnumStmt":
            if node.get("newVal") is not None and node.get("oldVal") is None:
                line, _ = context.script.line_column(statement.start)
                added = _Added(
                    name_key(node.get("typeName"), context.default_schema),
                    statement.index,
                    line,
                    transaction_block(statement, context) is not None,
                )
                self._added.setdefault(node["newVal"], []).append(added)
            return
        if not self._added:
            return
        facts = None
        for label, location, cast in _strings(node, self._added):
            for added in self._added[label]:
                if not added.in_block:
                    continue
                if cast is not None and cast != added.type_key.rsplit(".", 1)[-1]:
                    continue
                facts = facts or migration_facts(context)
                if facts.boundary_between(added.index, statement.index):
                    continue
                yield Violation(
                    f"'{label}' was added to {added.type_key} at line {added.line}, in the same"
                    f" transaction: PostgreSQL refuses the use (unsafe use of new value"
                    f' "{label}" of enum type {added.type_key.rsplit(".", 1)[-1]}) until that'
                    " transaction commits",
                    location=location,
                )
                break


def _strings(
    node: Any, labels: dict[str, list[_Added]]
) -> Iterator[tuple[str, int | None, str | None]]:
    """Each string constant under ``node`` equal to one of ``labels``: the label, its location,
    and the name of the type it is cast to (None when it is not cast)."""
    stack: list[tuple[Any, str | None]] = [(node, None)]
    while stack:
        item, cast = stack.pop()
        if isinstance(item, list):
            stack.extend((value, None) for value in reversed(item))
            continue
        if not isinstance(item, dict):
            continue
        kind, inner = unwrap(item)
        if kind == "A_Const":
            value = inner.get("sval")
            text = value.get("sval") if isinstance(value, dict) else None
            if text in labels:
                yield text, inner.get("location"), cast
            continue
        if kind == "TypeCast":
            names = strings((inner.get("typeName") or {}).get("names"))
            stack.append((inner.get("arg"), names[-1] if names else None))
            continue
        fields = inner if kind else item
        stack.extend((value, None) for value in fields.values() if isinstance(value, dict | list))
