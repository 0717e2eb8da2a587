"""The GPU domain's rows: snoozed pods (its notices live in bot/store/notices.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import GpuSnoozeRow
from bot.store.repo import audit


def snoozed_pods(factory: sessionmaker[Session], now: datetime) -> frozenset[str]:
    with factory() as session:
        return frozenset(session.scalars(select(GpuSnoozeRow.pod).where(GpuSnoozeRow.until > now)))


def snooze(factory: sessionmaker[Session], pod: str, until: datetime, by: str, now: datetime) -> None:
    with factory.begin() as session:
        session.add(GpuSnoozeRow(pod=pod, until=until, by=by, at=now))
        audit(session, now, by, "gpu.snooze", pod, until=until.isoformat())
