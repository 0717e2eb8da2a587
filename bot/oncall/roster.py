"""Who is on call for a team: rotations from config, overrides from the database, as Slack users."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.oncall.rotation import Chain, Override, TeamRotation, TierOnCall, escalation_chain, on_call
from bot.settings import Config
from bot.store.models import OncallOverride
from bot.store.repo import audit


def rotation_for(config: Config, team: str) -> TeamRotation | None:
    return config.oncall.get(team)


def overrides(factory: sessionmaker[Session], team: str, around: datetime) -> list[Override]:
    with factory() as session:
        rows = session.scalars(select(OncallOverride).where(
            OncallOverride.team == team, OncallOverride.ends_at > around).order_by(OncallOverride.id))
        return [Override(tier=row.tier, user=row.user_id, start=row.starts_at, end=row.ends_at) for row in rows]


def add_override(factory: sessionmaker[Session], team: str, tier: str, user: str, start: datetime,
                 end: datetime, by: str, now: datetime) -> None:
    with factory.begin() as session:
        session.add(OncallOverride(team=team, tier=tier, user_id=user, starts_at=start, ends_at=end,
                                   created_by=by, created_at=now))
        audit(session, now, by, "oncall.override", f"{team}/{tier}", user=user, start=start.isoformat(),
              end=end.isoformat())


def who_is_on_call(config: Config, factory: sessionmaker[Session], team: str, at: datetime) -> list[TierOnCall]:
    rotation = rotation_for(config, team)
    return on_call(rotation, at, overrides(factory, team, at)) if rotation else []


def chain_for(config: Config, factory: sessionmaker[Session], team: str, at: datetime) -> Chain | None:
    rotation = rotation_for(config, team)
    return escalation_chain(rotation, at, overrides(factory, team, at)) if rotation else None
