"""``plimsoll db lint`` end to end: files, a live database, formats, config and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_code_cli import plimsoll
from tests.support.postgres import PgDatabase


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with a schema folder and two migrations."""
    root = tmp_path / "svc"
    (root / "db" / "schema").mkdir(parents=True)
    (root / "db" / "migrations").mkdir()
    (root / "plimsoll.toml").write_text("[db.lint]\nlibraries = ['safety', 'general']\n")
    (root / "db" / "schema" / "tables.sql").write_text(
        "CREATE TABLE orders (id bigint PRIMARY KEY, customer_id bigint);\n"
        "CREATE TABLE events (payload jsonb);\n"
    )
    (root / "db" / "migrations" / "0001_index.up.sql").write_text(
        "-- the new index\nCREATE INDEX orders_customer_idx ON orders (customer_id);\n"
    )
    (root / "db" / "migrations" / "0001_index.down.sql").write_text(
        "DROP INDEX orders_customer_idx;\n"
    )
    return root


def _findings(done: object, rule: str) -> list[dict]:
    data = json.loads(done.stdout)  # type: ignore[attr-defined]
    return [f for f in data["findings"] if f["rule"] == rule]


def test_lints_the_project_with_file_lines_and_exit_1(project: Path) -> None:
    done = plimsoll(project, "db", "lint", "-f", "json", check=1)
    index = _findings(done, "require-concurrent-index-creation")
    assert [(f["file"], f["line"]) for f in index] == [("db/migrations/0001_index.up.sql", 2)]
    missing_pk = _findings(done, "require-primary-key")
    assert [(f["file"], f["line"], f["object"]) for f in missing_pk] == [
        ("db/schema/tables.sql", 2, "public.events")
    ]
    audit = json.loads(done.stdout)["audit"]
    assert [lib["name"] for lib in audit["libraries"]] == ["safety", "general"]
    text = plimsoll(project, "db", "lint", check=1).stdout
    assert "db/migrations/0001_index.up.sql:2:1: warning require-concurrent-index-creation" in text
    assert "help: Use CREATE INDEX CONCURRENTLY" in text


def test_clean_input_exits_0_and_fail_on(project: Path) -> None:
    migration = project / "db" / "migrations" / "0001_index.up.sql"
    migration.write_text(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_idx ON orders (customer_id);\n"
    )
    (project / "db" / "migrations" / "0001_index.down.sql").write_text(
        "DROP INDEX CONCURRENTLY IF EXISTS orders_customer_idx;\n"
    )
    plimsoll(project, "db", "lint", "db/migrations", check=0)
    migration.write_text("CREATE INDEX orders_customer_idx ON orders (customer_id);\n")
    plimsoll(project, "db", "lint", "db/migrations", "--fail-on", "error", check=0)
    plimsoll(project, "db", "lint", "db/migrations", check=1)


def test_syntax_error_is_a_finding_and_the_rest_is_linted(project: Path) -> None:
    (project / "db" / "schema" / "broken.sql").write_text("CREATE TABLE (;\n")
    done = plimsoll(project, "db", "lint", "-f", "json", check=1)
    syntax = _findings(done, "syntax-error")
    assert [(f["file"], f["line"], f["column"]) for f in syntax] == [
        ("db/schema/broken.sql", 1, 14)
    ]
    assert _findings(done, "require-concurrent-index-creation")
    assert "Traceback" not in done.stderr


def test_usage_errors_exit_2(project: Path) -> None:
    assert (
        "unknown rule 'no-such-rule'"
        in plimsoll(project, "db", "lint", "--select", "no-such-rule", check=2).stderr
    )
    assert (
        "unknown library 'hippa'"
        in plimsoll(project, "db", "lint", "--library", "hippa", check=2).stderr
    )
    assert (
        "nope.sql: no such file or folder"
        in plimsoll(project, "db", "lint", "nope.sql", check=2).stderr
    )
    (project / "plimsoll.toml").write_text("[db.lint]\nfail_on = 'sometimes'\n")
    assert "db.lint.fail_on" in plimsoll(project, "db", "lint", check=2).stderr


def test_inline_and_config_control(project: Path) -> None:
    (project / "plimsoll.toml").write_text(
        "[db.lint]\nignore = ['require-primary-key']\n"
        "[db.lint.rules.require-concurrent-index-creation]\nseverity = 'error'\n"
    )
    done = plimsoll(project, "db", "lint", "-f", "json", check=1)
    data = json.loads(done.stdout)
    assert not _findings(done, "require-primary-key")
    assert [f["severity"] for f in _findings(done, "require-concurrent-index-creation")] == [
        "error"
    ]
    assert {"rule": "require-primary-key", "reason": "ignored by db.lint.ignore"} in data["audit"][
        "disabled"
    ]
    assert data["audit"]["overridden"] == [
        {
            "rule": "require-concurrent-index-creation",
            "field": "severity",
            "from": "warning",
            "to": "error",
            "by": "db.lint.rules.require-concurrent-index-creation.severity",
        }
    ]


def test_live_database_with_env(tmp_path: Path, pg_database: PgDatabase) -> None:
    with pg_database.connect(autocommit=True) as conn:
        conn.execute("CREATE TABLE keyed (id int PRIMARY KEY); CREATE TABLE loose (x int)")
    (tmp_path / "plimsoll.toml").write_text(f'[db.environments.live]\nurl = "{pg_database.dsn}"\n')
    done = plimsoll(tmp_path, "db", "lint", "--env", "live", "-f", "json", check=1)
    data = json.loads(done.stdout)
    assert [f["object"] for f in _findings(done, "require-primary-key")] == ["public.loose"]
    assert data["catalog"] == "database"
    assert data["pg_version"] == pg_database.server.major


@pytest.mark.parametrize("columns", ["80", "200"])
def test_list_rules_never_cuts_a_rule_id(
    project: Path, columns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ids are what --select, --ignore and --explain take: whole at any width.
    monkeypatch.setenv("COLUMNS", columns)
    listed = json.loads(plimsoll(project, "db", "lint", "--list-rules", "-f", "json").stdout)
    ids = [rule["id"] for rule in listed["rules"]]
    assert "require-check-before-attach" in ids and len(ids) > 100
    text = plimsoll(project, "db", "lint", "--list-rules").stdout
    assert "…" not in text
    words = set(text.replace("│", " ").split())
    assert set(ids) <= words
    # The libraries are listed too, with their versions and sizes.
    for library in listed["libraries"]:
        assert (
            f"library {library['name']} {library['version']} ({len(library['rules'])} rules)"
            in text
        )


def test_explain_and_list_rules_formats(project: Path) -> None:
    page = json.loads(
        plimsoll(project, "db", "lint", "--explain", "ban-drop-column", "-f", "json").stdout
    )
    assert page["rule"] == "ban-drop-column" and page["markdown"].startswith("# ban-drop-column")
    text = plimsoll(project, "db", "lint", "--explain", "ban-drop-column").stdout
    assert text == page["markdown"]
    for args in (("--list-rules", "-f", "sarif"), ("--explain", "ban-drop-column", "-f", "github")):
        assert "prints text or json" in plimsoll(project, "db", "lint", *args, check=2).stderr


def test_path_option_lints_that_project_from_elsewhere(project: Path) -> None:
    done = plimsoll(project.parent, "db", "lint", "-C", "svc", "-f", "json", check=1)
    index = _findings(done, "require-concurrent-index-creation")
    assert [(f["file"], f["line"]) for f in index] == [("db/migrations/0001_index.up.sql", 2)]
    missing = plimsoll(project.parent, "db", "lint", "-C", "nowhere", check=2)
    assert "nowhere: no such folder" in missing.stderr
    # Relative PATHS are read from the -C folder, as if started there.
    named = plimsoll(project.parent, "db", "lint", "-C", "svc", "db/migrations", "-f", "json",
                     check=1)  # fmt: skip
    assert [
        (f["file"], f["line"]) for f in _findings(named, "require-concurrent-index-creation")
    ] == [("db/migrations/0001_index.up.sql", 2)]


def test_config_errors_exit_2_naming_the_file_and_key(project: Path) -> None:
    config = project / "plimsoll.toml"
    config.write_text(
        "[db.lint]\nlibraries = ['safety', 'general']\n"
        "[db.lint.rules.security-public-grant]\noptions = { tables = ['(unclosed'] }\n"
    )
    done = plimsoll(project, "db", "lint", check=2)
    assert (
        f"{config}: db.lint.rules.security-public-grant.options.tables[0]: Value error,"
        " invalid regular expression '(unclosed'" in done.stderr
    )
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    config.write_text("[db.lint]\nlibraries = ['safety', 'hippa']\n")
    done = plimsoll(project, "db", "lint", check=2)
    assert f"{config}: db.lint.libraries: unknown library 'hippa' (did you mean hipaa?)" in (
        done.stderr
    )
    config.write_text("[db.lint]\nignore = ['no-such-rule']\n")
    assert (
        f"{config}: db.lint.ignore: unknown rule" in plimsoll(project, "db", "lint", check=2).stderr
    )
    config.write_text("[db.lint]\n")
    done = plimsoll(project, "db", "lint", "--library", "HIPAA", check=2)
    assert "--library: unknown library 'HIPAA' (did you mean hipaa?)" in done.stderr


def test_text_report_carries_the_audit_trail(project: Path) -> None:
    (project / "plimsoll.toml").write_text(
        "[db.lint]\nlibraries = ['safety', 'general', 'hipaa']\nignore = ['require-primary-key']\n"
        "[db.lint.library_options.hipaa]\nphi_column_patterns = ['^blood_type$']\n"
        "[db.lint.rules.too-many-columns]\noptions = { max_columns = 5 }\n"
        "[db.lint.rules.require-concurrent-index-creation]\nseverity = 'error'\n"
    )
    text = plimsoll(project, "db", "lint", check=1).stdout
    assert "disabled: require-primary-key (ignored by db.lint.ignore)" in text
    assert (
        "overridden: too-many-columns options.max_columns 100 -> 5 by"
        " db.lint.rules.too-many-columns.options.max_columns" in text
    )
    assert (
        'overridden: require-concurrent-index-creation severity "warning" -> "error" by'
        " db.lint.rules.require-concurrent-index-creation.severity" in text
    )
    # The full key path as written in the file, down to the option.
    assert '-> ["^blood_type$"] by db.lint.library_options.hipaa.phi_column_patterns' in text
    # Singular and plural as they should be.
    assert " in 3 files, 4 statements " in text and "1 error, " in text
    data = json.loads(plimsoll(project, "db", "lint", "-f", "json", check=1).stdout)
    overridden = {(o["rule"], o["field"]): o for o in data["audit"]["overridden"]}
    assert overridden[("too-many-columns", "options.max_columns")]["from"] == 100
    selected = plimsoll(project, "db", "lint", "--select", "hipaa-phi-column-classified", check=0)
    assert "1 rule from hipaa 1.1.0)" in selected.stdout


def test_list_rules_shows_status(project: Path) -> None:
    listed = json.loads(plimsoll(project, "db", "lint", "--list-rules", "-f", "json").stdout)
    statuses = {rule["id"]: rule["status"] for rule in listed["rules"]}
    assert statuses["require-primary-key"] == "current"
    assert all(
        status == "current" or status.startswith(("deprecated in", "removed in"))
        for status in statuses.values()
    )


def test_conflict_lines_say_what_differs() -> None:
    from plimsoll.cli.db_lint import audit_lines
    from plimsoll.db.lint.compose import Audit

    audit = Audit(
        conflicts=[
            {
                "kind": "setting",
                "rule": "too-many-columns",
                "libraries": ["general", "sox"],
                "first": {"severity": "warning", "options": {}},
                "second": {"severity": "error", "options": {"max_columns": 50}},
                "resolution": "general",
            }
        ]
    )
    assert audit_lines(audit) == [
        "conflict: too-many-columns set differently by general and sox: severity warning"
        " (general) vs error (sox); options.max_columns the default (general) vs 50 (sox);"
        " kept general's"
    ]


def _github_files(text: str) -> list[str]:
    return [line.split("file=", 1)[1].split(",", 1)[0] for line in text.splitlines()]


def _sarif_locations(text: str) -> tuple[dict, list[dict]]:
    run = json.loads(text)["runs"][0]
    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in run["results"]]
    return run.get("originalUriBaseIds", {}), artifacts


def test_github_and_sarif_paths_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    from tests.support.gitrepo import make_repo

    mono = make_repo(tmp_path / "mono")
    api = mono.path / "services" / "api"
    (api / "db" / "migrations").mkdir(parents=True)
    (api / "plimsoll.toml").write_text("[db.lint]\nlibraries = ['safety']\n")
    (api / "db" / "migrations" / "1_a.up.sql").write_text("CREATE INDEX a_idx ON a (x);\n")
    wanted = "services/api/db/migrations/1_a.up.sql"
    for cwd, extra in ((mono.path, ("-C", "services/api")), (api, ())):
        github = plimsoll(cwd, "db", "lint", *extra, "--format", "github", check=1).stdout
        assert _github_files(github) == [wanted]
        bases, artifacts = _sarif_locations(
            plimsoll(cwd, "db", "lint", *extra, "--format", "sarif", check=1).stdout
        )
        # The same base either way: the repository's root.
        assert artifacts == [{"uri": wanted, "uriBaseId": "%SRCROOT%"}]
        assert bases == {"%SRCROOT%": {"uri": mono.path.resolve().as_uri() + "/"}}


def test_outside_a_repository_paths_are_relative_to_the_current_folder(project: Path) -> None:
    github = plimsoll(project.parent, "db", "lint", "-C", "svc", "--format", "github", check=1)
    assert "svc/db/migrations/0001_index.up.sql" in _github_files(github.stdout)
    _, artifacts = _sarif_locations(
        plimsoll(project.parent, "db", "lint", "-C", "svc", "--format", "sarif", check=1).stdout
    )
    assert {"uri": "svc/db/schema/tables.sql", "uriBaseId": "%SRCROOT%"} in artifacts


def test_pg_version_major_and_minor_with_one_message(project: Path) -> None:
    def version(*args: str) -> int:
        done = plimsoll(project, "db", "lint", *args, "-f", "json", check=1)
        return int(json.loads(done.stdout)["pg_version"])

    assert version("--pg-version", "16.2") == 16
    assert version("--pg-version", "13.0") == 13
    assert version("--pg-version", "9.6") == 9
    expected = "expected a PostgreSQL version, MAJOR or MAJOR.MINOR from 9 to 30 (17, 16.2, 9.6)"
    for bad in ("0", "8.4", "31", "16.2.1", "latest"):
        done = plimsoll(project, "db", "lint", "--pg-version", bad, check=2)
        assert f"--pg-version: {expected}, not '{bad}'" in done.stderr
        assert "Traceback" not in done.stderr
    config = project / "plimsoll.toml"
    config.write_text("[db.lint]\npg_version = 9.6\n")
    assert version() == 9
    config.write_text("[db.lint]\npg_version = '16.2'\n")
    assert version() == 16
    config.write_text("[db.lint]\npg_version = 0\n")
    done = plimsoll(project, "db", "lint", check=2)
    assert f"{config}: db.lint.pg_version: {expected}, not 0" in done.stderr


def test_folder_files_run_in_version_order_and_the_header_says_so(project: Path) -> None:
    flyway = project / "db" / "flyway"
    flyway.mkdir()
    (flyway / "V2__create.sql").write_text(
        "CREATE TABLE t (id bigint PRIMARY KEY, password text);\n"
    )
    (flyway / "V10__drop.sql").write_text("ALTER TABLE t DROP COLUMN password;\n")
    (flyway / "V1.2.10__later.sql").write_text("SELECT 1;\n")
    (flyway / "V1.2.9__sooner.sql").write_text("SELECT 1;\n")
    done = plimsoll(project, "db", "lint", "db/flyway", "-f", "json", check=1)
    data = json.loads(done.stdout)
    assert data["order"] == "version"
    files = list(dict.fromkeys(f["file"] for f in data["findings"]))
    assert files.index("db/flyway/V2__create.sql") < files.index("db/flyway/V10__drop.sql")
    # V10 drops the column V2 made: in alphabetical order V10 would come first, meet no
    # table, and the schema would keep a plain-text password column.
    assert not _findings(done, "security-plaintext-secret")
    text = plimsoll(project, "db", "lint", "db/flyway", check=1).stdout
    assert text.splitlines()[0] == (
        "order: db/flyway: by version prefix, not alphabetically"
        " (V1.2.9__sooner.sql before V1.2.10__later.sql)"
    )
    plain = plimsoll(project, "db", "lint", "-f", "json", check=1)
    assert json.loads(plain.stdout)["order"] == "alphabetical"
    assert not plimsoll(project, "db", "lint", check=1).stdout.startswith("order:")


def test_json_report_has_the_documented_fields(project: Path) -> None:
    from plimsoll.db.lint.report_format import (
        AUDIT_FIELDS,
        FINDING_FIELDS,
        FORMAT_VERSION,
        REPORT_FIELDS,
    )

    data = json.loads(plimsoll(project, "db", "lint", "-f", "json", check=1).stdout)
    assert list(data) == [name for name, _, _ in REPORT_FIELDS]
    assert data["format_version"] == FORMAT_VERSION
    assert data["environment"] is None
    for finding in data["findings"]:
        assert list(finding) == [name for name, _, _ in FINDING_FIELDS]
    assert list(data["audit"]) == [name for name, _, _ in AUDIT_FIELDS]
    page = (Path(__file__).parents[2] / "docs" / "rules" / "report-format.md").read_text()
    for name, _, _ in (*REPORT_FIELDS, *FINDING_FIELDS, *AUDIT_FIELDS):
        assert f"| `{name}` |" in page


def test_psql_meta_commands_are_notes_or_errors_and_the_rest_is_linted(tmp_path: Path) -> None:
    script = tmp_path / "script.sql"
    script.write_text(
        "\\set ON_ERROR_STOP on\nCREATE TABLE accounts (id int, email text);\n\\echo done\n",
        encoding="utf-8",
    )
    report = json.loads(
        plimsoll(tmp_path, "db", "lint", "script.sql", "-f", "json", check=1).stdout
    )
    found = {(f["rule"], f["line"], f["severity"]) for f in report["findings"]}
    assert ("psql-meta-command", 1, "info") in found and ("psql-meta-command", 3, "info") in found
    assert any(rule == "require-primary-key" for rule, _, _ in found)  # line 2 was linted
    assert not any(rule == "syntax-error" for rule, _, _ in found)
    (tmp_path / "include.sql").write_text("\\i other.sql\nSELECT 1;\n", encoding="utf-8")
    refused = json.loads(
        plimsoll(tmp_path, "db", "lint", "include.sql", "-f", "json", check=1).stdout
    )
    [meta] = [f for f in refused["findings"] if f["rule"] == "psql-meta-command"]
    assert meta["severity"] == "error" and "\\i" in meta["message"]
    quiet = json.loads(
        plimsoll(
            tmp_path, "db", "lint", "include.sql", "-f", "json", "--ignore", "psql-meta-command"
        ).stdout  # fmt: skip
    )
    assert not any(f["rule"] == "psql-meta-command" for f in quiet["findings"])
    page = plimsoll(tmp_path, "db", "lint", "--explain", "psql-meta-command").stdout
    assert page.startswith("# psql-meta-command")


def test_pg_dumps_restrict_markers_are_no_finding(tmp_path: Path, pg_database: PgDatabase) -> None:
    """pg_dump 15.14+ brackets every dump with ``\\restrict KEY`` / ``\\unrestrict KEY``: a
    note for each failed ``--fail-on info`` on every dump."""
    import shutil
    import subprocess

    with pg_database.connect(autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);"
            "COMMENT ON TABLE accounts IS 'who logs in';"
            "COMMENT ON COLUMN accounts.id IS 'the key';"
            "COMMENT ON COLUMN accounts.email IS 'where mail goes'"
        )
    pg_dump = pg_database.server.bindir / "pg_dump"
    if not pg_dump.exists():
        pg_dump = Path(shutil.which("pg_dump") or "pg_dump")
    dumped = subprocess.run(
        [str(pg_dump), "--schema-only", "--no-owner", "-d", pg_database.dsn],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (tmp_path / "dump.sql").write_text(dumped, encoding="utf-8")
    markers = [line for line in dumped.splitlines() if line.startswith("\\")]
    report = json.loads(
        plimsoll(
            tmp_path, "db", "lint", "dump.sql", "-f", "json", "--select", "require-primary-key"
        ).stdout
    )
    assert not [f for f in report["findings"] if f["rule"] == "psql-meta-command"], markers
    # The same lines written by hand (a pg_dump older than 15.14 writes none).
    (tmp_path / "marked.sql").write_text(
        "\\restrict AbC123\n" + dumped + "\\unrestrict AbC123\n", encoding="utf-8"
    )
    done = plimsoll(
        tmp_path,
        "db",
        "lint",
        "marked.sql",
        "--fail-on",
        "info",
        "--select",
        "require-primary-key,psql-meta-command",
        "-f",
        "json",
        check=0,
    )
    assert json.loads(done.stdout)["findings"] == []


def test_conflict_strategy_error_allows_a_combination_once_one_rule_is_disabled(
    project: Path,
) -> None:
    config = project / "plimsoll.toml"
    config.write_text(
        "[db.lint]\nlibraries = ['gdpr', 'sox']\nconflict_strategy = 'error'\n", encoding="utf-8"
    )
    refused = plimsoll(project, "db", "lint", check=2)
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith(f"plimsoll: error: {config}: db.lint.conflict_strategy: rules ")
    assert "contradict each other (conflict strategy 'error')" in line
    assert "db.lint.rules.sox-ledger-no-cascade-delete.enabled = false" in line
    assert "Traceback" not in refused.stderr
    config.write_text(
        "[db.lint]\nlibraries = ['gdpr', 'sox']\nconflict_strategy = 'error'\n"
        "[db.lint.rules.sox-ledger-no-cascade-delete]\nenabled = false\n",
        encoding="utf-8",
    )
    data = json.loads(plimsoll(project, "db", "lint", "-f", "json", check=None).stdout)
    assert data["audit"]["conflicts"] == []
    assert {
        "rule": "sox-ledger-no-cascade-delete",
        "reason": "disabled by db.lint.rules.sox-ledger-no-cascade-delete.enabled",
    } in data["audit"]["disabled"]
