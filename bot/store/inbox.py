"""The event inbox: a Slack event is a row before Slack gets its 200, and is marked done when its work ends.

An event whose work a killed process never finished (not done, its claim older than LEASE) is handed again to the
app by the leader's replay job; a Slack redelivery of an event already written is dropped, unless its claim lapsed,
in which case the redelivery takes the work over. A replay is bounded: after MAX_ATTEMPTS the event is given up,
logged and counted. Security's replay protection (`sig:` keys) and events the bot does not inbox stay in
`seen_events` (bot.store.repo.first_sighting).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import InboxEvent
from bot.store.repo import claim

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 3


def receive(factory: sessionmaker[Session], body: dict[str, Any], now: datetime) -> bool:
    """Write the event down; True when this process is to do its work (it is new, or its last claim lapsed)."""
    event_id = str(body["event_id"])
    event_type = str((body.get("event") or {}).get("type") or "")[:32]
    if claim(factory, InboxEvent(event_id=event_id, event_type=event_type, body=body, received_at=now,
                                 claimed_at=now, attempts=1)):
        return True
    with factory.begin() as session:
        return bool(rows_matched(session.execute(update(InboxEvent).where(
            InboxEvent.event_id == event_id, InboxEvent.done_at.is_(None), InboxEvent.claimed_at < now - LEASE,
            InboxEvent.attempts < MAX_ATTEMPTS,
        ).values(claimed_at=now, attempts=InboxEvent.attempts + 1))))


def done(factory: sessionmaker[Session], event_id: str, now: datetime) -> None:
    with factory.begin() as session:
        session.execute(update(InboxEvent).where(InboxEvent.event_id == event_id).values(done_at=now))


def unfinished(factory: sessionmaker[Session], now: datetime) -> list[dict[str, Any]]:
    """The bodies of events left unfinished past the lease that may still be tried, oldest first."""
    with factory() as session:
        return list(session.scalars(select(InboxEvent.body).where(
            InboxEvent.done_at.is_(None), InboxEvent.claimed_at < now - LEASE, InboxEvent.attempts < MAX_ATTEMPTS,
        ).order_by(InboxEvent.received_at).limit(100)))


def give_up(factory: sessionmaker[Session], now: datetime) -> list[str]:
    """Close the events tried MAX_ATTEMPTS times and still unfinished past the lease; their ids."""
    with factory() as session:
        ids = list(session.scalars(select(InboxEvent.event_id).where(
            InboxEvent.done_at.is_(None), InboxEvent.claimed_at < now - LEASE,
            InboxEvent.attempts >= MAX_ATTEMPTS)))
    if ids:
        with factory.begin() as session:
            session.execute(update(InboxEvent).where(InboxEvent.event_id.in_(ids)).values(done_at=now))
    return ids


def forget(factory: sessionmaker[Session], before: datetime) -> int:
    """Drop finished events received before `before`."""
    with factory.begin() as session:
        return rows_matched(session.execute(delete(InboxEvent).where(
            InboxEvent.received_at < before, InboxEvent.done_at.is_not(None))))
