"""Reading the alerting configuration: ``runtime.alerts`` of the main config, or a rules file.

A rules file (``--rules alerts.yaml`` or ``.toml``) holds the same keys as ``runtime.alerts`` at
its top level. Errors name the file and the key path, as the main configuration's do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.config import LoadedConfig
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.config_loader import (
    config_source,
    parse_settings,
    read_text,
    validate_section,
)


def validate(data: Any, where: str, prefix: str = "") -> AlertsConfig:
    """An AlertsConfig from raw data; a ConfigError naming ``where`` and the key path."""
    return validate_section(AlertsConfig, data, where, prefix)


def read_rules_file(path: Path) -> AlertsConfig:
    """The alerting configuration in a YAML or TOML file."""
    return validate(parse_settings(path, read_text(path)), str(path))


def alerts_config(loaded: LoadedConfig, rules: Path | None) -> AlertsConfig:
    """The rules file when given, else ``runtime.alerts`` of the configuration (empty if none)."""
    if rules is not None:
        return read_rules_file(rules)
    found = getattr(loaded.config.runtime, "alerts", None)
    if isinstance(found, AlertsConfig):
        return found
    if isinstance(found, dict) and found:
        # Kept raw in the core model tree (the core knows no part): validated here, same errors.
        return validate(found, config_source(loaded), "runtime.alerts")
    return AlertsConfig()
