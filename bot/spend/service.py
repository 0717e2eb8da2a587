"""AWS spend from Cost Explorer: the /spend overview, breakdowns by team, service or project, and the forecast.

Cost Explorer charges $0.01 per request (every page) and refreshes only a few times a day, so each distinct
question is cached in the database for `thresholds.cost_cache`, every request is counted (a metric, and per UTC
day in `cost_explorer_usage` for `check`), and replies carry the time the data was fetched.
"""

from __future__ import annotations

import calendar
import difflib
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import CostQuery, CostRow, CostSource, Forecast
from bot.clock import Clock
from bot.metrics import COST_EXPLORER_REQUESTS
from bot.settings import Config, Team
from bot.spend import store
from bot.spend.model import (
    DEFAULT_DAYS,
    TOP_SERVICES,
    Breakdown,
    MonthByTeam,
    Overview,
    Share,
    SpendReport,
    SpendRow,
)
from bot.store.repo import cache_get, cache_put

HOURS_PER_DAY = 24
USD_PER_REQUEST = 0.01
SERVICE = "SERVICE"
TREND_DAYS = 7


class UnknownName(LookupError):
    """A team, project or breakdown the bot doesn't know; `closest` are the names it does know that look alike."""

    def __init__(self, kind: str, name: str, closest: list[str]) -> None:
        super().__init__(f"{kind} {name}")
        self.kind, self.name, self.closest = kind, name, closest


class SpendService:
    def __init__(self, aws: CostSource, sessions: sessionmaker[Session], clock: Clock, config: Config) -> None:
        self._aws = aws
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._team_of_tag = {team.cost_tag: team.name for team in config.teams if team.cost_tag}

    # Views ------------------------------------------------------------------------------------------------
    def overview(self, team: Team | None) -> Overview:
        """Month to date, yesterday, the last 7 days, the forecast and the top services: of `team`'s cost_tag,
        or of the whole account."""
        today = self._today()
        month_start = today.replace(day=1)
        first = min(month_start, today - timedelta(days=TREND_DAYS))
        tag = self._tag_filter(team)
        rows, as_of = self._costs(CostQuery(first, today, "DIMENSION", SERVICE, *tag)) if first < today \
            else ((), self._clock.now())
        daily = _per_day(rows)
        month = [r for r in rows if r.day >= month_start]
        untagged, tagged_any = 0.0, True
        if team is None and month_start < today:
            by_team, _ = self._costs(CostQuery(month_start, today, "TAG", self._config.cost_guards.team_tag))
            untagged = sum(r.usd for r in by_team if r.key is None)
            tagged_any = any(r.key is not None for r in by_team) or not by_team
        mtd = sum(r.usd for r in month)
        forecast, source = self._forecast(today, month_start, mtd, daily, tag)
        return Overview(
            team=team.name if team else None, cost_tag=team.cost_tag if team else None, month_start=month_start,
            today=today, month_to_date=mtd, yesterday=daily.get(today - timedelta(days=1), 0.0),
            daily=tuple((d, daily.get(d, 0.0)) for d in _days(today - timedelta(days=TREND_DAYS), today)),
            forecast_usd=forecast, forecast_source=source, top_services=_top(month, TOP_SERVICES),
            untagged_usd=untagged, tagged_any=tagged_any, as_of=as_of, demo=bool(self._aws.demo),
            tag_key=self._config.cost_guards.team_tag)

    def breakdown(self, by: Breakdown = "team", days: int = DEFAULT_DAYS, team: Team | None = None,
                  project: str | None = None) -> SpendReport:
        """The last `days` full UTC days (today excluded: its costs are still arriving), grouped by `by`."""
        end = self._today()
        start = end - timedelta(days=days)
        tag_key, values = self._tag_filter(team)
        if project is not None:
            self._require_project(project)
            tag_key, values = self._config.cost_guards.project_tag, (project,)
        kind, key = ("DIMENSION", SERVICE) if by == "service" else ("TAG", self._group_tag(by))
        rows, as_of = self._costs(CostQuery(start, end, kind, key, tag_key, values))  # type: ignore[arg-type]
        return self._report(by, rows, start, end, as_of, team, project)

    def month_by_team(self) -> MonthByTeam:
        """Month to date of every team at once: the same cached question /spend's overview asks for untagged cost."""
        today = self._today()
        month_start = today.replace(day=1)
        days = calendar.monthrange(today.year, today.month)[1]
        if month_start >= today:
            return MonthByTeam(month_start, today, days, {}, self._clock.now())
        rows, as_of = self._costs(CostQuery(month_start, today, "TAG", self._config.cost_guards.team_tag))
        usd: dict[str, float] = defaultdict(float)
        for row in rows:
            if row.key:
                usd[self._team_of_tag.get(row.key, row.key)] += row.usd
        return MonthByTeam(month_start, today, days, dict(usd), as_of)

    def by_team(self, days: int = DEFAULT_DAYS) -> SpendReport:
        return self.breakdown("team", days)

    def projects(self) -> list[str]:
        """Project tag values with cost over the last 30 days (one cached query)."""
        end = self._today()
        rows, _ = self._costs(CostQuery(end - timedelta(days=30), end, "TAG", self._config.cost_guards.project_tag))
        return sorted({r.key for r in rows if r.key})

    def requests_today(self) -> int:
        return store.requests_on(self._sessions, self._today())

    # Cost Explorer, cached --------------------------------------------------------------------------------
    def _costs(self, query: CostQuery) -> tuple[list[CostRow], datetime]:
        key = f"spend:ce:{query.cache_key()}"
        now = self._clock.now()
        cached = cache_get(self._sessions, key, now)
        if isinstance(cached, dict):
            return _rows_from_json(cached["rows"]), datetime.fromisoformat(cached["fetched_at"])
        answer = self._aws.costs(query)
        self._count(answer.requests)
        cache_put(self._sessions, key, {"fetched_at": now.isoformat(), "rows": _rows_to_json(answer.rows)}, now,
                  self._config.thresholds.cost_cache)
        return list(answer.rows), now

    def _forecast(self, today: date, month_start: date, mtd: float, daily: dict[date, float],
                  tag: tuple[str | None, tuple[str, ...]]) -> tuple[float, Any]:
        """Cost Explorer's forecast of the rest of the month where it has one, else our own projection."""
        month_end = month_start.replace(day=calendar.monthrange(today.year, today.month)[1]) + timedelta(days=1)
        key = f"spend:forecast:{today}:{month_end}:{tag[0]}={','.join(tag[1])}"
        now = self._clock.now()
        cached = cache_get(self._sessions, key, now)
        if isinstance(cached, dict):
            usd = cached.get("usd")
        else:
            forecast: Forecast = self._aws.forecast(today, month_end, *tag)
            self._count(forecast.requests)
            usd = forecast.usd
            cache_put(self._sessions, key, {"usd": usd}, now, self._config.thresholds.cost_cache)
        if usd is not None:
            return mtd + float(usd), "aws"
        recent = [daily[d] for d in _days(today - timedelta(days=TREND_DAYS), today) if d in daily]
        per_day = (mtd / (today - month_start).days) if today > month_start and mtd else \
            (sum(recent) / len(recent) if recent else 0.0)
        return mtd + per_day * (month_end - today).days, "projection"

    def _count(self, requests: int) -> None:
        if requests:
            COST_EXPLORER_REQUESTS.inc(requests)
            store.count_requests(self._sessions, self._today(), requests)

    # Pieces -----------------------------------------------------------------------------------------------
    def _report(self, by: Breakdown, rows: list[CostRow], start: date, end: date, as_of: datetime,
                team: Team | None, project: str | None) -> SpendReport:
        burn_day = max((r.day for r in rows if r.day < end), default=None)
        totals: dict[str | None, float] = defaultdict(float)
        burn: dict[str | None, float] = defaultdict(float)
        for row in rows:
            name = self._team_of_tag.get(row.key, row.key) if by == "team" and row.key else row.key
            totals[name] += row.usd
            if row.day == burn_day:
                burn[name] += row.usd
        spend_rows = [self._row(by, name, usd, burn[name] / HOURS_PER_DAY) for name, usd in totals.items()]
        spend_rows.sort(key=lambda r: (-r.usd, r.name is None, r.name or ""))
        thresholds = self._config.thresholds
        return SpendReport(by=by, rows=spend_rows, start=start, end=end, burn_day=burn_day,
                           coffee_usd=thresholds.coffee_usd, threshold_cups_per_hour=thresholds.burn_rate_cups_per_hour,
                           demo=bool(self._aws.demo), as_of=as_of, team=team.name if team else None, project=project)

    def _row(self, by: Breakdown, name: str | None, usd: float, usd_per_hour: float) -> SpendRow:
        coffee = self._config.thresholds.coffee_usd
        cups = usd_per_hour / coffee if coffee > 0 else 0.0
        team = self._config.team_named(name) if by == "team" and name else None
        threshold = (team.burn_cups_per_hour if team else None) or self._config.thresholds.burn_rate_cups_per_hour
        return SpendRow(name=name, usd=usd, usd_per_hour=usd_per_hour, cups_per_hour=cups,
                        over_threshold=by == "team" and name is not None and cups > threshold)

    def _tag_filter(self, team: Team | None) -> tuple[str | None, tuple[str, ...]]:
        if team is None or not team.cost_tag:
            return None, ()
        return self._config.cost_guards.team_tag, (team.cost_tag,)

    def _group_tag(self, by: Breakdown) -> str:
        guards = self._config.cost_guards
        return guards.project_tag if by == "project" else guards.team_tag

    def _require_project(self, project: str) -> None:
        known = self.projects()
        if project not in known:
            raise UnknownName("project", project, closest(project, known))

    def _today(self) -> date:
        return self._clock.now().astimezone(UTC).date()


def closest(name: str, known: Iterable[str]) -> list[str]:
    names = list(known)
    return difflib.get_close_matches(name, names, n=3, cutoff=0.5) or names[:5]


def _per_day(rows: Iterable[CostRow]) -> dict[date, float]:
    totals: dict[date, float] = defaultdict(float)
    for row in rows:
        totals[row.day] += row.usd
    return totals


def _top(rows: Iterable[CostRow], n: int) -> tuple[Share, ...]:
    totals: dict[str | None, float] = defaultdict(float)
    for row in rows:
        totals[row.key] += row.usd
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0] or ""))
    return tuple(Share(name, usd) for name, usd in ranked[:n] if usd > 0)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days)]


def _rows_to_json(rows: Iterable[CostRow]) -> list[list[Any]]:
    return [[r.day.isoformat(), r.key, r.usd] for r in rows]


def _rows_from_json(rows: list[list[Any]]) -> list[CostRow]:
    return [CostRow(day=date.fromisoformat(day), key=key, usd=float(usd)) for day, key, usd in rows]
