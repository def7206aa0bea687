"""Threshold actions ``notify`` and ``comment`` deliver for real; ``--push`` reaches a remote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.test_code_cli import GOOD, TANGLED, plimsoll
from tests.support.gitrepo import GitRepo, make_repo
from tests.support.servers import HttpRecorder, SmtpRecorder


def _gate(second_action: str, channel: str = "") -> str:
    """A project config: complexity.max <= 3 notifies, <= 2 takes ``second_action``."""
    return f"""[project]
name = "demo"
version = "2.0.0"

[tool.plimsoll.code]
paths = ["src"]
collectors = ["complexity"]

[[tool.plimsoll.code.thresholds]]
metric = "complexity.max"
op = "<="
value = 3
action = "notify"
{channel}
[[tool.plimsoll.code.thresholds]]
metric = "complexity.max"
op = "<="
value = 2
action = "{second_action}"

"""


CONFIG = (
    _gate("comment", 'channels = ["hook"]\n')
    + """[tool.plimsoll.notify.channels.hook]
kind = "webhook"
url = "{base}/hook"
retries = 0
backoff_seconds = 0

[tool.plimsoll.notify.channels.pr]
kind = "github_comment"
api_url = "{base}"
token = "${{PR_TOKEN}}"
repository = "acme/service"
pull_request = 7
retries = 0
backoff_seconds = 0
"""
)


def test_notify_and_comment_actions_deliver(
    git_repo: GitRepo, http_recorder: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PR_TOKEN", "s3cr3t-token-value")
    git_repo.commit(
        "gate",
        {
            "pyproject.toml": CONFIG.format(base=http_recorder.url),
            "src/demo/tangled.py": TANGLED,
        },
    )
    # notify/comment are not `fail`: the gate passes while the messages go out.
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert sorted(out["notified"]) == ["hook: delivered", "pr: delivered"]
    hook = http_recorder.requests_to("/hook", "POST")
    assert len(hook) == 1
    sent = hook[0].json()
    # Each message lists the rules it was sent for, under a heading that matches its title:
    # the comment-only rule is not in the notification, nor the notify rule in the comment.
    assert "`complexity.max <= 3`" in sent["body"]
    assert "<= 2" not in sent["body"] and "passed" not in sent["body"]
    commit = git_repo.git("rev-parse", "HEAD")[:7]
    assert sent["title"] == f"plimsoll: 1 code threshold crossed at {commit}"
    # The title is the heading: the body is the table, not the heading again.
    assert sent["body"].startswith("| | Rule | Actual |")
    assert "code threshold crossed" not in sent["body"]
    assert sent["fields"]["crossed"] == 1 and sent["fields"]["gate"] == "passed"
    comments = http_recorder.github_comments[("acme/service", 7)]
    assert len(comments) == 1
    assert "`complexity.max <= 2`" in comments[0]["body"]
    assert "<= 3" not in comments[0]["body"]
    # One heading: the comment's title, not the title and then the body's heading again.
    body = comments[0]["body"]
    assert body.startswith(f"### plimsoll: 1 code threshold crossed at {commit}\n")
    assert body.count("code threshold crossed") == 1
    assert body.count("### ") == 1
    posts = http_recorder.requests_to("/repos/acme/service/issues/7/comments", "POST")
    assert posts[0].header("Authorization") in (
        "token s3cr3t-token-value",
        "Bearer s3cr3t-token-value",
    )
    # A second run edits the same pull-request comment instead of adding another.
    plimsoll(git_repo.path, "code", "validate")
    assert len(http_recorder.github_comments[("acme/service", 7)]) == 1


def test_a_channel_that_is_down_keeps_the_message(
    git_repo: GitRepo, http_recorder: HttpRecorder
) -> None:
    config = CONFIG.format(base=http_recorder.url).replace('"${PR_TOKEN}"', '"t"')
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/tangled.py": TANGLED})
    http_recorder.script(503, path="/hook")
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert any(line.startswith("hook: queued") for line in out["notified"])
    # The next run flushes the outbox first: the queued message arrives, then the new one.
    plimsoll(git_repo.path, "code", "validate")
    assert len(http_recorder.requests_to("/hook", "POST")) == 3


def test_push_reaches_the_remote(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    make_repo(tmp_path / "seed").commit(
        "seed",
        {
            "pyproject.toml": '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["stats"]\n',
            "src/a.py": GOOD,
        },
    )
    GitRepo(tmp_path).git("clone", "-q", "--bare", str(tmp_path / "seed"), str(remote))
    clones = []
    for name in ("one", "two"):
        GitRepo(tmp_path).git("clone", "-q", str(remote), name)
        clones.append(GitRepo(tmp_path / name))
    for clone in clones:
        plimsoll(clone.path, "code", "collect", "--push")
    files = GitRepo(remote).git("ls-tree", "-r", "--name-only", "code-metrics").splitlines()
    assert len([f for f in files if f.startswith("history/")]) == 2
    assert "latest.json" in files


def test_a_comment_without_a_pull_request_is_not_sent(
    git_repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No repository, pull request or token: the comment can never go, so it is not queued."""
    for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_TOKEN", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    config = (
        '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["complexity"]\n\n'
        "[[tool.plimsoll.code.thresholds]]\n"
        'metric = "complexity.max"\nop = "<="\nvalue = 2\naction = "comment"\n'
    )
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/tangled.py": TANGLED})
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert out["notified"] == [
        "github-pull-request: not sent (github_comment: missing repository "
        "(or GITHUB_REPOSITORY), pull_request (or a pull_request event in GITHUB_EVENT_PATH), "
        "token (or GITHUB_TOKEN))"
    ]
    # Nothing waits in the outbox for a later run either.
    again = json.loads(plimsoll(git_repo.path, "code", "validate", "--format", "json").stdout)
    assert again.get("notified", []) == out["notified"]


def test_a_notify_rule_without_channels_never_goes_to_the_pull_request(
    git_repo: GitRepo, http_recorder: HttpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notify rule naming no channel goes to the configured channels, not to the PR
    channel that a comment rule of the same run brings in."""
    for name in ("GITHUB_REPOSITORY", "GITHUB_EVENT_PATH", "GITHUB_TOKEN", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)
    config = (
        '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["complexity"]\n\n'
        "[[tool.plimsoll.code.thresholds]]\n"
        'metric = "complexity.max"\nop = "<="\nvalue = 2\naction = "comment"\n\n'
        "[[tool.plimsoll.code.thresholds]]\n"
        'metric = "complexity.max"\nop = "<="\nvalue = 3\naction = "notify"\n\n'
        "[tool.plimsoll.notify.channels.hook]\n"
        f'kind = "webhook"\nurl = "{http_recorder.url}/hook"\n'
    )
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/tangled.py": TANGLED})
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    notified = out["notified"]
    assert "hook: delivered" in notified
    # The comment rule's pull-request channel says "not sent" once (for the comment), and
    # the notify rule's message did not go there.
    assert sum(line.startswith("github-pull-request") for line in notified) == 1
    assert len(http_recorder.requests_to("/hook", "POST")) == 1


def test_an_email_lists_only_the_rules_it_was_sent_for(
    git_repo: GitRepo, smtp_recorder: SmtpRecorder
) -> None:
    config = (
        _gate("warn")
        + f"""[tool.plimsoll.notify.channels.mail]
kind = "smtp"
host = "127.0.0.1"
port = {smtp_recorder.port}
sender = "ci@example.test"
to = ["team@example.test"]
retries = 0
"""
    )
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/tangled.py": TANGLED})
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert out["notified"] == ["mail: delivered"]
    (email,) = smtp_recorder.messages
    commit = git_repo.git("rev-parse", "HEAD")[:7]
    assert email.message["Subject"].endswith(f"plimsoll: 1 code threshold crossed at {commit}")
    text = email.text
    assert "| ⚠️ | `complexity.max <= 3` |" in text
    assert "complexity.max <= 3" in text
    assert "<= 2" not in text and "thresholds passed" not in text


def test_each_notify_rule_reaches_only_its_own_channels(
    git_repo: GitRepo, http_recorder: HttpRecorder
) -> None:
    hooks = "".join(
        f'[tool.plimsoll.notify.channels.{name}]\nkind = "webhook"\n'
        f'url = "{http_recorder.url}/{name}"\nretries = 0\n\n'
        for name in ("a", "b")
    )
    config = (
        _gate("notify", 'channels = ["a"]\n').replace(
            'value = 2\naction = "notify"', 'value = 2\naction = "notify"\nchannels = ["b"]'
        )
        + hooks
    )
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/tangled.py": TANGLED})
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert sorted(out["notified"]) == ["a: delivered", "b: delivered"]
    for name, rule in (("a", "complexity.max <= 3"), ("b", "complexity.max <= 2")):
        [request] = http_recorder.requests_to(f"/{name}", "POST")
        payload = request.json()
        assert "1 code threshold crossed" in payload["title"], payload
        assert rule in payload["body"]
        other = "complexity.max <= 2" if name == "a" else "complexity.max <= 3"
        assert other not in payload["body"]


def _actions_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, api: str) -> None:
    """The environment of a GitHub Actions run on pull request 9 of acme/service."""
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": 9}}))
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/service")
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(event))
    monkeypatch.setenv("GITHUB_TOKEN", "t0ken")
    monkeypatch.setenv("GITHUB_API_URL", api)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


NOTIFY_ONLY = (
    '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["complexity"]\n\n'
    "[[tool.plimsoll.code.thresholds]]\n"
    'metric = "complexity.max"\nop = "<="\nvalue = 3\naction = "notify"\n'
)
NOTIFY_AND_COMMENT = (
    NOTIFY_ONLY + "\n[[tool.plimsoll.code.thresholds]]\n"
    'metric = "complexity.max"\nop = "<="\nvalue = 2\naction = "comment"\n'
)


def test_a_notify_rule_with_no_channel_is_a_warning_not_the_pull_request_comment(
    git_repo: GitRepo,
    http_recorder: HttpRecorder,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """No channel configured: the comment rule uses the run's pull request, and the notify
    rule, which has nowhere to go, is a warning (never posted there, then overwritten)."""
    _actions_env(monkeypatch, tmp_path, http_recorder.url)
    git_repo.commit("gate", {"pyproject.toml": NOTIFY_AND_COMMENT, "src/demo/t.py": TANGLED})
    done = plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json")
    out = json.loads(done.stdout)
    assert out["notified"] == ["github-pull-request: delivered"]
    posts = http_recorder.requests_to("/repos/acme/service/issues/9/comments", "POST")
    assert len(posts) == 1  # one comment, posted once: nothing to overwrite
    (comment,) = http_recorder.github_comments[("acme/service", 9)]
    assert "`complexity.max <= 2`" in comment["body"]
    assert "complexity.max <= 3" not in comment["body"]
    [warning] = out["notify_warnings"]
    assert "notify rule 'complexity.max <= 3' was not sent" in warning
    assert "notify.default_channels" in warning and "channels" in warning
    assert f"warning: {warning}" in done.stderr


def test_a_lone_notify_rule_with_nowhere_to_go_warns(git_repo: GitRepo) -> None:
    config = NOTIFY_ONLY
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/t.py": TANGLED})
    plimsoll(git_repo.path, "code", "collect", "--format", "json")
    done = plimsoll(git_repo.path, "code", "validate")
    assert "warning: notify rule 'complexity.max <= 3' was not sent" in done.stderr
    assert "notified" not in done.stdout
    out = json.loads(plimsoll(git_repo.path, "code", "validate", "--format", "json").stdout)
    assert out["notified"] == [] and len(out["notify_warnings"]) == 1


def test_notify_default_channels_are_where_a_rule_without_channels_goes(
    git_repo: GitRepo, http_recorder: HttpRecorder
) -> None:
    hooks = "".join(
        f'[tool.plimsoll.notify.channels.{name}]\nkind = "webhook"\n'
        f'url = "{http_recorder.url}/{name}"\nretries = 0\n\n'
        for name in ("team", "other")
    )
    config = NOTIFY_ONLY + '\n[tool.plimsoll.notify]\ndefault_channels = ["team"]\n\n' + hooks
    git_repo.commit("gate", {"pyproject.toml": config, "src/demo/t.py": TANGLED})
    out = json.loads(
        plimsoll(git_repo.path, "code", "collect", "--validate", "--format", "json").stdout
    )
    assert out["notified"] == ["team: delivered"] and out["notify_warnings"] == []
    assert len(http_recorder.requests_to("/team", "POST")) == 1
    assert http_recorder.requests_to("/other", "POST") == []


def test_a_failed_push_still_says_where_the_record_was_stored(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    repo.commit(
        "init",
        {
            "pyproject.toml": '[tool.plimsoll.code]\npaths = ["src"]\ncollectors = ["stats"]\n',
            "src/a.py": GOOD,
        },
    )
    repo.git("remote", "add", "origin", str(tmp_path / "gone.git"))
    done = plimsoll(repo.path, "code", "collect", "--push", check=3)
    stored = [ln for ln in done.stdout.splitlines() if ln.startswith("stored history/")]
    assert len(stored) == 1 and stored[0].endswith("on branch code-metrics")
    path = stored[0].split()[1]
    assert path in repo.git("ls-tree", "-r", "--name-only", "code-metrics").splitlines()
    assert "plimsoll: error: git push failed" in done.stderr
    out = plimsoll(repo.path, "code", "collect", "--push", "--format", "json", check=3)
    data = json.loads(out.stdout)  # one JSON document: the result, with the push's error
    assert len(data["stored"]) == 1 and data["pushed"] is False
    assert data["push"]["error"].startswith("git push failed")
