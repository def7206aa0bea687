"""Delivers threshold violations whose action is ``notify`` or ``comment`` through core.notify."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from plimsoll.code.thresholds import (
    ThresholdReport,
    crossed_heading,
    render_notification,
)
from plimsoll.core.config import (
    ChannelConfig,
    GitHubCommentChannel,
    GitHubSummaryChannel,
    PlimsollConfig,
)
from plimsoll.core.notifiers.base import DeliveryError, Message, Severity
from plimsoll.core.notifiers.github_comment import resolve_target
from plimsoll.core.notifiers.github_summary import summary_path
from plimsoll.core.notify import Dispatcher
from plimsoll.core.rules import Action, Outcome, RuleResult
from plimsoll.core.store import open_configured

# Marks our pull-request comment so the next run edits it instead of adding another.
COMMENT_KEY = "plimsoll-code-thresholds"
IMPLICIT_COMMENT_CHANNEL = "github-pull-request"

_SEVERITY = {
    "info": Severity.INFO,
    "warning": Severity.WARNING,
    "error": Severity.ERROR,
    "critical": Severity.CRITICAL,
}


def _severity(results: Sequence[RuleResult]) -> Severity:
    order = list(_SEVERITY)
    worst = max((order.index(r.spec.severity.value) for r in results), default=0)
    return _SEVERITY[order[worst]]


# The most rules a "gate failed because" line names; the others are counted.
_GATE_RULES_SHOWN = 5


def deciding_rules(report: ThresholdReport) -> list[RuleResult]:
    """The rules that failed the gate: ``fail`` rules crossed or that could not be checked."""
    decisive = (Outcome.FAILED, Outcome.ERROR)
    return [r for r in report.results if r.action is Action.FAIL and r.outcome in decisive]


def gate_line(report: ThresholdReport) -> str | None:
    """``**gate failed because** `rule` (message); ...`` naming the rules that decided it.

    None when the gate holds. Every message sent for a failed gate carries it, so a comment or
    step summary about other rules never says "failed" without saying why.
    """
    if report.ok:
        return None
    rules = deciding_rules(report)
    shown = [f"`{r.label}` ({' '.join(r.message.split())})" for r in rules[:_GATE_RULES_SHOWN]]
    more = len(rules) - len(shown)
    if more > 0:
        shown.append(f"and {more} more")
    return "**gate failed because:** " + "; ".join(shown)


def _message(report: ThresholdReport, results: Sequence[RuleResult], commit: str) -> Message:
    """The message about ``results`` (the rules routed to one set of channels) and no other.

    Its title and table name those rules only: a ``comment`` rule's violation is not news for
    a ``notify`` channel. The title is the heading (a comment shows it as ``### title``, an
    email as its subject), so the body is the table, after the line saying why the gate failed
    when it did (:func:`gate_line`). The gate's verdict is one field.
    """
    why = gate_line(report)
    table = render_notification(results, commit, heading=False)
    return Message(
        title=f"plimsoll: {crossed_heading(results)} at {commit[:7]}",
        body=f"{why}\n\n{table}" if why else table,
        severity=_severity(results),
        fields={
            "commit": commit,
            "crossed": sum(r.outcome is Outcome.FAILED for r in results),
            "could_not_check": sum(r.outcome is Outcome.ERROR for r in results),
            "gate": "passed" if report.ok else "failed",
        },
        tags=("code", "thresholds"),
        key=COMMENT_KEY,
    )


def _routes(
    results: Sequence[RuleResult], fallback: Sequence[str]
) -> tuple[list[tuple[list[RuleResult], list[str]]], list[RuleResult]]:
    """The messages to send, and the rules that have nowhere to go.

    Each rule goes to its own ``channels``, else to ``fallback``; the channels that get the
    same rules share one message. A rule routed to channel ``a`` never reaches channel ``b``.
    """
    by_channel: dict[str, list[RuleResult]] = {}
    nowhere: list[RuleResult] = []
    for result in results:
        targets = [*result.spec.channels] or [*fallback]
        if not targets:
            nowhere.append(result)
        for channel in dict.fromkeys(targets):
            by_channel.setdefault(channel, []).append(result)
    grouped: dict[tuple[int, ...], tuple[list[RuleResult], list[str]]] = {}
    for channel, routed in by_channel.items():
        key = tuple(id(r) for r in routed)
        grouped.setdefault(key, (routed, []))[1].append(channel)
    return list(grouped.values()), nowhere


def notify_fallback(config: PlimsollConfig) -> list[str]:
    """Where a ``notify`` rule without ``channels`` goes: ``code.notify_channels``, else
    ``notify.default_channels``, else every configured channel (none: nowhere).

    Never the pull-request channel used for ``comment`` rules when none is configured: that
    one is for comments only.
    """
    return (
        list(config.code.notify_channels)
        or list(config.notify.default_channels)
        or list(config.notify.channels)
    )


@dataclass(frozen=True)
class Delivery:
    """What delivering a report did: a line per channel, and warnings (rules with nowhere to go)."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def undeliverable(channel: ChannelConfig) -> str | None:
    """Why a GitHub channel can never deliver here (no repository, pull request or token; no
    step summary), or None. Such a message is reported as not sent rather than queued."""
    try:
        if isinstance(channel, GitHubCommentChannel):
            resolve_target(channel, os.environ)
        elif isinstance(channel, GitHubSummaryChannel):
            summary_path(channel, os.environ)
    except DeliveryError as exc:
        return str(exc)
    return None


def deliver_threshold_report(
    config: PlimsollConfig, report: ThresholdReport, root: Path, commit: str
) -> Delivery:
    """Send ``notify`` violations to their channels and ``comment`` ones to the pull request.

    Returns one line per channel saying what happened; a channel that is down keeps the
    message in the store's outbox for the next run rather than failing the command. A GitHub
    channel without its context (repository, pull request, token; a step summary) is "not
    sent" with the reason: queued, it could never be delivered. A ``notify`` rule with no
    channel to go to (see :func:`notify_fallback`) is a warning naming it.

    A failed gate reaches every ``github_summary`` channel, even when no ``notify`` or
    ``comment`` rule was crossed: the step summary then names the ``fail`` rules that
    failed it (outside GitHub Actions, where there is no step summary, nothing is said).
    """
    summaries = [n for n, c in config.notify.channels.items() if c.kind == "github_summary"]
    if not report.to_notify and not report.to_comment and (report.ok or not summaries):
        return Delivery()
    notify_config = config.notify
    comment_channels = [
        n
        for n, c in notify_config.channels.items()
        if c.kind in ("github_comment", "github_summary")
    ]
    if report.to_comment and not comment_channels:
        # No comment channel configured: use the pull request of the GitHub Actions run.
        configured = dict(notify_config.channels)
        configured[IMPLICIT_COMMENT_CHANNEL] = GitHubCommentChannel(kind="github_comment")
        notify_config = notify_config.model_copy(update={"channels": configured})
        comment_channels = [IMPLICIT_COMMENT_CHANNEL]
    jobs: list[tuple[list[RuleResult], list[str]]] = []
    warnings: list[str] = []
    if report.to_notify:
        routed, nowhere = _routes(report.to_notify, notify_fallback(config))
        jobs.extend(routed)
        warnings += [
            f"notify rule {r.label!r} was not sent: it names no channels and none is "
            "configured (set notify.default_channels, code.notify_channels or the rule's "
            "channels, with the channels under [tool.plimsoll.notify.channels])"
            for r in nowhere
        ]
    if report.to_comment:
        jobs.extend(_routes(report.to_comment, comment_channels)[0])
    reached = {name for _, targets in jobs for name in targets}
    gate_only = [n for n in summaries if n not in reached and not report.ok]
    # Only where a step summary can be written: elsewhere there is none to fill.
    gate_only = [n for n in gate_only if undeliverable(notify_config.channels[n]) is None]
    if gate_only:
        jobs.append((deciding_rules(report), gate_only))
    lines: list[str] = []
    if not jobs:
        return Delivery(lines, warnings)
    store = open_configured(config.store, root)
    try:
        with Dispatcher(notify_config, store) as dispatcher:
            dispatcher.flush_outbox()
            for results, targets in jobs:
                ready = []
                for name in dispatcher.channel_names(targets):
                    reason = undeliverable(notify_config.channels[name])
                    if reason is None:
                        ready.append(name)
                    else:
                        # Outside a pull request's CI run it never could: nothing to retry.
                        lines.append(f"{name}: not sent ({reason})")
                if not ready:
                    continue
                for outcome in dispatcher.send(_message(report, results, commit), ready):
                    state = "delivered" if outcome.delivered else f"queued ({outcome.error})"
                    lines.append(f"{outcome.channel}: {state}")
    finally:
        store.close()
    return Delivery(lines, warnings)
