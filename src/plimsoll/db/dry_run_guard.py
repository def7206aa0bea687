"""Statements a dry run cannot run as written: refused, run as an equivalent, or skipped.

**Refused**: calls whose effect the rollback cannot undo. ``setval`` moves a sequence outside
the transaction: rolled back, the dry run would leave the live sequence where the migration
put it (backwards, and inserts then collide with existing keys). A migration calling it,
anywhere in a statement (a ``SELECT``, a column default, a ``FROM`` clause,
``pg_catalog.setval`` or a same-named function in another schema, which may well wrap it), is
not dry-runnable; nothing of it runs. Calls the parser cannot see (inside a function's body
or a ``DO`` block) are caught afterwards: the dry run reports the sequences its session moved.

**Equivalents**: a statement that cannot run in a transaction block (the migrator's own
classification, :func:`plimsoll.db.sql.transactional`) but has a transactional form with the
same effect on the schema is dry-run as that form, inside the rolled-back transaction:
``CREATE INDEX CONCURRENTLY`` as ``CREATE INDEX``, ``DROP INDEX CONCURRENTLY`` as ``DROP
INDEX``, ``REINDEX ... CONCURRENTLY`` (of an index or a table) as ``REINDEX``. The form is the
statement's own text with the ``CONCURRENTLY`` keyword (or option) blanked at the token the
scanner finds, kept only if it parses to the original tree without ``concurrent``: exact, or
not used. What the form locks is not what the real statement locks: the report gives the
real statement's locks (:func:`plimsoll.db.dry_run_locks.LockTracker.documented`).
:func:`server_check` first asks the server what PostgreSQL checks only for the concurrent
form (a partitioned table, several indexes, CASCADE, a system catalog, an exclusion
constraint's index), so that the equivalent never passes where the real statement fails.

**Skipped**: statements that cannot run in a transaction block and change no schema
(``VACUUM``, ``CLUSTER`` without a table, ``REINDEX SCHEMA|DATABASE|SYSTEM``, a ``REINDEX``
of a partitioned table) are not run; the relations or schema they name are checked to exist.

Everything else that cannot run in a transaction block (``CREATE/DROP DATABASE``, ``ALTER
SYSTEM``, tablespaces, subscriptions, ``ALTER TYPE ... ADD VALUE`` before PostgreSQL 12,
``DETACH PARTITION ... CONCURRENTLY``, which also adds a CHECK constraint, ``DISCARD ALL``,
which resets the session the later statements run in, ...) has no equivalent: its migration
is not dry-runnable, as before.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psycopg

from plimsoll.db.sqljson import Node, strings, unwrap, walk

# Functions by their unqualified name, with why a dry run cannot undo them.
NOT_UNDOABLE = {
    "setval": "setval is not transactional: a dry run cannot undo it",
}


def undoable_reason(node: Node) -> str | None:
    """Why a dry run cannot undo the statement ``node`` (its JSON parse tree); None: it can."""
    for kind, inner in walk(node):
        if kind == "FuncCall":
            names = strings(inner.get("funcname"))
            why = NOT_UNDOABLE.get(names[-1]) if names else None
            if why:
                return why
    return None


def refusal(statements: Iterable[tuple[int, Node]]) -> str | None:
    """Why a migration of ``statements`` (line, JSON parse tree) cannot be dry-run, or None.

    One ``line N: reason`` per statement that cannot be undone, joined by ``; `` like the
    reasons a migration cannot run in a transaction block.
    """
    reasons = []
    for line, node in statements:
        why = undoable_reason(node)
        if why:
            reasons.append(f"line {line}: {why}")
    return "; ".join(reasons) or None


class Execution(StrEnum):
    """How the dry run ran a statement: as written, as a transactional equivalent, or not."""

    AS_WRITTEN = "as-written"
    EQUIVALENT = "equivalent"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Substitute:
    """What the dry run does instead of a statement that cannot run in a transaction block.

    ``statement`` names the real one (``CREATE INDEX CONCURRENTLY``); ``text`` is the SQL
    run in its place (empty when ``execution`` is SKIPPED); ``note`` says so, with what the
    real statement locks and how its time differs.
    """

    execution: Execution
    statement: str
    text: str
    note: str


_CREATE_INDEX = (
    "CREATE INDEX CONCURRENTLY cannot run in a transaction block: dry-run as CREATE INDEX,"
    " which builds the same index. The real statement takes SHARE UPDATE EXCLUSIVE on the"
    " table: reads and writes go on (the SHARE lock CREATE INDEX took here blocks writes; it"
    " is not reported). The time is CREATE INDEX's: the real build waits for the running"
    " transactions and scans the table twice"
)
_DROP_INDEX = (
    "DROP INDEX CONCURRENTLY cannot run in a transaction block: dry-run as DROP INDEX, which"
    " drops the same index. The real statement takes SHARE UPDATE EXCLUSIVE on the index and"
    " its table: reads and writes go on (the ACCESS EXCLUSIVE lock DROP INDEX took here"
    " blocks both; it is not reported). The real drop waits for the transactions using the"
    " table"
)
_REINDEX = (
    "REINDEX CONCURRENTLY cannot run in a transaction block: dry-run as REINDEX, which"
    " rebuilds the same indexes. The real statement takes SHARE UPDATE EXCLUSIVE on the table"
    " and its indexes: reads and writes go on (the SHARE lock on the table, which blocks"
    " writes, and ACCESS EXCLUSIVE on each index that REINDEX took here are not reported)."
    " The time is REINDEX's: the real one builds each index anew beside the old one and waits"
    " for the running transactions"
)
_SKIPPED = "cannot run in a transaction block and changes no schema: skipped (not run, not timed)"
_SKIPPED_LOCKS = {
    "VACUUM": "the real one takes SHARE UPDATE EXCLUSIVE on each table it vacuums (VACUUM FULL:"
    " ACCESS EXCLUSIVE, and rewrites it)",
    "CLUSTER": "the real one rewrites every table clustered before, each under ACCESS EXCLUSIVE",
    "REINDEX": "the real one rebuilds each index in turn: SHARE on its table (CONCURRENTLY:"
    " SHARE UPDATE EXCLUSIVE)",
}
_REINDEX_PARTITIONED = (
    "REINDEX of a partitioned table or index cannot run in a transaction block, CONCURRENTLY"
    " or not, and changes no schema: skipped (not run, not timed); the real one reindexes"
    " each partition in a transaction of its own"
)
_REINDEX_KINDS = {
    "REINDEX_OBJECT_INDEX": "INDEX",
    "REINDEX_OBJECT_TABLE": "TABLE",
    "REINDEX_OBJECT_SCHEMA": "SCHEMA",
    "REINDEX_OBJECT_DATABASE": "DATABASE",
    "REINDEX_OBJECT_SYSTEM": "SYSTEM",
}


def substitute(kind: str, node: Node, text: str, reason: str) -> Substitute | None:
    """What the dry run runs instead of a statement that cannot run in a transaction block.

    ``kind`` and ``node`` are the statement's JSON parse tree, ``text`` its SQL, ``reason``
    why it cannot run in a transaction block (from :func:`plimsoll.db.sql.transactional`).
    None: it has no equivalent, and its migration is not dry-runnable.
    """
    target = _REINDEX_KINDS.get(node.get("kind", "")) if kind == "ReindexStmt" else None
    if kind in ("IndexStmt", "DropStmt") or target in ("INDEX", "TABLE"):
        note = {"IndexStmt": _CREATE_INDEX, "DropStmt": _DROP_INDEX}.get(kind, _REINDEX)
        equivalent = without_concurrently(text, kind, node)
        if equivalent is None:
            return None
        return Substitute(Execution.EQUIVALENT, reason, equivalent, note)
    if target is not None:
        return _skipped(f"REINDEX {target}", "REINDEX")
    if kind == "VacuumStmt":
        return _skipped(reason, "VACUUM")
    if kind == "ClusterStmt" and not node.get("relation"):
        return _skipped(reason, "CLUSTER")
    return None


def _skipped(statement: str, family: str) -> Substitute:
    note = f"{statement} {_SKIPPED}; {_SKIPPED_LOCKS[family]}"
    return Substitute(Execution.SKIPPED, statement, "", note)


def without_concurrently(text: str, kind: str, node: Node) -> str | None:
    """``text`` with its ``CONCURRENTLY`` blanked, if that parses to ``node`` without it.

    Blanked, not cut: every other character keeps its place (line breaks included), so the
    server's error positions and the user's comments stay as written. None when no candidate
    parses to exactly the expected tree.
    """
    expected = _comparable(_plain(kind, node))
    for start, end in _concurrently_spans(text):
        blanked = "".join(c if c == "\n" else " " for c in text[start:end])
        candidate = text[:start] + blanked + text[end:]
        if _tree_of(candidate) == {kind: expected}:
            return candidate
    return None


def _plain(kind: str, node: Node) -> Node:
    """The statement's tree as its transactional form parses: ``concurrent`` off."""
    plain = copy.deepcopy(node)
    plain.pop("concurrent", None)
    if kind == "ReindexStmt":
        params = [
            p for p in plain.get("params") or () if unwrap(p)[1].get("defname") != "concurrently"
        ]
        if params:
            plain["params"] = params
        else:
            plain.pop("params", None)
    return plain


# Fields that say where a node was written, not what it is.
_POSITIONS = frozenset({"location", "arg_location", "stmt_location", "stmt_len"})


def _comparable(value: Any) -> Any:
    """``value`` without positions: two texts of the same statement compare equal."""
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items() if k not in _POSITIONS}
    if isinstance(value, list):
        return [_comparable(v) for v in value]
    return value


def _tree_of(text: str) -> Any:
    """The comparable tree of ``text``'s one statement; None if it is not one valid one."""
    import pglast.parser

    try:
        statements = json.loads(pglast.parser.parse_sql_json(text)).get("stmts") or []
    except pglast.parser.ParseError:
        return None
    if len(statements) != 1:
        return None
    return _comparable(statements[0].get("stmt"))


_COMMENTS = frozenset({"C_COMMENT", "SQL_COMMENT"})
_OPEN, _COMMA, _CLOSE = "ASCII_40", "ASCII_44", "ASCII_41"


def _concurrently_spans(text: str) -> list[tuple[int, int]]:
    """Where each ``CONCURRENTLY`` keyword could be blanked: (start, end) character offsets.

    The keyword alone (``CREATE INDEX CONCURRENTLY``, ``REINDEX INDEX CONCURRENTLY``), or
    the whole option in a list (``REINDEX (VERBOSE, CONCURRENTLY true)``): with its comma, or
    with the parentheses when it is the only option.
    """
    import pglast.parser

    tokens = [t for t in pglast.parser.scan(text) if t.name not in _COMMENTS]
    spans = []
    for index, token in enumerate(tokens):
        if token.name != "CONCURRENTLY":
            continue
        before = tokens[index - 1].name if index else ""
        if before not in (_OPEN, _COMMA):
            spans.append((token.start, token.end + 1))
            continue
        # The option runs to the next comma or closing parenthesis (its value, if any).
        last = index
        while last + 1 < len(tokens) and tokens[last + 1].name not in (_COMMA, _CLOSE):
            last += 1
        if last + 1 >= len(tokens):
            continue
        after = tokens[last + 1]
        if after.name == _COMMA:
            spans.append((token.start, after.end + 1))
        elif before == _COMMA:
            spans.append((tokens[index - 1].start, tokens[last].end + 1))
        else:  # the only option: the list goes
            spans.append((tokens[index - 1].start, after.end + 1))
    return spans


# Relation by name, as the statement about to run would find it (its search_path).
_RELATION = """
SELECT c.relkind::text, n.nspname, c.relname, COALESCE(i.indisexclusion, false),
  c.oid < 16384 AND n.nspname IN ('pg_catalog', 'pg_toast')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indexrelid = c.oid
WHERE c.oid = to_regclass(%s)
"""
_PARTITIONED = frozenset({"p", "I"})


@dataclass(frozen=True)
class _Relation:
    kind: str
    schema: str
    name: str
    exclusion: bool
    system: bool


def server_check(
    conn: psycopg.Connection[Any], kind: str, node: Node, stand_in: Substitute
) -> Substitute | str:
    """What to do in ``conn``'s transaction: ``stand_in`` (or a skip in its place), or the
    error PostgreSQL gives the real statement where its equivalent would pass.

    The messages are PostgreSQL's own. A name that resolves to nothing is left to the
    equivalent, which fails as the real statement does.
    """
    if kind == "IndexStmt":
        found = _relation(conn, node.get("relation"))
        if found and found.kind == "p":
            return f'cannot create index on partitioned table "{found.name}" concurrently'
    elif kind == "DropStmt":
        objects = node.get("objects") or []
        if len(objects) > 1:
            return "DROP INDEX CONCURRENTLY does not support dropping multiple objects"
        if node.get("behavior") == "DROP_CASCADE":
            return "DROP INDEX CONCURRENTLY does not support CASCADE"
        found = _relation(conn, _dotted(objects[0]) if objects else None)
        if found and found.kind == "I":
            return f'cannot drop partitioned index "{found.name}" concurrently'
    elif kind == "ReindexStmt":
        return _reindex_check(conn, node, stand_in)
    elif kind == "VacuumStmt":
        for item in node.get("rels") or ():
            relation = unwrap(item)[1].get("relation")
            if relation and _relation(conn, relation) is None:
                return f'relation "{_written(relation)}" does not exist'
    return stand_in


def _reindex_check(
    conn: psycopg.Connection[Any], node: Node, stand_in: Substitute
) -> Substitute | str:
    target = _REINDEX_KINDS.get(node.get("kind", ""))
    name = node.get("name")
    if target == "SCHEMA" and name:
        row = _one(conn, "SELECT to_regnamespace(%s) IS NOT NULL", (_quoted(conn, [name]),))
        if not (row and row[0]):
            return f'schema "{name}" does not exist'
    elif target in ("DATABASE", "SYSTEM") and name:
        if name != conn.info.dbname:
            return "can only reindex the currently open database"
    if stand_in.execution is not Execution.EQUIVALENT:
        return stand_in
    found = _relation(conn, node.get("relation"))
    if found is None:
        return stand_in
    if found.system:
        return "cannot reindex system catalogs concurrently"
    if target == "INDEX" and found.exclusion:
        return "concurrent index creation for exclusion constraints is not supported"
    if found.kind in _PARTITIONED:
        return Substitute(Execution.SKIPPED, stand_in.statement, "", _REINDEX_PARTITIONED)
    return stand_in


def _dotted(item: object) -> dict[str, str] | None:
    """A ``List`` of names (``app.orders_x``) as a RangeVar-like mapping."""
    kind, inner = unwrap(item)
    names = strings(inner.get("items")) if kind == "List" else []
    if not names:
        return None
    return {"relname": names[-1], **({"schemaname": names[-2]} if len(names) > 1 else {})}


def _written(range_var: Node) -> str:
    return ".".join(p for p in (range_var.get("schemaname"), range_var.get("relname")) if p)


def _quoted(conn: psycopg.Connection[Any], parts: list[str]) -> str:
    from psycopg import sql as pgsql

    return pgsql.Identifier(*parts).as_string(conn)


def _relation(conn: psycopg.Connection[Any], range_var: Node | None) -> _Relation | None:
    """The relation a RangeVar names, as the next statement would find it; None: none."""
    if not range_var or not range_var.get("relname"):
        return None
    parts = [p for p in (range_var.get("schemaname"), range_var["relname"]) if p]
    row = _one(conn, _RELATION, (_quoted(conn, parts),))
    return _Relation(*row) if row else None


def _one(conn: psycopg.Connection[Any], query: str, params: tuple[Any, ...]) -> Any:
    """One row of ``query``, in a savepoint: a name the server refuses leaves the dry run's
    transaction usable (the statement itself then reports it)."""
    try:
        with conn.transaction():
            return conn.execute(query, params).fetchone()
    except psycopg.DatabaseError:
        return None
