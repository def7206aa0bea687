"""The parallel runner: results, errors, crashes and timeouts, each kept to its collector."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from plimsoll.code import runner
from plimsoll.code.collectors.base import CollectContext, Collector, CollectorError, SourceFile


class Counts(Collector):
    name = "counts"
    keys = ("files",)

    def collect(self, context: CollectContext) -> dict[str, Any]:
        return {"files": len(context.files), "pid": os.getpid()}


class Broken(Collector):
    name = "broken"
    keys = ()

    def collect(self, context: CollectContext) -> dict[str, Any]:
        raise CollectorError("the tool said no")


class Crashing(Collector):
    name = "crashing"
    keys = ()

    def collect(self, context: CollectContext) -> dict[str, Any]:
        return {"x": 1 / 0}


class Dying(Collector):
    name = "dying"
    keys = ()

    def collect(self, context: CollectContext) -> dict[str, Any]:
        os._exit(7)


class Hanging(Collector):
    name = "hanging"
    keys = ()

    def collect(self, context: CollectContext) -> dict[str, Any]:
        time.sleep(60)
        return {}


class Missing(Collector):
    name = "missing"
    keys = ()

    def unavailable(self) -> str | None:
        return "tool 'missing' is not installed"

    def collect(self, context: CollectContext) -> dict[str, Any]:
        raise AssertionError("never called")


def _context(tmp_path: Path) -> CollectContext:
    return CollectContext(tmp_path, (SourceFile("a.py", "1"), SourceFile("b.py", "2")))


def test_each_failure_stays_with_its_collector(tmp_path: Path) -> None:
    collectors = {c.name: c() for c in (Counts, Broken, Crashing, Dying, Hanging, Missing)}
    seen: list[str] = []
    result = runner.run(
        collectors, _context(tmp_path), timeout=2.0, on_done=lambda o: seen.append(o.name)
    )
    assert result.metrics["counts"]["files"] == 2
    assert result.metrics["counts"]["pid"] != os.getpid()  # ran in its own process
    assert result.errors["broken"] == "the tool said no"
    assert result.errors["crashing"].startswith(
        "ZeroDivisionError: division by zero (at test_runner.py:"
    )
    assert result.errors["dying"] == "process died (exit code 7)"
    assert result.errors["hanging"] == "timed out after 2s"
    assert result.errors["missing"] == "tool 'missing' is not installed"
    assert sorted(seen) == sorted(collectors)
    assert [o.name for o in result.outcomes] == list(collectors)


def test_jobs_limit_still_runs_everything(tmp_path: Path) -> None:
    collectors = {f"c{i}": Counts() for i in range(5)}
    result = runner.run(collectors, _context(tmp_path), jobs=2)
    assert set(result.metrics) == set(collectors)
    assert not result.errors


def test_timeout_kills_the_tools_a_collector_started(tmp_path: Path) -> None:
    marker = tmp_path / "child.pid"

    class SpawnsSleeper(Collector):
        name = "spawns"
        keys = ()

        def collect(self, context: CollectContext) -> dict[str, Any]:
            import subprocess

            proc = subprocess.Popen(["sleep", "60"])
            marker.write_text(str(proc.pid))
            proc.wait()
            return {}

    result = runner.run({"spawns": SpawnsSleeper()}, _context(tmp_path), timeout=1.5)
    assert result.errors["spawns"] == "timed out after 1.5s"
    pid = int(marker.read_text())
    time.sleep(0.2)
    # The sleeper was killed with its process group: it is gone or a zombie awaiting reaping.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z")


def test_unknown_collector_is_a_config_error() -> None:
    import pytest

    from plimsoll.core.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown collector 'nope'"):
        runner.load_collectors(["nope"])


def test_collectors_share_one_cache_file_without_racing(tmp_path: Path) -> None:
    from plimsoll.code.cache import SqliteFileCache

    class Caching(Collector):
        name = "caching"
        keys = ("hits",)

        def collect(self, context: CollectContext) -> dict[str, Any]:
            hits = 0
            for f in context.files:
                if context.cache.get(self.name, f.sha) is not None:
                    hits += 1
                context.cache.put(self.name, f.sha, {"seen": True})
            return {"hits": hits}

    cache = tmp_path / "fresh" / "files.sqlite"
    collectors = {f"c{i}": Caching() for i in range(8)}
    first = runner.run(collectors, _context(tmp_path), cache_path=cache)
    assert not first.errors
    second = runner.run(collectors, _context(tmp_path), cache_path=cache)
    assert {m["hits"] for m in second.metrics.values()} == {2}
    assert SqliteFileCache(cache).get("caching", "1") == {"seen": True}
