"""Reading the SLO configuration: ``runtime.slo`` of the main config, or a file.

A file given with ``--file`` is either an OpenSLO v1 YAML file (its first document has
``apiVersion: openslo/v1``) or a YAML/TOML file holding the keys of ``runtime.slo`` at its top
level. OpenSLO files listed under ``openslo`` are read relative to the project root and their
objectives added. Errors name the file and the key path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ConfigError
from plimsoll.runtime.config_loader import (
    config_source,
    parse_settings,
    read_text,
    validate_section,
)
from plimsoll.runtime.slo import openslo
from plimsoll.runtime.slo.model import SloConfig

__all__ = ["read_file", "slo_config", "validate", "with_openslo"]


def validate(data: Any, where: str, prefix: str = "") -> SloConfig:
    """An SloConfig from raw data; a ConfigError naming ``where`` and the key path."""
    return validate_section(SloConfig, data, where, prefix)


def with_openslo(config: SloConfig, root: Path, where: str) -> SloConfig:
    """``config`` with the objectives of its OpenSLO files added (names must stay unique)."""
    if not config.openslo:
        return config
    objectives = list(config.objectives)
    names = {o.name: where for o in objectives}
    for entry in config.openslo:
        path = Path(entry)
        path = path if path.is_absolute() else root / path
        for objective in openslo.load(path):
            if objective.name in names:
                raise ConfigError(
                    f"{path}: metadata.name: objective {objective.name!r} is already defined"
                    f" in {names[objective.name]}"
                )
            names[objective.name] = str(path)
            objectives.append(objective)
    return config.model_copy(update={"objectives": objectives})


def read_file(path: Path) -> SloConfig:
    """The SLO configuration in an OpenSLO, YAML or TOML file."""
    text = read_text(path)
    if path.suffix != ".toml" and (
        f"apiVersion: {openslo.API_VERSION}" in text or "apiVersion: openslo/" in text
    ):
        return SloConfig(objectives=openslo.parse(text, str(path)))
    data = parse_settings(path, text)
    return with_openslo(validate(data, str(path)), path.parent, str(path))


def slo_config(loaded: LoadedConfig, file: Path | None = None) -> SloConfig:
    """The file when given, else ``runtime.slo`` of the configuration (empty if none)."""
    if file is not None:
        return read_file(file)
    found = getattr(loaded.config.runtime, "slo", None)
    where = config_source(loaded)
    if isinstance(found, SloConfig):
        return with_openslo(found, loaded.root, where)
    if isinstance(found, dict) and found:
        # Kept raw in the core model tree (the core knows no part): validated here.
        return with_openslo(validate(found, where, "runtime.slo"), loaded.root, where)
    return SloConfig()
