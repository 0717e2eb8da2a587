"""Incident flows through the real Bolt app (in-process), a Slack recorder and a real database."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.clock import FrozenClock
from bot.incidents import store
from tests.support.config import bot_config, team
from tests.support.fixture_http import FixtureServer, Response
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

MESSAGE_TS = "1700000000.000100"


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config(), clock)


def react(app, user: str, name: str, channel: str = "CTEAM", ts: str = MESSAGE_TS) -> None:  # type: ignore[no-untyped-def]
    dispatch(app, event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "U0",
                              "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": "1.0"}))


def command(app, slack: SlackRecorder, text: str, channel: str = "CTEAM", user: str = "UDRI1",  # type: ignore[no-untyped-def]
            name: str = "/incident") -> str:
    slack.clear()
    dispatch(app, slash_command_body(name, text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls())


def open_incident(app, slack: SlackRecorder, text: str = "checkout 500s") -> None:  # type: ignore[no-untyped-def]
    slack.set_message("CTEAM", MESSAGE_TS, text=text, user="UAUTHOR")
    react(app, "UALICE", "fire")
    react(app, "UBOB", "boom")


def incident_channel(slack: SlackRecorder) -> str:
    return slack.calls("conversations.create")[0].response["channel"]["id"]


def test_eyes_on_the_page_by_the_dri_acknowledges(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    page = next(c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DUDRI1")
    channel = incident_channel(slack)
    slack.clear()
    react(app, "USTRANGER", "eyes", channel="DUDRI1", ts=page.response["ts"])
    assert store.load(services.sessions, 1).status == "open"  # not a responder
    assert slack_text(slack.calls()) == ""  # and nobody is told anything
    react(app, "UDRI1", "eyes", channel="DUDRI1", ts=page.response["ts"])
    incident = store.load(services.sessions, 1)
    assert incident.status == "acknowledged" and incident.acknowledged_by == "UDRI1"
    [page_now] = slack.calls("chat.update", channel="DUDRI1")
    assert page_now.params["ts"] == page.response["ts"]
    assert "Incident #1 acknowledged by <@UDRI1>" in slack_text(page_now)
    assert "<@UDRI1> acknowledged incident #1" in slack_text(slack.calls("chat.postMessage", channel=channel))


def test_incident_command_ack_note_status_and_resolve_in_the_incident_channel(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                            clock: FrozenClock) -> None:
    services, app = bot
    open_incident(app, slack)
    channel = incident_channel(slack)
    clock.advance(timedelta(minutes=3))
    assert "acknowledged incident #1 after 3m" in command(app, slack, "ack", channel=channel)
    assert "Note added" in command(app, slack, "note rolled back to v41", channel=channel)
    status = command(app, slack, "status", channel=channel)
    assert "rolled back to v41" in status and "acknowledged" in status
    resolved = command(app, slack, "resolve", channel=channel)
    assert "resolved incident #1" in resolved
    uploads = slack.calls("files.getUploadURLExternal")
    assert uploads and uploads[0].params["filename"] == "incident-1-review.md"
    incident = store.load(services.sessions, 1)
    assert incident.status == "resolved" and incident.resolved_at == START + timedelta(minutes=3)


def test_check_mark_on_the_summary_by_a_responder_resolves(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    channel = incident_channel(slack)
    summary = next(c for c in slack.calls("pins.add"))
    react(app, "UDRI1", "white_check_mark", channel=channel, ts=summary.params["timestamp"])
    assert store.load(services.sessions, 1).status == "resolved"
    assert "<@UDRI1> resolved incident #1" in slack_text(slack.calls("chat.postMessage", channel=channel))
    assert "Incident #1 was resolved by <@UDRI1>" in slack_text(slack.calls("chat.update", channel="DUDRI1"))


def test_pushpin_in_the_incident_channel_adds_the_message_to_the_timeline(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    channel = incident_channel(slack)
    slack.set_message(channel, "1700000050.000001", text="error rate back to 0.1%", user="UDRI1")
    react(app, "UDRI1", "pushpin", channel=channel, ts="1700000050.000001")
    react(app, "UDRI1", "pushpin", channel=channel, ts="1700000050.000001")
    pinned = [e for e in store.load(services.sessions, 1).timeline if e.kind == "pinned"]
    assert [e.text for e in pinned] == ["error rate back to 0.1%"]
    [told] = slack.calls("chat.postEphemeral")  # the second pushpin adds nothing and says nothing
    assert (told.params["channel"], told.params["user"]) == (channel, "UDRI1")
    assert "Added to the timeline of incident #1" in slack_text(told)


def test_severity_menu_changes_severity_and_records_it(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    payload = {"type": "block_actions", "user": {"id": "UDRI1"}, "channel": {"id": "CTEAM"}, "team": {"id": "T1"},
               "response_url": slack.response_url("s"), "trigger_id": "t",
               "actions": [{"type": "static_select", "action_id": "incident_severity", "block_id": "b",
                            "selected_option": {"value": "1:sev1", "text": {"type": "plain_text", "text": "sev1"}}}]}
    dispatch(app, interactivity_body(payload))
    incident = store.load(services.sessions, 1)
    assert incident.severity == "sev1"
    assert any(e.kind == "severity" and "sev2 -> sev1" in e.text for e in incident.timeline)
    posts = slack_text(slack.calls("chat.postMessage", channel=incident_channel(slack)))
    assert "<@UDRI1> changed severity of incident #1: sev2 → sev1" in posts


def test_degraded_combo_opens_a_sev4_incident_without_paging(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    slack.set_message("CTEAM", MESSAGE_TS, text="grafana is slow", user="UAUTHOR")
    react(app, "UALICE", "hammer")
    react(app, "UALICE", "zap")
    incident = store.load(services.sessions, 1)
    assert incident.severity == "sev4" and incident.title.startswith("Degraded")
    assert not [c for c in slack.calls("conversations.open")]
    said = slack_text(slack.calls("chat.postMessage", channel="CTEAM"))
    assert "Incident #1 opened* (sev4): Degraded: grafana is slow" in said and "sev4 does not page anyone" in said


def test_declare_command_with_severity_pages_and_a_bad_severity_gets_usage(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    said = command(app, slack, "declare payments API down sev1", channel="CTEAM", user="UREPORTER")
    incident = store.load(services.sessions, 1)
    assert (incident.title, incident.severity) == ("payments API down", "sev1")
    assert slack.calls("conversations.open")[0].params["users"] == "UDRI1"
    assert "Incident #1 opened* (sev1): payments API down" in slack_text(slack.calls("response_url"))
    assert "You are on call (1st line) for *incident #1* (sev1): payments API down" in said
    assert "Usage" in command(app, slack, "severity 1 sev9")


def test_cannot_create_channels_runs_the_incident_in_the_thread_and_says_why(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    slack.fail_method("conversations.create", error="missing_scope")
    open_incident(app, slack)
    incident = store.load(services.sessions, 1)
    assert incident.channel_id == "CTEAM" and incident.thread_ts == MESSAGE_TS
    assert "could not create an incident channel (missing_scope)" in slack_text(slack.calls("chat.postMessage"))


def test_unreadable_message_still_opens_an_incident_and_says_what_is_missing(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    slack.fail_method("conversations.history", error="not_in_channel")
    react(app, "UALICE", "fire")
    react(app, "UALICE", "boom")
    incident = store.load(services.sessions, 1)
    assert incident.title == "Incident from a message in #CTEAM"
    assert "could not read the original message (not_in_channel)" in slack_text(slack.calls("chat.postMessage"))


def test_huge_mojibake_message_gets_a_clean_short_title(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    broken = "部署失败 <@UDRI1> payments down".encode().decode("latin-1")
    open_incident(app, slack, text=broken + " " + "x" * 40_000)
    title = store.load(services.sessions, 1).title
    assert title.startswith("部署失败 @") and "payments down" in title
    assert len(title) <= 80 and title.endswith("…")
    assert f"(sev2): {title}" in slack_text(slack.calls("chat.postMessage", channel="CTEAM"))  # as it is shown
    assert f"(sev2): {title}" in slack_text(slack.calls("chat.postMessage", channel="DUDRI1"))


def test_message_shortcut_declares_an_incident_for_that_message(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    payload = {"type": "message_action", "callback_id": "declare_incident", "trigger_id": "t",
               "user": {"id": "UALICE"}, "channel": {"id": "CTEAM"}, "team": {"id": "T1"},
               "response_url": slack.response_url("sc"),
               "message": {"type": "message", "ts": MESSAGE_TS, "text": "queue is backing up", "user": "U0"}}
    dispatch(app, interactivity_body(payload))
    dispatch(app, interactivity_body(payload))  # a double click
    assert store.load(services.sessions, 1).title == "queue is backing up"
    assert store.load(services.sessions, 2) is None
    [opened] = [c for c in slack.calls("chat.postMessage", channel="CTEAM") if "Incident #" in slack_text(c)]
    assert opened.params["thread_ts"] == MESSAGE_TS  # in the thread of the message it was declared for
    assert "Incident #1 opened* (sev2): queue is backing up" in slack_text(opened)
    assert "Opened by <@UALICE> from the Declare incident shortcut" in slack_text(opened)


def test_stats_command_posts_numbers_and_a_chart(bot, slack: SlackRecorder, clock: FrozenClock) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    open_incident(app, slack)
    clock.advance(timedelta(minutes=4))
    command(app, slack, "ack 1")
    said = command(app, slack, "stats ml-platform 30d")
    assert "MTTA" in said and "4m" in said
    assert slack.calls("files.getUploadURLExternal")[0].params["filename"] == "incident-stats.png"


def test_oncall_override_takes_over_and_oncall_shows_times_in_the_askers_zone(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    slack.set_user("USENIOR2", tz="America/Los_Angeles")  # on the rotation, so may override it
    said = command(app, slack, "override <@UCOVER|cover> now +8h", name="/oncall", user="USENIOR2")
    assert "Override saved" in said
    shown = command(app, slack, "", name="/oncall", user="USENIOR2")
    assert "<@UCOVER>" in shown and "(override)" in shown and "America/Los_Angeles" in shown
    assert "Tue 2026-11-24 02:00" in shown  # 10:00 UTC = 02:00 in Los Angeles: override ends now + 8h


def test_pagerduty_gets_trigger_acknowledge_and_resolve_with_one_dedup_key(tmp_path, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    with FixtureServer() as pagerduty:
        pagerduty.add("POST", r"/v2/enqueue", lambda request: Response(202, {"status": "success"}))
        _, app = make_bot(f"sqlite:///{tmp_path / 'pd.db'}", slack, bot_config(),
                          pagerduty_routing_key="R0UTINGKEY", pagerduty_api_url=pagerduty.url)
        open_incident(app, slack)
        command(app, slack, "ack 1")
        command(app, slack, "resolve 1")
        events = [r.json() for r in pagerduty.requests("POST")]
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert {e["dedup_key"] for e in events} == {"emoji-ops-incident-1"}
    assert events[0]["payload"]["severity"] == "error"


def test_typed_money_and_fire_posts_the_burn_rate_in_the_thread(tmp_path, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                               moto_clean) -> None:
    from tests.support.aws_seed import instances

    instances(moto_clean.boto3_client("ec2"), 6, "p4d.24xlarge", {"team": "ml", "owner": "wei"})
    _, app = make_bot(f"sqlite:///{tmp_path / 'spend.db'}", slack, bot_config(teams=[team(cost_tag="ml")]),
                      aws_endpoint_url=moto_clean.url, aws_default_region="us-east-1")
    dispatch(app, event_body({"type": "message", "channel": "CTEAM", "user": "UALICE", "text": "GPU bill 💸🔥",
                              "ts": "1700000077.000001", "channel_type": "channel"}))
    report = [c for c in slack.calls("chat.postMessage") if c.params.get("thread_ts") == "1700000077.000001"]
    assert report and "ml-platform" in slack_text(report[0])
    assert "$196.62/h" in slack_text(report[0]) and "39.3 ☕/h" in slack_text(report[0])  # 6 × $32.77 over 30 cups
    assert "💸🔥" in slack_text(report[0])
    assert not slack.calls("conversations.create")  # 💸🔥 is not an incident


def test_ack_button_on_the_page_acknowledges_and_a_second_click_changes_nothing(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    open_incident(app, slack)
    payload = {"type": "block_actions", "user": {"id": "UDRI1"}, "channel": {"id": "DUDRI1"}, "team": {"id": "T1"},
               "response_url": slack.response_url("ack"), "trigger_id": "t",
               "container": {"type": "message", "channel_id": "DUDRI1", "message_ts": "1.1"},
               "actions": [{"type": "button", "action_id": "incident_ack", "value": "1", "block_id": "b"}]}
    dispatch(app, interactivity_body(payload))
    dispatch(app, interactivity_body(payload))  # double click
    incident = store.load(services.sessions, 1)
    assert incident.status == "acknowledged" and incident.acknowledged_by == "UDRI1"
    assert [e.kind for e in incident.timeline].count("acknowledged") == 1
    assert "already acknowledged" in slack_text(slack.calls("response_url"))
    [page_now] = slack.calls("chat.update", channel="DUDRI1")  # the page says so, once
    assert "Incident #1 acknowledged by <@UDRI1>" in slack_text(page_now)
    acks = [c for c in slack.calls("chat.postMessage") if "acknowledged incident #1" in slack_text(c)]
    assert [c.params["channel"] for c in acks] == [incident_channel(slack)]


def test_user_text_cannot_make_the_bot_broadcast_or_spoof_a_mention(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    command(app, slack, "declare <!channel> wake up <!here|here> &lt;@U999&gt;", user="UREPORTER")
    posts = slack.calls("chat.postMessage")
    # What Slack parses for mentions: the notification text and every mrkdwn field (plain_text is never parsed).
    parsed = [c.params["text"] for c in posts] + [m for c in posts for m in mrkdwn_texts(c.params.get("blocks"))]
    assert any("wake up" in text for text in parsed)
    assert not [text for text in parsed if "<!channel>" in text or "<!here" in text or "<@U999>" in text]


def mrkdwn_texts(value: object) -> list[str]:
    if isinstance(value, str) and value.startswith("["):
        value = json.loads(value)
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "mrkdwn" else []
        return own + [t for v in value.values() for t in mrkdwn_texts(v)]
    if isinstance(value, list):
        return [t for v in value for t in mrkdwn_texts(v)]
    return []


def test_slack_429_is_retried_after_retry_after_and_counted(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    from bot.metrics import RETRIES

    _, app = bot
    before = RETRIES.labels("slack")._value.get()
    slack.fail_next("conversations.open", status=429, retry_after=1)
    open_incident(app, slack)
    assert [c.status for c in slack.calls("conversations.open")] == [429, 200]
    assert slack.calls("chat.postMessage") and any(c.params.get("channel") == "DUDRI1"
                                                   for c in slack.calls("chat.postMessage"))
    assert RETRIES.labels("slack")._value.get() == before + 1


def click(app, slack: SlackRecorder, action_id: str, user: str = "UDRI1", value: str = "1") -> None:  # type: ignore[no-untyped-def]
    payload = {"type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"}, "team": {"id": "T1"},
               "response_url": slack.response_url(action_id), "trigger_id": "t",
               "actions": [{"type": "button", "action_id": action_id, "value": value, "block_id": "b"}]}
    dispatch(app, interactivity_body(payload))


def test_escalate_button_pages_the_next_tier_now_and_mitigated_stops_paging(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                            clock: FrozenClock) -> None:
    services, app = bot
    open_incident(app, slack)
    click(app, slack, "incident_escalate", user="UBOB")
    pages = [c.params["channel"] for c in slack.calls("chat.postMessage") if c.params["channel"].startswith("D")]
    assert pages == ["DUDRI1", "DUSENIOR2"]
    click(app, slack, "incident_mitigated", user="USENIOR2")
    incident = store.load(services.sessions, 1)
    assert incident.status == "mitigated" and incident.acknowledged_by == "USENIOR2"
    channel = incident_channel(slack)
    assert "<@UBOB> escalated incident #1 to <@USENIOR2> (2nd line)" in slack_text(slack.calls(channel=channel))
    assert "<@USENIOR2> marked incident #1 mitigated" in slack_text(slack.calls("chat.postMessage", channel=channel))
    assert "marked mitigated by <@USENIOR2>. No need to acknowledge" in slack_text(
        slack.calls("chat.update", channel="DUDRI1"))
    clock.advance(timedelta(hours=2))

    services.escalation.work_due()
    assert len([c for c in slack.calls("chat.postMessage") if c.params["channel"].startswith("D")]) == 2
