"""Registering hooks: in code, from configuration (HookSpec), and through entry points."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from pydantic import ValidationError

from plimsoll.core import plugins
from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks import (
    ErrorStrategy,
    HookExecutor,
    HookRegistry,
    HookSpec,
    Outcome,
    declared_hooks,
    hook,
)
from tests.core.hooks.support import DbPhase, Recorder, context


def test_hooks_run_in_priority_order_lower_first() -> None:
    registry = HookRegistry()
    rec = Recorder()
    for name, priority in [("late", 50), ("early", -10), ("middle", 0), ("middle2", 0)]:
        registry.hook(DbPhase.BEFORE_MIGRATION, name=name, priority=priority)(rec.hook(name))
    registry.hook(DbPhase.AFTER_MIGRATION, name="other")(rec.hook("other"))

    trace = HookExecutor(registry).run_phase(context(DbPhase.BEFORE_MIGRATION))

    # Equal priorities keep registration order; other phases are not touched.
    assert rec.calls == ["early", "middle", "middle2", "late"]
    assert [h.name for h in trace.hooks] == rec.calls
    assert trace.totals["succeeded"] == 4


def test_the_decorator_returns_the_function_and_marks_it() -> None:
    registry = HookRegistry()

    @registry.hook(DbPhase.CLEANUP, priority=3, timeout=2.5, error_strategy="fail_safe")
    def tidy(ctx: object) -> None:
        """Clean up."""

    tidy(None)  # still a plain function
    (declared,) = declared_hooks(tidy)
    assert (declared.name, declared.phase, declared.priority) == ("tidy", "cleanup", 3)
    assert declared.timeout_seconds == 2.5
    assert declared.error_strategy is ErrorStrategy.FAIL_SAFE
    assert registry.for_phase("cleanup") == (declared,)


def test_a_duplicate_name_in_a_phase_is_rejected() -> None:
    registry = HookRegistry()
    registry.hook(DbPhase.CLEANUP, name="x")(lambda ctx: None)
    registry.hook(DbPhase.ON_ERROR, name="x")(lambda ctx: None)  # another phase: fine
    with pytest.raises(ConfigError, match="'x' is registered twice for phase cleanup"):
        registry.hook(DbPhase.CLEANUP, name="x")(lambda ctx: None)


def test_bad_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown error_strategy"):
        hook("p", error_strategy="sometimes")(lambda ctx: None)
    with pytest.raises(ConfigError, match="timeout must be positive"):
        hook("p", name="t", timeout=0)(lambda ctx: None)
    assert declared_hooks(hook("p", name="one", depends_on="base")(lambda ctx: None))[
        0
    ].depends_on == ("base",)
    with pytest.raises(ConfigError, match="cannot depend on itself"):
        hook("p", name="me", depends_on=["me"])(lambda ctx: None)


def _write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, code: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(code), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_hook_specs_load_a_real_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(
        tmp_path,
        monkeypatch,
        "plimsoll_test_spec_hooks",
        """
        seen = []

        def check(ctx):
            seen.append(("check", ctx.migration))

        class Group:
            @staticmethod
            def notify(ctx):
                seen.append(("notify", ctx.phase))
        """,
    )
    raw = [
        {
            "name": "notify",
            "phase": "before_migration",
            "callable": "plimsoll_test_spec_hooks:Group.notify",
            "priority": 5,
            "error_strategy": "alert_only",
            "channels": ["ops"],
        },
        {
            "name": "check",
            "phase": "before_migration",
            "callable": "plimsoll_test_spec_hooks:check",
        },
    ]
    registry = HookRegistry()
    added = registry.add_specs(HookSpec.model_validate(item) for item in raw)
    assert [(h.name, h.source, h.channels) for h in added] == [
        ("notify", "config", ("ops",)),
        ("check", "config", ()),
    ]
    HookExecutor(registry).run_phase(context())
    import plimsoll_test_spec_hooks  # type: ignore[import-not-found]

    assert plimsoll_test_spec_hooks.seen == [("check", "0001_init"), ("notify", "before_migration")]


def test_hook_spec_errors_name_the_hook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(tmp_path, monkeypatch, "plimsoll_test_spec_bad", "value = 3\n")
    with pytest.raises(ConfigError, match="hook 'h': callable 'no_such_mod_q:f' could not be"):
        HookSpec(name="h", phase="p", callable="no_such_mod_q:f").to_hook()
    with pytest.raises(ConfigError, match="has no attribute 'missing'"):
        HookSpec(name="h", phase="p", callable="plimsoll_test_spec_bad:missing").to_hook()
    with pytest.raises(ConfigError, match="is a int, not a function"):
        HookSpec(name="h", phase="p", callable="plimsoll_test_spec_bad:value").to_hook()
    with pytest.raises(ValidationError):
        HookSpec.model_validate({"name": "h", "phase": "p", "callable": "no colon"})
    with pytest.raises(ValidationError):
        HookSpec.model_validate({"name": "h", "phase": "p", "callable": "m:f", "surprise": 1})


def test_entry_points_register_marked_hooks_and_skip_broken_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_module(
        tmp_path,
        monkeypatch,
        "plimsoll_test_hook_plugin",
        """
        from plimsoll.core.hooks import hook

        @hook("before_migration", priority=1)
        def first(ctx):
            pass

        @hook("before_migration", depends_on=["first"])
        @hook("cleanup")
        def second(ctx):
            pass

        pair = [first, second]
        not_a_hook = 42
        """,
    )
    group = plugins.HOOKS
    eps = [
        EntryPoint("pair", "plimsoll_test_hook_plugin:pair", group),
        EntryPoint("broken", "plimsoll_no_such_plugin_mod:thing", group),
        EntryPoint("junk", "plimsoll_test_hook_plugin:not_a_hook", group),
    ]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: eps if g == group else [])

    registry = HookRegistry()
    failures = registry.load_entry_points()

    assert sorted(f.name for f in failures) == ["broken", "junk"]
    by_name = {f.name: f.error for f in failures}
    assert "ModuleNotFoundError" in by_name["broken"]
    assert by_name["junk"] == ("it names a value of type int, not a function marked with @hook")
    assert [(h.name, h.source) for h in registry.for_phase("before_migration")] == [
        ("second", "plugin pair"),
        ("first", "plugin pair"),
    ]
    assert [h.name for h in registry.for_phase("cleanup")] == ["second"]
    trace = HookExecutor(registry).run_phase(context())
    # depends_on wins over priority: "first" runs before "second" despite priority 1 > 0.
    assert [h.name for h in trace.hooks] == ["first", "second"]
    assert all(h.outcome is Outcome.SUCCEEDED for h in trace.hooks)


def test_a_plugin_clashing_with_a_registered_name_is_skipped_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = plugins.HOOKS
    eps = [EntryPoint("dup", "tests.core.hooks.plugin_hooks:both", group)]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: eps if g == group else [])
    registry = HookRegistry()
    registry.hook("before_migration", name="audit")(lambda ctx: None)
    (failure,) = registry.load_entry_points()
    assert failure.name == "dup"
    assert "'audit' is already registered" in failure.error
    assert [h.name for h in registry.for_phase("before_migration")] == ["audit"]


def test_importing_the_package_does_not_import_the_config() -> None:
    # core.config embeds HookSpec, so this package must not import it back.
    code = "import sys, plimsoll.core.hooks; print('plimsoll.core.config' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_context_is_read_only_yet_plain_data() -> None:
    """Hooks of one phase share the context: no hook may change it, but any may serialise it."""
    import copy
    import dataclasses
    import json

    from plimsoll.core.hooks import HookContext

    context = HookContext(phase="before_migration", run_id="r1", attributes={"rows": [1, 2]})
    with pytest.raises(TypeError, match="read-only"):
        context.attributes["rows"] = []  # type: ignore[index]
    with pytest.raises(TypeError, match="read-only"):
        context.attributes.update(rows=[])  # type: ignore[attr-defined]
    data = dataclasses.asdict(context)
    assert data == {"phase": "before_migration", "run_id": "r1", "attributes": {"rows": [1, 2]}}
    assert json.loads(json.dumps(data)) == data
    copied = copy.deepcopy(context)
    assert copied == context and copied.attributes["rows"] is not context.attributes["rows"]


def test_an_entry_point_naming_an_unmarked_function_says_how_to_mark_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = plugins.HOOKS
    eps = [EntryPoint("plain", "tests.core.hooks.support:context", group)]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: eps if g == group else [])
    (failure,) = HookRegistry().load_entry_points()
    assert failure.error == (
        "tests.core.hooks.support:context is not marked with @hook: decorate it with"
        " @hook(phase) from plimsoll.core.hooks"
    )


def test_an_entry_point_hook_of_an_unknown_phase_is_reported_and_skipped_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_module(
        tmp_path,
        monkeypatch,
        "plimsoll_test_hook_phases",
        """
        from plimsoll.core.hooks import hook

        @hook("after_migrate")
        def misspelt(ctx):
            pass

        @hook("cleanup")
        @hook("after_migrate")
        def stacked(ctx):
            pass

        @hook("zzz_nothing_like_it")
        def far(ctx):
            pass
        """,
    )
    group = plugins.HOOKS
    eps = [
        EntryPoint("bad", "plimsoll_test_hook_phases:misspelt", group),
        EntryPoint("mixed", "plimsoll_test_hook_phases:stacked", group),
        EntryPoint("far", "plimsoll_test_hook_phases:far", group),
    ]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: eps if g == group else [])
    registry = HookRegistry()

    failures = registry.load_entry_points(DbPhase)

    expected = ", ".join(p.value for p in DbPhase)
    assert [(f.name, f.value, f.error) for f in failures] == [
        (
            "bad",
            "plimsoll_test_hook_phases:misspelt",
            "hook 'misspelt' is declared for unknown phase 'after_migrate' and would never run"
            f" (did you mean after_migration? expected one of {expected})",
        ),
        (
            "mixed",
            "plimsoll_test_hook_phases:stacked",
            "hook 'stacked' is declared for unknown phase 'after_migrate' and would never run"
            f" (did you mean after_migration? expected one of {expected})",
        ),
        (
            "far",
            "plimsoll_test_hook_phases:far",
            "hook 'far' is declared for unknown phase 'zzz_nothing_like_it' and would never run"
            f" (expected one of {expected})",
        ),
    ]
    assert registry.failures == failures
    # The entry point's hook of a known phase still registers; nothing sits in an unknown one.
    assert [(h.name, h.source) for h in registry.for_phase("cleanup")] == [
        ("stacked", "plugin mixed")
    ]
    assert registry.phases() == ["cleanup"]


def test_without_phases_any_phase_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine is generic: only a part knows its phases.
    group = plugins.HOOKS
    eps = [EntryPoint("pair", "tests.core.hooks.plugin_hooks:both", group)]
    monkeypatch.setattr(plugins, "_entry_points", lambda g: eps if g == group else [])
    registry = HookRegistry()
    assert registry.load_entry_points() == ()
    assert registry.failures == ()
    assert len(registry) == 2


def test_a_code_hook_of_an_unknown_phase_is_a_config_error() -> None:
    registry = HookRegistry()
    registry.hook(DbPhase.CLEANUP, name="fine")(lambda ctx: None)
    registry.check_phases(DbPhase)
    registry.hook("befor_migration", name="typo")(lambda ctx: None)
    with pytest.raises(ConfigError) as caught:
        registry.check_phases(DbPhase)
    assert str(caught.value).startswith(
        "hook 'typo' is declared for unknown phase 'befor_migration' and would never run"
        " (did you mean before_migration? expected one of before_validation,"
    )
    assert str(caught.value).endswith(" (registered in code)")
