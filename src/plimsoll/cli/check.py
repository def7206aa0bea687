"""``plimsoll check``: every configured gate at once, the command a CI job calls."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plimsoll.cli import code as code_cli
from plimsoll.cli.output import Format


def check(
    ctx: typer.Context,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write the code record to the history branch.")
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Push the history branch afterwards.")
    ] = False,
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.TEXT,
    path: Annotated[Path | None, typer.Option("--path", "-C", help="Run in this folder.")] = None,
) -> None:
    """Run every configured gate (today: code metrics against their thresholds); exit 1 on a failure."""
    code_cli.collect(
        ctx,
        validate=True,
        rev=None,
        collectors=None,
        push=push,
        no_store=no_store,
        no_cache=False,
        fmt=fmt,
        path=path,
    )
