"""What a rule knows besides the statement or schema it checks.

:class:`StatementContext` follows one file statement by statement: the engine calls
:meth:`StatementContext.advance` after each statement, so a rule sees the effects of everything
before the statement it checks (tables created earlier in the same migration, ``SET
lock_timeout``, an open ``BEGIN``) and none of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from plimsoll.db.lint.carried import Carried
from plimsoll.db.lint.known import KnownRelations
from plimsoll.db.sqljson import constant, relation_key, strings, unwrap

if TYPE_CHECKING:
    from plimsoll.db.lint.migrator_view import MigratorRun
    from plimsoll.db.sqljson import JsonScript, JsonStatement

# Statement types that create a relation, and where their RangeVar sits.
_CREATES = {
    "CreateStmt": ("relation",),
    "CreateTableAsStmt": ("into", "rel"),
    "ViewStmt": ("view",),
}


@dataclass
class StatementContext:
    """The state of a file before the statement being checked.

    ``migration`` is true for migration files (changes to a live database) and false for
    schema files (a fresh database is built from them: every table in them is new).
    ``created`` holds the keys (``schema.name``) of relations created earlier in the same
    migration (in a schema build: in any earlier schema file). ``explicit_transaction`` is
    true between a ``BEGIN`` and its ``COMMIT``/``ROLLBACK`` in the file; ``in_transaction``
    also counts ``assume_in_transaction`` (set when the project's migrations are wrapped in a
    transaction by the tool that applies them). ``wrapped`` is set for the project's own
    migrations, which plimsoll's migrator runs in one transaction each (statements that cannot
    run in one, such as ``CREATE INDEX CONCURRENTLY``, outside it), so a failed run leaves
    nothing half done. ``carried`` holds what this file and the migrations linted before it
    established about live tables (the engine shares one between the migrations it lints in
    order): a CHECK constraint validated by one migration is there for the next. ``known``
    holds what the run knows of relations and types (partitioned tables, materialized views,
    domains) from the live database and every file linted before this one.

    Settings follow PostgreSQL: ``settings`` are the session's (``SET``; the migrator's own
    settings to start with), ``local_settings`` those of ``SET LOCAL``, which end with the
    transaction (``COMMIT`` or ``ROLLBACK``; a ``ROLLBACK`` also undoes the transaction's
    ``SET``). A ``SET LOCAL`` outside any transaction block has no effect (PostgreSQL only
    warns): it is kept in ``ineffective`` (the name, with the offset of the statement) for
    the findings to say so. What counts as a transaction block is the lint's view of how the
    file runs: after ``BEGIN``, under ``assume_in_transaction``, or in a migration that
    plimsoll's migrator runs in one transaction (``wrapped``).
    """

    script: JsonScript
    pg_version: int
    migration: bool = True
    assume_in_transaction: bool = False
    wrapped: bool = False
    default_schema: str = "public"
    created: set[str] = field(default_factory=set)
    explicit_transaction: bool = False
    settings: dict[str, str] = field(default_factory=dict)
    carried: Carried = field(default_factory=Carried)
    known: KnownRelations = field(default_factory=KnownRelations)
    local_settings: dict[str, str] = field(default_factory=dict)
    ineffective: dict[str, int] = field(default_factory=dict)
    # The session's settings when the open BEGIN ran (a ROLLBACK restores them).
    _before_begin: dict[str, str] | None = None

    @property
    def checked(self) -> set[str]:
        """The tables given a validated CHECK constraint before this statement."""
        return self.carried.checked

    @property
    def file(self) -> str:
        """The file being linted, as it is shown."""
        return self.script.source

    @property
    def in_transaction(self) -> bool:
        """Whether the statement runs inside a transaction block."""
        return self.explicit_transaction or self.assume_in_transaction

    @cached_property
    def migrator_run(self) -> MigratorRun | None:
        """How plimsoll's migrator runs this file (None when it is not one of its migrations)."""
        if not (self.migration and self.wrapped):
            return None
        from plimsoll.db.lint.migrator_view import migrator_run

        return migrator_run(self.script, self.pg_version)

    @property
    def wrapped_in_transaction(self) -> bool:
        """Whether plimsoll's migrator runs this whole file in one transaction."""
        run = self.migrator_run
        return run is not None and run.in_transaction

    def setting(self, name: str) -> str | None:
        """The value of setting ``name`` in effect (a ``SET LOCAL`` over the session's)."""
        local = self.local_settings.get(name)
        return local if local is not None else self.settings.get(name)

    @property
    def lock_timeout_set(self) -> bool:
        """Whether a ``lock_timeout`` other than 0 (``'0s'``, ``'0ms'``...) is in effect."""
        return not timeout_disabled(self.setting("lock_timeout"))

    @property
    def statement_timeout_set(self) -> bool:
        """Whether a ``statement_timeout`` other than 0 is in effect."""
        return not timeout_disabled(self.setting("statement_timeout"))

    @property
    def local_settings_apply(self) -> bool:
        """Whether a ``SET LOCAL`` here lasts (a transaction block is open, in the lint's view
        of how the file runs)."""
        return self.in_transaction or (self.migration and self.wrapped_in_transaction)

    def is_new(self, key: str) -> bool:
        """Whether the relation ``key`` was created earlier in this migration (or build)."""
        return key in self.created

    def key(self, range_var: dict | None) -> str:
        """The ``schema.name`` key of a RangeVar in this file's default schema."""
        return relation_key(range_var, self.default_schema)

    def text(self, statement: JsonStatement) -> str:
        """The statement's source text."""
        return self.script.statement_text(statement)

    def advance(self, statement: JsonStatement) -> None:
        """Take in the effects of ``statement`` (after the rules have seen it)."""
        kind, node = statement.kind, statement.node
        if kind in _RELATION_KINDS:
            self.known.take(statement, self.key, self.default_schema, self.file)
        path = _CREATES.get(kind)
        if path is not None:
            target = node
            for step in path:
                target = target.get(step) or {}
            if target:
                self.created.add(self.key(target))
                # What carries to later migrations: a schema file's rules never ask, and
                # following every table of a large schema costs a quarter of the run.
                if kind == "CreateStmt" and self.migration:
                    self.carried.create_table(self.key(target), node)
        elif kind == "TransactionStmt":
            self._transaction(node.get("kind", ""))
        elif kind == "VariableSetStmt":
            self._setting(node, statement.start)
        elif kind == "AlterTableStmt" and self.migration:
            table = self.key(node.get("relation"))
            for command in node.get("cmds") or ():
                self.carried.alter(table, unwrap(command)[1])
        elif kind == "RenameStmt":
            self._rename(node)
        elif kind == "DropStmt" and node.get("removeType") == "OBJECT_TABLE":
            for name in qualified_names(node.get("objects")):
                self.carried.forget_table(name if "." in name else f"{self.default_schema}.{name}")

    def _rename(self, node: dict) -> None:
        what = node.get("renameType")
        if what == "OBJECT_TABLE":
            old = self.key(node.get("relation"))
            self.carried.forget_table(old)
            if old in self.created:
                schema = old.split(".", 1)[0]
                self.created.add(f"{schema}.{node.get('newname', '')}")
        elif what == "OBJECT_COLUMN":
            self.carried.forget_column(self.key(node.get("relation")), node.get("subname", ""))

    def _transaction(self, kind: str) -> None:
        if kind in ("TRANS_STMT_BEGIN", "TRANS_STMT_START"):
            if not self.explicit_transaction:
                self._before_begin = dict(self.settings)
            self.explicit_transaction = True
        elif kind in _ENDS:
            # Whichever transaction ends (the file's, or the tool's it runs in), SET LOCAL ends
            # with it; a ROLLBACK also takes back the SETs made since BEGIN.
            self.local_settings.clear()
            if kind == "TRANS_STMT_ROLLBACK" and self._before_begin is not None:
                self.settings = self._before_begin
            self._before_begin = None
            self.explicit_transaction = False

    def _setting(self, node: dict, start: int) -> None:
        name = node.get("name", "").lower()
        what = node.get("kind")
        if what == "VAR_RESET_ALL":
            self.settings.clear()
            self.local_settings.clear()
            return
        if node.get("is_local"):
            if not self.local_settings_apply:
                self.ineffective[name] = start
                return
            target = self.local_settings
        else:
            target = self.settings
            self.local_settings.pop(name, None)
        self.ineffective.pop(name, None)
        if what in ("VAR_RESET", "VAR_SET_DEFAULT"):
            if target is self.local_settings:
                target[name] = ""  # the default, for the rest of the transaction
            else:
                target.pop(name, None)
            return
        values = [constant(arg) for arg in node.get("args") or ()]
        if name and values:
            target[name] = ",".join(str(v) for v in values)
        if name == "search_path" and values:
            self.default_schema = str(values[0])


_ENDS = frozenset(
    {"TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_PREPARE"}
)
# Statement kinds that change what KnownRelations knows.
_RELATION_KINDS = frozenset(
    {
        "CreateStmt",
        "CreateTableAsStmt",
        "IndexStmt",
        "RefreshMatViewStmt",
        "DropStmt",
        "RenameStmt",
        "CreateDomainStmt",
        "AlterDomainStmt",
    }
)
# A duration setting's value: a number, and a unit PostgreSQL takes for it.
_DURATION = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*(us|ms|s|min|h|d)?\s*$")


def timeout_disabled(value: str | None) -> bool:
    """Whether a timeout setting's value turns the timeout off: unset, ``DEFAULT``, or zero in
    any unit (``0``, ``'0s'``, ``'0ms'``), as PostgreSQL reads it."""
    if value is None or value == "":
        return True
    match = _DURATION.match(value.lower())
    if match is None:
        return False  # PostgreSQL would refuse it; the rule that asks for it is not the place
    return float(match.group(1)) == 0


@dataclass
class SchemaContext:
    """What a schema rule knows besides the catalog: the server version and where it came from.

    ``source`` is ``files`` (built from DDL files), ``database`` (introspected), or
    ``database + files`` (a live database with the files applied on top).
    """

    pg_version: int
    source: str = "files"


def qualified_names(items: object) -> list[str]:
    """The dotted names in a list of name lists (``DROP TABLE a, b.c``), joined with dots."""
    out: list[str] = []
    for item in items or ():  # type: ignore[attr-defined]
        kind, node = unwrap(item)
        if kind == "List":
            out.append(".".join(strings(node.get("items"))))
        elif kind == "String":
            out.append(node.get("sval", ""))
    return out
