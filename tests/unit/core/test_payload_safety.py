"""The session-wide hook that fails the suite when a Slack payload could broadcast or spoof a mention."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest
from slack_sdk import WebClient

from tests import conftest
from tests.support import bot_process, payload_safety
from tests.support.payload_safety import expect_unsafe, unsafe_markup
from tests.support.secrets_scan import LineRecorder
from tests.support.slack_recorder import SlackRecorder

REPO = Path(__file__).resolve().parents[3]


def section(text: str) -> dict[str, object]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


# --- what the detector flags -----------------------------------------------------------------------

@pytest.mark.parametrize(("text", "named"), [
    ("wake up <!channel>", "<!channel>"),
    ("<!channel> first thing", "<!channel>"),
    ("<!channel|channel> labelled", "<!channel|channel>"),
    ("hi <!everyone>", "<!everyone>"),
    ("old style <!group>", "<!group>"),
    ("ping <!subteam^S0ONCALL|@oncall> now", "<!subteam^S0ONCALL|@oncall>"),
    ("<!subteam^S0ONCALL>", "<!subteam^S0ONCALL>"),
    ("title: <!here> look", "<!here>"),
    ("<!here|here> at the start but labelled", "<!here|here>"),
    ("approved by <@U123|alice>", "<@U123|alice>"),
    ("approved by <@W123|bob>", "<@W123|bob>"),
    ("reported by <@UEVIL1>", "<@UEVIL1>"),
    ("reported by <@WEVIL2>", "<@WEVIL2>"),
    ("labelled canary <@UEVIL3|boss>", "<@UEVIL3|boss>"),  # one problem, not one per rule
])
def test_broadcasts_spoofs_and_canary_mentions_are_flagged(text: str, named: str) -> None:
    [problem] = unsafe_markup({"text": text})

    assert problem.startswith("text: ")
    assert repr(named) in problem


@pytest.mark.parametrize("text", [
    "<@U123> is on call",
    "<@W123> acknowledged",
    "see <#C123> and <#C123|inc-1-checkout>",
    "runbook <https://x.example/runbook|label> and <mailto:a@example.com>",
    "typed &lt;!channel&gt; and &lt;@UEVIL1&gt; stay text",
    "<!here> Nobody acknowledged incident #1 within 15m",
    "deploy @channel @here now",
    "<!date^1392734382^{date_short}|Feb 18th>",
    "",
])
def test_markup_the_bot_writes_on_purpose_is_not_flagged(text: str) -> None:
    assert unsafe_markup({"text": text, "blocks": [section(text)]}) == []


def test_a_here_in_the_middle_is_flagged_even_when_another_string_starts_with_one() -> None:
    problems = unsafe_markup({"text": "<!here> nobody acknowledged", "blocks": [section("<!here> title <!here>")]})

    assert problems == [
        "blocks[0].text.text: broadcast (only the bot's own post may start with <!here>) '<!here>' "
        "in '<!here> title <!here>'"]


def test_json_encoded_form_parameters_are_searched_recursively() -> None:
    attachment = {"color": "danger", "fields": [{"title": "Title", "value": "db down <!everyone>"}]}
    view = {"type": "modal", "blocks": json.dumps([section("by <@UEVIL1>")])}  # JSON inside JSON
    params = {"channel": "C1", "text": "ok", "blocks": json.dumps([section("hi <!channel>")]),
              "attachments": json.dumps([attachment]), "view": json.dumps(view)}

    problems = unsafe_markup(params)

    assert [problem.split(":")[0] for problem in problems] == [
        "blocks[0].text.text", "attachments[0].fields[0].value", "view.blocks[0].text.text"]


def test_the_excerpt_shows_where_the_markup_sits_in_long_text() -> None:
    [problem] = unsafe_markup({"text": "a" * 100 + "<!channel>" + "b" * 100})

    assert problem.endswith(f"in '…{'a' * 40}<!channel>{'b' * 40}…'")


@pytest.mark.parametrize("params", [
    {"text": "[not json <!channel>"},
    {"text": "{\"unterminated\": \"<!channel>"},
    {"blocks": "[" * 5000 + "]" * 5000, "text": "<!channel>"},
])
def test_broken_or_hostile_json_is_still_checked_as_text(params: dict[str, str]) -> None:
    assert any("'<!channel>'" in problem for problem in unsafe_markup(params))


def test_file_contents_are_not_messages() -> None:
    assert payload_safety.check_call("files.upload", {"content": "# Review\n<!channel>", "title": "PIR"}) == []
    assert payload_safety.check_call("file_upload", {"body": "<!channel>"}) == []


# --- the recorder checks every call ---------------------------------------------------------------

def test_a_post_with_a_broadcast_in_its_blocks_is_recorded_as_a_violation_of_this_test(
        slack: SlackRecorder, request: pytest.FixtureRequest) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)

    with expect_unsafe() as caught:
        client.chat_postMessage(channel="C1", text="incident opened", blocks=[section("wake up <!channel>")])

    [violation] = caught
    assert (violation.method, violation.test) == ("chat.postMessage", request.node.nodeid)
    assert violation.problem.startswith("blocks[0].text.text: broadcast '<!channel>'")
    assert slack.calls("chat.postMessage")  # still recorded and answered like Slack


def test_a_response_url_reply_echoing_a_canary_mention_is_a_violation(slack: SlackRecorder) -> None:
    reply = {"response_type": "ephemeral", "text": "ok", "blocks": [section("I didn't understand <@UEVIL1>")]}
    body = json.dumps(reply)
    request = urllib.request.Request(slack.response_url("r1"), data=body.encode(),
                                     headers={"Content-Type": "application/json"})

    with expect_unsafe() as caught:
        urllib.request.urlopen(request, timeout=5).close()

    assert [(v.method, "'<@UEVIL1>'" in v.problem) for v in caught] == [("response_url", True)]


def test_safe_posts_record_nothing(slack: SlackRecorder) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)

    with expect_unsafe() as caught:
        client.chat_postMessage(channel="C1", text="<!here> Nobody acknowledged incident #1",
                                blocks=[section("<!here> *Nobody acknowledged* <@U1> &lt;!channel&gt;")])

    assert caught == []


# --- the session and the offending test fail ------------------------------------------------------

def test_the_session_fails_naming_the_method_the_test_and_the_excerpt(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(bot_process, "LOG_FILES", [])
    monkeypatch.setattr(conftest, "IN_PROCESS_LOG", LineRecorder())
    no_plugins = SimpleNamespace(get_plugin=lambda name: None)
    session = SimpleNamespace(exitstatus=pytest.ExitCode.OK, config=SimpleNamespace(pluginmanager=no_plugins))

    with payload_safety.fresh_record():
        payload_safety.check_call("chat.postMessage", {"text": "Nobody acknowledged: db down <!channel>"})
        conftest.pytest_sessionfinish(session, 0)  # type: ignore[arg-type]

    assert session.exitstatus == pytest.ExitCode.TESTS_FAILED
    report = capsys.readouterr().err
    assert "UNSAFE SLACK PAYLOAD: 1 broadcast(s) or mention(s)" in report
    assert "test_payload_safety.py::test_the_session_fails_naming_the_method_the_test_and_the_excerpt" in report
    assert "chat.postMessage: text: broadcast '<!channel>' in 'Nobody acknowledged: db down <!channel>'" in report


OFFENDING_TESTS = """
from slack_sdk import WebClient


def test_leaks(slack):
    WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(channel="C1", text="hi <!everyone>")


def test_clean(slack):
    WebClient(token="xoxb-test", base_url=slack.base_url).chat_postMessage(channel="C1", text="hi <@U1>")
"""


def test_the_test_that_sent_an_unsafe_payload_fails_at_teardown_and_its_neighbours_do_not(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text(textwrap.dedent("""
        from tests.conftest import (_slack_payloads_are_safe, pytest_configure, pytest_runtest_setup,
                                    pytest_sessionfinish, slack)
    """))
    (tmp_path / "test_offending.py").write_text(OFFENDING_TESTS)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", os.devnull,
                          "--rootdir", str(tmp_path), str(tmp_path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    assert "ERROR at teardown of test_leaks" in run.stdout
    assert "ERROR test_offending.py::test_leaks" in run.stdout
    assert "2 passed, 1 error" in run.stdout  # its call passed; its teardown reports the payload
    assert "test_offending.py::test_leaks: chat.postMessage: text: broadcast '<!everyone>'" in run.stdout
    assert "test_clean: chat.postMessage" not in run.stdout
