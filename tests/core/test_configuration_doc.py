"""docs/configuration.md documents every configuration key, and only keys plimsoll accepts.

The keys come from the pydantic models themselves (walked from the root ``PlimsollConfig``),
plus the parts validated outside that tree: ``runtime.alerts`` and ``runtime.slo`` (their
loaders' models), the built-in health checks' options (from their signatures, as the loader
builds them) and the options the built-in lint libraries share. The page's tables name keys
in their first column (``code.thresholds[].metric``, ``db.environments.<env>.url``); its
defaults are checked against the models', and its TOML examples (and the README's) are
loaded through the same validation as a real configuration.
"""

from __future__ import annotations

import re
import tomllib
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import pytest
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from plimsoll.core import plugins
from plimsoll.core.config import PlimsollConfig, parse
from plimsoll.db.lint.compose import ConflictStrategy, RuleOverride, compose
from plimsoll.db.lint.registry import LIBRARY_FOLDERS, load_registry
from plimsoll.db.lint.rule import Severity
from plimsoll.runtime.alerts import loader as alerts_loader
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.checks.loader import build_checks, options_model
from plimsoll.runtime.health import CheckContext
from plimsoll.runtime.slo import loader as slo_loader
from plimsoll.runtime.slo.model import SloConfig

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "configuration.md"
README = ROOT / "README.md"

# Sections typed ``dict[str, Any]`` in the root model: their loaders validate them with these.
SECTION_MODELS: dict[str, type[BaseModel]] = {
    "runtime.alerts": AlertsConfig,
    "runtime.slo": SloConfig,
}
HEALTH_OPTIONS = "runtime.health.checks[].options"
# Taken by DatabaseHealthCheck.prepare_options (it becomes the url), not by its __init__.
PREPARED_HEALTH_OPTIONS = {f"{HEALTH_OPTIONS}.environment"}
NAME = re.compile(r"<[^>]*>")
BACKTICKED = re.compile(r"`([^`]+)`")

# The defaults each key may have (a key met in two models, a channel's ``url``, has several).
Defaults = dict[str, list[Any]]


# --- the keys plimsoll accepts ---------------------------------------------------------------


def _nested_models(annotation: Any) -> Iterator[tuple[str, type[BaseModel]]]:
    """The models inside a field's type, each with the key suffix leading into it."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _nested_models(get_args(annotation)[0])
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield "", annotation
    elif origin in (list, tuple):
        for arg in get_args(annotation):
            if arg is not Ellipsis:
                yield from (("[]" + s, m) for s, m in _nested_models(arg))
    elif origin is dict:
        yield from ((".<*>" + s, m) for s, m in _nested_models(get_args(annotation)[1]))
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _nested_models(arg)


def _default(field: Any) -> Any:
    if field.default_factory is not None:
        return field.default_factory()
    return field.default


def walk(model: type[BaseModel], prefix: str, out: Defaults) -> Defaults:
    """Every leaf key of ``model`` under ``prefix`` with its default, recursively."""
    for name, field in model.model_fields.items():
        if field.exclude:
            continue  # set by plimsoll itself (an objective's source file), never by a user
        key = f"{prefix}.{field.alias or name}" if prefix else field.alias or name
        if key in SECTION_MODELS:
            walk(SECTION_MODELS[key], key, out)
            continue
        nested = list(_nested_models(field.annotation))
        if not nested:
            out.setdefault(key, []).append(_default(field))
        for suffix, sub in nested:
            walk(sub, key + suffix, out)
    return out


def _builtin_health_checks() -> dict[str, type]:
    discovered = plugins.discover(plugins.HEALTH_CHECKS)
    return {
        name: cls
        for name, cls in discovered.loaded.items()
        if getattr(cls, "__module__", "").startswith("plimsoll.")
    }


def accepted_keys() -> Defaults:
    """Every key a configuration may set, with its defaults."""
    keys = walk(PlimsollConfig, "", {})
    for cls in _builtin_health_checks().values():
        for name, field in options_model(cls).model_fields.items():
            keys.setdefault(f"{HEALTH_OPTIONS}.{name}", []).append(_default(field))
    for key in PREPARED_HEALTH_OPTIONS:
        keys.setdefault(key, []).append(None)
    registry = load_registry()
    for library in LIBRARY_FOLDERS:
        for option in registry.libraries[library].shared_options:
            keys.setdefault(f"db.lint.library_options.{library}.{option}", []).append(
                PydanticUndefined
            )
    return keys


# --- the keys the page documents ------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a key table: its keys (normalised), its cells by column, its line."""

    keys: tuple[str, ...]
    cells: dict[str, str]
    line: int


def normalise(key: str) -> str:
    """``db.environments.<env>.url`` -> ``db.environments.<*>.url``."""
    return NAME.sub("<*>", key)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def key_rows(text: str) -> list[Row]:
    """The rows of every table whose first column names configuration keys."""
    sections = set(PlimsollConfig.model_fields)
    rows: list[Row] = []
    lines = text.splitlines()
    header: list[str] | None = None
    for number, line in enumerate(lines, start=1):
        if not line.startswith("|"):
            header = None
            continue
        cells = _cells(line)
        if header is None:
            header = cells
            continue
        if set("".join(cells)) <= set("-: "):
            continue  # the separator under the header
        keys = tuple(
            normalise(token)
            for token in BACKTICKED.findall(cells[0])
            if token.split(".")[0] in sections and "." in token
        )
        if keys:
            rows.append(Row(keys, dict(zip(header, cells, strict=False)), number))
    return rows


def documented_keys(text: str) -> set[str]:
    """Every key the page's tables name."""
    return {key for row in key_rows(text) for key in row.keys}


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def accepted() -> Defaults:
    return accepted_keys()


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def test_the_walk_reaches_every_kind_of_key(accepted: Defaults) -> None:
    # Lists of tables, tables by name, aliases, union members, loader-validated sections,
    # check options and library options: if the walk missed one kind, the two tests below
    # would silently check less.
    for key in (
        "code.retention.compress_after_days",
        "code.thresholds[].for",
        "db.environments.<*>.url",
        "db.hooks[].phase",
        "db.lint.rules.<*>.severity",
        "db.risk.curves.lock_time.points",
        "notify.channels.<*>.sender",
        "notify.channels.<*>.path",
        "runtime.monitor.retention[].keep",
        "runtime.alerts.routes[].continue",
        "runtime.alerts.escalation.<*>.levels[].delay",
        "runtime.slo.objectives[].latency.threshold",
        f"{HEALTH_OPTIONS}.disk_paths",
        f"{HEALTH_OPTIONS}.expected_status",
        "db.lint.library_options.hipaa.phi_column_patterns",
    ):
        assert key in accepted, key
    assert "runtime.alerts" not in accepted  # walked into, not a leaf
    assert "runtime.slo.objectives[].source" not in accepted  # set by plimsoll only


def test_every_key_is_documented(accepted: Defaults, page: str) -> None:
    missing = sorted(set(accepted) - documented_keys(page))
    assert not missing, "docs/configuration.md does not document: " + ", ".join(missing)


def test_every_documented_key_is_accepted(accepted: Defaults, page: str) -> None:
    unknown = sorted(documented_keys(page) - set(accepted))
    assert not unknown, "docs/configuration.md documents keys plimsoll refuses: " + ", ".join(
        unknown
    )


def _literal(text: str) -> Any:
    """A default as the page writes it: a TOML value (``30``, ``["."]``), else plain text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _plain(value: Any) -> Any:
    """A model default in the page's terms: enums as their value, tuples as lists."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return getattr(value, "value", value)


def test_documented_defaults_are_the_models(accepted: Defaults, page: str) -> None:
    # A default written as a value (the cell starts with one in backticks) must equal the
    # model's; defaults given in words ("unset: ...", "the library's") are not values.
    checked = 0
    wrong: list[str] = []
    for row in key_rows(page):
        cell = row.cells.get("default", "")
        match = re.match(r"`([^`]+)`", cell)
        if len(row.keys) != 1 or match is None:
            continue
        known = [d for d in accepted.get(row.keys[0], []) if d not in (None, PydanticUndefined)]
        if not known:
            continue
        written = _literal(match.group(1))
        checked += 1
        if not any(written == _plain(d) for d in known):
            wrong.append(f"line {row.line}: {row.keys[0]} says {written!r}, the model {known!r}")
    assert not wrong, "\n".join(wrong)
    assert checked > 100  # the check really ran over the page's tables


def _examples(text: str) -> list[dict[str, Any]]:
    """The plimsoll settings of each TOML block of ``text`` that configures plimsoll."""
    found = []
    for block in re.findall(r"```toml\n(.*?)```", text, flags=re.S):
        data = tomllib.loads(block)
        settings = data.get("tool", {}).get("plimsoll")
        if settings is not None:
            found.append(settings)
    return found


def _check_example(settings: dict[str, Any], where: str) -> None:
    """Validate ``settings`` as plimsoll does, part by part; ConfigError/UsageError if not."""
    # A ``${VAR}`` without a default is one the reader must set: it is set here; those with
    # ``:-`` are left unset so that their defaults are what is validated.
    required = re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", repr(settings))
    config = parse(settings, where, env=dict.fromkeys(required, "set-by-the-reader"))
    runtime = settings.get("runtime", {})
    if "alerts" in runtime:
        alerts_loader.validate(runtime["alerts"], where, "runtime.alerts")
    if "slo" in runtime:
        slo_loader.validate(runtime["slo"], where, "runtime.slo")
    context = CheckContext(database_url=lambda env: "postgresql://app@db.example.com/app")
    build_checks(config.runtime.health, where=where, context=context)
    lint = config.db.lint
    compose(
        load_registry(),
        list(lint.libraries),
        config_select=lint.select,
        config_ignore=lint.ignore,
        config_libraries=lint.libraries,
        library_options=lint.library_options,
        overrides={
            rule_id: RuleOverride(
                enabled=rule.enabled,
                severity=Severity(rule.severity) if rule.severity else None,
                options=rule.options,
            )
            for rule_id, rule in lint.rules.items()
        },
        strategy=ConflictStrategy(lint.conflict_strategy),
        pg_version=lint.pg_version,
        config_file=where,
    )


@pytest.mark.parametrize("source", [PAGE, README], ids=lambda p: p.name)
def test_examples_are_valid_configurations(source: Path) -> None:
    examples = _examples(source.read_text(encoding="utf-8"))
    assert examples
    for index, settings in enumerate(examples):
        _check_example(settings, f"{source.name} example {index + 1}")


def test_a_wrong_example_is_caught() -> None:
    # The example check is not vacuous: a misspelt rule id or option fails it.
    from plimsoll.core.errors import PlimsollError

    with pytest.raises(PlimsollError, match="prefer-text-feild"):
        _check_example({"db": {"lint": {"ignore": ["prefer-text-feild"]}}}, "x")
    with pytest.raises(PlimsollError, match="disk_path"):
        _check_example(
            {"runtime": {"health": {"checks": [{"type": "system", "options": {"disk_path": []}}]}}},
            "x",
        )


def test_the_page_parser_reads_keys_and_defaults() -> None:
    text = (
        "| key | type | default | what |\n"
        "|---|---|---|---|\n"
        "| `db.environments.<env>.url` | URL | unset | x |\n"
        "| `code.jobs`, `code.paths` | int | `3` | y |\n"
        "| `pyproject.toml` | file | - | not a key |\n"
    )
    rows = key_rows(text)
    assert [r.keys for r in rows] == [("db.environments.<*>.url",), ("code.jobs", "code.paths")]
    assert rows[1].cells["default"] == "`3`"
    assert _literal('["."]') == ["."] and _literal("5s") == "5s"


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it: lower case, punctuation dropped, spaces -> -."""
    text = re.sub(r"&[a-z]+;", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def test_the_page_links_resolve(page: str) -> None:
    # Relative links and their anchors: the page points readers at other docs by section.
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page):
        if target.startswith(("http://", "https://")):
            continue
        path, _, anchor = target.partition("#")
        linked = (PAGE.parent / path).resolve() if path else PAGE
        if not linked.is_file():
            broken.append(target)
            continue
        if anchor:
            headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), flags=re.M)
            if anchor not in {_slug(h) for h in headings}:
                broken.append(target)
    assert not broken, "broken links: " + ", ".join(broken)
