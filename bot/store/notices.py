"""Notices: what the bot says on its own, as rows claimed before it is said (unique per kind, subject, period)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import NoticeRow
from bot.store.repo import claim


@dataclass(frozen=True)
class Notice:
    """A claimed nudge or post."""

    id: int
    kind: str
    subject: str
    period: str
    opened_at: datetime
    channel: str | None = None
    ts: str | None = None
    by: str | None = None
    cleared_at: datetime | None = None
    detail: dict[str, Any] | None = None


def claim_notice(factory: sessionmaker[Session], kind: str, subject: str, period: str, now: datetime,
                 by: str | None = None, channel: str | None = None, detail: dict[str, Any] | None = None) -> bool:
    """True for the one caller that may send this notice (a nudge once per pod per day, a post once)."""
    return claim(factory, NoticeRow(kind=kind, subject=subject, period=period, by=by, channel=channel,
                                    detail=detail or {}, opened_at=now))


def release_notice(factory: sessionmaker[Session], kind: str, subject: str, period: str) -> None:
    """Sending failed: let the next try claim it again."""
    with factory.begin() as session:
        session.execute(delete(NoticeRow).where(NoticeRow.kind == kind, NoticeRow.subject == subject,
                                                NoticeRow.period == period))


def release_unposted(factory: sessionmaker[Session], notice_id: int, claimed_before: datetime) -> bool:
    """Free a claim whose post never happened (its process died in between) so it can be claimed again; True for
    the one caller whose delete matched."""
    with factory.begin() as session:
        return rows_matched(session.execute(delete(NoticeRow).where(
            NoticeRow.id == notice_id, NoticeRow.ts.is_(None), NoticeRow.opened_at < claimed_before))) == 1


def notice(factory: sessionmaker[Session], kind: str, subject: str, period: str) -> Notice | None:
    with factory() as session:
        row = session.scalars(select(NoticeRow).where(
            NoticeRow.kind == kind, NoticeRow.subject == subject, NoticeRow.period == period)).first()
        return _notice(row) if row else None


def open_notices(factory: sessionmaker[Session], kind: str) -> list[Notice]:
    with factory() as session:
        rows = session.scalars(select(NoticeRow).where(NoticeRow.kind == kind, NoticeRow.cleared_at.is_(None)))
        return [_notice(row) for row in rows]


def latest_notice(factory: sessionmaker[Session], kind: str, subject: str) -> Notice | None:
    with factory() as session:
        row = session.scalars(select(NoticeRow).where(NoticeRow.kind == kind, NoticeRow.subject == subject)
                              .order_by(NoticeRow.opened_at.desc(), NoticeRow.id.desc())).first()
        return _notice(row) if row else None


def posted(factory: sessionmaker[Session], notice_id: int, ts: str) -> None:
    with factory.begin() as session:
        session.execute(update(NoticeRow).where(NoticeRow.id == notice_id).values(ts=ts))


def clear(factory: sessionmaker[Session], notice_id: int, now: datetime) -> bool:
    """True for the one caller that closes it (and may say so)."""
    with factory.begin() as session:
        result = session.execute(update(NoticeRow).where(
            NoticeRow.id == notice_id, NoticeRow.cleared_at.is_(None)).values(cleared_at=now))
        return rows_matched(result) == 1


def _notice(row: NoticeRow) -> Notice:
    return Notice(id=row.id, kind=row.kind, subject=row.subject, period=row.period, opened_at=row.opened_at,
                  channel=row.channel, ts=row.ts, by=row.by, cleared_at=row.cleared_at, detail=dict(row.detail or {}))
