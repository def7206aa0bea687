"""The options many commands share, declared once so that they read the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from plimsoll.cli import output
from plimsoll.cli.output import Format


def remember_format(value: Any) -> Any:
    """Note the ``--format`` asked for, so that an error can be reported in it too.

    A command that fails before it prints its result (a configuration error, a database that
    cannot be reached) then still gives a program reading its JSON something to read.
    """
    output.requested_format = str(getattr(value, "value", value))
    return value


FormatOpt = Annotated[
    Format, typer.Option("--format", "-f", help="Output format.", callback=remember_format)
]
"""``--format/-f``: text or json."""

PathOpt = Annotated[
    Path | None,
    typer.Option("--path", "-C", help="Run in this folder instead of the current one."),
]
"""``--path/-C``: the folder whose configuration (and project) the command uses."""

EnvOpt = Annotated[
    str | None, typer.Option("--env", "-e", help="Environment (default: db.default_environment).")
]
"""``--env/-e``: one of the ``db.environments``."""
