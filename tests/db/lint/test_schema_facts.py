"""The catalog facts shared by the schema rules: name patterns, labels, types, triggers, grants."""

from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, ValidationError

from plimsoll.db.catalog import (
    Catalog,
    Column,
    Constraint,
    Function,
    Grant,
    Origin,
    Table,
    Trigger,
    View,
)
from plimsoll.db.lint import schema_facts as facts
from plimsoll.db.sqljson import parse_json


def _table(name: str = "t", *, schema: str = "public", **fields: object) -> Table:
    return Table(schema, name, **fields)  # type: ignore[arg-type]


def _trigger(name: str, events: tuple[str, ...], *, row: bool = True, **fields: object) -> Trigger:
    return Trigger(
        name,
        fields.pop("definition", f"CREATE TRIGGER {name} ..."),  # type: ignore[arg-type]
        events=events,
        row_level=row,
        **fields,  # type: ignore[arg-type]
    )


# --- name patterns ----------------------------------------------------------------------------


NAMES = ["ssn", "patient_ssn", "SSN_hash", "dob", "date_of_birth", "id", "x_ssn", "birthdate", ""]
PATTERN_SETS = [
    (r"(^|_)ssn($|_)",),
    (r"^dob$", r"birth_?date", r"date_of"),
    ("glob:*_ssn", "glob:DOB"),
    (r"(?i)SSN", r"^id$"),  # a global flag: not at the start once joined
    (r"(?i)SSN",),
    (r"(?P<x>ssn)", r"(?P<x>dob)"),  # the same group name twice
    (r"(s)\1n", r"^i(d)$"),  # numbered back-references
    (),
]


def _reference(name: str, patterns: tuple[str, ...]) -> bool:
    """What a pattern means, one at a time: searched, or (glob:) matched whole, lower case."""
    lowered = name.lower()
    for pattern in patterns:
        if pattern.startswith("glob:"):
            import fnmatch

            if fnmatch.fnmatchcase(lowered, pattern[5:].lower()):
                return True
        elif re.search(pattern, lowered):
            return True
    return False


@pytest.mark.parametrize("patterns", PATTERN_SETS)
def test_matcher_means_what_each_pattern_means_alone(patterns: tuple[str, ...]) -> None:
    found = facts.matcher(patterns)
    for name in NAMES:
        expected = _reference(name, patterns)
        assert found(name) is expected, (name, patterns)
        assert found(name) is expected  # memoised answer is the same
        assert facts.name_matches(name, patterns) is expected
        assert facts.name_matches(name, list(patterns)) is expected
    assert bool(found) is bool(patterns)


def test_matcher_is_compiled_once_per_pattern_tuple() -> None:
    patterns = (r"^a", r"b$")
    assert facts.matcher(patterns) is facts.matcher(tuple(list(patterns)))
    # name_matches takes an already compiled matcher as is.
    compiled = facts.matcher(patterns)
    assert facts.name_matches("ab", compiled)


def test_table_and_column_matching() -> None:
    table = _table(
        "orders", schema="billing", columns=(Column("id", "bigint"), Column("card_no", "text"))
    )
    assert facts.table_matches(table, ["^billing\\.orders$"])
    assert facts.table_matches(table, ["glob:ord*"])
    assert not facts.table_matches(table, ["^invoices$"])
    assert [c.name for c in facts.matching_columns(table, ["card"])] == ["card_no"]
    catalog = Catalog.of(tables=[table, _table("empty")])
    assert [
        (t.name, [c.name for c in cs]) for t, cs in facts.tables_with_columns(catalog, ["^id$"])
    ] == [("orders", ["id"])]


def test_invalid_patterns_are_refused_when_options_are_read() -> None:
    class Options(BaseModel):
        patterns: facts.Patterns = ()

    assert Options(patterns=("ok", "glob:[")).patterns == ("ok", "glob:[")
    with pytest.raises(ValidationError, match="invalid regular expression '\\('"):
        Options(patterns=("(",))


# --- classification, types, identifiers -----------------------------------------------------


@pytest.mark.parametrize(
    ("comment", "label"),
    [
        ("classification: PHI", "phi"),
        ("Holds the e-mail. Classification = personal.", "personal"),
        ("PHI: primary diagnosis", "phi"),
        ("PHI, but classification: internal", "internal"),
        ("phi in lower case is no shorthand", None),
        ("PHI-like data", None),
        ("", None),
        (None, None),
    ],
)
def test_classification(comment: str | None, label: str | None) -> None:
    assert facts.classification(comment) == label


@pytest.mark.parametrize(
    ("written", "base", "own"),
    [
        ("timestamp(3) with time zone", "timestamp with time zone", "timestamp with time zone"),
        ("pg_catalog.timestamptz", "timestamp with time zone", "timestamp with time zone"),
        ("numeric(12,2)", "numeric", "numeric"),
        ("character varying(40)[]", "character varying", "character varying"),
        ('"public"."encrypted_text"', "public.encrypted_text", "encrypted_text"),
        ("INT8", "bigint", "bigint"),
    ],
)
def test_base_type(written: str, base: str, own: str) -> None:
    assert facts.base_type(written) == base
    assert facts.unqualified(written) == own


def test_is_text_type() -> None:
    assert facts.is_text_type("character varying(40)")
    assert facts.is_text_type("jsonb")
    assert not facts.is_text_type("bytea")
    assert not facts.is_text_type("text[]")


def test_identifiers_split_qualified_names() -> None:
    words = facts.identifiers("SELECT p.name FROM public.Patients p")
    assert {"select", "p", "name", "from", "public", "patients"} <= words
    assert facts.identifiers(None) == frozenset()


# --- per-catalog cache, columns, origins ---------------------------------------------------


def test_per_catalog_computes_once_per_catalog() -> None:
    calls: list[int] = []
    first, second = Catalog.of(), Catalog.of()
    assert facts.per_catalog(first, "k", lambda: calls.append(1) or 1) == 1
    assert facts.per_catalog(first, "k", lambda: calls.append(2) or 2) == 1
    assert facts.per_catalog(second, "k", lambda: calls.append(3) or 3) == 3
    assert calls == [1, 3]


def test_columns_by_name_groups_columns_in_catalog_order() -> None:
    a = _table("a", columns=(Column("id", "bigint"), Column("email", "text")))
    b = _table("b", columns=(Column("id", "integer"), Column("note", "text")))
    catalog = Catalog.of(tables=[b, a])  # keyed and sorted: a before b
    by_name = facts.columns_by_name(catalog)
    assert [(t.name, c.type) for t, c in by_name["id"]] == [("a", "bigint"), ("b", "integer")]
    assert list(by_name) == ["id", "email", "note"]
    assert facts.columns_by_name(catalog) is by_name
    asked: list[str] = []

    def accept(name: str) -> bool:
        asked.append(name)
        return name != "id"

    assert [c.name for _, c in facts.columns_named(catalog, accept)] == ["email", "note"]
    assert asked == ["id", "email", "note"]  # each distinct name once


def test_origin_of_prefers_the_object() -> None:
    table_origin, column_origin = Origin("s.sql", 1), Origin("s.sql", 3)
    table = _table(origin=table_origin)
    assert facts.origin_of(table, Column("a", "text", origin=column_origin)) == column_origin
    assert facts.origin_of(table, Column("a", "text")) == table_origin
    assert facts.origin_of(table) == table_origin


def test_findings_point_at_the_object() -> None:
    table_origin, column_origin = Origin("s.sql", 1), Origin("s.sql", 3)
    column = Column("ssn", "text", origin=column_origin)
    table = _table("patients", columns=(column, Column("dob", "date")), origin=table_origin)
    found = facts.finding(table, "no audit", help="add one")
    assert (found.message, found.object, found.origin, found.help) == (
        "no audit",
        "public.patients",
        table_origin,
        "add one",
    )
    found = facts.column_finding(table, column, "plain text")
    assert (found.object, found.origin, found.help) == ("public.patients.ssn", column_origin, None)
    # A column without an origin of its own (a live database has none at all) points at its table.
    assert facts.column_finding(table, table.columns[1], "m").origin == table_origin


def test_keys_and_columns() -> None:
    pk = Constraint("t_pkey", "p", "PRIMARY KEY (id)", columns=("id",))
    fk = Constraint("t_u_fk", "f", "FOREIGN KEY ...", columns=("u",), references="public.u")
    table = _table(columns=(Column("id", "bigint"), Column("u", "bigint")), constraints=(pk, fk))
    assert facts.primary_key(table) is pk
    assert facts.foreign_keys(table) == [fk]
    assert facts.missing_columns(table, ["id", "created_at", "u"]) == ["created_at"]
    assert facts.has_columns(table, ["u", "id"]) and not facts.has_columns(table, ["x"])
    assert facts.column_key(table, table.columns[1]) == "public.t.u"
    assert list(facts.references_to(Catalog.of(tables=[table]), "public.u")) == [(table, fk)]


# --- triggers -------------------------------------------------------------------------------


def _function(name: str, body: str, language: str = "plpgsql") -> Function:
    return Function(
        "public", name, "", f"CREATE FUNCTION {name}() ...", language=language, body=body
    )


@pytest.mark.parametrize(
    ("function", "raises"),
    [
        (_function("forbid", "BEGIN RAISE EXCEPTION 'no'; END"), True),
        (_function("forbid", "BEGIN RAISE; END"), True),
        (_function("note", "BEGIN RAISE NOTICE 'changed'; RETURN NEW; END"), False),
        (_function("forbid", "", language="c"), True),
        (None, True),  # not in the catalog: cannot be read, taken to raise
    ],
)
def test_trigger_raises(function: Function | None, raises: bool) -> None:
    catalog = Catalog.of(functions=[function] if function else [])
    trigger = _trigger(
        "t_guard", ("DELETE",), function=f"public.{function.name if function else 'x'}"
    )
    assert facts.trigger_raises(catalog, trigger) is raises


def test_audited_events() -> None:
    row = _trigger("t_audit", ("INSERT", "UPDATE"), function="audit.log_change")
    truncate = _trigger("t_truncate", ("TRUNCATE",), row=False, function="audit.log_truncate")
    transition = _trigger(
        "t_bulk",
        ("DELETE",),
        row=False,
        function="audit.log_rows",
        definition="CREATE TRIGGER t_bulk AFTER DELETE ON t REFERENCING OLD TABLE AS gone ...",
    )
    stamp = _trigger("t_touch", ("UPDATE", "DELETE"), function="public.set_updated_at")
    table = _table(triggers=(row, truncate, transition, stamp))
    any_trigger = facts.matcher(())
    assert facts.audited_events(table, any_trigger, 17) == {
        "INSERT",
        "UPDATE",
        "DELETE",
        "TRUNCATE",
    }
    # Transition tables arrived in PostgreSQL 10; set_updated_at audits nothing.
    assert facts.audited_events(table, facts.matcher(("audit", "log")), 9) == {
        "INSERT",
        "UPDATE",
        "TRUNCATE",
    }
    assert facts.missing_audit_events(table, ("INSERT", "DELETE"), facts.matcher(("log",)), 9) == [
        "DELETE"
    ]
    assert facts.has_audit_trigger(table, ["insert", "truncate"])
    assert not facts.has_audit_trigger(_table(triggers=(truncate,)))


# --- grants ---------------------------------------------------------------------------------


def test_privileges_by_grantee_and_holders() -> None:
    grants = frozenset(
        {Grant("SELECT", "public"), Grant("all", "reporting"), Grant("UPDATE", "app", True)}
    )
    by_grantee = facts.privileges_by_grantee(grants)
    assert by_grantee["PUBLIC"] == {"SELECT"}
    assert by_grantee["reporting"] == set(facts.ALL_TABLE_PRIVILEGES)
    assert facts.holders(grants, ["update", "DELETE"]) == {
        "app": ["UPDATE"],
        "reporting": ["DELETE", "UPDATE"],
    }
    table = _table(grants=grants)
    assert facts.public_grants(table) == ["SELECT"]
    assert facts.grantees(table) == {"PUBLIC", "reporting", "app"}
    assert facts.grantees(table, ["TRIGGER"]) == {"reporting"}
    view = View("public", "v", "SELECT 1", grants=frozenset({Grant("ALL", "PUBLIC")}))
    assert facts.public_grants(view) == sorted(facts.ALL_TABLE_PRIVILEGES)


def test_all_is_spelled_out_as_the_catalog_builder_stores_it() -> None:
    """A hand-built ``ALL`` grant means what ``GRANT ALL`` in a schema file builds."""
    from plimsoll.db.ddl_catalog import build_catalog

    built = build_catalog([parse_json("CREATE TABLE t (a int); GRANT ALL ON t TO PUBLIC;")])
    from_file = built.tables["public.t"]
    by_hand = _table(grants=frozenset({Grant("ALL", "PUBLIC")}))
    assert facts.public_grants(by_hand) == facts.public_grants(from_file)
    assert facts.grantees(by_hand, ["REFERENCES"]) == facts.grantees(from_file, ["REFERENCES"])
