"""The JSON report of ``plimsoll db lint --format json``: its version and every field.

The report is a contract with whatever reads it (CI scripts, the dashboard), so its shape is
written down here, once: :data:`REPORT_FIELDS`, :data:`FINDING_FIELDS` and
:data:`AUDIT_FIELDS` list each field with its JSON type and meaning, a test holds the
report to them, and :func:`report_format_markdown` makes them the page
``docs/rules/report-format.md``. :data:`FORMAT_VERSION` goes up by one whenever a field
changes meaning or goes away (adding a field does not change it); readers check it.

Versions: 1, the report before it carried a version (no ``format_version``,
``environment``, ``order`` or ``notes``; ``line`` and ``column`` 0 for findings without a
file). 2, those fields added and ``line``/``column`` null without a file.
"""

from __future__ import annotations

FORMAT_VERSION = 2

# (field, JSON type, meaning), in the order the report writes them.
Field = tuple[str, str, str]

REPORT_FIELDS: tuple[Field, ...] = (
    ("format_version", "integer", "The version of this format (2). Higher when a field changes."),
    ("pg_version", "integer", "The PostgreSQL major version the rules assumed (9 for any 9.x)."),
    (
        "environment",
        "object or null",
        "With `--env`: `name` (the environment), `database`, `host`, `port` and `user` of the"
        " database linted (never its password); null otherwise.",
    ),
    ("files", "integer", "How many files were linted."),
    ("statements", "integer", "How many statements they hold."),
    (
        "order",
        "string",
        "`alphabetical`, or `version` when version prefixes (`V2__`, `10_`) ordered the files"
        " of a folder otherwise.",
    ),
    (
        "catalog",
        "string",
        "What the schema rules checked: `schema files`, `migrations`, `database`, or"
        " `database + files` (the live database with the files applied on top).",
    ),
    ("duration_seconds", "number", "How long the lint took."),
    ("counts", "object", "Findings by severity: `error`, `warning`, `info`."),
    ("silenced", "integer", "Findings silenced by `-- plimsoll: ignore` comments."),
    (
        "warnings",
        "array of strings",
        "Problems with the run rather than the SQL: a plugin (or a rule of one) that could"
        " not be loaded, a rule whose check failed on a statement (skipped there, the other"
        " rules went on), an ignore naming no rule, a part of the database or of the files"
        " that could not be applied to the schema checked.",
    ),
    ("notes", "array of strings", "What the run took as given (the order used, what was applied)."),
    ("findings", "array of objects", "The findings, in file and line order (fields below)."),
    ("audit", "object", "The audit trail of the rules used (fields below)."),
)

FINDING_FIELDS: tuple[Field, ...] = (
    ("rule", "string", "The rule id (`--explain ID` shows its page), or `syntax-error`."),
    ("severity", "string", "`error`, `warning` or `info`."),
    (
        "file",
        "string or null",
        "The file, relative to the project folder when under it; null for an object of a"
        " live database.",
    ),
    ("line", "integer or null", "The 1-based line; null when `file` is null."),
    ("column", "integer or null", "The 1-based column, in characters; null when `file` is null."),
    (
        "object",
        "string or null",
        "The object a schema rule is about: `schema.table`, `schema.table.column`,"
        " `schema.function(args)`.",
    ),
    ("message", "string", "What is wrong: what gets locked or broken."),
    ("help", "string", "How to fix it."),
    ("libraries", "array of strings", "The enabled libraries the rule came from."),
)

AUDIT_FIELDS: tuple[Field, ...] = (
    ("libraries", "array of objects", "The libraries used: `name`, `version`, `rules` (how many)."),
    ("rules_enabled", "integer", "How many rules ran."),
    ("rules_by_source", "object", "How many enabled rules each library (or `--select`) brought."),
    (
        "disabled",
        "array of objects",
        "Rules left out: `rule`, `reason` (naming the flag or the full config key: `ignored by"
        " --ignore`, `disabled by db.lint.rules.<id>.enabled`), and a `replacement`.",
    ),
    (
        "overridden",
        "array of objects",
        "Settings changed: `rule`, `field`, `from`, `to`, `by` (the full config key that set"
        " it, as written in the file: `tool.plimsoll.db.lint.rules.<id>.options.<option>` in a"
        " pyproject.toml, `db.lint.library_options.<library>.<option>` in a plimsoll.toml).",
    ),
    ("conflicts", "array of objects", "Libraries that disagreed on a rule, and what was kept."),
    ("deprecated", "array of objects", "Deprecated rules in use: `rule`, `deprecated_in`."),
    ("warnings", "array of strings", "Problems met while composing the rules."),
)


def _table(fields: tuple[Field, ...]) -> list[str]:
    rows = ["| Field | Type | Meaning |", "| --- | --- | --- |"]
    rows.extend(f"| `{name}` | {kind} | {meaning} |" for name, kind, meaning in fields)
    return rows


def report_format_markdown() -> str:
    """The page documenting the JSON report (``docs/rules/report-format.md``)."""
    lines = [
        "# The JSON report",
        "",
        "`plimsoll db lint --format json` prints one JSON object. Its shape is versioned by",
        f"`format_version` (now {FORMAT_VERSION}): the number goes up when a field changes",
        "meaning or goes away; new fields may appear without it. This page is generated from",
        "`plimsoll.db.lint.report_format`: `make docs` rewrites it.",
        "",
        "## Report",
        "",
        *_table(REPORT_FIELDS),
        "",
        "## Finding",
        "",
        *_table(FINDING_FIELDS),
        "",
        "## Audit",
        "",
        *_table(AUDIT_FIELDS),
        "",
        "## Versions",
        "",
        "- 1: before the report carried a version: no `format_version`, `environment`,",
        "  `order` or `notes`; `line` and `column` were 0 for findings without a file.",
        "- 2: those fields added; `line` and `column` null without a file.",
        "",
    ]
    return "\n".join(lines)
