"""``plimsoll check``: every configured gate at once, the command a CI job calls.

The gates: the code metrics against their thresholds (always), then ``db lint`` when the
project has a schema or migrations folder (or ``db.lint.paths``). Each gate prints its own
report; the exit code is the worst of them. With ``--format json`` the reports are gathered
into one document: ``{"gates": {"code": ..., "db_lint": ...}, "exit_code": N}``.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from plimsoll.cli import code as code_cli
from plimsoll.cli import db_lint as db_lint_cli
from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state


def _exit_code(gate: Callable[[], None]) -> int:
    """Run one gate; its exit code (0 when it returned normally)."""
    try:
        gate()
    except typer.Exit as done:
        return int(done.exit_code or 0)
    return 0


def _captured(gate: Callable[[], None]) -> tuple[int, Any]:
    """Run one gate with its JSON report captured instead of printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        code = _exit_code(gate)
    text = buffer.getvalue().strip()
    return code, json.loads(text) if text else None


def _has_db(ctx: typer.Context, path: Path | None) -> bool:
    loaded = state(ctx).config(start=(path or Path.cwd()).resolve())
    db = loaded.config.db
    if db.lint.paths:
        return True
    return any((loaded.root / folder).is_dir() for folder in (db.schema_dir, db.migrations_dir))


def check(
    ctx: typer.Context,
    no_store: Annotated[
        bool, typer.Option("--no-store", help="Do not write the code record to the history branch.")
    ] = False,
    push: Annotated[
        bool, typer.Option("--push", help="Push the history branch afterwards.")
    ] = False,
    fmt: FormatOpt = Format.TEXT,
    path: Annotated[Path | None, typer.Option("--path", "-C", help="Run in this folder.")] = None,
) -> None:
    """Run every configured gate (code thresholds; db lint when there is a db folder); exit 1 on a failure.

    A `fail` delta rule with no baseline record (a shallow clone, a history branch not
    fetched) is skipped with a warning saying why, unless code.require_baseline = true,
    which fails the gate (see `plimsoll code validate --help`).
    """
    gates: list[tuple[str, Callable[[], None]]] = [
        (
            "code",
            lambda: code_cli.collect(
                ctx,
                validate=True,
                rev=None,
                collectors=None,
                push=push,
                no_store=no_store,
                no_cache=False,
                fmt=fmt,
                path=path,
            ),
        )
    ]
    if _has_db(ctx, path):
        gates.append(
            (
                "db_lint",
                lambda: db_lint_cli.lint(ctx, fmt=db_lint_cli.LintFormat(fmt.value)),
            )
        )
    worst = 0
    if fmt is Format.JSON:
        reports: dict[str, Any] = {}
        for name, gate in gates:
            code, reports[name] = _captured(gate)
            worst = max(worst, code)
        print_json({"gates": reports, "exit_code": worst})
    else:
        for index, (name, gate) in enumerate(gates):
            if index:
                output.console().print(f"\n== {name.replace('_', ' ')} ==", markup=False)
            worst = max(worst, _exit_code(gate))
    if worst:
        raise typer.Exit(worst)
