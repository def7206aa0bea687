"""From ``runtime.health`` to checks: types by entry point or import path, options validated."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from plimsoll.core.errors import CannotRunError, ConfigError, ExitCode
from plimsoll.runtime.checks.database import DatabaseHealthCheck
from plimsoll.runtime.checks.loader import DEFAULT_NOTE, build_checks, build_runner
from plimsoll.runtime.checks.service import ServiceHealthCheck
from plimsoll.runtime.checks.system import SystemHealthCheck
from plimsoll.runtime.config import HealthConfig, RuntimeConfig
from plimsoll.runtime.health import CheckContext, CheckResult, HealthCheck, Status

WHERE = "plimsoll.toml"
SECRET = "s3cret-pw"


class Depth(HealthCheck):
    """A queue-depth check made from an import path in these tests."""

    name = "depth"
    measurement = "depth"

    def __init__(self, *, depth: int, limit: int = 10, **common: Any) -> None:
        super().__init__(**common)
        self.depth, self.limit = depth, limit

    def check(self) -> CheckResult:
        status = Status.FAIL if self.depth >= self.limit else Status.PASS
        return self.result(status, self.depth, "messages")


def health(*checks: dict[str, Any], **settings: Any) -> HealthConfig:
    return RuntimeConfig.model_validate({"health": {"checks": list(checks), **settings}}).health


def error(config: HealthConfig, **kwargs: Any) -> str:
    with pytest.raises(ConfigError) as raised:
        build_checks(config, where=WHERE, **kwargs)
    assert raised.value.exit_code == ExitCode.USAGE
    return str(raised.value)


def test_builtins_by_entry_point_name_with_their_options() -> None:
    config = health(
        {"type": "system", "options": {"resources": ["memory"], "memory_warn_percent": 50}},
        {
            "type": "service",
            "component": "payments",
            "timeout_seconds": 2,
            "interval_seconds": 0,
            "options": {"url": "http://127.0.0.1:9/ping", "expected_status": [200, 204]},
        },
        {"type": "database", "options": {"url": "postgresql://u@db:5432/app"}},
        interval_seconds=30,
        timeout_seconds=4,
    )
    system, service, database = build_checks(config, where=WHERE)
    assert isinstance(system, SystemHealthCheck) and system.resources == ("memory",)
    assert system.memory == (50, 95.0)
    assert (system.interval_seconds, system.timeout_seconds) == (30, 4)
    assert isinstance(service, ServiceHealthCheck)
    assert (service.component, service.expected_status) == ("payments", (200, 204))
    assert (service.interval_seconds, service.timeout_seconds) == (0, 2)
    assert isinstance(database, DatabaseHealthCheck)
    assert database.component_id == "db:5432/app"


def test_a_check_by_import_path() -> None:
    config = health({"type": f"{__name__}:Depth", "options": {"depth": 12}})
    [check] = build_checks(config, where=WHERE)
    assert isinstance(check, Depth) and (check.depth, check.limit) == (12, 10)
    assert check.check().status is Status.FAIL


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"type": "postgres"},
            "plimsoll.toml: runtime.health.checks[0].type: unknown health check 'postgres' "
            "(known: database, service, system;",
        ),
        (
            {"type": "no_such_module_xyz:Check"},
            "runtime.health.checks[0].type: health check 'no_such_module_xyz:Check' could not "
            "be imported: ModuleNotFoundError",
        ),
        (
            {"type": f"{__name__}:health"},
            "runtime.health.checks[0].type: 'tests.runtime.test_loader:health' is not a "
            "plimsoll.runtime.health.HealthCheck class",
        ),
        (
            {"type": "system", "options": {"nope": 1}},
            "plimsoll.toml: runtime.health.checks[0].options.nope: unknown option",
        ),
        (
            {"type": "system", "options": {"cpu_warn_percent": "lots"}},
            "runtime.health.checks[0].options.cpu_warn_percent: Input should be a valid number",
        ),
        (
            {"type": "system", "options": {"resources": ["gpu"]}},
            "runtime.health.checks[0].options.resources[0]: Input should be 'cpu', 'memory'",
        ),
        (
            {"type": "system", "options": {"cpu_warn_percent": 99, "cpu_fail_percent": 90}},
            "runtime.health.checks[0].options: cpu_warn (99) must not exceed cpu_fail (90)",
        ),
        (
            {"type": "service", "options": {"method": "GET"}},
            "runtime.health.checks[0].options.url: required option is missing",
        ),
        (
            {"type": "service", "options": {"url": "ftp://x"}},
            "runtime.health.checks[0].options: url must be an http:// or https:// URL",
        ),
        (
            {"type": f"{__name__}:Depth", "options": {"limit": 3}},
            "runtime.health.checks[0].options.depth: required option is missing",
        ),
        (
            {"type": "database"},
            "runtime.health.checks[0].options: url: required option is missing",
        ),
    ],
)
def test_bad_checks_are_configuration_errors_naming_the_key(
    spec: dict[str, Any], expected: str
) -> None:
    assert expected in error(health(spec))


def test_a_bad_option_never_shows_the_url() -> None:
    url = f"postgresql://app:{SECRET}@db/app"
    message = error(health({"type": "database", "options": {"url": url, "latency_warn_ms": "x"}}))
    assert "options.latency_warn_ms" in message and SECRET not in message
    message = error(health({"type": "database", "options": {"url": f"password={SECRET} port"}}))
    assert "not a valid PostgreSQL connection URL" in message and SECRET not in message


def test_the_database_url_from_a_db_environment() -> None:
    asked: list[str | None] = []

    def database_url(environment: str | None) -> str:
        asked.append(environment)
        if environment == "missing":
            raise ConfigError("unknown database environment 'missing'; known: development")
        return "postgresql://app@primary:5432/app"

    context = CheckContext(database_url=database_url)
    default, named = build_checks(
        health({"type": "database"}, {"type": "database", "options": {"environment": "prod"}}),
        where=WHERE,
        context=context,
    )
    assert asked == [None, "prod"]
    assert isinstance(default, DatabaseHealthCheck) and default.component_id == "primary:5432/app"
    assert isinstance(named, DatabaseHealthCheck)
    message = error(
        health({"type": "database", "options": {"environment": "missing"}}), context=context
    )
    assert message.startswith("plimsoll.toml: runtime.health.checks[0].options: unknown database")
    both = {"url": "postgresql://x/y", "environment": "prod"}
    assert "either url or environment" in error(
        health({"type": "database", "options": both}), context=context
    )


def test_the_section_itself_is_validated() -> None:
    with pytest.raises(ValueError, match="extra_forbidden|Extra inputs"):
        RuntimeConfig.model_validate({"health": {"checkz": []}})
    with pytest.raises(ValueError, match="must not contain ':'"):
        RuntimeConfig.model_validate(
            {"health": {"checks": [{"type": "system", "component": "a:b"}]}}
        )
    with pytest.raises(ValueError, match="greater than 0"):
        RuntimeConfig.model_validate({"health": {"timeout_seconds": 0}})


def test_with_nothing_configured_the_system_check_runs_when_asked() -> None:
    assert build_checks(HealthConfig(), where=WHERE) == []
    runner = build_runner(HealthConfig(service_id="orders"), where=WHERE, default_system=True)
    [check] = runner.checks
    assert isinstance(check, SystemHealthCheck)
    doc = runner.run().document()
    assert doc["notes"] == [DEFAULT_NOTE] and doc["serviceId"] == "orders"
    assert "system:memoryUtilization" in doc["checks"]


def _distribution(site: Path, module: str, source: str, entry_points: str) -> None:
    """A tiny installed distribution: a module and a .dist-info declaring entry points."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


def test_a_custom_check_from_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"acme_checks_{uuid.uuid4().hex[:8]}"
    broken = f"acme_broken_{uuid.uuid4().hex[:8]}"
    _distribution(
        tmp_path,
        module,
        "from plimsoll.runtime.health import HealthCheck, Status\n\n"
        "class Queue(HealthCheck):\n"
        "    name = 'queue'\n"
        "    measurement = 'depth'\n"
        "    def __init__(self, *, depth: int, **common):\n"
        "        super().__init__(**common)\n"
        "        self.depth = depth\n"
        "    def check(self):\n"
        "        return self.result(Status.WARN if self.depth > 5 else Status.PASS, self.depth)\n",
        f"[plimsoll.health_checks]\nqueue = {module}:Queue\n",
    )
    _distribution(
        tmp_path,
        broken,
        "raise ImportError('needs libfoo')\n",
        f"[plimsoll.health_checks]\nbroken = {broken}:Check\n",
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    # The broken plugin is skipped while it is not configured.
    [check] = build_checks(
        health({"type": "queue", "component": "jobs", "options": {"depth": 7}}), where=WHERE
    )
    result = check.check()
    assert isinstance(result, CheckResult)
    assert (result.key, result.status, result.observed_value) == ("jobs:depth", Status.WARN, 7)
    assert "known: broken, database, queue, service, system" in error(health({"type": "nope"}))
    with pytest.raises(CannotRunError) as raised:
        build_checks(health({"type": "broken"}), where=WHERE)
    assert raised.value.exit_code == ExitCode.CANNOT_RUN
    assert f"health check 'broken' ({broken}:Check) failed to load: ImportError: needs libfoo" in (
        str(raised.value)
    )
