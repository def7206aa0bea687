"""Configuration: one pydantic model tree read from ``[tool.plimsoll]``, ``plimsoll.toml`` or ``plimsoll.yaml``.

``${VAR}`` and ``${VAR:-default}`` in string values come from the environment. An error
names the file, the key path and what was expected, and never shows a value (it may be
a password).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from plimsoll.core.errors import ConfigError
from plimsoll.core.hooks.spec import HookSpec
from plimsoll.core.rules import Operator, RuleSpec, parse_duration

# The one exception to "the core knows no part": the risk settings (weights, curves,
# throughput) are models with their own maths, kept next to the code that uses them; the
# module imports only pydantic and the level names, so nothing heavy and no cycle.
from plimsoll.db.risk.config import RiskConfig  # noqa: E402 - grouped with its explanation

CONFIG_FILES = ("plimsoll.toml", "plimsoll.yaml", "plimsoll.yml", "pyproject.toml")
ALL_COLLECTORS = (
    "stats",
    "complexity",
    "maintainability",
    "debt",
    "coverage",
    "bandit",
    "interrogate",
    "mypy",
    "pylint",
    "ruff",
)
# Directories never analysed, whatever the configuration says.
ALWAYS_EXCLUDED = (
    ".venv",
    "venv",
    "build",
    "dist",
    ".git",
    "node_modules",
    ".tox",
    ".nox",
    "__pycache__",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".plimsoll",
    ".eggs",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- code -------------------------------------------------------------------------------------


# The comment markers the debt collector counts unless configured otherwise.
DEFAULT_DEBT_MARKERS = ("TODO", "FIXME", "HACK", "XXX", "BUG", "OPTIMIZE", "REFACTOR")


class DebtConfig(_Model):
    """Limits beyond which a structure counts as technical debt, and fix-time estimates."""

    markers: list[str] = Field(default_factory=lambda: list(DEFAULT_DEBT_MARKERS))
    long_function_lines: int = 50
    large_class_lines: int = 300
    large_class_methods: int = 20
    max_nesting: int = 4
    high_complexity: int = 10
    minutes_per_marker: float = 15.0
    minutes_per_long_function: float = 30.0
    minutes_per_large_class: float = 60.0
    minutes_per_deep_nesting: float = 20.0
    minutes_per_complexity_point: float = 5.0


class RetentionConfig(_Model):
    """Tiered pruning, compression and rotation of history records.

    Ages are whole days, 0 or more. The tiers must be ordered, ``keep_days <=
    weekly_after_days <= monthly_after_days``; a tier left unset follows the one before it
    (``keep_days = 45`` alone moves the weekly tier to 45 days), a tier set out of order is
    an error naming its key.
    """

    keep_days: int = Field(default=30, ge=0)
    weekly_after_days: int = Field(default=30, ge=0)
    monthly_after_days: int = Field(default=90, ge=0)
    compress_after_days: int = Field(default=30, ge=0)
    max_age_days: int | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _ordered_tiers(self) -> RetentionConfig:
        given = self.model_fields_set
        if "weekly_after_days" not in given:
            self.weekly_after_days = max(self.weekly_after_days, self.keep_days)
        if "monthly_after_days" not in given:
            self.monthly_after_days = max(self.monthly_after_days, self.weekly_after_days)
        problem: tuple[str, str] | None = None
        if self.weekly_after_days < self.keep_days:
            problem = ("weekly_after_days", f"must be at least keep_days ({self.keep_days})")
        elif self.monthly_after_days < self.weekly_after_days:
            problem = (
                "monthly_after_days",
                f"must be at least weekly_after_days ({self.weekly_after_days})",
            )
        if problem is None:
            return self
        # A ValidationError (not a ValueError) so the error names the key itself.
        error = PydanticCustomError("tier_order", problem[1])
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [InitErrorDetails(type=error, loc=(problem[0],), input=getattr(self, problem[0]))],
        )


class CoverageConfig(_Model):
    """Where coverage comes from: existing coverage.py data, or by running the tests."""

    data_file: str | None = None
    run_tests: bool = False
    test_command: str = "python -m pytest -q -x -p no:cacheprovider"


# Operators that order their operands: they need numbers (core.rules.compare).
_ORDERING_OPS = frozenset({Operator.GE, Operator.LE, Operator.GT, Operator.LT})


def _compares_as_number(value: object) -> bool:
    """Whether a rule compares ``value`` as a number (text from ``${VAR}`` may hold one)."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    if isinstance(value, str):
        try:
            float(value.strip())
        except ValueError:
            return False
        return True
    return False


class ThresholdSpec(RuleSpec):
    """A code threshold: a rule whose comparison can hold at all.

    An ordering (``>= <= > <``) or a ``delta`` needs a number; anything else can never pass,
    so it is a configuration error at load, named ``code.thresholds[N].value``.
    """

    @model_validator(mode="before")
    @classmethod
    def _from_rule(cls, data: Any) -> Any:
        # A plain RuleSpec built in Python is taken as its fields.
        if isinstance(data, RuleSpec) and not isinstance(data, ThresholdSpec):
            return data.model_dump(by_alias=True, exclude_unset=True)
        return data

    @model_validator(mode="after")
    def _no_duration(self) -> ThresholdSpec:
        # ``for`` (how long a condition must hold) is for alert rules, evaluated again and
        # again; a code threshold is checked once per record, so it would do nothing.
        if self.for_ is None:
            return self
        error = PydanticCustomError(
            "not_for_thresholds",
            "a code threshold is checked once per record: `for` applies to runtime alert rules",
        )
        raise ValidationError.from_exception_data(
            type(self).__name__, [InitErrorDetails(type=error, loc=("for",), input=self.for_)]
        )

    @model_validator(mode="after")
    def _comparable(self) -> ThresholdSpec:
        if self.validator is not None or self.value is None or _compares_as_number(self.value):
            return self
        if self.delta:
            problem = "a delta rule needs a number"
        elif self.op in _ORDERING_OPS:
            problem = f"{self.op} needs a number"
        else:
            return self
        kind = "a boolean" if isinstance(self.value, bool) else "text"
        # A ValidationError (not a ValueError) so the error names the `value` key itself.
        error = PydanticCustomError("not_a_number", f"{problem}, not {kind}")
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [InitErrorDetails(type=error, loc=("value",), input=self.value)],
        )


class CodeConfig(_Model):
    """The code-metrics tracker.

    ``branch`` is the git branch the history is kept on. When it is not set, it is
    ``code-metrics`` for a project at the top of its git work tree, and
    ``code-metrics-<folder>`` for a project in a subfolder (its configuration file's folder,
    ``/`` written ``-``: ``services/api`` keeps its history on ``code-metrics-services-api``),
    so the projects of a monorepo each have their own history. Set it to share one branch on
    purpose (``branch = "code-metrics"`` keeps the default of earlier versions for a
    subfolder project); a branch holding another project's records is refused.
    """

    paths: list[str] = Field(default_factory=lambda: ["."])
    exclude: list[str] = Field(default_factory=list)
    collectors: list[str] = Field(default_factory=lambda: list(ALL_COLLECTORS))
    collector_timeout_seconds: float = 600.0
    # A larger file is not linted by pylint (skipped and named): some of its checks are
    # quadratic in a file's tokens, about 30 s for a generated 1 MB module.
    pylint_max_file_bytes: int = Field(default=1_000_000, gt=0)
    # Outside CI, a process keeps pylint's trees of the project's imports between two runs
    # (see plimsoll.code.collectors._pylint_server); it stops after this long unused, 0: none.
    pylint_server_idle_seconds: float = Field(default=900.0, ge=0)
    jobs: int | None = None
    branch: str = "code-metrics"
    remote: str = "origin"
    base_branch: str = "main"
    # A `fail` delta rule with no baseline record to compare with fails the gate (exit 1)
    # instead of being skipped with a warning (a shallow clone, a history not fetched).
    require_baseline: bool = False
    push_retries: int = 5
    cache_dir: str = ".plimsoll/cache"
    debt: DebtConfig = Field(default_factory=DebtConfig)
    coverage: CoverageConfig = Field(default_factory=CoverageConfig)
    thresholds: list[ThresholdSpec] = Field(default_factory=list)
    retention: RetentionConfig = Field(default_factory=RetentionConfig)
    notify_channels: list[str] = Field(default_factory=list)


# --- notify -----------------------------------------------------------------------------------


class _ChannelBase(_Model):
    retries: int = 3
    backoff_seconds: float = 1.0
    timeout_seconds: float = 10.0
    breaker_threshold: int = 5
    breaker_reset_seconds: float = 60.0


class AppriseChannel(_ChannelBase):
    """Any apprise URL (Slack, Teams, Discord, mailto, ...)."""

    kind: Literal["apprise"]
    url: SecretStr


class WebhookChannel(_ChannelBase):
    """A JSON POST to a URL."""

    kind: Literal["webhook"]
    url: SecretStr
    headers: dict[str, SecretStr] = Field(default_factory=dict)


class SmtpChannel(_ChannelBase):
    """An email sent through an SMTP server."""

    kind: Literal["smtp"]
    host: str = "localhost"
    port: int = 25
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    ssl: bool = False
    sender: str
    to: list[str]
    subject_prefix: str = "[plimsoll]"


class GitHubCommentChannel(_ChannelBase):
    """A comment on a GitHub pull request through the REST API."""

    kind: Literal["github_comment"]
    api_url: str = "https://api.github.com"
    token: SecretStr | None = None
    repository: str | None = None
    pull_request: int | None = None
    update_existing: bool = True


class GitHubSummaryChannel(_ChannelBase):
    """Markdown appended to the GitHub Actions step summary."""

    kind: Literal["github_summary"]
    path: str | None = None


ChannelConfig = Annotated[
    AppriseChannel | WebhookChannel | SmtpChannel | GitHubCommentChannel | GitHubSummaryChannel,
    Field(discriminator="kind"),
]


def _positive_duration(value: str | float) -> str | float:
    if parse_duration(value) <= 0:
        raise ValueError("must keep them for a positive time")
    return value


# How long something is kept: a duration ("7d", "12h") or seconds, more than zero.
KeepFor = Annotated[str | float, AfterValidator(_positive_duration)]


class NotifyConfig(_Model):
    """Notification channels by name; ``outbox_retention``: how long delivered messages stay
    in the outbox (undelivered ones stay until delivered or superseded)."""

    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    default_channels: list[str] = Field(default_factory=list)
    outbox_retention: KeepFor = "7d"

    @property
    def outbox_retention_seconds(self) -> float:
        """How long delivered messages are kept, in seconds."""
        return parse_duration(self.outbox_retention)


# --- db ---------------------------------------------------------------------------------------


class EnvironmentConfig(_Model):
    """One database environment; without ``url`` it is the embedded server plimsoll runs.

    ``lock_timeout`` and ``statement_timeout`` are PostgreSQL durations (``"5s"``, ``"1min"``);
    a bare integer is milliseconds, PostgreSQL's unit for both (``2`` is ``"2ms"``).
    """

    url: SecretStr | None = None
    lock_timeout: str | None = None
    statement_timeout: str | None = None

    @field_validator("lock_timeout", "statement_timeout", mode="before")
    @classmethod
    def _milliseconds(cls, value: object) -> object:
        return milliseconds_timeout(value)


def milliseconds_timeout(value: object) -> object:
    """A timeout setting as PostgreSQL reads it: an integer (not a boolean) becomes
    ``"<n>ms"``; anything else is left for the field's own check."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("must be 0 (no timeout) or more milliseconds")
        return f"{value}ms"
    return value


class EmbeddedServerConfig(_Model):
    """The local PostgreSQL plimsoll starts itself when an environment has no URL."""

    data_dir: str = ".plimsoll/pg"
    database: str = "plimsoll"
    port: int | None = None
    start_timeout_seconds: float = 60.0


class LintRuleConfig(_Model):
    """The config's word on one lint rule: on or off, its severity, its options."""

    enabled: bool = True
    severity: Literal["error", "warning", "info"] | None = None
    options: dict[str, Any] = Field(default_factory=dict)


class LintConfig(_Model):
    """``plimsoll db lint``: which libraries and rules, and what fails the run.

    ``libraries`` are always on; ``--library`` adds more. ``paths`` default to the schema and
    migrations folders. ``pg_version`` is the server major version rules assume when no
    ``--env`` says otherwise: ``MAJOR`` or ``MAJOR.MINOR`` from 9 to 30 (``17``, ``16.2``,
    ``9.6``); a minor release changes nothing the rules look at, so it is dropped (``16.2``
    is 16), and every 9.x is 9 (no rule tells 9.x releases apart). ``migrator_settings``:
    migrations in the project's own folder run through plimsoll's migrator, which sets
    ``lock_timeout`` and ``statement_timeout`` itself, so rules asking for them are satisfied
    there. ``library_options``: options a library's
    rules share, set once per library (``[db.lint.library_options.hipaa]
    phi_column_patterns = [...]``); a rule's own ``options`` override them.
    """

    libraries: list[str] = Field(default_factory=lambda: ["safety", "general"])
    library_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=list)
    pg_version: int = 17
    fail_on: Literal["error", "warning", "info"] = "warning"
    conflict_strategy: Literal["error", "warn", "prefer-first", "prefer-last"] = "warn"
    assume_in_transaction: bool = False
    migrator_settings: bool = True
    rules: dict[str, LintRuleConfig] = Field(default_factory=dict)

    # The PostgreSQL major versions the lint knows (``--pg-version`` and ``pg_version``).
    PG_VERSIONS: ClassVar[tuple[int, int]] = (9, 30)

    @field_validator("pg_version", mode="before")
    @classmethod
    def _pg_version(cls, value: object) -> int:
        try:
            return cls.parse_pg_version(value)
        except ValueError as exc:
            raise PydanticCustomError("pg_version", str(exc)) from None

    @classmethod
    def parse_pg_version(cls, value: object) -> int:
        """The major version in ``value`` (``17``, ``"16.2"``, ``9.6``); ValueError naming what
        is expected otherwise (the same words for ``--pg-version`` and the config)."""
        low, high = cls.PG_VERSIONS
        text = repr(value) if isinstance(value, float) else str(value).strip()
        match = re.fullmatch(r"(\d+)(?:\.(\d+))?", text)
        if isinstance(value, bool) or match is None or not low <= int(match[1]) <= high:
            raise ValueError(
                f"expected a PostgreSQL version, MAJOR or MAJOR.MINOR from {low} to {high}"
                f" (17, 16.2, 9.6), not {value!r}"
            )
        return int(match[1])


def _table_name(value: str) -> str:
    """A table name PostgreSQL reads the same quoted or not: lower case, or schema.name."""
    if not re.fullmatch(r"([a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}", value):
        raise ValueError(
            f"{value!r} is not a plain table name: use lower-case letters, digits and _ "
            "(at most 63), optionally as schema.name"
        )
    return value


class DbConfig(_Model):
    """The PostgreSQL part: where the files are, environments, and migration safety settings."""

    schema_dir: str = "db/schema"
    migrations_dir: str = "db/migrations"
    seeds_dir: str = "db/seeds"
    default_environment: str = "development"
    environments: dict[str, EnvironmentConfig] = Field(
        default_factory=lambda: {"development": EnvironmentConfig()}
    )
    tracking_table: Annotated[str, AfterValidator(_table_name)] = "plimsoll_migrations"
    # PostgreSQL durations; an integer is milliseconds (see EnvironmentConfig).
    lock_timeout: str = "5s"
    statement_timeout: str = "1min"
    migrator_lock_timeout_seconds: float = 60.0
    # Apply a pending migration older than the newest applied one (Flyway's outOfOrder):
    # off by default, since it was written against a schema without the newer migrations.
    out_of_order: bool = False
    embedded: EmbeddedServerConfig = Field(default_factory=EmbeddedServerConfig)
    hooks: list[HookSpec] = Field(default_factory=list)
    hook_strategy: Literal["sequential", "parallel", "dag"] = "sequential"
    hook_max_workers: int = 4
    hook_phase_timeouts: dict[str, float] = Field(default_factory=dict)
    hook_breaker_threshold: int = Field(default=5, ge=0)
    hook_breaker_reset_seconds: float = Field(default=300.0, ge=0)
    lint: LintConfig = Field(default_factory=LintConfig)
    risk: RiskConfig = Field(default_factory=RiskConfig)

    # The phases the migrator runs hooks in (``plimsoll.db.hooks.DbPhase`` has the same values,
    # a test keeps them equal): listed here so that a misspelt phase fails at load.
    HOOK_PHASES: ClassVar[tuple[str, ...]] = (
        "before_validation",
        "after_validation",
        "before_migration",
        "before_statement",
        "after_statement",
        "after_migration",
        "on_error",
        "cleanup",
    )

    @field_validator("lock_timeout", "statement_timeout", mode="before")
    @classmethod
    def _milliseconds(cls, value: object) -> object:
        return milliseconds_timeout(value)

    @model_validator(mode="after")
    def _known_hook_phases(self) -> DbConfig:
        # A ValidationError (not a ValueError) so the error names the key itself:
        # db.hooks[N].phase, or db.hook_phase_timeouts.<phase> (a typo there was ignored).
        wrong: list[tuple[tuple[str | int, ...], str]] = [
            (("hooks", index, "phase"), spec.phase)
            for index, spec in enumerate(self.hooks)
            if spec.phase not in self.HOOK_PHASES
        ]
        wrong += [
            (("hook_phase_timeouts", phase), phase)
            for phase in self.hook_phase_timeouts
            if phase not in self.HOOK_PHASES
        ]
        if not wrong:
            return self
        error = PydanticCustomError(
            "unknown_phase",
            "unknown phase: expected one of {phases}",
            {"phases": ", ".join(self.HOOK_PHASES)},
        )
        raise ValidationError.from_exception_data(
            type(self).__name__,
            [InitErrorDetails(type=error, loc=loc, input=value) for loc, value in wrong],
        )


# --- runtime --------------------------------------------------------------------------------


def _no_colon(value: str | None) -> str | None:
    if value is not None and (not value or ":" in value):
        # health+json keys are component:measurement, so a colon in a name would be ambiguous.
        raise ValueError("must be non-empty and must not contain ':'")
    return value


class HealthCheckConfig(_Model):
    """One configured check: its type, its name in the report, its timing and its own options."""

    type: str = Field(min_length=1)
    component: str | None = None
    component_id: str | None = None
    interval_seconds: float | None = Field(default=None, ge=0)
    timeout_seconds: float | None = Field(default=None, gt=0)
    options: dict[str, Any] = Field(default_factory=dict)

    _component = field_validator("component")(_no_colon)


class HealthConfig(_Model):
    """``runtime.health``: the checks, their default interval and timeout, the service's identity.

    With no checks, ``plimsoll runtime health`` runs the system check alone (and says so);
    a readiness endpoint built from this section with no checks answers ``pass``.
    """

    checks: list[HealthCheckConfig] = Field(default_factory=list)
    interval_seconds: float = Field(default=10.0, ge=0)
    timeout_seconds: float = Field(default=5.0, gt=0)
    service_id: str | None = None
    description: str | None = None
    version: str | None = None
    release_id: str | None = None


class RetentionTierConfig(_Model):
    """One tier of runtime-sample retention: samples at ``resolution`` kept for ``keep``.

    ``resolution`` is ``raw`` (as sampled) or a bucket width (``1m``, ``1h``); ``keep`` a
    duration (``24h``, ``7d``). Past ``keep``, a tier's samples are averaged into the next
    tier's buckets; the last tier's are deleted.
    """

    resolution: str | float = "raw"
    keep: str | float

    @field_validator("resolution", "keep")
    @classmethod
    def _duration(cls, value: str | float) -> str | float:
        if value != "raw":
            parse_duration(value)
        return value

    @property
    def resolution_seconds(self) -> int:
        """The bucket width in whole seconds (0 for raw samples)."""
        return 0 if self.resolution == "raw" else int(parse_duration(self.resolution))

    @property
    def keep_seconds(self) -> float:
        """How long the tier keeps its samples, in seconds."""
        return parse_duration(self.keep)


def _default_retention() -> list[RetentionTierConfig]:
    return [
        RetentionTierConfig(resolution="raw", keep="24h"),
        RetentionTierConfig(resolution="1m", keep="7d"),
        RetentionTierConfig(resolution="1h", keep="90d"),
    ]


class MonitorConfig(_Model):
    """``runtime.monitor``: the performance monitor sampling the system and the metrics registry."""

    interval_seconds: float = Field(default=10.0, gt=0)
    system: bool = True
    disk_paths: list[str] = Field(default_factory=lambda: ["/"])
    sample_registry: bool = True
    exclude: list[str] = Field(default_factory=list)
    max_samples_per_tick: int = Field(default=5000, ge=1)
    max_maintenance_rows: int = Field(default=20000, ge=1)
    retention: list[RetentionTierConfig] = Field(default_factory=_default_retention)
    # A service's workers elect one sampler (runtime/sampler_lease.py); the lock file defaults
    # to the multiprocess directory, else .plimsoll/ (relative paths: to the project root).
    single_sampler: bool = True
    lock_file: str | None = None

    @field_validator("retention")
    @classmethod
    def _tiers(cls, tiers: list[RetentionTierConfig]) -> list[RetentionTierConfig]:
        if not tiers or tiers[0].resolution_seconds != 0:
            raise ValueError("the first tier must be the raw one (resolution = 'raw')")
        for lower, upper in zip(tiers, tiers[1:], strict=False):
            if upper.resolution_seconds <= lower.resolution_seconds:
                raise ValueError("tiers must have increasing resolutions")
            if upper.keep_seconds <= lower.keep_seconds:
                raise ValueError("each tier must keep its samples longer than the one before")
        if any(t.keep_seconds <= 0 for t in tiers):
            raise ValueError("every tier must keep its samples for a positive time")
        return tiers


class UsageConfig(_Model):
    """``runtime.usage``: usage analytics (off unless ``enabled``) and its in-memory queue."""

    enabled: bool = False
    queue_size: int = Field(default=10000, ge=1)
    batch_size: int = Field(default=1000, ge=1)
    flush_interval_seconds: float = Field(default=1.0, gt=0)
    flush_timeout_seconds: float = Field(default=5.0, gt=0)
    # Past the analyzer's longest window (30 days), events are deleted by the monitor's
    # retention pass (`runtime watch`, `runtime monitor`).
    retention: KeepFor = "35d"

    @property
    def retention_seconds(self) -> float:
        """How long usage events are kept, in seconds."""
        return parse_duration(self.retention)


class RuntimeConfig(_Model):
    """The ``runtime`` section: settings of the running service's observability."""

    health: HealthConfig = Field(default_factory=HealthConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    usage: UsageConfig = Field(default_factory=UsageConfig)
    # Validated by plimsoll.runtime.alerts.loader, which names the file and the key path.
    alerts: dict[str, Any] = Field(default_factory=dict)
    # Validated by plimsoll.runtime.slo.loader, which names the file and the key path.
    slo: dict[str, Any] = Field(default_factory=dict)


# --- store, log, root -------------------------------------------------------------------------


class StoreConfig(_Model):
    """The embedded state store: SQLite by default, PostgreSQL when ``url`` is set."""

    path: str = ".plimsoll/state.db"
    url: SecretStr | None = None


class LogConfig(_Model):
    """Log level and format."""

    level: Literal["debug", "info", "warning", "error"] = "warning"
    format: Literal["text", "json"] = "text"


class PlimsollConfig(_Model):
    """The whole configuration."""

    code: CodeConfig = Field(default_factory=CodeConfig)
    db: DbConfig = Field(default_factory=DbConfig)
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    log: LogConfig = Field(default_factory=LogConfig)


class LoadedConfig(BaseModel):
    """A validated configuration with where it came from."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    config: PlimsollConfig
    source: Path | None
    root: Path


# --- loading ----------------------------------------------------------------------------------

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def unknown_channels(key: str, names: Iterable[str], known: Iterable[str]) -> str | None:
    """The message for channel ``names`` (at config ``key``) that notify does not configure.

    ``"db.hooks[0].channels: unknown channel opz (configured under notify.channels: ops)"``,
    or None when every name is configured. One wording for every part that routes messages.
    """
    configured = set(known)
    unknown = [name for name in dict.fromkeys(names) if name not in configured]
    if not unknown:
        return None
    plural = "s" if len(unknown) > 1 else ""
    listed = ", ".join(sorted(configured)) or "none"
    return (
        f"{key}: unknown channel{plural} {', '.join(unknown)}"
        f" (configured under notify.channels: {listed})"
    )


def interpolate(value: Any, env: Mapping[str, str], where: str = "", path: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{where}: {path or '<root>'}: environment variable {name} is not set "
                f"(write ${{{name}:-default}} to give a default)"
            )

        return _VAR.sub(repl, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, where, _join(path, str(k))) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, where, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _read_yaml(path: Path, text: str) -> Any:
    # Imported here: most projects configure plimsoll in pyproject.toml.
    import yaml

    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{line} invalid YAML: {getattr(exc, 'problem', exc)}") from None


def _read_raw(path: Path) -> dict[str, Any] | None:
    """The plimsoll table of ``path``, or None when a pyproject.toml has none."""
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a configuration file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start})"
        ) from None
    if path.suffix in (".yaml", ".yml"):
        data = _read_yaml(path, text)
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        if not isinstance(tool, dict):
            raise ConfigError(f"{path}: [tool] must be a table")
        section = tool.get("plimsoll")
        if section is None:
            return None
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: [tool.plimsoll] must be a table")
        return section
    return data


def _describe(path: Path) -> str:
    return f"{path} [tool.plimsoll]" if path.name == "pyproject.toml" else str(path)


def parse(
    raw: Mapping[str, Any], where: str, env: Mapping[str, str] | None = None
) -> PlimsollConfig:
    """Validate a raw settings mapping; errors name ``where`` and the key path."""
    data = interpolate(dict(raw), os.environ if env is None else env, where)
    try:
        return PlimsollConfig.model_validate(data)
    except ValidationError as exc:
        from plimsoll.core.config_errors import describe

        raise ConfigError(f"{where}: {describe(exc.errors(), PlimsollConfig)}") from None


def _configures(pyproject: Path, *, lenient: bool) -> bool:
    """Whether ``pyproject`` has a ``[tool.plimsoll]`` table.

    ``lenient`` when a plimsoll file sits next to it: a pyproject.toml that cannot be read or
    parsed is then another tool's business, not a reason to stop a project plimsoll.toml
    configures.
    """
    if not pyproject.is_file():
        return False
    try:
        return _read_raw(pyproject) is not None
    except ConfigError:
        if lenient:
            return False
        raise


def find_config(start: Path) -> Path | None:
    """The first configuration file in ``start`` or its parents (a plimsoll table required in pyproject)."""
    for folder in (start, *start.parents):
        own = [folder / name for name in CONFIG_FILES[:-1] if (folder / name).is_file()]
        found = own + [p for p in [folder / "pyproject.toml"] if _configures(p, lenient=bool(own))]
        if len(found) > 1:
            # Taking one silently would drop the other's settings (a CI gate's thresholds).
            names = [_describe(p) for p in found]
            listed = ", ".join(names[:-1]) + f" and {names[-1]}"
            both = "both " if len(names) == 2 else ""
            raise ConfigError(
                f"{folder}: {both}{listed} configure plimsoll; keep one (or choose with --config)"
            )
        if found:
            return found[0]
        if (folder / ".git").exists():
            break
    return None


def load(
    path: Path | None = None, start: Path | None = None, env: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Load the configuration from ``path``, or find it from ``start`` (default: the cwd)."""
    start = (start or Path.cwd()).resolve()
    if path is not None:
        path = path.resolve()
        if path.is_dir():
            raise ConfigError(f"{path}: is a folder, not a configuration file")
        if not path.is_file():
            raise ConfigError(f"{path}: configuration file not found")
        source: Path | None = path
    else:
        source = find_config(start)
    if source is None:
        return LoadedConfig(config=PlimsollConfig(), source=None, root=start)
    raw = _read_raw(source) or {}
    config = parse(raw, _describe(source), env)
    return LoadedConfig(config=config, source=source, root=source.parent)
