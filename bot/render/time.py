"""Times and ages as a reader sees them, in their language: the one place replies format a datetime."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import aware
from bot.i18n import DEFAULT_LANGUAGE, t


def local(at: datetime, tz: str | ZoneInfo) -> datetime:
    """`at` on the wall clock of `tz`; a naive `at` is UTC (see bot.clock.aware)."""
    return aware(at).astimezone(tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz))


def when(at: datetime, tz: str, lang: str = DEFAULT_LANGUAGE) -> str:
    """A local date and time as the reader writes it: `Mon 2026-11-30 09:00`, `2026年11月30日 周一 09:00`."""
    wall = local(at, tz)
    weekday = t("core.weekdays", lang).split()[wall.weekday()]
    return t("core.when", lang, weekday=weekday, year=wall.year, month=wall.month, day=wall.day,
             time=f"{wall:%H:%M}")


def stamp(at: datetime, *, zone_name: bool = False) -> str:
    """`2026-03-02 09:30` as `at` reads in its own zone; with `zone_name`, `2026-03-02 09:30 UTC` (naive: UTC)."""
    text = f"{at:%Y-%m-%d %H:%M}"
    return f"{text} {at.tzname() or 'UTC'}" if zone_name else text


def local_stamp(at: datetime, tz: str | ZoneInfo) -> str:
    """To the second, with the offset, on the wall clock of `tz`: `2026-01-05 10:00:00 +01:00`."""
    wall = local(at, tz)
    offset = wall.strftime("%z")
    return f"{wall:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]}"


def age(delta: timedelta, lang: str, domain: str, *, days_from: timedelta = timedelta(days=1),
        just_now: bool = False, weeks_from: timedelta | None = None) -> str:
    """How old something is, in whole units from the `domain` catalog: `<domain>.age_minutes` under an hour,
    `age_hours` under `days_from`, else `age_days`; with `just_now`, `age_now` under a minute; with `weeks_from`,
    `age_weeks` from then on. Never negative."""
    minutes = int(max(delta, timedelta()).total_seconds() // 60)
    if weeks_from is not None and minutes >= weeks_from.total_seconds() // 60:
        return t(f"{domain}.age_weeks", lang, count=minutes // (7 * 24 * 60))
    if just_now and minutes < 1:
        return t(f"{domain}.age_now", lang)
    if minutes < 60:
        return t(f"{domain}.age_minutes", lang, count=minutes)
    if minutes < days_from.total_seconds() // 60:
        return t(f"{domain}.age_hours", lang, count=minutes // 60)
    return t(f"{domain}.age_days", lang, count=minutes // (24 * 60))
