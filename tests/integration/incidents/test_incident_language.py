"""Incidents speak the reader's language (issue #6, item 7): pages in the paged person's, the timeline
in the asker's, people as mentions rather than raw ids."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from bot.incidents.desk import Refused
from tests.support.config import bot_config
from tests.support.inprocess import dispatch, make_bot
from tests.support.signing import event_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config(), clock)


def open_incident(app: Any, slack: SlackRecorder) -> None:
    slack.set_message("CTEAM", "1700000000.000100", text="checkout 500s", user="UAUTHOR")
    for name in ("fire", "boom"):
        dispatch(app, event_body({"type": "reaction_added", "user": "UREPORTER", "reaction": name,
                                  "item_user": "UAUTHOR", "item": {"type": "message", "channel": "CTEAM",
                                                                   "ts": "1700000000.000100"}, "event_ts": "1"}))


def command(app: Any, slack: SlackRecorder, text: str, user: str) -> str:
    slack.clear()
    dispatch(app, slash_command_body("/incident", text, user_id=user, channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


def test_the_page_dm_is_in_the_paged_persons_language_while_the_team_reads_english(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    slack.set_user("UDRI1", locale="zh-CN")
    open_incident(app, slack)
    [page] = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DUDRI1"]
    assert "你正在值班" in slack_text(page)
    team_posts = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "CTEAM"]
    assert team_posts and "事故" not in slack_text(team_posts)


def test_status_timeline_is_in_the_askers_language_with_people_as_mentions(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    open_incident(app, slack)
    command(app, slack, "ack 1", "UDRI1")
    slack.set_user("UZH", locale="zh-CN")
    said = command(app, slack, "status 1", "UZH")
    assert "呼叫了 <@UDRI1>（1st line）" in said and "通过表情回应创建" in said
    assert "opened from" not in said and "paged UDRI1" not in said
    english = command(app, slack, "status 1", "UDRI1")
    assert "paged <@UDRI1> (1st line)" in english and "acknowledged (via /incident ack)" in english


def test_resolving_tells_the_paged_person_it_was_resolved_not_acknowledged(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    open_incident(app, slack)
    command(app, slack, "resolve 1", "UREPORTER")
    [update] = [c for c in slack.calls("chat.update") if c.params.get("channel") == "DUDRI1"]
    assert "was resolved by <@UREPORTER>" in slack_text(update)


def test_a_manual_escalation_says_who_escalated_not_that_nobody_acknowledged(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    open_incident(app, slack)
    slack.clear()
    command(app, slack, "escalate 1", "UREPORTER")
    posts = slack_text(slack.calls("chat.postMessage"))
    assert "<@UREPORTER> escalated incident #1 to <@USENIOR2> (2nd line)" in posts
    assert "Not acknowledged within" not in posts


def test_undo_refusal_names_the_window_in_seconds_when_it_is_short(tmp_path, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                   clock: FrozenClock) -> None:
    services, app = make_bot(f"sqlite:///{tmp_path / 'u.db'}", slack, bot_config(incidents={"undo_within": "5s"}),
                             clock)
    open_incident(app, slack)
    clock.advance(timedelta(seconds=6))
    with pytest.raises(Refused, match=r"undo works for 5s after opening"):
        services.incidents.cancel(1, "UREPORTER")


def test_asking_about_a_missing_incident_is_answered_in_the_askers_language(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    slack.set_user("UZH", locale="zh-CN")
    said = command(app, slack, "status 4242", "UZH")
    assert "没有编号为 #4242 的事故" in said and "There is no incident" not in said
