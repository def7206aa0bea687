"""``plimsoll db build``: one SQL script from the schema folder, and optionally a fresh database.

Without ``--output`` or ``--apply`` the script goes to stdout. ``--apply`` creates
``<dbname>_build`` (or ``--database``) on the environment's server, marked by its comment as a
build's, and runs the script there in one transaction, then the seeds with ``--seeds``. An
existing database of that name is dropped first when an earlier build made it (it has the
mark, or it is the default ``<dbname>_build`` with no comment at all, as versions before the
mark left it); any other is refused (exit 2) unless ``--force``. Builds into the same database
take turns (when they connect through the same database: the lock is an advisory lock there);
one that waits longer than ``db.migrator_lock_timeout_seconds`` gives up (exit 3). Exit 1 when a statement
fails (named by its source file and line, or a COPY row by its line), 2 for bad input (a
syntax error, an unsupported psql meta-command, a missing folder, a database the build did
not make), 3 when the server cannot be reached.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from plimsoll.db.builder import ApplyReport, BuiltSchema, CreatedDatabase

EnvOpt = Annotated[
    str | None,
    typer.Option("--env", "-e", help="Environment for --apply (default: db.default_environment)."),
]
OutputOpt = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Write the script to this file instead of stdout."),
]
ApplyOpt = Annotated[
    bool,
    typer.Option(
        "--apply", help="Create a fresh database on the environment's server and run the script."
    ),
]
SeedsOpt = Annotated[
    bool, typer.Option("--seeds", help="With --apply: then run the seeds folder's files.")
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", help="With --apply: the database to (re)create (default: <dbname>_build)."
    ),
]
ForceOpt = Annotated[
    bool,
    typer.Option(
        "--force",
        help="With --apply: drop the database even if plimsoll db build did not create it "
        "(its data is lost).",
    ),
]


def _loaded(ctx: typer.Context, path: Path | None) -> LoadedConfig:
    return state(ctx).config(start=(path or Path.cwd()).resolve())


def _write(path: Path, text: str) -> None:
    from plimsoll.core.files import write_whole

    try:
        # Whole or not at all: a full disk leaves the previous script as it was.
        write_whole(path, text)
    except UsageError as exc:
        raise UsageError(f"--output {exc}") from None


def _seeds(loaded: LoadedConfig) -> BuiltSchema:
    from plimsoll.db.builder import build_schema

    seeds_dir = loaded.config.db.seeds_dir
    return build_schema(loaded.root / seeds_dir, seeds_dir)


def _apply(
    loaded: LoadedConfig,
    env: str | None,
    database: str | None,
    built: BuiltSchema,
    seeds: BuiltSchema | None,
    force: bool,
) -> tuple[CreatedDatabase, ApplyReport]:
    # The db engine is imported by the commands that use it (start-up of every other command).
    from plimsoll.db.build_lock import build_lock
    from plimsoll.db.builder import apply_schema, create_database
    from plimsoll.db.connection import resolve_url

    target = resolve_url(loaded, env)
    server = target.url.get_secret_value()

    def waiting() -> None:
        into = f" into {database}" if database is not None else ""
        output.err_console().print(
            f"waiting for another plimsoll db build{into} to finish", soft_wrap=True, markup=False
        )

    # Builds into the same database take turns; the wait is bounded like the migrator's.
    lock_wait = loaded.config.db.migrator_lock_timeout_seconds
    with build_lock(server, database, waiting, timeout_seconds=lock_wait):
        created = create_database(server, database, force=force)
        if created.dropped:
            # Said before running, so it shows even when the build then fails.
            how = " (--force: a build had not created it)" if created.forced else ""
            output.err_console().print(
                f"[yellow]dropped the existing database {created.name}{how}[/yellow]",
                soft_wrap=True,
            )
        return created, apply_schema(created.conninfo, built, seeds)


def _text_summary(built: BuiltSchema, written: Path | None, to_stderr: bool) -> None:
    # When stdout carries the script itself, the summary must not end up in it.
    out = output.err_console() if to_stderr else output.console()
    where = f" -> {written}" if written is not None else ""
    out.print(
        f"built {len(built.sources)} file{'' if len(built.sources) == 1 else 's'},"
        f" {len(built.statements)} statement{'' if len(built.statements) == 1 else 's'} from "
        f"{built.label}, sha256 {built.sha256}{where}",
        soft_wrap=True,
        markup=False,
    )
    if built.skipped:
        commands = sorted({command.command for _, command in built.skipped})
        # Skipped when applied, kept in the script: psql still runs them from it.
        out.print(
            f"skipped {len(built.skipped)} psql meta-commands when applying "
            f"({', '.join(commands)}; kept in the script for psql)",
            soft_wrap=True,
            markup=False,
        )


def build(
    ctx: typer.Context,
    env: EnvOpt = None,
    output_file: OutputOpt = None,
    apply: ApplyOpt = False,
    seeds: SeedsOpt = False,
    database: DatabaseOpt = None,
    force: ForceOpt = False,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Concatenate db/schema's .sql files in order into one script; --apply runs it on a fresh database."""
    if seeds and not apply:
        raise UsageError("--seeds needs --apply")
    if database is not None and not apply:
        raise UsageError("--database needs --apply")
    if force and not apply:
        raise UsageError("--force needs --apply")
    loaded = _loaded(ctx, path)
    schema_dir = loaded.config.db.schema_dir
    from plimsoll.db.builder import ApplyError, build_schema

    built = build_schema(loaded.root / schema_dir, schema_dir)
    seed_script = _seeds(loaded) if seeds else None
    if output_file is not None:
        _write(output_file, built.sql)
    result: dict[str, Any] = {
        **built.summary(),
        "output": str(output_file) if output_file else None,
    }
    if fmt is Format.TEXT:
        script_on_stdout = output_file is None and not apply
        if script_on_stdout:
            # Plain write: the script is meant for a pipe or a redirect, unwrapped and uncoloured.
            sys.stdout.write(built.sql)
            sys.stdout.flush()
        _text_summary(built, output_file, script_on_stdout)
    elif output_file is None and not apply:
        result["sql"] = built.sql
    if not apply:
        if fmt is Format.JSON:
            print_json(result)
        return
    try:
        created, report = _apply(loaded, env, database, built, seed_script, force)
    except ApplyError as failed:
        if fmt is Format.JSON:
            print_json({**result, "applied": False, "error": failed.to_dict()})
        else:
            output.err_console().print(str(failed), style="red", soft_wrap=True, markup=False)
        raise typer.Exit(int(ExitCode.FINDINGS)) from None
    if fmt is Format.JSON:
        print_json(
            {
                **result,
                "applied": True,
                "database": created.name,
                "url": created.display_url,
                "dropped_existing": created.dropped,
                "forced": created.forced,
                **report.to_dict(),
            }
        )
        return
    seeded = f", then {report.seed_statements} seed statements" if seed_script else ""
    output.console().print(
        f"applied {report.statements} statements{seeded} to a fresh database {created.name} "
        f"({created.display_url}) in {report.schema_ms + report.seeds_ms} ms",
        soft_wrap=True,
    )
