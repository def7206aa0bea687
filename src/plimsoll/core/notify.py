"""Delivery of messages to the configured channels, with retries, a circuit breaker and an outbox.

A :class:`Dispatcher` sends a :class:`Message` to named channels. Each channel gets a few
attempts with exponential backoff; consecutive failures open that channel's circuit breaker, and
while it is open messages go straight to the outbox in the store. Whatever could not be delivered
stays in the outbox until :meth:`Dispatcher.flush_outbox` delivers it, so nothing is lost while a
channel is down. Errors and logs are redacted: channel URLs, tokens and passwords never appear.

A channel's messages arrive in the order they were sent: none is delivered while an older one
to the same channel is still undelivered (a message sent meanwhile queues behind them, and the
outbox is claimed first in, first out per channel). So that one bad message cannot hold its
channel forever, an item that failed in a way retrying cannot fix (the channel rejected it), or
that failed :data:`PROBE_AFTER_ATTEMPTS` times, is set aside when it fails again and the next
message of its channel is tried: if that one goes through, the channel works and the old item
is given up (kept in the outbox, ``dead_at`` set, listed by ``Store.outbox_given_up``); if it
fails too, the channel is at fault and the old item goes first again. A failed item is retried
after an exponential backoff capped at the channel's ``breaker_reset_seconds``, so a channel
that is back is noticed within one breaker period whatever its backlog.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from plimsoll.core.config import NotifyConfig, unknown_channels
from plimsoll.core.errors import ConfigError
from plimsoll.core.log import get_logger
from plimsoll.core.notifiers import load_notifiers
from plimsoll.core.notifiers.base import (
    DeliveryError,
    Message,
    Notifier,
    Severity,
    redact,
    secret_values,
)
from plimsoll.core.store import BreakerState, OutboxItem, SqliteStore, Store

__all__ = [
    "BreakerPhase",
    "DeliveryError",
    "DeliveryResult",
    "DeliveryStatus",
    "Dispatcher",
    "Message",
    "Severity",
    "backoff_delay",
    "breaker_phase",
]

log = get_logger(__name__)

# No retry waits longer than this, however many attempts an outbox item has behind it.
MAX_BACKOFF_SECONDS = 3600.0
# An item that failed this many times is set aside when it fails again, and the next item of
# its channel tried: if that one goes through, the old one is given up (see the module's doc).
PROBE_AFTER_ATTEMPTS = 5
# How long a flush owns the items it claimed; after a crash they become due again by themselves.
OUTBOX_LEASE_SECONDS = 300.0
# How often a dispatcher deletes the messages delivered past notify.outbox_retention.
OUTBOX_PURGE_INTERVAL_SECONDS = 60.0
# Channels delivered at once by one send(); each may be waiting on retries.
MAX_PARALLEL_CHANNELS = 8


class DeliveryStatus(StrEnum):
    """What became of a message on one channel.

    ``queued``: kept in the outbox for a later try; ``failed``: not delivered and not kept
    (``send(keep=False)``); ``given_up``: an outbox item set aside so its channel's later
    messages can go (see the module's doc).
    """

    DELIVERED = "delivered"
    QUEUED = "queued"
    FAILED = "failed"
    GIVEN_UP = "given_up"


class BreakerPhase(StrEnum):
    """The state of a channel's circuit breaker."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome on one channel: delivered, or kept in the outbox (with the redacted reason)."""

    channel: str
    status: DeliveryStatus
    attempts: int
    error: str | None = None
    outbox_id: int | None = None

    @property
    def delivered(self) -> bool:
        """Return True when the message reached the channel."""
        return self.status is DeliveryStatus.DELIVERED


def breaker_phase(
    state: BreakerState, *, now: float, threshold: int, reset_seconds: float
) -> BreakerPhase:
    """Return the breaker phase: open after ``threshold`` failures, half-open after the reset."""
    if state.opened_at is None or state.failures < max(threshold, 1):
        return BreakerPhase.CLOSED
    if now - state.opened_at >= reset_seconds:
        return BreakerPhase.HALF_OPEN
    return BreakerPhase.OPEN


def backoff_delay(attempt: int, base_seconds: float, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Return the wait before retry number ``attempt`` (0-based): ``base * 2**attempt``, capped."""
    if base_seconds <= 0:
        return 0.0
    return float(min(cap, base_seconds * 2 ** min(max(attempt, 0), 32)))


class Dispatcher:
    """Sends messages to the channels of a :class:`NotifyConfig`, keeping failures in the outbox.

    ``store`` holds the outbox and breaker state; without one, a private in-memory store is used
    (so undelivered messages last only as long as this dispatcher). ``clock`` and ``sleep`` are
    parameters so tests and callers with their own loop control time.
    """

    def __init__(
        self,
        config: NotifyConfig,
        store: Store | None = None,
        *,
        notifiers: Mapping[str, type[Notifier[Any]]] | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._owns_store = store is None
        self.store: Store = store if store is not None else SqliteStore.memory()
        self._classes = dict(notifiers) if notifiers is not None else load_notifiers()
        self._instances: dict[str, Notifier[Any]] = {}
        self._clock = clock
        self._sleep = sleep
        self._secrets = [s for channel in config.channels.values() for s in secret_values(channel)]
        self._purged_at = -math.inf

    def close(self) -> None:
        """Close the store if this dispatcher opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public ---------------------------------------------------------------------------

    def channel_names(self, channels: Iterable[str] | None = None) -> list[str]:
        """Return the channels a send goes to: ``channels``, else the defaults, else all.

        An unknown name raises ConfigError naming it, before anything is sent.
        """
        if channels is not None:
            names, where = list(channels), "notify"
        elif self.config.default_channels:
            names, where = list(self.config.default_channels), "notify.default_channels"
        else:
            names, where = list(self.config.channels), "notify"
        problem = unknown_channels(where, names, self.config.channels)
        if problem is not None:
            raise ConfigError(problem)
        return list(dict.fromkeys(names))

    def send(
        self, message: Message, channels: list[str] | None = None, *, keep: bool = True
    ) -> list[DeliveryResult]:
        """Deliver ``message`` to each channel; what fails is kept in the outbox for a flush.

        A channel with older messages still in the outbox gets this one behind them (they are
        flushed first, in order). With ``keep=False`` nothing is kept: a failure is reported
        as ``failed`` and forgotten (a test message, outside the channel's queue).
        """
        names = self.channel_names(channels)
        if len(names) <= 1:
            return [self._send_one(name, message, keep) for name in names]
        with ThreadPoolExecutor(max_workers=min(len(names), MAX_PARALLEL_CHANNELS)) as pool:
            return list(pool.map(lambda name: self._send_one(name, message, keep), names))

    def flush_outbox(
        self, channels: list[str] | None = None, *, limit: int = 100
    ) -> list[DeliveryResult]:
        """Try once more every outbox item that is due, oldest first; return what became of each.

        A channel whose item fails (or whose breaker is open) is not tried again in this flush,
        so its later items wait behind the first and keep their order (but see the module's
        doc on an item set aside after repeated or unfixable failures).
        """
        names = None if channels is None else self.channel_names(channels)
        now = self._clock()
        items = self.store.outbox_claim(
            now, lease_seconds=OUTBOX_LEASE_SECONDS, channels=names, limit=limit
        )
        flush = _Flush(now)
        last = {item.channel: index for index, item in enumerate(items)}
        for index, item in enumerate(items):
            flush.results.append(self._flush_one(item, flush, followed=last[item.channel] > index))
        self._purge_delivered(now)
        return flush.results

    def _purge_delivered(self, now: float) -> None:
        """Delete the messages delivered longer ago than ``notify.outbox_retention`` (at most
        once a minute: a watch flushes every second)."""
        if now - self._purged_at < OUTBOX_PURGE_INTERVAL_SECONDS:
            return
        self._purged_at = now
        self.store.outbox_purge(now - self.config.outbox_retention_seconds)

    def pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the undelivered outbox items (not those given up), oldest first."""
        return self.store.outbox_pending(channel)

    def given_up(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the outbox items given up (until the outbox retention purges them)."""
        return self.store.outbox_given_up(channel)

    # --- internals ------------------------------------------------------------------------

    def _notifier(self, kind: str) -> Notifier[Any]:
        instance = self._instances.get(kind)
        if instance is None:
            cls = self._classes.get(kind)
            if cls is None:
                raise DeliveryError(f"no notifier is installed for kind {kind!r}", retryable=False)
            instance = self._instances[kind] = cls()
        return instance

    def _redact(self, text: str) -> str:
        secrets = list(self._secrets)
        token = os.environ.get("GITHUB_TOKEN")
        if token:
            secrets.append(token)
        return redact(text, secrets)

    def _attempt(self, name: str, message: Message) -> DeliveryError | None:
        """Deliver once; return the (redacted) failure, or None on success."""
        channel = self.config.channels[name]
        try:
            self._notifier(channel.kind).deliver(message, channel)
        except DeliveryError as exc:
            return DeliveryError(self._redact(str(exc)), retryable=exc.retryable)
        except Exception as exc:  # a third-party notifier's bug must not lose the message
            return DeliveryError(self._redact(f"{type(exc).__name__}: {exc}"), retryable=False)
        return None

    def _phase(self, name: str, state: BreakerState) -> BreakerPhase:
        channel = self.config.channels[name]
        return breaker_phase(
            state,
            now=self._clock(),
            threshold=channel.breaker_threshold,
            reset_seconds=channel.breaker_reset_seconds,
        )

    def _send_one(self, name: str, message: Message, keep: bool = True) -> DeliveryResult:
        channel = self.config.channels[name]
        if keep:
            head = self.store.outbox_head(name)
            if head is not None:
                return self._send_behind(name, message, head)
        state = self.store.breaker_get(name)
        phase = self._phase(name, state)
        if phase is BreakerPhase.OPEN:
            error = f"circuit breaker open after {state.failures} consecutive failures"
            if not keep:
                return DeliveryResult(name, DeliveryStatus.FAILED, 0, error)
            retry_at = (state.opened_at or self._clock()) + channel.breaker_reset_seconds
            outbox_id = self._keep(name, message, retry_at, attempts=0, error=error)
            log.info(
                "notify %s: breaker open, message kept in the outbox",
                name,
                extra={"event": "notify.queued", "channel": name, "outbox_id": outbox_id},
            )
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, error, outbox_id)
        # A half-open breaker allows one trial; a failure re-opens it at once.
        max_attempts = 1 if phase is BreakerPhase.HALF_OPEN else 1 + max(channel.retries, 0)
        attempts = 0
        failure: DeliveryError | None = None
        for index in range(max_attempts):
            attempts += 1
            failure = self._attempt(name, message)
            if failure is None:
                self.store.breaker_success(name)
                if message.key is not None and keep:
                    # An older undelivered message about the same thing must not arrive later
                    # and overwrite this one (a GitHub comment would go back in time).
                    self.store.outbox_supersede(name, message.key, self._clock())
                log.info(
                    "notify %s: delivered",
                    name,
                    extra={"event": "notify.delivered", "channel": name, "attempts": attempts},
                )
                return DeliveryResult(name, DeliveryStatus.DELIVERED, attempts)
            state = self._failed(name, failure, attempts)
            if not failure.retryable or self._phase(name, state) is not BreakerPhase.CLOSED:
                break
            if index + 1 < max_attempts:
                self._sleep(backoff_delay(index, channel.backoff_seconds))
        assert failure is not None  # the loop ran at least once and did not return
        if not keep:
            return DeliveryResult(name, DeliveryStatus.FAILED, attempts, str(failure))
        retry_at = self._retry_at(name, attempts)
        outbox_id = self._keep(name, message, retry_at, attempts=attempts, error=str(failure))
        return DeliveryResult(name, DeliveryStatus.QUEUED, attempts, str(failure), outbox_id)

    def _send_behind(self, name: str, message: Message, head: OutboxItem) -> DeliveryResult:
        """Queue ``message`` behind the older items of its channel, then flush the channel.

        Delivering it at once would overtake them: it goes out when they have (in this very
        flush when the channel works and they are due).
        """
        outbox_id = self._keep(name, message, self._clock(), attempts=0, error=None)
        results = self.flush_outbox([name])
        mine = next((r for r in results if r.outbox_id == outbox_id), None)
        if mine is not None and mine.delivered:
            return mine
        if mine is not None and mine.attempts:  # its turn came, and it failed itself
            return replace(mine, status=DeliveryStatus.QUEUED)
        state = self.store.breaker_get(name)
        if self._phase(name, state) is BreakerPhase.OPEN:
            error = f"circuit breaker open after {state.failures} consecutive failures"
        else:
            error = head.last_error or "the oldest is waiting for its next try"
        error = f"{error} (queued behind older messages to {name})"
        return DeliveryResult(name, DeliveryStatus.QUEUED, 0, error, outbox_id)

    def _failed(self, name: str, failure: DeliveryError, attempt: int) -> BreakerState:
        channel = self.config.channels[name]
        log.warning(
            "notify %s: attempt %d failed: %s",
            name,
            attempt,
            failure,
            extra={"event": "notify.failed", "channel": name, "attempt": attempt},
        )
        return self.store.breaker_failure(
            name, now=self._clock(), threshold=channel.breaker_threshold
        )

    def _retry_at(self, name: str, attempts: int) -> float:
        """Return when the outbox should try again: backoff (capped at the breaker's reset),
        but never before an open breaker resets."""
        channel = self.config.channels[name]
        now = self._clock()
        # Capped at the breaker's reset: a channel's whole queue waits on its oldest item, and
        # a channel that is back must be noticed within one breaker period.
        delay = backoff_delay(attempts, channel.backoff_seconds)
        retry_at = now + min(delay, max(channel.breaker_reset_seconds, 0.0))
        state = self.store.breaker_get(name)
        if self._phase(name, state) is BreakerPhase.OPEN and state.opened_at is not None:
            retry_at = max(retry_at, state.opened_at + channel.breaker_reset_seconds)
        return retry_at

    def _keep(
        self, name: str, message: Message, retry_at: float, *, attempts: int, error: str | None
    ) -> int:
        return self.store.outbox_add(
            name,
            message.to_dict(),
            now=self._clock(),
            next_attempt_at=retry_at,
            attempts=attempts,
            last_error=error,
            dedupe_key=message.key,
        )

    def _flush_one(self, item: OutboxItem, flush: _Flush, *, followed: bool) -> DeliveryResult:
        """Try one claimed item; ``followed``: a later item of its channel is in this flush."""
        name, now = item.channel, flush.now
        if name not in self.config.channels:
            error = f"channel {name} is no longer configured"
            flush.blocked[name] = now + MAX_BACKOFF_SECONDS
            self.store.outbox_failed(item.id, error=error, next_attempt_at=flush.blocked[name])
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, error, item.id)
        if name in flush.blocked:
            self.store.outbox_postpone(item.id, flush.blocked[name])
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, item.last_error, item.id)
        # The item tried in place of an older one set aside goes whatever the breaker says:
        # it is what tells a bad message from a channel that is down.
        aside = flush.aside.pop(name, None)
        if aside is None:
            channel = self.config.channels[name]
            state = self.store.breaker_get(name)
            if self._phase(name, state) is BreakerPhase.OPEN:
                flush.blocked[name] = (state.opened_at or now) + channel.breaker_reset_seconds
                self.store.outbox_postpone(item.id, flush.blocked[name])
                return DeliveryResult(name, DeliveryStatus.QUEUED, 0, item.last_error, item.id)
        failure = self._attempt(name, Message.from_dict(item.payload))
        if failure is None:
            self.store.outbox_delivered(item.id, self._clock())
            self.store.breaker_success(name)
            if aside is not None:
                log.warning(
                    "notify %s: outbox item %d given up after %d attempts (%s):"
                    " the channel took the next message",
                    name,
                    aside.item.id,
                    aside.item.attempts + 1,
                    aside.error,
                    extra={"event": "notify.given_up", "channel": name, "outbox_id": aside.item.id},
                )
            log.info(
                "notify %s: outbox item %d delivered",
                name,
                item.id,
                extra={"event": "notify.flushed", "channel": name, "outbox_id": item.id},
            )
            return DeliveryResult(name, DeliveryStatus.DELIVERED, 1, None, item.id)
        self._failed(name, failure, item.attempts + 1)
        retry_at = self._retry_at(name, item.attempts + 1)
        self.store.outbox_failed(item.id, error=str(failure), next_attempt_at=retry_at)
        if aside is not None:
            # The next message failed too: the channel is at fault, not the older message,
            # which goes first again.
            self.store.outbox_revive(aside.item.id, next_attempt_at=retry_at, error=aside.error)
            flush.results[aside.index] = replace(
                flush.results[aside.index], status=DeliveryStatus.QUEUED
            )
        elif followed and (not failure.retryable or item.attempts + 1 >= PROBE_AFTER_ATTEMPTS):
            # Set aside before the next item is tried, so no message ever goes out while an
            # older one of its channel is live; revived above if the next one fails as well.
            reason = (
                f"{failure} (given up after {item.attempts + 1} attempts:"
                " the channel's later messages go first)"
            )
            self.store.outbox_give_up(item.id, now=self._clock(), error=reason)
            flush.aside[name] = _Aside(item, len(flush.results), str(failure))
            return DeliveryResult(name, DeliveryStatus.GIVEN_UP, 1, reason, item.id)
        flush.blocked[name] = retry_at
        return DeliveryResult(name, DeliveryStatus.QUEUED, 1, str(failure), item.id)


@dataclass(frozen=True)
class _Aside:
    """An outbox item set aside in a flush while the next item of its channel is tried."""

    item: OutboxItem
    index: int  # of its result in the flush's results
    error: str  # its own failure, restored if it goes first again


@dataclass
class _Flush:
    """The state of one flush: per channel, when it is tried again or what is set aside."""

    now: float
    blocked: dict[str, float] = field(default_factory=dict)
    aside: dict[str, _Aside] = field(default_factory=dict)
    results: list[DeliveryResult] = field(default_factory=list)
