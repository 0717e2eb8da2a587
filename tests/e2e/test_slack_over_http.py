"""The running bot, driven over HTTP exactly as Slack drives it (signed requests, redeliveries)."""

from __future__ import annotations

import json
import sqlite3
import time

from tests.support.bot_process import BotProcess
from tests.support.signing import event_body, interactivity_body, retry_headers, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until


def reaction(user: str, name: str, ts: str = "1700000000.000100", channel: str = "CTEAM") -> dict:
    return {"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": f"{time.time():.6f}"}


def dms(slack: SlackRecorder) -> list:
    return [c for c in slack.calls("chat.postMessage") if str(c.params.get("channel", "")).startswith("D")]


def test_slash_command_is_acked_within_three_seconds_and_answered_by_response_url(bot: BotProcess,
                                                                                  slack: SlackRecorder) -> None:
    started = time.perf_counter()
    response = bot.post(slash_command_body("/oncall", "", channel_id="CTEAM",
                                           response_url=slack.response_url("oncall")))
    assert response.status_code == 200
    assert time.perf_counter() - started < 3
    answer = slack.wait_for("response_url")[0]
    text = slack_text(answer)
    assert "1st line" in text and "UDRI1" in text and "USENIOR2" in text


def test_request_with_bad_signature_is_rejected(bot: BotProcess) -> None:
    response = bot.post(slash_command_body("/oncall", ""), secret="not-the-secret")
    assert response.status_code == 401


def test_request_older_than_five_minutes_is_rejected(bot: BotProcess) -> None:
    response = bot.post(slash_command_body("/oncall", ""), ts=int(time.time()) - 6 * 60)
    assert response.status_code == 401


def test_unknown_subcommand_answers_usage_in_the_users_language(bot: BotProcess, slack: SlackRecorder) -> None:
    slack.set_user("UZH", locale="zh-CN")
    bot.post(slash_command_body("/incident", "frobnicate", user_id="UZH", response_url=slack.response_url("u")))
    answer = slack_text(slack.wait_for("response_url")[0])
    assert "我没看懂" in answer and "/incident declare" in answer


def test_fire_then_boom_from_two_people_opens_one_incident_and_pages_once(bot: BotProcess,
                                                                          slack: SlackRecorder) -> None:
    slack.set_message("CTEAM", "1700000000.000100", text="checkout is down after deploy", user="UAUTHOR")
    assert bot.post(event_body(reaction("UALICE", "fire"))).status_code == 200
    assert bot.post(event_body(reaction("UBOB", "boom"))).status_code == 200
    slack.wait_for("conversations.create")
    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUDRI1")
    bot.post(event_body(reaction("UCAROL", "fire")))  # a third person piles on
    bot.post(event_body(reaction("UBOB", "collision")))  # Slack's other name for 💥
    time.sleep(1.0)  # a window for a second incident or page, which must not come
    assert len(slack.calls("conversations.create")) == 1
    assert len(dms(slack)) == 1
    assert "checkout is down after deploy" in slack.calls("conversations.create")[0].params["name"].replace("-", " ")
    [opened] = [c for c in slack.calls("chat.postMessage", channel="CTEAM") if "Incident #" in slack_text(c)]
    assert "*Incident #1 opened* (sev2): checkout is down after deploy" in slack_text(opened)
    assert "for *incident #1* (sev2): checkout is down after deploy" in slack_text(dms(slack))


def test_same_event_delivered_three_times_is_handled_once(bot: BotProcess, slack: SlackRecorder) -> None:
    event = {"type": "message", "channel": "CTEAM", "user": "UALICE", "text": "db is gone 🔥💥",
             "ts": "1700000001.000200", "channel_type": "channel"}
    body = event_body(event, event_id="Ev0REDELIVER1")
    for attempt in range(3):
        headers = retry_headers(attempt) if attempt else {}
        assert bot.post(body, headers=headers).status_code == 200
    slack.wait_for("conversations.create")
    slack.wait_for("chat.postMessage", lambda c: "Incident #1 opened" in slack_text(c))
    time.sleep(0.5)  # a window for a second incident, which must not come
    assert len(slack.calls("conversations.create")) == 1
    assert bot.metric("bot_duplicate_events_total") == 2
    assert len([c for c in slack.calls("chat.postMessage") if "opened*" in slack_text(c)]) == 1  # told once


def test_undo_button_cancels_the_incident_and_stops_paging(bot: BotProcess, slack: SlackRecorder) -> None:
    event = {"type": "message", "channel": "CTEAM", "user": "UALICE", "text": "oops 🔥💥",
             "ts": "1700000002.000300", "channel_type": "channel"}
    bot.post(event_body(event))
    confirmation = slack.wait_for("chat.postMessage", lambda c: "incident_undo" in json.dumps(c.params))[0]
    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUDRI1")
    payload = {"type": "block_actions", "user": {"id": "UALICE"}, "team": {"id": "T1"},
               "channel": {"id": "CTEAM"}, "trigger_id": "t", "response_url": slack.response_url("undo"),
               "container": {"type": "message", "message_ts": "x", "channel_id": "CTEAM"},
               "message": {"ts": "x", "text": ""},
               "actions": [{"type": "button", "action_id": "incident_undo", "value": "1", "block_id": "b"}]}
    started = time.perf_counter()
    assert bot.post(interactivity_body(payload)).status_code == 200
    assert time.perf_counter() - started < 3
    dm_update = slack.wait_for("chat.update", lambda c: c.params.get("channel") == "DUDRI1")[0]
    assert "cancelled" in slack_text(dm_update)
    confirmation_update = slack.wait_for("chat.update", lambda c: c.params.get("channel") == "CTEAM")[0]
    assert confirmation_update.params["ts"] == confirmation.response["ts"]
    assert "incident_undo" not in json.dumps(confirmation_update.params)


def test_handler_exception_gives_an_error_id_and_the_bot_keeps_serving(bot: BotProcess,
                                                                       slack: SlackRecorder) -> None:
    # An on-call override row whose start is no time (written by hand, or by a newer version): nothing in the bot
    # expects that, so /oncall raises, and whoever asked still gets an answer with an error id that is in the log
    # with its traceback.
    with sqlite3.connect(bot.workdir / "bot.db") as db:
        db.execute("INSERT INTO oncall_overrides (team, tier, user_id, starts_at, ends_at, created_by, created_at)"
                   " VALUES ('ml-platform', '1st line', 'UDRI1', 'not a time', '9999-12-31 00:00:00.000000',"
                   " 'UADMIN', '2026-11-24 00:00:00.000000')")
    bot.post(slash_command_body("/oncall", "", channel_id="CTEAM", response_url=slack.response_url("boom")))
    answer = slack_text(slack.wait_for("response_url")[0])
    error_id = answer.split("error id `")[1][:8]
    assert error_id in bot.logs() and "Traceback" in bot.logs()
    assert bot.get("/healthz").status_code == 200
    bot.post(slash_command_body("/gpu", "help", channel_id="CTEAM", response_url=slack.response_url("after")))
    assert "/gpu" in slack_text(slack.wait_for("response_url", count=2)[1])


def test_a_user_slack_describes_oddly_is_answered_in_the_teams_language(bot: BotProcess,
                                                                        slack: SlackRecorder) -> None:
    # users.info answers with something that is no user object: the reader's locale is unknown, so the answer
    # comes in the team's language rather than not at all.
    slack.respond("users.info", {"ok": True, "user": ["not", "an", "object"]})
    bot.post(slash_command_body("/gpu", "help", user_id="UODD", channel_id="CTEAM",
                                response_url=slack.response_url("odd")))
    answer = slack_text(slack.wait_for("response_url")[0])
    assert "/gpu" in answer and "error id" not in answer
    assert "users.info for UODD answered no user object" in bot.logs()


def test_events_from_unknown_channels_are_handled_as_the_whole_organisation(bot: BotProcess,
                                                                           slack: SlackRecorder) -> None:
    event = {"type": "message", "channel": "CNOBODY", "user": "USTRANGER", "text": "🔥💥 help",
             "ts": "1700000003.000400", "channel_type": "channel"}
    assert bot.post(event_body(event)).status_code == 200
    posted = slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "CNOBODY")
    assert "no on-call rotation" in slack_text(posted[0])
    assert bot.get("/healthz").status_code == 200


def test_alertmanager_webhook_stores_valid_payloads_and_rejects_bad_ones(bot: BotProcess) -> None:
    payload = {"version": "4", "status": "firing", "receiver": "bot", "groupKey": "{}:{}",
               "alerts": [{"status": "firing", "labels": {"alertname": "GpuIdle", "node": "n1"},
                           "annotations": {"summary": "idle"}, "startsAt": "2026-11-23T10:00:00Z",
                           "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "abc123"}]}
    ok = bot.post(json.dumps(payload).encode(), path="/alertmanager")
    assert ok.status_code == 200 and ok.json() == {"stored": 1}
    bad = bot.post(b'{"version": "4", "status": "firing", "groupKey": "g", "alerts": "nope"}', path="/alertmanager")
    assert bad.status_code == 400 and "alerts" in bad.json()["error"]
    garbage = bot.post(b"not json {", path="/alertmanager")
    assert garbage.status_code == 400
    assert bot.get("/healthz").status_code == 200


def test_metrics_endpoint_exposes_handler_latency_and_acks(bot: BotProcess, slack: SlackRecorder) -> None:
    bot.post(slash_command_body("/oncall", "", response_url=slack.response_url("m")))
    slack.wait_for("response_url")
    wait_until(lambda: bot.metric("bot_handler_seconds_count") >= 1, timeout=5,  # observed just after the reply
               message="the handler latency to be observed")
    assert 'bot_handler_seconds_bucket{kind="command",le="0.5",name="/oncall"}' in bot.get("/metrics").text
    assert bot.metric("bot_acks_total") >= 1


def test_healthz_answers_503_and_logs_why_when_the_database_is_unreachable(tmp_path, start_bot) -> None:  # type: ignore[no-untyped-def]
    from tests.support.servers import PostgresServer

    database = PostgresServer(tmp_path / "pg")
    database.start()
    try:
        bot = start_bot(database_url=database.url)
        assert bot.get("/healthz").status_code == 200
    finally:
        database.stop()
    response = bot.get("/healthz")
    assert response.status_code == 503 and "unreachable" in response.json()["database"]
    assert "health check failed: database unreachable" in bot.logs()
