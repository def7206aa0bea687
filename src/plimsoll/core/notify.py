"""Delivery of messages to the configured channels, with retries, a circuit breaker and an outbox.

A :class:`Dispatcher` sends a :class:`Message` to named channels. Each channel gets a few
attempts with exponential backoff; consecutive failures open that channel's circuit breaker, and
while it is open messages go straight to the outbox in the store. Whatever could not be delivered
stays in the outbox until :meth:`Dispatcher.flush_outbox` delivers it, so nothing is lost while a
channel is down. Errors and logs are redacted: channel URLs, tokens and passwords never appear.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plimsoll.core.config import NotifyConfig
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
# How long a flush owns the items it claimed; after a crash they become due again by themselves.
OUTBOX_LEASE_SECONDS = 300.0
# How often a dispatcher deletes the messages delivered past notify.outbox_retention.
OUTBOX_PURGE_INTERVAL_SECONDS = 60.0
# Channels delivered at once by one send(); each may be waiting on retries.
MAX_PARALLEL_CHANNELS = 8


class DeliveryStatus(StrEnum):
    """What became of a message on one channel."""

    DELIVERED = "delivered"
    QUEUED = "queued"


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
        unknown = [name for name in names if name not in self.config.channels]
        if unknown:
            known = ", ".join(sorted(self.config.channels)) or "none"
            plural = "s" if len(unknown) > 1 else ""
            raise ConfigError(
                f"{where}: unknown channel{plural} {', '.join(unknown)} (configured: {known})"
            )
        return list(dict.fromkeys(names))

    def send(self, message: Message, channels: list[str] | None = None) -> list[DeliveryResult]:
        """Deliver ``message`` to each channel; what fails is kept in the outbox for a flush."""
        names = self.channel_names(channels)
        if len(names) <= 1:
            return [self._send_one(name, message) for name in names]
        with ThreadPoolExecutor(max_workers=min(len(names), MAX_PARALLEL_CHANNELS)) as pool:
            return list(pool.map(lambda name: self._send_one(name, message), names))

    def flush_outbox(
        self, channels: list[str] | None = None, *, limit: int = 100
    ) -> list[DeliveryResult]:
        """Try once more every outbox item that is due, oldest first; return what became of each.

        A channel whose item fails (or whose breaker is open) is not tried again in this flush,
        so its later items wait behind the first and keep their order.
        """
        names = None if channels is None else self.channel_names(channels)
        now = self._clock()
        items = self.store.outbox_claim(
            now, lease_seconds=OUTBOX_LEASE_SECONDS, channels=names, limit=limit
        )
        blocked: dict[str, float] = {}
        results = []
        for item in items:
            results.append(self._flush_one(item, now, blocked))
        self._purge_delivered(now)
        return results

    def _purge_delivered(self, now: float) -> None:
        """Delete the messages delivered longer ago than ``notify.outbox_retention`` (at most
        once a minute: a watch flushes every second)."""
        if now - self._purged_at < OUTBOX_PURGE_INTERVAL_SECONDS:
            return
        self._purged_at = now
        self.store.outbox_purge(now - self.config.outbox_retention_seconds)

    def pending(self, channel: str | None = None) -> list[OutboxItem]:
        """Return the undelivered outbox items, oldest first."""
        return self.store.outbox_pending(channel)

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

    def _send_one(self, name: str, message: Message) -> DeliveryResult:
        channel = self.config.channels[name]
        state = self.store.breaker_get(name)
        phase = self._phase(name, state)
        if phase is BreakerPhase.OPEN:
            error = f"circuit breaker open after {state.failures} consecutive failures"
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
                if message.key is not None:
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
        retry_at = self._retry_at(name, attempts)
        outbox_id = self._keep(name, message, retry_at, attempts=attempts, error=str(failure))
        return DeliveryResult(name, DeliveryStatus.QUEUED, attempts, str(failure), outbox_id)

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
        """Return when the outbox should try again: backoff, but never before the breaker resets."""
        channel = self.config.channels[name]
        now = self._clock()
        retry_at = now + backoff_delay(attempts, channel.backoff_seconds)
        state = self.store.breaker_get(name)
        if self._phase(name, state) is BreakerPhase.OPEN and state.opened_at is not None:
            retry_at = max(retry_at, state.opened_at + channel.breaker_reset_seconds)
        return retry_at

    def _keep(
        self, name: str, message: Message, retry_at: float, *, attempts: int, error: str
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

    def _flush_one(self, item: OutboxItem, now: float, blocked: dict[str, float]) -> DeliveryResult:
        name = item.channel
        if name not in self.config.channels:
            error = f"channel {name} is no longer configured"
            self.store.outbox_failed(
                item.id, error=error, next_attempt_at=now + MAX_BACKOFF_SECONDS
            )
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, error, item.id)
        if name in blocked:
            self.store.outbox_postpone(item.id, blocked[name])
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, item.last_error, item.id)
        channel = self.config.channels[name]
        state = self.store.breaker_get(name)
        if self._phase(name, state) is BreakerPhase.OPEN:
            blocked[name] = (state.opened_at or now) + channel.breaker_reset_seconds
            self.store.outbox_postpone(item.id, blocked[name])
            return DeliveryResult(name, DeliveryStatus.QUEUED, 0, item.last_error, item.id)
        failure = self._attempt(name, Message.from_dict(item.payload))
        if failure is None:
            self.store.outbox_delivered(item.id, self._clock())
            self.store.breaker_success(name)
            log.info(
                "notify %s: outbox item %d delivered",
                name,
                item.id,
                extra={"event": "notify.flushed", "channel": name, "outbox_id": item.id},
            )
            return DeliveryResult(name, DeliveryStatus.DELIVERED, 1, None, item.id)
        self._failed(name, failure, item.attempts + 1)
        blocked[name] = self._retry_at(name, item.attempts + 1)
        self.store.outbox_failed(item.id, error=str(failure), next_attempt_at=blocked[name])
        return DeliveryResult(name, DeliveryStatus.QUEUED, 1, str(failure), item.id)
