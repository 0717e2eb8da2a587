"""Maintenance windows: `/alerts quiet` and the recurring `alerts.maintenance` windows of the config.

Each opening of a window is a row (a configured window's occurrence is keyed by its start, so replicas
create it once); its start and end are announced once each, claimed by one conditional UPDATE.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.model import Window
from bot.config_types import crontab_trigger
from bot.settings import Config, MaintenanceWindow
from bot.store.db import rows_matched
from bot.store.models import MaintenanceRow


def add(factory: sessionmaker[Session], key: str, team: str | None, namespace: str | None, starts: datetime,
        ends: datetime, reason: str, by: str) -> Window | None:
    """Save a window; None when a window with this key exists already."""
    row = MaintenanceRow(key=key, team=team, namespace=namespace, starts_at=starts, ends_at=ends,
                         reason=reason[:500], created_by=by, start_announced=False, end_announced=False)
    try:
        with factory.begin() as session:
            session.add(row)
            session.flush()
            return _window(row)
    except IntegrityError:
        return None


def active(session: Session, config: Config, now: datetime) -> list[Window]:
    """Windows open now: saved ones, and configured ones whose opening may not have a row yet."""
    rows = session.scalars(select(MaintenanceRow).where(MaintenanceRow.starts_at <= now,
                                                        MaintenanceRow.ends_at > now)).all()
    configured = [Window(0, w.team, w.namespace, starts, starts + w.duration, w.reason, "config")
                  for w in config.alerts.maintenance if (starts := current_opening(w, _zone(config, w), now))]
    return [_window(r) for r in rows] + configured


def to_announce(factory: sessionmaker[Session], now: datetime) -> tuple[list[Window], list[Window]]:
    """(windows that opened and were not announced, windows that closed and were not announced)."""
    with factory() as session:
        opened = session.scalars(select(MaintenanceRow).where(
            MaintenanceRow.starts_at <= now, MaintenanceRow.ends_at > now,
            MaintenanceRow.start_announced.is_(False))).all()
        closed = session.scalars(select(MaintenanceRow).where(
            MaintenanceRow.ends_at <= now, MaintenanceRow.end_announced.is_(False))).all()
        return [_window(r) for r in opened], [_window(r) for r in closed]


def claim_announcement(factory: sessionmaker[Session], window_id: int, which: str) -> bool:
    """True for the one caller whose UPDATE marked the start (or end) of the window as announced."""
    column = MaintenanceRow.start_announced if which == "start" else MaintenanceRow.end_announced
    with factory.begin() as session:
        return rows_matched(session.execute(update(MaintenanceRow).where(
            MaintenanceRow.id == window_id, column.is_(False)).values({column: True}))) == 1


def open_configured(factory: sessionmaker[Session], config: Config, now: datetime) -> None:
    """Create the row for each configured window that is open now (once, whoever gets there first)."""
    for index, window in enumerate(config.alerts.maintenance):
        starts = current_opening(window, _zone(config, window), now)
        key = f"config:{index}:{starts.isoformat()}" if starts else ""
        if starts is not None and not _exists(factory, key):  # checked first: this runs every second
            add(factory, key, window.team, window.namespace, starts, starts + window.duration, window.reason,
                "config")


def _exists(factory: sessionmaker[Session], key: str) -> bool:
    with factory() as session:
        return session.scalar(select(MaintenanceRow.id).where(MaintenanceRow.key == key)) is not None


def current_opening(window: MaintenanceWindow, zone: ZoneInfo, now: datetime) -> datetime | None:
    """When the opening of `window` that covers `now` started, or None when it is closed now."""
    trigger = crontab_trigger(window.cron, zone)
    opened = trigger.get_next_fire_time(None, now - window.duration)
    if opened is None or opened > now:
        return None
    while True:  # the latest opening at or before now (windows longer than their period overlap)
        following = trigger.get_next_fire_time(opened, opened + timedelta(seconds=1))
        if following is None or following > now:
            found: datetime = opened.astimezone(now.tzinfo)
            return found
        opened = following


def _zone(config: Config, window: MaintenanceWindow) -> ZoneInfo:
    team = config.team_named(window.team) if window.team else None
    return ZoneInfo(team.timezone if team else config.defaults.timezone)


def _window(row: MaintenanceRow) -> Window:
    return Window(row.id, row.team, row.namespace, row.starts_at, row.ends_at, row.reason, row.created_by)
