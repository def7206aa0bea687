"""What the global options hand to every command."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from plimsoll.core import log
from plimsoll.core.config import LoadedConfig, load
from plimsoll.core.errors import UsageError


@dataclass
class State:
    """Global options, and the configuration loaded once on first use."""

    config_path: Path | None = None
    debug: bool = False
    log_format: str | None = None
    _loaded: LoadedConfig | None = None

    def config(self, start: Path | None = None) -> LoadedConfig:
        """The configuration (from ``--config`` or found from ``start``/the current folder).

        ``start`` (``--path``/``-C``) must be an existing folder: a mistyped one would
        otherwise run with no configuration, or have a state store made in a new folder.
        """
        if start is not None and not start.is_dir():
            what = "is not a folder" if start.exists() else "no such folder"
            raise UsageError(f"--path {start}: {what}")
        if self._loaded is None:
            self._loaded = load(self.config_path, start=start)
            # The configuration's log settings apply once it is read; --debug and
            # --log-format given on the command line win over them.
            settings = self._loaded.config.log
            log.configure(
                "debug" if self.debug else settings.level, self.log_format or settings.format
            )
        return self._loaded


def state(ctx: typer.Context) -> State:
    """The State of the running command."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, State) else State()
