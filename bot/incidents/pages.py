"""Page rows in and out: schedule, claim (one conditional UPDATE decides who sends), finish, stop."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import aware
from bot.incidents.model import Page
from bot.store import repo
from bot.store.db import rows_matched
from bot.store.models import EscalationStep

LEASE = timedelta(seconds=60)  # a claim left `sending` this long by a killed process is taken over
PAGERDUTY_STEP = -1  # the PagerDuty trigger: a row like any page, but never part of the Slack chain


def add(factory: sessionmaker[Session], incident_id: int, step: int, kind: str, due: datetime, tier: str = "",
        user: str | None = None, escalated_by: str | None = None) -> None:
    """Schedule a step; a step that already exists (a redelivery, another replica) stays as it is."""
    repo.claim(factory, EscalationStep(incident_id=incident_id, step=step, kind=kind, tier=tier, user_id=user,
                                       due_at=due, status="scheduled", escalated_by=escalated_by))


def due(factory: sessionmaker[Session], now: datetime, only_incident: int | None = None) -> list[int]:
    """Steps whose time has come, and those a killed process left half-sent."""
    with factory() as session:
        query = select(EscalationStep.id).where(or_(
            (EscalationStep.status == "scheduled") & (EscalationStep.due_at <= now),
            (EscalationStep.status == "sending") & (EscalationStep.claimed_at < now - LEASE)))
        if only_incident is not None:
            query = query.where(EscalationStep.incident_id == only_incident)
        return list(session.scalars(query.order_by(EscalationStep.due_at, EscalationStep.step).limit(100)))


def most_overdue(factory: sessionmaker[Session], now: datetime) -> float:
    """Seconds since the oldest scheduled page was due (0 when none is waiting), for /metrics."""
    with factory() as session:
        oldest = session.scalar(select(func.min(EscalationStep.due_at)).where(
            EscalationStep.status.in_(("scheduled", "sending")), EscalationStep.due_at <= now))
    return 0.0 if oldest is None else max(0.0, (now - aware(oldest)).total_seconds())


def claim(factory: sessionmaker[Session], step_id: int, now: datetime) -> bool:
    """True for exactly one caller: the one whose UPDATE moved the step to `sending`."""
    with factory.begin() as session:
        return bool(rows_matched(session.execute(update(EscalationStep).where(
            EscalationStep.id == step_id,
            or_(EscalationStep.status == "scheduled",
                (EscalationStep.status == "sending") & (EscalationStep.claimed_at < now - LEASE)),
        ).values(status="sending", claimed_at=now,
                 sending_since=func.coalesce(EscalationStep.sending_since, now)))))


def get(factory: sessionmaker[Session], step_id: int) -> Page | None:
    with factory() as session:
        row = session.get(EscalationStep, step_id)
        return _page(row) if row else None


def finish(factory: sessionmaker[Session], step_id: int, **values: Any) -> None:
    with factory.begin() as session:
        session.execute(update(EscalationStep).where(EscalationStep.id == step_id).values(**values))


def move_due(factory: sessionmaker[Session], incident_id: int, step: int, due_at: datetime,
             later_only: bool = False) -> None:
    """Re-time a scheduled step (with `later_only`, only if that makes it later)."""
    condition = [EscalationStep.incident_id == incident_id, EscalationStep.step == step,
                 EscalationStep.status == "scheduled"]
    if later_only:
        condition.append(EscalationStep.due_at < due_at)
    with factory.begin() as session:
        session.execute(update(EscalationStep).where(*condition).values(due_at=due_at))


def cancel_unsent(factory: sessionmaker[Session], incident_id: int) -> list[Page]:
    """Cancel every step not yet sent; return the pages already delivered (their DMs get updated)."""
    with factory.begin() as session:
        session.execute(update(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled").values(status="cancelled"))
        rows = session.scalars(select(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.dm_ts.is_not(None))).all()
        return [_page(row) for row in rows]


def next_scheduled(factory: sessionmaker[Session], incident_id: int) -> Page | None:
    """The next Slack step waiting for its time (PagerDuty runs beside the chain, so it is not one)."""
    with factory() as session:
        row = session.scalar(select(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled",
            EscalationStep.kind != "pagerduty").order_by(EscalationStep.step).limit(1))
        return _page(row) if row else None


def exists(factory: sessionmaker[Session], incident_id: int) -> bool:
    with factory() as session:
        return session.scalar(select(EscalationStep.id).where(EscalationStep.incident_id == incident_id).limit(1)) \
            is not None


def first_page(factory: sessionmaker[Session], incident_id: int) -> Page | None:
    """The 1st-line page (step 0): what the confirmation and the summary report."""
    with factory() as session:
        row = session.scalar(select(EscalationStep).where(EscalationStep.incident_id == incident_id,
                                                          EscalationStep.step == 0))
        return _page(row) if row else None


def bring_forward(factory: sessionmaker[Session], incident_id: int, now: datetime, by: str) -> tuple[int, int | None]:
    """Make every scheduled Slack step due now, escalated by `by`: (steps moved, the last step number)."""
    with factory.begin() as session:
        moved = rows_matched(session.execute(update(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled",
            EscalationStep.kind != "pagerduty").values(due_at=now, escalated_by=by)))
        last = session.scalar(select(EscalationStep.step).where(EscalationStep.incident_id == incident_id)
                              .order_by(EscalationStep.step.desc()).limit(1))
    return moved, last


def _page(row: EscalationStep) -> Page:
    return Page(id=row.id, incident_id=row.incident_id, step=row.step, kind=row.kind, tier=row.tier or "",
                user=row.user_id or "", status=row.status, due_at=row.due_at, attempts=row.attempts or 0,
                error=row.error, escalated_by=row.escalated_by, sent_at=row.sent_at, dm_channel=row.dm_channel,
                dm_ts=row.dm_ts, earlier_send=_earlier_send(row.sending_since, row.claimed_at))


def _earlier_send(first: datetime | None, this: datetime | None) -> datetime | None:
    """When a send began before the current claim's, if one did."""
    return first if first is not None and this is not None and aware(first) < aware(this) else None
