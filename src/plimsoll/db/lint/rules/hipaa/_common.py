"""What the ``hipaa`` rules share: which tables and columns hold PHI.

Not a rule module (it defines no rule). The generic helpers (compiled name patterns,
classification comments, type names, trigger coverage, grants, per-catalog caching) are in
:mod:`plimsoll.db.lint.schema_facts`, shared with every other library.

**Which columns hold PHI.** A column holds protected health information when

* its comment classifies it as PHI (see below); or
* it carries no classification label and its name matches ``phi_column_patterns`` (health
  information and strong identifiers: ssn, mrn, diagnosis, date of birth...); or
* it carries no classification label, its table holds PHI, and its name matches
  ``linked_identifier_patterns`` (names, addresses, phone numbers, e-mail...: HIPAA's
  identifiers of 45 CFR 164.514(b)(2) are PHI when they sit next to health information).

**Which tables hold PHI.** A table holds PHI when one of its columns does, when its comment
classifies it as PHI, or when it carries no classification label and its name (or
``schema.name``) matches ``phi_table_patterns``.

**The classification convention** (:func:`plimsoll.db.lint.schema_facts.classification`). A
``COMMENT ON COLUMN`` (or ``ON TABLE``) classifies the object with a ``classification:
<label>`` tag anywhere in the comment (``=`` may stand for ``:``; case does not matter):
``classification: phi`` marks PHI, and any other label (``classification: public``,
``classification: internal``, ``classification: none``) records the decision that it is not
PHI, so name patterns no longer apply to it. The word ``PHI`` in capitals, standing alone
(``'PHI: primary diagnosis, ICD-10'``), is shorthand for ``classification: phi``; an
explicit label wins over it.

Patterns are regular expressions searched in the lower-case name, or shell patterns matched
against the whole name when they start with ``glob:`` (as
:func:`plimsoll.db.lint.schema_facts.matcher` compiles them).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.lint.schema_facts import (
    NameMatcher,
    Patterns,
    classification,
    matcher,
    per_catalog,
)

# ---------------------------------------------------------------------------------------------
# PHI

DEFAULT_PHI_COLUMN_PATTERNS: tuple[str, ...] = (
    r"(^|_)ssn($|_)",
    r"social_?security",
    r"(^|_)mrn($|_)",
    r"medical_?record",
    r"(^|_)dob($|_)",
    r"date_?of_?birth",
    r"birth_?(date|day)",
    r"diagnos",
    r"(^|_)icd(_?(9|10))?(_|$)",
    r"(^|_)(medical|health)_?(condition|history)",
    r"prescription",
    r"medication",
    r"allerg",
    r"treatment",
    r"(^|_)lab_?results?($|_)",
    r"clinical",
    r"symptom",
    r"health_?plan",
    r"beneficiary",
    r"insurance_?(id|number|member)",
    r"(admission|admit(ted)?|discharged?|death)_?(date|at|on)($|_)",
    r"biometric",
    r"fingerprint",
)
DEFAULT_LINKED_IDENTIFIER_PATTERNS: tuple[str, ...] = (
    r"(^|_)(first|last|middle|full|given|family|maiden|patient)_?name$",
    r"^name$",
    r"address",
    r"(^|_)(street|city|county)$",
    r"(^|_)(zip|postal)(_?code)?$",
    r"phone",
    r"(^|_)fax",
    r"e_?mail",
    r"(^|_)ip_?addr",
    r"(^|_)(license|licence|certificate|vehicle|device)_?(number|no|id|serial)",
    r"photo",
    r"(^|_)(account|member)_?(number|no)$",
)
DEFAULT_PHI_TABLE_PATTERNS: tuple[str, ...] = (
    r"patient",
    r"(^|_)phi($|_)",
    r"medical",
    r"clinical",
    r"diagnos",
    r"prescription",
    r"encounter",
    r"health_?record",
)

# Tables that record activity on PHI: they hold PHI too (row images, patient ids), but asking
# them for audit columns, audit triggers, a retention column or row-level security of their
# own would recurse without end (the audit table of the audit table...).
DEFAULT_LOG_TABLE_PATTERNS: tuple[str, ...] = (
    r"(^|_)access_?logs?$",
    r"(^|_)audit_?(logs?|trail|events?)?s?$",
    r"(^|_)access_?events?$",
    r"^phi_access",
)


class PhiOptions(BaseModel):
    """Which columns and tables hold PHI (every ``hipaa`` rule has these options)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    phi_column_patterns: Patterns = Field(
        default=DEFAULT_PHI_COLUMN_PATTERNS,
        description="Column names that hold PHI in any table (health information and strong"
        " identifiers: ssn, mrn, diagnosis, date of birth...).",
    )
    linked_identifier_patterns: Patterns = Field(
        default=DEFAULT_LINKED_IDENTIFIER_PATTERNS,
        description="Column names that are PHI in a table holding PHI (names, addresses, phone"
        " numbers, e-mail: identifiers of 45 CFR 164.514(b)(2)).",
    )
    phi_table_patterns: Patterns = Field(
        default=DEFAULT_PHI_TABLE_PATTERNS,
        description="Table names (or schema.name) that hold PHI whatever their columns.",
    )
    log_table_patterns: Patterns = Field(
        default=DEFAULT_LOG_TABLE_PATTERNS,
        description="Audit and access-log tables (names or schema.name): the audit-columns,"
        " audit-trigger, retention-column and row-level-security rules leave them out (they"
        " are the audit trail; auditing them would recurse).",
    )


@dataclass(frozen=True)
class PhiTable:
    """A table holding PHI, its PHI columns (in table order), and why it holds PHI."""

    table: Table
    columns: tuple[Column, ...]
    reason: str

    @property
    def key(self) -> str:
        """The table's key."""
        return self.table.key

    def describe(self) -> str:
        """``public.patients (PHI: column ssn)``: the table and why it is in scope."""
        return f"{self.table.key} (PHI: {self.reason})"


def phi_tables(catalog: Catalog, options: PhiOptions) -> tuple[PhiTable, ...]:
    """The tables of ``catalog`` holding PHI under ``options``, by key (computed once per run)."""
    strong = matcher(options.phi_column_patterns)
    linked = matcher(options.linked_identifier_patterns)
    tables = matcher(options.phi_table_patterns)
    key = ("phi", strong.patterns, linked.patterns, tables.patterns)
    return per_catalog(catalog, key, lambda: _phi_tables(catalog, strong, linked, tables))


def audited_phi_tables(catalog: Catalog, options: PhiOptions) -> tuple[PhiTable, ...]:
    """The tables holding PHI that need an audit trail: all but the audit and access logs."""
    logs = matcher(options.log_table_patterns)
    return tuple(phi for phi in phi_tables(catalog, options) if not logs.table(phi.table))


def _phi_tables(
    catalog: Catalog, strong: NameMatcher, linked: NameMatcher, tables: NameMatcher
) -> tuple[PhiTable, ...]:
    out = []
    for table in catalog.all_tables():
        labels = [classification(c.comment) if c.comment else None for c in table.columns]
        phi = [
            c
            for c, label in zip(table.columns, labels, strict=True)
            if label == "phi" or (label is None and strong(c.name))
        ]
        table_label = classification(table.comment)
        if phi:
            reason = "column " + ", ".join(c.name for c in phi[:3]) + (", ..." if phi[3:] else "")
        elif table_label == "phi":
            reason = "table comment"
        elif table_label is None and tables.table(table):
            reason = "table name"
        else:
            continue
        chosen = {c.name for c in phi}
        columns = tuple(
            c
            for c, label in zip(table.columns, labels, strict=True)
            if c.name in chosen or (label is None and linked(c.name))
        )
        out.append(PhiTable(table, columns, reason))
    return tuple(out)
