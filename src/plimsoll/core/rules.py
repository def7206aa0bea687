"""One condition language for thresholds, alert rules, SLO objectives and regressions.

A rule names a metric path (``coverage.line_coverage``), an operator, a value, and
optionally ``delta`` (compare the change against a previous value), ``for`` (held for
a duration), ``severity``, ``action`` and ``message``; or a custom validator given as an
import path (``package.module:function``) returning ``(passed, message)``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Operator(StrEnum):
    """Comparison operators a rule may use."""

    GE = ">="
    LE = "<="
    EQ = "=="
    NE = "!="
    GT = ">"
    LT = "<"


class Severity(StrEnum):
    """How serious a rule's violation is."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    CRITICAL = "critical"


class Action(StrEnum):
    """What happens when a threshold rule is violated."""

    WARN = "warn"
    FAIL = "fail"
    NOTIFY = "notify"
    COMMENT = "comment"


class RuleSpec(BaseModel):
    """A rule as written in configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str | None = None
    metric: str | None = None
    op: Operator | None = None
    value: float | str | bool | None = None
    delta: bool = False
    for_: str | float | None = Field(default=None, alias="for")
    severity: Severity = Severity.ERROR
    action: Action = Action.FAIL
    message: str | None = None
    validator: str | None = None
    channels: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _complete(self) -> RuleSpec:
        if self.validator is None:
            missing = [k for k in ("metric", "op", "value") if getattr(self, k) is None]
            if missing:
                raise ValueError(
                    f"a rule needs metric, op and value (missing {', '.join(missing)}), "
                    "or a validator"
                )
        elif ":" not in self.validator:
            raise ValueError("validator must be an import path 'package.module:function'")
        return self

    @property
    def label(self) -> str:
        """A short human name for the rule."""
        if self.name:
            return self.name
        if self.validator and self.metric is None:
            return self.validator
        prefix = "Δ " if self.delta else ""
        return f"{prefix}{self.metric} {self.op} {self.value}"


def rule_fields(spec: RuleSpec) -> dict[str, Any]:
    """The rule as a plain dict (for JSON output), with ``for`` under its own name."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)
