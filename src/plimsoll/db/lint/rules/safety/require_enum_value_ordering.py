"""require-enum-value-ordering."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from plimsoll.db.lint.context import StatementContext
from plimsoll.db.lint.rule import Severity, StatementRule, Violation
from plimsoll.db.sqljson import JsonStatement, name_key


class RequireEnumValueOrdering(StatementRule):
    """Say where a new enum value goes: ADD VALUE ... BEFORE or AFTER.

    **Problem.** ``ALTER TYPE mood ADD VALUE 'ok'`` puts ``'ok'`` after every existing
    value. An enum's values sort in their declared order, not alphabetically: ``ORDER BY``,
    ``<``, ``>``, ``min()``, ``max()`` and range conditions on the column follow it.

    **Why.** An enum that models a progression (``'draft' < 'review' < 'published'``, a
    severity, a size) silently gets the new value at the top: queries such as ``WHERE
    status < 'published'`` change meaning, and the order cannot be changed later without
    recreating the type.

    **Fix.** Write ``BEFORE 'existing'`` or ``AFTER 'existing'``, even when the end is the
    right place (``AFTER 'last'``): the position is then a decision the reviewer sees, not
    an accident. Adding to an enum created earlier in the same file is reported too: the
    order is as much a decision there.

    **Example.**

    ```sql
    ALTER TYPE order_status ADD VALUE 'packed' AFTER 'paid';
    ```
    """

    id = "require-enum-value-ordering"
    severity = Severity.WARNING
    help = "Add BEFORE 'value' or AFTER 'value' to say where the new value sorts."
    node_types: ClassVar[tuple[str, ...]] = ("AlterEnumStmt",)

    def check(self, statement: JsonStatement, context: StatementContext) -> Iterator[Violation]:
        """Flag ADD VALUE without BEFORE or AFTER."""
        node = statement.node
        label = node.get("newVal")
        if label is None or node.get("oldVal") is not None or node.get("newValNeighbor"):
            return
        enum = name_key(node.get("typeName"), context.default_schema)
        yield Violation(
            f"ADD VALUE '{label}' puts it after every existing value of {enum}: it sorts"
            " last in ORDER BY and in < and > comparisons"
        )
