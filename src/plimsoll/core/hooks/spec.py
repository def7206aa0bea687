"""Hooks declared in configuration: the ``HookSpec`` model and turning one into a :class:`Hook`.

This module imports nothing from ``core.config`` so that the config can embed ``HookSpec``.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plimsoll.core import plugins
from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks.model import ErrorStrategy, Hook, HookFn

_IMPORT_PATH = re.compile(
    r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
)


class HookSpec(BaseModel):
    """One hook in the configuration; ``callable`` is an import path ``package.module:function``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(min_length=1)
    phase: str = Field(min_length=1)
    callable: str
    priority: int = 0
    depends_on: list[str] = Field(default_factory=list)
    timeout_seconds: float | None = Field(default=None, gt=0)
    error_strategy: ErrorStrategy = ErrorStrategy.FAIL_FAST
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=1.0, ge=0)
    channels: list[str] = Field(default_factory=list)

    @field_validator("callable")
    @classmethod
    def _import_path(cls, value: str) -> str:
        # Said in words: pydantic's own message for a pattern quotes the regular expression.
        if not _IMPORT_PATH.fullmatch(value):
            raise ValueError(
                "expected an import path package.module:function (a module, a colon, then"
                " the function's name)"
            )
        return value

    def to_hook(self) -> Hook:
        """Import the callable and return the hook; a failed import raises ConfigError naming it."""
        return Hook(
            name=self.name,
            phase=self.phase,
            fn=load_callable(self.callable, what=f"hook {self.name!r}"),
            priority=self.priority,
            depends_on=tuple(self.depends_on),
            timeout_seconds=self.timeout_seconds,
            error_strategy=self.error_strategy,
            retries=self.retries,
            backoff_seconds=self.backoff_seconds,
            channels=tuple(self.channels),
            source="config",
        )


def load_callable(path: str, *, what: str = "hook") -> HookFn:
    """Return the callable named by ``package.module:attr`` (the attribute may be dotted)."""
    try:
        target = plugins.import_object(path)
    except plugins.ImportPathError as exc:
        raise ConfigError(exc.about(f"{what}: callable {path!r}")) from None
    if not callable(target):
        raise ConfigError(f"{what}: callable {path!r} is a {type(target).__name__}, not a function")
    fn: HookFn = target
    return fn
