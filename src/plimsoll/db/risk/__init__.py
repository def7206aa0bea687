"""Migration risk: lock profile, live facts, a published score, and predicted downtime.

Public API (stable; the interactive wizard and the dashboard build on it)::

    from plimsoll.db.risk import RiskConfig, assess

    report = assess(migrations, conninfo, config=RiskConfig(), store=store)
    for migration in report.migrations:
        print(migration.label, migration.level, migration.lock_seconds.text())
        for statement in migration.statements:
            statement.lock_level, statement.blocks_reads, statement.blocks_writes
            statement.rewrites, statement.scans, statement.tables
            statement.lock_seconds.low, statement.lock_seconds.mean, statement.lock_seconds.high
            statement.recommendations          # "create the index CONCURRENTLY (...)", ...
    report.as_dict()                           # what `plimsoll db risk --format json` prints

* :func:`assess` (``assessment.py``) runs an assessment and returns a :class:`RiskReport`
  (``report.py``) of :class:`MigrationRisk` and :class:`StatementRisk` results, each with its
  :class:`Score` (``score.py``) and :class:`Estimate` of seconds (``predict.py``).
* :class:`RiskConfig` (``config.py``) is the ``db.risk`` configuration section.
* :class:`Level` (``levels.py``) and :class:`LockLevel` (``locks.py``) are the enums used in
  results.

The names are loaded on first use: reading the configuration imports only ``config`` (and
pydantic), never the database driver.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from plimsoll.db.risk.assessment import assess
    from plimsoll.db.risk.config import RiskConfig
    from plimsoll.db.risk.levels import Level
    from plimsoll.db.risk.locks import LockLevel
    from plimsoll.db.risk.predict import Estimate
    from plimsoll.db.risk.report import (
        LockHold,
        MigrationRisk,
        RiskReport,
        StatementRisk,
        TableImpact,
    )
    from plimsoll.db.risk.score import Factor, Score

__all__ = [
    "Estimate",
    "Factor",
    "Level",
    "LockHold",
    "LockLevel",
    "MigrationRisk",
    "RiskConfig",
    "RiskReport",
    "Score",
    "StatementRisk",
    "TableImpact",
    "assess",
]

_HOMES = {
    "assess": "assessment",
    "RiskConfig": "config",
    "Level": "levels",
    "LockLevel": "locks",
    "Estimate": "predict",
    "LockHold": "report",
    "MigrationRisk": "report",
    "RiskReport": "report",
    "StatementRisk": "report",
    "TableImpact": "report",
    "Factor": "score",
    "Score": "score",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)
