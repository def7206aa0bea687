"""From a statement's lock profile and the live facts to its risk, and from statements to a migration.

A lock matters only on a relation other sessions use: one that exists and was not created
earlier in the same run (before the commit nobody else sees it; after it, it is empty). A
statement blocks the application for as long as it runs when one of those locks blocks reads
or writes, and for as long as its lock request waits behind a session holding a conflicting
lock (every later query on the table queues behind the request; ``lock_timeout`` bounds the
wait, after which the statement fails). An ``UPDATE`` or ``DELETE`` blocks no table but keeps
the rows it changes locked: writes of those rows wait. In a transactional migration every lock
is held until the commit (see ``holds``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from plimsoll.db.lint.findings import Finding
from plimsoll.db.risk.anomalies import on_lines, points
from plimsoll.db.risk.calibration import Calibration
from plimsoll.db.risk.config import RiskConfig
from plimsoll.db.risk.facts import Facts, LockHolder, TableFacts
from plimsoll.db.risk.holds import holds as lock_holds
from plimsoll.db.risk.holds import reorder_advice
from plimsoll.db.risk.learned import LearnedModel
from plimsoll.db.risk.locks import LockLevel, strongest
from plimsoll.db.risk.operations import StatementProfile, Work, WorkKind, shown
from plimsoll.db.risk.predict import (
    ZERO,
    Cost,
    Estimate,
    heuristic,
    seconds_text,
    total,
    work_cost,
)
from plimsoll.db.risk.report import LockHold, MigrationRisk, StatementRisk, TableImpact
from plimsoll.db.risk.run_state import interval_seconds
from plimsoll.db.risk.score import Inputs, score

__all__ = [
    "Context",
    "ParsedStatement",
    "evaluate_migration",
    "evaluate_statement",
    "interval_seconds",
    "variants",
]

UNKNOWN = Estimate(0.0, None, math.inf, "unknown", "the statement's work cannot be told")


@dataclass(frozen=True)
class ParsedStatement:
    """A statement of a migration as the assessment reads it (1-based index and lines)."""

    index: int
    line: int
    end_line: int
    text: str
    kind: str
    transactional: bool = True
    reason: str | None = None


@dataclass
class Context:
    """What every statement of a run is evaluated against.

    ``statement_timeout`` and ``lock_timeout`` are the migrator's (seconds; None: none); a
    statement may bring its own (``SET lock_timeout`` earlier in the run).
    """

    config: RiskConfig
    facts: Facts
    calibration: Calibration
    model: LearnedModel | None = None
    findings: Sequence[Finding] = ()
    statement_timeout: float | None = None
    created: set[str] = field(default_factory=set)
    lock_timeout: float | None = None

    def is_new(self, name: str) -> bool:
        """Whether ``name`` was created earlier in this run."""
        return bool(variants(name) & self.created)

    def remember(self, names: Sequence[str]) -> None:
        """Record relations a statement creates."""
        for name in names:
            self.created |= variants(name)


def variants(name: str) -> set[str]:
    """The spellings of one relation name under the default ``search_path`` (public)."""
    if "." in name:
        schema, relation = name.split(".", 1)
        return {name, relation} if schema == "public" else {name}
    return {name, f"public.{name}"}


@dataclass(frozen=True)
class Timeouts:
    """The ``lock_timeout`` and ``statement_timeout`` in force for one statement (seconds)."""

    lock: float | None
    statement: float | None


@dataclass(frozen=True)
class _Lock:
    table: str
    level: LockLevel
    facts: TableFacts


def _effective_locks(
    profile: StatementProfile, ctx: Context
) -> tuple[list[_Lock], list[TableImpact]]:
    effective: list[_Lock] = []
    impacts: dict[str, TableImpact] = {}
    for lock in profile.locks:
        target = lock.table
        index = ctx.facts.table(lock.table) if lock.via_index else None
        if index is not None and index.parent:
            target = index.parent
        facts = ctx.facts.table(target)
        new = ctx.is_new(lock.table) or ctx.is_new(target)
        exists = bool(facts and facts.exists)
        if exists and not new and facts is not None:
            effective.append(_Lock(target, lock.level, facts))
        known = impacts.get(target)
        level = (
            lock.level
            if known is None or known.lock is None
            else strongest([known.lock, lock.level])
        )
        impact = _impact(target, facts, level, new)
        impacts[target] = replace(
            impact,
            reason=lock.reason or (known.reason if known else None),
            emptied=lock.emptied or bool(known and known.emptied),
            dropped=lock.dropped or bool(known and known.dropped),
        )
    for work in profile.work:
        for name in (work.table, work.referenced):
            if name and name not in impacts:
                impacts[name] = _impact(name, ctx.facts.table(name), None, ctx.is_new(name))
    return effective, list(impacts.values())


def _impact(name: str, facts: TableFacts | None, lock: LockLevel | None, new: bool) -> TableImpact:
    exists = bool(facts and facts.exists)
    return TableImpact(
        name=name,
        relation=facts.qualified if facts else None,
        lock=lock,
        exists=exists,
        new=new,
        rows=facts.rows if facts and exists else 0.0,
        total_bytes=facts.total_bytes if facts and exists else 0,
        dependents=facts.dependents if facts and exists else 0,
    )


def _dependents_detail(tables: Sequence[TableFacts]) -> str:
    parts = []
    for t in tables:
        kinds = [
            (t.views, "view", "views"),
            (t.foreign_keys_in, "foreign key in", "foreign keys in"),
            (t.foreign_keys_out, "foreign key out", "foreign keys out"),
            (t.triggers, "trigger", "triggers"),
            (t.partitions, "partition", "partitions"),
        ]
        listed = ", ".join(f"{n} {one if n == 1 else many}" for n, one, many in kinds if n)
        if listed:
            parts.append(f"{shown(t.name)}: {listed}")
    return "; ".join(parts) or "none on the locked tables"


def _sessions(blockers: Sequence[LockHolder]) -> str:
    """``session 12 holds`` or ``sessions 12, 34 hold``."""
    pids = list(dict.fromkeys(b.pid for b in blockers))
    listed = ", ".join(str(pid) for pid in pids)
    return f"session {listed} holds" if len(pids) == 1 else f"sessions {listed} hold"


def _load_detail(ctx: Context, blockers: Sequence[LockHolder]) -> str:
    load = ctx.facts.load
    detail = f"{load.active} of {load.max_connections} connections active"
    if load.long_transactions:
        oldest = max(t.seconds for t in load.long_transactions)
        count = len(load.long_transactions)
        detail += (
            f"; {count} transaction{'s' if count > 1 else ''} open longer than "
            f"{ctx.config.long_transaction_seconds:g} s (oldest {seconds_text(oldest)})"
        )
    if blockers:
        detail += f"; {_sessions(blockers)} conflicting locks: the change would queue behind"
    return detail


def _failing(profile: StatementProfile) -> StatementProfile:
    """A statement that will fail does no work: it takes its lock, then stops.

    What the profile says it would do (a rewrite, advice to avoid one) does not happen, so
    only the failure is said.
    """
    table = next((w.table for w in profile.work if w.table), None)
    return replace(
        profile,
        work=(Work(WorkKind.CATALOG, table),),
        recommendations=(),
        notes=(f"this statement will fail: {profile.fails}",),
    )


def _row_locks(
    profile: StatementProfile,
    visible: Mapping[str, TableFacts],
    planner: tuple[float, float] | None,
    ctx: Context,
) -> tuple[float, TableFacts | None]:
    """Rows of a table in use an UPDATE/DELETE changes (and keeps locked), and that table."""
    for work in profile.work:
        facts = visible.get(work.table or "")
        if not work.row_locks or facts is None or ctx.is_new(facts.name):
            continue
        rows = float(work.rows) if work.rows is not None else (planner[0] if planner else None)
        if rows is None:
            rows = facts.rows  # not known: all of them, the worst case
        return min(rows, facts.rows) if facts.rows >= 1 else rows, facts
    return 0.0, None


def _wait(blockers: Sequence[LockHolder], timeout: float | None) -> Estimate:
    """How long a lock request may queue behind ``blockers``: up to ``lock_timeout``."""
    who = _sessions(blockers)
    if timeout is None:
        return Estimate(
            0.0, None, math.inf, "unbounded", f"{who} a conflicting lock; no lock_timeout"
        )
    return Estimate(
        0.0,
        timeout,
        timeout,
        "lock_timeout",
        f"{who} a conflicting lock: queued up to lock_timeout ({seconds_text(timeout)})",
    )


def evaluate_statement(
    statement: ParsedStatement,
    profile: StatementProfile,
    source: str,
    ctx: Context,
    planner: tuple[float, float] | None = None,
    timeouts: Timeouts | None = None,
) -> StatementRisk:
    """The risk of one statement, given its profile (read against the live facts)."""
    config = ctx.config
    timeouts = timeouts or Timeouts(ctx.lock_timeout, ctx.statement_timeout)
    if profile.fails:
        profile = _failing(profile)
    effective, impacts = _effective_locks(profile, ctx)
    visible = {
        name: facts
        for name, facts in ctx.facts.tables.items()
        if facts.exists and not ctx.is_new(name)
    }
    costs = [work_cost(w, visible, ctx.calibration, config, planner) for w in profile.work]
    blind = any(w.kind is WorkKind.UNKNOWN and (w.table or "") not in visible for w in profile.work)
    duration = UNKNOWN if blind else _duration(profile, costs, visible, ctx)
    # A statement the profile cannot read that names no table may lock any: the worst case.
    unnamed = not profile.known and not profile.locks
    blocking = [lock for lock in effective if lock.level.blocks_reads or lock.level.blocks_writes]
    lock_level = strongest([lock.level for lock in effective])
    blocks_reads = any(lock.level.blocks_reads for lock in effective) or unnamed
    blocks_writes = any(lock.level.blocks_writes for lock in effective) or unnamed
    if unnamed:
        lock_level = LockLevel.ACCESS_EXCLUSIVE
    blockers = [
        holder
        for lock in effective
        for holder in lock.facts.holders
        if holder.mode is not None and holder.mode.conflicts_with(lock.level)
    ]
    wait = _wait(blockers, timeouts.lock) if blockers and blocking else ZERO
    row_count, row_table = (0.0, None) if blocking else _row_locks(profile, visible, planner, ctx)
    if blocking or unnamed or row_count:
        lock_seconds = total([wait, duration]) if wait is not ZERO else duration
    else:
        lock_seconds = ZERO
    lock_raw = _lock_raw(lock_seconds, wait, blocks_reads, row_count, row_table, blind, config)
    # Work that blocks nothing (CONCURRENTLY, VALIDATE) weighs less than work behind a lock.
    data_raw = (
        None
        if blind
        else sum(
            c.bytes * (config.online_data_share if w.concurrent else 1.0)
            for w, c in zip(profile.work, costs, strict=True)
        )
    )
    blocked_tables = list({lock.table: lock.facts for lock in blocking}.values())
    if row_table is not None:
        blocked_tables.append(row_table)
    findings = on_lines(ctx.findings, source, statement.line, statement.end_line)
    notes = list(profile.notes)
    advice = list(profile.recommendations)
    relevant = bool(effective) or any(w.table in visible for w in profile.work if w.kind.heavy)
    if not relevant:
        advice = []
    if wait is not ZERO:
        tables = ", ".join(sorted({shown(b.table) for b in blockers}))
        notes.append(_wait_note(blockers, tables, timeouts.lock))
        advice.append(
            f"wait for (or end) the transactions holding locks on {tables}: the change would "
            "queue behind them and every query after it would wait too"
        )
    if timeouts.statement and duration.mean is not None and duration.mean > timeouts.statement:
        notes.append(
            f"predicted {seconds_text(duration.mean)}, more than statement_timeout "
            f"({seconds_text(timeouts.statement)}): the migrator would cancel it"
        )
    inputs = Inputs(
        data_bytes=data_raw,
        lock_seconds=lock_raw,
        dependents=sum(t.dependents for t in blocked_tables),
        anomaly_points=points(findings, config.anomaly_points),
        load_ratio=ctx.facts.load.ratio,
        blockers=len(blockers),
        long_transactions=len(ctx.facts.load.long_transactions),
        data_detail="cannot be told before it runs: the worst case" if blind else "",
        lock_detail=_lock_detail(
            blocking, lock_seconds, blocks_reads, unnamed, row_count, row_table, wait
        ),
        dependents_detail=_dependents_detail(blocked_tables),
        anomalies_detail=", ".join(f"{f.rule} ({f.severity.value})" for f in findings),
        load_detail=_load_detail(ctx, blockers),
    )
    result = StatementRisk(
        index=statement.index,
        line=statement.line,
        end_line=statement.end_line,
        text=statement.text,
        kind=statement.kind,
        action=profile.action,
        lock_level=lock_level,
        blocks_reads=blocks_reads,
        blocks_writes=blocks_writes,
        rewrites=profile.rewrites,
        scans=profile.scans,
        concurrently=profile.concurrently,
        transactional=statement.transactional,
        known=profile.known,
        tables=tuple(impacts),
        work=tuple(w.describe() for w in profile.work),
        lock_seconds=lock_seconds,
        duration=duration,
        score=score(inputs, config),
        findings=tuple(findings),
        recommendations=tuple(dict.fromkeys(advice)),
        notes=tuple(dict.fromkeys(notes)),
        blockers=tuple(blockers),
        wait=wait,
        row_locks=row_count,
        fails=profile.fails,
    )
    ctx.remember(profile.creates)
    return result


def _lock_raw(
    lock_seconds: Estimate,
    wait: Estimate,
    reads: bool,
    row_count: float,
    row_table: TableFacts | None,
    blind: bool,
    config: RiskConfig,
) -> float | None:
    """The lock factor's measure: blocked seconds, weighted by what is blocked (None: unknown)."""
    if wait.method == "unbounded":
        return math.inf  # queued behind another session with nothing to bound the wait
    if blind or lock_seconds.mean is None:
        return None
    if row_count and row_table is not None:
        share = min(row_count / row_table.rows, 1.0) if row_table.rows >= 1 else 1.0
        return lock_seconds.mean * config.writes_only_lock_share * share
    return lock_seconds.mean * (1.0 if reads else config.writes_only_lock_share)


def _wait_note(blockers: Sequence[LockHolder], tables: str, timeout: float | None) -> str:
    who = _sessions(blockers)
    if timeout is None:
        return (
            f"{who} a conflicting lock on {tables}: the statement would wait until they end, "
            "and every later query on the table queues behind it (no lock_timeout bounds it)"
        )
    return (
        f"{who} a conflicting lock on {tables}: the statement would wait up to lock_timeout "
        f"({seconds_text(timeout)}) with every later query on the table queued behind it, "
        "then fail unless they end first"
    )


def _lock_detail(
    blocking: Sequence[_Lock],
    seconds: Estimate,
    reads: bool,
    unnamed: bool,
    row_count: float,
    row_table: TableFacts | None,
    wait: Estimate,
) -> str:
    if unnamed:
        return (
            "may block reads and writes of any table it touches for as long as it runs: "
            "cannot be told before it runs, the worst case"
        )
    if row_count and row_table is not None:
        share = min(row_count / row_table.rows, 1.0) if row_table.rows >= 1 else 1.0
        return (
            f"updates and deletes of {row_count:,.0f} rows of {shown(row_table.name)} "
            f"({share:.0%} of it) wait for {seconds.text()} (row locks until the commit)"
        )
    if not blocking:
        return "no lock blocks reads or writes"
    what = "reads and writes" if reads else "writes"
    tables = ", ".join(dict.fromkeys(shown(lock.table) for lock in blocking))
    if wait.method == "unbounded":
        return f"{what} on {tables} blocked until the sessions holding locks end (unbounded)"
    queued = (
        f", {seconds_text(wait.mean or 0)} of it queued behind other sessions" if wait.mean else ""
    )
    return f"{what} on {tables} blocked for {seconds.text()}{queued}"


def _duration(
    profile: StatementProfile,
    costs: Sequence[Cost],
    visible: Mapping[str, TableFacts],
    ctx: Context,
) -> Estimate:
    estimate = heuristic(costs, ctx.calibration, ctx.config)
    if ctx.model is None:
        return estimate
    heavy = [
        w
        for w in profile.work
        if w.kind.heavy and w.kind is not WorkKind.UNKNOWN and (w.table or "") in visible
    ]
    if len(heavy) != 1:
        return estimate
    work = heavy[0]
    size = visible[work.table or ""].total_bytes
    learned = ctx.model.predict(work.kind, size, ctx.facts.server.major)
    return learned or estimate


def evaluate_migration(
    label: str,
    source: str,
    statements: Sequence[StatementRisk],
    ctx: Context,
    notes: Sequence[str] = (),
) -> MigrationRisk:
    """The risk of a migration from its statements' (lock holds to the commit when transactional)."""
    config = ctx.config
    transactional = all(s.transactional for s in statements)
    holds = lock_holds(statements, transactional)
    share = config.writes_only_lock_share
    longest = max(
        holds,
        key=lambda h: (
            (h.seconds.mean if h.seconds.mean is not None else math.inf) * h.weight(share)
        ),
        default=None,
    )
    lock_seconds = longest.seconds if longest else ZERO
    findings = [f for f in ctx.findings if f.file == source]
    data = [s.score.factor("data_volume").raw for s in statements]
    blocked = {h.table for h in holds}
    tables = {t.name: t for s in statements for t in s.tables if t.name in blocked}
    dependents = sum(t.dependents for t in tables.values())
    blockers = {(b.pid, b.table): b for s in statements for b in s.blockers}
    lock_raws = [s.score.factor("lock_time").raw for s in statements]
    unnamed = next((s for s in statements if not s.known and s.blocks_reads and not s.tables), None)
    if any(raw is not None and math.isinf(raw) for raw in lock_raws):
        lock_raw: float | None = math.inf
    elif unnamed is not None or any(raw is None for raw in lock_raws):
        lock_raw = None
        lock_seconds = UNKNOWN
    elif longest is not None and longest.seconds.mean is not None:
        lock_raw = longest.seconds.mean * longest.weight(share)
    else:
        lock_raw = 0.0
    count = len(findings)
    inputs = Inputs(
        data_bytes=None if any(d is None for d in data) else sum(d or 0.0 for d in data),
        lock_seconds=lock_raw,
        dependents=dependents,
        anomaly_points=points(findings, config.anomaly_points),
        load_ratio=ctx.facts.load.ratio,
        blockers=len(blockers),
        long_transactions=len(ctx.facts.load.long_transactions),
        data_detail="cannot be told before it runs: the worst case"
        if any(d is None for d in data)
        else "",
        lock_detail=_migration_lock_detail(longest, transactional, unnamed, lock_raw),
        dependents_detail=(
            f"{dependents} on {', '.join(shown(t) for t in sorted(blocked))}"
            if blocked
            else "no table blocked"
        ),
        anomalies_detail=f"{count} lint finding{'s' if count != 1 else ''}" if findings else "",
        load_detail=_load_detail(ctx, list(blockers.values())),
    )
    all_notes = list(notes)
    advice = list(dict.fromkeys(r for s in statements for r in s.recommendations))
    if transactional:
        advice.extend(reorder_advice(statements, holds))
    if not transactional and len(statements) > 1:
        all_notes.append(
            "runs outside a transaction (a statement cannot run in one): if a statement fails, "
            "the ones before it stay applied"
        )
    failures = tuple(f"line {s.line}: {s.fails}" for s in statements if s.fails)
    if failures:
        all_notes.insert(
            0,
            "will fail: "
            + "; ".join(failures)
            + (
                " (the migration is rolled back)"
                if transactional
                else " (the statements before it stay applied)"
            ),
        )
    return MigrationRisk(
        label=label,
        source=source,
        transactional=transactional,
        statements=tuple(statements),
        holds=tuple(holds),
        lock_seconds=lock_seconds,
        duration=total(total([s.wait, s.duration]) for s in statements),
        score=score(inputs, config),
        recommendations=tuple(dict.fromkeys(advice)),
        notes=tuple(all_notes),
        findings=tuple(findings),
        failures=failures,
    )


def _migration_lock_detail(
    longest: LockHold | None, transactional: bool, unnamed: StatementRisk | None, raw: float | None
) -> str:
    if unnamed is not None:
        return (
            f"line {unnamed.line} cannot be read ahead: it may block reads and writes of any "
            "table it touches for as long as it runs (the worst case)"
        )
    if raw is not None and math.isinf(raw):
        return "a lock request would queue behind another session's lock with no lock_timeout"
    if longest is None:
        return "no lock blocks reads or writes"
    until = "the commit" if transactional else "the statement ends"
    on = "of" if longest.rows else "on"
    return (
        f"{longest.blocks} {on} {shown(longest.table)} blocked for {longest.seconds.text()} "
        f"(until {until})"
    )
