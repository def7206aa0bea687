"""Generated rule documentation: the pages, the index, ``--explain``, and docs/rules being current."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from plimsoll.core.errors import UsageError
from plimsoll.db.lint.docs import (
    INDEX,
    builtin_registry,
    explain,
    index_markdown,
    library_memberships,
    main,
    option_rows,
    rule_markdown,
    write_docs,
)
from plimsoll.db.lint.library import Library
from plimsoll.db.lint.registry import Registry, load_registry
from plimsoll.db.lint.rule import PgVersions, SchemaRule, Severity, StatementRule

REPO_DOCS = Path(__file__).resolve().parents[3] / "docs" / "rules"


class _Example(StatementRule):
    """Say what the example rule wants.

    **Problem.** Something blocks writes.

    **Why.** Writers queue.

    **Fix.** Do it the other way.

    **Example.**

    ```sql
    SELECT 1;
    ```
    """

    id = "example-rule"
    severity = Severity.INFO
    help = "Do it the other way."
    version = "2.1.0"
    pg_versions = PgVersions(minimum=11)
    deprecated_in = "2.0.0"
    replacement = "better-rule"
    node_types: ClassVar[tuple[str, ...]] = ("SelectStmt",)

    class Options(BaseModel):
        """What the example rule can be told."""

        model_config = ConfigDict(extra="forbid", frozen=True)

        patterns: tuple[str, ...] = Field(
            default=("ssn", "tax_id"), description="Column name patterns | to flag."
        )
        limit: int | None = None
        """At most this many findings per table."""
        strict: bool = False


class _Other(SchemaRule):
    """Another rule."""

    id = "other-rule"
    severity = Severity.ERROR
    help = "Fix it."


class _Documented(SchemaRule):
    """A rule whose options are described the way the built-in rules describe them."""

    id = "documented-rule"
    severity = Severity.WARNING
    help = "Fix it."

    class Options(BaseModel):
        """Which tables count.

        ``tables``: patterns of the tables (name or ``schema.name``); ``column``: the column
        (``tenant_id``), checked first;
        ``force``: also require ``FORCE ROW LEVEL SECURITY``
        """

        model_config = ConfigDict(extra="forbid", frozen=True)

        tables: list[str] = []
        column: str = "tenant_id"
        force: bool = False


def test_options_described_in_the_docstring() -> None:
    """``name``: text in the Options docstring describes that option; the rest introduces."""
    assert option_rows(_Documented) == [
        (
            "tables",
            "array of strings",
            "[]",
            "Patterns of the tables (name or ``schema.name``).",
        ),
        ("column", "string", '"tenant_id"', "The column (``tenant_id``), checked first."),
        ("force", "boolean", "false", "Also require ``FORCE ROW LEVEL SECURITY``."),
    ]
    page = rule_markdown(_Documented, [])
    assert "configuration:\n\nWhich tables count.\n\n- `tables` (array of strings;" in page


def _registry() -> Registry:
    registry = Registry()
    registry.add(_Example, "test")
    registry.add(_Other, "test")
    registry.add(Library.of("zeta", "1.0.0", "Last library.", "example-rule"), "test")
    registry.add(
        Library.of("alpha", "2.0.0", "First library.", "example-rule", "gone-rule"), "test"
    )
    return registry


def test_memberships() -> None:
    """Each rule with its libraries, sorted; rules in none have an empty list."""
    assert library_memberships(_registry()) == {
        "example-rule": ["alpha", "zeta"],
        "other-rule": [],
    }


def test_explain_prints_defaults_as_toml_takes_them() -> None:
    """A regular expression with ``|`` is printed as it is, not Markdown-escaped: users copy
    defaults from ``--explain`` into their configuration."""
    from plimsoll.db.lint.docs import explain
    from plimsoll.db.lint.registry import load_registry

    page = explain("hipaa-phi-column-classified", load_registry())
    assert '"(^|_)ssn($|_)"' in page
    assert "\\|" not in page
    assert "tuple[" not in page and "list[" not in page
    assert "(array of strings; default" in page
    # Shared options say where to set them once for the library.
    assert "`db.lint.library_options.hipaa`" in page


def test_shared_options_are_documented_in_the_index() -> None:
    registry = _registry()
    registry.add(
        Library.of("beta", "1.0.0", "Shares.", "example-rule", shared_options=("patterns",)),
        "test",
    )
    index = index_markdown(registry)
    assert "Shared options (`patterns`)" in index
    assert "`[db.lint.library_options.beta]`" in index
    page = rule_markdown(_Example, ["beta"], {"beta": ("patterns",)})
    assert "Shared by the beta library" in page


def test_rule_page() -> None:
    """Title, summary, facts, options with defaults and descriptions, the body, the help."""
    page = rule_markdown(_Example, ["alpha", "zeta"])
    assert page.startswith("# example-rule\n\nSay what the example rule wants.\n\n| | |\n")
    assert "| Default severity | info |" in page
    assert "| PostgreSQL versions | 11 and later |" in page
    assert "| Kind | statement" in page
    assert "| Version | 2.1.0 |" in page
    assert "| Libraries | [alpha](README.md#alpha), [zeta](README.md#zeta) |" in page
    assert "| Status | deprecated in 2.0.0; use `better-rule` instead |" in page
    assert "`db.lint.rules.example-rule.options`" in page
    # A list, not a table: values are printed as they are (a pipe is no cell border).
    assert (
        '- `patterns` (array of strings; default `["ssn", "tax_id"]`): Column name patterns |'
        " to flag." in page
    )
    assert (
        "- `limit` (integer or absent; default `null`): At most this many findings per table."
        in page
    )
    assert "- `strict` (boolean; default `false`):" in page
    assert "**Problem.** Something blocks writes." in page
    assert "```sql\nSELECT 1;\n```" in page
    assert page.endswith("**Remedy.** Do it the other way.\n")
    assert page.index("| Default severity") < page.index("**Problem.**")


def test_rule_without_options_or_library() -> None:
    """No options and no library are said plainly."""
    page = rule_markdown(_Other, [])
    assert "This rule has no options." in page
    assert "| Libraries | none (enable it with `--select`) |" in page
    assert "| Kind | schema" in page
    assert option_rows(_Other) == []


def test_index_groups_by_library() -> None:
    """Libraries in name order with their rules linked; loose rules and the engine's own."""
    index = index_markdown(_registry())
    assert index.index("## alpha") < index.index("## zeta") < index.index("## In no library")
    assert "[example-rule](example-rule.md)" in index
    assert "[other-rule](other-rule.md)" in index
    assert "Named but not installed: `gone-rule`" in index
    assert "[syntax-error](syntax-error.md)" in index
    assert "[encoding-error](encoding-error.md)" in index
    # How inline ignores take a reason is documented in the index.
    assert "## Inline ignores" in index
    assert "-- plimsoll: ignore changing-column-type because" in index


def test_write_docs_writes_and_removes_stale_pages(tmp_path: Path) -> None:
    """Every page and the index; a page of a rule that no longer exists is removed."""
    stale = tmp_path / "retired-rule.md"
    stale.write_text("old\n", encoding="utf-8")
    written = write_docs(tmp_path, _registry())
    names = sorted(p.name for p in written)
    assert names == [
        INDEX,
        "encoding-error.md",
        "example-rule.md",
        "other-rule.md",
        "psql-meta-command.md",
        "report-format.md",
        "syntax-error.md",
    ]
    assert not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert (tmp_path / "example-rule.md").read_text(encoding="utf-8") == explain(
        "example-rule", _registry()
    )


def test_explain() -> None:
    """The page of a known rule, syntax-error's page, and a did-you-mean for a typo."""
    registry = load_registry()
    page = explain("require-primary-key", registry)
    assert page.startswith("# require-primary-key\n")
    assert explain("syntax-error", registry).startswith("# syntax-error\n")
    with pytest.raises(UsageError, match="did you mean require-primary-key"):
        explain("require-primary-keys", registry)
    with pytest.raises(UsageError, match="unknown rule 'zzz'"):
        explain("zzz", registry)


def test_main_needs_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m plimsoll.db.lint.docs DIR`` writes the pages; without DIR it is a usage error."""
    assert main([]) == 2
    assert main([str(tmp_path)]) == 0
    assert (tmp_path / INDEX).is_file()
    assert "wrote" in capsys.readouterr().out


def test_rule_docs_are_current(tmp_path: Path) -> None:
    """docs/rules is what the built-in rules generate today (``make docs`` rewrites it)."""
    registry = builtin_registry()
    assert not registry.failures, registry.failures
    write_docs(tmp_path, registry)
    expected = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.glob("*.md")}
    actual = (
        {p.name: p.read_text(encoding="utf-8") for p in REPO_DOCS.glob("*.md")}
        if REPO_DOCS.is_dir()
        else {}
    )
    stale = sorted(
        name for name in expected.keys() | actual.keys() if expected.get(name) != actual.get(name)
    )
    assert not stale, f"docs/rules is stale: run `make docs` (differs: {', '.join(stale)})"


def test_every_rule_example_parses() -> None:
    """A rule page's SQL example is pasted into files by users: it must be PostgreSQL's SQL
    (the syntax-error page's example is the one meant not to parse)."""
    import re

    from plimsoll.db.sql import SqlSyntaxError
    from plimsoll.db.sqljson import parse_json

    registry = builtin_registry()
    checked = 0
    for rule_id, rule in sorted(registry.rules.items()):
        for block in re.findall(r"```sql\n(.*?)```", rule.__doc__ or "", re.S):
            text = "\n".join(line.removeprefix("    ") for line in block.splitlines())
            try:
                parse_json(text, rule_id)
            except SqlSyntaxError as exc:
                pytest.fail(f"{rule_id}: its example does not parse: {exc}")
            checked += 1
    assert checked >= len(registry.rules)


def test_the_report_format_page_is_generated_and_names_no_rule() -> None:
    """The JSON report's page is one of the generated pages (listed in the index), and no
    rule id takes its name."""
    from plimsoll.db.lint.docs import REPORT_FORMAT, builtin_registry, pages

    registry = builtin_registry()
    generated = pages(registry)
    assert REPORT_FORMAT.removesuffix(".md") not in registry.rules
    assert generated[REPORT_FORMAT].startswith("# The JSON report")
    assert f"]({REPORT_FORMAT})" in generated[INDEX]
