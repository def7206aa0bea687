"""From a statement's lock profile and the live facts to its risk, and from statements to a migration.

A lock matters only on a relation other sessions use: one that exists and was not created
earlier in the same run (before the commit nobody else sees it; after it, it is empty). A
statement blocks the application for as long as it runs when one of those locks blocks reads
or writes. In a transactional migration every lock is held until the commit, so a table stays
blocked from the first statement that blocks it to the end of the migration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from plimsoll.db.lint.findings import Finding
from plimsoll.db.risk.anomalies import on_lines, points
from plimsoll.db.risk.calibration import Calibration
from plimsoll.db.risk.config import RiskConfig
from plimsoll.db.risk.facts import Facts, LockHolder, TableFacts
from plimsoll.db.risk.learned import LearnedModel
from plimsoll.db.risk.locks import LockLevel, strongest
from plimsoll.db.risk.operations import StatementProfile, WorkKind
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
from plimsoll.db.risk.score import Inputs, score


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
    """What every statement of a run is evaluated against."""

    config: RiskConfig
    facts: Facts
    calibration: Calibration
    model: LearnedModel | None = None
    findings: Sequence[Finding] = ()
    statement_timeout: float | None = None
    created: set[str] = field(default_factory=set)

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


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def interval_seconds(value: str | None) -> float | None:
    """A PostgreSQL time setting (``5s``, ``1min``, ``500`` = ms) in seconds; None for 0 or bad."""
    if not value:
        return None
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-z]*)\s*", value.lower())
    if match is None or (match[2] and match[2] not in _UNITS):
        return None
    seconds = float(match[1]) * _UNITS.get(match[2] or "ms", 1.0)
    return seconds or None


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
        impacts[target] = _impact(target, facts, level, new)
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
            (t.views, "views"),
            (t.foreign_keys_in, "foreign keys in"),
            (t.foreign_keys_out, "foreign keys out"),
            (t.triggers, "triggers"),
            (t.partitions, "partitions"),
        ]
        listed = ", ".join(f"{n} {word}" for n, word in kinds if n)
        if listed:
            parts.append(f"{t.name}: {listed}")
    return "; ".join(parts) or "none on the locked tables"


def _load_detail(ctx: Context, blockers: Sequence[LockHolder]) -> str:
    load = ctx.facts.load
    detail = f"{load.active} of {load.max_connections} connections active"
    if load.long_transactions:
        oldest = max(t.seconds for t in load.long_transactions)
        detail += (
            f"; {len(load.long_transactions)} transactions open longer than "
            f"{ctx.config.long_transaction_seconds:g} s (oldest {seconds_text(oldest)})"
        )
    if blockers:
        pids = ", ".join(str(b.pid) for b in blockers)
        detail += f"; sessions {pids} hold conflicting locks: the change would queue behind them"
    return detail


def evaluate_statement(
    statement: ParsedStatement,
    profile: StatementProfile,
    source: str,
    ctx: Context,
    planner: tuple[float, float] | None = None,
) -> StatementRisk:
    """The risk of one statement, given its profile (read against the live facts)."""
    config = ctx.config
    effective, impacts = _effective_locks(profile, ctx)
    visible = {
        name: facts
        for name, facts in ctx.facts.tables.items()
        if facts.exists and not ctx.is_new(name)
    }
    costs = [work_cost(w, visible, ctx.calibration, config, planner) for w in profile.work]
    blind = any(w.kind is WorkKind.UNKNOWN and (w.table or "") not in visible for w in profile.work)
    duration = _duration(profile, costs, visible, ctx)
    if blind:
        duration = Estimate(
            0.0, None, float("inf"), "unknown", "the statement's work cannot be told"
        )
    blocking = [lock for lock in effective if lock.level.blocks_reads or lock.level.blocks_writes]
    lock_level = strongest([lock.level for lock in effective])
    blocks_reads = any(lock.level.blocks_reads for lock in effective)
    blocks_writes = any(lock.level.blocks_writes for lock in effective)
    lock_seconds = duration if blocking else ZERO
    share = 1.0 if blocks_reads else config.writes_only_lock_share
    lock_raw = None if blind or lock_seconds.mean is None else lock_seconds.mean * share
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
    blockers = [
        holder
        for lock in effective
        for holder in lock.facts.holders
        if holder.mode is not None and holder.mode.conflicts_with(lock.level)
    ]
    findings = on_lines(ctx.findings, source, statement.line, statement.end_line)
    notes = list(profile.notes)
    advice = list(profile.recommendations)
    relevant = bool(effective) or any(w.table in visible for w in profile.work if w.kind.heavy)
    if not relevant:
        advice = []
    if blockers:
        advice.append(
            "wait for (or end) the transactions holding locks on "
            + ", ".join(sorted({b.table for b in blockers}))
            + ": the change would queue behind them and every query after it would wait too"
        )
    timeout = ctx.statement_timeout
    if timeout and duration.mean is not None and duration.mean > timeout:
        notes.append(
            f"predicted {seconds_text(duration.mean)}, more than statement_timeout "
            f"({seconds_text(timeout)}): the migrator would cancel it"
        )
    inputs = Inputs(
        data_bytes=data_raw,
        lock_seconds=lock_raw,
        dependents=sum(t.dependents for t in blocked_tables),
        anomaly_points=points(findings, config.anomaly_points),
        load_ratio=ctx.facts.load.ratio,
        blockers=len(blockers),
        long_transactions=len(ctx.facts.load.long_transactions),
        lock_detail=_lock_detail(blocking, lock_seconds, blocks_reads),
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
    )
    ctx.remember(profile.creates)
    return result


def _lock_detail(blocking: Sequence[_Lock], seconds: Estimate, reads: bool) -> str:
    if not blocking:
        return "no lock blocks reads or writes"
    what = "reads and writes" if reads else "writes"
    tables = ", ".join(dict.fromkeys(lock.table for lock in blocking))
    return f"{what} on {tables} blocked for {seconds.text()}"


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
    holds = _holds(statements, transactional)
    share_of = {True: 1.0, False: config.writes_only_lock_share}
    longest = max(
        holds,
        key=lambda h: (h.seconds.mean or float("inf")) * share_of[h.level.blocks_reads],
        default=None,
    )
    lock_seconds = longest.seconds if longest else ZERO
    findings = [f for f in ctx.findings if f.file == source]
    data = [s.score.factor("data_volume").raw for s in statements]
    blocked = {h.table for h in holds}
    tables = {t.name: t for s in statements for t in s.tables if t.name in blocked}
    dependents = sum(t.dependents for t in tables.values())
    blockers = {(b.pid, b.table): b for s in statements for b in s.blockers}
    reads = bool(longest and longest.level.blocks_reads)
    lock_raw = None if lock_seconds.mean is None else lock_seconds.mean * share_of[reads]
    worst_lock = any(s.score.factor("lock_time").raw is None for s in statements)
    inputs = Inputs(
        data_bytes=None if any(d is None for d in data) else sum(d or 0.0 for d in data),
        lock_seconds=None if worst_lock else lock_raw,
        dependents=dependents,
        anomaly_points=points(findings, config.anomaly_points),
        load_ratio=ctx.facts.load.ratio,
        blockers=len(blockers),
        long_transactions=len(ctx.facts.load.long_transactions),
        lock_detail=(
            f"{'reads and writes' if reads else 'writes'} on {longest.table} blocked for "
            f"{longest.seconds.text()} (until {'the commit' if transactional else 'the statement ends'})"
            if longest
            else "no lock blocks reads or writes"
        ),
        dependents_detail=f"{dependents} on {', '.join(sorted(blocked)) or 'no blocked table'}",
        anomalies_detail=f"{len(findings)} lint findings" if findings else "",
        load_detail=_load_detail(ctx, list(blockers.values())),
    )
    all_notes = list(notes)
    advice = list(dict.fromkeys(r for s in statements for r in s.recommendations))
    if transactional:
        advice.extend(_reorder_advice(statements, holds))
    if not transactional and len(statements) > 1:
        all_notes.append(
            "runs outside a transaction (a statement cannot run in one): if a statement fails, "
            "the ones before it stay applied"
        )
    return MigrationRisk(
        label=label,
        source=source,
        transactional=transactional,
        statements=tuple(statements),
        holds=tuple(holds),
        lock_seconds=lock_seconds,
        duration=total(s.duration for s in statements),
        score=score(inputs, config),
        recommendations=tuple(dict.fromkeys(advice)),
        notes=tuple(all_notes),
        findings=tuple(findings),
    )


def _reorder_advice(statements: Sequence[StatementRisk], holds: Sequence[LockHold]) -> list[str]:
    """Advice for a quick statement whose lock is held through slower ones after it."""
    out = []
    by_line = {s.line: s for s in statements}
    for hold in holds:
        first = by_line.get(hold.from_line)
        own, held = (first.duration.mean if first else None), hold.seconds.mean
        if own is None or held is None or held < 0.1 or held < 2 * own:
            continue
        what = "reads and writes" if hold.level.blocks_reads else "writes"
        out.append(
            f"move line {hold.from_line} ({hold.level.value} on {hold.table}) to the end of "
            f"the migration or into a migration of its own: its lock is held until the commit, "
            f"blocking {what} for {seconds_text(held)} instead of {seconds_text(own)}"
        )
    return out


def _holds(statements: Sequence[StatementRisk], transactional: bool) -> list[LockHold]:
    """Per table, how long writes are blocked and (from a later point, maybe) reads too.

    Every lock that blocks reads also blocks writes, so a table has at most two holds: one
    blocking writes only, from the first statement that blocks writes, and one blocking reads
    as well, from the first statement that takes ACCESS EXCLUSIVE.
    """
    entries: dict[str, list[tuple[int, StatementRisk, LockLevel]]] = {}
    for position, statement in enumerate(statements):
        for table in statement.tables:
            level = table.lock
            if level is None or not table.exists or table.new or not level.blocks_writes:
                continue
            entries.setdefault(table.name, []).append((position, statement, level))
    holds: list[LockHold] = []
    for name, found in entries.items():
        writes = [e for e in found if not e[2].blocks_reads]
        reads = [e for e in found if e[2].blocks_reads]
        for group in (writes, reads):
            if not group or (group is writes and reads and reads[0][0] <= writes[0][0]):
                continue
            level = strongest([e[2] for e in group]) or group[0][2]
            if transactional:
                position, statement, _ = group[0]
                seconds = total(s.duration for s in statements[position:])
            else:
                position, statement, _ = max(
                    group, key=lambda e: e[1].duration.mean or float("inf")
                )
                seconds = statement.duration
            holds.append(LockHold(name, level, statement.line, seconds))
    return holds
