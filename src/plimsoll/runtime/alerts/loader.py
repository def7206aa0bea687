"""Reading the alerting configuration: ``runtime.alerts`` of the main config, or a rules file.

A rules file (``--rules alerts.yaml`` or ``.toml``) holds the same keys as ``runtime.alerts`` at
its top level. Errors name the file and the key path, as the main configuration's do.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plimsoll.core.config import LoadedConfig, interpolate
from plimsoll.core.errors import ConfigError
from plimsoll.runtime.alerts.config import AlertsConfig


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data: Any, where: str, prefix: str = "") -> AlertsConfig:
    """An AlertsConfig from raw data; a ConfigError naming ``where`` and the key path."""
    import os

    try:
        return AlertsConfig.model_validate(interpolate(data, os.environ, where))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _loc(tuple(p for p in first["loc"] if not str(p).startswith("function-")))
        key = f"{prefix}.{path}" if prefix and path else (prefix or path or "<root>")
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"{where}: {key}: {message}") from None


def read_rules_file(path: Path) -> AlertsConfig:
    """The alerting configuration in a YAML or TOML file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    if path.suffix == ".toml":
        try:
            data: Any = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" line {mark.line + 1}:" if mark is not None else ""
            raise ConfigError(
                f"{path}:{line} invalid YAML: {getattr(exc, 'problem', exc)}"
            ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    return validate(data, str(path))


def alerts_config(loaded: LoadedConfig, rules: Path | None) -> AlertsConfig:
    """The rules file when given, else ``runtime.alerts`` of the configuration (empty if none)."""
    if rules is not None:
        return read_rules_file(rules)
    found = getattr(loaded.config.runtime, "alerts", None)
    if isinstance(found, AlertsConfig):
        return found
    where = str(loaded.source) if loaded.source is not None else "configuration"
    if isinstance(found, dict) and found:
        # Kept raw in the core model tree (the core knows no part): validated here, same errors.
        return validate(found, where, "runtime.alerts")
    return AlertsConfig()
