"""The GitHub comment notifier: a pull-request comment through the REST API, edited on resend.

The repository, pull request and token come from the channel config or, inside GitHub Actions,
from ``GITHUB_REPOSITORY``, the event payload at ``GITHUB_EVENT_PATH`` and ``GITHUB_TOKEN``.
Our comment carries a hidden HTML marker, so with ``update_existing`` a later message with the
same key edits it instead of adding another comment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote

from plimsoll.core.config import GitHubCommentChannel
from plimsoll.core.notifiers.base import (
    DeliveryError,
    HttpResponse,
    Message,
    Notifier,
    http_request,
    status_error,
)

DEFAULT_API_URL = "https://api.github.com"
# GitHub rejects a comment body longer than this many characters.
MAX_COMMENT_CHARS = 65536
_PER_PAGE = 100
# Enough pages for any real pull request; the cap keeps a misbehaving server from looping forever.
_MAX_PAGES = 50


@dataclass(frozen=True)
class CommentTarget:
    """Where a comment goes: API base URL, ``owner/repo``, pull-request number and token."""

    api_url: str
    repository: str
    pull_request: int
    token: str


def marker(message: Message) -> str:
    """Return the hidden HTML marker that identifies our comment for ``message.key``."""
    return f"<!-- plimsoll:comment key={message.key or 'default'} -->"


def comment_body(message: Message) -> str:
    """Return the comment text: title, markdown body, and the marker, within GitHub's limit."""
    tag = marker(message)
    text = f"### {message.title}\n\n{message.markdown()}".rstrip()
    room = MAX_COMMENT_CHARS - len(tag) - 40
    if len(text) > room:
        text = text[:room].rstrip() + "\n\n*(truncated)*"
    return f"{text}\n\n{tag}"


def _event_pull_request(env: Mapping[str, str]) -> int | None:
    path = env.get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            event: Any = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(event, dict):
        return None
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("number"), int):
        return int(pull["number"])
    # issue_comment events on a pull request carry it as an issue with a pull_request link.
    issue = event.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue and isinstance(issue.get("number"), int):
        return int(issue["number"])
    return None


def resolve_target(channel: GitHubCommentChannel, env: Mapping[str, str]) -> CommentTarget:
    """Return where to comment, from the config first and the GitHub Actions environment second."""
    api_url = channel.api_url
    if api_url == DEFAULT_API_URL and env.get("GITHUB_API_URL"):
        # On GitHub Enterprise Server the runner names its own API; the default would be wrong.
        api_url = env["GITHUB_API_URL"]
    repository = channel.repository or env.get("GITHUB_REPOSITORY")
    pull_request = channel.pull_request or _event_pull_request(env)
    token = channel.token.get_secret_value() if channel.token else env.get("GITHUB_TOKEN")
    missing = [
        name
        for name, value in (
            ("repository (or GITHUB_REPOSITORY)", repository),
            ("pull_request (or a pull_request event in GITHUB_EVENT_PATH)", pull_request),
            ("token (or GITHUB_TOKEN)", token),
        )
        if not value
    ]
    if missing or repository is None or pull_request is None or token is None:
        raise DeliveryError(f"github_comment: missing {', '.join(missing)}", retryable=False)
    if repository.count("/") != 1:
        raise DeliveryError(
            "github_comment: repository must be written owner/name", retryable=False
        )
    return CommentTarget(api_url.rstrip("/"), repository, pull_request, token)


def find_comment(comments: list[Any], tag: str) -> int | None:
    """Return the id of the first comment whose body holds ``tag``, or None."""
    for comment in comments:
        if isinstance(comment, dict) and tag in str(comment.get("body") or ""):
            comment_id = comment.get("id")
            if isinstance(comment_id, int):
                return comment_id
    return None


class GitHubCommentNotifier(Notifier[GitHubCommentChannel]):
    """Posts the message as a pull-request comment, or edits our earlier one."""

    kind: ClassVar[str] = "github_comment"

    def deliver(self, message: Message, channel: GitHubCommentChannel) -> None:
        """Comment on the pull request; raise DeliveryError when GitHub refuses or is down."""
        target = resolve_target(channel, os.environ)
        headers = {
            "Authorization": f"Bearer {target.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        repo = "/".join(quote(part, safe="") for part in target.repository.split("/"))
        issue_url = f"{target.api_url}/repos/{repo}/issues/{target.pull_request}/comments"
        body = comment_body(message)
        existing = None
        if channel.update_existing:
            existing = self._find_existing(issue_url, marker(message), headers, channel)
        if existing is None:
            response = self._call("POST", issue_url, body, headers, channel)
        else:
            url = f"{target.api_url}/repos/{repo}/issues/comments/{existing}"
            response = self._call("PATCH", url, body, headers, channel)
        if not response.ok:
            raise status_error(
                f"github_comment {target.repository}#{target.pull_request}", response
            )

    def _call(
        self,
        method: str,
        url: str,
        body: str,
        headers: Mapping[str, str],
        channel: GitHubCommentChannel,
    ) -> HttpResponse:
        return http_request(
            method, url, json_body={"body": body}, headers=headers, timeout=channel.timeout_seconds
        )

    def _find_existing(
        self, issue_url: str, tag: str, headers: Mapping[str, str], channel: GitHubCommentChannel
    ) -> int | None:
        for page in range(1, _MAX_PAGES + 1):
            response = http_request(
                "GET",
                f"{issue_url}?per_page={_PER_PAGE}&page={page}",
                headers=headers,
                timeout=channel.timeout_seconds,
            )
            if not response.ok:
                raise status_error("github_comment: listing comments", response)
            try:
                comments = response.json()
            except ValueError:
                raise DeliveryError("github_comment: the comment list is not JSON") from None
            if not isinstance(comments, list):
                raise DeliveryError("github_comment: the comment list is not a JSON array")
            found = find_comment(comments, tag)
            if found is not None or len(comments) < _PER_PAGE:
                return found
        return None
