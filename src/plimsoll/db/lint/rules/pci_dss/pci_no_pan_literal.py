"""pci-no-pan-literal."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Origin
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Severity, Violation
from plimsoll.db.lint.rules.pci_dss._common import card_numbers, masked

# A cheap first pass: 13 digits in a row (separators aside) somewhere in the text.
_MAY_HOLD_PAN = re.compile(r"\d{4}[ -]?\d{4}[ -]?\d{4}[ -]?\d")


class PciNoPanLiteral(SchemaRule):
    """Keep card numbers out of the schema itself: defaults, checks, comments, code.

    **Problem.** A Luhn-valid number of 13 to 19 digits (the shape of every issued card
    number) appears in the schema: a column default or generated expression, a CHECK
    constraint, an index definition, a row-level security policy, a view, a function body,
    an enum label, or a comment.

    **Why.** The system catalogs (``pg_attrdef``, ``pg_constraint``, ``pg_proc``,
    ``pg_description``...) are readable by every role and copied by every ``pg_dump
    --schema-only``, migration file and code review: a PAN there is stored in clear, in
    breach of PCI DSS v4.0 Requirement 3.5.1, and puts the repository in scope of the
    cardholder data environment. Test card numbers are Luhn-valid too: data-loss-prevention
    scanners (and assessors) flag them alike.

    **Fix.** Remove the number; keep test cards in test fixtures outside the schema, or list
    the known test numbers in ``allowed_numbers`` (digits only). Findings show the number
    masked to its first six and last four digits (Req. 3.4.1).

    **Example.**

    ```sql
    -- stores a card number in pg_constraint
    ALTER TABLE payments ADD CHECK (card_token <> '4111111111111111');
    ```
    """

    id = "pci-no-pan-literal"
    severity = Severity.ERROR
    help = "Remove the card number from the schema; keep test cards in fixtures."

    class Options(BaseModel):
        """Numbers known not to be account data (test card numbers), digits only."""

        model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

        allowed_numbers: tuple[str, ...] = Field(
            default=(),
            description="Card-shaped numbers allowed in the schema (digits only), such as"
            " documented test cards.",
        )

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Flag every schema text holding a Luhn-valid card-shaped number."""
        allowed = set(self.options.allowed_numbers)
        for what, key, text, origin in _texts(catalog):
            if not _MAY_HOLD_PAN.search(text or ""):
                continue  # no run of 13 digits: skip the Luhn scan
            found = [n for n in card_numbers(text) if n not in allowed]
            if found:
                numbers = ", ".join(masked(n) for n in found)
                yield Violation(
                    f"{what} {key} contains a card number ({numbers}): the system catalog"
                    " stores it in clear, readable by every role (Req. 3.5.1)",
                    object=key,
                    origin=origin,
                )


def _texts(catalog: Catalog) -> Iterator[tuple[str, str, str | None, Origin | None]]:
    """Every piece of SQL text or comment in the catalog: (kind, key, text, origin)."""
    for table in catalog.all_tables():
        if table.comment:
            yield "comment of table", table.key, table.comment, table.origin
        for column in table.columns:
            if column.default:
                kind = "generated column" if column.generated else "default of column"
                key = f"{table.key}.{column.name}"
                yield kind, key, column.default, column.origin or table.origin
            if column.comment:
                key = f"{table.key}.{column.name}"
                yield "comment of column", key, column.comment, column.origin or table.origin
        for constraint in table.constraints:
            if constraint.kind == "c":
                key = f"{table.key}.{constraint.name}"
                text = constraint.expression or constraint.definition
                yield "check constraint", key, text, constraint.origin or table.origin
        for index in table.indexes:
            key = f"{table.schema}.{index.name}"
            yield "index", key, index.definition, index.origin or table.origin
        for policy in table.policies:
            key = f"{table.key}.{policy.name}"
            text = " ".join(t for t in (policy.using, policy.with_check) if t)
            yield "policy", key, text, policy.origin or table.origin
    for view in catalog.views.values():
        yield "view", view.key, view.definition, view.origin
        yield "comment of view", view.key, view.comment, view.origin
    for function in catalog.functions.values():
        text = function.body or function.definition
        yield "function", function.key, text, function.origin
        yield "comment of function", function.key, function.comment, function.origin
    for enum in catalog.enums.values():
        yield "enum type", enum.key, " ".join(enum.labels), enum.origin
