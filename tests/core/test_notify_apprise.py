"""Microsoft Teams and Slack through apprise URLs, delivered for real to a local HTTPS server.

The apprise installed (2.x) has no ``msteams://`` scheme any more: Microsoft retired the Office
365 connectors it posted to, and Teams channels now take messages from Power Automate
*Workflows*, apprise's ``workflows://host[:port]/<workflow>/<signature>`` URL. That URL names
its host, so it is pointed at a local server, but apprise always speaks HTTPS to it: the server
here is the recorder behind TLS with a throwaway certificate, which requests is told to trust
(``REQUESTS_CA_BUNDLE``), so certificate checking stays on.

apprise's ``slack://`` URL cannot name a host at all (``https://hooks.slack.com`` is fixed in
the plugin). Its test resolves that name to the local server in this process only, as an
``/etc/hosts`` entry would, with a certificate for ``hooks.slack.com`` trusted the same way:
the request apprise builds, its TLS and the payload are all real. (Slack-format webhooks to a
server apprise can name, Mattermost's ``mmost://``, are tested in ``test_notify_channels.py``.)
"""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import TypeAdapter

from plimsoll.core.config import ChannelConfig, NotifyConfig
from plimsoll.core.notifiers.apprise import AppriseNotifier
from plimsoll.core.notifiers.base import DeliveryError, Message, Severity
from plimsoll.core.notify import Dispatcher
from tests.support.servers import HttpRecorder, Response

SLACK_HOST = "hooks.slack.com"
MSG = Message(
    "[FIRING:1] SLOFastBurn (alertname=SLOFastBurn)",
    "- SLOFastBurn [firing] {slo=api, severity=page}: budget burning at 20x",
    Severity.CRITICAL,
    {"status": "firing", "firing": 1},
)
# Tokens in the forms apprise validates (Workflows: id and signature; Slack: T.../B.../secret).
WORKFLOW, SIGNATURE = "643e69f83c8944438d68119179a10a64", "KODuebWbDGYFr0z0eu-6Rj8aUKz7108W3"
SLACK_TOKENS = ("T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7")


class HttpsRecorder(HttpRecorder):
    """The HTTP recorder behind TLS (apprise speaks only HTTPS to Teams and Slack)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        # Wrapped before any request is made: connections are accepted (and their TLS
        # handshakes done) by the server thread as before, on the same listening descriptor.
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and hooks.slack.com, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("apprise-tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", f"subjectAltName=IP:127.0.0.1,DNS:{SLACK_HOST}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def https_recorder(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[HttpsRecorder]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    # requests (under apprise) verifies against this file instead of the system's roots.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(cert))
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    recorder = HttpsRecorder(context)
    try:
        yield recorder
    finally:
        recorder.close()


def channel(**data: Any) -> Any:
    return TypeAdapter(ChannelConfig).validate_python(data)


def card_texts(payload: dict[str, Any]) -> dict[str, str]:
    """The TextBlocks of a Teams adaptive card, by id."""
    [attachment] = payload["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = attachment["content"]
    assert content["type"] == "AdaptiveCard"
    return {b["id"]: b["text"] for b in content["body"] if b["type"] == "TextBlock"}


def test_teams_workflow_url_posts_an_adaptive_card(https_recorder: HttpsRecorder) -> None:
    url = f"workflows://127.0.0.1:{https_recorder.port}/{WORKFLOW}/{SIGNATURE}"
    AppriseNotifier().deliver(MSG, channel(kind="apprise", url=url))
    [request] = https_recorder.requests
    assert request.method == "POST"
    assert request.path == f"/workflows/{WORKFLOW}/triggers/manual/paths/invoke"
    assert request.query["sig"] == [SIGNATURE]
    assert request.query["sp"] == ["/triggers/manual/run"]
    payload = request.json()
    assert payload["type"] == "message"
    [image] = [b for b in payload["attachments"][0]["content"]["body"] if b["type"] == "Image"]
    assert image["altText"] == "failure"  # a critical message is an apprise "failure"
    texts = card_texts(payload)
    assert texts["title"] == MSG.title
    # The body is the message's markdown: its text, then its fields as a table.
    assert texts["body"].startswith(MSG.body)
    assert "| status | firing |" in texts["body"]


def test_teams_through_the_dispatcher_and_its_outbox(https_recorder: HttpsRecorder) -> None:
    url = f"workflows://127.0.0.1:{https_recorder.port}/{WORKFLOW}/{SIGNATURE}"
    notify = NotifyConfig.model_validate(
        {"channels": {"teams": {"kind": "apprise", "url": url, "retries": 0, "backoff_seconds": 0}}}
    )
    https_recorder.script(500)  # Teams down once: the dispatcher says so
    with Dispatcher(notify) as dispatcher:
        [failed] = dispatcher.send(MSG, ["teams"])
        assert not failed.delivered and "did not accept" in (failed.error or "")
        # The kept message goes first (from the outbox), then this one.
        [sent] = dispatcher.send(MSG, ["teams"])
        assert sent.delivered and dispatcher.pending() == []
    assert [card_texts(r.json())["title"] for r in https_recorder.requests] == [MSG.title] * 3


def test_slack_webhook_url_posts_to_hooks_slack_com(
    https_recorder: HttpsRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == SLACK_HOST:  # as an /etc/hosts line would, for this process only
            return real("127.0.0.1", https_recorder.port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    # Slack answers a webhook with the text "ok", which apprise checks for.
    https_recorder.default = Response(200, b"ok")
    url = "slack://" + "/".join(SLACK_TOKENS)
    AppriseNotifier().deliver(MSG, channel(kind="apprise", url=url))
    [request] = https_recorder.requests
    assert request.method == "POST" and request.path == "/services/" + "/".join(SLACK_TOKENS)
    assert request.header("Host") == SLACK_HOST
    payload = request.json()
    [attachment] = payload["attachments"]
    assert attachment["title"] == MSG.title
    assert attachment["text"].startswith(MSG.body) and "| firing | 1 |" in attachment["text"]
    # A critical message is an apprise "failure": Slack shows it with the failure icon.
    assert attachment["footer_icon"].endswith("apprise-failure-72x72.png")
    https_recorder.script(403)
    with pytest.raises(DeliveryError, match="did not accept"):
        AppriseNotifier().deliver(MSG, channel(kind="apprise", url=url))
