"""Review nudges, follow-ups and morning reminders as rows: claimed before they are sent, so a restart or a second
replica neither loses nor repeats one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import ReviewNudgeRow, ReviewReminderRow
from bot.store.repo import audit, claim

LEASE = timedelta(minutes=2)  # a sender that dies mid-send leaves the row due again after this
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class NudgeRecord:
    id: int
    repo: str
    number: int
    reviewer: str
    kind: str  # nudge | follow_up
    work_day: str
    slack_user: str
    author_slack: str | None
    requested_by: str
    tz: str
    due_at: datetime
    propose_at: datetime
    state: str
    attempts: int
    channel: str | None
    ts: str | None
    answer: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class NewNudge:
    repo: str
    number: int
    reviewer: str
    work_day: str
    slack_user: str
    author_slack: str | None
    requested_by: str
    tz: str
    due_at: datetime
    propose_at: datetime
    detail: dict[str, Any]


def add(factory: sessionmaker[Session], nudge: NewNudge, kind: str, now: datetime) -> bool:
    """Store a nudge (or its follow-up); False when this reviewer already has one for that day."""
    return claim(factory, ReviewNudgeRow(
        repo=nudge.repo, number=nudge.number, reviewer=nudge.reviewer, kind=kind, work_day=nudge.work_day,
        slack_user=nudge.slack_user, author_slack=nudge.author_slack, requested_by=nudge.requested_by,
        tz=nudge.tz, due_at=nudge.due_at if kind == "nudge" else nudge.propose_at, propose_at=nudge.propose_at,
        state="due", attempts=0, created_at=now, detail=nudge.detail))


def exists(factory: sessionmaker[Session], repo: str, number: int, reviewer: str, work_day: str) -> bool:
    with factory() as session:
        return session.scalars(select(ReviewNudgeRow.id).where(
            ReviewNudgeRow.repo == repo, ReviewNudgeRow.number == number, ReviewNudgeRow.reviewer == reviewer,
            ReviewNudgeRow.kind == "nudge", ReviewNudgeRow.work_day == work_day)).first() is not None


def get(factory: sessionmaker[Session], nudge_id: int) -> NudgeRecord | None:
    with factory() as session:
        row = session.get(ReviewNudgeRow, nudge_id)
        return _record(row) if row else None


def due(factory: sessionmaker[Session], now: datetime, only: tuple[str, int, str] | None = None,
        limit: int = 50) -> list[NudgeRecord]:
    """Rows to send now: due ones whose time has come, and ones whose sender's lease ran out; `only` one
    (repo, number, reviewer)."""
    query = select(ReviewNudgeRow).where(or_(
        (ReviewNudgeRow.state == "due") & (ReviewNudgeRow.due_at <= now),
        (ReviewNudgeRow.state == "sending") & (ReviewNudgeRow.lease_until < now)))
    if only:
        query = query.where(ReviewNudgeRow.repo == only[0], ReviewNudgeRow.number == only[1],
                            ReviewNudgeRow.reviewer == only[2])
    with factory() as session:
        rows = session.scalars(query.order_by(ReviewNudgeRow.due_at, ReviewNudgeRow.id).limit(limit))
        return [_record(row) for row in rows]


def take(factory: sessionmaker[Session], record: NudgeRecord, now: datetime) -> bool:
    """True for the one caller that sends this row now (a one-write claim on its state)."""
    with factory.begin() as session:
        result = session.execute(update(ReviewNudgeRow).where(
            ReviewNudgeRow.id == record.id, ReviewNudgeRow.state == record.state,
            ReviewNudgeRow.attempts == record.attempts,
        ).values(state="sending", lease_until=now + LEASE, attempts=record.attempts + 1))
        return rows_matched(result) == 1


def sent(factory: sessionmaker[Session], nudge_id: int, channel: str, ts: str, now: datetime) -> None:
    with factory.begin() as session:
        session.execute(update(ReviewNudgeRow).where(ReviewNudgeRow.id == nudge_id).values(
            state="sent", channel=channel, ts=ts, sent_at=now, lease_until=None))


def hold(factory: sessionmaker[Session], nudge_id: int, until: datetime, *, attempt_back: bool = True) -> None:
    """Not now (outside working hours, in Do Not Disturb): due again at `until`, the attempt given back."""
    with factory.begin() as session:
        row = session.get(ReviewNudgeRow, nudge_id)
        if row is not None:
            row.state, row.due_at, row.lease_until = "due", until, None
            row.attempts = max(0, row.attempts - 1) if attempt_back else row.attempts


def failed_attempt(factory: sessionmaker[Session], nudge_id: int, retry_at: datetime) -> bool:
    """Slack refused: due again at `retry_at`, or failed for good after MAX_ATTEMPTS (True then)."""
    with factory.begin() as session:
        row = session.get(ReviewNudgeRow, nudge_id)
        if row is None:
            return True
        gave_up = row.attempts >= MAX_ATTEMPTS
        row.state, row.due_at, row.lease_until = ("failed" if gave_up else "due"), retry_at, None
        return gave_up


def finish(factory: sessionmaker[Session], nudge_id: int, state: str) -> None:
    """done (nothing to send any more: reviewed, merged) or cancelled."""
    with factory.begin() as session:
        session.execute(update(ReviewNudgeRow).where(ReviewNudgeRow.id == nudge_id).values(
            state=state, lease_until=None))


def answer(factory: sessionmaker[Session], nudge_id: int, choice: str, user: str, now: datetime) -> bool:
    """The reviewer's button, recorded once with its audit row; False if the nudge was already answered."""
    with factory.begin() as session:
        result = session.execute(update(ReviewNudgeRow).where(
            ReviewNudgeRow.id == nudge_id, ReviewNudgeRow.answer.is_(None)).values(answer=choice))
        if rows_matched(result) != 1:
            return False
        row = session.get(ReviewNudgeRow, nudge_id)
        target = f"{row.repo}#{row.number}" if row else str(nudge_id)
        audit(session, now, user, f"review.{choice}", target, nudge=nudge_id)
        return True


def follow_up(factory: sessionmaker[Session], record: NudgeRecord) -> NudgeRecord | None:
    """The follow-up stored with this nudge (a follow-up is its own)."""
    if record.kind == "follow_up":
        return record
    with factory() as session:
        row = session.scalars(select(ReviewNudgeRow).where(
            ReviewNudgeRow.repo == record.repo, ReviewNudgeRow.number == record.number,
            ReviewNudgeRow.reviewer == record.reviewer, ReviewNudgeRow.kind == "follow_up",
            ReviewNudgeRow.work_day == record.work_day)).first()
        return _record(row) if row else None


def nudge_of(factory: sessionmaker[Session], record: NudgeRecord) -> NudgeRecord | None:
    """The nudge a follow-up follows."""
    with factory() as session:
        row = session.scalars(select(ReviewNudgeRow).where(
            ReviewNudgeRow.repo == record.repo, ReviewNudgeRow.number == record.number,
            ReviewNudgeRow.reviewer == record.reviewer, ReviewNudgeRow.kind == "nudge",
            ReviewNudgeRow.work_day == record.work_day)).first()
        return _record(row) if row else None


def reschedule(factory: sessionmaker[Session], nudge_id: int, due_at: datetime) -> None:
    """Snoozed: the follow-up is due again (once) at `due_at`."""
    with factory.begin() as session:
        session.execute(update(ReviewNudgeRow).where(ReviewNudgeRow.id == nudge_id).values(
            state="due", due_at=due_at, propose_at=due_at, attempts=0, lease_until=None, answer=None))


# Morning reminders ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reminder:
    slack_user: str
    team: str
    last_day: str | None


def set_reminder(factory: sessionmaker[Session], user: str, team: str, on: bool, now: datetime) -> None:
    with factory.begin() as session:
        row = session.get(ReviewReminderRow, user)
        if row is None:
            session.add(ReviewReminderRow(slack_user=user, team=team, enabled=on, updated_at=now))
        else:
            row.team, row.enabled, row.updated_at = team, on, now
        audit(session, now, user, "review.remind_on" if on else "review.remind_off", user, team=team)


def reminders(factory: sessionmaker[Session]) -> list[Reminder]:
    with factory() as session:
        rows = session.scalars(select(ReviewReminderRow).where(ReviewReminderRow.enabled.is_(True)))
        return [Reminder(row.slack_user, row.team, row.last_day) for row in rows]


def claim_reminder(factory: sessionmaker[Session], reminder: Reminder, day: str) -> bool:
    """True for the one caller that sends this person's reminder for `day`."""
    if (reminder.last_day or "") >= day:
        return False
    with factory.begin() as session:
        last = ReviewReminderRow.last_day
        result = session.execute(update(ReviewReminderRow).where(
            ReviewReminderRow.slack_user == reminder.slack_user, ReviewReminderRow.enabled.is_(True),
            last.is_(None) if reminder.last_day is None else last == reminder.last_day,
        ).values(last_day=day))
        return rows_matched(result) == 1


def release_reminder(factory: sessionmaker[Session], reminder: Reminder) -> None:
    """The DM failed: the next tick tries again."""
    with factory.begin() as session:
        session.execute(update(ReviewReminderRow).where(ReviewReminderRow.slack_user == reminder.slack_user)
                        .values(last_day=reminder.last_day))


def _record(row: ReviewNudgeRow) -> NudgeRecord:
    return NudgeRecord(id=row.id, repo=row.repo, number=row.number, reviewer=row.reviewer, kind=row.kind,
                       work_day=row.work_day, slack_user=row.slack_user, author_slack=row.author_slack,
                       requested_by=row.requested_by, tz=row.tz, due_at=row.due_at, propose_at=row.propose_at,
                       state=row.state, attempts=row.attempts, channel=row.channel, ts=row.ts, answer=row.answer,
                       detail=dict(row.detail or {}))
