"""The spend domain's rows: Cost Explorer requests per UTC day (plans and notices live in bot/store)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import CostExplorerUsage
from bot.store.repo import claim


def count_requests(factory: sessionmaker[Session], day: date, requests: int) -> None:
    """Add to the day's count; safe when several replicas count at once (an increment, or the one insert)."""
    for _ in range(2):
        with factory.begin() as session:
            result = session.execute(update(CostExplorerUsage).where(CostExplorerUsage.day == day.isoformat())
                                     .values(requests=CostExplorerUsage.requests + requests))
            if rows_matched(result) == 1:
                return
        if claim(factory, CostExplorerUsage(day=day.isoformat(), requests=requests)):
            return


def requests_on(factory: sessionmaker[Session], day: date) -> int:
    with factory() as session:
        row = session.get(CostExplorerUsage, day.isoformat())
        return row.requests if row else 0
