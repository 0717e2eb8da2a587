"""When a team's digests are due: its crontabs on its own clock (DST-correct), less holidays, held by quiet hours."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config_types import QuietHours, crontab_trigger
from bot.digest.model import KINDS, Kind, Schedule, Slot
from bot.settings import Config, Team

LATE_AFTER = timedelta(minutes=10)  # a digest posted later than this after its slot says it is late
QUIET_MAX = timedelta(days=1)  # quiet hours hold a slot at most this long


def crontab(team: Team, config: Config, kind: Kind) -> str:
    """The team's crontab for `kind`, or "off"."""
    if kind == "weekly":
        return team.weekly_digest or config.schedules.weekly_digest
    return team.digest or config.schedules.digest


def quiet_hours(team: Team, config: Config) -> QuietHours | None:
    return team.quiet_hours or config.digest.quiet_hours


def due_slot(team: Team, config: Config, now: datetime) -> Slot | None:
    """The team's latest slot whose time to post has come, if that was within `digest.late_limit`: after downtime
    only the most recent missed slot is due (one late digest, not a burst). A weekly slot wins a tie."""
    limit = config.digest.late_limit
    slots = [slot for kind in KINDS for slot in _slots(team, config, kind, now - limit - QUIET_MAX, now)
             if slot.at <= now and now - slot.at <= limit]
    return max(slots, key=lambda slot: slot.due, default=None)  # max keeps the first of equals: weekly


def next_slot(team: Team, config: Config, kind: Kind, now: datetime) -> datetime | None:
    """When the next `kind` digest will be posted (quiet hours and holidays applied); None when it is off."""
    return next((slot.at for slot in _slots(team, config, kind, now, now + timedelta(days=400)) if slot.at > now),
                None)


def schedule(team: Team, config: Config, now: datetime) -> Schedule:
    quiet = quiet_hours(team, config)
    tz = ZoneInfo(team.timezone)
    today = now.astimezone(tz).date()
    return Schedule(team=team.name, channel=team.channel, timezone=team.timezone,
                    daily=crontab(team, config, "daily"), weekly=crontab(team, config, "weekly"),
                    next_daily=next_slot(team, config, "daily", now),
                    next_weekly=next_slot(team, config, "weekly", now),
                    quiet_hours=str(quiet) if quiet else None,
                    holidays=tuple(sorted(day for day in team.holidays if day >= today)))


def _slots(team: Team, config: Config, kind: Kind, start: datetime, end: datetime) -> Iterator[Slot]:
    """Slots whose schedule fired in (start, end], in order: holidays skipped, quiet hours moving `at`."""
    expression = crontab(team, config, kind)
    if expression == "off":
        return
    tz = ZoneInfo(team.timezone)
    quiet = quiet_hours(team, config)
    for fired in _fire_times(expression, tz, start, end):
        local = fired.astimezone(tz)
        if local.date() in team.holidays:
            continue
        at = quiet.end_after(local) if quiet and quiet.contains(local) else local
        yield Slot(team.name, kind, local, at)


def _fire_times(expression: str, tz: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    trigger = crontab_trigger(expression, tz)
    previous: datetime | None = None
    moment = start.astimezone(tz) + timedelta(seconds=1)
    while (fired := trigger.get_next_fire_time(previous, moment)) is not None and fired <= end:
        yield fired
        previous, moment = fired, fired + timedelta(seconds=1)
