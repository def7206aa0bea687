"""``runtime`` commands with ``store.url`` set: their tables live in the PostgreSQL store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import psycopg
import pytest

from plimsoll.core.store import open_store
from plimsoll.runtime import storage
from plimsoll.runtime.storage import UsageEvent
from tests.support import cli
from tests.support.cli import plimsoll
from tests.support.postgres import PgDatabase


def test_runtime_commands_use_a_postgres_store(
    tmp_path: Path, pg_database: PgDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(cli.ENV, "PLIMSOLL_STORE_URL", pg_database.dsn)
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)  # the configuration search stops here
    (root / "plimsoll.toml").write_text('[store]\nurl = "${PLIMSOLL_STORE_URL}"\n')
    now = time.time()
    with open_store(url=pg_database.dsn) as store:
        storage.add_events(
            store,
            [UsageEvent("feature", "search", now - 60 - i, float(i + 1)) for i in range(4)],
            dropped=2,
            now=now - 30,
        )
    usage = json.loads(plimsoll(root, "runtime", "usage", "-w", "1h", "-f", "json").stdout)
    assert (usage["events"], usage["dropped"]) == (4, 2)
    [search] = usage["features"]
    assert (search["feature"], search["calls"], search["p50_ms"]) == ("search", 4, 2.5)

    assert json.loads(plimsoll(root, "runtime", "alerts", "list", "-f", "json").stdout) == {
        "alerts": []
    }
    made = plimsoll(
        root, "runtime", "alerts", "silence", "-m", "host=a", "--for", "1h", "-f", "json"
    )
    silence = json.loads(made.stdout)["silence"]
    listed = json.loads(
        plimsoll(root, "runtime", "alerts", "silence", "--list", "-f", "json").stdout
    )
    assert [s["id"] for s in listed["silences"]] == [silence["id"]]
    # Where the commands wrote: the PostgreSQL store, and no SQLite file appeared.
    with psycopg.connect(pg_database.dsn) as conn:
        rows = conn.execute("SELECT id, matchers FROM plimsoll.alert_silences").fetchall()
    assert rows == [(silence["id"], '["host=\\"a\\""]')]
    assert not (root / ".plimsoll" / "state.db").exists()
