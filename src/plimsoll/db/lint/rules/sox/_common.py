"""What the ``sox`` rules share: which tables are financial, which are ledgers, money columns.

Not a rule module (it defines no rule). The generic helpers (compiled patterns,
classification comments, type names, triggers, grants) come from
:mod:`plimsoll.db.lint.schema_facts`.

**Which tables are financial.** A table is financial when its comment classifies it as
``classification: financial`` (or ``ledger``), or when it carries no classification label
and its name (or ``schema.name``) matches ``financial_table_patterns`` (ledger, journal,
invoice, payment, transaction, account, ``gl_``...) and not ``exclude_table_patterns``
(by default the history and audit tables themselves: ``*_history``, ``*_audit``, tables of
the ``audit`` and ``history`` schemas). Any other label (``classification: internal``)
records that the table was reviewed and is not financial.

**Which tables are ledgers.** The financial records that must never be changed once
written: ``classification: ledger``, or unlabelled names matching ``ledger_table_patterns``
(ledger, journal, ``gl_``, postings), less the excluded ones.

**Money columns.** A column whose name matches ``amount_patterns`` (amount, price, cost,
fee, tax, balance, debit, credit, total, ``*_cents``) and whose type is a number.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.lint.context import SchemaContext
from plimsoll.db.lint.rule import SchemaRule, Violation
from plimsoll.db.lint.schema_facts import (
    NameMatcher,
    Patterns,
    base_type,
    classification,
    matcher,
    per_catalog,
    trigger_raises,
)

DEFAULT_FINANCIAL_TABLE_PATTERNS: tuple[str, ...] = (
    r"ledger",
    r"journal",
    r"invoice",
    r"payment",
    r"transaction",
    r"(^|_)accounts?($|_)",
    r"^gl_",
    r"(^|_)gl($|_)",
    r"posting",
    r"payable",
    r"receivable",
    r"refund",
    r"payout",
    r"settlement",
    r"billing",
)
DEFAULT_LEDGER_TABLE_PATTERNS: tuple[str, ...] = (
    r"ledger",
    r"journal",
    r"^gl_",
    r"(^|_)gl($|_)",
    r"posting",
)
DEFAULT_EXCLUDE_TABLE_PATTERNS: tuple[str, ...] = (
    r"_(history|audit|audit_log|log|versions?|archive)$",
    r"^(audit|history)\.",
)
DEFAULT_AMOUNT_PATTERNS: tuple[str, ...] = (
    r"amount",
    r"(^|_)amt$",
    r"price",
    r"(^|_)cost$",
    r"(^|_)fees?$",
    r"(^|_)tax$",
    r"balance",
    r"(^|_)(debit|credit)$",
    r"(^|_)(sub)?total$",
    r"_cents$",
)
DEFAULT_CURRENCY_PATTERNS: tuple[str, ...] = (r"currency", r"(^|_)ccy($|_)", r"iso_?4217")
DEFAULT_HISTORY_SUFFIXES: tuple[str, ...] = ("_history", "_audit", "_log", "_versions")
DEFAULT_HISTORY_SCHEMAS: tuple[str, ...] = ("audit", "history")
DEFAULT_SHARED_AUDIT_TABLE_PATTERNS: tuple[str, ...] = (r"^logged_actions$", r"^record_versions?$")

NUMBER_TYPES = frozenset(
    {"numeric", "integer", "bigint", "smallint", "real", "double precision", "money"}
)


class FinancialOptions(BaseModel):
    """Which tables are financial (options of every ``sox`` rule over financial tables)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    financial_table_patterns: Patterns = Field(
        default=DEFAULT_FINANCIAL_TABLE_PATTERNS,
        description="Table names (or schema.name) that hold financial records.",
    )
    exclude_table_patterns: Patterns = Field(
        default=DEFAULT_EXCLUDE_TABLE_PATTERNS,
        description="Table names (or schema.name) never taken as financial (history and"
        " audit tables).",
    )


class LedgerOptions(BaseModel):
    """Which tables are ledgers (options of every ``sox`` rule over ledger tables)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    ledger_table_patterns: Patterns = Field(
        default=DEFAULT_LEDGER_TABLE_PATTERNS,
        description="Table names (or schema.name) of ledgers: records never changed once written.",
    )
    exclude_table_patterns: Patterns = Field(
        default=DEFAULT_EXCLUDE_TABLE_PATTERNS,
        description="Table names (or schema.name) never taken as ledgers (history and audit"
        " tables).",
    )


class AmountOptions(FinancialOptions):
    """Which tables are financial and which columns hold amounts."""

    amount_patterns: Patterns = Field(
        default=DEFAULT_AMOUNT_PATTERNS,
        description="Column names that hold amounts of money.",
    )


class HistoryOptions(FinancialOptions):
    """Which tables are financial, and where their history is kept."""

    history_suffixes: tuple[str, ...] = Field(
        default=DEFAULT_HISTORY_SUFFIXES,
        description="A table <name><suffix> in the same schema is <name>'s history.",
    )
    history_schemas: tuple[str, ...] = Field(
        default=DEFAULT_HISTORY_SCHEMAS,
        description="A table of the same name in one of these schemas is its history.",
    )
    shared_audit_table_patterns: Patterns = Field(
        default=DEFAULT_SHARED_AUDIT_TABLE_PATTERNS,
        description="Names (or schema.name) of one audit table shared by every table (for"
        " example the audit trigger's logged_actions).",
    )


def _scoped(
    catalog: Catalog, labels: tuple[str, ...], include: NameMatcher, exclude: NameMatcher
) -> tuple[Table, ...]:
    out = []
    for table in catalog.all_tables():
        label = classification(table.comment)
        if label in labels:
            out.append(table)
        elif label is None and include.table(table) and not exclude.table(table):
            out.append(table)
    return tuple(out)


def financial_tables(catalog: Catalog, options: FinancialOptions) -> tuple[Table, ...]:
    """The financial tables of ``catalog`` (computed once per run and options)."""
    include = matcher(options.financial_table_patterns)
    exclude = matcher(options.exclude_table_patterns)
    key = ("financial", include.patterns, exclude.patterns)
    labels = ("financial", "ledger")
    return per_catalog(catalog, key, lambda: _scoped(catalog, labels, include, exclude))


def ledger_tables(catalog: Catalog, options: LedgerOptions) -> tuple[Table, ...]:
    """The ledger tables of ``catalog`` (computed once per run and options)."""
    include = matcher(options.ledger_table_patterns)
    exclude = matcher(options.exclude_table_patterns)
    key = ("ledger", include.patterns, exclude.patterns)
    return per_catalog(catalog, key, lambda: _scoped(catalog, ("ledger",), include, exclude))


class ScopeOptions(BaseModel):
    """Whether a rule looks at the financial tables only, or at every table."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    only_financial_tables: bool = Field(
        default=True,
        description="Check financial tables only; false: every table.",
    )


def checked_tables(catalog: Catalog, options: Any) -> tuple[Table, ...]:
    """The tables a rule with :class:`ScopeOptions` (and :class:`FinancialOptions`) checks."""
    if options.only_financial_tables:
        return financial_tables(catalog, options)
    return tuple(catalog.all_tables())


def is_amount(column: Column, amounts: NameMatcher) -> bool:
    """Whether the column holds an amount: a number named like one."""
    return amounts(column.name) and base_type(column.type) in NUMBER_TYPES


def history_tables(catalog: Catalog, table: Table, options: HistoryOptions) -> list[Table]:
    """The tables keeping ``table``'s history: by suffix, by history schema, or shared."""
    found = []
    for suffix in options.history_suffixes:
        other = catalog.find_table(f"{table.schema}.{table.name}{suffix}")
        if other is not None:
            found.append(other)
    for schema in options.history_schemas:
        if schema != table.schema:
            other = catalog.find_table(f"{schema}.{table.name}")
            if other is not None:
                found.append(other)
    found.extend(shared_audit_tables(catalog, options))
    return found


def shared_audit_tables(catalog: Catalog, options: HistoryOptions) -> tuple[Table, ...]:
    """The shared audit tables of ``catalog`` (computed once per run and options)."""
    shared = matcher(options.shared_audit_table_patterns)
    if not shared:
        return ()
    return per_catalog(
        catalog,
        ("shared_audit", shared.patterns),
        lambda: tuple(t for t in catalog.all_tables() if shared.table(t)),
    )


def blocked_events(catalog: Catalog, table: Table) -> set[str]:
    """The events a BEFORE trigger of ``table`` refuses by raising an error."""
    out: set[str] = set()
    for trigger in table.triggers:
        if trigger.timing == "BEFORE" and trigger_raises(catalog, trigger):
            out |= {e.upper() for e in trigger.events}
    return out


class LedgerTriggerRule(SchemaRule):
    """A rule over each ledger table and the events its BEFORE triggers refuse by raising.

    Subclasses judge one table (:meth:`judge`).
    """

    def check(self, catalog: Catalog, context: SchemaContext) -> Iterator[Violation]:
        """Judge each ledger table, knowing which events its triggers refuse."""
        for table in ledger_tables(catalog, self.options):
            yield from self.judge(table, blocked_events(catalog, table))

    @abstractmethod
    def judge(self, table: Table, blocked: set[str]) -> Iterator[Violation]:
        """The findings on ``table``, whose BEFORE triggers refuse the ``blocked`` events."""
