"""The alert lifecycle, kept in the store: pending, firing, acknowledged, resolved.

An alert is one rule's condition on one series (its labels). It is *pending* while the
condition holds for less than the rule's ``for``, *firing* once it held long enough,
*acknowledged* when someone took it (it keeps firing, but repeats and escalation stop), and
*resolved* once the condition clears. Every change is written to the store in the same
transaction as the notifications it causes, so a restart resumes where the last cycle ended.

Tables (part ``alerts`` of :meth:`Store.ensure_part_schema`): ``alerts`` (one row per alert,
kept after resolution for a while), ``alert_events`` (every state change), ``alert_groups``
(what each notification group last sent, and when) and ``alert_silences``. The same tables
live in either store, SQLite (:data:`MIGRATIONS`) or PostgreSQL (:data:`POSTGRES_MIGRATIONS`),
and one spelling of the SQL (``?`` placeholders, ``ON CONFLICT`` upserts) serves both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from plimsoll.core.errors import InputError
from plimsoll.core.store import Store
from plimsoll.core.store.parts import part_sql
from plimsoll.core.store.seam import SqlConn, returned_id
from plimsoll.runtime.alerts.samples import Labels
from plimsoll.runtime.alerts.silences import Matcher, Silence, parse_matcher

PART = "alerts"

# MIGRATIONS[n] takes the alerts tables from version n to n + 1.
#   1: alerts, alert_events, alert_groups, alert_silences.
#   2: alert_writer (one row: the engine that last wrote alerts), so an engine sharing the
#      store with another (two watchers) reads what the other wrote before it writes.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE alerts (
            fingerprint TEXT PRIMARY KEY,
            rule TEXT NOT NULL,
            labels TEXT NOT NULL,
            severity TEXT NOT NULL,
            state TEXT NOT NULL,
            value REAL,
            summary TEXT NOT NULL DEFAULT '',
            active_since REAL,
            fired_at REAL,
            acked_at REAL,
            acked_by TEXT,
            resolved_at REAL,
            last_eval REAL NOT NULL,
            escalation_level INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX alerts_state ON alerts (state)",
        """
        CREATE TABLE alert_events (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            fingerprint TEXT NOT NULL,
            at REAL NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX alert_events_fp ON alert_events (fingerprint, at)",
        """
        CREATE TABLE alert_groups (
            route INTEGER NOT NULL,
            group_key TEXT NOT NULL,
            labels TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_sent_at REAL,
            sent TEXT NOT NULL DEFAULT '[]',
            sends INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (route, group_key)
        )
        """,
        """
        CREATE TABLE alert_silences (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            matchers TEXT NOT NULL,
            starts_at REAL NOT NULL,
            ends_at REAL NOT NULL,
            comment TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL
        )
        """,
    ),
    (
        "CREATE TABLE alert_writer (id INTEGER PRIMARY KEY CHECK (id = 1), writer TEXT NOT NULL)",
        "INSERT INTO alert_writer (id, writer) VALUES (1, '')",
    ),
)


# The same tables on PostgreSQL: identity keys and double precision times.
POSTGRES_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """
        CREATE TABLE alerts (
            fingerprint text PRIMARY KEY,
            rule text NOT NULL,
            labels text NOT NULL,
            severity text NOT NULL,
            state text NOT NULL,
            value double precision,
            summary text NOT NULL DEFAULT '',
            active_since double precision,
            fired_at double precision,
            acked_at double precision,
            acked_by text,
            resolved_at double precision,
            last_eval double precision NOT NULL,
            escalation_level integer NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX alerts_state ON alerts (state)",
        """
        CREATE TABLE alert_events (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            fingerprint text NOT NULL,
            at double precision NOT NULL,
            from_state text,
            to_state text NOT NULL,
            detail text NOT NULL DEFAULT ''
        )
        """,
        "CREATE INDEX alert_events_fp ON alert_events (fingerprint, at)",
        """
        CREATE TABLE alert_groups (
            route integer NOT NULL,
            group_key text NOT NULL,
            labels text NOT NULL,
            created_at double precision NOT NULL,
            last_sent_at double precision,
            sent text NOT NULL DEFAULT '[]',
            sends integer NOT NULL DEFAULT 0,
            PRIMARY KEY (route, group_key)
        )
        """,
        """
        CREATE TABLE alert_silences (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            matchers text NOT NULL,
            starts_at double precision NOT NULL,
            ends_at double precision NOT NULL,
            comment text NOT NULL DEFAULT '',
            created_by text NOT NULL DEFAULT '',
            created_at double precision NOT NULL
        )
        """,
    ),
    (
        "CREATE TABLE alert_writer (id integer PRIMARY KEY CHECK (id = 1), writer text NOT NULL)",
        "INSERT INTO alert_writer (id, writer) VALUES (1, '')",
    ),
)


class AlertState(StrEnum):
    """Where an alert is in its lifecycle."""

    PENDING = "pending"
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"

    @property
    def active(self) -> bool:
        """Whether the condition still holds (anything but resolved)."""
        return self is not AlertState.RESOLVED


def fingerprint(rule: str, labels: Labels) -> str:
    """A stable id for the alert of ``rule`` on the series with ``labels``."""
    text = json.dumps([rule, list(labels)], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Alert:
    """One alert as stored. ``labels`` include ``alertname`` and ``severity``."""

    fingerprint: str
    rule: str
    labels: Mapping[str, str]
    severity: str
    state: AlertState
    last_eval: float
    value: float | None = None
    summary: str = ""
    active_since: float | None = None
    fired_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    resolved_at: float | None = None
    escalation_level: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "fingerprint": self.fingerprint,
            "rule": self.rule,
            "labels": dict(self.labels),
            "severity": self.severity,
            "state": self.state.value,
            "value": self.value,
            "summary": self.summary,
            "active_since": self.active_since,
            "fired_at": self.fired_at,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "resolved_at": self.resolved_at,
            "last_eval": self.last_eval,
            "escalation_level": self.escalation_level,
        }


_COLUMNS = (
    "fingerprint, rule, labels, severity, state, value, summary, active_since, fired_at,"
    " acked_at, acked_by, resolved_at, last_eval, escalation_level"
)

# An upsert both databases speak: the stored row takes every column of the new one.
_UPSERT_ALERT = (
    f"INSERT INTO alerts ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (fingerprint) DO UPDATE SET "
    + ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in _COLUMNS.split(",")[1:])
)
_UPSERT_GROUP = (
    "INSERT INTO alert_groups (route, group_key, labels, created_at, last_sent_at, sent, sends)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (route, group_key) DO UPDATE SET"
    " labels = excluded.labels, created_at = excluded.created_at,"
    " last_sent_at = excluded.last_sent_at, sent = excluded.sent, sends = excluded.sends"
)


def _row(alert: Alert) -> tuple[Any, ...]:
    return (
        alert.fingerprint,
        alert.rule,
        json.dumps(dict(alert.labels), sort_keys=True),
        alert.severity,
        alert.state.value,
        alert.value,
        alert.summary,
        alert.active_since,
        alert.fired_at,
        alert.acked_at,
        alert.acked_by,
        alert.resolved_at,
        alert.last_eval,
        alert.escalation_level,
    )


def _alert(row: Any) -> Alert:
    return Alert(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        labels=json.loads(row["labels"]),
        severity=row["severity"],
        state=AlertState(row["state"]),
        value=row["value"],
        summary=row["summary"],
        active_since=row["active_since"],
        fired_at=row["fired_at"],
        acked_at=row["acked_at"],
        acked_by=row["acked_by"],
        resolved_at=row["resolved_at"],
        last_eval=row["last_eval"],
        escalation_level=row["escalation_level"],
    )


@dataclass(frozen=True)
class GroupState:
    """What a notification group last sent: the fingerprints firing then, and when."""

    route: int
    key: str
    labels: Mapping[str, str]
    created_at: float
    last_sent_at: float | None = None
    sent: tuple[str, ...] = ()
    sends: int = 0


class AlertStore:
    """The alerts tables of a store: read, write in one transaction, silences, ack."""

    def __init__(self, store: Store) -> None:
        self.store = store
        found = part_sql(store, "alerts")
        self._sql = found
        # The store's connection (SQLite or PostgreSQL), ``?`` placeholders on both.
        self.db = found.connection
        store.ensure_part_schema(PART, found.dialect.pick(MIGRATIONS, POSTGRES_MIGRATIONS))

    # --- alerts -----------------------------------------------------------------------------

    def alerts(
        self, states: Iterable[AlertState] | None = None, *, rule: str | None = None
    ) -> list[Alert]:
        """Stored alerts (of some states, of one rule), the most recently active first."""
        where, params = [], []
        if states is not None:
            wanted = [s.value for s in states]
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        if rule is not None:
            where.append("rule = ?")
            params.append(rule)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM alerts {clause}"
            " ORDER BY COALESCE(resolved_at, last_eval) DESC, fingerprint",
            params,
        )
        return [_alert(r) for r in rows]

    def active(self, conn: SqlConn | None = None) -> dict[str, Alert]:
        """The alerts not resolved, by fingerprint."""
        sql = f"SELECT {_COLUMNS} FROM alerts WHERE state != 'resolved'"
        rows = conn.execute(sql).fetchall() if conn is not None else self.db.query(sql)
        return {r["fingerprint"]: _alert(r) for r in rows}

    def acknowledgements(self, conn: SqlConn) -> dict[str, tuple[float, str | None]]:
        """When and by whom each acknowledged alert was acknowledged (cheap: no labels read).

        A cycle's first read: it locks the alerts (see :meth:`lock`) until the cycle commits.
        """
        self.lock(conn)
        rows = conn.execute(
            "SELECT fingerprint, acked_at, acked_by FROM alerts WHERE state = 'acknowledged'"
        ).fetchall()
        return {r["fingerprint"]: (r["acked_at"], r["acked_by"]) for r in rows}

    def by_fingerprints(self, conn: SqlConn, fingerprints: Sequence[str]) -> dict[str, Alert]:
        """The stored alerts with these fingerprints."""
        found: dict[str, Alert] = {}
        for start in range(0, len(fingerprints), 500):
            chunk = list(fingerprints[start : start + 500])
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts"
                f" WHERE fingerprint IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update({r["fingerprint"]: _alert(r) for r in rows})
        return found

    def lock(self, conn: SqlConn) -> None:
        """Hold the alerts for the rest of the transaction of ``conn``.

        An acknowledgement written while a cycle runs would otherwise be overwritten by the
        cycle's upsert of the same alert (PostgreSQL; SQLite serialises writers anyway).
        """
        self._sql.lock(conn, PART)

    def write(
        self,
        conn: SqlConn,
        alerts: Sequence[Alert],
        events: Sequence[tuple[str, float, str | None, str, str]] = (),
    ) -> None:
        """Upsert ``alerts`` and append ``events`` (fingerprint, at, from, to, detail)."""
        if alerts:
            conn.executemany(_UPSERT_ALERT, [_row(a) for a in alerts])
        if events:
            conn.executemany(
                "INSERT INTO alert_events (fingerprint, at, from_state, to_state, detail)"
                " VALUES (?, ?, ?, ?, ?)",
                events,
            )

    def refresh(self, conn: SqlConn, alerts: Sequence[Alert]) -> None:
        """Rewrite only the value, summary and last evaluation of ``alerts`` (same state).

        What a cycle does for the active alerts whose value moved: cheaper than the upsert of
        :meth:`write`, so readers see current values without slowing the cycle.
        """
        if alerts:
            conn.executemany(
                "UPDATE alerts SET value = ?, summary = ?, last_eval = ? WHERE fingerprint = ?",
                [(a.value, a.summary, a.last_eval, a.fingerprint) for a in alerts],
            )

    def last_writer(self, conn: SqlConn) -> str:
        """The id of the engine that last wrote alerts (see :meth:`set_writer`)."""
        row = conn.execute("SELECT writer FROM alert_writer WHERE id = 1").fetchone()
        return str(row["writer"]) if row is not None else ""

    def set_writer(self, conn: SqlConn, writer: str) -> None:
        """Record that the engine ``writer`` wrote alerts in this transaction.

        An engine keeps the active alerts in memory; another engine's writes since its own
        (two watchers on one store) tell it to read them again, or it would move the same
        alerts a second time.
        """
        conn.execute("UPDATE alert_writer SET writer = ? WHERE id = 1", (writer,))

    def alerts_at(self, at: float) -> list[Alert]:
        """The alerts as they were at ``at``, from their recorded state changes: each with the
        state its last change up to then left it in (alerts purged since are not known)."""
        rows = self.db.query(
            f"SELECT {', '.join(f'a.{c.strip()}' for c in _COLUMNS.split(','))},"
            " e.to_state AS state_then FROM alerts AS a JOIN alert_events AS e"
            " ON e.fingerprint = a.fingerprint WHERE e.id = (SELECT MAX(l.id) FROM alert_events"
            " AS l WHERE l.fingerprint = a.fingerprint AND l.at <= ?) ORDER BY a.fingerprint",
            (at,),
        )
        return [replace(_alert(r), state=AlertState(r["state_then"])) for r in rows]

    def events(self, fingerprint: str | None = None) -> list[dict[str, Any]]:
        """State changes, oldest first (of one alert when given)."""
        where, params = ("WHERE fingerprint = ?", (fingerprint,)) if fingerprint else ("", ())
        rows = self.db.query(f"SELECT * FROM alert_events {where} ORDER BY id", params)
        return [dict(r) for r in rows]

    def purge_resolved(self, conn: SqlConn, before: float) -> int:
        """Forget alerts resolved before ``before`` (their events too)."""
        conn.execute(
            "DELETE FROM alert_events WHERE fingerprint IN"
            " (SELECT fingerprint FROM alerts WHERE state = 'resolved' AND resolved_at < ?)",
            (before,),
        )
        cursor = conn.execute(
            "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ?", (before,)
        )
        return cursor.rowcount

    def acknowledge(self, target: str, *, by: str, now: float) -> list[Alert]:
        """Acknowledge the firing alerts whose fingerprint starts with ``target`` or whose rule
        is ``target``; return them with those it matches that were acknowledged already (as
        they are: acknowledging twice changes nothing). Raises InputError when no firing or
        acknowledged alert matches."""
        with self.db.transaction() as conn:
            self.lock(conn)
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM alerts WHERE state IN ('firing', 'acknowledged')"
                " AND (rule = ? OR fingerprint LIKE ?) ORDER BY fingerprint",
                (target, target.replace("%", "") + "%"),
            ).fetchall()
            if not rows:
                raise InputError(
                    f"no firing alert matches {target!r} (a rule or a fingerprint;"
                    " `plimsoll runtime alerts list` shows them)"
                )
            found = [_alert(r) for r in rows]
            acked = [
                replace(a, state=AlertState.ACKNOWLEDGED, acked_at=now, acked_by=by)
                for a in found
                if a.state is AlertState.FIRING
            ]
            self.write(
                conn,
                acked,
                [(a.fingerprint, now, "firing", "acknowledged", f"by {by}") for a in acked],
            )
        done = {a.fingerprint: a for a in acked}
        return [done.get(a.fingerprint, a) for a in found]

    # --- groups -----------------------------------------------------------------------------

    def groups(self, conn: SqlConn) -> dict[tuple[int, str], GroupState]:
        """Every notification group's state, by (route, key)."""
        return {
            (r["route"], r["group_key"]): GroupState(
                route=r["route"],
                key=r["group_key"],
                labels=json.loads(r["labels"]),
                created_at=r["created_at"],
                last_sent_at=r["last_sent_at"],
                sent=tuple(json.loads(r["sent"])),
                sends=r["sends"],
            )
            for r in conn.execute("SELECT * FROM alert_groups").fetchall()
        }

    def save_groups(
        self,
        conn: SqlConn,
        groups: Iterable[GroupState],
        removed: Iterable[tuple[int, str]] = (),
    ) -> None:
        """Write the groups that changed and delete the ones gone."""
        conn.executemany(
            _UPSERT_GROUP,
            [
                (
                    g.route,
                    g.key,
                    json.dumps(dict(g.labels), sort_keys=True),
                    g.created_at,
                    g.last_sent_at,
                    json.dumps(list(g.sent)),
                    g.sends,
                )
                for g in groups
            ],
        )
        conn.executemany(
            "DELETE FROM alert_groups WHERE route = ? AND group_key = ?", list(removed)
        )

    # --- silences ---------------------------------------------------------------------------

    def add_silence(self, silence: Silence, *, now: float) -> Silence:
        """Keep a silence; return it with its id."""
        if not silence.matchers:
            raise InputError("a silence needs at least one matcher (label=value)")
        if silence.ends_at <= silence.starts_at:
            raise InputError("a silence must end after it starts")
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO alert_silences (matchers, starts_at, ends_at, comment, created_by,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                (
                    json.dumps([str(m) for m in silence.matchers]),
                    silence.starts_at,
                    silence.ends_at,
                    silence.comment,
                    silence.created_by,
                    now,
                ),
            )
            silence_id = returned_id(cursor)
        return replace(silence, id=silence_id)

    def silences(self, *, active_at: float | None = None) -> list[Silence]:
        """The silences (only those in force at ``active_at`` when given), newest first."""
        sql = "SELECT * FROM alert_silences"
        params: tuple[Any, ...] = ()
        if active_at is not None:
            sql += " WHERE starts_at <= ? AND ends_at > ?"
            params = (active_at, active_at)
        return [
            Silence(
                matchers=tuple(_matchers(json.loads(r["matchers"]))),
                starts_at=r["starts_at"],
                ends_at=r["ends_at"],
                comment=r["comment"],
                created_by=r["created_by"],
                id=r["id"],
            )
            for r in self.db.query(sql + " ORDER BY id DESC", params)
        ]

    def expire_silence(self, silence_id: int, *, now: float) -> None:
        """End a silence now; raises InputError for an unknown id."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                # The earlier of the two, spelt for both databases (SQLite has no LEAST).
                "UPDATE alert_silences SET ends_at = CASE WHEN ends_at < ? THEN ends_at ELSE ? END"
                " WHERE id = ?",
                (now, now, silence_id),
            )
            if cursor.rowcount == 0:
                raise InputError(f"no silence with id {silence_id}")


def _matchers(texts: Iterable[str]) -> list[Matcher]:
    return [parse_matcher(t) for t in texts]
