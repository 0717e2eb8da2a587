"""SpendService over a Cost Explorer stand-in: the overview's figures, the forecast or our projection, breakdowns
by team, service and project, thresholds per team, the cache per distinct question and the request count."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.clients import CostAnswer, CostQuery, CostRow, Forecast
from bot.clock import FrozenClock
from bot.settings import Config
from bot.spend.service import SpendService, UnknownName

NOW = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
TODAY = NOW.date()
CONFIG = Config.model_validate({"teams": [
    {"name": "ml-platform", "cost_tag": "ml", "burn_cups_per_hour": 10},
    {"name": "web", "cost_tag": "web"}]})


class Answers:
    """Cost Explorer answering rows per group kind, filtered like AWS does, and counting what it is asked."""

    demo = False

    def __init__(self, by_tag: list[CostRow], by_service: list[CostRow], forecast: float | None = None,
                 pages: int = 1) -> None:
        self.by_tag, self.by_service, self.forecast_usd, self.pages = by_tag, by_service, forecast, pages
        self.asked: list[CostQuery] = []
        self.forecasts: list[tuple[date, date, str | None, tuple[str, ...]]] = []

    def costs(self, query: CostQuery) -> CostAnswer:
        self.asked.append(query)
        rows = self.by_service if query.group_kind == "DIMENSION" else self.by_tag
        return CostAnswer(tuple(r for r in rows if query.start <= r.day < query.end), self.pages)

    def forecast(self, start: date, end: date, tag_key: str | None = None, tag_values: tuple[str, ...] = ()) \
            -> Forecast:
        self.forecasts.append((start, end, tag_key, tag_values))
        return Forecast(self.forecast_usd, 1)

    def probe(self) -> str:
        return "answers"


def day(n: int) -> date:
    return TODAY - timedelta(days=n)


SERVICES = [CostRow(day(1), "Amazon Elastic Compute Cloud - Compute", 900.0), CostRow(day(1), "Amazon S3", 100.0),
            CostRow(day(2), "Amazon Elastic Compute Cloud - Compute", 500.0), CostRow(day(12), "AWS Lambda", 70.0),
            CostRow(day(3), "Amazon SageMaker", 40.0), CostRow(day(4), "AWS Glue", 30.0),
            CostRow(day(5), "Amazon RDS", 20.0), CostRow(day(6), "Amazon CloudWatch", 10.0)]


def spend(factory: sessionmaker[Session], aws: Answers, clock: FrozenClock | None = None) -> SpendService:
    return SpendService(aws, factory, clock or FrozenClock(NOW), CONFIG)


def test_overview_adds_up_month_to_date_yesterday_and_the_week(factory: sessionmaker[Session]) -> None:
    aws = Answers([CostRow(day(1), "ml", 1000.0), CostRow(day(2), None, 600.0)], SERVICES, forecast=2000.0)

    report = spend(factory, aws).overview(None)

    # Feb 26 (day 12) is before March 1st: in no month-to-date, and older than the week shown
    assert report.month_to_date == 1600.0 and report.yesterday == 1000.0
    assert [usd for _, usd in report.daily] == [0.0, 10.0, 20.0, 30.0, 40.0, 500.0, 1000.0]
    assert report.daily[-1][0] == day(1) and len(report.daily) == 7
    assert [s.name for s in report.top_services][:2] == ["Amazon Elastic Compute Cloud - Compute", "Amazon S3"]
    assert len(report.top_services) == 5
    assert (report.forecast_usd, report.forecast_source) == (3600.0, "aws")
    assert report.untagged_usd == 600.0 and report.tagged_any
    assert aws.forecasts == [(TODAY, date(2026, 4, 1), None, ())]


def test_a_team_overview_filters_by_its_cost_tag_and_asks_nothing_about_untagged(
        factory: sessionmaker[Session]) -> None:
    aws = Answers([], SERVICES)

    report = spend(factory, aws).overview(CONFIG.teams[0])

    [asked] = aws.asked
    assert (asked.group_kind, asked.group_key, asked.tag_key, asked.tag_values) == \
        ("DIMENSION", "SERVICE", "team", ("ml",))
    assert aws.forecasts[0][2:] == ("team", ("ml",))
    assert report.team == "ml-platform" and report.untagged_usd == 0.0


def test_without_a_forecast_the_month_is_projected_from_its_daily_average(factory: sessionmaker[Session]) -> None:
    aws = Answers([CostRow(day(1), "ml", 1.0)], SERVICES, forecast=None)

    report = spend(factory, aws).overview(None)

    # $1,600 over the 9 days of March so far, and 22 days to go (today included)
    assert report.forecast_source == "projection"
    assert report.forecast_usd == pytest.approx(1600.0 + 1600.0 / 9 * 22)


def test_no_cost_carrying_the_team_tag_means_the_tag_is_not_active(factory: sessionmaker[Session]) -> None:
    aws = Answers([CostRow(day(1), None, 900.0)], SERVICES)

    assert spend(factory, aws).overview(None).tagged_any is False


def test_breakdown_by_team_names_teams_and_flags_each_against_its_own_threshold(
        factory: sessionmaker[Session]) -> None:
    # yesterday: ml $1,440 = $60/h = 12 cups (over ml's 10), web $2,400 = $100/h = 20 cups (under the default 30)
    aws = Answers([CostRow(day(1), "ml", 1440.0), CostRow(day(1), "web", 2400.0), CostRow(day(1), None, 5.0)], [])

    report = spend(factory, aws).breakdown("team", 7)

    assert [(r.name, r.cups_per_hour, r.over_threshold) for r in report.rows] == [
        ("web", 20.0, False), ("ml-platform", 12.0, True), (None, 5.0 / 24 / 5, False)]


def test_breakdown_by_project_filters_to_a_known_project_only(factory: sessionmaker[Session]) -> None:
    aws = Answers([CostRow(day(3), "llm-eval", 10.0), CostRow(day(3), "ranker", 5.0)], SERVICES)
    service = spend(factory, aws)

    report = service.breakdown("service", 7, project="llm-eval")

    assert aws.asked[-1].tag_key == "project" and aws.asked[-1].tag_values == ("llm-eval",)
    assert report.project == "llm-eval"
    with pytest.raises(UnknownName) as unknown:
        service.breakdown("service", 7, project="llm-evl")
    assert unknown.value.closest == ["llm-eval"]


def test_each_distinct_question_is_asked_once_per_ttl_and_every_page_is_counted(
        factory: sessionmaker[Session]) -> None:
    aws, clock = Answers([CostRow(day(1), "ml", 1.0)], SERVICES, pages=3), FrozenClock(NOW)
    service = spend(factory, aws, clock)

    for _ in range(5):
        service.breakdown("team", 7)
        service.breakdown("service", 7)
    clock.advance(timedelta(hours=5))
    service.breakdown("team", 7)

    assert len(aws.asked) == 2
    assert service.requests_today() == 6  # two questions of three pages each
    clock.advance(timedelta(hours=1, seconds=1))  # past the 6 h TTL
    service.breakdown("team", 7)
    assert len(aws.asked) == 3 and service.requests_today() == 9


def test_the_cache_and_the_count_survive_a_restart(factory: sessionmaker[Session]) -> None:
    aws = Answers([CostRow(day(1), "ml", 1.0)], SERVICES)
    spend(factory, aws).overview(None)
    asked = len(aws.asked)

    again = spend(factory, aws, FrozenClock(NOW + timedelta(minutes=5)))
    again.overview(None)

    assert len(aws.asked) == asked and len(aws.forecasts) == 1
    assert again.requests_today() == asked + 1
