"""What ruff, pylint, bandit and mypy can report: the codes their complete count maps may hold.

A threshold on ``ruff.by_code.F841`` reads 0 while F841 is absent from the record; that is
only right for a code the tool can report, so a misspelt one (``f841``, ``unused-imprt``) must
be refused rather than pass forever. Each function here returns a :class:`CodeSource`: a cheap
fingerprint (the tool's version and whatever loads its plugins: the cache key) and a ``fetch``
that asks the tool itself, in a subprocess of this interpreter run in the project's folder, as
the collector runs it:

- ruff: ``ruff rule --all --output-format json``, every rule (removed and preview ones too);
  a rule without a code is reported by its name;
- pylint: ``pylint --list-msgs`` with every extension of ``pylint.extensions`` loaded besides
  the project's own ``load-plugins`` (its settings are read as a run reads them): symbols, with
  message ids (C0114) as aliases;
- bandit: its extension manager's plugin and blacklist test ids, third-party plugins included,
  with their names (``assert_used``, ``pickle``) as aliases;
- mypy: ``mypy.errorcodes`` once the plugins the project's mypy settings name are imported.

Besides, each map may hold the names the collectors give what comes without a code
(``unknown``; ruff's ``invalid-syntax``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from plimsoll.code.collectors import _tools
from plimsoll.code.collectors.base import (
    CatalogueUnavailable,
    CodeCatalogue,
    CodeSource,
    CollectorError,
)

# Asking a tool for its codes takes well under a second; a minute means it hangs.
ASK_TIMEOUT = 60.0
# What the collectors record for a message that comes without a code.
UNKNOWN = "unknown"
RUFF_EXTRA = frozenset({UNKNOWN, "invalid-syntax", "syntax-error"})

_PYLINT_LIST = """\
import pkgutil, runpy, sys
import pylint.extensions
names = sorted(
    m.name for m in pkgutil.iter_modules(pylint.extensions.__path__) if not m.name.startswith("_")
)
sys.argv = ["pylint", "--list-msgs", "--load-plugins=" + ",".join(
    "pylint.extensions." + name for name in names
)]
try:
    runpy.run_module("pylint", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
"""
# ":unused-import (W0611): *Unused %s*" in pylint --list-msgs.
_PYLINT_MESSAGE = re.compile(r"^:(?P<symbol>[\w-]+) \((?P<msgid>[A-Z]\d{4})\)", re.MULTILINE)

_BANDIT_LIST = """\
import json
from bandit.core import extension_loader
manager = extension_loader.MANAGER
codes = sorted(set(manager.plugins_by_id) | set(manager.blacklist_by_id))
aliases = {p.name: p.plugin._test_id for p in manager.plugins if hasattr(p.plugin, "_test_id")}
aliases.update({name: b["id"] for name, b in manager.blacklist_by_name.items()})
print(json.dumps({"codes": codes, "aliases": aliases}))
"""

# Plugins may define error codes of their own (mypy registers each ErrorCode as it is made):
# import those the project's settings name, as a mypy run would.
_MYPY_LIST = """\
import importlib, io, json, runpy
import mypy.errorcodes as errorcodes
try:
    from mypy.config_parser import parse_config_file
    from mypy.options import Options
    options = Options()
    parse_config_file(options, lambda: None, None, io.StringIO(), io.StringIO())
    plugins = list(options.plugins)
except Exception:
    plugins = []
for plugin in plugins:
    # "module", "module:entry", "path/plugin.py:entry"; a drive letter is no entry point.
    head, sep, tail = plugin.rpartition(":")
    name = head if sep and "/" not in tail and "\\\\" not in tail else plugin
    try:
        if name.endswith(".py"):
            runpy.run_path(name)
        else:
            importlib.import_module(name)
    except BaseException:
        pass
print(json.dumps(sorted(errorcodes.error_codes)))
"""
# Files whose settings may name mypy plugins: the project's and the user's.
_MYPY_CONFIG = ("mypy.ini", ".mypy.ini", "pyproject.toml", "setup.cfg")
_MYPY_USER_CONFIG = ("~/.config/mypy/config", "~/.mypy.ini")


def _fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _python() -> str:
    return ".".join(map(str, sys.version_info[:3]))


def _ask(module: str, script: str, root: Path) -> str:
    """What ``script`` prints, run with this interpreter in ``root``; CatalogueUnavailable else."""
    missing = _tools.missing_reason(module)
    if missing is not None:
        raise CatalogueUnavailable(missing)
    try:
        done = subprocess.run(
            [sys.executable, "-c", script],
            cwd=root,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=ASK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CatalogueUnavailable(
            f"{module} did not list its codes within {ASK_TIMEOUT:g}s"
        ) from None
    except OSError as exc:
        raise CatalogueUnavailable(f"{module} could not start: {exc.strerror or exc}") from None
    if done.returncode != 0:
        detail = _tools.one_line(done.stderr or done.stdout)
        raise CatalogueUnavailable(f"{module} failed to list its codes: {detail}")
    return done.stdout


def _json(text: str, tool: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CatalogueUnavailable(f"{tool} listed its codes as no valid JSON: {exc.msg}") from None


# --- ruff -------------------------------------------------------------------------------------


def parse_ruff_rules(text: str) -> CodeCatalogue:
    """The catalogue from ``ruff rule --all --output-format json``: codes, names as aliases."""
    rules = _json(text, "ruff")
    if not isinstance(rules, list):
        raise CatalogueUnavailable("ruff listed its rules as something other than a list")
    codes = set(RUFF_EXTRA)
    aliases: dict[str, str] = {}
    for rule in rules:
        if not isinstance(rule, Mapping):
            continue
        code, name = rule.get("code"), rule.get("name")
        if code:
            codes.add(str(code))
            if name:
                aliases[str(name)] = str(code)
        elif name:
            # A rule without a code (some preview rules) is reported under its name.
            codes.add(str(name))
    return CodeCatalogue(frozenset(codes), aliases)


def ruff_codes(root: Path) -> CodeSource:
    """Ruff's rule codes (see the module)."""
    version = _tools.tool_version("ruff")

    def fetch() -> CodeCatalogue:
        try:
            result = _tools.run_tool(
                "ruff", ["rule", "--all", "--output-format", "json"], cwd=root, timeout=ASK_TIMEOUT
            )
        except CollectorError as exc:
            raise CatalogueUnavailable(str(exc)) from None
        return parse_ruff_rules(result.stdout)

    return CodeSource(
        tool="ruff",
        label=f"ruff {version}",
        noun="rule code",
        fingerprint=_fingerprint("ruff", version),
        fetch=fetch,
    )


# --- pylint -----------------------------------------------------------------------------------


def parse_pylint_messages(text: str) -> CodeCatalogue:
    """The catalogue from ``pylint --list-msgs``: symbols, message ids as aliases."""
    found = {m["symbol"]: m["msgid"] for m in _PYLINT_MESSAGE.finditer(text)}
    if not found:
        raise CatalogueUnavailable("pylint --list-msgs listed no messages")
    return CodeCatalogue(
        frozenset({*found, UNKNOWN}), {msgid: symbol for symbol, msgid in found.items()}
    )


def pylint_codes(root: Path, settings: Mapping[str, str]) -> CodeSource:
    """Pylint's message symbols with the project's plugins and every extension (see the module).

    ``settings`` are the project's pylint settings (they may load plugins): part of the key.
    """
    version = _tools.tool_version("pylint")

    def fetch() -> CodeCatalogue:
        return parse_pylint_messages(_ask("pylint", _PYLINT_LIST, root))

    return CodeSource(
        tool="pylint",
        label=f"pylint {version}",
        noun="message symbol",
        fingerprint=_fingerprint("pylint", version, _python(), dict(settings)),
        fetch=fetch,
    )


# --- bandit -----------------------------------------------------------------------------------


def bandit_codes(root: Path) -> CodeSource:
    """Bandit's test ids, third-party plugins included (see the module)."""
    version = _tools.tool_version("bandit")
    # A bandit plugin installed or removed changes the ids without changing bandit's version.
    plugins = sorted(
        f"{ep.group}:{ep.name}={ep.value}"
        for group in ("bandit.plugins", "bandit.blacklists")
        for ep in importlib.metadata.entry_points(group=group)
    )

    def fetch() -> CodeCatalogue:
        data = _json(_ask("bandit", _BANDIT_LIST, root), "bandit")
        try:
            codes = frozenset({*map(str, data["codes"]), UNKNOWN})
            aliases = {str(k): str(v) for k, v in dict(data["aliases"]).items()}
        except (KeyError, TypeError, ValueError):
            raise CatalogueUnavailable("bandit listed its test ids in an unknown form") from None
        return CodeCatalogue(codes, aliases)

    return CodeSource(
        tool="bandit",
        label=f"bandit {version}",
        noun="test id",
        fingerprint=_fingerprint("bandit", version, plugins),
        fetch=fetch,
    )


# --- mypy -------------------------------------------------------------------------------------


def mypy_codes(root: Path) -> CodeSource:
    """Mypy's error codes, those of the project's plugins included (see the module)."""
    version = _tools.tool_version("mypy")
    settings: dict[str, str] = {}
    for path in [root / name for name in _MYPY_CONFIG] + [
        Path(name).expanduser() for name in _MYPY_USER_CONFIG
    ]:
        try:
            settings[str(path)] = path.read_text("utf-8", errors="replace")
        except OSError:
            continue

    def fetch() -> CodeCatalogue:
        codes = _json(_ask("mypy", _MYPY_LIST, root), "mypy")
        if not isinstance(codes, list) or not codes:
            raise CatalogueUnavailable("mypy listed no error codes")
        return CodeCatalogue(frozenset(map(str, codes)))

    return CodeSource(
        tool="mypy",
        label=f"mypy {version}",
        noun="error code",
        fingerprint=_fingerprint("mypy", version, _python(), settings),
        fetch=fetch,
    )
