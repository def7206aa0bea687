"""Statements a dry run must not run: calls whose effect its rollback cannot undo.

``setval`` moves a sequence outside the transaction: rolled back, the dry run would leave the
live sequence where the migration put it (backwards, and inserts then collide with existing
keys). A migration calling it, anywhere in a statement (a ``SELECT``, a column default, a
``FROM`` clause, ``pg_catalog.setval`` or a same-named function in another schema, which may
well wrap it), is not dry-runnable, as one that cannot run in a transaction block is; nothing
of it runs. Calls the parser cannot see (inside a function's body or a ``DO`` block) are
caught afterwards: the dry run reports the sequences its session moved.
"""

from __future__ import annotations

from collections.abc import Iterable

from plimsoll.db.sqljson import Node, strings, walk

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
