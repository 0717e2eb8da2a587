"""Slack's own faults, as the people the bot writes to see them: what the bot says on its own (a page DM and its
timeline line, an alert post from the Alertmanager webhook endpoint, a review nudge, a team digest) and an audit
row (an /incident ack the user repeats because Slack showed nothing) while Slack's method for it is down (HTML 503
from its edge), slow past the timeout, in a burst of 5xx, or refusing the bot's token (throttling, 429 with
Retry-After, is test_page_storm_429.py); then Slack recovers, the leader's jobs keep ticking (an injected clock),
and each side effect has happened exactly once: not lost, not doubled by a retry.

The Slack recorder's own failure controls make the faults; "slow" is a FaultProxy between the bot and the
recorder: Slack acts on the request at once (the recorder sees it) and its answer comes after the timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.clock import FrozenClock
from bot.incidents.desk import OpenRequest
from bot.services import Services
from bot.web import build_web
from tests.support.alert_payloads import alert, notification
from tests.support.config import DIGESTS, TEAM, bot_config, team
from tests.support.fault_proxy import FaultProxy
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import Call, SlackRecorder
from tests.support.slack_text import slack_text

SLACK_SECONDS = 1  # timeouts.slack.read (slack_sdk takes whole seconds)
SLOW = SLACK_SECONDS + 0.5
TUESDAY_NINE = datetime(2026, 11, 24, 9, 0, 20, tzinfo=ZoneInfo("Asia/Shanghai"))  # the daily digest's slot
PR = "https://github.com/acme/trainer/pull/97"
REVIEWER = "ULENA"


@dataclass
class Bot:
    services: Services
    app: Any
    slack: SlackRecorder
    proxy: FaultProxy
    clock: FrozenClock


class ThroughProxy:
    """What make_bot needs of a Slack recorder (its base_url), pointing at the FaultProxy in front of it."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.base_url = f"{proxy.url}/api/"


def ok_posts(slack: SlackRecorder, channel: str, phrase: str) -> list[Call]:
    """Messages Slack took in `channel` (not thread replies) that say `phrase`."""
    return [c for c in slack.calls("chat.postMessage", channel)
            if c.response.get("ok") and not c.params.get("thread_ts") and phrase in slack_text(c)]


# The side effects -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Effect:
    name: str
    config: Callable[[], dict[str, Any]]
    start: Callable[[Bot], None]  # what sets it off
    tick: Callable[[Bot], None]  # the leader's job that carries it out (and retries it)
    done: Callable[[Bot], list[str]]  # what people received, one entry each (must end up exactly one)
    method: str  # the Slack Web API method that fails
    step: timedelta = timedelta(seconds=1)  # how far the clock moves between two ticks

    def __str__(self) -> str:
        return self.name


def open_incident(bot: Bot) -> None:
    bot.services.incidents.open(OpenRequest(reporter="UREPORTER", source="command", channel="CTEAM",
                                            title="checkout 500s", severity="sev1"))


def rows(bot: Bot, sql: str) -> list[str]:
    with bot.services.engine.connect() as connection:
        return [str(row[0]) for row in connection.execute(text(sql)).all()]


def paged(bot: Bot) -> list[str]:
    """Page DMs UDRI1 got; each must have its one `paged` line on the incident's timeline."""
    dms = [slack_text(c) for c in ok_posts(bot.slack, "DUDRI1", "You are on call")]
    timeline = rows(bot, "SELECT kind FROM incident_events WHERE kind = 'paged'")
    return dms if len(timeline) == len(dms) else [*dms, *timeline]


def acknowledge(bot: Bot) -> None:
    """UDRI1 acknowledges with /incident ack; while Slack fails they see nothing come of it, so they try again."""
    dispatch(bot.app, slash_command_body("/incident", "ack 1", user_id="UDRI1", channel_id="CTEAM",
                                         response_url=bot.slack.response_url("ack")))


def opened_then_acknowledged(bot: Bot) -> None:
    bot.proxy.passing()
    open_incident(bot)
    acknowledge(bot)


def webhook(bot: Bot) -> None:
    web = build_web(bot.app, bot.services).test_client()
    sent = web.post("/alertmanager", json=notification([alert("DiskAlmostFull", team=TEAM, severity="warning")]))
    assert sent.status_code == 200


def nudge(bot: Bot) -> None:
    dispatch(bot.app, slash_command_body("/review", f"nudge {PR}", user_id="UWEI", channel_id="CTEAM",
                                         response_url=bot.slack.response_url("nudge")))


def review_config() -> dict[str, Any]:
    return bot_config(teams=[team(repos=["acme/trainer"])], github={"users": {"lena-k": REVIEWER, "wei": "UWEI"}})


EFFECTS = [
    Effect("page", bot_config, open_incident, lambda bot: bot.services.escalation.work_due(), paged,
           method="conversations.open"),
    Effect("audit", bot_config, opened_then_acknowledged, acknowledge,
           lambda bot: rows(bot, "SELECT actor FROM audit_log WHERE action = 'incident.acknowledged'"),
           method="chat.postMessage"),
    Effect("alert", bot_config, webhook, lambda bot: bot.services.alerts.deliver(),
           lambda bot: [slack_text(c) for c in ok_posts(bot.slack, "CTEAM", "DiskAlmostFull")],
           method="chat.postMessage", step=timedelta(seconds=15)),
    Effect("digest", lambda: bot_config(schedules=DIGESTS), lambda bot: None,
           lambda bot: bot.services.digests.tick(),
           lambda bot: [slack_text(c) for c in ok_posts(bot.slack, "CTEAM", "Daily digest")],
           method="chat.postMessage", step=timedelta(seconds=30)),
    Effect("nudge", review_config, nudge, lambda bot: bot.services.nudges.deliver_due(),
           lambda bot: [slack_text(c) for c in ok_posts(bot.slack, f"D{REVIEWER}", "Retry checkpoint uploads")],
           method="chat.postMessage", step=timedelta(minutes=5)),
]


# The faults -------------------------------------------------------------------------------------------------
def arm(bot: Bot, fault: str, method: str) -> None:
    slack = bot.slack
    if fault == "down":
        slack.outage((method,), seconds=3600)
    elif fault == "burst":
        slack.fail_next(method, 500, retry_after=None, error="internal_error", times=2)
    elif fault == "auth":
        slack.fail_method(method, "invalid_auth")
    else:
        bot.proxy.slow(SLOW, path=f"/api/{method}")


def heal(bot: Bot, method: str) -> None:
    bot.slack.outage((method,), seconds=0)
    bot.slack.fail_method(method, None)
    bot.proxy.passing()


@pytest.fixture
def make(tmp_path: Path, slack: SlackRecorder, github_api: Any) -> Iterator[Callable[[Effect], Bot]]:
    made: list[Bot] = []
    github_api.user("lena-k")
    github_api.user("wei")
    github_api.repo("acme/trainer")
    github_api.pull("acme/trainer", 97, "Retry checkpoint uploads to S3", "wei", START - timedelta(hours=3),
                    reviewers=[("lena-k", START - timedelta(hours=3))])
    slack.set_user(REVIEWER, tz="Asia/Shanghai")

    def build(effect: Effect) -> Bot:
        proxy = FaultProxy(slack.url).start()
        clock = FrozenClock(TUESDAY_NINE if effect.name == "digest" else START)
        config = {**effect.config(), "timeouts": {"slack": {"read": f"{SLACK_SECONDS}s"}},
                  "incidents": {"page_retry_max": "2s"}}
        services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", ThroughProxy(proxy), config, clock,  # type: ignore[arg-type]
                                 github_token="ghp_fixture_token_0000000000000000", github_api_url=github_api.url)
        services.slack.timeout = SLACK_SECONDS  # make_bot's client keeps slack_sdk's default; build_services would not
        made.append(Bot(services, app, slack, proxy, clock))
        return made[-1]

    yield build
    for bot in made:
        bot.proxy.stop()
        bot.services.engine.dispose()


def ticks(bot: Bot, effect: Effect, count: int) -> None:
    for _ in range(count):
        effect.tick(bot)
        bot.clock.advance(effect.step)


# Slack throttling (429 + Retry-After) is test_page_storm_429.py: every third call of a storm answered 429.
@pytest.mark.parametrize("fault", ["down", "slow", "burst", "auth"])
@pytest.mark.parametrize("effect", EFFECTS, ids=str)
def test_a_side_effect_under_a_slack_fault_happens_exactly_once(make: Callable[[Effect], Bot], effect: Effect,
                                                                fault: str) -> None:
    bot = make(effect)
    arm(bot, fault, effect.method)

    effect.start(bot)
    ticks(bot, effect, 1)
    heal(bot, effect.method)
    ticks(bot, effect, 8)

    assert len(effect.done(bot)) == 1, effect.done(bot)

