"""The GPU domain's rows: snoozed pods, and notices claimed before they are sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.gpu.model import Notice
from bot.store.db import rows_matched
from bot.store.models import GpuNoticeRow, GpuSnoozeRow
from bot.store.repo import audit, claim


def snoozed_pods(factory: sessionmaker[Session], now: datetime) -> frozenset[str]:
    with factory() as session:
        return frozenset(session.scalars(select(GpuSnoozeRow.pod).where(GpuSnoozeRow.until > now)))


def snooze(factory: sessionmaker[Session], pod: str, until: datetime, by: str, now: datetime) -> None:
    with factory.begin() as session:
        session.add(GpuSnoozeRow(pod=pod, until=until, by=by, at=now))
        audit(session, now, by, "gpu.snooze", pod, until=until.isoformat())


def claim_notice(factory: sessionmaker[Session], kind: str, subject: str, period: str, now: datetime,
                 by: str | None = None, channel: str | None = None) -> bool:
    """True for the one caller that may send this notice (a nudge once per pod per day, a post once)."""
    return claim(factory, GpuNoticeRow(kind=kind, subject=subject, period=period, by=by, channel=channel,
                                       detail={}, opened_at=now))


def release_notice(factory: sessionmaker[Session], kind: str, subject: str, period: str) -> None:
    """Sending failed: let the next try claim it again."""
    with factory.begin() as session:
        session.execute(delete(GpuNoticeRow).where(GpuNoticeRow.kind == kind, GpuNoticeRow.subject == subject,
                                                   GpuNoticeRow.period == period))


def notice(factory: sessionmaker[Session], kind: str, subject: str, period: str) -> Notice | None:
    with factory() as session:
        row = session.scalars(select(GpuNoticeRow).where(
            GpuNoticeRow.kind == kind, GpuNoticeRow.subject == subject, GpuNoticeRow.period == period)).first()
        return _notice(row) if row else None


def open_notices(factory: sessionmaker[Session], kind: str) -> list[Notice]:
    with factory() as session:
        rows = session.scalars(select(GpuNoticeRow).where(GpuNoticeRow.kind == kind,
                                                          GpuNoticeRow.cleared_at.is_(None)))
        return [_notice(row) for row in rows]


def posted(factory: sessionmaker[Session], notice_id: int, ts: str) -> None:
    with factory.begin() as session:
        session.execute(update(GpuNoticeRow).where(GpuNoticeRow.id == notice_id).values(ts=ts))


def clear(factory: sessionmaker[Session], notice_id: int, now: datetime) -> bool:
    """True for the one caller that closes it (and may say so)."""
    with factory.begin() as session:
        result = session.execute(update(GpuNoticeRow).where(
            GpuNoticeRow.id == notice_id, GpuNoticeRow.cleared_at.is_(None)).values(cleared_at=now))
        return rows_matched(result) == 1


def _notice(row: GpuNoticeRow) -> Notice:
    return Notice(id=row.id, kind=row.kind, subject=row.subject, period=row.period, opened_at=row.opened_at,
                  channel=row.channel, ts=row.ts, by=row.by)
