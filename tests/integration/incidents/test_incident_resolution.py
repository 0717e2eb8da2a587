"""`/incident note resolution: …` (and `解决：…`) through the real Bolt app: a timeline entry of kind
"resolution", shown in /incident status and in the review draft attached on resolve."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.incidents import store
from tests.support.config import bot_config
from tests.support.inprocess import dispatch, make_bot
from tests.support.signing import event_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

MESSAGE_TS = "1700000000.000100"


@pytest.fixture
def bot(db_url: str, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(db_url, slack, bot_config(), clock)


def command(app, slack: SlackRecorder, text: str, channel: str, user: str = "UDRI1") -> str:  # type: ignore[no-untyped-def]
    slack.clear()
    dispatch(app, slash_command_body("/incident", text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls())


def open_incident(app, slack: SlackRecorder) -> str:  # type: ignore[no-untyped-def]
    slack.set_message("CTEAM", MESSAGE_TS, text="checkout 500s", user="UAUTHOR")
    for user, name in (("UALICE", "fire"), ("UBOB", "boom")):
        dispatch(app, event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "U0",
                                  "item": {"type": "message", "channel": "CTEAM", "ts": MESSAGE_TS},
                                  "event_ts": "1.0"}))
    return str(slack.calls("conversations.create")[0].response["channel"]["id"])


def review_draft(slack: SlackRecorder) -> str:
    [upload] = slack.calls("file_upload")
    return upload.body.decode()


def test_resolution_note_is_recorded_shown_and_lands_in_the_review_draft(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                          clock: FrozenClock) -> None:
    services, app = bot
    channel = open_incident(app, slack)
    clock.advance(timedelta(minutes=5))
    assert "Note added" in command(app, slack, "note looking at the api pods", channel)
    said = command(app, slack, "note Resolution: rolled back api to v41", channel)
    assert "Resolution recorded for incident #1" in said

    timeline = store.load(services.sessions, 1).timeline
    assert [(e.kind, e.text) for e in timeline if e.kind in {"note", "resolution"}] == [
        ("note", "looking at the api pods"), ("resolution", "rolled back api to v41")]
    assert "<@UDRI1> resolution: rolled back api to v41" in command(app, slack, "status", channel)

    clock.advance(timedelta(minutes=37))
    command(app, slack, "resolve", channel)
    draft = review_draft(slack)
    root_cause = draft.split("## Root cause", 1)[1].split("## ", 1)[0]
    assert "- **Resolution:** rolled back api to v41" in root_cause
    assert "looking at the api pods" not in root_cause


@pytest.mark.parametrize("text", ["note 解决：回滚到 v41", "note 解决: 回滚到 v41", "note #1 resolution:回滚到 v41"])
def test_chinese_prefix_and_a_named_incident_are_understood(bot, slack: SlackRecorder, text: str) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    channel = open_incident(app, slack)
    command(app, slack, text, "CTEAM" if "#1" in text else channel)
    [entry] = [e for e in store.load(services.sessions, 1).timeline if e.kind == "resolution"]
    assert (entry.text, entry.actor) == ("回滚到 v41", "UDRI1")


def test_an_empty_resolution_gets_the_usage_and_records_nothing(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    channel = open_incident(app, slack)
    said = command(app, slack, "note resolution:", channel)
    assert "note resolution: <how it was fixed>" in said
    assert not [e for e in store.load(services.sessions, 1).timeline if e.kind in {"note", "resolution"}]


def test_without_a_resolution_the_draft_shows_the_last_note_labelled_as_such(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    channel = open_incident(app, slack)
    command(app, slack, "note scaled the api to 6 replicas", channel)
    command(app, slack, "resolve", channel)
    root_cause = review_draft(slack).split("## Root cause", 1)[1].split("## ", 1)[0]
    assert "- **Last note before resolving" in root_cause and "scaled the api to 6 replicas" in root_cause
