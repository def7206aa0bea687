"""From ``runtime.health`` to checks and a runner: types by entry point or import path, options validated.

A check's ``type`` is the name of an entry point in the ``plimsoll.health_checks`` group (the
built-ins ``system``, ``database`` and ``service`` are registered there too) or an import path
``package.module:Class``. Its ``options`` are the keyword arguments of the class's
``__init__`` other than the common ones: they are validated against the annotations of that
signature, so a wrong or unknown option is a configuration error naming its key path, for a
third party's check as for a built-in one.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from plimsoll.core import plugins
from plimsoll.core.errors import CannotRunError, ConfigError
from plimsoll.runtime.config import HealthCheckConfig, HealthConfig
from plimsoll.runtime.health import COMMON_OPTIONS, CheckContext, HealthCheck, HealthRunner

DEFAULT_NOTE = "no health checks configured (runtime.health.checks): ran the system check"


def _explain(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown option"
    if kind == "missing":
        return "required option is missing"
    # pydantic's message says what was expected; the value (maybe a password) is never shown.
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


def _loc(loc: tuple[int | str, ...], data: Any) -> str:
    # Only the parts that exist in the input: pydantic appends the members of a union
    # (``url.str``) that are no key of the user's.
    out = ""
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list | tuple) and isinstance(part, int) and part < len(data):
            data = data[part]
        elif not out:
            data = None  # an unknown or missing option: still name it
        else:
            break
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def options_model(cls: type[HealthCheck]) -> type[BaseModel]:
    """A pydantic model of ``cls``'s own options, made from its ``__init__`` signature."""
    try:
        hints = typing.get_type_hints(cls.__init__)
    except Exception:  # noqa: BLE001 - unresolvable annotations: validate nothing but names
        hints = {}
    fields: dict[str, Any] = {}
    for param in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name in COMMON_OPTIONS:
            continue
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints.get(param.name, Any), default)
    return create_model(
        f"{cls.__name__}Options",
        __config__=ConfigDict(extra="forbid", arbitrary_types_allowed=True),
        **fields,
    )


def _known(discovered: plugins.Discovered) -> str:
    names = sorted([*discovered.loaded, *(f.name for f in discovered.failures)])
    return ", ".join(names) or "none"


def resolve_type(type_name: str, discovered: plugins.Discovered, at: str) -> type[HealthCheck]:
    """The check class named by ``type_name`` (an entry-point name or ``package.module:Class``)."""
    if ":" in type_name:
        try:
            found = plugins.import_object(type_name)
        except plugins.ImportPathError as exc:
            raise ConfigError(f"{at}: {exc.about(f'health check {type_name!r}')}") from None
    elif type_name in discovered.loaded:
        found = discovered.loaded[type_name]
    else:
        failure = next((f for f in discovered.failures if f.name == type_name), None)
        if failure is not None:
            raise CannotRunError(
                f"{at}: health check {type_name!r} ({failure.value}) failed to load: "
                f"{failure.error}"
            )
        raise ConfigError(
            f"{at}: unknown health check {type_name!r} (known: {_known(discovered)}; "
            "or give an import path 'package.module:Class')"
        )
    if not (isinstance(found, type) and issubclass(found, HealthCheck)):
        raise ConfigError(f"{at}: {type_name!r} is not a plimsoll.runtime.health.HealthCheck class")
    return found


def build_check(
    spec: HealthCheckConfig,
    health: HealthConfig,
    *,
    at: str,
    discovered: plugins.Discovered,
    context: CheckContext,
) -> HealthCheck:
    """One check from its configuration; ``at`` is ``<file>: runtime.health.checks[i]``."""
    cls = resolve_type(spec.type, discovered, f"{at}.type")
    try:
        options = cls.prepare_options(dict(spec.options), context)
    except (ValueError, ConfigError) as exc:
        raise ConfigError(f"{at}.options: {exc}") from None
    model = options_model(cls)
    try:
        validated = model.model_validate(options)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ConfigError(f"{at}.options{_loc(first['loc'], options)}: {_explain(first)}") from None
    kwargs = {name: getattr(validated, name) for name in validated.model_fields_set}
    try:
        return cls(
            **kwargs,
            component=spec.component,
            component_id=spec.component_id,
            interval_seconds=(
                health.interval_seconds if spec.interval_seconds is None else spec.interval_seconds
            ),
            timeout_seconds=spec.timeout_seconds or health.timeout_seconds,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{at}.options: {exc}") from None


def build_checks(
    health: HealthConfig,
    *,
    where: str,
    context: CheckContext | None = None,
    default_system: bool = False,
) -> list[HealthCheck]:
    """The configured checks, in order; with ``default_system`` and none configured, the system check.

    ``where`` names the configuration file in errors. Raises ConfigError for a bad type or
    option, CannotRunError for a configured plugin that failed to load.
    """
    context = context or CheckContext()
    specs = list(health.checks)
    if not specs and default_system:
        specs = [HealthCheckConfig(type="system")]
    if not specs:
        return []
    needs_plugins = any(":" not in spec.type for spec in specs)
    discovered = (
        plugins.discover(plugins.HEALTH_CHECKS)
        if needs_plugins
        else plugins.Discovered(plugins.HEALTH_CHECKS)
    )
    return [
        build_check(
            spec,
            health,
            at=f"{where}: runtime.health.checks[{i}]",
            discovered=discovered,
            context=context,
        )
        for i, spec in enumerate(specs)
    ]


def build_runner(
    health: HealthConfig,
    *,
    where: str,
    context: CheckContext | None = None,
    default_system: bool = False,
) -> HealthRunner:
    """A runner of the configured checks carrying the service's identity from ``health``."""
    checks = build_checks(health, where=where, context=context, default_system=default_system)
    notes = (DEFAULT_NOTE,) if default_system and not health.checks else ()
    return HealthRunner(
        checks,
        service_id=health.service_id,
        description=health.description,
        version=health.version,
        release_id=health.release_id,
        notes=notes,
    )
