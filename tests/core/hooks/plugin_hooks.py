"""Hooks a test plugin exposes through an entry point."""

from __future__ import annotations

from plimsoll.core.hooks import HookContext, hook


@hook("before_migration")
def audit(ctx: HookContext) -> None:
    """A hook whose name clashes with one registered in code."""


@hook("before_migration")
def snapshot(ctx: HookContext) -> None:
    """A hook that would be fine on its own."""


both = [snapshot, audit]
