"""What the ``plimsoll runtime`` command modules share: their common options and the loading of
the configuration, the store and a database URL they all start from."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from plimsoll.cli import output
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from plimsoll.core.store import Store

__all__ = [
    "fits",
    "OutputOpt",
    "config_where",
    "database_url",
    "load_config",
    "open_store",
]

OutputOpt = Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")]


def load_config(ctx: typer.Context, path: Path | None) -> LoadedConfig:
    """The configuration found from ``path`` (the current folder when None)."""
    return state(ctx).config(start=(path or Path.cwd()).resolve())


def open_store(loaded: LoadedConfig) -> Store:
    """The project's store, as configured."""
    from plimsoll.core.store import open_configured

    return open_configured(loaded.config.store, loaded.root)


def config_where(loaded: LoadedConfig) -> str:
    """What messages name as the configuration's origin: its file, or ``<defaults>``."""
    if loaded.source is None:
        return "<defaults>"
    source = loaded.source
    return f"{source} [tool.plimsoll]" if source.name == "pyproject.toml" else str(source)


def database_url(loaded: LoadedConfig, environment: str | None) -> str:
    """The URL of the db ``environment`` (the default one when None), for a health check."""
    # The db part resolves environments (embedded server included); it is not started here:
    # a health check reports the server as it is.
    from plimsoll.db.connection import resolve

    return resolve(loaded, environment).url.get_secret_value()


def fits(console: Console, table: Table) -> bool:
    """Whether ``table`` shows every cell whole on ``console``, without folding a value.

    Off a terminal the layout assumes 80 columns (:func:`plimsoll.cli.output.layout_width`);
    commands print a wider table one block per row instead.
    """
    natural = console.measure(table, options=console.options.update(width=1_000_000))
    return natural.maximum <= output.layout_width(console)
