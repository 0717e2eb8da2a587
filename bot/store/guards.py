"""Rows of destructive actions: a plan (the dry run people see) and its items, each moved by one write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import rows_matched
from bot.store.models import GuardItemRow, GuardPlanRow
from bot.store.repo import audit, claim


@dataclass(frozen=True)
class Plan:
    id: int
    kind: str
    key: str
    team: str | None
    state: str  # planned | acting | done
    acts_at: datetime | None
    created_by: str
    acted_by: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Item:
    item: str
    state: str  # planned | kept | stopping | deleting | done | failed
    by: str | None
    why: str
    error: str | None
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


def ensure_plan(factory: sessionmaker[Session], kind: str, key: str, by: str, now: datetime, *,
                team: str | None = None, acts_at: datetime | None = None,
                detail: dict[str, Any] | None = None) -> Plan:
    """The plan named (kind, key), made now if nobody made it yet."""
    claim(factory, GuardPlanRow(kind=kind, key=key, team=team, state="planned", acts_at=acts_at, created_by=by,
                                created_at=now, detail=detail or {}))
    found = plan(factory, kind, key)
    assert found is not None  # just inserted, or inserted by whoever won
    return found


def plan(factory: sessionmaker[Session], kind: str, key: str) -> Plan | None:
    with factory() as session:
        row = session.scalars(select(GuardPlanRow).where(GuardPlanRow.kind == kind, GuardPlanRow.key == key)).first()
        return _plan(row) if row else None


def add_items(factory: sessionmaker[Session], plan_id: int, items: dict[str, dict[str, Any]], by: str,
              now: datetime) -> None:
    with factory.begin() as session:
        session.add_all(GuardItemRow(plan_id=plan_id, item=item, state="planned", by=by, why="", at=now,
                                     detail=detail) for item, detail in items.items())


def items(factory: sessionmaker[Session], plan_id: int) -> list[Item]:
    with factory() as session:
        rows = session.scalars(select(GuardItemRow).where(GuardItemRow.plan_id == plan_id).order_by(GuardItemRow.id))
        return [Item(r.item, r.state, r.by, r.why, r.error, r.at, dict(r.detail or {})) for r in rows]


def move_item(factory: sessionmaker[Session], plan_id: int, item: str, to: str, by: str, now: datetime,
              why: str = "", retake_before: datetime | None = None) -> bool:
    """Set an item's state from `planned` (or from nothing, inserting it): True for the one caller that did.
    A kept instance can never be claimed for a stop, nor a stopping one kept. With `retake_before`, an item left
    in state `to` before then (its process was killed mid-action) is claimed again."""
    if claim(factory, GuardItemRow(plan_id=plan_id, item=item, state=to, by=by, why=why, at=now, detail={})):
        return True
    claimable = GuardItemRow.state == "planned"
    if retake_before is not None:
        claimable = or_(claimable, (GuardItemRow.state == to) & (GuardItemRow.at < retake_before))
    with factory.begin() as session:
        result = session.execute(update(GuardItemRow).where(
            GuardItemRow.plan_id == plan_id, GuardItemRow.item == item, claimable,
        ).values(state=to, by=by, why=why, at=now))
        return rows_matched(result) == 1


def finish_item(factory: sessionmaker[Session], plan_id: int, item: str, error: str | None, by: str, now: datetime,
                action: str, **detail: object) -> None:
    """Record what the backend said, with its audit row, in one transaction."""
    with factory.begin() as session:
        session.execute(update(GuardItemRow).where(GuardItemRow.plan_id == plan_id, GuardItemRow.item == item)
                        .values(state="failed" if error else "done", error=error, at=now))
        audit(session, now, by, action if not error else f"{action}_failed", item, error=error or "", **detail)


def start(factory: sessionmaker[Session], plan_id: int, by: str, now: datetime, lease: timedelta) -> bool:
    """planned → acting for the one caller that acts; a plan left acting by a killed process is taken over after
    `lease` (its items already done are not done again: each has its own row)."""
    with factory.begin() as session:
        result = session.execute(update(GuardPlanRow).where(
            GuardPlanRow.id == plan_id,
            or_(GuardPlanRow.state == "planned",
                (GuardPlanRow.state == "acting") & (GuardPlanRow.started_at < now - lease)),
        ).values(state="acting", acted_by=by, started_at=now))
        return rows_matched(result) == 1


def finish(factory: sessionmaker[Session], plan_id: int, now: datetime, **detail: object) -> None:
    with factory.begin() as session:
        session.execute(update(GuardPlanRow).where(GuardPlanRow.id == plan_id).values(state="done", done_at=now))
    annotate(factory, plan_id, **detail)


def annotate(factory: sessionmaker[Session], plan_id: int, **detail: object) -> None:
    with factory.begin() as session:
        row = session.get(GuardPlanRow, plan_id)
        if row is not None:
            row.detail = {**(row.detail or {}), **detail}


def postpone(factory: sessionmaker[Session], plan: Plan, until: datetime, by: str, now: datetime) -> bool:
    """Move a plan not yet acting to `until`; True if it moved."""
    with factory.begin() as session:
        result = session.execute(update(GuardPlanRow).where(
            GuardPlanRow.id == plan.id, GuardPlanRow.state == "planned").values(acts_at=until))
        if rows_matched(result) == 1:
            audit(session, now, by, f"{plan.kind}.postpone", plan.key, until=until.isoformat())
            return True
        return False


def _plan(row: GuardPlanRow) -> Plan:
    return Plan(id=row.id, kind=row.kind, key=row.key, team=row.team, state=row.state, acts_at=row.acts_at,
                created_by=row.created_by, acted_by=row.acted_by, detail=dict(row.detail or {}))
