"""/spend: cost per team, burn rate in cups of coffee per hour, cached Cost Explorer answers (the rendering is
in test_spend_render.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import CostRow
from bot.clients.demo import DemoAws
from bot.clock import FrozenClock
from bot.settings import Team, Thresholds
from bot.spend.service import SpendService

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
TODAY = NOW.date()



class ListedCosts(DemoAws):
    """Cost Explorer stand-in answering fixed rows, counting requests like DemoAws."""

    def __init__(self, rows: list[CostRow]) -> None:
        super().__init__()
        self.rows = rows
        self.asked: list[tuple[date, date, str]] = []

    def cost_by_team(self, start: date, end: date, tag_key: str = "team") -> list[CostRow]:
        self.requests += 1
        self.asked.append((start, end, tag_key))
        return [row for row in self.rows if start <= row.day < end]


def test_report_has_cost_burn_rate_and_cups_per_team(factory: sessionmaker[Session]) -> None:
    yesterday = TODAY - timedelta(days=1)
    aws = ListedCosts([
        CostRow(yesterday - timedelta(days=1), "ml", 1000.0),
        CostRow(yesterday, "ml", 3840.0),  # $160/h = 32 cups/h at $5 a cup
        CostRow(yesterday, "platform", 240.0),
        CostRow(yesterday, None, 120.0),
        CostRow(TODAY, "ml", 99999.0),  # today is still arriving: outside the period
    ])

    report = SpendService(aws, factory, FrozenClock(NOW), Thresholds()).by_team(days=7)

    assert aws.asked == [(TODAY - timedelta(days=7), TODAY, "team")]
    assert [(r.team, r.usd) for r in report.rows] == [("ml", 4840.0), ("platform", 240.0), (None, 120.0)]
    ml, platform, untagged = report.rows
    assert (ml.usd_per_hour, ml.cups_per_hour, ml.over_threshold) == (160.0, 32.0, True)
    assert (platform.usd_per_hour, platform.cups_per_hour, platform.over_threshold) == (10.0, 2.0, False)
    assert untagged.team is None and not untagged.over_threshold
    assert (report.days, report.burn_day, report.total_usd) == (7, yesterday, 5200.0)
    assert report.burning == [ml]
    assert report.as_of == NOW


def test_thresholds_come_from_configuration(factory: sessionmaker[Session]) -> None:
    aws = ListedCosts([CostRow(TODAY - timedelta(days=1), "ml", 240.0)])  # $10/h
    thresholds = Thresholds(coffee_usd=2.0, burn_rate_cups_per_hour=4.0)

    [row] = SpendService(aws, factory, FrozenClock(NOW), thresholds).by_team().rows

    assert (row.cups_per_hour, row.over_threshold) == (5.0, True)


def test_tag_values_show_as_the_configured_team_names(factory: sessionmaker[Session]) -> None:
    yesterday = TODAY - timedelta(days=1)
    aws = ListedCosts([CostRow(yesterday, "ml", 24.0), CostRow(yesterday, "x", 1.0)])
    teams = [Team(name="ml-platform", cost_tag="ml"), Team(name="web")]

    report = SpendService(aws, factory, FrozenClock(NOW), Thresholds(), teams=teams).by_team()

    assert [r.team for r in report.rows] == ["ml-platform", "x"]


def test_burn_rate_uses_the_latest_day_with_data_when_cost_explorer_lags(
    factory: sessionmaker[Session],
) -> None:
    two_days_ago = TODAY - timedelta(days=2)
    aws = ListedCosts([CostRow(two_days_ago - timedelta(days=1), "ml", 2400.0),
                       CostRow(two_days_ago, "ml", 480.0)])

    report = SpendService(aws, factory, FrozenClock(NOW), Thresholds()).by_team()

    assert report.burn_day == two_days_ago
    assert report.rows[0].usd_per_hour == 20.0


def test_second_spend_within_the_cache_ttl_makes_no_second_cost_explorer_request(
    factory: sessionmaker[Session],
) -> None:
    aws, clock = DemoAws(), FrozenClock(NOW)
    spend = SpendService(aws, factory, clock, Thresholds(cost_cache=timedelta(hours=6)))

    first = spend.by_team()
    clock.advance(timedelta(hours=2))
    second = spend.by_team()

    assert aws.requests == 1
    assert second.rows == first.rows
    assert second.as_of == NOW  # replies say how old the data is, not when they were rendered

    clock.advance(timedelta(hours=4, seconds=1))
    assert spend.by_team().as_of == clock.now()
    assert aws.requests == 2


def test_cache_survives_a_restart_because_it_lives_in_the_database(factory: sessionmaker[Session]) -> None:
    aws = DemoAws()
    SpendService(aws, factory, FrozenClock(NOW), Thresholds()).by_team()

    SpendService(aws, factory, FrozenClock(NOW + timedelta(minutes=5)), Thresholds()).by_team()

    assert aws.requests == 1


def test_another_period_is_another_request(factory: sessionmaker[Session]) -> None:
    aws = DemoAws()
    spend = SpendService(aws, factory, FrozenClock(NOW), Thresholds())

    spend.by_team(days=7)
    spend.by_team(days=30)

    assert aws.requests == 2
