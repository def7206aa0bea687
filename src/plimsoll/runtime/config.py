"""The ``runtime`` section of the configuration (today: ``runtime.health``).

The models live in ``plimsoll.core.config`` (one model tree, and the core knows no part); this
module names them for the runtime part.

Example (``plimsoll.toml``; under ``[tool.plimsoll.runtime...]`` in ``pyproject.toml``)::

    [runtime.health]
    interval_seconds = 10        # results are kept this long (a check may set its own)
    timeout_seconds = 5          # a check still running after this is a fail
    service_id = "orders"

    [[runtime.health.checks]]
    type = "system"              # an entry point of plimsoll.health_checks, or "pkg.mod:Class"
    options = { disk_paths = ["/", "/var/lib/app"], memory_warn_percent = 80 }

    [[runtime.health.checks]]
    type = "database"
    component = "orders-db"
    options = { url = "${DATABASE_URL}" }   # or environment = "production" (db.environments)

    [[runtime.health.checks]]
    type = "service"
    component = "payments"
    timeout_seconds = 2
    options = { url = "http://payments:8080/health", expected_status = [200, 204] }
"""

from plimsoll.core.config import (
    HealthCheckConfig,
    HealthConfig,
    MonitorConfig,
    RetentionTierConfig,
    RuntimeConfig,
    UsageConfig,
)

__all__ = [
    "HealthCheckConfig",
    "HealthConfig",
    "MonitorConfig",
    "RetentionTierConfig",
    "RuntimeConfig",
    "UsageConfig",
]
