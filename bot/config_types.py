"""What configuration models are built from: a strict base model, durations, IANA time zones, working hours."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

from bot.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def clipped(text: str, limit: int = 120) -> str:
    """`text` cut to `limit` characters: a configuration error quotes enough of a wrong value to recognise it and
    stays one readable line, even for a 40 KB value or a whole section."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shown(value: object) -> str:
    """A wrong value as a configuration error quotes it: its repr, clipped."""
    return clipped(repr(value))


def check_timezone(value: object) -> str:
    """An IANA time zone name such as Asia/Shanghai; anything else is refused saying what was expected."""
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError(
            f"{value!r} is not a valid IANA time zone, expected a name such as 'Asia/Shanghai', 'Europe/London' "
            "or 'UTC' (names are case-sensitive)") from None
    return value


TimeZone = Annotated[str, BeforeValidator(check_timezone)]


class Strict(BaseModel):
    """A config section: unknown keys are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")  # crontab numbering: 0 and 7 are Sunday


def crontab_trigger(expression: str, timezone: ZoneInfo | None = None) -> CronTrigger:
    """A standard 5-field crontab (`0 2 * * 6` is Saturday) as an APScheduler trigger.

    APScheduler 3 reads a numeric day of week as Monday=0, so weekday numbers are turned into names first.
    """
    fields = expression.split()
    if len(fields) == 5:
        fields[4] = ",".join(_weekday_names(part) for part in fields[4].split(","))
    return CronTrigger.from_crontab(" ".join(fields), timezone=timezone)


def _weekday_names(part: str) -> str:
    low, _, high = part.partition("-")
    if not low.isdecimal() or (high and not high.isdecimal()):
        return part  # names, `*` and steps are the same in both
    first, last = int(low), int(high or low)
    if not 0 <= first <= last <= 7:
        raise ValueError(f"day of week {part!r} is outside 0-7")
    return ",".join(dict.fromkeys(_WEEKDAYS[day] for day in range(first, last + 1)))


_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^\s*(?:(?P<days>[a-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})\s*$")


@dataclass(frozen=True)
class WorkingHours:
    """Days and local hours such as "mon-fri 09:00-18:00"; `contains` takes a time already in the local zone."""

    days: frozenset[int]  # Monday = 0
    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        return local.weekday() in self.days and self.start <= local.time() < self.end

    def __str__(self) -> str:
        days = ",".join(_DAY_NAMES[day] for day in sorted(self.days))
        return f"{days} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_working_hours(value: object) -> WorkingHours:
    if isinstance(value, WorkingHours):
        return value
    expected = ("expected hours such as '09:00-18:00' (Monday to Friday), 'mon-fri 09:00-18:00' or "
                "'mon,wed,fri 10:00-16:00'")
    match = _HOURS.match(str(value).lower()) if isinstance(value, str) else None
    if match is None:
        raise ValueError(expected)
    try:
        days = frozenset(day for part in (match["days"] or "mon-fri").split(",") for day in _day_range(part))
        start, end = time.fromisoformat(match["start"].zfill(5)), time.fromisoformat(match["end"].zfill(5))
    except ValueError:
        raise ValueError(expected) from None
    if not days or start >= end:
        raise ValueError(expected + " (the end after the start, within one day)")
    return WorkingHours(days, start, end)


def _day_range(part: str) -> range:
    first, _, last = part.partition("-")
    low, high = _DAY_NAMES.index(first), _DAY_NAMES.index(last or first)  # ValueError for an unknown name
    if low > high:
        raise ValueError(part)
    return range(low, high + 1)


Hours = Annotated[WorkingHours, BeforeValidator(parse_working_hours), PlainSerializer(str)]


def parse_weekdays(value: object) -> frozenset[int]:
    """"mon-fri", "mon,wed,fri" or "mon-sun" as weekday numbers (Monday = 0)."""
    expected = "expected days such as 'mon-sun', 'mon-fri' or 'mon,wed,fri'"
    if isinstance(value, (set, frozenset)):
        return frozenset(value)
    try:
        days = frozenset(day for part in str(value).lower().replace(" ", "").split(",") for day in _day_range(part))
    except ValueError:
        raise ValueError(expected) from None
    if not days:
        raise ValueError(expected)
    return days


def _weekdays_text(days: frozenset[int]) -> str:
    return ",".join(_DAY_NAMES[day] for day in sorted(days))


def parse_local_time(value: object) -> time:
    """A wall-clock time "HH:MM" such as "00:00" or "23:30"."""
    if isinstance(value, time):
        return value
    text = str(value).strip()
    if not re.fullmatch(r"\d{1,2}:\d{2}", text):
        raise ValueError("expected a local time such as '00:00' or '23:30'")
    try:
        return time.fromisoformat(text.zfill(5))
    except ValueError:
        raise ValueError("expected a local time such as '00:00' or '23:30'") from None


Weekdays = Annotated[frozenset[int], BeforeValidator(parse_weekdays), PlainSerializer(_weekdays_text)]
LocalTime = Annotated[time, BeforeValidator(parse_local_time), PlainSerializer(lambda t: f"{t:%H:%M}")]


@dataclass(frozen=True)
class QuietHours:
    """Local hours such as "22:00-08:00" (may cross midnight) in which the bot posts nothing it can post later."""

    start: time
    end: time

    def contains(self, local: datetime) -> bool:
        now = local.time()
        if self.start <= self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def end_after(self, local: datetime) -> datetime:
        """The first moment after `local` (a time inside these hours, on its own zone's clock) they are over."""
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        return end if end > local else end + timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(value: object) -> QuietHours:
    if isinstance(value, QuietHours):
        return value
    expected = "expected local hours such as '22:00-08:00' (they may cross midnight)"
    start, sep, end = str(value).partition("-")
    if not sep:
        raise ValueError(expected)
    try:
        first, last = parse_local_time(start.strip()), parse_local_time(end.strip())
    except ValueError:
        raise ValueError(expected) from None
    if first == last:
        raise ValueError(expected + " (the start and the end differ)")
    return QuietHours(first, last)


Quiet = Annotated[QuietHours, BeforeValidator(parse_quiet_hours), PlainSerializer(str)]
