"""kill -9 anywhere in an alert's life, then a restart: one message, updated, one recovery reply.

The life: Alertmanager POSTs a firing DiskAlmostFull for ml-platform (receipt), the leader's outbox posts the alert
group's message in the team channel (post), Alertmanager POSTs it resolved five minutes later, and the outbox
updates the message and says in its thread that it recovered (update). Each seeded iteration kills the bot at one
point of that life (a Slack call, before or after Slack acts on it, or a database commit) on a fresh database and
restarts it (tests/support/crash.py); Alertmanager sends again a notification it got no 200 for. The team must see
one message for the alert, showing it resolved, with one "recovered" reply, and nothing left unsent.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from bot.store.db import make_engine, session_factory
from bot.store.models import AlertGroupRow, AlertOutboxRow
from tests.faults.databases import Databases
from tests.support.alert_payloads import alert, notification
from tests.support.config import TEAM, TEAM_CHANNEL, bot_config
from tests.support.crash import KillingRecorder, Life, Step, broken_lives, iterations
from tests.support.slack_text import slack_text

ITERATIONS = iterations()
SEED = 20261125
FIRED = datetime(2026, 11, 24, 1, 58, tzinfo=UTC)


def disk_alert(status: str) -> bytes:
    ended = FIRED + timedelta(minutes=7) if status == "resolved" else None
    return json.dumps(notification([alert("DiskAlmostFull", status=status, starts_at=FIRED, ends_at=ended,
                                          team=TEAM, severity="warning")])).encode()


LIFE = [
    Step(timedelta(0), "alert", lambda _slack: disk_alert("firing")),
    Step(timedelta(seconds=5), "jobs"),
    Step(timedelta(minutes=5), "alert", lambda _slack: disk_alert("resolved")),
    Step(timedelta(minutes=5, seconds=5), "jobs"),
    Step(timedelta(minutes=10), "jobs"),
]


def invariants(db_url: str, slack: KillingRecorder) -> list[str]:
    """Every way the alert's life went wrong, as the team would notice it (empty when it went right)."""
    engine = make_engine(db_url)
    try:
        with session_factory(engine)() as session:
            groups = session.scalars(select(AlertGroupRow)).all()
            unsent = session.scalars(select(AlertOutboxRow.kind).where(
                AlertOutboxRow.status.not_in(("sent", "superseded")))).all()
    finally:
        engine.dispose()
    if len(groups) != 1:
        return [f"{len(groups)} alert groups stored"]
    posts = [c for c in slack.calls("chat.postMessage", TEAM_CHANNEL) if c.response.get("ok")]
    tops = [c.response["ts"] for c in posts if not c.params.get("thread_ts") and "DiskAlmostFull" in slack_text(c)]
    problems = [] if tops == [groups[0].message_ts] else [f"alert messages {tops}, the group's {groups[0].message_ts}"]
    updates = [slack_text(c) for c in slack.calls("chat.update", TEAM_CHANNEL)
               if c.response.get("ok") and c.params.get("ts") == groups[0].message_ts]
    if not updates or "resolved after" not in updates[-1]:
        problems.append(f"the message does not end resolved (updates: {len(updates)})")
    recovered = [c for c in posts if c.params.get("thread_ts") and "recovered after" in slack_text(c)]
    if len(recovered) != 1:
        problems.append(f"{len(recovered)} 'recovered' replies")
    if unsent:
        problems.append(f"outbox rows left unsent: {unsent}")
    return problems


def test_kill_9_anywhere_in_an_alerts_life_loses_and_repeats_nothing(databases: Databases, tmp_path: Path) -> None:
    with KillingRecorder() as slack:
        failures = broken_lives(Life(slack, bot_config(), LIFE, tmp_path, lambda _services, _step: False), databases,
                                invariants, SEED, ITERATIONS)
    assert not failures, f"{len(failures)} of {ITERATIONS} kill points broke the alert:\n" + "\n".join(failures)
