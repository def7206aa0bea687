"""The errors the hook engine raises: a bad dependency graph, and a fail-fast hook failure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from plimsoll.core.errors import ConfigError, ExitCode, PlimsollError
from plimsoll.core.hooks.model import Outcome

if TYPE_CHECKING:
    from plimsoll.core.hooks.trace import HookResult, RunTrace


class UnknownDependencyError(ConfigError):
    """A hook depends on a hook that is not registered for its phase."""

    slug = "hook-unknown-dependency"

    def __init__(self, phase: str, hook: str, missing: str) -> None:
        super().__init__(
            f"hooks of phase {phase}: hook {hook!r} depends on unknown hook {missing!r}"
        )
        self.phase = phase
        self.hook = hook
        self.missing = missing


class DependencyCycleError(ConfigError):
    """The ``depends_on`` links of a phase form a cycle; ``members`` names the hooks in it."""

    slug = "hook-cycle"

    def __init__(self, phase: str, members: tuple[str, ...]) -> None:
        chain = " -> ".join((*members, members[0]))
        super().__init__(f"hooks of phase {phase}: dependency cycle {chain}")
        self.phase = phase
        self.members = members


class HookFailed(PlimsollError):
    """A hook failed under the ``fail_fast`` (or exhausted ``retry``) strategy: the caller rolls back.

    ``result`` is the failing hook's record and ``trace`` the run so far, including the
    phase that stopped.
    """

    exit_code = ExitCode.CANNOT_RUN
    slug = "hook-failed"

    def __init__(self, result: HookResult, trace: RunTrace) -> None:
        if result.outcome is Outcome.BREAKER_OPEN:
            message = f"hook {result.name!r} in phase {result.phase}: {result.error}"
        else:
            message = (
                f"hook {result.name!r} {result.outcome.value.replace('_', ' ')} in phase "
                f"{result.phase}: {result.error or 'no error message'}"
            )
        super().__init__(message)
        self.result = result
        self.trace = trace
