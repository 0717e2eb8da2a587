"""Small repository functions for the spine's tables. Each returns plain values."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import AuditLog, ComboFire, Counter, KeyValue, MessageReaction, SeenEvent


def claim(factory: sessionmaker[Session], row: object) -> bool:
    """Insert a row whose unique key names a side effect; True if this caller won the right to act."""
    try:
        with factory.begin() as session:
            session.add(row)
        return True
    except IntegrityError:
        return False


def first_sighting(factory: sessionmaker[Session], event_id: str, now: datetime) -> bool:
    return claim(factory, SeenEvent(event_id=event_id, seen_at=now))


def forget_old_events(factory: sessionmaker[Session], before: datetime) -> int:
    with factory.begin() as session:
        return rows_matched(session.execute(delete(SeenEvent).where(SeenEvent.seen_at < before)))


def audit(session: Session, now: datetime, actor: str, action: str, target: str = "", **detail: object) -> None:
    session.add(AuditLog(at=now, actor=actor, action=action, target=target, detail=detail))


def record_reaction(factory: sessionmaker[Session], channel: str, ts: str, emoji: str, user: str,
                    now: datetime) -> None:
    claim(factory, MessageReaction(channel=channel, message_ts=ts, emoji=emoji, user_id=user, added_at=now))


def remove_reaction(factory: sessionmaker[Session], channel: str, ts: str, emoji: str, user: str) -> None:
    with factory.begin() as session:
        session.execute(delete(MessageReaction).where(
            MessageReaction.channel == channel, MessageReaction.message_ts == ts,
            MessageReaction.emoji == emoji, MessageReaction.user_id == user))


def recent_reactions(factory: sessionmaker[Session], channel: str, ts: str, since: datetime) -> set[str]:
    with factory() as session:
        rows = session.scalars(select(MessageReaction.emoji).where(
            MessageReaction.channel == channel, MessageReaction.message_ts == ts,
            MessageReaction.added_at >= since))
        return set(rows)


def claim_combo(factory: sessionmaker[Session], channel: str, ts: str, combo: str, user: str,
                now: datetime, event_id: str | None = None) -> bool:
    """True the first time a combo fires on a message, and again for a replay of the event that fired it."""
    if claim(factory, ComboFire(channel=channel, message_ts=ts, combo=combo, user_id=user, fired_at=now,
                                event_id=event_id)):
        return True
    if event_id is None:
        return False
    with factory() as session:
        return session.scalar(select(ComboFire.event_id).where(
            ComboFire.channel == channel, ComboFire.message_ts == ts, ComboFire.combo == combo)) == event_id


def cache_get(factory: sessionmaker[Session], key: str, now: datetime) -> object | None:
    with factory() as session:
        row = session.get(KeyValue, key)
        return json.loads(row.value) if row and row.expires_at > now else None


def cache_put(factory: sessionmaker[Session], key: str, value: object, now: datetime, ttl: timedelta) -> None:
    with factory.begin() as session:
        session.execute(kv_upsert(session.get_bind().dialect.name, key, json.dumps(value), now + ttl))


def kv_upsert(dialect: str, key: str, value: str, expires_at: datetime) -> postgresql.Insert | sqlite.Insert:
    """One INSERT … ON CONFLICT DO UPDATE of a `cache` row. No SELECT first: two writers of a new key both
    succeed, the later one's value stays (a SELECT then INSERT fails the second with IntegrityError)."""
    insert: Callable[[type[KeyValue]], postgresql.Insert | sqlite.Insert] = (
        postgresql.insert if dialect == "postgresql" else sqlite.insert)
    statement = insert(KeyValue).values(key=key, value=value, expires_at=expires_at)
    return statement.on_conflict_do_update(index_elements=[KeyValue.key], set_={
        "value": statement.excluded.value, "expires_at": statement.excluded.expires_at})


def next_number(session: Session, name: str) -> int:
    """The next number of `name` (incidents), taken inside the caller's transaction: its row lock orders the
    takers, and a transaction that rolls back returns the number."""
    session.execute(update(Counter).where(Counter.name == name).values(value=Counter.value + 1))
    value = session.scalar(select(Counter.value).where(Counter.name == name))
    if value is None:  # a counter not seeded by a migration starts at 1
        session.add(Counter(name=name, value=1))
        session.flush()
        return 1
    return value
