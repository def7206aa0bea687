"""A rule whose check fails: reported in the run's warnings, never the end of the run.

A plugin's rule may raise on a statement it did not expect, or yield something that is not a
:class:`~plimsoll.db.lint.rule.Violation`. Either way that rule's result for that statement (or
schema) is dropped, a one-line warning names the rule, where it was and the error, and every
other rule goes on: one broken rule must not cost the others' findings, nor turn the exit code
into "could not run". After :data:`MAX_FAILURES` failures the rule is left out for the rest of
the run (a rule that fails on every statement would otherwise bury the report in warnings).
Built-in rules get the same treatment; their tests assert that a run has no warnings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from plimsoll.db.lint.rule import Violation

if TYPE_CHECKING:
    from plimsoll.db.lint.compose import ActiveRule

MAX_FAILURES = 3


def _one_line(exc: BaseException) -> str:
    """``ValueError: reason``, on one line (a multi-line message is folded)."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class RuleFailures:
    """The failures of a run's rules: the warnings said so far and how often each rule failed."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.warnings: list[str] = []

    def disabled(self, rule_id: str) -> bool:
        """Whether ``rule_id`` failed too often to be run again."""
        return self.counts.get(rule_id, 0) >= MAX_FAILURES

    def run(
        self, active: ActiveRule, subject: Any, context: Any, where: Callable[[Any], str]
    ) -> list[Violation]:
        """The violations of ``active``'s rule over ``subject`` (a statement or a catalog),
        or none when its check raises or yields a non-Violation.

        ``where(subject)`` names the place checked (``file:line``, or the schema); it is
        only called when the check fails.
        """
        rule = active.rule
        if self.counts and self.disabled(rule.id):
            return []
        try:
            violations = list(rule.check(subject, context))  # type: ignore[attr-defined]
            for item in violations:
                if not isinstance(item, Violation):
                    raise TypeError(
                        f"check yielded {type(item).__name__} {item!r:.60}, not a Violation"
                    )
        except Exception as exc:  # noqa: BLE001 - a rule's bug is reported, the run goes on
            self._failed(rule.id, where(subject), exc)
            return []
        return violations

    def _failed(self, rule_id: str, where: str, exc: Exception) -> None:
        count = self.counts.get(rule_id, 0) + 1
        self.counts[rule_id] = count
        self.warnings.append(
            f"rule {rule_id} failed at {where} and was skipped there: {_one_line(exc)}"
        )
        if count == MAX_FAILURES:
            self.warnings.append(
                f"rule {rule_id} failed {count} times: left out for the rest of the run"
            )

    def take(self) -> list[str]:
        """The warnings said so far, once (the list is emptied)."""
        taken, self.warnings = self.warnings, []
        return taken
