"""prefer-robust-stmts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.safety._statement_parts import command_spans, span_text
from plimsoll.db.sqljson import JsonScript, JsonStatement, name_key, unwrap

_IF_EXISTS = "IF EXISTS"
_IF_NOT_EXISTS = "IF NOT EXISTS"
_GUARDLESS = ""  # a change that has no IF [NOT] EXISTS form: only a transaction helps

# DROP statements that have IF EXISTS and are checked (squawk's set: index, table, type).
_DROPS = {"OBJECT_INDEX": "INDEX", "OBJECT_TABLE": "TABLE", "OBJECT_TYPE": "TYPE"}
# The RenameStmt kinds written as ALTER TABLE ... RENAME.
_TABLE_RENAMES = frozenset({"OBJECT_TABLE", "OBJECT_TABCONSTRAINT"})

_DROPPED, _ADDED = "dropped", "added"
_ENDS = frozenset({"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_PREPARE"})


class PreferRobustStmts(StatementRule):
    """Write migrations that can be run again after failing part way.

    **Problem.** A migration that does not run in a transaction (one with ``CREATE INDEX
    CONCURRENTLY`` cannot) stops where it fails and leaves what it did so far in place.
    Run again after the fix, it fails at its first statement: the table, column or index it
    creates already exists, the one it drops is already gone.

    **Why.** The way out is then editing the database by hand, under pressure, or editing a
    migration that has half run. A statement with ``IF NOT EXISTS`` / ``IF EXISTS`` simply
    does nothing the second time.

    **Fix.** Outside a transaction, write ``CREATE TABLE IF NOT EXISTS``, ``CREATE INDEX
    [CONCURRENTLY] IF NOT EXISTS`` (with an explicit index name), ``ADD COLUMN IF NOT
    EXISTS``, ``DROP TABLE / INDEX / TYPE IF EXISTS``, ``DROP COLUMN IF EXISTS`` and ``DROP
    CONSTRAINT IF EXISTS``; precede ``ADD CONSTRAINT`` with ``DROP CONSTRAINT IF EXISTS`` of
    the same name. Other ``ALTER TABLE`` changes (types, NOT NULL, renames, ``SET SCHEMA``,
    ...) have no guard: run them in a transaction, or in a migration of their own.

    The rule follows squawk's: statements between ``BEGIN`` and ``COMMIT``, or in a project
    whose migrations the tool wraps in a transaction (``assume_in_transaction``, up to the
    file's first ``COMMIT`` or ``ROLLBACK``, which ends that transaction too), are not
    flagged, except ``CREATE INDEX CONCURRENTLY`` (which never runs in one); an unnamed
    ``CREATE INDEX`` cannot be guarded and is left out. The project's own migrations run
    through plimsoll's migrator, one transaction each, and are not flagged either, except a
    file holding a statement that cannot run in a transaction (``CONCURRENTLY``, ``VACUUM``,
    ...): the migrator runs that whole file outside one, so each of its statements is
    checked. A ``VALIDATE CONSTRAINT`` of a constraint the file dropped or added after
    dropping it is fine; a temporary table ``ON COMMIT DROP`` is fine. Tables created in the
    same file get no exemption: after a partial run they exist too. Schema files build a
    fresh database and are not checked.

    **Example.**

    ```sql
    -- fails on a second run: the column and the index already exist
    ALTER TABLE users ADD COLUMN billing_email text;
    CREATE INDEX CONCURRENTLY users_billing_email_idx ON users (billing_email);
    -- runs again cleanly
    ALTER TABLE users ADD COLUMN IF NOT EXISTS billing_email text;
    CREATE INDEX CONCURRENTLY IF NOT EXISTS users_billing_email_idx ON users (billing_email);
    ```
    """

    id = "prefer-robust-stmts"
    severity = Severity.WARNING
    version = "1.1.0"
    help = "Add IF [NOT] EXISTS, or run the migration in a transaction."
    node_types: ClassVar[tuple[str, ...]] = (
        "AlterTableStmt",
        "RenameStmt",
        "AlterObjectSchemaStmt",
        "IndexStmt",
        "CreateStmt",
        "DropStmt",
        "TransactionStmt",
    )

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        # Constraint names dropped (then added) earlier in the file being read: the state of
        # one file at a time, reset when another file (or the same one again) starts.
        self._script: JsonScript | None = None
        self._last_index = -1
        self._constraints: dict[str, str] = {}
        # Whether the file ended a transaction: a COMMIT also ends the one the tool wraps the
        # file in (assume_in_transaction), and what follows runs outside any transaction.
        self._ended = False

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag statements that fail when run a second time outside a transaction."""
        if not context.migration:
            return
        if context.script is not self._script or statement.index <= self._last_index:
            self._script = context.script
            self._constraints = {}
            self._ended = False
        self._last_index = statement.index
        kind, node = statement.kind, statement.node
        if kind == "TransactionStmt":
            if node.get("kind") in _ENDS:
                self._ended = True
            return
        in_transaction = (
            context.explicit_transaction
            or context.wrapped_in_transaction
            or (context.assume_in_transaction and not self._ended)
        )
        if kind == "AlterTableStmt":
            yield from self._alter_table(statement, context, in_transaction)
        elif in_transaction and not (kind == "IndexStmt" and node.get("concurrent")):
            return
        elif kind == "RenameStmt":
            rename = node.get("renameType")
            if rename in _TABLE_RENAMES or (
                rename == "OBJECT_COLUMN" and node.get("relationType") == "OBJECT_TABLE"
            ):
                yield self._guardless(statement, context, node.get("relation"), "RENAME")
        elif kind == "AlterObjectSchemaStmt":
            if node.get("objectType") == "OBJECT_TABLE":
                yield self._guardless(statement, context, node.get("relation"), "SET SCHEMA")
        elif kind == "IndexStmt":
            if not node.get("if_not_exists") and node.get("idxname"):
                index = node.get("idxname", "")
                yield Violation(
                    f"CREATE INDEX {index} fails when the migration is run again after a"
                    f" partial failure: the index {index} already exists",
                    help="Use CREATE INDEX IF NOT EXISTS with an explicit index name.",
                )
        elif kind == "CreateStmt":
            yield from self._create_table(node, context)
        elif kind == "DropStmt":
            yield from self._drop(node, context)

    def _alter_table(
        self, statement: JsonStatement, context: StatementContext, in_transaction: bool
    ) -> Iterator[Violation]:
        node = statement.node
        if node.get("objtype") != "OBJECT_TABLE":
            return
        relation = node.get("relation")
        table = context.key(relation)
        spans = None
        for index, command in enumerate(node.get("cmds") or ()):
            _, cmd = unwrap(command)
            guard = self._guard(cmd)
            # The constraint names are followed inside transactions too: a DROP CONSTRAINT IF
            # EXISTS in one makes a later ADD CONSTRAINT of the same name re-runnable.
            if guard is None or in_transaction:
                continue
            if spans is None:
                spans = command_spans(statement, context, relation)
            span = spans[index] if index < len(spans) else None
            what = span_text(context, span) if span is not None else "this subcommand"
            location = span.start if span is not None else None
            yield _violation(guard, f"ALTER TABLE {table} {what}", location)

    def _guard(self, cmd: dict[str, Any]) -> str | None:
        """The guard a subcommand lacks (``_GUARDLESS``: none exists), or None if robust."""
        subtype = cmd.get("subtype")
        if subtype == "AT_DropConstraint":
            name = cmd.get("name")
            if name:
                self._constraints[name] = _DROPPED
            return None if cmd.get("missing_ok") else _IF_EXISTS
        if subtype == "AT_AddColumn":
            return None if cmd.get("missing_ok") else _IF_NOT_EXISTS
        if subtype == "AT_DropColumn":
            return None if cmd.get("missing_ok") else _IF_EXISTS
        if subtype == "AT_ValidateConstraint":
            return None if cmd.get("name") in self._constraints else _GUARDLESS
        if subtype == "AT_AddConstraint":
            _, constraint = unwrap(cmd.get("def"))
            name = constraint.get("conname")
            if name and self._constraints.get(name) == _DROPPED:
                self._constraints[name] = _ADDED
                return None
        return _GUARDLESS

    def _guardless(
        self, statement: JsonStatement, context: StatementContext, relation: Any, what: str
    ) -> Violation:
        spans = command_spans(statement, context, relation)
        if spans:
            what = span_text(context, spans[0])
        location = spans[0].start if spans else None
        return _violation(_GUARDLESS, f"ALTER TABLE {context.key(relation)} {what}", location)

    def _create_table(self, node: dict[str, Any], context: StatementContext) -> Iterator[Violation]:
        if node.get("if_not_exists"):
            return
        relation = node.get("relation") or {}
        # A temporary table dropped at commit does not survive a failed run.
        if relation.get("relpersistence") == "t" and node.get("oncommit") == "ONCOMMIT_DROP":
            return
        table = context.key(relation)
        yield Violation(
            f"CREATE TABLE {table} fails when the migration is run again after a partial"
            f" failure: the table {table} already exists",
            help="Use CREATE TABLE IF NOT EXISTS, or run the migration in a transaction.",
        )

    def _drop(self, node: dict[str, Any], context: StatementContext) -> Iterator[Violation]:
        kind = _DROPS.get(node.get("removeType", ""))
        if kind is None or node.get("missing_ok"):
            return
        names = []
        for item in node.get("objects") or ():
            item_kind, inner = unwrap(item)
            parts = inner.get("names") if item_kind == "TypeName" else inner.get("items")
            names.append(name_key(parts, context.default_schema))
        what = ", ".join(n for n in names if n)
        yield Violation(
            f"DROP {kind} {what} fails when the migration is run again after a partial"
            " failure: it is already gone",
            help=f"Use DROP {kind} IF EXISTS, or run the migration in a transaction.",
        )


def _violation(guard: str, what: str, location: int | None) -> Violation:
    if guard == _IF_NOT_EXISTS:
        return Violation(
            f"{what} fails when the migration is run again after a partial failure: it"
            " already exists",
            location=location,
            help="Add IF NOT EXISTS, or run the migration in a transaction.",
        )
    if guard == _IF_EXISTS:
        return Violation(
            f"{what} fails when the migration is run again after a partial failure: it is"
            " already gone",
            location=location,
            help="Add IF EXISTS, or run the migration in a transaction.",
        )
    return Violation(
        f"{what} runs outside a transaction and has no IF [NOT] EXISTS form: after a partial"
        " failure, running the migration again fails or repeats it",
        location=location,
        help=(
            "Run the migration in a transaction (BEGIN ... COMMIT); for ADD CONSTRAINT, DROP"
            " CONSTRAINT IF EXISTS of the same name first."
        ),
    )
