"""What keeps a notification quiet: label matchers, silences, maintenance windows, inhibition.

Matchers are Alertmanager's: ``name=value``, ``name!=value``, ``name=~regex``, ``name!~regex``
(regexes anchored at both ends, a missing label reads as the empty string). Silences live in
the store (see :mod:`.state`); maintenance windows and inhibition rules come from configuration.
A silenced, maintained or inhibited alert still changes state; it is only not notified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from plimsoll.runtime.alerts.config import InhibitRule, MaintenanceWindow


class MatchOp(StrEnum):
    """A matcher's operator."""

    EQ = "="
    NE = "!="
    RE = "=~"
    NRE = "!~"


_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")


@dataclass(frozen=True)
class Matcher:
    """One label matcher."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether ``labels`` satisfy this matcher (a missing label is the empty string)."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQ:
            return actual == self.value
        if self.op is MatchOp.NE:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op is MatchOp.RE else not found

    def __str__(self) -> str:
        return f'{self.name}{self.op.value}"{self.value}"'


@lru_cache(maxsize=4096)
def parse_matcher(text: str) -> Matcher:
    """A matcher from ``name=value``, ``name!=value``, ``name=~re`` or ``name!~re``.

    The value may be double-quoted. Raises ``ValueError`` naming the text when it is malformed.
    """
    match = _MATCHER.match(text)
    if match is None:
        raise ValueError(
            f"invalid matcher {text!r}: expected label=value, label!=value, "
            "label=~regex or label!~regex"
        )
    name, op_text, value = match.groups()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    op = MatchOp(op_text)
    regex = None
    if op in (MatchOp.RE, MatchOp.NRE):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"invalid matcher {text!r}: bad regex: {exc}") from None
    return Matcher(name, op, value, regex)


def parse_matchers(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Every matcher of ``texts``."""
    return tuple(parse_matcher(t) for t in texts)


def matches_all(matchers: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether ``labels`` satisfy every matcher (true for none)."""
    return all(m.matches(labels) for m in matchers)


@dataclass(frozen=True)
class Silence:
    """A silence: alerts matching every matcher are not notified from ``starts_at`` to ``ends_at``."""

    matchers: tuple[Matcher, ...]
    starts_at: float
    ends_at: float
    comment: str = ""
    created_by: str = ""
    id: int | None = None

    def active(self, now: float) -> bool:
        """Whether the silence is in force at ``now``."""
        return self.starts_at <= now < self.ends_at

    def silences(self, labels: Mapping[str, str], now: float) -> bool:
        """Whether it silences an alert with ``labels`` at ``now``."""
        return self.active(now) and matches_all(self.matchers, labels)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "matchers": [str(m) for m in self.matchers],
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "comment": self.comment,
            "created_by": self.created_by,
        }


# --- maintenance windows ------------------------------------------------------------------------

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _clock_time(text: str, key: str) -> time:
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError(f"{key} must be HH:MM, got {text!r}") from None


def _instant(text: str, key: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{key} must be an ISO 8601 time, got {text!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{key} needs a UTC offset (e.g. 2024-05-01T22:00:00+00:00)")
    return moment


def check_window(window: MaintenanceWindow) -> None:
    """Raise ``ValueError`` when a maintenance window is neither a valid one-off nor weekly one."""
    one_off = window.starts_at is not None or window.ends_at is not None
    weekly = bool(window.weekdays) or window.start is not None or window.end is not None
    if one_off == weekly:
        raise ValueError("give either starts_at and ends_at, or weekdays with start and end")
    if one_off:
        if window.starts_at is None or window.ends_at is None:
            raise ValueError("a one-off window needs both starts_at and ends_at")
        if _instant(window.ends_at, "ends_at") <= _instant(window.starts_at, "starts_at"):
            raise ValueError("ends_at must be after starts_at")
        return
    if window.start is None or window.end is None or not window.weekdays:
        raise ValueError("a weekly window needs weekdays, start and end")
    bad = [d for d in window.weekdays if d.lower() not in _WEEKDAYS]
    if bad:
        raise ValueError(f"unknown weekday {bad[0]!r} (use {', '.join(_WEEKDAYS)})")
    _clock_time(window.start, "start")
    _clock_time(window.end, "end")
    try:
        ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {window.timezone!r}") from None


def in_window(window: MaintenanceWindow, now: float) -> bool:
    """Whether ``now`` (epoch seconds) falls inside the maintenance window."""
    if window.starts_at is not None and window.ends_at is not None:
        begins = _instant(window.starts_at, "starts_at").timestamp()
        return begins <= now < _instant(window.ends_at, "ends_at").timestamp()
    assert window.start is not None and window.end is not None
    zone = ZoneInfo(window.timezone)
    local = datetime.fromtimestamp(now, zone)
    opens, closes = _clock_time(window.start, "start"), _clock_time(window.end, "end")
    days = {d.lower() for d in window.weekdays}
    # A window running past midnight began on the previous day: check both candidate starts.
    for back in (0, 1):
        day = local.date() - timedelta(days=back)
        if _WEEKDAYS[day.weekday()] not in days:
            continue
        opened = datetime.combine(day, opens, zone)
        closed = datetime.combine(day, closes, zone)
        if closes <= opens:
            closed += timedelta(days=1)
        if opened <= local < closed:
            return True
    return False


# --- the combined verdict -----------------------------------------------------------------------


@dataclass(frozen=True)
class Muting:
    """Silences, maintenance windows and inhibition rules, checked together at one moment."""

    silences: Sequence[Silence] = ()
    windows: Sequence[MaintenanceWindow] = ()
    inhibit: Sequence[InhibitRule] = ()

    def reason(
        self,
        labels: Mapping[str, str],
        now: float,
        firing: Sequence[Mapping[str, str]] = (),
    ) -> str | None:
        """Why an alert with ``labels`` is muted at ``now`` (None when it is not).

        ``firing`` are the labels of the alerts firing now, the possible inhibition sources.
        """
        for silence in self.silences:
            if silence.silences(labels, now):
                return f"silenced by silence {silence.id}"
        for window in self.windows:
            if matches_all(parse_matchers(window.matchers), labels) and in_window(window, now):
                return f"in maintenance window {window.name}"
        for rule in self.inhibit:
            if not matches_all(parse_matchers(rule.target_matchers), labels):
                continue
            sources = parse_matchers(rule.source_matchers)
            for source in firing:
                if source is labels or dict(source) == dict(labels):
                    continue  # an alert never inhibits itself
                if matches_all(sources, source) and all(
                    source.get(name, "") == labels.get(name, "") for name in rule.equal
                ):
                    return f"inhibited by {source.get('alertname', 'an alert')}"
        return None
