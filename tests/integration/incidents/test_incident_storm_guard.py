"""A 🔥💥 storm in one channel opens one incident and pages once (issue #6, item 9).

A new 🔥💥 in a channel that had an incident opened within `incidents.storm_window` asks its reporter
"Same as incident #N?" with Join / Open a new one, instead of paging again.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.incidents import store
from tests.support.config import bot_config
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import event_body, interactivity_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text


@pytest.fixture
def bot(db_url: str, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(db_url, slack, bot_config(), clock)


def typed(app: Any, user: str, text: str, ts: str, channel: str = "CTEAM") -> None:
    dispatch(app, event_body({"type": "message", "channel": channel, "user": user, "text": text, "ts": ts,
                              "channel_type": "channel"}))


def pages(slack: SlackRecorder) -> list[str]:
    return [c.params["channel"] for c in slack.calls("chat.postMessage") if str(c.params["channel"]).startswith("D")]


def questions(slack: SlackRecorder) -> list[Any]:
    return [c for c in slack.calls("chat.postEphemeral") if "incident_join" in json.dumps(c.params)]


def answer(app: Any, slack: SlackRecorder, question: Any, action_id: str, user: str) -> str:
    blocks = question.json_param("blocks")
    button = next(e for b in blocks if b["type"] == "actions" for e in b["elements"] if e["action_id"] == action_id)
    slack.clear()
    dispatch(app, interactivity_body({"type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"},
                                      "team": {"id": "T1"}, "response_url": slack.response_url(action_id),
                                      "trigger_id": "t", "actions": [{"type": "button", "action_id": action_id,
                                                                      "value": button["value"], "block_id": "b"}]}))
    return slack_text(slack.calls())


def test_twenty_five_fire_messages_from_one_user_open_one_incident_and_page_once(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    for i in range(25):
        typed(app, "UALICE", f"checkout down again 🔥💥 ({i})", f"1700000100.{i:06d}")
    assert len(store.in_period(services.sessions, START - timedelta(days=1))) == 1
    assert pages(slack) == ["DUDRI1"]
    asked = questions(slack)
    assert len(asked) == 24 and {q.params["user"] for q in asked} == {"UALICE"}
    assert "Same as *incident #1*" in slack_text(asked[0])


def test_join_adds_the_report_to_the_incident_without_paging(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    typed(app, "UALICE", "checkout down 🔥💥", "1700000100.000001")
    typed(app, "UBOB", "payments too? 🔥💥", "1700000100.000002")
    [question] = questions(slack)
    assert answer(app, slack, question, "incident_join", "UALICE").count("for <@UBOB>") == 1  # not theirs
    said = answer(app, slack, question, "incident_join", "UBOB")
    assert "Added your message to incident #1" in said
    incident = store.load(services.sessions, 1)
    assert [e.kind for e in incident.timeline].count("joined") == 1
    assert pages(slack) == [] and len(store.in_period(services.sessions, START - timedelta(days=1))) == 1


def test_open_a_new_one_opens_and_pages(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    typed(app, "UALICE", "checkout down 🔥💥", "1700000100.000001")
    typed(app, "UBOB", "search is down too 🔥💥", "1700000100.000002")
    [question] = questions(slack)
    answer(app, slack, question, "incident_open_new", "UBOB")
    second = store.load(services.sessions, 2)
    assert second is not None and second.reporter == "UBOB" and second.origin_ts == "1700000100.000002"
    assert pages(slack) == ["DUDRI1"]
    page = slack_text(slack.calls("chat.postMessage", channel="DUDRI1"))
    assert "You are on call (1st line) for *incident #2* (sev2)" in page
    [opened] = [c for c in slack.calls("chat.postMessage", channel="CTEAM") if "Incident #2 opened" in slack_text(c)]
    assert opened.params["thread_ts"] == "1700000100.000002"  # under UBOB's message


def test_after_the_storm_window_a_new_fire_opens_a_new_incident(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                clock: FrozenClock) -> None:
    services, app = bot
    typed(app, "UALICE", "checkout down 🔥💥", "1700000100.000001")
    clock.advance(timedelta(minutes=10, seconds=1))
    typed(app, "UALICE", "now search 🔥💥", "1700000100.000002")
    assert store.load(services.sessions, 2) is not None
    assert not questions(slack) and pages(slack) == ["DUDRI1", "DUDRI1"]
    said = slack_text(slack.calls("chat.postMessage", channel="CTEAM"))
    assert "*Incident #1 opened*" in said and "*Incident #2 opened*" in said
