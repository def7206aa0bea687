"""One condition language for thresholds, alert rules, SLO objectives and regressions.

A rule names a metric path (``coverage.line_coverage``), an operator, a value, and
optionally ``delta`` (compare the change against a previous value), ``for`` (held for
a duration), ``severity``, ``action`` and ``message``; or a custom validator returning
``(passed, message)``.

Evaluation never raises for problems in the data or in user code: a missing metric, an
ordering on text, a validator that cannot be imported or that raises all become a
`RuleResult` with ``passed=None`` and a one-line message. Only misuse by the caller (a
malformed duration, timestamps going backwards) raises ``ValueError``.

Validators
----------
``validator`` is either an import path ``package.module:function`` (the attribute may be
dotted, ``module:Class.method``) or the name of an entry point in the
``plimsoll.validators`` group. The function is called as::

    fn(metrics, previous)            # or, when it accepts a third argument:
    fn(metrics, previous, spec)

where ``metrics`` is the current record's metrics mapping, ``previous`` the baseline
record's metrics or ``None``, and ``spec`` the `RuleSpec` (so a validator can read
``spec.value`` as its parameter). It must return a ``(passed: bool, message: str)`` tuple.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from plimsoll.core import plugins


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


# An entry-point name: what `validator` holds when it is not an import path.
_ENTRY_POINT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


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
        elif ":" not in self.validator and not _ENTRY_POINT_NAME.match(self.validator):
            raise ValueError(
                "validator must be an import path 'package.module:function' "
                "or the name of a 'plimsoll.validators' entry point"
            )
        if self.for_ is not None:
            # Checked here so a bad duration is a configuration error naming the key.
            parse_duration(self.for_)
        return self

    @property
    def label(self) -> str:
        """A short human name for the rule."""
        if self.name:
            return self.name
        if self.validator and self.metric is None:
            return self.validator
        prefix = "Δ " if self.delta else ""
        return f"{prefix}{self.metric} {self.op} {format_value(self.value)}"

    @property
    def hold_seconds(self) -> float:
        """The ``for`` duration in seconds (0 when the rule has none)."""
        return 0.0 if self.for_ is None else parse_duration(self.for_)


def rule_fields(spec: RuleSpec) -> dict[str, Any]:
    """The rule as a plain dict (for JSON output), with ``for`` under its own name."""
    return spec.model_dump(mode="json", by_alias=True, exclude_none=True)


def rule_key(spec: RuleSpec) -> str:
    """A stable key identifying the rule, for state kept across evaluations (``for``)."""
    if spec.name:
        return spec.name
    parts = [spec.validator or "", spec.metric or "", str(spec.op or ""), str(spec.value)]
    return ("Δ" if spec.delta else "") + "|".join(parts)


# --- resolving metric paths -------------------------------------------------------------------


@dataclass(frozen=True)
class MetricMissing:
    """The result of resolving a path that is not in the metrics; says where it stopped."""

    path: str
    at: str
    reason: str

    def __str__(self) -> str:
        return f"metric {self.path} missing ({self.reason})"


def resolve(metrics: Mapping[str, Any], path: str) -> Any:
    """The value at dotted ``path`` in nested ``metrics``, or a `MetricMissing`.

    Segments index mappings by key and lists/tuples by a non-negative integer
    (``a.0.b``). Keys that themselves contain dots (file names such as ``app.py``) are
    found too: when a segment is not a key, longer runs of segments joined by dots are
    tried before giving up.
    """
    if not path or any(not part for part in path.split(".")):
        return MetricMissing(path, path, "empty segment in the path")
    parts = path.split(".")
    node: Any = metrics
    i = 0
    done: list[str] = []
    while i < len(parts):
        if isinstance(node, Mapping):
            for j in range(i + 1, len(parts) + 1):
                key = ".".join(parts[i:j])
                if key in node:
                    node = node[key]
                    done.append(key)
                    i = j
                    break
            else:
                at = ".".join([*done, parts[i]])
                return MetricMissing(path, at, f"no key {parts[i]!r} at {at}")
        elif isinstance(node, Sequence) and not isinstance(node, str | bytes):
            part = parts[i]
            at = ".".join([*done, part])
            if not part.isdigit():
                return MetricMissing(path, at, f"{part!r} is not a list index at {at}")
            index = int(part)
            if index >= len(node):
                return MetricMissing(
                    path, at, f"index {index} out of range (length {len(node)}) at {at}"
                )
            node = node[index]
            done.append(part)
            i += 1
        else:
            at = ".".join(done) or path
            return MetricMissing(path, at, f"{at} is a {type(node).__name__}, not a mapping")
    return node


def not_one_value(path: str, value: Any) -> str | None:
    """Why ``value``, found at ``path``, cannot be compared as one value; None when it can.

    A group of metrics (a mapping) names some of its keys to use instead; a list says so.
    """
    if isinstance(value, Mapping):
        keys = [f"{path}.{key}" for key in list(value)[:3]]
        more = ", ..." if len(value) > 3 else ""
        hint = f": name one of its keys ({', '.join(keys)}{more})" if keys else " (empty)"
        return f"{path} is a group of metrics, not one value{hint}"
    if isinstance(value, list | tuple):
        plural = "" if len(value) == 1 else "s"
        return f"{path} is a list of {len(value)} item{plural}, not one value"
    return None


# --- comparing --------------------------------------------------------------------------------


class IncomparableError(ValueError):
    """Two values cannot be compared with the given operator (ordering on text, say)."""


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    """A float for numbers and numeric strings (``${VAR}`` in config yields text), else None."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


_ORDERING = {
    Operator.GE: lambda a, b: a >= b,
    Operator.LE: lambda a, b: a <= b,
    Operator.GT: lambda a, b: a > b,
    Operator.LT: lambda a, b: a < b,
}


def compare(op: Operator | str, actual: Any, expected: Any) -> bool:
    """Whether ``actual op expected`` holds.

    Numbers (and numeric strings facing a number) compare as floats; bools (and
    ``"true"``/``"false"``) and strings compare by equality only. Ordering anything that
    is not a number raises `IncomparableError` with a message naming both values.
    """
    op = Operator(op)
    a_num, e_num = _as_number(actual), _as_number(expected)
    # A numeric string is a number only opposite a real number: "1.0" == "1" stays text.
    numeric = (
        a_num is not None and e_num is not None and (_is_number(actual) or _is_number(expected))
    )
    if numeric:
        assert a_num is not None and e_num is not None
        if op is Operator.EQ:
            return a_num == e_num
        if op is Operator.NE:
            return a_num != e_num
        return bool(_ORDERING[op](a_num, e_num))
    if op in (Operator.EQ, Operator.NE):
        a_bool, e_bool = _as_bool(actual), _as_bool(expected)
        if isinstance(actual, bool) or isinstance(expected, bool):
            equal = a_bool is not None and a_bool == e_bool
        elif _is_number(actual) or _is_number(expected):
            equal = False
        else:
            equal = actual == expected
        return equal if op is Operator.EQ else not equal
    raise IncomparableError(
        f"cannot order {_describe(actual)} {op.value} {_describe(expected)}: ordering needs numbers"
    )


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if _is_number(value):
        return format_value(value)
    return f"{value!r} ({type(value).__name__})"


# --- durations --------------------------------------------------------------------------------

_UNITS: dict[str, float] = {
    "w": 7 * 86400.0,
    "d": 86400.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
_UNIT_ORDER = list(_UNITS)
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|w|d|h|m|s)", re.IGNORECASE)


def parse_duration(value: str | float | int) -> float:
    """Seconds in a duration: a number of seconds, or ``30s``, ``5m``, ``1h30m``, ``2d``, ``1w``.

    Units are ``w d h m s ms``, each at most once and largest first (as in Prometheus);
    decimals are allowed (``1.5h``). Raises ``ValueError`` naming the bad input.
    """
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}: expected seconds or e.g. '5m', '1h30m'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = value.strip()
        if not text:
            raise ValueError("invalid duration '': expected seconds or e.g. '5m', '1h30m'")
        try:
            seconds = float(text)
        except ValueError:
            seconds = _parse_units(value, text)
    if math.isnan(seconds) or math.isinf(seconds) or seconds < 0:
        raise ValueError(f"invalid duration {value!r}: must be a finite, non-negative time")
    return seconds


def _parse_units(original: str, text: str) -> float:
    total = 0.0
    pos = 0
    last_rank = -1
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if match is None:
            raise ValueError(
                f"invalid duration {original!r}: expected seconds or units w/d/h/m/s/ms "
                "such as '5m', '1h30m', '2d'"
            )
        number, unit = match.group(1), match.group(2).lower()
        rank = _UNIT_ORDER.index(unit)
        if rank <= last_rank:
            raise ValueError(
                f"invalid duration {original!r}: units must appear once each, largest first"
            )
        last_rank = rank
        total += float(number) * _UNITS[unit]
        pos = match.end()
    return total


# --- results ----------------------------------------------------------------------------------


class Outcome(StrEnum):
    """What evaluating a rule came to."""

    PASSED = "passed"
    FAILED = "failed"
    # The rule could not be evaluated: missing metric, bad comparison, broken validator.
    ERROR = "error"
    # Nothing to compare against yet (a delta rule without a baseline): not a problem.
    SKIPPED = "skipped"


@dataclass(frozen=True)
class RuleResult:
    """The outcome of evaluating one rule against one set of metrics.

    ``passed`` is None when the rule could not be evaluated; ``outcome`` then says
    whether that is an error or a skip (no baseline). For delta rules ``actual`` is
    ``current - previous``, with both kept in ``current`` and ``previous``.
    """

    spec: RuleSpec
    passed: bool | None
    outcome: Outcome
    actual: Any
    expected: Any
    message: str
    previous: Any = None
    current: Any = None
    severity: Severity = Severity.ERROR
    action: Action = Action.FAIL

    @property
    def violated(self) -> bool:
        """Whether the rule was evaluated and did not hold."""
        return self.outcome is Outcome.FAILED

    @property
    def label(self) -> str:
        """The rule's short human name."""
        return self.spec.label

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return {
            "rule": self.label,
            "spec": rule_fields(self.spec),
            "outcome": self.outcome.value,
            "passed": self.passed,
            "actual": _jsonable(self.actual),
            "expected": _jsonable(self.expected),
            "current": _jsonable(self.current),
            "previous": _jsonable(self.previous),
            "message": self.message,
            "severity": self.severity.value,
            "action": self.action.value,
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, MetricMissing):
        return None
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


def format_value(value: Any) -> str:
    """A value as a short string: integral floats without ``.0``, others to 4 decimals."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.4f}".rstrip("0").rstrip(".")
        # Tiny values would round to zero: keep their significant digits instead.
        return text if text not in ("0", "-0") else f"{value:.3g}"
    return str(value)


def format_delta(value: Any) -> str:
    """A change with an explicit sign (``+1.5``, ``-2``, ``0``)."""
    text = format_value(value)
    return f"+{text}" if _is_number(value) and value > 0 else text


_FIELD_REF = re.compile(r"\{(metric|actual|expected|previous|current|op|delta|rule)\}")


def _render_message(template: str, values: Mapping[str, str]) -> str:
    # Only known names are substituted so stray braces in a message stay as written.
    return _FIELD_REF.sub(lambda m: values[m.group(1)], template)


# --- evaluation -------------------------------------------------------------------------------


def evaluate(
    spec: RuleSpec, current: Mapping[str, Any], previous: Mapping[str, Any] | None = None
) -> RuleResult:
    """Evaluate ``spec`` against ``current`` metrics (and ``previous`` for delta rules).

    Never raises for bad data or a broken validator: those give ``passed=None``. A
    custom ``message`` is used when the rule is violated; it may name ``{metric}``,
    ``{actual}``, ``{expected}``, ``{op}``, ``{current}``, ``{previous}``, ``{delta}``
    and ``{rule}``. Otherwise the message is generated, e.g.
    ``coverage.line_coverage is 72.5, expected >= 80``.
    """
    if spec.validator is not None:
        return _evaluate_validator(spec, current, previous)
    assert spec.metric is not None and spec.op is not None  # guaranteed by RuleSpec
    base = _Partial(spec)
    value = resolve(current, spec.metric)
    if isinstance(value, MetricMissing):
        return base.error(str(value))
    # A group compared as a whole would fail (==) or pass (!=) forever, whatever it holds.
    shape = not_one_value(spec.metric, value)
    if shape is not None:
        return base.error(shape)
    if not spec.delta:
        return _judge(base, value, value, None)
    if previous is None:
        return base.skip(f"{spec.metric}: no baseline record", current=value)
    before = resolve(previous, spec.metric)
    if isinstance(before, MetricMissing):
        return base.skip(f"{spec.metric}: not in the baseline record", current=value)
    if not (_is_number(value) and _is_number(before)):
        return base.error(
            f"{spec.metric}: a delta needs numbers, got {_describe(before)} "
            f"then {_describe(value)}",
            current=value,
            previous=before,
        )
    change = float(value) - float(before)
    return _judge(base, change, value, before)


@dataclass(frozen=True)
class _Partial:
    """What every result of one spec shares; builds the finished results."""

    spec: RuleSpec

    def make(
        self,
        outcome: Outcome,
        message: str,
        *,
        actual: Any = None,
        current: Any = None,
        previous: Any = None,
    ) -> RuleResult:
        passed = {Outcome.PASSED: True, Outcome.FAILED: False}.get(outcome)
        return RuleResult(
            spec=self.spec,
            passed=passed,
            outcome=outcome,
            actual=actual,
            expected=self.spec.value,
            message=message,
            previous=previous,
            current=current,
            severity=self.spec.severity,
            action=self.spec.action,
        )

    def error(self, message: str, *, current: Any = None, previous: Any = None) -> RuleResult:
        return self.make(Outcome.ERROR, message, current=current, previous=previous)

    def skip(self, message: str, *, current: Any = None) -> RuleResult:
        return self.make(Outcome.SKIPPED, message, current=current)


def _judge(base: _Partial, actual: Any, current: Any, previous: Any) -> RuleResult:
    spec = base.spec
    assert spec.op is not None and spec.metric is not None
    try:
        ok = compare(spec.op, actual, spec.value)
    except IncomparableError as exc:
        return base.error(f"{spec.metric}: {exc}", current=current, previous=previous)
    expected = f"{spec.op.value} {format_value(spec.value)}"
    if spec.delta:
        generated = (
            f"{spec.metric} changed by {format_delta(actual)} "
            f"({format_value(previous)} -> {format_value(current)}), expected change {expected}"
        )
    else:
        generated = f"{spec.metric} is {format_value(actual)}, expected {expected}"
    message = generated
    if not ok and spec.message:
        message = _render_message(
            spec.message,
            {
                "metric": spec.metric,
                "actual": format_value(actual),
                "expected": format_value(spec.value),
                "op": spec.op.value,
                "current": format_value(current),
                "previous": format_value(previous),
                "delta": format_delta(actual) if spec.delta else "",
                "rule": spec.label,
            },
        )
    return base.make(
        Outcome.PASSED if ok else Outcome.FAILED,
        message,
        actual=actual,
        current=current,
        previous=previous,
    )


# --- validators -------------------------------------------------------------------------------


class ValidatorError(Exception):
    """A validator could not be loaded; the message is one line for the user."""


Validator = Callable[..., Any]


def load_validator(ref: str) -> Validator:
    """The callable named by ``ref``: ``package.module:function`` or an entry-point name.

    Raises `ValidatorError` with a one-line reason when it cannot be found or imported.
    """
    if ":" in ref:
        try:
            target: Any = plugins.import_object(ref)
        except plugins.ImportPathError as exc:
            raise ValidatorError(exc.about(f"validator {ref!r}")) from None
    else:
        found = plugins.discover(plugins.VALIDATORS)
        failure = next((f for f in found.failures if f.name == ref), None)
        if failure is not None:
            raise ValidatorError(f"validator {ref!r} failed to load: {failure.error}")
        if ref not in found.loaded:
            raise ValidatorError(
                f"no validator named {ref!r} in the {plugins.VALIDATORS!r} entry points "
                "(an import path is written 'package.module:function')"
            )
        target = found.loaded[ref]
    if not callable(target):
        raise ValidatorError(f"validator {ref!r} is a {type(target).__name__}, not a function")
    return target


def _arguments(fn: Validator, args: Iterable[Any]) -> tuple[Any, ...] | None:
    """The longest prefix of ``args`` (at least two) that ``fn`` accepts, or None."""
    full = tuple(args)
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        # Builtins without a signature: call with the documented two arguments.
        return full[:2]
    for size in (len(full), 2):
        try:
            signature.bind(*full[:size])
        except TypeError:
            continue
        return full[:size]
    return None


def _evaluate_validator(
    spec: RuleSpec, current: Mapping[str, Any], previous: Mapping[str, Any] | None
) -> RuleResult:
    assert spec.validator is not None
    base = _Partial(spec)
    shown: Any = None
    if spec.metric is not None:
        value = resolve(current, spec.metric)
        shown = None if isinstance(value, MetricMissing) else value
    try:
        fn = load_validator(spec.validator)
    except ValidatorError as exc:
        return base.error(str(exc), current=shown)
    args = _arguments(fn, (current, previous, spec))
    if args is None:
        return base.error(
            f"validator {spec.validator!r} must accept (metrics, previous) "
            "or (metrics, previous, spec)",
            current=shown,
        )
    try:
        returned = fn(*args)
    except Exception as exc:  # noqa: BLE001 - user code: reported as one line, never a traceback
        text = str(exc).splitlines()[0] if str(exc) else ""
        return base.error(
            f"validator {spec.validator!r} raised {type(exc).__name__}"
            + (f": {text}" if text else ""),
            current=shown,
        )
    if (
        not isinstance(returned, tuple | list)
        or len(returned) != 2
        or not isinstance(returned[0], bool)
        or not isinstance(returned[1], str)
    ):
        return base.error(
            f"validator {spec.validator!r} returned {_shape(returned)}, "
            "expected a (bool, str) tuple",
            current=shown,
        )
    ok, text = returned
    message = text or (f"{spec.validator} passed" if ok else f"{spec.validator} failed")
    if not ok and spec.message:
        message = spec.message
    return base.make(Outcome.PASSED if ok else Outcome.FAILED, message, actual=shown, current=shown)


def _shape(value: Any) -> str:
    if isinstance(value, tuple | list):
        inner = ", ".join(type(v).__name__ for v in value)
        return f"{type(value).__name__}({inner})"
    return type(value).__name__


# --- `for`: conditions held over time ---------------------------------------------------------


class HoldState(StrEnum):
    """Where a held condition stands (the Prometheus alert states before delivery)."""

    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


Timestamp = float | datetime


def _seconds(at: Timestamp) -> float:
    return at.timestamp() if isinstance(at, datetime) else float(at)


@dataclass(frozen=True)
class HeldCondition:
    """The state of one rule's violation over time: since when it has held, and whether long enough.

    A violation (``passed=False``) starts the clock and makes the condition pending; once
    it has held for the rule's ``for`` duration it is firing. A pass resets it. A result
    that could not be evaluated (``passed=None``) keeps the state as it was and does not
    advance pending to firing, since nothing new was observed.
    """

    key: str
    state: HoldState = HoldState.INACTIVE
    since: float | None = None
    last_seen: float | None = None
    hold_seconds: float = 0.0

    @property
    def firing(self) -> bool:
        """Whether the violation has been held long enough."""
        return self.state is HoldState.FIRING

    @property
    def held_seconds(self) -> float:
        """How long the violation had held at the last observation (0 when inactive)."""
        if self.since is None or self.last_seen is None:
            return 0.0
        return self.last_seen - self.since

    def step(self, at: Timestamp, passed: bool | None, hold_seconds: float) -> HeldCondition:
        """The condition after observing ``passed`` at ``at`` (epoch seconds or a datetime)."""
        now = _seconds(at)
        if hold_seconds < 0 or math.isnan(hold_seconds):
            raise ValueError(f"hold_seconds must be non-negative, got {hold_seconds!r}")
        if self.last_seen is not None and now < self.last_seen:
            raise ValueError(
                f"observation for {self.key!r} at {now} is earlier than the last one "
                f"({self.last_seen})"
            )
        if passed is None:
            return HeldCondition(self.key, self.state, self.since, now, hold_seconds)
        if passed:
            return HeldCondition(self.key, HoldState.INACTIVE, None, now, hold_seconds)
        since = now if self.since is None else self.since
        state = HoldState.FIRING if now - since >= hold_seconds else HoldState.PENDING
        return HeldCondition(self.key, state, since, now, hold_seconds)


@dataclass
class ForTracker:
    """Tracks held conditions per rule key across evaluations (the ``for`` of a rule).

    Pure in-memory state: the caller feeds observations and may persist `states` and pass
    them back in to resume.
    """

    _states: dict[str, HeldCondition] = field(default_factory=dict)

    @classmethod
    def resume(cls, states: Iterable[HeldCondition]) -> ForTracker:
        """A tracker continuing from previously saved conditions."""
        return cls({s.key: s for s in states})

    @property
    def states(self) -> dict[str, HeldCondition]:
        """The current condition of every key seen, by key (a copy)."""
        return dict(self._states)

    def get(self, key: str) -> HeldCondition:
        """The current condition of ``key`` (inactive when never seen)."""
        return self._states.get(key, HeldCondition(key))

    def observe(
        self, key: str, at: Timestamp, passed: bool | None, hold_seconds: float
    ) -> HeldCondition:
        """Record one observation of ``key`` and return its new condition."""
        new = self.get(key).step(at, passed, hold_seconds)
        self._states[key] = new
        return new

    def observe_result(self, result: RuleResult, at: Timestamp) -> HeldCondition:
        """Record a rule result under `rule_key` with the rule's own ``for`` duration."""
        return self.observe(rule_key(result.spec), at, result.passed, result.spec.hold_seconds)

    def forget(self, key: str) -> None:
        """Drop the state of ``key`` (a rule removed from configuration)."""
        self._states.pop(key, None)
