"""What configuration models are built from: a strict base model, durations and IANA time zones."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, BeforeValidator, ConfigDict

from bot.durations import parse_duration

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


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
