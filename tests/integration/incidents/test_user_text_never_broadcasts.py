"""User text never makes the bot broadcast or mention someone (issue #6, item 3).

Hostile text uses the canary ids `UEVIL…`: the session-wide hook in tests/support/payload_safety.py
fails any test whose Slack payloads carry a broadcast or one of those mentions; these tests also say so
explicitly for the paths the issue found leaking.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from tests.support.config import bot_config
from tests.support.inprocess import dispatch, make_bot
from tests.support.payload_safety import unsafe_markup
from tests.support.signing import event_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

HOSTILE_TITLE = "<@UEVIL1> &lt;!channel&gt; &lt;!everyone&gt; &lt;@UEVIL2|boss&gt; checkout down"


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config(incidents={"repeat_last_tier": 0}), clock)


def sent(slack: SlackRecorder) -> list[Any]:
    return [c for c in slack.calls() if c.method != "file_upload"]


def command(app: Any, slack: SlackRecorder, name: str, text: str) -> str:
    dispatch(app, slash_command_body(name, text, user_id="UREPORTER", channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


def test_hostile_title_stays_inert_through_paging_escalation_and_the_loud_post(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                               clock: FrozenClock) -> None:
    services, app = bot
    slack.set_message("CTEAM", "1700000000.000100", text=HOSTILE_TITLE, user="UAUTHOR")
    for name in ("fire", "boom"):
        dispatch(app, event_body({"type": "reaction_added", "user": "UREPORTER", "reaction": name,
                                  "item_user": "UAUTHOR", "item": {"type": "message", "channel": "CTEAM",
                                                                   "ts": "1700000000.000100"}, "event_ts": "1"}))
    for _ in range(4):  # three tiers, then the loud "nobody acknowledged" post
        clock.advance(timedelta(minutes=16))
        services.escalation.work_due()
    loud = [c for c in slack.calls("chat.postMessage") if "still not acknowledged" in slack_text(c)]
    assert len(loud) == 1
    assert json.dumps(loud[0].params).count("<!here>") == 1  # the bot's own, at the start
    assert [problem for call in sent(slack) for problem in unsafe_markup(call.params)] == []


@pytest.mark.parametrize(("name", "text"), [
    ("/gpu", "<!channel>"),
    ("/gpu", "<@UEVIL1>"),
    ("/incident", "severity 1 <!here> <@UEVIL1>"),
    ("/incident", "declare <!channel> wake up <!here|here> &lt;@UEVIL3&gt;"),
    ("/oncall", "override <@UCOVER> 2026-11-24T09:00 <!channel> ml-platform"),
    ("/oncall", "override <@UCOVER> 2026-11-24T09:00 +1h ml-platform <!everyone>"),
    ("/oncall", "<!channel>"),
])
def test_replies_that_echo_what_was_typed_escape_it_in_blocks_and_text(bot, slack: SlackRecorder, name: str,  # type: ignore[no-untyped-def]
                                                                       text: str) -> None:
    _, app = bot
    said = command(app, slack, name, text)
    assert said  # a reply was shown
    assert [problem for call in sent(slack) for problem in unsafe_markup(call.params)] == []
