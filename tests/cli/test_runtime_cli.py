"""``plimsoll runtime health`` end to end: configured checks, formats, exit codes, plugins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.runtime.health_schema import validate
from tests.support.postgres import PgDatabase
from tests.support.servers import HttpRecorder

# The real `plimsoll` entry point with the runtime group added the way main.py registers it;
# harmless once it is registered there.
_RUNNER = (
    "import sys\n"
    "from plimsoll.cli import main, runtime\n"
    "if not any(g.name == 'runtime' for g in main.app.registered_groups):\n"
    "    main.app.add_typer(runtime.app, name='runtime')\n"
    "sys.argv = ['plimsoll', *sys.argv[1:]]\n"
    "main.run()\n"
)
SECRET = "s3cret-pw"


def plimsoll(
    cwd: Path, *args: str, check: int | None = 0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``plimsoll`` with ``runtime`` available, and check its exit code."""
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        env={**os.environ, "CI": "true", "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
    )
    if check is not None:
        assert done.returncode == check, f"exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    (root / ".git").mkdir(parents=True)  # the configuration search stops here
    return root


def write_config(root: Path, text: str) -> None:
    (root / "plimsoll.toml").write_text(text)


def test_without_checks_the_system_check_runs(project: Path) -> None:
    done = plimsoll(project, "runtime", "health", "-f", "json", check=None)
    doc = json.loads(done.stdout)
    validate(doc)
    assert done.returncode == (1 if doc["status"] == "fail" else 0)
    assert doc["notes"] == [
        "no health checks configured (runtime.health.checks): ran the system check"
    ]
    [disk] = doc["checks"]["system:diskUtilization"]
    assert disk["componentId"] == "/"
    assert disk["observedValue"] == pytest.approx(psutil.disk_usage("/").percent, abs=0.5)
    assert set(doc["checks"]) == {
        "system:cpuUtilization",
        "system:memoryUtilization",
        "system:diskUtilization",
        "system:openFiles",
        "system:threads",
    }
    text = plimsoll(project, "runtime", "health", check=None)
    assert "ran the system check" in text.stderr
    assert "system:memoryUtilization" in text.stdout and "status: " in text.stdout


def test_configured_checks_pass(
    project: Path, pg_database: PgDatabase, http_recorder: HttpRecorder
) -> None:
    write_config(
        project,
        f'[db.environments.development]\nurl = "{pg_database.dsn}"\n\n'
        '[runtime.health]\nservice_id = "orders"\n\n'
        "[[runtime.health.checks]]\n"
        'type = "system"\noptions = { resources = ["memory"], memory_fail_percent = 100 }\n\n'
        '[[runtime.health.checks]]\ntype = "database"\ncomponent = "orders-db"\n\n'
        '[[runtime.health.checks]]\ntype = "service"\ncomponent = "payments"\n'
        f'options = {{ url = "{http_recorder.url}/ping", method = "HEAD" }}\n',
    )
    doc = json.loads(plimsoll(project, "runtime", "health", "--format", "json").stdout)
    validate(doc)
    assert (doc["status"], doc["serviceId"]) in {("pass", "orders"), ("warn", "orders")}
    assert "notes" not in doc
    [db] = doc["checks"]["orders-db:responseTime"]
    assert db["status"] == "pass" and db["observedUnit"] == "ms"
    assert db["componentId"] == f"{pg_database.host}:{pg_database.port}/{pg_database.dbname}"
    assert doc["checks"]["payments:responseTime"][0]["status"] == "pass"
    assert [r.method for r in http_recorder.requests_to("/ping")] == ["HEAD"]
    text = plimsoll(project, "runtime", "health").stdout
    assert "orders-db:responseTime" in text and "payments:responseTime" in text
    assert "status: pass" in text or "status: warn" in text


def test_a_failing_check_exits_1_without_showing_a_password(
    project: Path, http_recorder: HttpRecorder
) -> None:
    http_recorder.script(500, 500)
    write_config(
        project,
        "[[runtime.health.checks]]\n"
        f'type = "service"\noptions = {{ url = "{http_recorder.url}/ping" }}\n\n'
        "[[runtime.health.checks]]\n"
        'type = "database"\ntimeout_seconds = 3\n'
        f'options = {{ url = "postgresql://app:{SECRET}@127.0.0.1:1/app" }}\n',
    )
    done = plimsoll(project, "runtime", "health", "-f", "json", check=1)
    doc = json.loads(done.stdout)
    validate(doc)
    assert doc["status"] == "fail"
    assert doc["output"] == "fail: service:responseTime, database:responseTime"
    assert doc["checks"]["service:responseTime"][0]["output"] == "HTTP 500 (expected 200)"
    assert "127.0.0.1" in doc["checks"]["database:responseTime"][0]["output"]
    text = plimsoll(project, "runtime", "health", check=1)
    assert "HTTP 500 (expected 200)" in text.stdout and "status: fail" in text.stdout
    for out in (done, text):
        assert SECRET not in out.stdout + out.stderr
        assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (
            '[[runtime.health.checks]]\ntype = "system"\noptions = { nope = 1 }\n',
            "plimsoll.toml: runtime.health.checks[0].options.nope: unknown option",
        ),
        (
            '[[runtime.health.checks]]\ntype = "postgres"\n',
            "runtime.health.checks[0].type: unknown health check 'postgres' (known: database,",
        ),
        (
            "[runtime.health]\nchekcs = []\n",
            "plimsoll.toml: runtime.health.chekcs: unknown key",
        ),
        (
            '[[runtime.health.checks]]\ntype = "database"\noptions = { environment = "prod" }\n',
            "runtime.health.checks[0].options: unknown database environment 'prod'",
        ),
    ],
)
def test_bad_configuration_exits_2_naming_the_key(
    project: Path, config: str, expected: str
) -> None:
    write_config(project, config)
    done = plimsoll(project, "runtime", "health", check=2)
    assert expected in done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_the_section_in_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n\n'
        "[[tool.plimsoll.runtime.health.checks]]\n"
        'type = "system"\ncomponent = "host"\noptions = { resources = ["threads"] }\n'
    )
    doc = json.loads(plimsoll(project, "runtime", "health", "-f", "json").stdout)
    assert list(doc["checks"]) == ["host:threads"]
    (project / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n\n[tool.plimsoll.runtime.health]\ntimeout_seconds = -1\n'
    )
    done = plimsoll(project, "runtime", "health", check=2)
    assert "pyproject.toml [tool.plimsoll]: runtime.health.timeout_seconds:" in done.stderr


def test_a_custom_check_from_the_users_package(project: Path) -> None:
    # A real (if tiny) installed distribution: a module plus a .dist-info declaring the
    # plimsoll.health_checks entry points, found by importlib.metadata on PYTHONPATH.
    site = project.parent / "site"
    site.mkdir()
    (site / "acme_health.py").write_text(
        "import time\n"
        "from plimsoll.runtime.health import HealthCheck, Status\n\n"
        "class Queue(HealthCheck):\n"
        "    name = 'queue'\n"
        "    measurement = 'depth'\n"
        "    def __init__(self, *, path: str, limit: int = 10, **common):\n"
        "        super().__init__(**common)\n"
        "        self.path, self.limit = path, limit\n"
        "    def check(self):\n"
        "        depth = int(open(self.path).read())\n"
        "        status = Status.FAIL if depth >= self.limit else Status.PASS\n"
        "        return self.result(status, depth, 'messages', f'{depth} waiting')\n\n"
        "class Sleepy(HealthCheck):\n"
        "    name = 'sleepy'\n"
        "    def check(self):\n"
        "        time.sleep(120)\n"
    )
    info = site / "acme_health-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-health\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[plimsoll.health_checks]\nqueue = acme_health:Queue\nsleepy = acme_health:Sleepy\n"
        "broken = acme_missing:Check\n"
    )
    depth = project / "depth.txt"
    depth.write_text("3\n")
    write_config(
        project,
        f'[[runtime.health.checks]]\ntype = "queue"\noptions = {{ path = "{depth}" }}\n',
    )
    env = {"PYTHONPATH": str(site)}
    doc = json.loads(plimsoll(project, "runtime", "health", "-f", "json", env=env).stdout)
    assert doc["checks"]["queue:depth"][0]["observedValue"] == 3
    assert doc["status"] == "pass"
    depth.write_text("12\n")
    failed = json.loads(
        plimsoll(project, "runtime", "health", "-f", "json", env=env, check=1).stdout
    )
    assert failed["checks"]["queue:depth"][0]["output"] == "12 waiting"

    # A check stuck past its timeout fails, and the command still ends at once (the stuck
    # thread would sleep two minutes; the subprocess is given one).
    write_config(project, '[[runtime.health.checks]]\ntype = "sleepy"\ntimeout_seconds = 0.5\n')
    stuck = json.loads(
        plimsoll(project, "runtime", "health", "-f", "json", env=env, check=1).stdout
    )
    assert stuck["checks"]["sleepy:status"][0]["output"] == "timed out after 0.5s"

    write_config(project, '[[runtime.health.checks]]\ntype = "broken"\n')
    broken = plimsoll(project, "runtime", "health", env=env, check=3)
    assert "health check 'broken' (acme_missing:Check) failed to load: ModuleNotFoundError" in (
        broken.stderr
    )
