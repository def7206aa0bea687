"""Schema rules that must see the same thing in files and in a live database built from them.

Each test runs one script twice: linted as a schema file (the static build) and executed on a
real PostgreSQL, then linted through introspection. PostgreSQL decides what the script does
(column privileges, default privileges, policies); the rules must report the same objects
either way.
"""

from __future__ import annotations

import psycopg
import pytest

from plimsoll.db.ddl import build_catalog
from plimsoll.db.introspect import introspect
from plimsoll.db.lint.compose import RuleOverride, compose
from plimsoll.db.lint.engine import SourceFile, lint_catalog, lint_sources
from plimsoll.db.lint.registry import load_registry
from plimsoll.db.sqljson import parse_json
from tests.support.postgres import PgDatabase

GRANT_RULES = [
    "security-public-grant",
    "hipaa-phi-no-public-grant",
    "gdpr-no-public-grants",
    "pci-no-public-grants",
]


def _static(sql: str, rules: list[str]) -> list[tuple[str, str, int]]:
    """(rule, object, line) of each finding of ``sql`` linted as a schema file."""
    active, audit = compose(load_registry(), [], select=rules)
    report = lint_sources(
        [SourceFile("schema.sql", sql, migration=False)], active, audit, pg_version=16
    )
    return sorted((f.rule, f.object or "", f.line) for f in report.findings)


COLUMN_GRANTS = """
CREATE TABLE users (id bigint PRIMARY KEY, email text, password_hash text, ssn text,
                    card_number text, nickname text);
GRANT SELECT (id, nickname) ON users TO PUBLIC;
GRANT SELECT (id, email, password_hash) ON users TO PUBLIC;
GRANT UPDATE (ssn, card_number) ON users TO PUBLIC;
"""


def test_public_column_grants_on_sensitive_columns(pg_database: PgDatabase) -> None:
    # PostgreSQL keeps these in pg_attribute.attacl, not in the table's ACL.
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(COLUMN_GRANTS)  # type: ignore[arg-type]
        rows = conn.execute(
            "SELECT DISTINCT a.attnum, a.attname FROM pg_attribute a, aclexplode(a.attacl) x"
            " WHERE a.attrelid = 'users'::regclass AND x.grantee = 0 ORDER BY a.attnum"
        ).fetchall()
    assert [r[1] for r in rows] == [
        "id",
        "email",
        "password_hash",
        "ssn",
        "card_number",
        "nickname",
    ]
    active, audit = compose(load_registry(), [], select=GRANT_RULES)
    live = lint_catalog(introspect(pg_database.dsn), active, audit, pg_version=16)
    found = sorted((f.rule, f.object or "") for f in live.findings)
    # users is a data-subject table: its nickname is personal data too; a card number is
    # the pci library's business, a password hash the security rule's.
    expected = [
        ("gdpr-no-public-grants", "public.users.email"),
        ("gdpr-no-public-grants", "public.users.nickname"),
        ("gdpr-no-public-grants", "public.users.ssn"),
        ("hipaa-phi-no-public-grant", "public.users.email"),
        ("hipaa-phi-no-public-grant", "public.users.ssn"),
        ("pci-no-public-grants", "public.users.card_number"),
        ("security-public-grant", "public.users.password_hash"),
    ]
    assert found == expected
    static = _static(COLUMN_GRANTS, GRANT_RULES)
    assert [(rule, obj) for rule, obj, _line in static] == expected
    # Each points at the GRANT that gave the privilege, not at CREATE TABLE.
    lines = {obj: line for rule, obj, line in static if rule == "gdpr-no-public-grants"}
    assert lines == {
        "public.users.nickname": 4,
        "public.users.email": 5,
        "public.users.ssn": 6,
    }
    message = next(f.message for f in live.findings if f.rule == "security-public-grant")
    assert "public.users.password_hash" in message
    assert "GRANT SELECT (password_hash) ON public.users TO PUBLIC" in message


TENANT_POLICIES = """
CREATE TABLE invoices (tenant_id bigint NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
ALTER TABLE invoices ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON invoices USING (tenant_id = current_setting('app.tenant_id')::bigint);
CREATE POLICY everyone_reads ON invoices FOR SELECT USING (1 = 1);
CREATE TABLE orders (tenant_id bigint NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
ALTER TABLE orders ENABLE ROW LEVEL SECURITY;
CREATE POLICY tenant ON orders USING (tenant_id IS NOT NULL);
CREATE TABLE notes (tenant_id bigint NOT NULL, id bigint, PRIMARY KEY (tenant_id, id));
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY anyone ON notes FOR SELECT USING (true);
CREATE POLICY tenant ON notes AS RESTRICTIVE
    USING (tenant_id IN (SELECT 1 WHERE current_user IS NOT NULL));
"""


def test_tenant_policies_as_postgresql_combines_them(pg_database: PgDatabase) -> None:
    # What PostgreSQL shows a tenant: two tenants' rows, one session setting.
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(TENANT_POLICIES)  # type: ignore[arg-type]
        conn.execute("INSERT INTO invoices VALUES (1, 1), (2, 2)")
        conn.execute("CREATE ROLE tenant_reader_t NOLOGIN")
        conn.execute("GRANT SELECT ON invoices TO tenant_reader_t")
        try:
            conn.execute("SET ROLE tenant_reader_t")
            conn.execute("SET app.tenant_id = '1'")
            seen = conn.execute("SELECT count(*) FROM invoices").fetchone()
            conn.execute("RESET ROLE")
        finally:
            conn.execute("DROP OWNED BY tenant_reader_t")
            conn.execute("DROP ROLE tenant_reader_t")
    assert seen == (2,)  # the USING (1 = 1) policy shows tenant 2's row to tenant 1
    options = {"tables": ["^(invoices|orders|notes)$"]}
    registry = load_registry()
    overrides = {"multi-tenancy": RuleOverride(options=options)}
    active, audit = compose(registry, [], select=["multi-tenancy"], overrides=overrides)
    live = lint_catalog(introspect(pg_database.dsn), active, audit, pg_version=16)
    report = lint_sources(
        [SourceFile("schema.sql", TENANT_POLICIES, migration=False)],
        active,
        audit,
        pg_version=16,
    )
    expected = ["public.invoices.everyone_reads", "public.orders.tenant"]
    assert sorted(f.object or "" for f in live.findings) == expected
    assert sorted(f.object or "" for f in report.findings) == expected
    assert [f.line for f in sorted(report.findings, key=lambda f: f.line)] == [5, 8]


DEFAULT_PRIVILEGES = """
CREATE TABLE early (id bigint PRIMARY KEY, api_token text);
ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC;
CREATE SCHEMA vault;
ALTER DEFAULT PRIVILEGES IN SCHEMA vault GRANT UPDATE ON TABLES TO PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
CREATE TABLE late (id bigint PRIMARY KEY, api_token text);
CREATE TABLE vault.secrets (id bigint PRIMARY KEY, secret text);
CREATE VIEW late_tokens AS SELECT id, api_token FROM late;
CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS 'SELECT 42';
"""


def test_default_privileges_reach_later_objects(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(DEFAULT_PRIVILEGES)  # type: ignore[arg-type]
    live = introspect(pg_database.dsn)
    active, audit = compose(load_registry(), [], select=["security-public-grant"])
    static = lint_sources(
        [SourceFile("schema.sql", DEFAULT_PRIVILEGES, migration=False)],
        active,
        audit,
        pg_version=16,
    )
    found = sorted((f.object, f.line) for f in static.findings)
    # late and vault.secrets come after the defaults (vault's adds UPDATE); early does not.
    assert found == [("public.late", 3), ("public.late_tokens", 3), ("vault.secrets", 3)]
    live_found = lint_catalog(live, active, audit, pg_version=16).findings
    assert sorted(f.object or "" for f in live_found) == [o for o, _ in found]
    secrets = next(f for f in live_found if f.object == "vault.secrets")
    assert "SELECT, UPDATE" in secrets.message
    # The grants the files give are the grants PostgreSQL gave.
    built = build_catalog([parse_json(DEFAULT_PRIVILEGES, "schema.sql")])
    for key in ("public.early", "public.late", "vault.secrets"):
        assert built.tables[key].grants == live.tables[key].grants, key
    assert built.views["public.late_tokens"].grants == live.views["public.late_tokens"].grants
    (function,) = built.functions.values()
    assert function.grants == live.functions[function.key].grants == frozenset()


PLAIN_TEXT_SECRETS = """
CREATE SCHEMA vault;
CREATE DOMAIN plain_text AS text;
CREATE DOMAIN vault.short_text AS plain_text;
CREATE DOMAIN vault.bcrypt_hash AS text;
CREATE TABLE t (id bigint PRIMARY KEY, client_secret plain_text);
CREATE TABLE codes (
    id bigint PRIMARY KEY,
    backup_codes_token text[],
    api_key vault.short_text[],
    refresh_token varchar(64)[][],
    password vault.bcrypt_hash,
    signing_key bytea[]
);
"""


def test_plain_text_behind_a_domain_or_in_an_array(pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(PLAIN_TEXT_SECRETS)  # type: ignore[arg-type]
        # What PostgreSQL stores: text underneath the domains, one [] whatever the dimensions.
        rows = conn.execute(
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod),"
            " format_type(coalesce(nullif(d.typbasetype, 0), a.atttypid), NULL)"
            " FROM pg_attribute a JOIN pg_type d ON d.oid = a.atttypid"
            " WHERE a.attrelid = 'codes'::regclass AND a.attnum > 0 ORDER BY a.attnum"
        ).fetchall()
    assert rows[1:4] == [
        ("backup_codes_token", "text[]", "text[]"),
        ("api_key", "vault.short_text[]", "vault.short_text[]"),
        ("refresh_token", "character varying(64)[]", "character varying[]"),
    ]
    live = introspect(pg_database.dsn)
    built = build_catalog([parse_json(PLAIN_TEXT_SECRETS, "schema.sql")])
    # The file model types the columns as format_type does, and knows the same domains.
    for key in ("public.t", "public.codes"):
        assert [(c.name, c.type) for c in built.tables[key].columns] == [
            (c.name, c.type) for c in live.tables[key].columns
        ], key
    assert {k: d.base_type for k, d in built.domains.items()} == {
        k: d.base_type for k, d in live.domains.items()
    }
    active, audit = compose(load_registry(), [], select=["security-plaintext-secret"])
    expected = [
        "public.codes.api_key",
        "public.codes.backup_codes_token",
        "public.codes.refresh_token",
        "public.t.client_secret",
    ]
    live_found = lint_catalog(live, active, audit, pg_version=16).findings
    assert sorted(f.object or "" for f in live_found) == expected
    static = _static(PLAIN_TEXT_SECRETS, ["security-plaintext-secret"])
    assert [(obj, line) for _rule, obj, line in static] == [
        ("public.codes.api_key", 10),
        ("public.codes.backup_codes_token", 9),
        ("public.codes.refresh_token", 11),
        ("public.t.client_secret", 6),
    ]
    message = next(f.message for f in live_found if f.object == "public.t.client_secret")
    assert "public.plain_text (a domain over text)" in message


NON_ASCII_NAMES = """
CREATE TABLE café_x (id bigint PRIMARY KEY);
CREATE TABLE заказы (id bigint);
CREATE SCHEMA "Billing";
"""


def test_non_ascii_names_need_no_quotes(pg_database: PgDatabase) -> None:
    # PostgreSQL's lexer reads bytes >= 0x80 as identifier letters and folds only A-Z.
    with pg_database.connect(autocommit=True) as conn:
        conn.execute(NON_ASCII_NAMES)  # type: ignore[arg-type]
        conn.execute("INSERT INTO café_x VALUES (1)")
        # Only A-Z fold: CAFÉ_X reads as cafÉ_x, another name.
        with pytest.raises(psycopg.errors.UndefinedTable, match="cafÉ_x"):
            conn.execute("SELECT count(*) FROM CAFÉ_X")
        assert conn.execute("SELECT id FROM café_x").fetchall() == [(1,)]
        assert conn.execute("SELECT count(*) FROM заказы").fetchone() == (0,)
        names = conn.execute(
            "SELECT relname FROM pg_class WHERE relname IN ('café_x', 'заказы') ORDER BY 1"
        ).fetchall()
        assert names == [("café_x",), ("заказы",)]
        # The quoted schema keeps its capital: unquoted, the name folds and is not found.
        assert conn.execute("SELECT to_regnamespace('billing')").fetchone() == (None,)
    active, audit = compose(load_registry(), [], select=["naming-snake-case"])
    live = lint_catalog(introspect(pg_database.dsn), active, audit, pg_version=16).findings
    found = {f.object or "": f.message for f in live}
    assert sorted(found) == [
        "Billing",
        "public.café_x",
        "public.café_x.café_x_pkey",
        "public.заказы",
    ]
    assert "with the double quotes" in found["Billing"]
    for key in ("public.café_x", "public.заказы"):
        assert "needs no quotes" in found[key]
        assert "double quotes" not in found[key]
    static = _static(NON_ASCII_NAMES, ["naming-snake-case"])
    assert [(obj, line) for _rule, obj, line in static] == [
        ("Billing", 4),
        ("public.café_x", 2),
        ("public.café_x.café_x_pkey", 2),
        ("public.заказы", 3),
    ]
