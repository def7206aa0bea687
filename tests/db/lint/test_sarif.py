"""``--format sarif``: the log validates against the official SARIF 2.1.0 schema, and says it right."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plimsoll.db.catalog import Catalog, Origin, Table
from plimsoll.db.lint.compose import Audit, compose
from plimsoll.db.lint.engine import LintReport, SourceFile, lint_catalog, lint_sources
from plimsoll.db.lint.findings import SYNTAX_ERROR, Finding
from plimsoll.db.lint.registry import Registry, load_registry
from plimsoll.db.lint.rule import Severity
from plimsoll.db.lint.sarif import FINGERPRINT_KEY, SRCROOT, fit, object_kind, to_sarif

jsonschema = pytest.importorskip("jsonschema")

SCHEMA_PATH = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
INDEX_RULE = "require-concurrent-index-creation"
PK_RULE = "require-primary-key"


@pytest.fixture(scope="module")
def validator() -> Any:
    """A draft-4 validator of the SARIF 2.1.0 schema (the schema's own draft)."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Every installed rule and library."""
    return load_registry()


def _validate(validator: Any, log: dict[str, Any]) -> None:
    """Fail with every schema error, each with its path in the log."""
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
    )


def _file_report(registry: Registry, base: Path) -> LintReport:
    """Two non-concurrent indexes in a migration and a file that does not parse, under ``base``."""
    active, audit = compose(registry, [], select=[INDEX_RULE], pg_version=17)
    sources = [
        SourceFile(
            str(base / "db" / "migrations" / "0001_indexes.sql"),
            "CREATE INDEX orders_customer_idx ON orders (customer_id);\n"
            "SELECT 1;\n"
            "CREATE INDEX orders_customer_idx2 ON orders (customer_id);\n",
            migration=True,
        ),
        SourceFile(
            str(base / "db" / "migrations" / "0002 broken.sql"),
            "CREATE TABLE broken (id int;\n",
            migration=True,
        ),
    ]
    return lint_sources(sources, active, audit, pg_version=17)


def _live_report(registry: Registry) -> LintReport:
    """A live database's table without a primary key (no file: a logical location)."""
    active, audit = compose(registry, [], select=[PK_RULE], pg_version=16)
    catalog = Catalog.of(schemas={"public"}, tables=[Table("public", "events")])
    return lint_catalog(catalog, active, audit, pg_version=16)


def _by_rule(log: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for result in log["runs"][0]["results"]:
        out.setdefault(result["ruleId"], []).append(result)
    return out


def test_file_findings_and_syntax_error_validate(
    validator: Any, registry: Registry, tmp_path: Path
) -> None:
    """Statement findings and a syntax error: valid SARIF, relative to %SRCROOT%, with regions."""
    report = _file_report(registry, tmp_path)
    assert {f.rule for f in report.findings} == {INDEX_RULE, SYNTAX_ERROR}
    log = to_sarif(report, registry, tool_version="1.2.3", base_dir=tmp_path)
    _validate(validator, log)
    assert log["version"] == "2.1.0"
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "plimsoll"
    assert run["tool"]["driver"]["version"] == "1.2.3"
    assert run["originalUriBaseIds"][SRCROOT]["uri"] == tmp_path.as_uri() + "/"

    found = _by_rule(log)
    first, second = found[INDEX_RULE]
    location = first["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {
        "uri": "db/migrations/0001_indexes.sql",
        "uriBaseId": SRCROOT,
    }
    assert location["region"] == {"startLine": 1, "startColumn": 1}
    assert second["locations"][0]["physicalLocation"]["region"]["startLine"] == 3
    assert "SHARE lock" in first["message"]["text"]
    assert "CONCURRENTLY" in first["message"]["text"].split("blocked", 1)[1], "help follows"

    (syntax,) = found[SYNTAX_ERROR]
    assert syntax["level"] == "error"
    artifact = syntax["locations"][0]["physicalLocation"]["artifactLocation"]
    assert artifact["uri"] == "db/migrations/0002%20broken.sql"
    assert syntax["locations"][0]["physicalLocation"]["region"]["startLine"] == 1


def test_every_result_names_its_rule_by_id_and_index(registry: Registry, tmp_path: Path) -> None:
    """ruleIndex points at the descriptor of ruleId; syntax-error is a rule of its own."""
    log = to_sarif(_file_report(registry, tmp_path), registry, tool_version="0", base_dir=tmp_path)
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids))
    assert SYNTAX_ERROR in ids
    assert set(registry.rules) <= set(ids)
    for result in log["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]


def test_rule_descriptors(registry: Registry, tmp_path: Path) -> None:
    """A descriptor carries the summary, the documentation, the level and the rule's facts."""
    log = to_sarif(_file_report(registry, tmp_path), registry, tool_version="0", base_dir=tmp_path)
    rules = {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}
    rule = rules[INDEX_RULE]
    cls = registry.rules[INDEX_RULE]
    assert rule["name"] == cls.__name__
    assert rule["shortDescription"]["text"] == cls.summary()
    assert "**Problem.**" in rule["fullDescription"]["markdown"]
    # The text field is plain text: viewers show it as it is.
    text = rule["fullDescription"]["text"]
    assert "Problem." in text and "**" not in text and "```" not in text and "`" not in text
    assert rule["help"]["text"] == cls.help
    assert rule["help"]["markdown"].startswith(f"# {INDEX_RULE}\n")
    assert rule["defaultConfiguration"]["level"] == "warning"
    assert rule["properties"]["tags"] == ["safety"]
    assert rule["properties"]["pgVersions"] == str(cls.pg_versions)
    assert rule["properties"]["version"] == cls.version
    assert rules[PK_RULE]["defaultConfiguration"]["level"] == "error"
    assert rules[SYNTAX_ERROR]["defaultConfiguration"]["level"] == "error"


def test_live_database_finding_has_a_logical_location(validator: Any, registry: Registry) -> None:
    """A finding without a file names the object (its key and kind) instead of a file."""
    report = _live_report(registry)
    assert [f.object for f in report.findings] == ["public.events"]
    log = to_sarif(report, registry, tool_version="0.1.0")
    _validate(validator, log)
    (result,) = log["runs"][0]["results"]
    assert result["level"] == "error"
    (location,) = result["locations"]
    assert "physicalLocation" not in location
    assert location["logicalLocations"] == [
        {"name": "events", "fullyQualifiedName": "public.events", "kind": "type"}
    ]
    assert "originalUriBaseIds" not in log["runs"][0]


def test_live_database_finding_sits_on_the_configuration_for_code_scanning(
    validator: Any, registry: Registry, tmp_path: Path
) -> None:
    """GitHub rejects a result with no physical location: the config file stands in."""
    report = _live_report(registry)
    config = tmp_path / "pyproject.toml"
    log = to_sarif(
        report, registry, tool_version="0.1.0", base_dir=tmp_path, fallback_file=str(config)
    )
    _validate(validator, log)
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"] == {
        "artifactLocation": {"uri": "pyproject.toml", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 1},
    }
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "public.events"


def test_schema_finding_from_a_file_points_at_it(
    validator: Any, registry: Registry, tmp_path: Path
) -> None:
    """A schema finding with an origin is a physical location, with the object beside it."""
    active, audit = compose(registry, [], select=[PK_RULE], pg_version=17)
    origin = Origin(str(tmp_path / "db" / "schema" / "events.sql"), 4, 1)
    catalog = Catalog.of(schemas={"public"}, tables=[Table("public", "events", origin=origin)])
    report = lint_catalog(catalog, active, audit, pg_version=17)
    log = to_sarif(report, registry, tool_version="0.1.0", base_dir=tmp_path)
    _validate(validator, log)
    (location,) = log["runs"][0]["results"][0]["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "db/schema/events.sql"
    assert location["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 1}
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "public.events"


@pytest.mark.parametrize(
    ("severity", "level"),
    [(Severity.ERROR, "error"), (Severity.WARNING, "warning"), (Severity.INFO, "note")],
)
def test_levels(validator: Any, registry: Registry, severity: Severity, level: str) -> None:
    """error, warning and info become the SARIF levels error, warning and note."""
    finding = Finding(INDEX_RULE, severity, "CREATE INDEX on public.t", "help", "m.sql", 1, 1)
    report = LintReport(findings=[finding], audit=Audit(), pg_version=17)
    log = to_sarif(report, registry, tool_version="0")
    _validate(validator, log)
    assert log["runs"][0]["results"][0]["level"] == level


def test_fingerprints_are_stable_and_distinct(registry: Registry, tmp_path: Path) -> None:
    """The same findings hash alike across runs and line moves; identical ones stay apart."""
    report = _file_report(registry, tmp_path)
    prints = [
        r["partialFingerprints"][FINGERPRINT_KEY]
        for r in to_sarif(report, registry, tool_version="0", base_dir=tmp_path)["runs"][0][
            "results"
        ]
    ]
    again = [
        r["partialFingerprints"][FINGERPRINT_KEY]
        for r in to_sarif(report, registry, tool_version="0", base_dir=tmp_path)["runs"][0][
            "results"
        ]
    ]
    assert prints == again
    assert len(set(prints)) == len(prints)

    def moved(line: int) -> str:
        finding = Finding(INDEX_RULE, Severity.WARNING, "msg", "help", "a.sql", line, 1)
        log = to_sarif(
            LintReport(findings=[finding], audit=Audit(), pg_version=17), registry, tool_version="0"
        )
        return str(log["runs"][0]["results"][0]["partialFingerprints"][FINGERPRINT_KEY])

    assert moved(3) == moved(30)


def test_audit_trail_and_summary_are_carried(registry: Registry, tmp_path: Path) -> None:
    """The run's properties hold the report's summary; the invocation holds the audit trail."""
    report = _file_report(registry, tmp_path)
    log = to_sarif(report, registry, tool_version="0", base_dir=tmp_path)
    run = log["runs"][0]
    (invocation,) = run["invocations"]
    assert invocation["executionSuccessful"] is True
    assert invocation["properties"]["audit"] == report.audit.as_dict()
    assert run["properties"]["pg_version"] == 17
    assert run["properties"]["counts"] == report.counts()
    json.dumps(log)  # plain data all the way down


def test_paths_outside_the_base_and_without_one(registry: Registry, tmp_path: Path) -> None:
    """Outside base_dir: an absolute file URI; no base_dir: the path as given, relative."""
    outside = tmp_path / "elsewhere.sql"
    findings = [
        Finding(INDEX_RULE, Severity.WARNING, "m", "h", str(outside), 1, 1),
        Finding(INDEX_RULE, Severity.WARNING, "m", "h", "db/x.sql", 1, 1),
    ]
    report = LintReport(findings=findings, audit=Audit(), pg_version=17)
    log = to_sarif(report, registry, tool_version="0", base_dir=tmp_path / "project")
    first, second = (r["locations"][0]["physicalLocation"] for r in log["runs"][0]["results"])
    assert first["artifactLocation"] == {"uri": outside.as_uri()}
    assert second["artifactLocation"]["uri"].endswith("db/x.sql")
    log = to_sarif(report, registry, tool_version="0")
    second = log["runs"][0]["results"][1]["locations"][0]["physicalLocation"]
    assert second["artifactLocation"] == {"uri": "db/x.sql"}


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("public", "namespace"),
        ("public.orders", "type"),
        ("public.orders.customer_id", "member"),
        ("public.touch(integer, text)", "function"),
    ],
)
def test_object_kinds(key: str, kind: str) -> None:
    """Catalog keys map to SARIF logical-location kinds by their shape."""
    assert object_kind(key) == kind


def test_descriptions_fit_github_limits(registry: Registry, tmp_path: Path) -> None:
    """Short and full descriptions stay within 1024 characters; the help has the whole page."""
    log = to_sarif(_file_report(registry, tmp_path), registry, tool_version="0", base_dir=tmp_path)
    for rule in log["runs"][0]["tool"]["driver"]["rules"]:
        assert len(rule["shortDescription"]["text"]) <= 1024, rule["id"]
        assert len(rule["fullDescription"]["text"]) <= 1024, rule["id"]
        assert rule["fullDescription"].get("markdown", "").count("```") % 2 == 0, rule["id"]


def test_fit_keeps_whole_paragraphs_and_code_blocks() -> None:
    """Whole paragraphs while they fit; never half a code block; a cut when nothing fits."""
    text = "Summary.\n\n**Problem.** " + "x" * 50 + "\n\n```sql\nSELECT 1;\n\nSELECT 2;\n```"
    assert fit(text, 1000) == text
    assert fit(text, 80) == "Summary.\n\n**Problem.** " + "x" * 50
    assert fit(text, len(text) - 5) == "Summary.\n\n**Problem.** " + "x" * 50
    assert fit("y" * 20, 10) == "y" * 9 + "\u2026"
