"""A PagerDuty trigger PagerDuty refuses is said in the incident exactly once: not lost when Slack refuses the post
or a process dies before it, not said twice when a process dies after it (issue #13, the fault matrix's finding).

In-process with an injected clock and a PagerDuty stand-in that answers 400 (an unknown routing key); the
escalation job is ticked as the leader's scheduler would. A process killed mid-way is its rows as it left them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from bot.clock import FrozenClock
from bot.incidents.notices import ONCE
from bot.incidents.pages import LEASE, PAGERDUTY_STEP
from bot.services import Services
from bot.store import notices
from bot.store.models import EscalationStep
from tests.integration.incidents.test_paging_during_slack_outage import open_sev1
from tests.support.config import bot_config
from tests.support.fixture_http import FixtureServer, Response
from tests.support.inprocess import START, make_services
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until

TOLD = "PagerDuty refused to page its on-call for incident #1"


@pytest.fixture
def pagerduty() -> Iterator[tuple[FixtureServer, list[int]]]:
    """PagerDuty's Events API answering the status at the end of the list (400 unless a test appends another)."""
    statuses = [400]
    with FixtureServer() as server:
        server.add("POST", r"/v2/enqueue", lambda request: Response(statuses[-1], {"status": "invalid event"}))
        yield server, statuses


def services_for(db_url: str, slack: SlackRecorder, pagerduty: FixtureServer, clock: FrozenClock) -> Services:
    return make_services(db_url, slack, bot_config(incidents={"page_retry_max": "5s"}), clock,
                         pagerduty_routing_key="R0UTINGKEY", pagerduty_api_url=pagerduty.url)


def told(slack: SlackRecorder) -> list[str]:
    """The refusal as Slack took it, wherever it was posted."""
    return [slack_text(c) for c in slack.calls("chat.postMessage") if c.response.get("ok") and TOLD in slack_text(c)]


def failed_page_count() -> float:
    return REGISTRY.get_sample_value("bot_pages_total", {"outcome": "failed"}) or 0.0


def step_of(services: Services) -> EscalationStep:
    with services.sessions() as session:
        return session.scalars(select(EscalationStep).where(EscalationStep.step == PAGERDUTY_STEP)).one()


def settle(services: Services) -> EscalationStep:
    """The PagerDuty step once its thread has finished with it (nothing is left `sending`)."""
    wait_until(lambda: step_of(services).status != "sending", timeout=10, message="the PagerDuty step to settle")
    return step_of(services)


def tick_until_failed(services: Services, clock: FrozenClock, seconds: int) -> None:
    """The leader's tick once a simulated second, each PagerDuty try finished before the next second."""
    for _ in range(seconds):
        if settle(services).status == "failed":
            return
        clock.advance(timedelta(seconds=1))
        services.escalation.work_due()
    assert settle(services).status == "failed"


def test_a_refusal_slack_would_not_take_is_said_once_slack_takes_posts_again(
        tmp_path: Path, slack: SlackRecorder, pagerduty: tuple[FixtureServer, list[int]]) -> None:
    clock = FrozenClock(START)
    services = services_for(f"sqlite:///{tmp_path / 'bot.db'}", slack, pagerduty[0], clock)
    failed_pages = failed_page_count()
    slack.fail_method("chat.postMessage", "service_unavailable")
    open_sev1(services)
    assert settle(services).status == "scheduled" and told(slack) == []  # tried again, not dropped

    slack.fail_method("chat.postMessage", None)
    tick_until_failed(services, clock, 10)
    for _ in range(30):
        clock.advance(timedelta(seconds=1))
        services.escalation.work_due()
    assert len(told(slack)) == 1
    assert len(pagerduty[0].requests("POST")) == 2  # refused twice; said once
    assert failed_page_count() == failed_pages + 1  # BotPagesFailing fires


def test_a_refusal_whose_process_died_before_posting_is_said_once_its_claim_is_stale(
        db_url: str, slack: SlackRecorder, pagerduty: tuple[FixtureServer, list[int]]) -> None:
    server, statuses = pagerduty
    statuses.append(503)  # PagerDuty has trouble: the step waits for another try
    clock = FrozenClock(START)
    services = services_for(db_url, slack, server, clock)
    incident_id = open_sev1(services)
    step = settle(services)
    # What a process killed between claiming the post and posting it leaves behind.
    notices.claim_notice(services.sessions, ONCE, str(incident_id), f"pagerduty_refused:{step.id}", clock.now())
    statuses.append(400)

    tick_until_failed(services, clock, int(LEASE.total_seconds()) + 40)
    assert len(told(slack)) == 1


def test_a_refusal_whose_process_died_after_posting_is_not_said_again(
        db_url: str, slack: SlackRecorder, pagerduty: tuple[FixtureServer, list[int]]) -> None:
    clock = FrozenClock(START)
    services = services_for(db_url, slack, pagerduty[0], clock)
    open_sev1(services)
    assert settle(services).status == "failed" and len(told(slack)) == 1
    # A process killed after the post, before the step was marked failed: the step is taken over after LEASE.
    with services.sessions.begin() as session:
        session.execute(update(EscalationStep).where(EscalationStep.step == PAGERDUTY_STEP)
                        .values(status="sending", claimed_at=clock.now()))
    clock.advance(LEASE + timedelta(seconds=1))
    services.escalation.work_due()

    assert settle(services).status == "failed"
    assert len(pagerduty[0].requests("POST")) == 2 and len(told(slack)) == 1
