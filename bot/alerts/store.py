"""Alerts in the database: each alert by fingerprint, its group (one Slack message), firing streaks.

Functions taking a Session run inside the caller's transaction, so that an alert, its group's new state
and the Slack side effects it causes (bot.alerts.outbox) commit together or not at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.model import AlertGroup, AlertView, Route, Streak
from bot.alerts.parse import WebhookPayload
from bot.store.db import rows_matched
from bot.store.models import AlertFiringRow, AlertGroupRow, AlertRecord


@dataclass(frozen=True)
class Change:
    """What one notification did to its group."""

    group_id: int
    what: str  # new | reopened | resolved | firing | same_streak_resolved
    streak_id: int
    message_ts: str | None  # the group's message before this notification (None: not posted yet)


def key_hash(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def apply(session: Session, payload: WebhookPayload, route: Route, now: datetime, reopen_within: timedelta) -> Change:
    """Store the notification's alerts and move its group (and streak) to the new state."""
    row = session.scalars(select(AlertGroupRow).where(AlertGroupRow.key_hash == key_hash(payload.group_key))
                          .with_for_update()).first()
    firing = payload.status == "firing"
    if row is None:
        return _create(session, payload, route, now)
    before_ts, was = row.message_ts, row.status
    streak: AlertFiringRow | None = _current_streak(session, row.id)
    what = "firing"
    if firing and was == "resolved":
        recent = streak is not None and streak.resolved_at is not None and now - streak.resolved_at <= reopen_within
        what = "reopened" if recent and row.message_ts else "new"
        if what == "new":
            row.message_ts = None
            row.held = False
        row.team, row.channel = route.team, route.channel
        streak = _new_streak(session, row.id, _started(payload, now, streak.resolved_at if streak else None))
    elif not firing and was == "firing":
        what = "resolved"
    elif not firing:
        what = "same_streak_resolved"
    if streak is None:
        streak = _new_streak(session, row.id, now)
    streak.notifications += 1
    if what == "resolved":
        streak.resolved_at = max((a.ended_at for a in payload.alerts if a.ended_at), default=now)
    row.status = payload.status
    row.common_labels = {**payload.group_labels, **payload.common_labels}
    row.common_annotations = payload.common_annotations
    row.external_url = payload.external_url
    row.alertname = _alertname(payload) or row.alertname
    row.updated_at = now
    _save_alerts(session, payload, row.id, now)
    return Change(row.id, what, streak.id, before_ts)


def _create(session: Session, payload: WebhookPayload, route: Route, now: datetime) -> Change:
    row = AlertGroupRow(key_hash=key_hash(payload.group_key), group_key=payload.group_key,
                        alertname=_alertname(payload), team=route.team, channel=route.channel, status=payload.status,
                        common_labels={**payload.group_labels, **payload.common_labels},
                        common_annotations=payload.common_annotations, external_url=payload.external_url,
                        held=False, created_at=now, updated_at=now)
    session.add(row)
    session.flush()
    streak = _new_streak(session, row.id, _started(payload, now, None))
    _save_alerts(session, payload, row.id, now)
    if payload.status == "firing":
        return Change(row.id, "new", streak.id, None)
    streak.resolved_at = max((a.ended_at for a in payload.alerts if a.ended_at), default=now)
    return Change(row.id, "same_streak_resolved", streak.id, None)


def _started(payload: WebhookPayload, now: datetime, after: datetime | None) -> datetime:
    """When a streak began: its earliest firing alert's startsAt (not before the last resolve, not after now)."""
    starts = [a.starts_at for a in payload.alerts if a.status == "firing" and a.starts_at and a.starts_at.year > 1]
    began = min(starts, default=now)
    return min(max(began, after) if after else began, now)


def _alertname(payload: WebhookPayload) -> str:
    return payload.common_labels.get("alertname") or payload.group_labels.get("alertname") or \
        payload.alerts[0].labels.get("alertname", "")


def _new_streak(session: Session, group_id: int, now: datetime) -> AlertFiringRow:
    streak = AlertFiringRow(group_id=group_id, started_at=now, notifications=1, paged=False)
    session.add(streak)
    session.flush()
    return streak


def _current_streak(session: Session, group_id: int) -> AlertFiringRow | None:
    return session.scalars(select(AlertFiringRow).where(AlertFiringRow.group_id == group_id)
                           .order_by(AlertFiringRow.started_at.desc(), AlertFiringRow.id.desc()).limit(1)).first()


def _save_alerts(session: Session, payload: WebhookPayload, group_id: int, now: datetime) -> None:
    """One row per alert fingerprint, updated in place as Alertmanager re-sends the group."""
    for alert in payload.alerts:
        session.merge(AlertRecord(fingerprint=alert.fingerprint, status=alert.status,
                                  alertname=alert.labels.get("alertname", "")[:255], labels=alert.labels,
                                  annotations={**alert.annotations, **_generator(alert.generator_url)},
                                  starts_at=alert.starts_at, ends_at=alert.ended_at, received_at=now,
                                  receiver=payload.receiver, group_id=group_id))


def _generator(url: str) -> dict[str, str]:
    return {"__generator_url": url} if url else {}


# ------------------------------------------------------------------ reading groups back


DayStart = Callable[[str | None], datetime]  # a team's (None: no team's) local midnight today


def load(factory: sessionmaker[Session], group_id: int, day_start: DayStart | None = None) -> AlertGroup | None:
    with factory() as session:
        return group_in(session, group_id, day_start)


def group_in(session: Session, group_id: int, day_start: DayStart | None = None) -> AlertGroup | None:
    """The group with the alerts seen in its current streak; with `day_start`, which streak of today this is."""
    row = session.get(AlertGroupRow, group_id)
    if row is None:
        return None
    streak = _current_streak(session, group_id)
    alerts: list[AlertView] = []
    if streak is not None:
        records = session.scalars(select(AlertRecord).where(AlertRecord.group_id == group_id,
                                                            AlertRecord.received_at >= streak.started_at)
                                  .order_by(AlertRecord.starts_at, AlertRecord.fingerprint)).all()
        alerts = [_view(r) for r in records]
    return _group(row, tuple(alerts), _streak(session, streak, day_start(row.team) if day_start else None))


def _streak(session: Session, streak: AlertFiringRow | None, since: datetime | None) -> Streak | None:
    if streak is None:
        return None
    number = 1
    if since is not None:
        number = session.scalar(select(func.count()).select_from(AlertFiringRow).where(
            AlertFiringRow.group_id == streak.group_id, AlertFiringRow.started_at >= since)) or 1
    return Streak(streak.id, streak.started_at, streak.resolved_at, streak.incident_id, number)


def _view(record: AlertRecord) -> AlertView:
    annotations = dict(record.annotations or {})
    generator = str(annotations.pop("__generator_url", ""))
    return AlertView(record.fingerprint, record.status, dict(record.labels or {}), annotations, record.starts_at,
                     record.ends_at, generator)


def _group(row: AlertGroupRow, alerts: tuple[AlertView, ...], streak: Streak | None) -> AlertGroup:
    return AlertGroup(row.id, row.group_key, row.alertname, row.team, row.channel, row.status,
                      dict(row.common_labels or {}), dict(row.common_annotations or {}), row.external_url,
                      row.message_ts, bool(row.held), row.silenced_by, row.silenced_until, alerts, streak)


def by_message(factory: sessionmaker[Session], channel: str, ts: str) -> AlertGroup | None:
    with factory() as session:
        found = session.scalar(select(AlertGroupRow.id).where(AlertGroupRow.channel == channel,
                                                              AlertGroupRow.message_ts == ts))
        return group_in(session, found) if found is not None else None


def firing(factory: sessionmaker[Session], team: str | None) -> list[AlertGroup]:
    """Groups firing now (for one team, or all), oldest streak first."""
    with factory() as session:
        query = select(AlertGroupRow.id).where(AlertGroupRow.status == "firing")
        if team is not None:
            query = query.where(AlertGroupRow.team == team)
        groups = [g for g in (group_in(session, i) for i in session.scalars(query)) if g is not None]
    return sorted(groups, key=lambda g: g.streak.started_at if g.streak else g.id)


def firing_alerts(factory: sessionmaker[Session], namespaces: list[str]) -> list[AlertView]:
    """Alerts firing now whose `namespace` label is one of `namespaces`."""
    wanted = set(namespaces)
    with factory() as session:
        records = session.scalars(select(AlertRecord).where(AlertRecord.status == "firing")
                                  .order_by(AlertRecord.starts_at).limit(2000)).all()
        return [_view(r) for r in records if (r.labels or {}).get("namespace") in wanted]


def alerts_since(factory: sessionmaker[Session], team: str, since: datetime) -> tuple[int, set[str]]:
    """How many alerts of `team` started since `since`, and in which namespaces (for correlation)."""
    with factory() as session:
        rows = session.execute(select(AlertRecord.labels).join(AlertGroupRow, AlertGroupRow.id == AlertRecord.group_id)
                               .where(AlertGroupRow.team == team, AlertRecord.received_at >= since)).all()
    return len(rows), {str(r[0].get("namespace")) for r in rows if r[0] and r[0].get("namespace")}


# ------------------------------------------------------------------ changing groups


def set_message(session: Session, group_id: int, ts: str) -> None:
    session.execute(update(AlertGroupRow).where(AlertGroupRow.id == group_id).values(message_ts=ts))


def show(session: Session, group: AlertGroup) -> bool:
    """Record what the group's message is to show; False when that is what it shows already."""
    digest = visible_digest(group)
    return rows_matched(session.execute(update(AlertGroupRow).where(
        AlertGroupRow.id == group.id, AlertGroupRow.shown != digest).values(shown=digest))) == 1


def visible_digest(group: AlertGroup) -> str:
    """A digest of everything the message shows except the passing of time."""
    alerts = [(a.fingerprint, a.status, sorted(a.labels.items()), sorted(a.annotations.items()), a.generator_url)
              for a in group.alerts]
    streak = group.streak
    state = [group.status, group.alertname, sorted(group.common_labels.items()),
             sorted(group.common_annotations.items()), group.external_url, alerts, group.silenced_by,
             str(group.silenced_until), streak.id if streak else None, streak.incident_id if streak else None]
    return hashlib.sha256(json.dumps(state, default=str).encode()).hexdigest()


def set_held(session: Session, group_id: int, held: bool) -> None:
    session.execute(update(AlertGroupRow).where(AlertGroupRow.id == group_id).values(held=held))


def set_silence(factory: sessionmaker[Session], group_id: int, silence_id: str, user: str, until: datetime) -> None:
    with factory.begin() as session:
        session.execute(update(AlertGroupRow).where(AlertGroupRow.id == group_id).values(
            silence_id=silence_id, silenced_by=user, silenced_until=until))


def claim_incident(factory: sessionmaker[Session], streak_id: int, paged: bool) -> bool:
    """Mark the streak as having an incident (-1 until its id is known); True for whoever's write matched."""
    with factory.begin() as session:
        return rows_matched(session.execute(update(AlertFiringRow).where(
            AlertFiringRow.id == streak_id, AlertFiringRow.incident_id.is_(None)).values(
            incident_id=-1, paged=paged))) == 1


def set_incident(factory: sessionmaker[Session], streak_id: int, incident_id: int) -> None:
    with factory.begin() as session:
        session.execute(update(AlertFiringRow).where(AlertFiringRow.id == streak_id).values(incident_id=incident_id))


def release_incident_claim(factory: sessionmaker[Session], streak_id: int) -> None:
    with factory.begin() as session:
        session.execute(update(AlertFiringRow).where(AlertFiringRow.id == streak_id,
                                                     AlertFiringRow.incident_id == -1).values(incident_id=None))


def held_groups(session: Session, team: str | None, namespace: str | None) -> list[AlertGroup]:
    """Groups whose post a window holds, matching the window's team or namespace."""
    groups = [group_in(session, i) for i in session.scalars(select(AlertGroupRow.id).where(AlertGroupRow.held))]
    return [g for g in groups if g is not None and
            ((team is not None and g.team == team) or
             (namespace is not None and namespace in namespaces_of(g)))]


def namespaces_of(group: AlertGroup) -> set[str]:
    found = {a.labels["namespace"] for a in group.alerts if a.labels.get("namespace")}
    return found | ({group.common_labels["namespace"]} if group.common_labels.get("namespace") else set())
