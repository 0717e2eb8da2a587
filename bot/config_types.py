"""What configuration models are built from: a strict base model, durations and IANA time zones."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
