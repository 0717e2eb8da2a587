"""kill -9 anywhere in an incident's life, then a restart: nothing lost, nothing twice.

The life: 🔥💥 typed in the team channel (the incident opens: its channel is created, the confirmation posted, the
1st line paged), the leader's jobs run, the 2nd line is paged when the 1st doesn't answer, the 2nd line clicks Ack,
then Resolve, and time runs on. Each seeded iteration kills the bot at one point of that life (a Slack call, before
or after Slack acts on it, or a database commit) on a fresh database, restarts it (tests/support/crash.py), and
checks what people would see: one incident, one channel, one confirmation, each line paged exactly once, no page
after the ack, the ack and the resolution recorded once each.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bot.incidents import store
from bot.store.db import make_engine, session_factory
from bot.store.models import AuditLog, InboxEvent
from tests.faults.databases import Databases
from tests.support.config import bot_config
from tests.support.crash import KillingRecorder, Life, Step, broken_lives, iterations
from tests.support.signing import event_body, interactivity_body
from tests.support.slack_text import slack_text

ITERATIONS = iterations()
SEED = 20261124
SLA = timedelta(minutes=15)  # sev2, the 🔥💥 default
MESSAGE_TS = "1700000000.000100"
EVENT_ID = "EvFIRE0000001"


def fire_message(_slack: KillingRecorder) -> bytes:
    return event_body({"type": "message", "channel": "CTEAM", "user": "UREPORTER", "text": "🔥💥 payments down",
                       "ts": MESSAGE_TS, "event_ts": MESSAGE_TS, "channel_type": "channel"}, event_id=EVENT_ID)


def click(action_id: str, user: str) -> Any:
    def body(slack: KillingRecorder) -> bytes:
        return interactivity_body({
            "type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"}, "team": {"id": "T1"},
            "response_url": slack.response_url(action_id), "trigger_id": "t",
            "actions": [{"type": "button", "action_id": action_id, "value": "1", "block_id": "b"}]})
    return body


LIFE = [
    Step(timedelta(0), "event", fire_message, event_id=EVENT_ID),
    Step(timedelta(seconds=2), "jobs"),
    Step(SLA + timedelta(seconds=1), "jobs"),
    Step(SLA + timedelta(minutes=5), "click", click("incident_ack", "USENIOR2")),
    Step(SLA + timedelta(minutes=6), "jobs"),
    Step(SLA + timedelta(minutes=8), "click", click("incident_resolve", "USENIOR2")),
    Step(3 * SLA, "jobs"),
]


def acked(services: Any, step: Step) -> bool:
    """Slack got its 200 for an event once the bot had written the event down (the middleware runs first)."""
    with services.sessions() as session:
        return session.get(InboxEvent, step.event_id) is not None


def page_dms(slack: KillingRecorder) -> Counter[str]:
    """Pages delivered, by DM channel: DMs carrying the incident's Ack button."""
    return Counter(call.params["channel"] for call in slack.calls("chat.postMessage")
                   if call.response.get("ok") and str(call.params.get("channel", "")).startswith("D")
                   and "incident_ack" in str(call.params.get("blocks", "")))


def invariants(db_url: str, slack: KillingRecorder) -> list[str]:
    """Every way the life went wrong, as people would notice it (empty when it went right)."""
    engine = make_engine(db_url)
    try:
        factory = session_factory(engine)
        problems = []
        incident = store.load(factory, 1)
        if incident is None:
            return ["the 🔥💥 opened no incident"]
        if store.load(factory, 2) is not None:
            problems.append("a second incident was opened")
        created = [c.response["channel"]["id"] for c in slack.calls("conversations.create") if c.response.get("ok")]
        if len(created) != 1 or incident.channel_id != created[0]:
            problems.append(f"incident channels created {created}, the incident's is {incident.channel_id}")
        opened = [c for c in slack.calls("chat.postMessage") if c.response.get("ok")
                  and "Incident #1 opened" in slack_text(c)]
        if len(opened) != 1:
            problems.append(f"{len(opened)} confirmations posted")
        pages = page_dms(slack)
        if pages != Counter({"DUDRI1": 1, "DUSENIOR2": 1}):
            problems.append(f"pages sent {dict(pages)} (want the 1st and 2nd line once each)")
        if incident.status != "resolved" or incident.acknowledged_by != "USENIOR2":
            problems.append(f"status {incident.status}, acknowledged by {incident.acknowledged_by}")
        kinds = Counter(entry.kind for entry in incident.timeline)
        if kinds["acknowledged"] != 1 or kinds["resolved"] != 1:
            problems.append(f"timeline has {kinds['acknowledged']} acks and {kinds['resolved']} resolutions")
        with factory() as session:
            actions = Counter(session.scalars(select(AuditLog.action)))
        repeated = {action: n for action, n in actions.items() if n > 1}
        if repeated:
            problems.append(f"audit rows repeated: {repeated}")
        return problems
    finally:
        engine.dispose()


def test_kill_9_anywhere_in_an_incidents_life_loses_and_repeats_nothing(databases: Databases,
                                                                       tmp_path: Path) -> None:
    with KillingRecorder() as slack:
        slack.set_message("CTEAM", MESSAGE_TS, text="🔥💥 payments down", user="UREPORTER")
        failures = broken_lives(Life(slack, bot_config(), LIFE, tmp_path, acked), databases, invariants, SEED,
                                ITERATIONS)
    assert not failures, f"{len(failures)} of {ITERATIONS} kill points broke the incident:\n" + "\n".join(failures)
