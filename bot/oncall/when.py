"""When an override starts and ends, from what the user typed: it must name exactly one instant (see `parse_when`)."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.durations import DurationTooLong, parse_duration

YEARS_BACK, YEARS_AHEAD = 1, 2  # a typo such as 0206 or 9999 is refused, not stored (or overflowed)
MAX_OVERRIDE = timedelta(days=90)


class WhenError(ValueError):
    """A time the user typed that the override rules refuse: a catalog key and what to fill it with."""

    def __init__(self, key: str, **params: str | int) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


def parse_when(value: str, tz: str, now: datetime, after: datetime | None = None) -> datetime:
    """`now`, `+8h` (real elapsed time from `after`, else from now), or an ISO date/time, as aware UTC.

    A time without an offset is wall-clock time in `tz`. A wall-clock time the zone skips (spring forward)
    is refused with the last minute before the jump and the first after it; one the zone repeats (fall back)
    is refused unless it carries its UTC offset, and both readings are offered. Years outside
    now-1 … now+2 and durations over 90 days are refused. Every refusal is a `WhenError`.
    """
    value = value.strip()
    if value.lower() == "now":
        return now.astimezone(UTC)
    if value.startswith("+"):
        return (after or now).astimezone(UTC) + _duration(value, tz)  # in UTC: a fold's hour is really elapsed
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise WhenError("oncall.override_bad_time", value=value, tz=tz) from None
    if not now.year - YEARS_BACK <= parsed.year <= now.year + YEARS_AHEAD:
        raise WhenError("oncall.override_year_out_of_range", value=value, first=now.year - YEARS_BACK,
                        last=now.year + YEARS_AHEAD)
    if parsed.tzinfo is not None:
        return parsed.astimezone(UTC)
    return _local(parsed, tz)


def override_window(start_text: str, end_text: str, tz: str, now: datetime) -> tuple[datetime, datetime]:
    """The (start, end) of an override, in UTC. One that began in the past starts now; one that is over,
    ends before it starts or lasts more than 90 days is refused."""
    start = parse_when(start_text, tz, now)
    end = parse_when(end_text, tz, now, after=start)
    if end <= start:
        raise WhenError("oncall.override_bad_order")
    if end <= now:
        raise WhenError("oncall.override_in_the_past")
    if end - start > MAX_OVERRIDE:
        raise WhenError("oncall.override_too_long", days=MAX_OVERRIDE.days)
    return max(start, now.astimezone(UTC)), end


def _duration(value: str, tz: str) -> timedelta:
    try:
        length = parse_duration(value[1:])
    except DurationTooLong:
        raise WhenError("oncall.override_too_long", days=MAX_OVERRIDE.days) from None
    except ValueError:
        raise WhenError("oncall.override_bad_time", value=value, tz=tz) from None
    if length > MAX_OVERRIDE:
        raise WhenError("oncall.override_too_long", days=MAX_OVERRIDE.days)
    return length


def _local(naive: datetime, tz: str) -> datetime:
    """Wall-clock time in `tz` as UTC, refusing the times a DST change skips or repeats."""
    zone = ZoneInfo(tz)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != naive:
        before, after = _transition(zone, first, second)
        raise WhenError("oncall.override_time_skipped", time=f"{naive:%H:%M}", date=f"{naive:%Y-%m-%d}", tz=tz,
                        jump_from=f"{before:%H:%M}", jump_to=f"{after:%H:%M}",
                        earlier=f"{before - timedelta(minutes=1):%Y-%m-%dT%H:%M}", later=f"{after:%Y-%m-%dT%H:%M}")
    if first.utcoffset() != second.utcoffset():
        before, after = _transition(zone, first, second)
        raise WhenError("oncall.override_time_twice", value=f"{naive:%Y-%m-%dT%H:%M}", tz=tz,
                        back_from=f"{before:%H:%M}", back_to=f"{after:%H:%M}",
                        first=first.isoformat(timespec="minutes"), second=second.isoformat(timespec="minutes"))
    return first.astimezone(UTC)


def _transition(zone: ZoneInfo, first: datetime, second: datetime) -> tuple[datetime, datetime]:
    """Around a skipped or repeated wall time: the wall clock just before the change and just after it.

    The two readings of the time (fold=0: the offset before the change, fold=1: after) are instants on
    either side of the change; bisecting whole seconds finds it, so odd zones (30-minute shifts) work too.
    """
    earliest, latest = sorted((first.timestamp(), second.timestamp()))
    low, high = math.floor(earliest), math.ceil(latest)

    def offset(seconds: int) -> timedelta | None:
        return datetime.fromtimestamp(seconds, zone).utcoffset()

    old = offset(low)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if offset(middle) == old else (low, middle)
    change = datetime.fromtimestamp(high, zone)
    before = (change.astimezone(UTC) + (old or timedelta(0))).replace(tzinfo=None)
    return before, change.replace(tzinfo=None)
