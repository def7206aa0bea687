"""MigrationPreview: what applying one migration will do, shown before it is applied.

A preview puts together, for one pending migration:

* its source (SQL, or the Python module), highlighted, with the risky statements marked;
* each statement's lock level, what it blocks, whether it rewrites or scans, and its risk
  (from :func:`plimsoll.db.risk.assess`);
* the estimated time: how long the application is blocked and how long the migration runs,
  with bounds;
* the hooks that will run around it, phase by phase (from the hook registry the migrator uses);
* the down migration, or "irreversible" when there is none;
* the recommendations ("create the index CONCURRENTLY", "add the constraint NOT VALID, then
  VALIDATE it").

:func:`build_preview` gathers the data (no database access: the risk is assessed beforehand);
:func:`render_preview` turns it into a rich renderable. The interactive wizard
(:mod:`plimsoll.db.wizard`) shows one before asking what to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.db.hooks import DbPhase
from plimsoll.db.migrations import Kind, Migration, read_sql_text

if TYPE_CHECKING:
    from rich.console import RenderableType

    from plimsoll.core.hooks import HookRegistry
    from plimsoll.db.lint.findings import Finding
    from plimsoll.db.risk import MigrationRisk, StatementRisk

#: The ``source`` of hooks plimsoll registers for itself (progress display): never previewed.
INTERNAL_HOOK_SOURCE = "plimsoll internal"

# When each phase's hooks run, relative to one migration applied in a run of its own.
_WHEN = {
    DbPhase.BEFORE_VALIDATION: "before the run",
    DbPhase.AFTER_VALIDATION: "before the run, after validation",
    DbPhase.BEFORE_MIGRATION: "before the migration",
    DbPhase.BEFORE_STATEMENT: "before each statement",
    DbPhase.AFTER_STATEMENT: "after each statement",
    DbPhase.AFTER_MIGRATION: "after the migration",
    DbPhase.ON_ERROR: "if it fails",
    DbPhase.CLEANUP: "at the end of the run",
}
_STATEMENT_PHASES = (DbPhase.BEFORE_STATEMENT, DbPhase.AFTER_STATEMENT)
_COLOURS = {"LOW": "green", "MEDIUM": "yellow", "HIGH": "red", "CRITICAL": "bold red"}


@dataclass(frozen=True)
class PlannedHook:
    """A hook that will run for the migration: its phase, when that is, and how often."""

    phase: str
    name: str
    source: str
    error_strategy: str
    when: str
    times: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "phase": self.phase,
            "name": self.name,
            "source": self.source,
            "error_strategy": self.error_strategy,
            "when": self.when,
            "times": self.times,
        }


@dataclass(frozen=True)
class DownMigration:
    """How the migration is reverted: a ``.down.sql`` file, a Python ``down()``, or not at all."""

    path: Path | None
    text: str | None
    language: str | None

    @property
    def reversible(self) -> bool:
        """Whether ``plimsoll db migrate down`` can revert it."""
        return self.path is not None

    def as_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "reversible": self.reversible,
            "path": str(self.path) if self.path else None,
            "text": self.text,
        }


@dataclass(frozen=True)
class MigrationPreview:
    """Everything shown about one pending migration before it is applied."""

    migration: Migration
    source: str
    language: str
    risk: MigrationRisk | None
    hooks: tuple[PlannedHook, ...]
    down: DownMigration
    recommendations: tuple[str, ...]

    @property
    def label(self) -> str:
        """``<version>_<name>``."""
        return self.migration.label

    @property
    def level(self) -> str | None:
        """The migration's risk level (``LOW`` ... ``CRITICAL``), None when not assessed."""
        return self.risk.level.value if self.risk is not None else None

    @property
    def confirm_name(self) -> str:
        """What a user types to confirm a risky migration: the first table it locks.

        A migration that locks no table others use (a Python migration, whose statements are
        not known ahead) is confirmed by typing its label instead.
        """
        if self.risk is not None:
            for name in self.risk.tables:
                return name
            for statement in self.risk.statements:
                for table in statement.tables:
                    if table.exists and not table.new:
                        return table.name
        return self.label

    def as_dict(self) -> dict[str, Any]:
        """Plain data (``--format json``)."""
        return {
            "label": self.label,
            "version": self.migration.version,
            "name": self.migration.name,
            "file": str(self.migration.up),
            "language": self.language,
            "level": self.level,
            "risk": self.risk.as_dict() if self.risk is not None else None,
            "hooks": [h.as_dict() for h in self.hooks],
            "down": self.down.as_dict(),
            "recommendations": list(self.recommendations),
        }


def _read(path: Path) -> str:
    # As the migrator reads it: UTF-8, a leading byte-order mark dropped.
    return read_sql_text(path)


def down_of(migration: Migration) -> DownMigration:
    """The way down of ``migration`` (its ``.down.sql``, its Python ``down()``, or none)."""
    if migration.kind is Kind.PYTHON:
        if migration.has_down:
            return DownMigration(migration.up, "down(conn) in the same module", "python")
        return DownMigration(None, None, None)
    if migration.down is None:
        return DownMigration(None, None, None)
    return DownMigration(migration.down, _read(migration.down), "sql")


def planned_hooks(
    registry: HookRegistry | None, *, statements: int, per_statement: bool = True
) -> tuple[PlannedHook, ...]:
    """The hooks a run applying one migration calls, in phase order.

    ``statements``: how many statements the migration has; ``per_statement``: whether the
    statement phases run for it at all (not for a Python migration, whose statements the
    migrator does not see). Hooks plimsoll registers for itself are left out.
    """
    if registry is None:
        return ()
    out: list[PlannedHook] = []
    for phase in DbPhase:
        statement_phase = phase in _STATEMENT_PHASES
        if statement_phase and not per_statement:
            continue
        times = statements if statement_phase else 1
        for hook in registry.for_phase(phase):
            if hook.source == INTERNAL_HOOK_SOURCE:
                continue
            out.append(
                PlannedHook(
                    phase=phase.value,
                    name=hook.name,
                    source=hook.source,
                    error_strategy=hook.error_strategy.value,
                    when=_WHEN[phase],
                    times=times,
                )
            )
    return tuple(out)


def _statement_count(migration: Migration, risk: MigrationRisk | None, text: str) -> int:
    if risk is not None:
        return len(risk.statements)
    if migration.kind is Kind.PYTHON:
        return 1
    from plimsoll.db.sql import parse_sql

    return len(parse_sql(text, str(migration.up)).statements)


def build_preview(
    migration: Migration,
    risk: MigrationRisk | None,
    registry: HookRegistry | None = None,
) -> MigrationPreview:
    """Gather the preview of ``migration`` from its files, its assessed risk and the hooks.

    Raises InputError (exit 2) when a file of the migration cannot be read.
    """
    text = _read(migration.up)
    language = "python" if migration.kind is Kind.PYTHON else "sql"
    hooks = planned_hooks(
        registry,
        statements=_statement_count(migration, risk, text),
        per_statement=migration.kind is Kind.SQL,
    )
    advice: list[str] = list(risk.recommendations) if risk is not None else []
    if risk is not None and not risk.transactional:
        advice.append(
            "it runs outside a transaction: keep such a statement in a migration of its own, "
            "since statements before a failing one stay applied"
        )
    return MigrationPreview(
        migration=migration,
        source=text,
        language=language,
        risk=risk,
        hooks=hooks,
        down=down_of(migration),
        recommendations=tuple(dict.fromkeys(advice)),
    )


# --- rendering -------------------------------------------------------------------------------


def level_markup(level: str | None, score: float | None = None) -> str:
    """A level as rich markup in its colour (``[red]HIGH 0.66[/red]``)."""
    if level is None:
        return "[dim]not assessed[/dim]"
    colour = _COLOURS.get(level, "white")
    shown = level if score is None else f"{level} {score:.2f}"
    return f"[{colour}]{shown}[/{colour}]"


def blocks_text(statement: StatementRisk) -> str:
    """What a statement makes the application wait for: reads+writes, writes, or nothing."""
    if statement.blocks_reads:
        return "reads+writes"
    if statement.blocks_writes:
        return "writes"
    if statement.row_locks:
        return "its rows' writes"
    return "-"


def work_text(statement: StatementRisk) -> str:
    """What a statement does to the table's data: rewrite, scan, or a catalog change."""
    parts = []
    if statement.rewrites:
        parts.append("rewrite")
    elif statement.scans:
        parts.append("scan")
    if statement.concurrently:
        parts.append("concurrently")
    if not statement.known:
        parts.append("unknown: worst case")
    return ", ".join(parts) or "catalog only"


def _short(text: str, width: int = 56) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def _shown_path(path: Path, root: Path | None) -> str:
    if root is None:
        return str(path)
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except (ValueError, OSError):
        return str(path)


def _where(finding: Finding, root: Path | None) -> str:
    if finding.file is None:
        return finding.where
    return f"{_shown_path(Path(finding.file), root)}:{finding.line}:{finding.column}"


def _risky_lines(risk: MigrationRisk | None) -> set[int]:
    if risk is None:
        return set()
    lines: set[int] = set()
    for statement in risk.statements:
        if statement.level.value in ("HIGH", "CRITICAL") or statement.blocks_reads:
            lines.update(range(statement.line, statement.end_line + 1))
    return lines


def _statements_table(risk: MigrationRisk) -> RenderableType:
    from rich.table import Table

    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("line", "statement", "lock", "blocks", "does", "blocked for", "risk"):
        table.add_column(column, overflow="fold")
    for s in risk.statements:
        table.add_row(
            str(s.line),
            _short(s.text),
            s.lock_level.value if s.lock_level else "-",
            blocks_text(s),
            work_text(s),
            s.lock_seconds.text() if s.lock_seconds.mean else "-",
            level_markup(s.level.value, s.score.value),
        )
    return table


def _estimate_lines(risk: MigrationRisk) -> list[str]:
    lines = [f"runs {risk.duration.text()} [{risk.duration.method}]"]
    until = "the commit" if risk.transactional else "the statement ends"
    for hold in risk.holds:
        level, on = ("row locks", "of") if hold.rows else (hold.level.value, "on")
        lines.append(
            f"blocks {hold.blocks} {on} {hold.table} ({level}, from line {hold.from_line} "
            f"to {until}) for {hold.seconds.text()}"
        )
    if not risk.holds and any(not s.known for s in risk.statements):
        lines.append("what it locks cannot be told before it runs: scored as the worst case")
    elif not risk.holds:
        lines.append("blocks no reads or writes of tables in use")
    # How each number was reached, and what the lock profile says of the statement.
    for s in risk.statements:
        if s.duration.basis and (s.rewrites or s.scans or s.duration.method != "heuristic"):
            lines.append(f"line {s.line}: {s.duration.method}: {s.duration.basis}")
        lines.extend(f"line {s.line}: {note}" for note in s.notes)
    lines.extend(risk.notes)
    return lines


def render_preview(
    preview: MigrationPreview,
    *,
    root: Path | None = None,
    position: tuple[int, int] | None = None,
) -> RenderableType:
    """The preview as a rich renderable (a panel titled with the label, its level and place).

    ``root``: shown paths are relative to it; ``position``: ``(n, of)`` in the run.
    """
    from rich.console import Group
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.text import Text

    risk = preview.risk
    parts: list[RenderableType] = [
        Text(_shown_path(preview.migration.up, root), style="bold"),
        Syntax(
            preview.source.rstrip("\n"),
            preview.language,
            line_numbers=True,
            # A Python migration is one opaque "statement": no line of it is singled out.
            highlight_lines=_risky_lines(risk) if preview.language == "sql" else set(),
            word_wrap=True,
            background_color="default",
        ),
    ]
    if risk is not None:
        parts.append(_statements_table(risk))
        parts.append(Text("estimated time", style="bold"))
        parts.extend(Text(f"  {line}") for line in _estimate_lines(risk))
        parts.extend(
            Text(f"  lint {_where(f, root)}: {f.severity.value} {f.rule}: {f.message}")
            for f in risk.findings
        )
    else:
        parts.append(Text("risk not assessed", style="dim"))
    parts.append(Text("hooks", style="bold"))
    if preview.hooks:
        for h in preview.hooks:
            often = f" (x{h.times})" if h.times != 1 else ""
            parts.append(
                Text(
                    f"  {h.phase}: {h.name}{often} - {h.when}; {h.error_strategy}, from {h.source}"
                )
            )
    else:
        parts.append(Text("  none"))
    if preview.down.reversible and preview.down.path is not None:
        parts.append(Text(f"down: {_shown_path(preview.down.path, root)}", style="bold"))
        if preview.down.language == "sql" and preview.down.text is not None:
            parts.append(
                Syntax(
                    preview.down.text.rstrip("\n"),
                    "sql",
                    word_wrap=True,
                    background_color="default",
                )
            )
        else:
            parts.append(Text(f"  {preview.down.text}"))
    else:
        parts.append(Text("down: irreversible (no down migration)", style="bold yellow"))
    if preview.recommendations:
        parts.append(Text("recommendations", style="bold cyan"))
        parts.extend(Text(f"  - {advice}") for advice in preview.recommendations)
    title = f"[bold]{preview.label}[/bold]"
    if position is not None:
        title += f" ({position[0]} of {position[1]})"
    subtitle = level_markup(preview.level, risk.score.value if risk is not None else None)
    return Panel(Group(*parts), title=title, subtitle=subtitle, title_align="left")
