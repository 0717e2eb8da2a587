"""Who may change an incident (issue #6, item 2): every action × allowed/denied, through the real Bolt app.

Responders (the snapshotted chain, the commander, the acknowledger, the reporter), members of the team's
Slack user group and the configured admins may act; Undo is the reporter's or an admin's. Everyone else
gets a refusal naming who can, nothing changes, and an audit row records the attempt.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.incidents import store
from bot.store.models import AuditLog
from tests.support.config import bot_config, team
from tests.support.inprocess import dispatch, make_bot
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

MESSAGE_TS = "1700000000.000100"
REPORTER, DRI, GROUP_MEMBER, ADMIN, STRANGER = "UREPORTER", "UDRI1", "UGROUPIE", "UADMIN", "USTRANGER"

# action_id → (menu value or button value, the status or severity the change leads to)
BUTTONS: dict[str, tuple[str, str]] = {
    "incident_ack": ("1", "acknowledged"),
    "incident_mitigated": ("1", "mitigated"),
    "incident_resolve": ("1", "resolved"),
    "incident_escalate": ("1", "escalated"),
    "incident_severity": ("1:sev1", "sev1"),
    "incident_undo": ("1", "cancelled"),
}
# action_id → what the incident channel is told when the change is made, after the actor's mention
ANNOUNCED = {
    "incident_ack": "acknowledged incident #1",
    "incident_mitigated": "marked incident #1 mitigated",
    "incident_resolve": "resolved incident #1",
    "incident_escalate": "escalated incident #1 to <@USENIOR2> (2nd line)",
    "incident_severity": "changed severity of incident #1: sev2 → sev1",
    "incident_undo": "cancelled incident #1",
}
ALLOWED = {
    REPORTER: set(BUTTONS),
    DRI: set(BUTTONS) - {"incident_undo"},
    GROUP_MEMBER: set(BUTTONS) - {"incident_undo"},
    ADMIN: set(BUTTONS),
    STRANGER: set(),
}


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    config = bot_config(teams=[team(user_group="@ml-oncall")], admins=[ADMIN])
    slack.respond("usergroups.list", {"ok": True, "usergroups": [{"id": "S0ONCALL", "handle": "ml-oncall"}]})
    slack.respond("usergroups.users.list", lambda call: {"ok": True, "users": [GROUP_MEMBER]}
                  if call.params.get("usergroup") == "S0ONCALL" else {"ok": False, "error": "no_such_subteam"})
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, config, clock)


def open_incident(app: Any, slack: SlackRecorder) -> None:
    slack.set_message("CTEAM", MESSAGE_TS, text="checkout 500s", user="UAUTHOR")
    for user, name in ((REPORTER, "fire"), (REPORTER, "boom")):
        dispatch(app, event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "U0",
                                  "item": {"type": "message", "channel": "CTEAM", "ts": MESSAGE_TS},
                                  "event_ts": "1.0"}))


def click(app: Any, slack: SlackRecorder, action_id: str, user: str, value: str) -> str:
    slack.clear()
    kind = "static_select" if action_id == "incident_severity" else "button"
    action: dict[str, Any] = {"type": kind, "action_id": action_id, "block_id": "b"}
    if kind == "button":
        action["value"] = value
    else:
        action["selected_option"] = {"value": value, "text": {"type": "plain_text", "text": value}}
    dispatch(app, interactivity_body({"type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"},
                                      "team": {"id": "T1"}, "response_url": slack.response_url(action_id),
                                      "trigger_id": "t", "actions": [action]}))
    return slack_text(slack.calls("response_url"))


def changed(services: Any, action_id: str) -> bool:
    incident = store.load(services.sessions, 1)
    if action_id == "incident_severity":
        return incident.severity == "sev1"
    if action_id == "incident_escalate":
        return any(e.kind == "escalated" for e in incident.timeline)
    return incident.status == BUTTONS[action_id][1]


def denials(services: Any) -> list[AuditLog]:
    with services.sessions() as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action.like("denied.%"))))


@pytest.mark.parametrize("user", list(ALLOWED))
@pytest.mark.parametrize("action_id", list(BUTTONS))
def test_every_incident_button_is_allowed_or_refused_by_role(bot, slack: SlackRecorder, action_id: str,  # type: ignore[no-untyped-def]
                                                             user: str) -> None:
    services, app = bot
    open_incident(app, slack)
    said = click(app, slack, action_id, user, BUTTONS[action_id][0])
    if action_id in ALLOWED[user]:
        assert changed(services, action_id), said
        assert not denials(services)
        assert f"<@{user}> {ANNOUNCED[action_id]}" in slack_text(slack.calls("chat.postMessage"))
        return
    assert not changed(services, action_id)
    assert not slack.calls("chat.postMessage") and not slack.calls("chat.update")  # nobody else sees a change
    assert "can't" in said and "Who can" in said
    if action_id == "incident_undo":
        assert f"<@{REPORTER}>" in said
    else:
        assert "`@ml-oncall`" in said and f"<@{DRI}>" in said
    [row] = denials(services)
    assert row.actor == user and row.target == "incident #1"


def test_refusal_is_in_the_readers_language(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    slack.set_user(STRANGER, locale="zh-CN")
    open_incident(app, slack)
    said = click(app, slack, "incident_resolve", STRANGER, "1")
    assert "你不能解决事故 #1" in said


def command(app: Any, slack: SlackRecorder, text: str, user: str) -> str:
    slack.clear()
    dispatch(app, slash_command_body("/incident", text, user_id=user, channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


@pytest.mark.parametrize(("text", "action_id"), [("ack 1", "incident_ack"), ("mitigated 1", "incident_mitigated"),
                                               ("resolve 1", "incident_resolve"), ("escalate 1", "incident_escalate"),
                                               ("severity 1 sev1", "incident_severity")])
def test_incident_commands_refuse_strangers_and_serve_the_group(bot, slack: SlackRecorder, text: str,  # type: ignore[no-untyped-def]
                                                                action_id: str) -> None:
    services, app = bot
    open_incident(app, slack)
    said = command(app, slack, text, STRANGER)
    assert "can't" in said and store.load(services.sessions, 1).status == "open"
    assert store.load(services.sessions, 1).severity == "sev2"
    assert not slack.calls("chat.postMessage") and not slack.calls("chat.update")
    said = command(app, slack, text, GROUP_MEMBER)
    assert "can't" not in said
    assert f"<@{GROUP_MEMBER}> {ANNOUNCED[action_id]}" in slack_text(slack.calls("chat.postMessage"))
    incident = store.load(services.sessions, 1)
    assert incident.status != "open" or incident.severity == "sev1" or \
        any(e.kind == "escalated" for e in incident.timeline)


def test_eyes_from_a_stranger_on_the_page_changes_nothing_and_says_nothing(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    page = next(c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DUDRI1")
    slack.clear()
    dispatch(app, event_body({"type": "reaction_added", "user": STRANGER, "reaction": "eyes", "item_user": "U0",
                              "item": {"type": "message", "channel": "DUDRI1", "ts": page.response["ts"]},
                              "event_ts": "2.0"}))
    assert store.load(services.sessions, 1).status == "open"
    assert not slack.calls("chat.postEphemeral")
    dispatch(app, event_body({"type": "reaction_added", "user": GROUP_MEMBER, "reaction": "eyes", "item_user": "U0",
                              "item": {"type": "message", "channel": "DUDRI1", "ts": page.response["ts"]},
                              "event_ts": "3.0"}))
    assert store.load(services.sessions, 1).status == "acknowledged"
    assert f"Incident #1 acknowledged by <@{GROUP_MEMBER}>" in slack_text(slack.calls("chat.update", channel="DUDRI1"))
    assert f"<@{GROUP_MEMBER}> acknowledged incident #1" in slack_text(slack.calls("chat.postMessage"))


@pytest.mark.parametrize(("user", "allowed"), [(STRANGER, False), ("USENIOR2", True), (GROUP_MEMBER, True),
                                               (ADMIN, True)])
def test_oncall_override_is_for_the_rotation_the_team_group_and_admins(bot, slack: SlackRecorder, user: str,  # type: ignore[no-untyped-def]
                                                                       allowed: bool) -> None:
    services, app = bot
    slack.clear()
    dispatch(app, slash_command_body("/oncall", "override <@UCOVER> now +8h", user_id=user, channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    said = slack_text(slack.calls("response_url"))
    assert ("Override saved" in said) is allowed
    with services.sessions() as session:
        rows = list(session.scalars(select(AuditLog.action).where(AuditLog.actor == user)))
    assert rows == (["oncall.override"] if allowed else ["denied.override"])
    if not allowed:
        assert "the rotation's members" in said and "`@ml-oncall`" in said
