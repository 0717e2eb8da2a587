"""A reviewer's working calendar: their working hours in their time zone, less holidays."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config_types import WorkingHours

SEARCH_DAYS = 370  # a calendar with a year of holidays still finds its next working day


@dataclass(frozen=True)
class Calendar:
    hours: WorkingHours
    tz: ZoneInfo
    holidays: frozenset[date] = frozenset()

    def working_day(self, day: date) -> bool:
        return day.weekday() in self.hours.days and day not in self.holidays

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.tz)
        return self.working_day(local.date()) and self.hours.start <= local.time() < self.hours.end

    def day_of(self, at: datetime) -> date:
        return at.astimezone(self.tz).date()

    def opening(self, day: date) -> datetime:
        """The start of `day`'s working hours, as an aware UTC-comparable datetime (DST-safe via the zone)."""
        return datetime.combine(day, self.hours.start, self.tz)

    def closing(self, day: date) -> datetime:
        return datetime.combine(day, self.hours.end, self.tz)

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when within working hours, else the start of the next working period."""
        if self.is_open(at):
            return at
        day = self.day_of(at)
        if self.working_day(day) and at < self.opening(day):
            return self.opening(day)
        return self.next_morning(at)

    def next_morning(self, at: datetime) -> datetime:
        """The start of the first working day after `at`'s local date."""
        return self.opening(next(self._working_days(self.day_of(at) + timedelta(days=1))))

    def next_working_day_start(self, day: date) -> datetime:
        """The start of the first working day after `day`."""
        return self.opening(next(self._working_days(day + timedelta(days=1))))

    def one_working_day_later(self, at: datetime) -> datetime:
        """The same local time on the next working day, moved into working hours."""
        local = at.astimezone(self.tz)
        day = next(self._working_days(local.date() + timedelta(days=1)))
        return self.next_open(datetime.combine(day, local.time(), self.tz))

    def working_time(self, start: datetime, end: datetime) -> timedelta:
        """Working time between two instants: only the hours inside working hours on working days count."""
        if end <= start:
            return timedelta()
        total = timedelta()
        day = self.day_of(start)
        last = self.day_of(end)
        while day <= last:
            if self.working_day(day):
                lo, hi = max(start, self.opening(day)), min(end, self.closing(day))
                if hi > lo:
                    total += hi - lo
            day += timedelta(days=1)
        return total

    def _working_days(self, first: date) -> Iterator[date]:
        for offset in range(SEARCH_DAYS):
            day = first + timedelta(days=offset)
            if self.working_day(day):
                yield day
        raise ValueError("no working day within a year: check working_hours and holidays")
