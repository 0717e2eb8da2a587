"""AWS spend by team, with the burn rate in the teams' own unit: cups of coffee per hour.

Cost Explorer charges $0.01 per request (every page) and refreshes only a few times a day,
so its answer is cached in the database for `thresholds.cost_cache` and replies carry
the time it was fetched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import CostRow, CostSource
from bot.clock import Clock
from bot.settings import Team, Thresholds
from bot.spend.model import DEFAULT_DAYS, SpendReport, SpendRow
from bot.store.repo import cache_get, cache_put

HOURS_PER_DAY = 24


class SpendService:
    def __init__(self, aws: CostSource, cache_factory: sessionmaker[Session], clock: Clock,
                 thresholds: Thresholds, tag_key: str = "team", teams: Sequence[Team] = ()) -> None:
        self._aws = aws
        self._factory = cache_factory
        self._clock = clock
        self._thresholds = thresholds
        self._tag_key = tag_key
        self._team_of_tag = {team.cost_tag: team.name for team in teams if team.cost_tag}

    def by_team(self, days: int = DEFAULT_DAYS) -> SpendReport:
        """The last `days` full days (UTC), today excluded because its costs are still arriving."""
        end = self._clock.now().astimezone(UTC).date()
        start = end - timedelta(days=days)
        costs, fetched_at = self._costs(start, end)
        return self._report(costs, start, end, fetched_at)

    def _costs(self, start: date, end: date) -> tuple[list[CostRow], datetime]:
        key = f"spend:ce:{self._tag_key}:{start.isoformat()}:{end.isoformat()}"
        now = self._clock.now()
        cached = cache_get(self._factory, key, now)
        if isinstance(cached, dict):
            return _rows_from_json(cached["rows"]), datetime.fromisoformat(cached["fetched_at"])
        costs = self._aws.cost_by_team(start, end, self._tag_key)
        cache_put(self._factory, key, {"fetched_at": now.isoformat(), "rows": _rows_to_json(costs)}, now,
                  self._thresholds.cost_cache)
        return costs, now

    def _report(self, costs: list[CostRow], start: date, end: date, fetched_at: datetime) -> SpendReport:
        burn_day = max((c.day for c in costs if c.day < end), default=None)
        totals: dict[str | None, float] = defaultdict(float)
        burn: dict[str | None, float] = defaultdict(float)
        for cost in costs:
            team = self._team_of_tag.get(cost.team, cost.team) if cost.team else None
            totals[team] += cost.usd
            if cost.day == burn_day:
                burn[team] += cost.usd
        rows = [self._row(team, usd, burn[team] / HOURS_PER_DAY) for team, usd in totals.items()]
        rows.sort(key=lambda r: (-r.usd, r.team is None, r.team or ""))
        return SpendReport(rows=rows, start=start, end=end, burn_day=burn_day,
                           coffee_usd=self._thresholds.coffee_usd,
                           threshold_cups_per_hour=self._thresholds.burn_rate_cups_per_hour,
                           demo=bool(self._aws.demo), as_of=fetched_at)

    def _row(self, team: str | None, usd: float, usd_per_hour: float) -> SpendRow:
        cups = usd_per_hour / self._thresholds.coffee_usd if self._thresholds.coffee_usd > 0 else 0.0
        return SpendRow(team=team, usd=usd, usd_per_hour=usd_per_hour, cups_per_hour=cups,
                        over_threshold=cups > self._thresholds.burn_rate_cups_per_hour)


def _rows_to_json(costs: list[CostRow]) -> list[list[Any]]:
    return [[c.day.isoformat(), c.team, c.usd] for c in costs]


def _rows_from_json(rows: list[list[Any]]) -> list[CostRow]:
    return [CostRow(day=date.fromisoformat(day), team=team, usd=float(usd)) for day, team, usd in rows]
