"""The GitHub step-summary notifier: markdown appended to ``path`` or ``$GITHUB_STEP_SUMMARY``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from plimsoll.core.config import GitHubSummaryChannel
from plimsoll.core.notifiers.base import DeliveryError, Message, Notifier


def summary_markdown(message: Message) -> str:
    """Return the markdown section a message adds to the step summary."""
    text = f"## {message.title}\n"
    rendered = message.markdown()
    if rendered:
        text += f"\n{rendered}\n"
    return text


def summary_path(channel: GitHubSummaryChannel, env: Mapping[str, str]) -> Path:
    """Return the file to append to: the configured path, else ``$GITHUB_STEP_SUMMARY``."""
    target = channel.path or env.get("GITHUB_STEP_SUMMARY")
    if not target:
        raise DeliveryError(
            "github_summary: no path configured and GITHUB_STEP_SUMMARY is not set "
            "(it is only set inside a GitHub Actions step)",
            retryable=False,
        )
    return Path(target)


class GitHubSummaryNotifier(Notifier[GitHubSummaryChannel]):
    """Appends the message as markdown to the GitHub Actions step summary file."""

    kind: ClassVar[str] = "github_summary"

    def deliver(self, message: Message, channel: GitHubSummaryChannel) -> None:
        """Append ``message`` to the summary file; raise DeliveryError when it cannot be written."""
        path = summary_path(channel, os.environ)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Separate from whatever an earlier step wrote, which may not end with a blank line.
            needs_gap = path.exists() and path.stat().st_size > 0
            with path.open("a", encoding="utf-8") as handle:
                handle.write(("\n" if needs_gap else "") + summary_markdown(message))
        except OSError as exc:
            raise DeliveryError(f"github_summary: cannot write {path}: {exc.strerror}") from None
