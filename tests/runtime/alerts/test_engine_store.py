"""What the engine writes to the store: current values, each change once with two watchers."""

from __future__ import annotations

from plimsoll.core.store import Store
from plimsoll.runtime import storage
from plimsoll.runtime.alerts.config import AlertsConfig
from plimsoll.runtime.alerts.engine import REFRESH_SECONDS, AlertEngine
from plimsoll.runtime.alerts.samples import StoreSamples
from plimsoll.runtime.alerts.state import AlertState, AlertStore
from plimsoll.runtime.watch import WatchStats
from tests.runtime.alerts.helpers import T0


def _config() -> AlertsConfig:
    return AlertsConfig.model_validate(
        {
            "evaluation_interval": "10s",
            "channels": ["hook"],
            "group_wait": "0s",
            "group_interval": "0s",
            "rules": [
                {
                    "name": "QueueDeep",
                    "metric": "queue_depth",
                    "op": ">",
                    "value": 10,
                    "summary": "queue at {value}",
                }
            ],
        }
    )


def _depth(store: Store, at: float, value: float) -> None:
    storage.add_samples(store, [storage.Sample("queue_depth", value, at)])


def _engine(store: Store) -> AlertEngine:
    return AlertEngine(_config(), store, StoreSamples(store), channels=["hook"])


def test_a_firing_alert_shows_its_current_value_every_cycle(any_store: Store) -> None:
    """Issue 6, review item 10: value and summary were rewritten only every 60 s."""
    engine = _engine(any_store)
    for step, value in enumerate((50.0, 70.0, 97.0)):
        at = T0 + 10 * step  # well within REFRESH_SECONDS of each other
        _depth(any_store, at, value)
        engine.cycle(at)
        [alert] = AlertStore(any_store).alerts()
        assert alert.state is AlertState.FIRING
        assert (alert.value, alert.summary, alert.last_eval) == (value, f"queue at {value:g}", at)
    assert 20 < REFRESH_SECONDS
    # An unchanged value is not rewritten each cycle (the cycle's cost stays bounded).
    _depth(any_store, T0 + 30, 97.0)
    engine.cycle(T0 + 30)
    [alert] = AlertStore(any_store).alerts()
    assert alert.last_eval == T0 + 20


def test_two_watchers_on_one_store_record_each_change_once(any_store: Store) -> None:
    """Issue 6, review item 13: every transition was written twice in alert_events."""
    first, second = _engine(any_store), _engine(any_store)
    timeline = [(0, 50.0), (10, 60.0), (20, 5.0), (30, 4.0), (40, 80.0), (50, 85.0)]
    for offset, value in timeline:
        at = T0 + offset
        _depth(any_store, at, value)
        first.cycle(at)
        second.cycle(at + 1)  # the other watcher, a moment later, on the same samples
    events = AlertStore(any_store).events()
    changes = [(e["from_state"], e["to_state"]) for e in events]
    # Fired, resolved, fired anew: three changes, each recorded once (and notified once).
    assert changes == [(None, "firing"), ("firing", "resolved"), (None, "firing")]
    titles = [i.payload["title"].split("]")[0] for i in any_store.outbox_pending()]
    assert titles == ["[FIRING:1", "[RESOLVED", "[FIRING:1"]


def test_a_stopped_watch_says_what_it_did_in_plain_words() -> None:
    assert WatchStats(cycles=1, delivered=1).summary() == (
        "stopped after 1 cycle; 1 notification delivered"
    )
    stats = WatchStats(cycles=3, delivered=0, failed_deliveries=2, given_up=1)
    assert stats.summary() == (
        "stopped after 3 cycles; 0 notifications delivered, 2 failed attempts,"
        " 1 given up (see the outbox)"
    )
