"""Parse and print the short durations used in config and commands: 30s, 10m, 2h, 1d, 1w, and what
`format_duration` prints back (1h30m, 2d4h)."""

from __future__ import annotations

import math
import re
from datetime import timedelta

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_PART = r"(\d+(?:\.\d+)?)\s*([smhdw])"
_PATTERN = re.compile(rf"^\s*(?:{_PART}\s*)+$")


class DurationTooLong(ValueError):
    """A well-formed duration beyond what a timedelta holds ("99999999999w")."""


def parse_duration(value: object) -> timedelta:
    if isinstance(value, timedelta):
        return value
    expected = f"expected a duration such as 30s, 10m, 2h, 1d or 1w, got {value!r}"
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not 0 <= value < math.inf:  # also rejects NaN
                raise ValueError(expected)
            return timedelta(seconds=float(value))
        text = str(value)
        if not _PATTERN.match(text):
            raise ValueError(expected)
        return sum((timedelta(**{_UNITS[unit]: float(number)}) for number, unit in re.findall(_PART, text)),
                   timedelta(0))
    except OverflowError:  # "99999999999w"
        raise DurationTooLong(expected) from None


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60:02d}m" if rest >= 60 else f"{hours}h"
    days, rest = divmod(seconds, 86400)
    return f"{days}d{rest // 3600}h" if rest >= 3600 else f"{days}d"
