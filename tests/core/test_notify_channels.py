"""Each notifier delivering for real to local servers or files: webhook, apprise, SMTP, GitHub."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from plimsoll.core.config import ChannelConfig, NotifyConfig
from plimsoll.core.notifiers import BUILTIN_NOTIFIERS, load_notifiers
from plimsoll.core.notifiers.apprise import AppriseNotifier, with_timeouts
from plimsoll.core.notifiers.base import DeliveryError, Message, Severity
from plimsoll.core.notifiers.github_comment import GitHubCommentNotifier, marker
from plimsoll.core.notifiers.github_summary import GitHubSummaryNotifier
from plimsoll.core.notifiers.smtp import SmtpNotifier
from plimsoll.core.notifiers.webhook import WebhookNotifier
from plimsoll.core.notify import Dispatcher
from tests.support.servers import (
    SMTP_PASSWORD,
    SMTP_USER,
    HttpRecorder,
    Response,
    SmtpRecorder,
    TlsCertificate,
)

MSG = Message(
    "Thresholds failed",
    "2 thresholds failed on `main`.",
    Severity.ERROR,
    {"coverage": 71.5, "branch": "main"},
    tags=("code",),
    key="code-report",
)
GITHUB_VARS = (
    "GITHUB_REPOSITORY",
    "GITHUB_EVENT_PATH",
    "GITHUB_TOKEN",
    "GITHUB_API_URL",
    "GITHUB_STEP_SUMMARY",
)


def channel(**data: Any) -> Any:
    return TypeAdapter(ChannelConfig).validate_python(data)


@pytest.fixture(autouse=True)
def no_github_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run the same inside and outside GitHub Actions."""
    for name in GITHUB_VARS:
        monkeypatch.delenv(name, raising=False)


def test_builtins_are_registered_as_entry_points() -> None:
    loaded = load_notifiers()
    for kind, cls in BUILTIN_NOTIFIERS.items():
        assert loaded[kind] is cls


# --- webhook ----------------------------------------------------------------------------------


def test_webhook_posts_json_with_headers(http_recorder: HttpRecorder) -> None:
    config = channel(kind="webhook", url=f"{http_recorder.url}/in", headers={"X-Key": "k1"})
    WebhookNotifier().deliver(MSG, config)
    [request] = http_recorder.requests
    assert request.method == "POST" and request.path == "/in"
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Key") == "k1"
    body = request.json()
    assert body["title"] == "Thresholds failed" and body["severity"] == "error"
    assert body["fields"] == {"coverage": 71.5, "branch": "main"}
    assert body["key"] == "code-report" and body["tags"] == ["code"]
    assert "| coverage | 71.5 |" in body["markdown"]


def test_webhook_url_with_userinfo_sends_basic_auth(
    http_recorder: HttpRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://hook%40user:pa%3Ass-w0rd@127.0.0.1:{http_recorder.port}/in?x=1"
    WebhookNotifier().deliver(MSG, channel(kind="webhook", url=url))
    [request] = http_recorder.requests
    assert request.path.startswith("/in")
    # What curl sends for the same URL: the user info, percent-decoded, as Basic auth.
    assert request.header("Authorization") == "Basic aG9va0B1c2VyOnBhOnNzLXcwcmQ="
    # Through the dispatcher a failure names the host only; the password is never shown.
    http_recorder.script(503)
    config = NotifyConfig.model_validate(
        {"channels": {"hook": {"kind": "webhook", "url": url, "retries": 0}}}
    )
    with Dispatcher(config) as dispatcher, caplog.at_level("DEBUG"):
        [result] = dispatcher.send(MSG, ["hook"])
    assert not result.delivered and result.error is not None
    assert "HTTP 503" in result.error
    for text in (result.error, caplog.text):
        assert "pa:ss-w0rd" not in text and "pa%3Ass-w0rd" not in text


def test_a_redirect_is_not_followed_with_the_credentials(http_recorder: HttpRecorder) -> None:
    # urllib would resend the Authorization header to the host the redirect names.
    elsewhere = f"http://localhost:{http_recorder.port}/evil"
    http_recorder.script(Response(302, None, {"Location": elsewhere}))
    url = f"http://alice:s3cretPW@127.0.0.1:{http_recorder.port}/hooks/abc"
    with pytest.raises(DeliveryError, match="HTTP 302: redirected to http://localhost") as caught:
        WebhookNotifier().deliver(MSG, channel(kind="webhook", url=url))
    assert "not followed" in str(caught.value) and "s3cretPW" not in str(caught.value)
    assert [r.path for r in http_recorder.requests] == ["/hooks/abc"]


def test_webhook_non_2xx_is_a_failure(http_recorder: HttpRecorder) -> None:
    http_recorder.script(302, 503)
    config = channel(kind="webhook", url=http_recorder.url)
    with pytest.raises(DeliveryError, match="HTTP 302"):
        WebhookNotifier().deliver(MSG, config)
    with pytest.raises(DeliveryError, match="HTTP 503") as caught:
        WebhookNotifier().deliver(MSG, config)
    assert caught.value.retryable


# --- apprise ----------------------------------------------------------------------------------


def test_apprise_json_url_reaches_the_server(http_recorder: HttpRecorder) -> None:
    config = channel(kind="apprise", url=f"json://127.0.0.1:{http_recorder.port}/notify")
    AppriseNotifier().deliver(MSG, config)
    [request] = http_recorder.requests
    assert request.method == "POST" and request.path == "/notify"
    body = request.json()
    assert body["title"] == "Thresholds failed"
    assert "2 thresholds failed" in body["message"]
    assert body["type"] == "failure"


def test_apprise_mattermost_slack_style_webhook(http_recorder: HttpRecorder) -> None:
    # Mattermost takes Slack-format incoming webhooks and, unlike Slack, lets apprise name the host.
    config = channel(kind="apprise", url=f"mmost://127.0.0.1:{http_recorder.port}/hooktoken123")
    AppriseNotifier().deliver(MSG, config)
    [request] = http_recorder.requests
    assert request.path == "/hooks/hooktoken123"
    assert "2 thresholds failed" in request.json()["text"]


def test_apprise_failure_and_bad_url(http_recorder: HttpRecorder) -> None:
    http_recorder.script(500)
    config = channel(kind="apprise", url=f"json://127.0.0.1:{http_recorder.port}/x")
    with pytest.raises(DeliveryError, match="did not accept") as caught:
        AppriseNotifier().deliver(MSG, config)
    assert caught.value.retryable
    with pytest.raises(DeliveryError, match="not one apprise understands") as caught:
        AppriseNotifier().deliver(MSG, channel(kind="apprise", url="nosuchscheme://x/y"))
    assert not caught.value.retryable


# --- smtp -------------------------------------------------------------------------------------


def smtp_channel(server: SmtpRecorder, **extra: Any) -> Any:
    return channel(
        kind="smtp",
        host=server.host,
        port=server.port,
        sender="plimsoll@example.test",
        to=["ops@example.test", "dev@example.test"],
        **extra,
    )


def test_smtp_sends_one_plain_text_email(smtp_recorder: SmtpRecorder) -> None:
    SmtpNotifier().deliver(MSG, smtp_channel(smtp_recorder))
    [mail] = smtp_recorder.messages
    assert mail.mail_from == "plimsoll@example.test"
    assert mail.rcpt_tos == ["ops@example.test", "dev@example.test"]
    assert mail.message["Subject"] == "[plimsoll] Thresholds failed"
    assert mail.message["X-Plimsoll-Severity"] == "error"
    assert "2 thresholds failed on `main`." in mail.text
    assert mail.login is None and not mail.tls


def test_smtp_login_and_refused_login(smtp_recorder: SmtpRecorder) -> None:
    SmtpNotifier().deliver(
        MSG, smtp_channel(smtp_recorder, username=SMTP_USER, password=SMTP_PASSWORD)
    )
    assert smtp_recorder.messages[0].login == SMTP_USER
    with pytest.raises(DeliveryError, match="login refused") as caught:
        SmtpNotifier().deliver(
            MSG, smtp_channel(smtp_recorder, username=SMTP_USER, password="wrong-pass")
        )
    assert not caught.value.retryable
    assert "wrong-pass" not in str(caught.value)


@pytest.mark.parametrize("mode", ["starttls", "ssl"])
def test_smtp_over_tls_verifies_the_certificate(
    mode: str,
    smtp_recorder_factory: Callable[..., SmtpRecorder],
    tls_certificate: TlsCertificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = smtp_recorder_factory(starttls=mode == "starttls", implicit_tls=mode == "ssl")
    config = smtp_channel(server, username=SMTP_USER, password=SMTP_PASSWORD, **{mode: True})
    # Untrusted certificate: refused, never sent in the clear.
    with pytest.raises(DeliveryError, match="smtp 127.0.0.1"):
        SmtpNotifier().deliver(MSG, config)
    assert server.messages == []
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_certificate.cert))
    SmtpNotifier().deliver(MSG, config)
    [mail] = server.messages
    assert mail.tls and mail.login == SMTP_USER


def test_smtp_unreachable_is_retryable() -> None:
    config = channel(kind="smtp", host="127.0.0.1", port=9, sender="a@b.test", to=["c@d.test"])
    with pytest.raises(DeliveryError, match="smtp 127.0.0.1:9") as caught:
        SmtpNotifier().deliver(MSG, config)
    assert caught.value.retryable


# --- github comment ---------------------------------------------------------------------------


def github_channel(server: HttpRecorder, **extra: Any) -> Any:
    return channel(
        kind="github_comment",
        api_url=server.url,
        token="ghs_testtoken",
        repository="octo/app",
        pull_request=7,
        **extra,
    )


def test_github_comment_posts_then_edits_its_own_comment(http_recorder: HttpRecorder) -> None:
    http_recorder.github_comments[("octo/app", 7)] = [{"id": 1, "body": "LGTM from a human"}]
    notifier = GitHubCommentNotifier()
    notifier.deliver(MSG, github_channel(http_recorder))
    notifier.deliver(Message("Thresholds pass", key="code-report"), github_channel(http_recorder))
    calls = [(r.method, r.path) for r in http_recorder.requests]
    assert calls == [
        ("GET", "/repos/octo/app/issues/7/comments"),
        ("POST", "/repos/octo/app/issues/7/comments"),
        ("GET", "/repos/octo/app/issues/7/comments"),
        ("PATCH", "/repos/octo/app/issues/comments/1001"),
    ]
    post = http_recorder.requests[1]
    assert post.header("Authorization") == "Bearer ghs_testtoken"
    assert post.header("Accept") == "application/vnd.github+json"
    comments = http_recorder.github_comments[("octo/app", 7)]
    assert [c["id"] for c in comments] == [1, 1001]
    assert comments[1]["body"].startswith("### Thresholds pass")
    assert marker(MSG) in comments[1]["body"]
    assert comments[0]["body"] == "LGTM from a human"


def test_github_comment_finds_its_comment_on_a_later_page(http_recorder: HttpRecorder) -> None:
    others = [{"id": i, "body": f"comment {i}"} for i in range(1, 131)]
    others.insert(120, {"id": 999, "body": f"old\n\n{marker(MSG)}"})
    http_recorder.github_comments[("octo/app", 7)] = others
    GitHubCommentNotifier().deliver(MSG, github_channel(http_recorder))
    methods = [(r.method, r.query.get("page")) for r in http_recorder.requests]
    assert methods == [("GET", ["1"]), ("GET", ["2"]), ("PATCH", None)]
    assert http_recorder.requests[-1].path.endswith("/issues/comments/999")


def test_github_comment_without_update_always_posts(http_recorder: HttpRecorder) -> None:
    config = github_channel(http_recorder, update_existing=False)
    GitHubCommentNotifier().deliver(MSG, config)
    GitHubCommentNotifier().deliver(MSG, config)
    assert [r.method for r in http_recorder.requests] == ["POST", "POST"]


def test_github_comment_from_the_actions_environment(
    http_recorder: HttpRecorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "opened", "pull_request": {"number": 42}}))
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo/env-app")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_TOKEN", "ghs_fromenv")
    monkeypatch.setenv("GITHUB_API_URL", http_recorder.url)
    GitHubCommentNotifier().deliver(MSG, channel(kind="github_comment"))
    post = http_recorder.requests[-1]
    assert (post.method, post.path) == ("POST", "/repos/octo/env-app/issues/42/comments")
    assert post.header("Authorization") == "Bearer ghs_fromenv"


def test_github_comment_names_what_is_missing() -> None:
    with pytest.raises(DeliveryError, match="repository .*pull_request .*token") as caught:
        GitHubCommentNotifier().deliver(MSG, channel(kind="github_comment"))
    assert not caught.value.retryable


def test_github_comment_rejected_token(http_recorder: HttpRecorder) -> None:
    http_recorder.script(Response(401, {"message": "Bad credentials"}))
    with pytest.raises(DeliveryError, match="HTTP 401: .*Bad credentials") as caught:
        GitHubCommentNotifier().deliver(MSG, github_channel(http_recorder))
    assert not caught.value.retryable


# --- github summary ---------------------------------------------------------------------------


def test_github_summary_appends_markdown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "summary.md"
    target.write_text("Earlier step output")
    GitHubSummaryNotifier().deliver(MSG, channel(kind="github_summary", path=str(target)))
    text = target.read_text()
    assert text.startswith("Earlier step output\n## Thresholds failed\n")
    assert "| branch | main |" in text

    from_env = tmp_path / "step" / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(from_env))
    GitHubSummaryNotifier().deliver(Message("One"), channel(kind="github_summary"))
    GitHubSummaryNotifier().deliver(Message("Two"), channel(kind="github_summary"))
    assert from_env.read_text() == "## One\n\n## Two\n"


def test_github_summary_outside_actions_is_an_error() -> None:
    with pytest.raises(DeliveryError, match="GITHUB_STEP_SUMMARY is not set") as caught:
        GitHubSummaryNotifier().deliver(MSG, channel(kind="github_summary"))
    assert not caught.value.retryable


def test_dispatcher_delivers_to_every_kind_at_once(
    http_recorder: HttpRecorder, smtp_recorder: SmtpRecorder, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    config = NotifyConfig.model_validate(
        {
            "channels": {
                "hook": {"kind": "webhook", "url": f"{http_recorder.url}/hook"},
                "chat": {"kind": "apprise", "url": f"json://127.0.0.1:{http_recorder.port}/chat"},
                "mail": {
                    "kind": "smtp",
                    "host": smtp_recorder.host,
                    "port": smtp_recorder.port,
                    "sender": "plimsoll@example.test",
                    "to": ["ops@example.test"],
                },
                "pr": {
                    "kind": "github_comment",
                    "api_url": http_recorder.url,
                    "token": "ghs_x",
                    "repository": "octo/app",
                    "pull_request": 3,
                },
                "summary": {"kind": "github_summary", "path": str(summary)},
            }
        }
    )
    with Dispatcher(config) as dispatcher:
        results = dispatcher.send(MSG)
    assert [(r.channel, r.delivered) for r in results] == [
        (name, True) for name in ("hook", "chat", "mail", "pr", "summary")
    ]
    assert {r.path for r in http_recorder.requests} == {
        "/hook",
        "/chat",
        "/repos/octo/app/issues/3/comments",
    }
    assert len(smtp_recorder.messages) == 1
    assert "Thresholds failed" in summary.read_text()


def test_apprise_timeouts_are_added_unless_given() -> None:
    assert with_timeouts("json://h/p", 2.5) == "json://h/p?cto=2.5&rto=2.5"
    assert with_timeouts("json://h/p?rto=9&x=1", 3) == "json://h/p?rto=9&x=1&cto=3"
