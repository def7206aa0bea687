"""What the ``gdpr`` rules share: which columns hold personal data, and the comment conventions.

Not a rule module (it defines no rule). The generic helpers (compiled name patterns, per-catalog
caching, type names, grants, trigger coverage) come from
:mod:`plimsoll.db.lint.schema_facts`, so every library reads classification comments the
same way.

**Which columns hold personal data** (GDPR Art. 4(1): any information relating to an identified
or identifiable natural person). A column holds personal data when

* its comment classifies it as personal data (see the labels below); or
* it carries no label saying otherwise, and its name matches ``personal_patterns`` (e-mail,
  phone, names, addresses, IP addresses, birth dates, national identifiers, online
  identifiers...) or ``special_patterns``; or, on a data-subject table only,
  ``subject_attribute_patterns`` (``name``, ``gender``, ``nationality``, ``photo``...: these
  describe a person only on a table of persons; ``products.name`` is not personal data).

Name patterns are not applied to a column that matches ``not_personal_patterns`` (flags about
the data such as ``email_verified``, ``phone_confirmed_at``), nor to a foreign-key column whose
referenced column is not itself personal by name (``orders.address_id`` holds a reference,
the address lives in ``addresses``; ``orders.customer_email REFERENCES users (email)`` is a copy
of an e-mail address and stays personal data).

**Special categories** (Art. 9(1): racial or ethnic origin, political opinions, religious or
philosophical beliefs, trade union membership, genetic data, biometric data, health, sex life
or sexual orientation; and Art. 10 criminal convictions) are the columns labelled ``special``
(or ``phi``, the ``hipaa`` library's label: health data is a special category) and the columns
whose name matches ``special_patterns``.

**Data-subject tables** are the tables whose name (or ``schema.name``) matches
``subject_tables`` (``users``, ``customers``, ``persons``, ``members``, ``patients``...): one
row per natural person. A data-subject table holds personal data by definition.

**The classification convention.** A ``COMMENT ON COLUMN`` carries ``classification: <label>``
anywhere in its text (``=`` may stand for ``:``, case does not matter):

* ``personal``, ``pseudonymised`` (or ``pseudonymized``): personal data (pseudonymised data is
  still personal data, Recital 26);
* ``special`` (or ``phi``): a special category of Art. 9;
* ``none``, ``anonymised``, ``anonymized``, ``anonymous``, ``non-personal``: the decision that
  the column holds no personal data; name patterns no longer apply to it.

Any other label (``classification: confidential``) is not a GDPR classification: it decides
nothing, and ``gdpr-personal-data-classified`` reports it on personal-data columns.

**Table comments** carry the records of processing: ``purpose: <why the data is processed>``
(Art. 30(1)(b)) and ``retention: <duration>`` (Art. 5(1)(e)), where the duration is ``<n>
days|weeks|months|years``, an ISO 8601 duration (``P2Y``, ``P90D``), or ``until <event>`` (the
criteria of Art. 13(2)(a)). A column comment with ``purpose: ...`` documents why a column the
minimisation rules question is necessary.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from plimsoll.db.catalog import Catalog, Column, Table
from plimsoll.db.lint.schema_facts import Patterns, base_type, classification, matcher, per_catalog

# ---------------------------------------------------------------------------------------------
# Default patterns

DEFAULT_PERSONAL_PATTERNS: tuple[str, ...] = (
    r"e_?mail",
    r"phone|(^|_)mobile($|_)|msisdn|(^|_)fax($|_)",
    r"(^|_)(first|last|full|middle|given|family|maiden|legal|display|user|nick|sur)_?name$",
    r"address|(^|_)street($|_)|(^|_)(post|postal|zip)_?code$|(^|_)zip$",
    r"(^|_)ip($|_addr)|remote_addr|user_agent",
    r"birth|(^|_)dob$|(^|_)born_(on|at)$",
    r"national_?id|(^|_)ssn($|_)|social_?security|passport|(^|_)tax_?(id|number|no)$",
    r"(^|_)(tin|nin)$|driv(er|ing)_?licen[cs]e|identity_?card|(^|_)id_card",
    r"geo_?location|(^|_)gps($|_)",
    r"(^|_)iban$|bank_?account",
    r"(^|_)(device|advertising|cookie)_id$|(^|_)idfa$",
)
DEFAULT_SUBJECT_ATTRIBUTE_PATTERNS: tuple[str, ...] = (
    r"^name$",
    r"^(gender|sex|age|nationality|citizenship|marital_status)$",
    r"^(avatar|photo|picture|portrait)(_url)?$",
    r"^(latitude|longitude|lat|lng|lon|location)$",
)
DEFAULT_SPECIAL_PATTERNS: tuple[str, ...] = (
    r"(^|_)race$|racial|ethnic",
    r"politic",
    r"religio|(^|_)(faith|belief|beliefs)$",
    r"trade_?union|union_member",
    r"genetic|(^|_)dna($|_)|genom|genotype",
    r"biometric|fingerprint|face_?(template|encoding|embedding|print)|iris_|voice_?print",
    r"health|medical|diagnos|disabilit|allerg|medication|prescription|pregnan",
    r"blood_?(type|group)|(^|_)mental_|(^|_)(bmi|hiv)($|_)",
    r"sexual|sex_life",
    r"criminal|conviction",
)
DEFAULT_NOT_PERSONAL_PATTERNS: tuple[str, ...] = (
    r"_(verified|confirmed|validated|bounced|opt_?in|opt_?out|consent|consented|subscribed)"
    r"(_at|_on)?$",
    r"_(count|format)$",
)
DEFAULT_SUBJECT_TABLES: tuple[str, ...] = (
    r"^(app_|auth_)?(users?|customers?|clients?|persons?|people|members?|patients?)$",
    r"^(employees?|staff|contacts?|subscribers?|students?|applicants?|candidates?)$",
    r"^(guests?|visitors?|data_subjects?|individuals?|user_profiles?|profiles?)$",
)

# Labels of the classification convention (see the module docstring).
PERSONAL_LABELS = frozenset({"personal", "pseudonymised", "pseudonymized"})
SPECIAL_LABELS = frozenset({"special", "phi"})
NOT_PERSONAL_LABELS = frozenset(
    {"none", "anonymised", "anonymized", "anonymous", "non-personal", "non_personal"}
)
PSEUDONYMISED_LABELS = frozenset({"pseudonymised", "pseudonymized"})
KNOWN_LABELS = PERSONAL_LABELS | SPECIAL_LABELS | NOT_PERSONAL_LABELS


class PersonalDataOptions(BaseModel):
    """Which columns hold personal data and which tables are data subjects (every gdpr rule)."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    personal_patterns: Patterns = Field(
        default=DEFAULT_PERSONAL_PATTERNS,
        description="Column names that hold personal data in any table (e-mail, phone, names,"
        " addresses, IP addresses, birth dates, national identifiers, online identifiers).",
    )
    subject_attribute_patterns: Patterns = Field(
        default=DEFAULT_SUBJECT_ATTRIBUTE_PATTERNS,
        description="Column names that hold personal data on a data-subject table only"
        " (name, gender, nationality, photo, location).",
    )
    special_patterns: Patterns = Field(
        default=DEFAULT_SPECIAL_PATTERNS,
        description="Column names of the special categories of Art. 9 (and criminal data of"
        " Art. 10): ethnicity, politics, religion, trade union, genetics, biometrics, health,"
        " sex life or sexual orientation, convictions.",
    )
    not_personal_patterns: Patterns = Field(
        default=DEFAULT_NOT_PERSONAL_PATTERNS,
        description="Column names the name patterns never apply to (flags about the data:"
        " email_verified, phone_confirmed_at).",
    )
    subject_tables: Patterns = Field(
        default=DEFAULT_SUBJECT_TABLES,
        description="Table names (or schema.name) of data-subject tables: one row per person"
        " (users, customers, persons, members, patients...).",
    )


# ---------------------------------------------------------------------------------------------
# Comment conventions

_PURPOSE = re.compile(r"\bpurpose\s*[:=]\s*\S", re.IGNORECASE)
_RETENTION = re.compile(r"\bretention\s*[:=]\s*([^;\n]*)", re.IGNORECASE)
_DURATION = re.compile(
    r"^(?:\d+\s*(?:second|minute|hour|day|week|month|year)s?\b"
    r"|p(?=\d|t\d)(?:\d+y)?(?:\d+m)?(?:\d+w)?(?:\d+d)?(?:t(?:\d+h)?(?:\d+m)?(?:\d+s)?)?(?:\s|$|[.,)])"
    r"|until\s+\S)",
    re.IGNORECASE,
)


def label_of(column: Column) -> str | None:
    """The column's classification label (lower case), or None."""
    return classification(column.comment) if column.comment else None


def has_purpose(comment: str | None) -> bool:
    """Whether a comment documents a purpose (``purpose: <text>``)."""
    return bool(comment) and _PURPOSE.search(comment or "") is not None


def retention_of(comment: str | None) -> str | None:
    """The text after ``retention:`` in a comment (stripped), or None when there is none."""
    if not comment:
        return None
    found = _RETENTION.search(comment)
    return found.group(1).strip().rstrip(".") if found else None


def is_duration(text: str) -> bool:
    """Whether a retention value is a duration (``2 years``, ``P90D``) or ``until <event>``."""
    return _DURATION.match(text.strip()) is not None


# ---------------------------------------------------------------------------------------------
# Types

TEMPORAL_TYPES = frozenset({"date", "timestamp with time zone", "timestamp without time zone"})
# Types that cannot be read as text: an encrypted or hashed value is stored as bytes.
OPAQUE_TYPES = frozenset({"bytea"})


def is_temporal(column: Column) -> bool:
    """Whether the column holds a date or a timestamp."""
    return base_type(column.type) in TEMPORAL_TYPES


# ---------------------------------------------------------------------------------------------
# Personal data in a catalog


@dataclass(frozen=True)
class PersonalTable:
    """A table holding personal data: its personal columns (table order), special ones apart.

    ``personal`` includes the special-category columns; ``subject`` says whether the table is
    a data-subject table (it then holds personal data even without a matching column).
    """

    table: Table
    personal: tuple[Column, ...]
    special: tuple[Column, ...]
    subject: bool

    @property
    def key(self) -> str:
        """The table's key."""
        return self.table.key

    def describe(self, limit: int = 3) -> str:
        """A short account of why the table is in scope (``columns email, phone``)."""
        if not self.personal:
            return "a data-subject table"
        names = [c.name for c in self.personal[:limit]]
        more = ", ..." if len(self.personal) > limit else ""
        return "column" + ("s " if len(self.personal) > 1 else " ") + ", ".join(names) + more


class _Matchers:
    """The compiled patterns of the options, with a memo of what each column name is."""

    def __init__(self, options: PersonalDataOptions) -> None:
        self.personal = matcher(tuple(options.personal_patterns))
        self.attribute = matcher(tuple(options.subject_attribute_patterns))
        self.special = matcher(tuple(options.special_patterns))
        self.not_personal = matcher(tuple(options.not_personal_patterns))
        self.subject = matcher(tuple(options.subject_tables))
        self._names: dict[str, tuple[bool, bool, bool]] = {}

    def name(self, name: str) -> tuple[bool, bool, bool]:
        """(special, personal, subject attribute) by name alone; all false when excluded."""
        known = self._names.get(name)
        if known is None:
            if self.not_personal(name):
                known = (False, False, False)
            else:
                known = (self.special(name), self.personal(name), self.attribute(name))
            self._names[name] = known
        return known


def _matchers(options: PersonalDataOptions) -> _Matchers:
    return _Matchers(options)


def _cache_key(kind: str, options: PersonalDataOptions) -> tuple[object, ...]:
    return (
        "gdpr",
        kind,
        tuple(options.personal_patterns),
        tuple(options.subject_attribute_patterns),
        tuple(options.special_patterns),
        tuple(options.not_personal_patterns),
        tuple(options.subject_tables),
    )


def personal_tables(catalog: Catalog, options: PersonalDataOptions) -> dict[str, PersonalTable]:
    """The tables holding personal data under ``options``, by key (computed once per catalog)."""
    found = _matchers(options)
    return per_catalog(
        catalog, _cache_key("tables", options), lambda: _personal_tables(catalog, found)
    )


def subject_tables(catalog: Catalog, options: PersonalDataOptions) -> list[Table]:
    """The data-subject tables of ``catalog``, by key."""
    return [p.table for p in personal_tables(catalog, options).values() if p.subject]


def _personal_tables(catalog: Catalog, found: _Matchers) -> dict[str, PersonalTable]:
    out: dict[str, PersonalTable] = {}
    for table in catalog.all_tables():
        subject = found.subject.table(table)
        references = _reference_columns(table, found) if table.constraints else {}
        personal: list[Column] = []
        special: list[Column] = []
        for column in table.columns:
            by_special, by_personal, by_attribute = found.name(column.name)
            if not column.comment and not (by_special or by_personal or (subject and by_attribute)):
                continue  # the common case, decided without a label
            kind = _column_kind(column, subject, references, found)
            if kind is not None:
                personal.append(column)
                if kind == "special":
                    special.append(column)
        if personal or subject:
            out[table.key] = PersonalTable(table, tuple(personal), tuple(special), subject)
    return out


def _reference_columns(table: Table, found: _Matchers) -> dict[str, bool]:
    """Each foreign-key column of ``table``: whether it copies a personal value (by name).

    A column that references a column whose name is not personal (``id``) holds a reference,
    not personal data; one that references ``users.email`` is a copy of the e-mail address.
    """
    out: dict[str, bool] = {}
    for constraint in table.constraints:
        if constraint.kind != "f":
            continue
        targets = constraint.ref_columns or ("",) * len(constraint.columns)
        for column, target in zip(constraint.columns, targets, strict=False):
            special, personal, _ = found.name(target) if target else (False, False, False)
            copies = special or personal
            out[column] = out.get(column, False) or copies
    return out


def _column_kind(
    column: Column, subject: bool, references: dict[str, bool], found: _Matchers
) -> str | None:
    """``special``, ``personal`` or None (not personal data) for one column."""
    label = label_of(column)
    if label in NOT_PERSONAL_LABELS:
        return None
    if label in SPECIAL_LABELS:
        return "special"
    special, personal, attribute = found.name(column.name)
    if (special or personal or attribute) and not references.get(column.name, True):
        special = personal = attribute = False  # a reference to a row, not a copy of a value
    if special:
        return "special"
    if label in PERSONAL_LABELS or personal or (subject and attribute):
        return "personal"
    return None


def is_personal_column(table: PersonalTable, column: Column) -> bool:
    """Whether ``column`` (of ``table``) is one of its personal-data columns."""
    return any(c is column for c in table.personal)


# ---------------------------------------------------------------------------------------------
# Erasure functions

DEFAULT_ERASURE_FUNCTIONS: tuple[str, ...] = (
    r"^(anonymi[sz]e|pseudonymi[sz]e|erase|forget|redact|scrub)_({table}|{singular})(_data)?$",
    r"^gdpr_(erase|forget|anonymi[sz]e)_({table}|{singular})$",
)


def singular(name: str) -> str:
    """A plain English singular of a table name (``users`` -> ``user``, ``people`` -> ``person``)."""
    if name.endswith("people"):
        return name[: -len("people")] + "person"
    if name.endswith("ies") and len(name) > 3:
        return name[:-3] + "y"
    if name.endswith(("sses", "xes", "ches", "shes")):
        return name[:-2]
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def erasure_functions(catalog: Catalog, table: Table, patterns: Iterable[str]) -> list[str]:
    """The keys of the functions that erase or anonymise the rows of ``table``.

    Each pattern is a regular expression searched in the lower-case function name, with
    ``{table}`` standing for the table's name and ``{singular}`` for its singular.
    """
    names = {
        "{table}": re.escape(table.name.lower()),
        "{singular}": re.escape(singular(table.name.lower())),
    }
    compiled = []
    for pattern in patterns:
        for token, value in names.items():
            pattern = pattern.replace(token, value)
        compiled.append(re.compile(pattern))
    return [
        key
        for key, function in catalog.functions.items()
        if any(regex.search(function.name.lower()) for regex in compiled)
    ]


def check_erasure_pattern(pattern: str) -> str:
    """Refuse an erasure-function pattern that is not a regular expression once filled in."""
    filled = pattern.replace("{table}", "t").replace("{singular}", "t")
    try:
        re.compile(filled)
    except re.error as exc:
        raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from None
    return pattern


# A tuple of erasure-function patterns, each checked when the options are read.
ErasurePatterns = tuple[Annotated[str, AfterValidator(check_erasure_pattern)], ...]
