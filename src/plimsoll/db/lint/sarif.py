"""``--format sarif``: a lint report as a SARIF 2.1.0 log, for GitHub code scanning and others.

One run. ``tool.driver.rules`` describes every rule of the registry (and the engine's
``syntax-error``), with the rule's documentation as Markdown. Each finding is a result:
in a file, a physical location relative to ``%SRCROOT%`` (the ``base_dir``: ``plimsoll db
lint`` gives the root of the git work tree the project lies in, else the current folder, as
GitHub resolves URIs against the repository's root) when it is under it; for an object of a live database, a logical location naming the object (valid SARIF, but
GitHub code scanning refuses a log with a result that has no physical location, so a live
database's log is for other consumers). A partial
fingerprint (a hash of the rule, file, object and message, not of the line) lets code scanning
follow a result as lines move. The run's properties hold the report's summary and the audit
trail of the rules used.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from plimsoll.db.lint.docs import library_memberships, rule_markdown
from plimsoll.db.lint.engine import LintReport
from plimsoll.db.lint.engine_findings import ENGINE_DOCS, EngineFinding
from plimsoll.db.lint.findings import Finding
from plimsoll.db.lint.registry import Registry
from plimsoll.db.lint.rule import Rule, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
SRCROOT = "%SRCROOT%"
# The key of plimsoll's own fingerprint; the "/v1" is bumped if what it hashes ever changes.
FINGERPRINT_KEY = "plimsollFindingHash/v1"

# GitHub code scanning takes at most 1024 characters of a rule's short and full description;
# the whole documentation goes into help.markdown, which has no such limit.
DESCRIPTION_LIMIT = 1024

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def level(severity: Severity) -> str:
    """The SARIF level of a severity: error, warning, or note for info."""
    return LEVELS[severity]


def fit(text: str, limit: int = DESCRIPTION_LIMIT) -> str:
    """The leading paragraphs of ``text`` that fit in ``limit`` characters (at least a cut one)."""
    if len(text) <= limit:
        return text
    paragraphs = text.split("\n\n")
    kept: list[str] = []
    size = 0
    for paragraph in paragraphs:
        size += len(paragraph) + (2 if kept else 0)
        if size > limit:
            break
        kept.append(paragraph)
    # A code block cut in half would swallow the rest of a Markdown rendering.
    while kept and "\n\n".join(kept).count("```") % 2:
        kept.pop()
    return "\n\n".join(kept) or text[: limit - 1].rstrip() + "\u2026"


_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|`([^`]*)`")


def plain_text(markdown: str) -> str:
    """``markdown`` as plain text for a SARIF ``text`` field: no fences, emphasis or ticks.

    SARIF keeps Markdown for the ``markdown`` field; viewers show ``text`` as it is.
    """
    lines = [line for line in markdown.splitlines() if not line.lstrip().startswith("```")]
    text = "\n".join(line.lstrip("#").lstrip() if line.startswith("#") else line for line in lines)
    return _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), text)


def _rule_descriptor(rule: type[Rule], libraries: list[str]) -> dict[str, Any]:
    """A reportingDescriptor for ``rule``: the whole page is its help, a digest its description."""
    documentation = fit(rule.documentation())
    properties: dict[str, Any] = {
        "tags": list(libraries),
        "kind": rule.kind,
        "pgVersions": str(rule.pg_versions),
        "version": rule.version,
    }
    if rule.deprecated_in:
        properties["deprecatedIn"] = rule.deprecated_in
    if rule.removed_in:
        properties["removedIn"] = rule.removed_in
    if rule.replacement:
        properties["replacement"] = rule.replacement
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": rule.__name__,
        "shortDescription": {"text": fit(rule.summary())},
        "fullDescription": {"text": plain_text(documentation) or rule.summary()},
        "help": {"text": rule.help, "markdown": rule_markdown(rule, libraries)},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": properties,
    }
    if documentation:
        descriptor["fullDescription"]["markdown"] = documentation
    return descriptor


def _engine_descriptor(finding: EngineFinding) -> dict[str, Any]:
    """The reportingDescriptor of one of the engine's own findings (``syntax-error``, ...)."""
    full = fit(f"{finding.summary}\n\n{finding.body}")
    return {
        "id": finding.id,
        "name": finding.name,
        "shortDescription": {"text": finding.summary},
        "fullDescription": {"text": plain_text(full), "markdown": full},
        "help": {"text": finding.help, "markdown": finding.markdown()},
        "defaultConfiguration": {"level": level(Severity(finding.severity))},
        "properties": {"tags": [], "kind": "engine", "pgVersions": "all"},
    }


def _unknown_descriptor(rule_id: str, finding: Finding) -> dict[str, Any]:
    """A minimal descriptor for a finding whose rule is not in the registry."""
    return {
        "id": rule_id,
        "shortDescription": {"text": rule_id},
        "help": {"text": finding.help},
        "defaultConfiguration": {"level": level(finding.severity)},
        "properties": {"tags": list(finding.libraries)},
    }


def _artifact_uri(
    file: str, base_dir: Path | None, absolute_path: str | None = None
) -> tuple[str, str | None]:
    """The URI of ``file`` and its base id: relative to ``%SRCROOT%`` when under ``base_dir``.

    ``absolute_path`` is where the file really is (the report lists it for every file it
    linted); without it ``file`` is taken relative to the current folder.
    """
    path = Path(file)
    if absolute_path is not None:
        absolute = Path(absolute_path)
    else:
        absolute = path if path.is_absolute() else Path.cwd() / path
    if base_dir is not None:
        relative = _under(absolute, base_dir)
        if relative is not None:
            return quote(relative.as_posix()), SRCROOT
    if absolute_path is not None or path.is_absolute():
        return Path(os.path.abspath(absolute)).as_uri(), None
    # A relative reference with no base: consumers (GitHub among them) resolve it against the
    # root of the checkout.
    return quote(path.as_posix()), None


def _under(path: Path, base: Path) -> Path | None:
    """``path`` relative to ``base``, or None when it is not under it (a path through a
    symbolic link, such as ``/tmp`` on some systems, counts once both are resolved)."""
    for candidate, root in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(base))),
        (path.resolve(), base.resolve()),
    ):
        try:
            return candidate.relative_to(root)
        except ValueError:
            continue
    return None


def object_kind(key: str) -> str:
    """The SARIF logical-location kind of a catalog key, from its shape.

    ``schema.name(args)`` is a function; ``schema`` a namespace; ``schema.table`` a type (a
    table, view, sequence or enum); ``schema.table.column`` a member (a column or constraint).
    """
    if "(" in key:
        return "function"
    parts = key.count(".") + 1
    if parts == 1:
        return "namespace"
    if parts == 2:
        return "type"
    return "member"


def _location(
    finding: Finding,
    base_dir: Path | None,
    uris: dict[str, tuple[str, str | None]],
    fallback_file: str | None = None,
    paths: dict[str, str] | None = None,
) -> dict[str, Any] | None:
    """Where ``finding`` is: a physical location in a file, else a logical one (an object).

    ``uris`` caches each file's URI (a report of thousands of findings names a few files).
    A finding with no file (one about a live database) is placed at line 1 of
    ``fallback_file`` when given, next to its logical location.
    """
    file = finding.file
    line = finding.line
    if file is None and fallback_file is not None:
        file, line = fallback_file, 1
    if file is not None:
        known = uris.get(file)
        if known is None:
            absolute = (paths or {}).get(file)
            known = uris[file] = _artifact_uri(file, base_dir, absolute)
        uri, base = known
        artifact: dict[str, Any] = {"uri": uri}
        if base is not None:
            artifact["uriBaseId"] = base
        physical: dict[str, Any] = {"artifactLocation": artifact}
        if line >= 1:
            region = {"startLine": line}
            if finding.file is not None and finding.column >= 1:
                region["startColumn"] = finding.column
            physical["region"] = region
        location: dict[str, Any] = {"physicalLocation": physical}
        if finding.object:
            location["logicalLocations"] = [_logical(finding.object)]
        return location
    if finding.object:
        return {"logicalLocations": [_logical(finding.object)]}
    return None


def _logical(key: str) -> dict[str, Any]:
    """A logicalLocation for the catalog object ``key``."""
    name = key.split("(", 1)[0].rsplit(".", 1)[-1]
    return {"name": name, "fullyQualifiedName": key, "kind": object_kind(key)}


def fingerprint(finding: Finding, uri: str | None, occurrence: int) -> str:
    """A stable hash of the rule, file, object and message (not the line: code moves).

    ``occurrence`` tells apart identical findings in one file (the second CREATE INDEX of
    the same table), so that each keeps its own identity.
    """
    parts = [finding.rule, uri or "", finding.object or "", finding.message, str(occurrence)]
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def result_text(finding: Finding) -> str:
    """The result's message: the finding's message, then its help."""
    message = finding.message.rstrip()
    if not finding.help:
        return message
    if not message.endswith((".", "!", "?", ":")):
        message += "."
    return f"{message} {finding.help}"


def to_sarif(
    report: LintReport,
    registry: Registry,
    *,
    tool_version: str,
    base_dir: Path | None = None,
    fallback_file: str | None = None,
) -> dict[str, Any]:
    """``report`` as a SARIF 2.1.0 log (plain data, ready for ``json.dumps``).

    File paths under ``base_dir`` are given relative to ``%SRCROOT%`` (declared in
    ``originalUriBaseIds``); others are absolute ``file:`` URIs, or kept relative when no
    ``base_dir`` is given. GitHub code scanning rejects a result without a physical
    location, so a finding about a live database (it has no file) is placed at line 1 of
    ``fallback_file`` (the configuration naming the database) when one is given.
    """
    memberships = library_memberships(registry)
    descriptors = [_engine_descriptor(finding) for finding in ENGINE_DOCS.values()]
    index = {finding_id: n for n, finding_id in enumerate(ENGINE_DOCS)}
    for rule_id in sorted(registry.rules):
        index[rule_id] = len(descriptors)
        descriptors.append(_rule_descriptor(registry.rules[rule_id], memberships[rule_id]))

    results: list[dict[str, Any]] = []
    seen: Counter[tuple[str, str, str, str]] = Counter()
    uris: dict[str, tuple[str, str | None]] = {}
    for finding in report.findings:
        if finding.rule not in index:
            index[finding.rule] = len(descriptors)
            descriptors.append(_unknown_descriptor(finding.rule, finding))
        location = _location(finding, base_dir, uris, fallback_file, report.paths)
        uri = None
        if location is not None and "physicalLocation" in location:
            uri = location["physicalLocation"]["artifactLocation"]["uri"]
        identity = (finding.rule, uri or "", finding.object or "", finding.message)
        seen[identity] += 1
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "ruleIndex": index[finding.rule],
            "level": level(finding.severity),
            "message": {"text": result_text(finding)},
            "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding, uri, seen[identity])},
        }
        if location is not None:
            result["locations"] = [location]
        if finding.libraries:
            result["properties"] = {"libraries": list(finding.libraries)}
        results.append(result)

    summary = report.as_dict()
    audit = summary.pop("audit")
    summary.pop("findings")
    driver: dict[str, Any] = {
        "name": "plimsoll",
        "semanticVersion": tool_version,
        "version": tool_version,
        "rules": descriptors,
    }
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [
            {
                # A plugin that did not load is the set-up's problem: the run itself went on.
                "executionSuccessful": True,
                "toolConfigurationNotifications": [
                    {"level": "warning", "message": {"text": text}}
                    for text in report.configuration_warnings
                ],
                "properties": {"audit": audit},
            }
        ],
        # Columns count characters (code points), as the engine reports them.
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": summary,
    }
    if base_dir is not None:
        root = Path(os.path.abspath(base_dir)).as_uri().rstrip("/") + "/"
        run["originalUriBaseIds"] = {SRCROOT: {"uri": root}}
    return {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
