"""identifier-length.

A statement rule although it belongs with the naming rules: PostgreSQL's scanner truncates a
long identifier as it reads it, so the parse tree, and the schema model built from it, only
ever hold the truncated names. The names as written are in the statement's text: a name
that may have been cut (60 bytes or more once parsed) is looked up there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.lint.rules.schema._objects import MAX_IDENTIFIER_BYTES
from plimsoll.db.sqljson import JsonStatement, strings, unwrap

# What a RenameStmt renames, and the namespace its new name lives in.
_RENAMED = {
    "OBJECT_TABLE": "table",
    "OBJECT_VIEW": "view",
    "OBJECT_MATVIEW": "materialized view",
    "OBJECT_INDEX": "index",
    "OBJECT_SEQUENCE": "sequence",
    "OBJECT_FOREIGN_TABLE": "table",
    "OBJECT_COLUMN": "column",
    "OBJECT_TABCONSTRAINT": "constraint",
    "OBJECT_TRIGGER": "trigger",
    "OBJECT_POLICY": "policy",
    "OBJECT_SCHEMA": "schema",
    "OBJECT_TYPE": "type",
    "OBJECT_DOMAIN": "type",
    "OBJECT_FUNCTION": "function",
    "OBJECT_PROCEDURE": "procedure",
}
_RELATIONS = ("table", "view", "materialized view", "index", "sequence")


def truncated(name: str) -> str:
    """``name`` as PostgreSQL keeps it: its first 63 bytes in UTF-8, whole characters only."""
    data = name.encode("utf-8")
    if len(data) <= MAX_IDENTIFIER_BYTES:
        return name
    # PostgreSQL clips at a character boundary (pg_mbcliplen): a cut multi-byte character
    # is dropped whole.
    return data[:MAX_IDENTIFIER_BYTES].decode("utf-8", "ignore")


# A truncated name is 60 to 63 bytes (63 less a multi-byte character cut whole).
_SHORTEST_CUT = MAX_IDENTIFIER_BYTES - 3


def _maybe_cut(name: str) -> bool:
    """Whether a parsed name is long enough to be a truncated one."""
    # A character is at most 4 bytes: most names are too short to need encoding at all.
    return len(name) * 4 >= _SHORTEST_CUT and len(name.encode("utf-8")) >= _SHORTEST_CUT


def _is_ident_byte(byte: int) -> bool:
    return (
        byte >= 0x80
        or byte == 0x5F
        or byte == 0x24
        or 0x30 <= byte <= 0x39
        or (0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A)
    )


# Each byte that can be part of an unquoted identifier as ``a``, any other as a space.
_IDENTIFIER_BYTES = bytes(0x61 if _is_ident_byte(byte) else 0x20 for byte in range(256))
_LONG_RUN = b"a" * (MAX_IDENTIFIER_BYTES + 1)


def _may_hold_long_name(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` can hold an identifier written longer than 63 bytes.

    Only such a name is ever reported, and an unquoted one is a run of at least 64
    identifier bytes in the text; a quoted one (any ``"``) is left to the full search. The
    check reads the statement's bytes at C speed, where walking its parse tree touches
    every node of every column: most statements of a large schema are done with here.
    """
    chunk = data[start:end]
    return b'"' in chunk or _LONG_RUN in chunk.translate(_IDENTIFIER_BYTES)


def written_name(
    data: bytes, start: int, end: int, parsed: str, *, last: bool
) -> tuple[str, int] | None:
    """The identifier as written in ``data[start:end]`` that the scanner cut to ``parsed``,
    and its byte offset.

    The first (or, with ``last``, the final) occurrence of the parsed name at the start of
    an identifier token, matched as written or case-folded (an unquoted name is folded to
    lower case); the whole token is returned, unquoted and folded as PostgreSQL reads it.
    None when it cannot be found.
    """
    stem = parsed.encode("utf-8")
    region = data[start:end]
    for haystack in (region, region.lower()):
        position = haystack.rfind(stem) if last else haystack.find(stem)
        while position >= 0:
            at = start + position
            before = data[at - 1] if at > start else 0x20
            if before == 0x22:  # a quoted identifier: read to the closing quote
                close = at
                while True:
                    close = data.find(b'"', close, end)
                    if close < 0 or not data.startswith(b'""', close):
                        break
                    close += 2
                if close > 0:
                    return data[at:close].decode("utf-8", "replace").replace('""', '"'), at - 1
            elif not _is_ident_byte(before):
                stop = at
                while stop < end and _is_ident_byte(data[stop]):
                    stop += 1
                token = data[at:stop].decode("utf-8", "replace")
                # Unquoted: PostgreSQL folds ASCII letters to lower case.
                return "".join(c.lower() if c.isascii() else c for c in token), at
            position = (
                haystack.rfind(stem, 0, position) if last else haystack.find(stem, position + 1)
            )
    return None


class IdentifierLength(StatementRule):
    """Keep identifiers within 63 bytes, PostgreSQL's limit.

    **Problem.** PostgreSQL keeps at most 63 bytes of an identifier (``NAMEDATALEN`` - 1),
    counted in UTF-8: a longer table, column, index, constraint, trigger, policy, type,
    function or schema name is cut to its first 63 bytes with only a NOTICE, which
    migration tools rarely show. Non-ASCII letters take two to four bytes each, so the
    limit comes sooner than 63 characters.

    **Why.** The object ends up with a name nobody wrote: statements that use the full name
    still work (PostgreSQL truncates them the same way), but diffs, grep, error messages
    and tools that compare names show the cut one. Two long names that share their first
    63 bytes collide: the second ``CREATE`` fails with "already exists", or two columns of
    one table are "specified more than once".

    **Fix.** Shorten the name (abbreviate, drop words that repeat the table name in an index
    name). The rule reads the names as written in ``CREATE``, ``ALTER TABLE ... ADD`` and
    ``RENAME`` statements, in schema files and migrations alike, and says when two of them
    in one file collide once truncated. It cannot check a live database: the names there
    are already truncated.

    **Example.**

    ```sql
    -- 66 bytes: stored as its first 63, which the next index's name shares
    CREATE INDEX customer_subscription_invoices_billing_period_and_status_index_one
        ON invoices (billing_period);
    CREATE INDEX invoices_period_idx ON invoices (billing_period);
    ```
    """

    id = "identifier-length"
    severity = Severity.WARNING
    help = "Shorten the name to at most 63 bytes (UTF-8)."
    node_types: ClassVar[tuple[str, ...]] = (
        "CreateStmt",
        "AlterTableStmt",
        "IndexStmt",
        "ViewStmt",
        "CreateTableAsStmt",
        "CreateSeqStmt",
        "RenameStmt",
        "CreateFunctionStmt",
        "CreateTrigStmt",
        "CreatePolicyStmt",
        "CreateEnumStmt",
        "CompositeTypeStmt",
        "CreateDomainStmt",
        "CreateSchemaStmt",
    )

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        # The long names met so far in the current file, by (namespace, truncated name),
        # to tell collisions; reset when the file changes.
        self._file: object = None
        self._stems: dict[tuple[str, str], str] = {}

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag each name defined by the statement that is longer than 63 bytes."""
        if self._file is not context.script:
            self._file, self._stems = context.script, {}
        data = context.script.data
        end = statement.start + statement.length
        if not _may_hold_long_name(data, statement.start, end):
            return
        for kind, parsed, namespace, location in _defined_names(statement, context):
            if not _maybe_cut(parsed):
                continue
            start = statement.start if location is None else location
            found = written_name(data, start, end, parsed, last=statement.kind == "RenameStmt")
            if found is None:
                continue
            name, at = found
            size = len(name.encode("utf-8"))
            if size <= MAX_IDENTIFIER_BYTES:
                continue
            stem = truncated(name)
            message = (
                f"{kind} name {name} is {size} bytes: PostgreSQL keeps only its first"
                f" {MAX_IDENTIFIER_BYTES} ({stem})"
            )
            other = self._stems.get((namespace, stem))
            if other is not None and other != name:
                message += f", the same as {other}'s: the names collide"
            else:
                self._stems[(namespace, stem)] = name
            yield Violation(message, location=at)


def _range_var(node: Any) -> dict:
    return node if isinstance(node, dict) else {}


def _location(node: dict) -> int | None:
    location = node.get("location")
    return location if isinstance(location, int) and location >= 0 else None


def _defined_names(
    statement: JsonStatement, context: StatementContext
) -> Iterator[tuple[str, str, str, int | None]]:
    """(kind, name, namespace, location) of each name the statement defines."""
    kind, node = statement.kind, statement.node
    schema = context.default_schema
    if kind == "CreateStmt":
        relation = _range_var(node.get("relation"))
        table = context.key(relation)
        yield (
            "table",
            relation.get("relname", ""),
            f"rel:{table.split('.')[0]}",
            _location(relation),
        )
        cut = _SHORTEST_CUT
        # The hot loop of a schema build (every column of every table): only the elements
        # holding a long enough name go through _element.
        for element in node.get("tableElts") or ():
            column = element.get("ColumnDef")
            if column is None:
                yield from _element(element, table)
                continue
            if len(column.get("colname", "")) * 4 >= cut:
                yield from _element(element, table)
                continue
            for item in column.get("constraints") or ():
                if len((item.get("Constraint") or {}).get("conname", "")) * 4 >= cut:
                    yield from _element(element, table)
                    break
    elif kind == "AlterTableStmt":
        table = context.key(node.get("relation"))
        for item in node.get("cmds") or ():
            _, cmd = unwrap(item)
            yield from _element(cmd.get("def"), table)
    elif kind == "IndexStmt":
        relation = _range_var(node.get("relation"))
        namespace = f"rel:{relation.get('schemaname') or schema}"
        # The index's name comes before its table's: search from the statement's start.
        yield "index", node.get("idxname", ""), namespace, None
    elif kind in ("ViewStmt", "CreateSeqStmt", "CreateTableAsStmt", "CompositeTypeStmt"):
        what = {"ViewStmt": "view", "CreateSeqStmt": "sequence"}.get(kind, "table")
        if kind == "CreateTableAsStmt":
            relation = _range_var((node.get("into") or {}).get("rel"))
        elif kind == "CompositeTypeStmt":
            what, relation = "type", _range_var(node.get("typevar"))
        else:
            relation = _range_var(node.get("view" if kind == "ViewStmt" else "sequence"))
        namespace = f"rel:{relation.get('schemaname') or schema}"
        yield what, relation.get("relname", ""), namespace, _location(relation)
    elif kind == "RenameStmt":
        yield from _renamed(node, context)
    elif kind in ("CreateFunctionStmt", "CreateEnumStmt", "CreateDomainStmt"):
        field = {"CreateFunctionStmt": "funcname", "CreateEnumStmt": "typeName"}.get(
            kind, "domainname"
        )
        names = strings(node.get(field))
        if names:
            what = "type" if kind != "CreateFunctionStmt" else "function"
            owner = names[-2] if len(names) > 1 else schema
            # Functions overload by arguments: their names are never told apart alone.
            namespace = f"type:{owner}" if what == "type" else f"function:{id(node)}"
            yield what, names[-1], namespace, None
    elif kind == "CreateTrigStmt":
        table = context.key(node.get("relation"))
        yield "trigger", node.get("trigname", ""), f"trigger:{table}", None
    elif kind == "CreatePolicyStmt":
        table = context.key(node.get("table"))
        yield "policy", node.get("policy_name", ""), f"policy:{table}", None
    elif kind == "CreateSchemaStmt":
        yield "schema", node.get("schemaname", ""), "schema", None


def _element(element: Any, table: str) -> Iterator[tuple[str, str, str, int | None]]:
    """The long-enough names a column definition or a table constraint defines."""
    kind, node = unwrap(element)
    if kind == "ColumnDef":
        name = node.get("colname", "")
        if len(name) * 4 >= _SHORTEST_CUT:
            yield "column", name, f"column:{table}", _location(node)
        for item in node.get("constraints") or ():
            _, constraint = unwrap(item)
            name = constraint.get("conname", "")
            if len(name) * 4 >= _SHORTEST_CUT:
                yield "constraint", name, f"constraint:{table}", _location(constraint)
    elif kind == "Constraint":
        name = node.get("conname", "")
        if len(name) * 4 >= _SHORTEST_CUT:
            yield "constraint", name, f"constraint:{table}", _location(node)


def _renamed(node: dict, context: StatementContext) -> Iterator[tuple[str, str, str, int | None]]:
    """The new name of a RenameStmt, in the namespace of what it renames."""
    what = _RENAMED.get(node.get("renameType", ""))
    new = node.get("newname", "")
    if what is None or not new:
        return
    relation = _range_var(node.get("relation"))
    location = _location(relation)
    if what in _RELATIONS:
        namespace = f"rel:{relation.get('schemaname') or context.default_schema}"
    elif what in ("column", "constraint", "trigger", "policy"):
        namespace = f"{what}:{context.key(relation)}"
    else:
        namespace = f"{what}:{id(node)}"  # schemas, types, functions: not compared
    yield what, new, namespace, location
