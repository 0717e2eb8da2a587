"""Escalation deadlines live in the database: killing the bot mid-wait doesn't lose or repeat a page."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from tests.support.bot_process import BotProcess
from tests.support.config import bot_config
from tests.support.signing import event_body
from tests.support.slack_recorder import SlackRecorder

SLA_SECONDS = 6


def page_times(slack: SlackRecorder, user: str) -> list[float]:
    return [c.received_at for c in slack.calls("chat.postMessage") if c.params.get("channel") == f"D{user}"]


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_kill_9_during_escalation_wait_still_escalates_on_time_and_once(
        database: str, start_bot: Callable[..., BotProcess], slack: SlackRecorder,
        request: pytest.FixtureRequest) -> None:
    config = bot_config(incidents={"severities": {"sev1": {"ack_within": f"{SLA_SECONDS}s"}},
                                   "default_severity": "sev1", "degraded_severity": "sev1", "repeat_last_tier": 0})
    url = request.getfixturevalue("pg_url") if database == "postgres" else None
    bot = start_bot(config, database_url=url)
    opened_at = time.time()
    bot.post(event_body({"type": "message", "channel": "CTEAM", "user": "UALICE", "text": "api down 🔥💥",
                         "ts": "1700000100.000100", "channel_type": "channel"}))
    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUDRI1")
    bot.kill()  # SIGKILL: no cleanup, the leader lock and the escalation wait die with it
    bot.start()
    second = slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUSENIOR2",
                            timeout=SLA_SECONDS + 15)[0]
    assert second.received_at - opened_at < SLA_SECONDS + 4  # on time: within a few seconds of the deadline
    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DULEAD3", timeout=SLA_SECONDS + 10)
    time.sleep(2)  # a window for a repeated page, which must not come
    assert len(page_times(slack, "UDRI1")) == 1
    assert len(page_times(slack, "USENIOR2")) == 1
    assert len(page_times(slack, "ULEAD3")) == 1
