"""Chat's sends that must happen once (bot.clients.Once) and its channel creation after a killed attempt, against
the Slack recorder, which keeps the bot's posts with their metadata and its channels as Slack does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.clients import Once
from bot.clients.chat import Chat
from bot.clients.slack import make_web_client
from bot.render.blocks import section
from bot.retry import BackendError
from tests.support.slack_recorder import SlackRecorder

EARLIER = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


@pytest.fixture
def chat(slack: SlackRecorder) -> Chat:
    return Chat(make_web_client("xoxb-test", slack.base_url))


def posts(slack: SlackRecorder) -> list[str]:
    return [c.response["ts"] for c in slack.calls("chat.postMessage") if c.response.get("ok")]


def test_a_send_whose_earlier_attempt_landed_is_not_posted_again(chat: Chat, slack: SlackRecorder) -> None:
    first = chat.post("CTEAM", [section("page for incident #1")], once=Once("page:7"))
    again = chat.post("CTEAM", [section("page for incident #1")], once=Once("page:7", EARLIER))
    assert again == first and posts(slack) == [first]
    assert slack.calls("chat.postMessage")[0].json_param("metadata")["event_payload"] == {"key": "page:7"}


def test_a_send_whose_earlier_attempt_never_landed_is_posted(chat: Chat, slack: SlackRecorder) -> None:
    chat.post("CTEAM", [section("something else")], once=Once("page:1"))
    sent = chat.post("CTEAM", [section("page for incident #2")], once=Once("page:2", EARLIER))
    assert posts(slack)[-1] == sent and len(posts(slack)) == 2


def test_a_reply_is_looked_for_in_its_thread(chat: Chat, slack: SlackRecorder) -> None:
    top = chat.post("CTEAM", [section("DiskAlmostFull")])
    reply = chat.post("CTEAM", [section("recovered")], thread_ts=top, once=Once("alert-outbox:3"))
    assert chat.post("CTEAM", [section("recovered")], thread_ts=top, once=Once("alert-outbox:3", EARLIER)) == reply
    assert [c.method for c in slack.calls()][-1] == "conversations.replies"


def test_a_channel_the_bot_created_before_it_was_killed_is_taken_not_made_twice(chat: Chat,
                                                                                 slack: SlackRecorder) -> None:
    made = chat.create_channel("inc-20261124-1-checkout")
    assert chat.create_channel("inc-20261124-1-checkout", ours_if_taken=True) == made
    assert len(slack.created_channels()) == 1


def test_a_taken_name_the_bot_did_not_create_gets_a_suffix(chat: Chat, slack: SlackRecorder) -> None:
    slack.create_channel("inc-20261124-1-checkout")
    slack.respond("auth.test", {"ok": True, "user_id": "USOMEONEELSE"})
    other = chat.create_channel("inc-20261124-1-checkout", ours_if_taken=True)
    names = [c["name"] for c in slack.created_channels()]
    assert names[0] == "inc-20261124-1-checkout" and names[1].startswith("inc-20261124-1-checkout-")
    assert other == slack.created_channels()[1]["id"]
    slack.respond("conversations.create", {"ok": False, "error": "name_taken"})
    with pytest.raises(BackendError):
        chat.create_channel("inc-20261124-1-checkout", ours_if_taken=True)
