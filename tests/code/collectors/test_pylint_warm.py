"""The warm pylint server: its results are the cold driver's, and it stays out of the way.

Each test runs a real server (``python -m plimsoll.code.collectors._pylint_server``, started by
the collector as it is for a user) on a real project, and compares with pylint run by hand.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import socket
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.code.collectors import _pylint_warm
from plimsoll.code.collectors.pylint import PylintCollector
from plimsoll.core.config import CodeConfig
from tests.code.collectors.data_tools import DictCache, context_for, run, write_tree
from tests.code.collectors.test_pylint import SAMPLE_FILES, _assert_equals_plain_run

SERVED = "pylint_warm_served"


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A short private folder for the sockets (a unix socket path is short); servers stopped."""
    folder = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PLIMSOLL_PYLINT_SERVER", raising=False)
    try:
        yield folder
    finally:
        for lock in folder.rglob("*.lock"):
            pid = lock.read_text().strip()
            if pid:
                try:
                    os.kill(int(pid), signal.SIGTERM)
                except ProcessLookupError:
                    pass
        shutil.rmtree(folder, ignore_errors=True)


def _socket(root: Path) -> Path:
    path = _pylint_warm.socket_for(root, PylintCollector().cache_key(context_for(root)))
    assert path is not None
    return path


def _wait_ready(sock: Path, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if _pylint_warm.ping(sock):
            return
        time.sleep(0.2)
    raise AssertionError(f"no warm server answered at {sock}")


def _served(caplog: pytest.LogCaptureFixture) -> int:
    return sum(1 for r in caplog.records if getattr(r, "event", None) == SERVED)


def _server_pid(sock: Path) -> int:
    return int(Path(f"{sock}.lock").read_text().strip())


def _gone(pid: int, seconds: float = 30) -> bool:
    """Whether process ``pid`` ends within ``seconds`` (reaped, when it is this one's child)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return True
        except ChildProcessError:  # not this process's child: is it still there at all?
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
        time.sleep(0.1)
    return False


@pytest.mark.integration
def test_warm_runs_equal_pylints_own_and_cold_runs(
    tmp_path: Path, runtime: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    root = write_tree(tmp_path / "project", SAMPLE_FILES)
    cache = DictCache()
    first = PylintCollector().collect(context_for(root, cache=cache))
    assert _served(caplog) == 0  # nothing to ask yet: this run starts the server
    sock = _socket(root)
    _wait_ready(sock)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    _assert_equals_plain_run(root, first)

    # Box loses `size`: use.py now gets a no-member error, found by the server's child.
    models = SAMPLE_FILES["app/models.py"].replace("self.size = 1", "self.width = 1")
    write_tree(root, {"app/models.py": models})
    changed = PylintCollector().collect(context_for(root, cache=cache))
    assert _served(caplog) == 1
    assert changed["linted_files"] == 3
    assert isinstance(changed["top_symbols"], dict)
    assert changed["top_symbols"]["no-member"] == 1
    _assert_equals_plain_run(root, changed)
    # The same files linted cold (no server: --no-cache's context) give the same metrics.
    cold = PylintCollector().collect(context_for(root))
    assert _served(caplog) == 1
    assert {**cold, "linted_files": 0, "cached_files": 0} == {
        **changed,
        "linted_files": 0,
        "cached_files": 0,
    }

    # What one child inferred does not stay for the next: the change undone, the error goes.
    write_tree(root, {"app/models.py": SAMPLE_FILES["app/models.py"]})
    back = PylintCollector().collect(context_for(root, cache=DictCache()))
    assert _served(caplog) == 2
    assert "no-member" not in back["top_symbols"]
    _assert_equals_plain_run(root, back)


@pytest.mark.integration
def test_a_dependency_that_changed_makes_the_server_stale(
    tmp_path: Path, runtime: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    lib = write_tree(
        tmp_path / "lib",
        {"extlib.py": '"""Lib."""\n\n\ndef scale(a, b):\n    """Scale."""\n    return a * b\n'},
    )
    monkeypatch.setenv("PYTHONPATH", str(lib))
    use = '"""Use."""\n\nimport extlib\n\nVALUE = extlib.scale(1, 2)\n'
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/use.py": use})
    cache = DictCache()
    PylintCollector().collect(context_for(root, cache=cache))
    sock = _socket(root)
    _wait_ready(sock)
    pid = _server_pid(sock)
    built = json.loads(sock.with_suffix(".json").read_text())["modules"]
    assert [str(lib / "extlib.py")] == [path for name, path in built if name == "extlib"]

    # The dependency drops a parameter (a release): the call now has one argument too many.
    (lib / "extlib.py").write_text(
        '"""Lib."""\n\n\ndef scale(a):\n    """Scale."""\n    return a\n'
    )
    write_tree(root, {"app/use.py": use + "\nOTHER = 2\n"})
    after = PylintCollector().collect(context_for(root, cache=cache))
    assert _served(caplog) == 0  # stale: the collector ran pylint cold
    assert _gone(pid)
    by_hand = json.loads(run(root, "pylint", "--output-format=json2", "app").stdout)
    assert after["top_symbols"]["too-many-function-args"] == 1
    assert after["score"] == by_hand["statistics"]["score"]
    _wait_ready(sock)  # a new server, started by that cold run
    assert _server_pid(sock) != pid


@pytest.mark.integration
def test_an_idle_server_stops_and_removes_its_socket(tmp_path: Path, runtime: Path) -> None:
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/m.py": "import json\n"})
    config = CodeConfig(pylint_server_idle_seconds=1)
    PylintCollector().collect(context_for(root, config=config, cache=DictCache()))
    sock = _socket(root)
    _wait_ready(sock)
    pid = _server_pid(sock)
    assert _gone(pid)
    assert not sock.exists()
    # Nothing left for a `kill $(cat ...lock)` to hit once the process id is reused.
    assert not Path(f"{sock}.lock").read_text().strip()
    assert not sock.with_suffix(".json").exists()


@pytest.mark.integration
def test_a_server_whose_project_is_removed_stops(tmp_path: Path, runtime: Path) -> None:
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/m.py": "import json\n"})
    PylintCollector().collect(context_for(root, cache=DictCache()))
    sock = _socket(root)
    _wait_ready(sock)
    pid = _server_pid(sock)
    shutil.rmtree(root)
    assert _gone(pid, seconds=60)


@pytest.mark.integration
def test_no_server_with_no_cache_under_ci_or_switched_off(
    tmp_path: Path, runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/m.py": "import json\n"})
    PylintCollector().collect(context_for(root))  # --no-cache: a cold run starts nothing
    monkeypatch.setenv("CI", "true")
    PylintCollector().collect(context_for(root, cache=DictCache()))
    monkeypatch.delenv("CI")
    monkeypatch.setenv("PLIMSOLL_PYLINT_SERVER", "0")
    PylintCollector().collect(context_for(root, cache=DictCache()))
    monkeypatch.delenv("PLIMSOLL_PYLINT_SERVER")
    config = CodeConfig(pylint_server_idle_seconds=0)
    PylintCollector().collect(context_for(root, config=config, cache=DictCache()))
    time.sleep(1)
    assert not list(runtime.rglob("*.sock"))
    assert not list(runtime.rglob("*.lock"))


def test_when_a_server_may_be_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.delenv("PLIMSOLL_PYLINT_SERVER", raising=False)
    plain = {"/p/pyproject.toml": '{"messages control": {"disable": ["C0114"]}}'}
    assert _pylint_warm.wanted(900, plain, cached=True)
    assert not _pylint_warm.wanted(900, plain, cached=False)
    assert not _pylint_warm.wanted(0, plain, cached=True)
    # A plugin or an init hook would run twice in the server's child.
    assert not _pylint_warm.wanted(
        900, {"/p/.pylintrc": "[MAIN]\nload-plugins=pylint_django\n"}, cached=True
    )
    assert not _pylint_warm.wanted(
        900, {"/p/.pylintrc": "[MAIN]\ninit-hook='import sys'\n"}, cached=True
    )
    monkeypatch.setenv("CI", "true")
    assert not _pylint_warm.wanted(900, plain, cached=True)
    monkeypatch.setenv("CI", "false")
    monkeypatch.setenv("PLIMSOLL_PYLINT_SERVER", "off")
    assert not _pylint_warm.wanted(900, plain, cached=True)


def test_a_folder_others_can_write_gets_no_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        folder = base / f"plimsoll-{os.getuid()}"
        folder.mkdir(mode=0o700)
        assert _pylint_warm.socket_for(tmp_path, "key") is not None
        folder.chmod(0o777)
        assert _pylint_warm.socket_for(tmp_path, "key") is None
        # Too deep a folder for a socket's path: no server rather than a failure.
        deep = base / ("d" * 120)
        deep.mkdir()
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(deep))
        assert _pylint_warm.socket_for(tmp_path, "key") is None
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_a_socket_nobody_serves_is_a_cold_run(tmp_path: Path) -> None:
    dead = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp")) / "dead.sock"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(str(dead))  # bound, never listening, then closed: a stale file
        assert dead.exists()
        assert _pylint_warm.ask(dead, {"files": [], "lint": [], "cached": {}}, 5) is None
        assert not _pylint_warm.ping(dead)
    finally:
        shutil.rmtree(dead.parent, ignore_errors=True)


@pytest.mark.integration
def test_a_server_that_fails_to_start_says_why_and_is_not_started_again(
    tmp_path: Path, runtime: Path
) -> None:
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/m.py": "import json\n"})
    sock = _socket(root)
    state = sock.with_suffix(".json")
    state.write_text("not json")
    done = run(root, "plimsoll.code.collectors._pylint_server", str(sock), str(state), "5")
    assert done.returncode == 1
    assert Path(f"{sock}.failed").read_text().startswith("JSONDecodeError: ")
    assert not sock.exists()
    failed_pid = Path(f"{sock}.lock").read_text()

    _pylint_warm.start(sock, root, [["json", None]], 5)
    time.sleep(1)
    assert Path(f"{sock}.lock").read_text() == failed_pid  # nobody took the lock since
    assert state.read_text() == "not json"


def _many_importers(count: int) -> dict[str, str]:
    """A core module and ``count`` modules using it, two of them duplicates of each other."""
    core = '"""Core."""\n\n\ndef area(width, height):\n    """Area."""\n    return width * height\n'
    body = (
        '"""Use {n}."""\n\nimport os\n\nfrom app.core import area\n\n\n'
        "def use_{n}(a, b):\n"
        '    """Use."""\n'
        "    unused = os.sep\n"
        "    total = 0\n"
        "    for i in range(a):\n"
        "        total += area(i, b)\n"
        "        total -= i\n"
        "        total *= 2\n"
        "    return total + {n}\n"
    )
    files = {"app/__init__.py": "", "app/core.py": core}
    files.update({f"app/use_{n}.py": body.format(n=n) for n in range(count)})
    return files


@pytest.mark.integration
def test_many_files_are_shared_among_children_with_the_same_result(
    tmp_path: Path,
    runtime: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    files = _many_importers(10)
    root = write_tree(tmp_path / "project", files)
    cache = DictCache()
    PylintCollector().collect(context_for(root, cache=cache))
    _wait_ready(_socket(root))

    # Every module imports core: all eleven are linted again, by two children at once.
    core = files["app/core.py"].replace("return width * height", "return width * height * 1")
    write_tree(root, {"app/core.py": core})
    shared = PylintCollector().collect(context_for(root, cache=cache))
    served = [r for r in caplog.records if getattr(r, "event", None) == SERVED]
    assert [getattr(r, "parts", None) for r in served] == [2]
    assert shared["linted_files"] == 11
    assert isinstance(shared["top_symbols"], dict)
    assert shared["top_symbols"]["unused-variable"] == 10
    assert shared["top_symbols"]["duplicate-code"] >= 1  # the project-wide step saw every file
    _assert_equals_plain_run(root, shared)
    cold = PylintCollector().collect(context_for(root))
    assert {**cold, "linted_files": 0, "cached_files": 0} == {
        **shared,
        "linted_files": 0,
        "cached_files": 0,
    }


def test_files_are_shared_by_size() -> None:
    lint = [f"m{n}.py" for n in range(9)]
    sizes = {path: 100 * (n + 1) for n, path in enumerate(lint)}
    assert _pylint_warm.parts_for(lint, 2) == 2
    assert _pylint_warm.parts_for(lint, 8) == 2  # at least four files each
    assert _pylint_warm.parts_for(lint[:7], 8) == 1
    assert _pylint_warm.parts_for(lint, None) == 1
    shares = _pylint_warm._balanced(lint, sizes, 2)
    assert sorted(p for share in shares for p in share) == sorted(lint)
    totals = [sum(sizes[p] for p in share) for share in shares]
    assert abs(totals[0] - totals[1]) <= max(sizes.values())
    assert all(share == sorted(share, key=lint.index) for share in shares)


@pytest.mark.integration
def test_a_message_of_the_whole_run_is_counted_once_when_files_are_shared(
    tmp_path: Path,
    runtime: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    files = _many_importers(8)
    # pylint says this once per run, about no file: each child would say it again.
    files["pyproject.toml"] = "[tool.pylint.main]\nnot-a-pylint-option = 1\n"
    root = write_tree(tmp_path / "project", files)
    cache = DictCache()
    PylintCollector().collect(context_for(root, cache=cache))
    _wait_ready(_socket(root))
    write_tree(root, {"app/core.py": files["app/core.py"] + "\nEXTRA = 1\n"})
    changed = PylintCollector().collect(context_for(root, cache=cache))
    assert _served(caplog) == 1
    assert isinstance(changed["top_symbols"], dict)
    assert changed["top_symbols"]["unrecognized-option"] == 1
    _assert_equals_plain_run(root, changed)


def test_a_module_and_its_stub_go_to_the_same_child() -> None:
    lint = ["a.py", "a.pyi", "b.py", "c.py", "c.pyi", "d.py", "e.py", "f.py"]
    sizes = {"a.py": 900, "a.pyi": 50, "b.py": 800, "c.py": 100, "c.pyi": 700}
    shares = _pylint_warm._balanced(lint, sizes, 2)
    for module, stub in (("a.py", "a.pyi"), ("c.py", "c.pyi")):
        assert [module in share for share in shares] == [stub in share for share in shares]
    assert sorted(p for share in shares for p in share) == sorted(lint)


def test_a_new_pth_file_names_another_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import site

    base = Path(tempfile.mkdtemp(prefix="pw-", dir="/tmp"))
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(base))
        site_dir = tmp_path / "site-packages"
        site_dir.mkdir()
        monkeypatch.setattr(site, "getsitepackages", lambda: [str(site_dir)])
        before = _pylint_warm.socket_for(tmp_path, "key")
        # An editable install: a .pth file that puts a folder on every new interpreter's path.
        (site_dir / "__editable__.extlib.pth").write_text(str(tmp_path / "lib") + "\n")
        after = _pylint_warm.socket_for(tmp_path, "key")
        assert before is not None and after is not None and before != after
        monkeypatch.setenv("PYTHONPATH", str(tmp_path))
        assert _pylint_warm.socket_for(tmp_path, "key") not in (before, after)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.integration
def test_a_project_module_named_like_a_built_one_is_the_projects(
    tmp_path: Path, runtime: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    other = '"""O."""\nimport calendar\n\n\ndef names():\n    """N."""\n    return {}\n'
    root = write_tree(tmp_path / "project", {"other.py": other.format("calendar.month_name")})
    cache = DictCache()
    PylintCollector().collect(context_for(root, cache=cache))
    sock = _socket(root)
    _wait_ready(sock)
    assert "calendar" in [
        name for name, _ in json.loads(sock.with_suffix(".json").read_text())["modules"]
    ]
    # The project now has its own calendar.py: `import calendar` is that one, as by hand.
    local = '"""Local."""\n\n\ndef special():\n    """S."""\n    return 1\n'
    write_tree(root, {"calendar.py": local, "other.py": other.format("calendar.special(1)")})
    changed = PylintCollector().collect(context_for(root, cache=cache))
    assert _served(caplog) == 1
    assert changed["top_symbols"] == {"too-many-function-args": 1}
    _assert_equals_plain_run(root, changed)


def _slow_module(functions: int = 2500) -> str:
    body = "".join(
        f'\n\ndef f{n}(a, b):\n    """F."""\n    return [a + b + {n} for _ in range(a)]\n'
        for n in range(functions)
    )
    return '"""Slow."""\nimport json\n' + body


@pytest.mark.integration
def test_the_child_stops_when_its_client_goes_away(tmp_path: Path, runtime: Path) -> None:
    root = write_tree(tmp_path / "project", {"app/__init__.py": "", "app/m.py": "import json\n"})
    PylintCollector().collect(context_for(root, cache=DictCache()))
    sock = _socket(root)
    _wait_ready(sock)
    write_tree(root, {"app/slow.py": _slow_module()})
    request = {"files": ["app/slow.py"], "lint": ["app/slow.py"], "cached": {}}
    message = {"request": request, "output": str(tmp_path / "out.json")}
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(sock))
        conn.sendall((json.dumps(message) + "\n").encode())
        child = int(json.loads(conn.makefile("r").readline())["pid"])
        time.sleep(0.5)
        assert not _gone(child, seconds=0.1)  # linting
    # The collection that asked is gone (killed, timed out): so is the work it asked for.
    assert _gone(child, seconds=10)
    assert not (tmp_path / "out.json").exists()
    assert _pylint_warm.ping(sock)  # the server itself stays


@pytest.mark.integration
def test_a_project_folder_replaced_stops_its_server(tmp_path: Path, runtime: Path) -> None:
    files = {"app/__init__.py": "", "app/m.py": "import json\n"}
    root = write_tree(tmp_path / "project", files)
    PylintCollector().collect(context_for(root, cache=DictCache()))
    sock = _socket(root)
    _wait_ready(sock)
    pid = _server_pid(sock)
    shutil.rmtree(root)
    write_tree(root, files)  # a fresh clone at the same path
    assert _pylint_warm.ask(sock, {"files": [], "lint": [], "cached": {}}, 30) is None
    assert _gone(pid)


@pytest.mark.integration
def test_a_server_for_older_settings_is_stopped_by_the_next(tmp_path: Path, runtime: Path) -> None:
    files = {"app/__init__.py": "", "app/m.py": "import json\n"}
    root = write_tree(tmp_path / "project", files)
    PylintCollector().collect(context_for(root, cache=DictCache()))
    first = _socket(root)
    _wait_ready(first)
    pid = _server_pid(first)
    write_tree(root, {"pyproject.toml": "[tool.pylint.format]\nmax-line-length = 90\n"})
    PylintCollector().collect(context_for(root, cache=DictCache()))
    second = _socket(root)
    assert second != first
    _wait_ready(second)
    assert _gone(pid)
    assert _server_pid(second) != pid


def _shadowing_tests() -> dict[str, str]:
    """Eight package modules using typing, and a tests folder (on the path) with its own typing."""
    use = '"""M."""\nimport typing\n\nX: typing.Any = typing.cast(int, 1)\n'
    files = {"pkg/__init__.py": '"""Pkg."""\n'}
    files.update({f"pkg/m{n}.py": use for n in range(8)})
    files["tests/test_a.py"] = '"""T."""\nimport typing\n\nY = typing.cast(int, 1)\n'
    files["tests/typing.py"] = '"""Shadow."""\nVALUE = 1\n'
    return files


@pytest.mark.integration
def test_children_sharing_files_see_the_path_of_the_whole_run(
    tmp_path: Path,
    runtime: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    files = _shadowing_tests()
    root = write_tree(tmp_path / "project", files)
    cache = DictCache()
    PylintCollector().collect(context_for(root, cache=cache))
    _wait_ready(_socket(root))
    # With tests/ on pylint's path (a file of it is linted), `import typing` is tests/typing.py
    # everywhere: each child must lint with that path, whichever files it was given.
    write_tree(root, {p: text + "# changed\n" for p, text in files.items() if "/m" in p})
    changed = PylintCollector().collect(context_for(root, cache=cache))
    assert [
        getattr(r, "parts", None) for r in caplog.records if getattr(r, "event", None) == SERVED
    ] == [2]
    _assert_equals_plain_run(root, changed)
    assert changed["top_symbols"]["no-member"] == 17


@pytest.mark.integration
def test_a_module_beside_the_package_named_like_a_built_one_is_the_projects(
    tmp_path: Path, runtime: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="plimsoll")
    use = '"""A."""\nimport re\n\nPAT = re.compile("x", re.VERBOSE)\n'
    root = write_tree(tmp_path / "project", {"src/pkg/__init__.py": "", "src/pkg/a.py": use})
    config = CodeConfig(paths=["src/pkg"])
    cache = DictCache()
    PylintCollector().collect(
        context_for(root, ["src/pkg/__init__.py", "src/pkg/a.py"], config, cache)
    )
    _wait_ready(_socket(root))
    # src/ is on pylint's path (the folder above the package): its re.py is `re` there.
    write_tree(root, {"src/re.py": '"""Shadow."""\nVALUE = 1\n', "src/pkg/a.py": use + "# e\n"})
    changed = PylintCollector().collect(
        context_for(root, ["src/pkg/__init__.py", "src/pkg/a.py"], config, cache)
    )
    assert _served(caplog) == 1
    by_hand = json.loads(run(root, "pylint", "--output-format=json2", "src/pkg").stdout)
    assert [m["symbol"] for m in by_hand["messages"]] == ["no-member"]
    assert changed["top_symbols"] == {"no-member": 1}
    assert changed["score"] == by_hand["statistics"]["score"]
