"""A page storm while Slack rate-limits (issue #13): sixteen 🔥💥 messages at once in sixteen teams' channels, and
Slack answering every third call of each method with 429 and Retry-After. Every incident gets exactly one
confirmation and exactly one page to its 1st line; when the ack window ends (the leader's escalation ticks, driven
by an injected clock) each one pages its 2nd line exactly once, on time; every 429 is counted as a retry."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from bot.clock import FrozenClock
from bot.incidents import store
from tests.support.config import bot_config, layer, rotation, team
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import event_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.threads import together
from tests.support.waiting import wait_until

# 16 incidents in 16 teams: an incident makes ~5 posts in its channel and Slack's pace is one a second per channel,
# so 16 in one channel would take the test over a minute of pacing, not of the faults it is about.
TEAMS, PER_TEAM = 16, 1
LIMITED = ("chat.postMessage", "conversations.open")  # every post and every page


def teams() -> dict[str, Any]:
    names = [f"team{i}" for i in range(TEAMS)]
    return bot_config(teams=[team(name, f"CT{i}") for i, name in enumerate(names)],
                      oncall={name: rotation(layer(f"U{i}FIRST"), layer(f"U{i}SECOND"), layer(f"U{i}THIRD"))
                              for i, name in enumerate(names)},
                      incidents={"storm_window": "0s", "create_channel": False})


def fire(app: Any, channel: str, number: int) -> None:
    dispatch(app, event_body({"type": "message", "channel": channel, "user": "UREPORTER", "channel_type": "channel",
                              "text": f"payments 502s again 🔥💥 ({number})", "ts": f"1700000100.{number:06d}"}))


def delivered(slack: SlackRecorder, channel: str, phrase: str) -> list[str]:
    return [slack_text(c) for c in slack.calls("chat.postMessage", channel)
            if c.response.get("ok") and phrase in slack_text(c)]


def slack_retries() -> float:
    return REGISTRY.get_sample_value("bot_retries_total", {"backend": "slack"}) or 0.0


def test_a_page_storm_under_429s_pages_each_incident_once_and_escalates_on_time(tmp_path: Path,
                                                                               slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, teams(), clock)
    slack.rate_limit_every(LIMITED, every=3, retry_after=1)
    retries = slack_retries()

    together(*[lambda i=i: fire(app, f"CT{i % TEAMS}", i) for i in range(TEAMS * PER_TEAM)])

    incidents = store.in_period(services.sessions, START - timedelta(days=1))
    assert len(incidents) == TEAMS * PER_TEAM
    throttled = [c for c in slack.calls() if c.status == 429]
    assert throttled and slack_retries() - retries >= len(throttled)  # each 429 retried after Retry-After, counted
    for limited in throttled:  # and not lost: the same call again, taken
        assert any(c.params == limited.params and c.response.get("ok") and c.received_at > limited.received_at
                   for c in slack.calls(limited.method)), limited
    for i in range(TEAMS):
        numbers = sorted(n.number for n in incidents if n.team == f"team{i}")
        assert len(delivered(slack, f"DU{i}FIRST", "You are on call (1st line)")) == PER_TEAM
        assert sorted(int(re.findall(r"incident #(\d+)", text)[0]) for text in
                      delivered(slack, f"DU{i}FIRST", "You are on call (1st line)")) == numbers
        confirmations = [text for text in delivered(slack, f"CT{i}", "opened") if "Paged <@" in text]
        assert len(confirmations) == PER_TEAM, confirmations

    sla = timedelta(minutes=15)  # 🔥💥 opens sev2: acknowledge within 15 minutes
    clock.advance(sla - timedelta(seconds=1))
    assert tick(services) == 0
    clock.advance(timedelta(seconds=1))
    assert tick(services) == TEAMS * PER_TEAM
    second = [delivered(slack, f"DU{i}SECOND", "You are on call (2nd line)") for i in range(TEAMS)]
    assert all(len(pages) == PER_TEAM for pages in second), second
    clock.advance(timedelta(seconds=1))
    assert tick(services) == 0  # the next tick sends nothing more
    assert all(not delivered(slack, f"DU{i}THIRD", "3rd line") for i in range(TEAMS))


def tick(services: Any) -> int:
    """The leader's escalation tick: what is due goes out on the page workers; wait until they are done."""
    claimed = services.escalation.dispatch_due()
    wait_until(lambda: not services.escalation._in_flight, timeout=30, message="the page workers to finish")
    return int(claimed)
