"""The instruments against prometheus_client itself: every value is read back from the registry
with ``get_sample_value`` (what prometheus_client reports), each test in a registry of its own."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref
from collections.abc import Iterator

import prometheus_client
import pytest
from prometheus_client import CollectorRegistry

from plimsoll.core.errors import ExitCode, UsageError
from plimsoll.runtime import instruments
from plimsoll.runtime.instruments import (
    Counter,
    CounterChild,
    Gauge,
    GaugeChild,
    Histogram,
    HistogramChild,
    InProgress,
    InstrumentError,
    Summary,
    Timer,
)


@pytest.fixture
def reg() -> CollectorRegistry:
    """A throwaway registry."""
    return CollectorRegistry()


@pytest.fixture
def default_registry() -> Iterator[CollectorRegistry]:
    """A fresh registry made the default for the test, the previous one restored after."""
    fresh = CollectorRegistry()
    previous = instruments.set_default_registry(fresh)
    yield fresh
    instruments.set_default_registry(previous)


# --- the four metric types ----------------------------------------------------------------------


def test_counter_counts_into_its_registry(reg: CollectorRegistry) -> None:
    jobs = Counter("jobs", "Jobs done.", registry=reg)
    jobs.inc()
    jobs.inc(2.5)
    assert reg.get_sample_value("jobs_total") == 3.5
    with pytest.raises(ValueError, match="negative"):
        jobs.inc(-1)  # prometheus_client's own check, untouched


def test_counter_name_with_or_without_total_is_one_metric(reg: CollectorRegistry) -> None:
    first = Counter("requests_total", "Requests.", registry=reg)
    second = Counter("requests", "Requests.", registry=reg)
    assert first is second
    assert first.name == "requests"
    second.inc()
    assert reg.get_sample_value("requests_total") == 1


def test_namespace_subsystem_and_unit_build_the_name(reg: CollectorRegistry) -> None:
    counter = Counter(
        "sent", "Sent.", namespace="shop", subsystem="mail", unit="bytes", registry=reg
    )
    counter.inc(10)
    assert counter.name == "shop_mail_sent_bytes"
    assert reg.get_sample_value("shop_mail_sent_bytes_total") == 10
    assert (
        Counter(
            "sent_bytes", "Sent.", namespace="shop", subsystem="mail", unit="bytes", registry=reg
        )
        is counter
    )


def test_gauge_goes_up_down_and_to_the_clock(reg: CollectorRegistry) -> None:
    depth = Gauge("depth", "Queue depth.", registry=reg)
    depth.inc(5)
    depth.dec(2)
    assert reg.get_sample_value("depth") == 3
    depth.set(-4.5)
    assert reg.get_sample_value("depth") == -4.5
    before = time.time()
    depth.set_to_current_time()
    assert before <= (reg.get_sample_value("depth") or 0) <= time.time()


def test_histogram_buckets_count_and_sum(reg: CollectorRegistry) -> None:
    latency = Histogram("latency_seconds", "Latency.", buckets=(0.1, 1, 5), registry=reg)
    for value in (0.05, 0.1, 0.5, 2, 10):
        latency.observe(value)
    bucket = {
        le: reg.get_sample_value("latency_seconds_bucket", {"le": le})
        for le in ("0.1", "1.0", "5.0", "+Inf")
    }
    assert bucket == {"0.1": 2, "1.0": 3, "5.0": 4, "+Inf": 5}
    assert reg.get_sample_value("latency_seconds_count") == 5
    assert reg.get_sample_value("latency_seconds_sum") == pytest.approx(12.65)


def test_histogram_default_buckets_are_prometheus_clients(reg: CollectorRegistry) -> None:
    histogram = Histogram("h", "H.", registry=reg)
    assert histogram.spec.buckets == tuple(prometheus_client.Histogram.DEFAULT_BUCKETS)


def test_histogram_exemplar_reaches_openmetrics(reg: CollectorRegistry) -> None:
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics

    latency = Histogram("ex_seconds", "Latency.", buckets=(1,), registry=reg)
    latency.observe(0.5, {"trace_id": "abc123"})
    assert '# {trace_id="abc123"} 0.5' in openmetrics(reg).decode()


def test_summary_count_and_sum(reg: CollectorRegistry) -> None:
    sizes = Summary("payload_bytes", "Sizes.", registry=reg)
    sizes.observe(100)
    sizes.observe(300)
    assert reg.get_sample_value("payload_bytes_count") == 2
    assert reg.get_sample_value("payload_bytes_sum") == 400


# --- get-or-create and conflicts ------------------------------------------------------------------


def test_declaring_twice_returns_the_same_instrument(reg: CollectorRegistry) -> None:
    first = Histogram("h_seconds", "First doc.", ["route"], buckets=(1, 2), registry=reg)
    again = Histogram(
        "h_seconds", "Another doc is fine.", ("route",), buckets=[1, 2, float("inf")], registry=reg
    )
    assert again is first
    assert instruments.declared(reg) == (first,)


def test_same_name_in_two_registries_is_two_metrics(reg: CollectorRegistry) -> None:
    other = CollectorRegistry()
    mine, theirs = Counter("c", "C.", registry=reg), Counter("c", "C.", registry=other)
    assert mine is not theirs
    mine.inc(3)
    assert (reg.get_sample_value("c_total"), other.get_sample_value("c_total")) == (3, 0)


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        (
            lambda r: Gauge("dup", "D.", ["method"], registry=r),
            "as a gauge with labels ('method',)",
        ),
        (
            lambda r: Counter("dup", "D.", ["path"], registry=r),
            "as a counter with labels ('path',)",
        ),
        (
            lambda r: Counter("dup", "D.", ["method", "code"], registry=r),
            "with labels ('method', 'code')",
        ),
        (lambda r: Counter("dup", "D.", registry=r), "as a counter with labels ()"),
    ],
)
def test_redeclaring_with_another_shape_fails_clearly(
    reg: CollectorRegistry, second, expected: str
) -> None:  # type: ignore[no-untyped-def]
    Counter("dup", "D.", ["method"], registry=reg)
    with pytest.raises(InstrumentError) as caught:
        second(reg)
    message = str(caught.value)
    assert message.startswith(
        "metric 'dup' is already declared in this registry as a counter with labels ('method',)"
    )
    assert expected in message


def test_label_order_buckets_and_mode_are_part_of_the_shape(reg: CollectorRegistry) -> None:
    Counter("ordered", "O.", ["a", "b"], registry=reg)
    with pytest.raises(InstrumentError, match=r"\('b', 'a'\)"):
        Counter("ordered", "O.", ["b", "a"], registry=reg)
    Histogram("hb", "H.", buckets=(1, 2), registry=reg)
    with pytest.raises(InstrumentError, match=r"buckets \(1, 3, \+Inf\)"):
        Histogram("hb", "H.", buckets=(1, 3), registry=reg)
    Gauge("gm", "G.", multiprocess_mode="livesum", registry=reg)
    with pytest.raises(InstrumentError, match="multiprocess_mode 'max'"):
        Gauge("gm", "G.", multiprocess_mode="max", registry=reg)


def test_the_error_is_a_usage_error_and_a_value_error(reg: CollectorRegistry) -> None:
    Counter("kind", "K.", registry=reg)
    with pytest.raises(InstrumentError) as caught:
        Summary("kind", "K.", registry=reg)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, UsageError)
    assert caught.value.exit_code == ExitCode.USAGE


def test_series_name_clash_names_the_other_instrument(reg: CollectorRegistry) -> None:
    Counter("events", "E.", registry=reg)
    with pytest.raises(InstrumentError) as caught:
        Gauge("events_total", "E.", registry=reg)
    assert str(caught.value) == (
        "metric 'events_total' (gauge) clashes with 'events', already declared as a counter with "
        "labels (): they expose the same series ['events_total']"
    )


def test_a_metric_registered_outside_plimsoll(reg: CollectorRegistry) -> None:
    prometheus_client.Counter("external", "Made by prometheus_client.", registry=reg)
    with pytest.raises(
        InstrumentError, match="already registered in this registry outside plimsoll"
    ):
        Counter("external", "E.", registry=reg)


def test_bad_declarations_fail_at_the_call(reg: CollectorRegistry) -> None:
    with pytest.raises(InstrumentError, match="not the string 'method'"):
        Counter("c1", "C.", "method", registry=reg)
    with pytest.raises(InstrumentError, match="the label 'le' is reserved in a histogram"):
        Histogram("h1", "H.", ["le"], registry=reg)
    with pytest.raises(InstrumentError, match="the label 'quantile' is reserved in a summary"):
        Summary("s1", "S.", ["quantile"], registry=reg)
    with pytest.raises(InstrumentError, match="non-empty name"):
        Gauge("", "G.", registry=reg)
    with pytest.raises(InstrumentError, match="metric 'g1': Invalid multiprocess mode: sometimes"):
        Gauge("g1", "G.", multiprocess_mode="sometimes", registry=reg)
    with pytest.raises(InstrumentError, match="metric 'h2': Buckets not in sorted order"):
        Histogram("h2", "H.", buckets=(2, 1), registry=reg)
    with pytest.raises(InstrumentError, match="buckets must be numbers"):
        Histogram("h3", "H.", buckets=("fast",), registry=reg)  # type: ignore[arg-type]
    with pytest.raises(
        InstrumentError, match="metric .c2.: Reserved label metric name: __reserved"
    ):
        Counter("c2", "C.", ["__reserved"], registry=reg)
    # Nothing half-made was left behind: the names are still free.
    assert instruments.declared(reg) == ()
    Counter("c1", "C.", ["method"], registry=reg).labels("GET").inc()
    assert reg.get_sample_value("c1_total", {"method": "GET"}) == 1


def test_unregister_frees_the_name(reg: CollectorRegistry) -> None:
    old = Gauge("temp", "T.", registry=reg)
    old.set(5)
    old.unregister()
    assert reg.get_sample_value("temp") is None
    new = Counter("temp", "Now a counter.", registry=reg)
    assert new is not old
    new.inc()
    assert reg.get_sample_value("temp_total") == 1


def test_default_registry_is_used_and_restored(default_registry: CollectorRegistry) -> None:
    counter = Counter("in_default", "D.")
    counter.inc(4)
    assert counter.registry is default_registry
    assert default_registry.get_sample_value("in_default_total") == 4
    assert prometheus_client.REGISTRY.get_sample_value("in_default_total") is None
    assert Counter("in_default", "D.") is counter
    assert instruments.set_default_registry(None) is default_registry
    assert instruments.get_default_registry() is prometheus_client.REGISTRY
    instruments.set_default_registry(default_registry)


# --- labels ---------------------------------------------------------------------------------------


def test_labelled_series_are_cached_children(reg: CollectorRegistry) -> None:
    requests = Counter("req", "R.", ["method", "code"], registry=reg)
    get_ok = requests.labels("GET", "200")
    assert isinstance(get_ok, CounterChild)
    assert requests.labels("GET", "200") is get_ok
    assert requests.labels(code="200", method="GET") is requests.labels(method="GET", code="200")
    get_ok.inc()
    requests.labels(method="GET", code="200").inc()
    requests.labels("GET", 200).inc()  # an int label value is the same series as "200"
    assert reg.get_sample_value("req_total", {"method": "GET", "code": "200"}) == 3
    assert get_ok.label_values == ("GET", "200")
    assert isinstance(Gauge("g", "G.", ["x"], registry=reg).labels("a"), GaugeChild)
    assert isinstance(Histogram("h", "H.", ["x"], registry=reg).labels("a"), HistogramChild)


def test_unhashable_label_values_use_their_str(reg: CollectorRegistry) -> None:
    tagged = Counter("tagged", "T.", ["tags"], registry=reg)
    tagged.labels(["a", "b"]).inc()
    assert reg.get_sample_value("tagged_total", {"tags": "['a', 'b']"}) == 1


def test_wrong_labels_fail_clearly(reg: CollectorRegistry) -> None:
    requests = Counter("req", "R.", ["method"], registry=reg)
    with pytest.raises(
        InstrumentError, match=r"counter 'req' has labels \('method',\): pick a series"
    ):
        requests.inc()
    with pytest.raises(InstrumentError, match=r"takes 1 label value\(s\) \('method',\), got 2"):
        requests.labels("GET", "extra")
    with pytest.raises(InstrumentError, match=r"takes the labels \('method',\), got \('verb',\)"):
        requests.labels(verb="GET")
    with pytest.raises(InstrumentError, match="by position or by name, not both"):
        requests.labels("GET", method="GET")
    with pytest.raises(InstrumentError, match="has no labels"):
        Counter("plain", "P.", registry=reg).labels("x")
    latency = Histogram("lat", "L.", ["route"], registry=reg)
    with pytest.raises(InstrumentError, match="pick a series"):
        latency.time()
    with pytest.raises(InstrumentError, match="pick a series"):
        Timer(latency)
    with pytest.raises(InstrumentError, match="pick a series"):
        Gauge("busy", "B.", ["pool"], registry=reg).track_inprogress()


def test_remove_and_clear_drop_series_and_cache(reg: CollectorRegistry) -> None:
    requests = Counter("req", "R.", ["code"], registry=reg)
    old = requests.labels(200)
    old.inc(5)
    requests.labels("200").inc()
    requests.labels("404").inc()
    requests.remove("200")
    assert reg.get_sample_value("req_total", {"code": "200"}) is None
    fresh = requests.labels(200)
    assert fresh is not old
    fresh.inc()
    assert reg.get_sample_value("req_total", {"code": "200"}) == 1
    requests.clear()
    assert reg.get_sample_value("req_total", {"code": "404"}) is None
    with pytest.raises(InstrumentError, match="got 2"):
        requests.remove("a", "b")


def test_threads_hitting_labels_and_children(reg: CollectorRegistry) -> None:
    hits = Counter("hits", "H.", ["worker"], registry=reg)
    shared = hits.labels("shared")

    def work(n: int) -> None:
        mine = hits.labels(f"w{n % 2}")
        for _ in range(5_000):
            shared.inc()
            mine.inc()
            hits.labels("shared").inc()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert reg.get_sample_value("hits_total", {"worker": "shared"}) == 80_000
    assert reg.get_sample_value("hits_total", {"worker": "w0"}) == 20_000
    assert reg.get_sample_value("hits_total", {"worker": "w1"}) == 20_000


def test_hot_path_is_prometheus_clients_own_method(reg: CollectorRegistry) -> None:
    counter = Counter("fast", "F.", registry=reg)
    latency = Histogram("fast_seconds", "F.", ["route"], registry=reg).labels("/")
    # No wrapper frame: the bound method on the instance is prometheus_client's.
    assert counter.inc.__self__ is counter.metric  # type: ignore[attr-defined]
    assert isinstance(counter.metric, prometheus_client.Counter)
    assert latency.observe.__self__ is latency.metric  # type: ignore[attr-defined]


# --- Timer ----------------------------------------------------------------------------------------


def test_timer_as_context_manager(reg: CollectorRegistry) -> None:
    latency = Histogram("block_seconds", "B.", buckets=(0.01, 10), registry=reg)
    with latency.time() as timer:
        time.sleep(0.02)
    assert timer.elapsed is not None and timer.elapsed >= 0.02
    assert reg.get_sample_value("block_seconds_count") == 1
    assert reg.get_sample_value("block_seconds_sum") == pytest.approx(timer.elapsed)
    assert reg.get_sample_value("block_seconds_bucket", {"le": "0.01"}) == 0


def test_timer_records_when_the_block_raises(reg: CollectorRegistry) -> None:
    latency = Summary("failing_seconds", "F.", registry=reg)
    with pytest.raises(KeyError), latency.time():
        raise KeyError("boom")
    assert reg.get_sample_value("failing_seconds_count") == 1


def test_timer_decorates_a_function(reg: CollectorRegistry) -> None:
    latency = Histogram("call_seconds", "C.", ["op"], registry=reg)

    @latency.labels("add").time()
    def add(a: int, b: int) -> int:
        """Add."""
        time.sleep(0.01)
        return a + b

    assert add(2, 3) == 5
    assert add(b=1, a=1) == 2
    assert (add.__name__, add.__doc__) == ("add", "Add.")
    assert reg.get_sample_value("call_seconds_count", {"op": "add"}) == 2
    assert (reg.get_sample_value("call_seconds_sum", {"op": "add"}) or 0) >= 0.02


def test_timer_decorates_a_function_that_raises(reg: CollectorRegistry) -> None:
    latency = Histogram("raising_seconds", "R.", registry=reg)

    @latency.time()
    def fail() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        fail()
    assert reg.get_sample_value("raising_seconds_count") == 1


def test_timer_decorates_an_async_function(reg: CollectorRegistry) -> None:
    latency = Histogram("async_seconds", "A.", registry=reg)

    @latency.time()
    async def fetch(delay: float) -> str:
        await asyncio.sleep(delay)
        return "done"

    async def main() -> list[str]:
        return await asyncio.gather(*(fetch(0.05) for _ in range(4)))

    started = time.perf_counter()
    assert asyncio.run(main()) == ["done"] * 4
    wall = time.perf_counter() - started
    assert asyncio.iscoroutinefunction(fetch)
    # Each call's await was timed, not just the creation of its coroutine: four overlapping
    # 50 ms calls sum to at least 200 ms while the whole took less than their sum.
    assert reg.get_sample_value("async_seconds_count") == 4
    total = reg.get_sample_value("async_seconds_sum") or 0
    assert total >= 0.2
    assert wall < total


def test_timer_async_with(reg: CollectorRegistry) -> None:
    latency = Summary("awith_seconds", "A.", registry=reg)

    async def main() -> Timer:
        async with latency.time() as timer:
            await asyncio.sleep(0.01)
        return timer

    timer = asyncio.run(main())
    assert reg.get_sample_value("awith_seconds_sum") == pytest.approx(timer.elapsed)
    assert (timer.elapsed or 0) >= 0.01


def test_gauge_timer_sets_the_last_duration(reg: CollectorRegistry) -> None:
    last_run = Gauge("last_run_seconds", "L.", registry=reg)
    with last_run.time() as timer:
        time.sleep(0.01)
    assert reg.get_sample_value("last_run_seconds") == pytest.approx(timer.elapsed)


def test_timer_on_a_callable_and_bad_targets(reg: CollectorRegistry) -> None:
    seen: list[float] = []
    with Timer(seen.append):
        pass
    assert len(seen) == 1 and seen[0] >= 0
    with pytest.raises(InstrumentError, match="Timer needs a histogram"):
        Timer(Gauge("not_observable", "N.", registry=reg))  # type: ignore[arg-type]


def test_decorating_a_generator_is_refused(reg: CollectorRegistry) -> None:
    latency = Histogram("gen_seconds", "G.", registry=reg)

    def numbers() -> Iterator[int]:
        yield 1

    with pytest.raises(InstrumentError, match="cannot decorate the generator function"):
        latency.time()(numbers)


# --- InProgress -----------------------------------------------------------------------------------


def test_track_inprogress_sync_async_and_with(reg: CollectorRegistry) -> None:
    busy = Gauge("busy", "B.", registry=reg)
    seen: list[float | None] = []

    @busy.track_inprogress()
    def sync_job() -> None:
        seen.append(reg.get_sample_value("busy"))

    @busy.track_inprogress()
    async def async_job(gate: asyncio.Event) -> None:
        await gate.wait()

    sync_job()
    assert seen == [1]

    async def main() -> float | None:
        gate = asyncio.Event()
        tasks = [asyncio.create_task(async_job(gate)) for _ in range(3)]
        await asyncio.sleep(0.01)
        during = reg.get_sample_value("busy")
        gate.set()
        await asyncio.gather(*tasks)
        return during

    assert asyncio.run(main()) == 3
    with busy.track_inprogress():
        assert reg.get_sample_value("busy") == 1
    with pytest.raises(ValueError), InProgress(busy):
        raise ValueError("still decremented")
    assert reg.get_sample_value("busy") == 0


def test_declarations_do_not_keep_a_registry_alive() -> None:
    registry = CollectorRegistry()
    counter = Counter("short_lived", "S.", ["a"], registry=registry)
    counter.labels("x").inc()
    gone = weakref.ref(registry)
    del registry
    gc.collect()
    assert gone() is None
    assert counter.registry is None
    counter.unregister()  # nothing left to unregister from: a no-op
