"""Rule documentation generated from the code: a Markdown page per rule and an index.

A rule's page is its docstring (the summary, then the problem, why, fix and example) with a
table of facts read from the class (default severity, PostgreSQL versions, kind, version,
libraries, deprecation) and of its options (read from the pydantic ``Options`` model). The
same text is what ``plimsoll db lint --explain ID`` prints. ``docs/rules/`` holds the pages of
the built-in rules; ``python -m plimsoll.db.lint.docs docs/rules`` (``make docs``) rewrites
them, and a test fails when they are stale.
"""

from __future__ import annotations

import ast
import difflib
import importlib
import inspect
import json
import re
import sys
import textwrap
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from plimsoll.core.errors import UsageError
from plimsoll.db.lint.engine_findings import ENGINE_DOCS
from plimsoll.db.lint.ignores import IGNORE_SYNTAX
from plimsoll.db.lint.registry import BUILTIN_MODULES, Registry, plugin_source
from plimsoll.db.lint.report_format import report_format_markdown
from plimsoll.db.lint.rule import NoOptions, Rule

INDEX = "README.md"
# The page of the JSON report's fields (pages are ``<id>.md``: no rule may be named
# ``report-format``; the registry test of docs checks it).
REPORT_FORMAT = "report-format.md"

# ``name``: in an Options docstring starts the description of the field ``name``.
_OPTION_MARKER = re.compile(r"``([A-Za-z_][A-Za-z0-9_]*)``\s*:")
_KINDS = {
    "statement": "statement (each statement of a migration, in order)",
    "schema": "schema (the schema the files build, or a live database)",
}


def library_memberships(registry: Registry) -> dict[str, list[str]]:
    """Each rule id of ``registry`` with the names of the libraries that enable it (sorted)."""
    out: dict[str, list[str]] = {rule_id: [] for rule_id in sorted(registry.rules)}
    for name in sorted(registry.libraries):
        for rule_id in registry.libraries[name].rule_ids:
            names = out.get(rule_id)
            if names is not None and name not in names:
                names.append(name)
    return out


def _cell(text: str) -> str:
    """``text`` made safe for one Markdown table cell (no pipes, no line breaks)."""
    return " ".join(text.replace("|", "\\|").split())


def _code(text: str) -> str:
    """``text`` as an inline code span, with enough backticks around it."""
    fence = "`"
    while fence in text:
        fence += "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _body(rule: type[Rule]) -> str:
    """The documentation after its first line (the problem, why, fix and example)."""
    lines = rule.documentation().splitlines()
    return "\n".join(lines[1:]).strip()


_TOML_SCALARS = {
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "absent",
}


def _type_name(annotation: Any) -> str:
    """A field's type in the configuration's terms (TOML): ``string``, ``integer``,
    ``array of strings``, ``table of strings``, ``string or absent``, ``"a", "b" or "c"``."""
    origin = typing.get_origin(annotation)
    arguments = [a for a in typing.get_args(annotation) if a is not Ellipsis]
    if origin is typing.Annotated:
        return _type_name(arguments[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in arguments)
    if origin is typing.Literal:
        return " or ".join(json.dumps(a) for a in arguments)
    if origin in (list, tuple, set, frozenset, Sequence):
        kinds = {_type_name(a) for a in arguments}
        if len(kinds) == 1:
            (kind,) = kinds
            return f"array of {_plural(kind)}"
        return "array"
    if origin in (dict, Mapping):
        return f"table of {_plural(_type_name(arguments[1]))}" if len(arguments) == 2 else "table"
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return " or ".join(json.dumps(m.value) for m in annotation)
    if annotation in _TOML_SCALARS:
        return _TOML_SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return "value"


def _plural(kind: str) -> str:
    """``strings``, ``integers``; a compound kind stays as it is (``values of ...``)."""
    if kind in ("string", "integer", "number", "boolean", "table", "array", "value"):
        return kind + "s"
    return f"values ({kind})"


def _default_text(info: FieldInfo) -> str:
    """The default of a field as TOML-ish text, or ``required``."""
    if info.default_factory is None and info.default is PydanticUndefined:
        return "required"
    try:
        value: Any = info.get_default(call_default_factory=True, validated_data={})
    except Exception:  # noqa: BLE001 - a factory that needs other fields' values
        return "computed"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, (tuple, frozenset, set)):
        value = list(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def _attribute_docstrings(model: type[BaseModel]) -> dict[str, str]:
    """The string literals written right under each field of ``model`` (attribute docstrings)."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return {}
    out: dict[str, str] = {}
    if not tree.body or not isinstance(tree.body[0], ast.ClassDef):
        return out
    body = tree.body[0].body
    for statement, following in zip(body, body[1:], strict=False):
        if (
            isinstance(statement, ast.AnnAssign)
            and isinstance(statement.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            out[statement.target.id] = inspect.cleandoc(following.value.value)
    return out


def _sentence(text: str) -> str:
    """``text`` as a sentence: one line, a capital first letter, a final full stop."""
    text = " ".join(text.split()).rstrip(" ;,")
    if not text:
        return ""
    if not text.endswith((".", "!", "?")):
        text += "."
    return text[0].upper() + text[1:]


def options_docstring(model: type[BaseModel]) -> tuple[str, dict[str, str]]:
    """The ``Options`` docstring split into its introduction and each field's description.

    Rules describe their options in the docstring as ``name``: what it is; (the way the
    built-in rules do): the text after each field's marker, up to the next one, is that
    field's description; the text before the first marker introduces them all.
    """
    doc = inspect.cleandoc(model.__doc__ or "")
    if not doc or model.__doc__ == BaseModel.__doc__:
        return "", {}
    fields = set(model.model_fields)
    markers = [m for m in _OPTION_MARKER.finditer(doc) if m.group(1) in fields]
    if not markers:
        return " ".join(doc.split()), {}
    out: dict[str, str] = {}
    for marker, following in zip(markers, [*markers[1:], None], strict=True):
        end = following.start() if following is not None else len(doc)
        out.setdefault(marker.group(1), _sentence(doc[marker.end() : end]))
    return " ".join(doc[: markers[0].start()].split()), out


def option_rows(rule: type[Rule]) -> list[tuple[str, str, str, str]]:
    """Each option of ``rule``: its name, type, default and description.

    The description is the field's ``Field(description=...)``, else the string written under
    the field, else its part of the ``Options`` docstring (``name``: description).
    """
    model = rule.Options
    if model is NoOptions or not model.model_fields:
        return []
    docstrings = _attribute_docstrings(model)
    _, described = options_docstring(model)
    rows = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        description = info.description or docstrings.get(name) or described.get(name, "")
        rows.append((key, _type_name(info.annotation), _default_text(info), description))
    return rows


def _status(rule: type[Rule]) -> str | None:
    """Deprecated or removed, with the replacement; None for a current rule."""
    use = f"; use {_code(rule.replacement)} instead" if rule.replacement else ""
    if rule.removed_in:
        return f"removed in {rule.removed_in}{use}"
    if rule.deprecated_in:
        return f"deprecated in {rule.deprecated_in}{use}"
    return None


def rule_markdown(
    rule: type[Rule],
    libraries: list[str],
    shared: Mapping[str, tuple[str, ...]] | None = None,
    *,
    provided_by: str | None = None,
    unlinked: Collection[str] = (),
) -> str:
    """The documentation page of ``rule``; ``libraries`` are those that enable it and
    ``shared`` the options each library shares (set once for all its rules).

    ``provided_by`` names the plugin a rule comes from (its package and entry point), for a
    rule plimsoll does not ship; ``unlinked`` are libraries without a page in plimsoll's docs
    (a plugin's), named without a link.

    Options are a list, not a table: a table cell must escape ``|`` even inside code, and
    ``--explain`` prints this text for people to copy defaults from.
    """
    lines = [f"# {rule.id}", "", rule.summary(), "", "| | |", "| --- | --- |"]
    lines.append(f"| Default severity | {rule.severity.value} |")
    lines.append(f"| PostgreSQL versions | {_cell(str(rule.pg_versions))} |")
    lines.append(f"| Kind | {_KINDS.get(rule.kind, rule.kind)} |")
    lines.append(f"| Version | {_cell(rule.version)} |")
    in_libraries = ", ".join(
        name if name in unlinked else f"[{name}]({INDEX}#{name})" for name in libraries
    )
    lines.append(f"| Libraries | {in_libraries or 'none (enable it with `--select`)'} |")
    if provided_by is not None:
        lines.append(f"| Provided by | {_cell(provided_by)} |")
    status = _status(rule)
    if status:
        lines.append(f"| Status | {_cell(status)} |")
    if rule.conflicts_with:
        others = ", ".join(f"[{other}]({other}.md)" for other in rule.conflicts_with)
        lines.append(f"| Conflicts with | {others} |")
    lines.append("")
    rows = option_rows(rule)
    if rows:
        lines.append(
            f"**Options**, set under `db.lint.rules.{rule.id}.options` in the configuration:"
        )
        intro, _ = options_docstring(rule.Options)
        if intro:
            lines.extend(["", intro])
        lines.append("")
        for name, type_name, default, description in rows:
            owners = [lib for lib in libraries if name in (shared or {}).get(lib, ())]
            note = "".join(
                f" Shared by the {lib} library: set it once for all its rules under"
                f" `db.lint.library_options.{lib}`."
                for lib in owners
            )
            text = " ".join(f"{description}{note}".split())
            lines.append(f"- `{name}` ({type_name}; default {_code(default)}): {text}".rstrip())
        lines.append("")
    else:
        lines.extend(["This rule has no options.", ""])
    body = _body(rule)
    if body:
        lines.extend([body, ""])
    lines.append(f"**Remedy.** {rule.help}")
    return "\n".join(lines) + "\n"


def _rule_row(rule: type[Rule]) -> str:
    """One index table row: the linked id, the default severity, the kind and the summary."""
    summary = rule.summary()
    status = _status(rule)
    if status:
        summary = f"{summary} ({status})"
    return f"| [{rule.id}]({rule.id}.md) | {rule.severity.value} | {rule.kind} | {_cell(summary)} |"


def _table(rules: Sequence[type[Rule]]) -> list[str]:
    """An index table of ``rules``."""
    lines = ["| Rule | Severity | Kind | Summary |", "| --- | --- | --- | --- |"]
    lines.extend(_rule_row(rule) for rule in rules)
    return lines


def index_markdown(registry: Registry) -> str:
    """The index of every rule in ``registry``, grouped by library, linking to each page."""
    memberships = library_memberships(registry)
    lines = [
        "# Lint rules",
        "",
        "The rules of `plimsoll db lint`, grouped by the library that enables them (a rule may be",
        "in several). `plimsoll db lint --explain ID` prints a rule's page. These pages are",
        "generated from the rules' code: `make docs` rewrites them.",
        "",
        "Schema rules check plain and partitioned tables: the tables queries name. A",
        "partition is checked for its own name and its own grants (it can be read directly),",
        "not for what it takes from its parent (columns, keys, inherited indexes).",
        "",
    ]
    for name in sorted(registry.libraries):
        library = registry.libraries[name]
        rules = [registry.rules[r] for r in library.rule_ids if r in registry.rules]
        lines.extend([f"## {name}", "", f"Version {library.version}. {library.description}", ""])
        if library.shared_options:
            names = ", ".join(f"`{option}`" for option in library.shared_options)
            lines.extend(
                [
                    f"Shared options ({names}): set them once for every rule of the library",
                    f"that takes them, under `[db.lint.library_options.{name}]` in the",
                    "configuration; a rule's own `options` still override them. Each rule's",
                    "page describes them.",
                    "",
                ]
            )
        if rules:
            lines.extend(_table(rules))
        else:
            lines.append("No installed rule.")
        missing = [r for r in library.rule_ids if r not in registry.rules]
        if missing:
            lines.extend(["", "Named but not installed: " + ", ".join(f"`{r}`" for r in missing)])
        lines.append("")
    loose = [registry.rules[r] for r, names in memberships.items() if not names]
    if loose:
        lines.extend(
            [
                "## In no library",
                "",
                "Enable these with `--select ID` or in the configuration.",
                "",
                *_table(loose),
                "",
            ]
        )
    lines.extend(
        [
            "## Built into the engine",
            "",
            "| Rule | Severity | Kind | Summary |",
            "| --- | --- | --- | --- |",
            *(
                f"| [{f.id}]({f.id}.md) | {f.severity} | engine | {f.summary} |"
                for f in ENGINE_DOCS.values()
            ),
            "",
            IGNORE_SYNTAX,
            "## Reports",
            "",
            f"The fields of `--format json`: [the JSON report]({REPORT_FORMAT}).",
        ]
    )
    return "\n".join(lines) + "\n"


def shared_options(registry: Registry) -> dict[str, tuple[str, ...]]:
    """The options each library of ``registry`` shares among its rules."""
    return {name: lib.shared_options for name, lib in registry.libraries.items()}


def pages(registry: Registry) -> dict[str, str]:
    """Every generated file of ``registry``'s documentation: file name to text."""
    memberships = library_memberships(registry)
    shared = shared_options(registry)
    out = {
        f"{rule_id}.md": rule_markdown(registry.rules[rule_id], memberships[rule_id], shared)
        for rule_id in sorted(registry.rules)
    }
    out.update({f"{f.id}.md": f.markdown() for f in ENGINE_DOCS.values()})
    out[REPORT_FORMAT] = report_format_markdown()
    out[INDEX] = index_markdown(registry)
    return out


def write_docs(directory: Path, registry: Registry) -> list[Path]:
    """Write every page and the index into ``directory``; remove pages of rules that are gone.

    Files whose text is already right are left alone (their times unchanged). Returns the
    paths of the generated files, index last.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = pages(registry)
    written: list[Path] = []
    for name, text in wanted.items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    for stale in directory.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    return written


def explain(rule_id: str, registry: Registry) -> str:
    """The page of ``rule_id`` (``--explain``); UsageError with a did-you-mean when unknown."""
    if rule_id in ENGINE_DOCS:
        return ENGINE_DOCS[rule_id].markdown()
    rule = registry.rules.get(rule_id)
    if rule is None:
        known = [*registry.rules, *ENGINE_DOCS]
        close = difflib.get_close_matches(rule_id, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(f"--explain: unknown rule {rule_id!r}{hint}")
    plugin = registry.from_plugin(rule_id)
    provided_by = None
    if plugin is not None:
        source = plugin_source(plugin)
        provided_by = f"plugin {plugin}" if source is None else f"plugin: {source}"
    return rule_markdown(
        rule,
        library_memberships(registry)[rule_id],
        shared_options(registry),
        provided_by=provided_by,
        unlinked={name for name in registry.libraries if registry.library_from_plugin(name)},
    )


def builtin_registry() -> Registry:
    """The built-in rules and libraries only: what ``docs/rules`` documents.

    Installed plugins are left out so that the pages are the same on every machine.
    """
    registry = Registry()
    for name in BUILTIN_MODULES:
        registry.add(importlib.import_module(name), name)
    return registry


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m plimsoll.db.lint.docs DIRECTORY``: regenerate the built-in rules' pages."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1 or args[0].startswith("-"):
        print("usage: python -m plimsoll.db.lint.docs DIRECTORY", file=sys.stderr)
        return 2
    registry = builtin_registry()
    if registry.failures:
        for failure in registry.failures:
            print(f"error: {failure}", file=sys.stderr)
        return 1
    written = write_docs(Path(args[0]), registry)
    print(f"wrote {len(written)} files to {args[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
