"""``--format github``: a lint report as GitHub Actions workflow commands (annotations).

One command per finding, ``::error file=F,line=L,col=C,title=RULE::MESSAGE`` (``warning``
for a warning, ``notice`` for info), escaped exactly as the Actions toolkit
(``@actions/core``, ``command.ts``) escapes them, so that a message with a colon, comma,
percent sign or line break arrives whole. A finding on an object of a live database has no
file: the annotation names the object in its message instead. GitHub resolves ``file=``
against the repository's root: with a ``base`` (see :mod:`plimsoll.db.lint.paths`), files are
named from there rather than from the project folder.
"""

from __future__ import annotations

from pathlib import Path

from plimsoll.db.lint.engine import LintReport
from plimsoll.db.lint.findings import Finding
from plimsoll.db.lint.paths import relative_to_base
from plimsoll.db.lint.rule import Severity

COMMANDS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(value: str) -> str:
    """A command's message escaped as the toolkit's ``escapeData``: ``%``, CR and LF."""
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(value: str) -> str:
    """A property value escaped as the toolkit's ``escapeProperty``: also ``:`` and ``,``."""
    return escape_data(value).replace(":", "%3A").replace(",", "%2C")


def command(name: str, properties: dict[str, str], message: str) -> str:
    """One workflow command line; empty property values are left out, as the toolkit does."""
    pairs = ",".join(
        f"{key}={escape_property(value)}" for key, value in properties.items() if value
    )
    head = f"::{name} {pairs}" if pairs else f"::{name}"
    return f"{head}::{escape_data(message)}"


def annotation(finding: Finding, file: str | None = None) -> str:
    """The workflow command of one finding: its location (``file`` when given, as the
    repository names it, else the finding's), the rule as title, message and help."""
    properties: dict[str, str] = {}
    message = finding.message
    if finding.file is not None:
        properties["file"] = file or finding.file
        if finding.line >= 1:
            properties["line"] = str(finding.line)
            if finding.column >= 1:
                properties["col"] = str(finding.column)
    elif finding.object:
        message = f"{finding.object}: {message}"
    properties["title"] = finding.rule
    if finding.help:
        message = f"{message}\n{finding.help}"
    return command(COMMANDS[finding.severity], properties, message)


def to_github(report: LintReport, base: Path | None = None) -> str:
    """Every finding of ``report`` as a workflow command, one per line ("" when none); files
    named relative to ``base`` when given (the repository's root)."""
    lines = []
    for finding in report.findings:
        file = None
        if base is not None and finding.file is not None:
            file = relative_to_base(finding.file, report.paths.get(finding.file), base)
        lines.append(annotation(finding, file) + "\n")
    return "".join(lines)
