"""``plimsoll db diff``: what differs between two schemas, and the migration between them.

Each side is an environment name, a ``postgresql://`` URL, or ``built``: the schema folder
built into a scratch database on the default environment's server (dropped afterwards).
Exit 0 when the schemas are the same, 1 when they differ; ``--generate NAME`` also writes the
migration pair that turns ``--from`` into ``--to`` and back. A change whose migration may lose
data or fail on existing rows is marked destructive, with the reason (text and JSON), and
counted in a last line.

A side that cannot be read is not a difference: an unreachable database, or a schema folder
whose statement fails on the server (``type "integr" does not exist``, named by file and
line), exits 3 (could not run), so a CI drift check tells drift (1) from a broken side; a
schema file that does not parse is bad input (2).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli import output
from plimsoll.cli.options import FormatOpt, PathOpt
from plimsoll.cli.output import Format, print_json
from plimsoll.cli.state import state
from plimsoll.core.config import LoadedConfig
from plimsoll.core.errors import CannotRunError, ExitCode

if TYPE_CHECKING:
    from plimsoll.db.catalog import Catalog
    from plimsoll.db.diff import Change

BUILT = "built"
_URL_SCHEMES = ("postgresql://", "postgres://")


class BuildFailedError(CannotRunError):
    """The built side could not be built: a statement of the schema folder failed on the
    server. Nothing was compared, so this is not a difference (exit 3, not 1)."""

    slug = "build-failed"


@contextmanager
def _side(loaded: LoadedConfig, spec: str) -> Iterator[tuple[str, Catalog]]:
    """The catalog of one side, and how to show that side (never with a password)."""
    # The db engine is imported by the commands that use it (start-up of every other command).
    from plimsoll.db.connection import redact_url, resolve_url
    from plimsoll.db.introspect import introspect

    excluded = (loaded.config.db.tracking_table.split(".")[-1],)
    if spec == BUILT:
        with _built(loaded) as conninfo:
            yield BUILT, introspect(conninfo, exclude_tables=excluded)
        return
    if spec.startswith(_URL_SCHEMES):
        yield redact_url(spec), introspect(spec, exclude_tables=excluded)
        return
    target = resolve_url(loaded, spec)
    yield (
        f"{spec} ({target.display_url})",
        introspect(target.url.get_secret_value(), exclude_tables=excluded),
    )


@contextmanager
def _built(loaded: LoadedConfig) -> Iterator[str]:
    """A scratch database holding the built schema folder, dropped on the way out."""
    schema_dir = loaded.config.db.schema_dir
    import psycopg
    from psycopg import sql as pgsql

    from plimsoll.db.builder import ApplyError, apply_schema, build_schema, create_database
    from plimsoll.db.connection import resolve_url

    # A file that does not parse raises InputError here (exit 2): bad input.
    built = build_schema(loaded.root / schema_dir, schema_dir)
    server = resolve_url(loaded, None).url.get_secret_value()
    created = create_database(server, f"plimsoll_diff_{uuid.uuid4().hex[:12]}")
    interrupted: KeyboardInterrupt | None = None
    try:
        try:
            apply_schema(created.conninfo, built)
        except ApplyError as failed:
            # Its message names the file, line and column: kept as it is.
            raise BuildFailedError(str(failed)) from None
        yield created.conninfo
    except KeyboardInterrupt as exc:
        interrupted = exc
        raise
    finally:
        # The scratch database is ours alone; a failure to drop it must not hide the result.
        dropped = False
        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(server, autocommit=True, connect_timeout=5) as admin,
        ):
            admin.execute(
                pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    pgsql.Identifier(created.name)
                )
            )
            dropped = True
        if interrupted is not None:  # said on the "plimsoll: interrupted" line
            done = "dropped" if dropped else "could not drop"
            interrupted.add_note(f"{done} the scratch database {created.name}")


def _render(changes: list[Change], source: str, target: str) -> None:
    # Names, details and URLs are the user's: printed as Text, never read as markup or emoji
    # codes; the URLs never wrapped (a copied URL must work).
    out = output.console()
    if not changes:
        out.print(
            Text(f"no differences: {source} and {target} have the same schema"), soft_wrap=True
        )
        return
    out.print(Text(f"{source} -> {target}"), soft_wrap=True)
    table = Table()
    for column in ("change", "object", "name", "detail"):
        table.add_column(column, overflow="fold")
    colours = {"added": "green", "removed": "red", "changed": "yellow"}
    for change in changes:
        table.add_row(
            Text(change.kind.value, style=colours[change.kind.value]),
            Text(change.object_type),
            Text(change.name),
            _detail(change),
        )
    out.print(table)
    out.print(Text(f"{len(changes)} differences"))
    destructive = sum(1 for change in changes if change.destructive)
    if destructive:
        plural = "change" if destructive == 1 else "changes"
        out.print(Text(f"{destructive} destructive {plural}", style="bold red"))


def _detail(change: Change) -> Text:
    """A change's first line of detail, whether its DDL is elsewhere or missing, and why it
    is destructive (one line per reason)."""
    text = Text(change.detail.splitlines()[0] if change.detail else "")
    note = ""
    if change.covered_by and not change.steps:
        note = f"(done by {change.covered_by}'s DDL)"
    elif not change.steps:
        note = "(no DDL: write it by hand)"
    if note:
        text.append(f" {note}" if text else note, style="dim")
    for reason in change.risks:
        if text:
            text.append("\n")
        text.append("destructive: ", style="bold red")
        text.append(reason, style="red")
    return text


def diff(
    ctx: typer.Context,
    from_: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="SIDE",
            help="Environment name, postgresql:// URL, or 'built' (the schema folder).",
        ),
    ],
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="SIDE",
            help="Environment name, postgresql:// URL, or 'built' (the schema folder).",
        ),
    ],
    generate: Annotated[
        str | None,
        typer.Option(
            "--generate", metavar="NAME", help="Write the migration from --from to --to as NAME."
        ),
    ] = None,
    fmt: FormatOpt = Format.TEXT,
    path: PathOpt = None,
) -> None:
    """Compare two schemas; --generate writes the migration from --from to --to.

    Exit codes:
    - 0: the schemas are the same.
    - 1: they differ (each difference is listed).
    - 2: bad input: a flag, the configuration, a schema file that does not parse.
    - 3: could not run: a database cannot be reached, or the built side cannot be built (a
      statement of the schema folder fails on the server; its file and line are named).
    """
    loaded = state(ctx).config(start=(path or Path.cwd()).resolve())
    with _side(loaded, from_) as (source, a), _side(loaded, to) as (target, b):
        from plimsoll.db.diff import diff as diff_catalogs
        from plimsoll.db.diff import generate as generate_migration

        changes = diff_catalogs(a, b)
    written: tuple[Path, Path] | None = None
    if generate is not None and changes:
        folder = loaded.root / loaded.config.db.migrations_dir
        written = generate_migration(changes, generate, folder)
    if fmt is Format.JSON:
        print_json(
            {
                "from": source,
                "to": target,
                "changes": [change.to_dict() for change in changes],
                "generated": None
                if written is None
                else {"up": str(written[0]), "down": str(written[1])},
            }
        )
    else:
        _render(changes, source, target)
        if written is not None:
            output.console().print(
                Text(f"created {written[0]}\ncreated {written[1]}"), soft_wrap=True
            )
        elif generate is not None:
            output.console().print("nothing to generate: the schemas are the same")
    if changes:
        raise typer.Exit(int(ExitCode.FINDINGS))
