"""What /spend reports: a row per team, the report that holds them, and how many days a report covers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

DEFAULT_DAYS = 7
MAX_DAYS = 90


@dataclass(frozen=True)
class SpendRow:
    team: str | None  # the configured team whose cost_tag this is, else the tag value; None: untagged
    usd: float  # the whole period
    usd_per_hour: float  # over the last full day with data
    cups_per_hour: float
    over_threshold: bool


@dataclass(frozen=True)
class SpendReport:
    rows: list[SpendRow]  # most expensive first
    start: date
    end: date  # exclusive
    burn_day: date | None  # the day the burn rate is measured on
    coffee_usd: float
    threshold_cups_per_hour: float
    demo: bool
    as_of: datetime  # when Cost Explorer was asked

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def total_usd(self) -> float:
        return sum(r.usd for r in self.rows)

    @property
    def burning(self) -> list[SpendRow]:
        return [r for r in self.rows if r.over_threshold]


class ReportDaysError(ValueError):
    """What the user typed is not a number of days from 1 to MAX_DAYS; `text` is that typed text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def report_days(arg: str | None) -> int:
    """`/spend [days]`: nothing means DEFAULT_DAYS; `30` or `30d` means 30, from 1 to MAX_DAYS."""
    days = int(arg.rstrip("d")) if arg and arg.rstrip("d").isdigit() else (DEFAULT_DAYS if arg is None else 0)
    if not 1 <= days <= MAX_DAYS:
        raise ReportDaysError(arg or "")
    return days
