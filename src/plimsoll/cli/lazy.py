"""Modules imported on first use, so ``plimsoll <any command>`` starts fast.

The CLI registers every command group at start-up; a group's engine (git plumbing, the
collectors' runner, the migrator) is only needed when one of its commands runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A stand-in for a module that imports it on the first attribute read."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)
