"""How long a migration keeps each table blocked, and advice for a lock taken too early.

In a transactional migration every lock is held until the commit, so a table stays blocked
from the first statement that blocks it to the end of the migration (the statements after it
add their time, and the first one's wait for its lock too); outside a transaction each
statement releases its locks when it ends. Row locks of an ``UPDATE`` or ``DELETE`` are held
the same way: writes of those rows wait.
"""

from __future__ import annotations

from collections.abc import Sequence

from plimsoll.db.risk.locks import LockLevel, strongest
from plimsoll.db.risk.predict import Estimate, seconds_text, total
from plimsoll.db.risk.report import LockHold, StatementRisk


def _held(statements: Sequence[StatementRisk], position: int, transactional: bool) -> Estimate:
    """From statement ``position`` to the commit (or to its own end outside a transaction)."""
    first = statements[position]
    if not transactional:
        return total([first.wait, first.duration])
    return total([first.wait, *(s.duration for s in statements[position:])])


def holds(statements: Sequence[StatementRisk], transactional: bool) -> list[LockHold]:
    """Per table, how long writes are blocked and (from a later point, maybe) reads too.

    Every lock that blocks reads also blocks writes, so a table has at most two table holds:
    one blocking writes only, from the first statement that blocks writes, and one blocking
    reads as well, from the first statement that takes ACCESS EXCLUSIVE. Row locks count
    only on a table no earlier (or same) statement blocks writes of.
    """
    entries: dict[str, list[tuple[int, StatementRisk, LockLevel]]] = {}
    rows: dict[str, list[tuple[int, StatementRisk, float, float]]] = {}
    for position, statement in enumerate(statements):
        for table in statement.tables:
            level = table.lock
            if level is None or not table.exists or table.new:
                continue
            if level.blocks_writes:
                entries.setdefault(table.name, []).append((position, statement, level))
            elif statement.row_locks and table.rows:
                share = min(statement.row_locks / table.rows, 1.0)
                rows.setdefault(table.name, []).append(
                    (position, statement, statement.row_locks, share)
                )
    out: list[LockHold] = []
    for name, found in entries.items():
        writes = [e for e in found if not e[2].blocks_reads]
        reads = [e for e in found if e[2].blocks_reads]
        for group in (writes, reads):
            if not group or (group is writes and reads and reads[0][0] <= writes[0][0]):
                continue
            level = strongest([e[2] for e in group]) or group[0][2]
            if transactional:
                position = group[0][0]
            else:
                position = max(group, key=lambda e: e[1].lock_seconds.mean or float("inf"))[0]
            seconds = _held(statements, position, transactional)
            out.append(LockHold(name, level, statements[position].line, seconds))
    for name, changed in rows.items():
        first_table_hold = min((e[0] for e in entries.get(name, ())), default=None)
        position, _, count, share = max(changed, key=lambda e: e[3])
        if transactional:
            position = changed[0][0]
        if first_table_hold is not None and first_table_hold <= position:
            continue
        seconds = _held(statements, position, transactional)
        out.append(
            LockHold(
                name,
                LockLevel.ROW_EXCLUSIVE,
                statements[position].line,
                seconds,
                rows=count,
                share=share,
            )
        )
    return out


def reorder_advice(statements: Sequence[StatementRisk], found: Sequence[LockHold]) -> list[str]:
    """Advice for a quick statement whose lock is held through slower ones after it."""
    out = []
    by_line = {s.line: s for s in statements}
    for hold in found:
        first = by_line.get(hold.from_line)
        own = total([first.wait, first.duration]).mean if first else None
        held = hold.seconds.mean
        if own is None or held is None or held < 0.1 or held < 2 * own:
            continue
        level = "row locks" if hold.rows else hold.level.value
        out.append(
            f"move line {hold.from_line} ({level} on {hold.table}) to the end of the migration "
            f"or into a migration of its own: its lock is held until the commit, blocking "
            f"{hold.blocks} for {seconds_text(held)} instead of {seconds_text(own)}"
        )
    return out
