"""Incident rows in and out. Each state change is one conditional UPDATE, so races have one winner."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.incidents.model import ChainSnapshot, Incident, TimelineEntry
from bot.store.db import rows_matched
from bot.store.models import EscalationStep, IncidentEventRow, IncidentRow
from bot.store.repo import audit, next_number

OPEN_STATUSES = ("open", "acknowledged", "mitigated")


def insert(factory: sessionmaker[Session], row: IncidentRow, opened_text: str) -> tuple[int, bool]:
    """Insert a new incident; if its origin message already has one, return that one instead."""
    try:
        with factory.begin() as session:
            row.id = next_number(session, "incident")  # not the id sequence: a racing loser would burn a number
            session.add(row)
            session.flush()
            session.add(IncidentEventRow(incident_id=row.id, at=row.created_at, kind="opened",
                                         actor=row.reporter, text=opened_text, params={"source": row.source}))
            return row.id, True
    except IntegrityError:
        with factory() as session:
            existing = session.scalar(select(IncidentRow.id).where(
                IncidentRow.origin_channel == row.origin_channel, IncidentRow.origin_ts == row.origin_ts))
            if existing is None:
                raise
            return existing, False


def load(factory: sessionmaker[Session], incident_id: int) -> Incident | None:
    with factory() as session:
        row = session.get(IncidentRow, incident_id)
        if row is None:
            return None
        events = session.scalars(select(IncidentEventRow).where(IncidentEventRow.incident_id == incident_id)
                                 .order_by(IncidentEventRow.at, IncidentEventRow.id)).all()
        return to_incident(row, events)


def to_incident(row: IncidentRow, events: Any = ()) -> Incident:
    timeline = tuple(TimelineEntry(at=e.at, kind=e.kind, actor=e.actor, text=e.text, params=e.params)
                     for e in events)
    responders = tuple(dict.fromkeys(e.actor for e in events
                                     if e.actor and e.kind in {"acknowledged", "note", "resolution", "mitigated",
                                                               "resolved", "severity", "escalated", "pinned"}))
    return Incident(
        id=row.id, title=row.title, severity=row.severity, team=row.team, status=row.status,
        reporter=row.reporter, commander=row.commander, language=row.language, created_at=row.created_at,
        source=row.source,
        origin_channel=row.origin_channel, origin_ts=row.origin_ts, origin_link=row.origin_link,
        origin_thread_ts=row.origin_thread_ts,
        channel_id=row.channel_id, thread_ts=row.thread_ts, summary_ts=row.summary_ts,
        acknowledged_at=row.acknowledged_at, acknowledged_by=row.acknowledged_by,
        mitigated_at=row.mitigated_at, resolved_at=row.resolved_at, cancelled_at=row.cancelled_at,
        responders=responders, timeline=timeline,
    )


def chain_of(factory: sessionmaker[Session], incident_id: int) -> ChainSnapshot:
    with factory() as session:
        return ChainSnapshot.from_json(session.scalar(select(IncidentRow.chain).where(IncidentRow.id == incident_id)))


def claim_announcement(factory: sessionmaker[Session], incident_id: int, now: datetime, lease: timedelta) -> bool:
    """True for the one caller that may finish an unfinished announcement: its last claim is older than `lease`."""
    with factory.begin() as session:
        return bool(rows_matched(session.execute(update(IncidentRow).where(
            IncidentRow.id == incident_id, IncidentRow.announced_at.is_(None),
            or_(IncidentRow.announce_claimed_at.is_(None), IncidentRow.announce_claimed_at < now - lease),
        ).values(announce_claimed_at=now))))


def unannounced(factory: sessionmaker[Session], claimed_before: datetime) -> list[int]:
    """Incidents whose announcement was left unfinished by a claim older than `claimed_before`."""
    with factory() as session:
        return list(session.scalars(select(IncidentRow.id).where(
            IncidentRow.announced_at.is_(None),
            or_(IncidentRow.announce_claimed_at.is_(None), IncidentRow.announce_claimed_at < claimed_before),
        ).order_by(IncidentRow.id).limit(100)))


def set_fields(factory: sessionmaker[Session], incident_id: int, **values: Any) -> None:
    with factory.begin() as session:
        session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(**values))


def transition(factory: sessionmaker[Session], incident_id: int, allowed_from: tuple[str, ...],
               event: TimelineEntry, **values: Any) -> bool:
    """Change status only from `allowed_from`; True if this caller made the change (timeline and audit too)."""
    with factory.begin() as session:
        changed = rows_matched(session.execute(update(IncidentRow).where(
            IncidentRow.id == incident_id, IncidentRow.status.in_(allowed_from)).values(**values)))
        if changed:
            add_event(session, incident_id, event)
            audit(session, event.at, event.actor or "bot", f"incident.{event.kind}", f"incident:{incident_id}")
        return bool(changed)


def add_event(session: Session, incident_id: int, event: TimelineEntry, key: str | None = None) -> None:
    session.add(IncidentEventRow(incident_id=incident_id, at=event.at, kind=event.kind, actor=event.actor,
                                 text=event.text, key=key, params=event.params))


def log_event(factory: sessionmaker[Session], incident_id: int, event: TimelineEntry,
              key: str | None = None) -> bool:
    """Append to the timeline; with a key, at most once per key (e.g. one 📌 per message)."""
    try:
        with factory.begin() as session:
            add_event(session, incident_id, event, key)
        return True
    except IntegrityError:
        return False


def find_by_channel(factory: sessionmaker[Session], channel: str) -> Incident | None:
    with factory() as session:
        row_id = session.scalar(select(IncidentRow.id).where(IncidentRow.channel_id == channel)
                                .order_by(IncidentRow.id.desc()).limit(1))
    return load(factory, row_id) if row_id else None


def find_by_message(factory: sessionmaker[Session], channel: str, ts: str) -> Incident | None:
    """The incident whose summary, confirmation, origin or page DM is this message."""
    with factory() as session:
        row_id = session.scalar(select(IncidentRow.id).where(or_(
            and_(IncidentRow.channel_id == channel, IncidentRow.summary_ts == ts),
            and_(IncidentRow.channel_id == channel, IncidentRow.thread_ts == ts),
            and_(IncidentRow.origin_channel == channel, IncidentRow.origin_ts == ts),
            and_(IncidentRow.origin_channel == channel, IncidentRow.confirmation_ts == ts))).limit(1))
        if row_id is None:
            row_id = session.scalar(select(EscalationStep.incident_id).where(
                EscalationStep.dm_channel == channel, EscalationStep.dm_ts == ts).limit(1))
    return load(factory, row_id) if row_id else None


def confirmation_of(factory: sessionmaker[Session], incident_id: int) -> tuple[str | None, str | None]:
    with factory() as session:
        row = session.get(IncidentRow, incident_id)
        return (row.origin_channel, row.confirmation_ts) if row else (None, None)


def in_period(factory: sessionmaker[Session], since: datetime, team: str | None = None) -> list[Incident]:
    with factory() as session:
        query = select(IncidentRow).where(IncidentRow.created_at >= since)
        if team:
            query = query.where(IncidentRow.team == team)
        rows = session.scalars(query.order_by(IncidentRow.created_at)).all()
        return [to_incident(r) for r in rows]


def past_of_team(factory: sessionmaker[Session], team: str, since: datetime, until: datetime, exclude: int,
                 statuses: tuple[str, ...], kinds: tuple[str, ...], limit: int) -> list[Incident]:
    """The team's incidents opened in [since, until] with one of `statuses` (not `exclude`), newest first, at
    most `limit`; their timelines hold only the events of `kinds`. Two queries, whatever the count."""
    with factory() as session:
        rows = session.scalars(select(IncidentRow).where(
            IncidentRow.team == team, IncidentRow.created_at >= since, IncidentRow.created_at <= until,
            IncidentRow.id != exclude, IncidentRow.status.in_(statuses))
            .order_by(IncidentRow.created_at.desc(), IncidentRow.id.desc()).limit(limit)).all()
        if not rows:
            return []
        events: dict[int, list[IncidentEventRow]] = {row.id: [] for row in rows}
        for event in session.scalars(select(IncidentEventRow).where(
                IncidentEventRow.incident_id.in_(list(events)), IncidentEventRow.kind.in_(kinds))
                .order_by(IncidentEventRow.at, IncidentEventRow.id)):
            events[event.incident_id].append(event)
        return [to_incident(row, events[row.id]) for row in rows]


def recent_in_channel(factory: sessionmaker[Session], channel: str, since: datetime,
                      exclude_ts: str | None = None) -> Incident | None:
    """The newest still-open incident opened from `channel` since `since` (other than from message `exclude_ts`)."""
    with factory() as session:
        query = select(IncidentRow.id).where(IncidentRow.origin_channel == channel, IncidentRow.created_at >= since,
                                             IncidentRow.status.in_(OPEN_STATUSES))
        if exclude_ts:
            query = query.where(or_(IncidentRow.origin_ts.is_(None), IncidentRow.origin_ts != exclude_ts))
        row_id = session.scalar(query.order_by(IncidentRow.id.desc()).limit(1))
    return load(factory, row_id) if row_id else None


def latest_open(factory: sessionmaker[Session], team: str) -> Incident | None:
    with factory() as session:
        row_id = session.scalar(select(IncidentRow.id).where(IncidentRow.team == team,
                                                             IncidentRow.status.in_(OPEN_STATUSES))
                                .order_by(IncidentRow.id.desc()).limit(1))
    return load(factory, row_id) if row_id else None


def open_of_team(factory: sessionmaker[Session], team: str, limit: int = 50) -> list[Incident]:
    """The team's incidents not yet resolved or cancelled, oldest first (without their timelines)."""
    with factory() as session:
        rows = session.scalars(select(IncidentRow).where(IncidentRow.team == team,
                                                         IncidentRow.status.in_(OPEN_STATUSES))
                               .order_by(IncidentRow.created_at, IncidentRow.id).limit(limit)).all()
        return [to_incident(row) for row in rows]
