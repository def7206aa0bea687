"""Loading one section of the runtime configuration: from the main config, or from its own file.

The alerting (``runtime.alerts``) and SLO (``runtime.slo``) settings can each come from the main
configuration or from a YAML/TOML file holding the section's keys at its top level. This module
is what both share: reading such a file, validating raw data against the section's model, and
the errors, which name the file (or the configuration) and the key path as the main
configuration's do.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from plimsoll.core.config import LoadedConfig, interpolate
from plimsoll.core.errors import ConfigError

__all__ = [
    "config_key",
    "config_source",
    "located",
    "parse_settings",
    "read_text",
    "validate_section",
]

M = TypeVar("M", bound=BaseModel)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate_section(model: type[M], data: Any, where: str, prefix: str = "") -> M:
    """A ``model`` from raw ``data`` (``${VAR}`` interpolated); a ConfigError naming ``where``
    and the key path (under ``prefix``, e.g. ``runtime.slo``) of the first error."""
    try:
        return model.model_validate(interpolate(data, os.environ, where))
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _loc(tuple(p for p in first["loc"] if not str(p).startswith("function-")))
        key = f"{prefix}.{path}" if prefix and path else (prefix or path or "<root>")
        message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
        if first.get("type") == "extra_forbidden":
            message = "unknown key"
        raise ConfigError(f"{where}: {key}: {message}") from None


def read_text(path: Path) -> str:
    """The text of a settings file; a ConfigError when it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def parse_settings(path: Path, text: str) -> dict[str, Any]:
    """The table of settings in ``text``, TOML when ``path`` ends in ``.toml``, else YAML."""
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
    return data


def config_source(loaded: LoadedConfig) -> str:
    """What errors in a section of the main configuration name: its file, else "configuration"."""
    return str(loaded.source) if loaded.source is not None else "configuration"


def config_key(where: str, key: str) -> str:
    """``key`` under the section ``where`` (``runtime.alerts``; empty for a section's own file)."""
    return f"{where}.{key}" if where else key


def located(source: str | None, message: str) -> str:
    """``message`` prefixed with the file it is about (when known), as configuration errors are."""
    return f"{source}: {message}" if source else message
