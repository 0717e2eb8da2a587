"""Slack down for 20 s when 🔥💥 lands: the running bot pages the 1st line within seconds of Slack's return,
exactly once, and then posts the confirmation it could not post during the outage (issue #6, item 1)."""

from __future__ import annotations

import time

from tests.support.bot_process import BotProcess
from tests.support.signing import event_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

OUTAGE = 20.0
PAGE_RETRY_MAX = 10.0  # the default `incidents.page_retry_max`


def reaction(user: str, name: str) -> bytes:
    return event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
                       "item": {"type": "message", "channel": "CTEAM", "ts": "1700000000.000100"},
                       "event_ts": f"{time.time():.6f}"})


def delivered_dms(slack: SlackRecorder) -> list:
    return [c for c in slack.calls("chat.postMessage")
            if str(c.params.get("channel", "")).startswith("D") and c.status == 200 and c.response.get("ok")]


def test_slack_down_20s_at_open_then_the_page_arrives_once_within_seconds(bot: BotProcess,
                                                                           slack: SlackRecorder) -> None:
    slack.set_message("CTEAM", "1700000000.000100", text="checkout is down after the deploy", user="UAUTHOR")
    slack.outage(("conversations.open", "chat.postMessage"), OUTAGE)
    back = time.monotonic() + OUTAGE
    assert bot.post(reaction("UALICE", "fire")).status_code == 200
    assert bot.post(reaction("UBOB", "boom")).status_code == 200

    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUDRI1" and c.status == 200,
                   timeout=OUTAGE + PAGE_RETRY_MAX + 5)
    arrived = time.monotonic() - back
    assert arrived <= PAGE_RETRY_MAX + 2, f"page arrived {arrived:.1f}s after Slack came back"
    time.sleep(3)  # a window for a second page or another tier's, which must not come
    assert [c.params["channel"] for c in delivered_dms(slack)] == ["DUDRI1"]  # once; no tier was burnt through
    confirmation = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == "CTEAM"
                    and c.status == 200 and "Incident #1 opened" in slack_text(c)]
    assert len(confirmation) == 1 and "Paged <@UDRI1>" in slack_text(confirmation[0])
    assert bot.metric('bot_retries_total{backend="page"}') >= 3  # re-attempts are counted
