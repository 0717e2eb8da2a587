"""When tonight's shutdown acts: the team's local time, DST-correct, on the configured days and not on holidays,
postponements included, and a night missed by more than LATE_LIMIT (the bot was down) left alone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import FrozenClock
from bot.settings import Config
from bot.spend.shutdown import LATE_LIMIT, NightlyShutdown, local_moment
from bot.store import guards


def shutdown(factory: sessionmaker[Session], now: datetime, **guard_config: Any) -> NightlyShutdown:
    config = Config.model_validate({"teams": [{"name": "ml", "timezone": "Europe/Berlin", "cost_tag": "ml"}],
                                    "cost_guards": {"shutdown": guard_config}})
    unused: Any = None
    return NightlyShutdown(unused, unused, unused, unused, unused, factory, FrozenClock(now), config)


def test_midnight_in_berlin_follows_the_clocks_across_the_october_change(factory: sessionmaker[Session]) -> None:
    # Berlin leaves summer time at 03:00 on Sunday 2026-10-25: midnight before it is 22:00 UTC, after it 23:00
    before = shutdown(factory, datetime(2026, 10, 24, 12, 0, tzinfo=UTC))
    team = before._config.teams[0]
    assert before.night(team) == (date(2026, 10, 24), datetime(2026, 10, 24, 22, 0, tzinfo=UTC))
    after = shutdown(factory, datetime(2026, 10, 25, 12, 0, tzinfo=UTC))
    assert after.night(team) == (date(2026, 10, 25), datetime(2026, 10, 25, 23, 0, tzinfo=UTC))


def test_an_evening_time_is_that_evening(factory: sessionmaker[Session]) -> None:
    guard = shutdown(factory, datetime(2026, 11, 24, 12, 0, tzinfo=UTC), at="22:00")
    assert guard.night(guard._config.teams[0]) == (date(2026, 11, 24), datetime(2026, 11, 24, 21, 0, tzinfo=UTC))


def test_a_time_the_spring_change_skips_moves_on_by_the_gap() -> None:
    from zoneinfo import ZoneInfo

    # 02:30 does not exist in Berlin on 2026-03-29: it acts at 03:30 local (01:30 UTC), not an hour early
    assert local_moment(date(2026, 3, 29), time(2, 30), ZoneInfo("Europe/Berlin")) == \
        datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_only_configured_nights_and_never_on_a_holiday(factory: sessionmaker[Session]) -> None:
    # Friday's night (Saturday 00:00 in Berlin) is over; mon-fri skips the weekend; Monday the 30th is a
    # holiday; so Tuesday's night, which stops at 00:00 on Wednesday
    now = datetime(2026, 11, 27, 23, 30, tzinfo=UTC)
    guard = shutdown(factory, now + LATE_LIMIT, days="mon-fri", holidays=["2026-11-30"])
    assert guard.night(guard._config.teams[0]) == (date(2026, 12, 1), datetime(2026, 12, 1, 23, 0, tzinfo=UTC))


def test_a_postponed_night_is_current_until_its_new_time_and_a_missed_one_is_left(
        factory: sessionmaker[Session]) -> None:
    midnight = datetime(2026, 11, 24, 23, 0, tzinfo=UTC)  # 00:00 on the 25th in Berlin
    guard = shutdown(factory, midnight + timedelta(hours=3))
    team = guard._config.teams[0]
    assert guard.night(team) == (date(2026, 11, 25), midnight + timedelta(days=1))  # missed by 3 h: next night

    plan = guards.ensure_plan(factory, "shutdown", "ml/2026-11-24", "scheduler", midnight, acts_at=midnight)
    guards.postpone(factory, plan, midnight + timedelta(hours=2), "UALICE", midnight)
    assert guard.night(team) == (date(2026, 11, 24), midnight + timedelta(hours=2))
