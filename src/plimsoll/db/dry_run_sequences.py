"""The sequences a dry run moved: the one thing its rollback does not undo.

``nextval`` and ``setval`` are not transactional: PostgreSQL never rolls a sequence back. A dry
run reads every sequence's position before it starts (:func:`sequence_values`) and, after the
rollback, reports those its own session moved (:func:`moved_sequences`). Forward is harmless
(values are skipped); backwards is dangerous: the values the sequence hands out next may
already be in use, and inserts then fail with duplicate keys. The dry run never sets a
sequence back itself: a live application may have taken later values meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql as pgsql

# Every sequence the user can read, with its increment and last value (NULL: never used
# since its start or a setval(..., false), or not readable), and whether its own row can be
# read (its raw last_value is then the next value of a sequence not yet called).
_SEQUENCES = """
SELECT c.oid::int8, n.nspname, c.relname, s.seqincrement,
  CASE WHEN has_sequence_privilege(c.oid, 'SELECT,USAGE')
    THEN pg_sequence_last_value(c.oid) END,
  has_sequence_privilege(c.oid, 'SELECT') AND has_schema_privilege(n.oid, 'USAGE')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_sequence s ON s.seqrelid = c.oid
WHERE c.relkind = 'S' AND NOT pg_is_other_temp_schema(n.oid)
"""

# Sequences not yet called are read from their own row, this many per query.
_CHUNK = 200


@dataclass(frozen=True)
class SequenceState:
    """A sequence's position.

    ``value`` is its last value (None: not called since its start or a ``setval(..., false)``,
    or not readable); ``next`` the value ``nextval`` returns next (None: not known, the
    sequence is not readable); ``increment`` its step (negative: a descending sequence).
    """

    schema: str
    name: str
    value: int | None
    next: int | None = None
    increment: int = 1


@dataclass(frozen=True)
class SequenceMove:
    """A sequence the dry run moved: rolling back does not undo it.

    ``before`` and ``after`` are its last values (None: not called). ``backwards``: it now
    hands out values it handed out before (``setval`` to a lower value, in a function or a
    ``DO`` block the parser cannot see): inserts may collide with existing keys. ``next`` is
    the value it hands out next (None: not known).
    """

    schema: str
    name: str
    before: int | None
    after: int | None
    backwards: bool = False
    next: int | None = None

    @property
    def qualified(self) -> str:
        """``schema.name``."""
        return f"{self.schema}.{self.name}"


# The name the dry run's report had before sequences could move backwards.
SequenceAdvance = SequenceMove


def sequence_values(conn: psycopg.Connection[Any]) -> dict[int, SequenceState]:
    """Every readable sequence's position, by oid.

    One query for all, plus one per 200 sequences not yet called (their next value is in
    their own row). It takes locks on the sequences read: roll back before the dry run.
    """
    rows = conn.execute(_SEQUENCES).fetchall()
    unread = [
        (oid, schema, name) for oid, schema, name, _, value, ok in rows if value is None and ok
    ]
    raw = _raw_values(conn, unread)
    states: dict[int, SequenceState] = {}
    for oid, schema, name, increment, value, _ in rows:
        following = value + increment if value is not None else raw.get(oid)
        states[oid] = SequenceState(schema, name, value, following, increment)
    return states


def _raw_values(
    conn: psycopg.Connection[Any], sequences: list[tuple[int, str, str]]
) -> dict[int, int]:
    """The raw ``last_value`` of each sequence (by oid): the next value of one not called."""
    found: dict[int, int] = {}
    for start in range(0, len(sequences), _CHUNK):
        query = pgsql.SQL(" UNION ALL ").join(
            pgsql.SQL("SELECT {}::int8, last_value FROM {}").format(
                pgsql.Literal(oid), pgsql.Identifier(schema, name)
            )
            for oid, schema, name in sequences[start : start + _CHUNK]
        )
        found.update(conn.execute(query).fetchall())
    return found


def moved_sequences(
    conn: psycopg.Connection[Any],
    before: dict[int, SequenceState],
    used: Collection[int] | None = None,
) -> list[SequenceMove]:
    """The sequences that moved since ``before`` and that this session used.

    Call it after the rollback: a sequence the dry run created is gone again. ``used`` are
    the oids of the sequences the dry run's transaction locked for ``nextval`` or ``setval``
    (see :class:`~plimsoll.db.dry_run_locks.LockTracker`); without it, a sequence counts as
    used when ``currval`` is defined for it in this session (which a ``setval(..., false)``
    does not define). A sequence that moved only because other sessions used it meanwhile is
    left out.
    """
    after = sequence_values(conn)
    moved: list[SequenceMove] = []
    for oid, old in before.items():
        new = after.get(oid)
        if new is None or (new.value, new.next) == (old.value, old.next):
            continue
        if not (oid in used if used is not None else _called_here(conn, oid)):
            continue
        moved.append(
            SequenceMove(new.schema, new.name, old.value, new.value, _backwards(old, new), new.next)
        )
    return sorted(moved, key=lambda s: (s.schema, s.name))


def advanced_sequences(
    conn: psycopg.Connection[Any],
    before: dict[int, SequenceState],
    used: Collection[int] | None = None,
) -> list[SequenceMove]:
    """The former name of :func:`moved_sequences` (the wizard's dry run calls it)."""
    return moved_sequences(conn, before, used)


def _called_here(conn: psycopg.Connection[Any], oid: int) -> bool:
    """Whether ``currval`` is defined for the sequence in this session."""
    try:
        with conn.transaction():
            conn.execute("SELECT currval(%s::oid::regclass)", (oid,))
    except psycopg.DatabaseError:
        # Not used by this session (or dropped meanwhile): not the dry run's doing.
        return False
    return True


def _backwards(old: SequenceState, new: SequenceState) -> bool:
    """Whether the sequence's next value went against its direction (up or down)."""
    if old.next is None or new.next is None:
        # Not readable: judged by the last values (a reset to "not called" counts as back).
        if old.value is None:
            return False
        return new.value is None or (new.value - old.value) * old.increment < 0
    return (new.next - old.next) * old.increment < 0


def describe(moves: Iterable[SequenceMove]) -> str:
    """``public.t_id_seq 1 -> 3, ...`` (``unused`` for a sequence not called)."""
    return ", ".join(f"{m.qualified} {_value(m.before)} -> {_value(m.after)}" for m in moves)


def _value(value: int | None) -> str:
    return "unused" if value is None else str(value)
