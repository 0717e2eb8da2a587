"""The one place the bot reads the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, benchmarks)."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when


def aware(moment: datetime) -> datetime:
    """Naive datetimes (SQLite drops tzinfo) are UTC, as the store writes them."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def elapsed(start: datetime, end: datetime) -> timedelta:
    """From `start` to `end` (naive ones read as UTC), never negative."""
    return max(aware(end) - aware(start), timedelta(0))
