"""A reviewer's calendar: working time waited, the next working morning, holidays, DST and zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from bot.config_types import parse_working_hours
from bot.review.hours import Calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
WEEKDAYS = parse_working_hours("09:00-18:00")


def calendar(tz: ZoneInfo = SHANGHAI, holidays: tuple[date, ...] = ()) -> Calendar:
    return Calendar(WEEKDAYS, tz, frozenset(holidays))


def at(text: str, tz: ZoneInfo = SHANGHAI) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def test_bare_hours_mean_monday_to_friday() -> None:
    assert WEEKDAYS.days == frozenset(range(5)) and str(WEEKDAYS) == "mon,tue,wed,thu,fri 09:00-18:00"


def test_a_weekend_does_not_count_as_waiting() -> None:
    # Friday 17:00 → Monday 10:00: one hour on Friday, one on Monday.
    assert calendar().working_time(at("2026-11-27 17:00"), at("2026-11-30 10:00")) == timedelta(hours=2)


def test_nights_do_not_count_and_a_holiday_does_not_either() -> None:
    start, end = at("2026-11-24 17:00"), at("2026-11-26 10:00")  # Tue 17:00 → Thu 10:00
    assert calendar().working_time(start, end) == timedelta(hours=1 + 9 + 1)
    assert calendar(holidays=(date(2026, 11, 25),)).working_time(start, end) == timedelta(hours=2)


def test_the_next_morning_skips_weekends_and_holidays() -> None:
    friday_evening = at("2026-12-24 19:00")  # Thursday 24 Dec; 25 Dec a holiday, then the weekend
    assert calendar(holidays=(date(2026, 12, 25),)).next_morning(friday_evening) == at("2026-12-28 09:00")


def test_next_open_is_now_inside_hours_and_the_morning_before_them() -> None:
    assert calendar().next_open(at("2026-11-24 11:00")) == at("2026-11-24 11:00")
    assert calendar().next_open(at("2026-11-24 07:30")) == at("2026-11-24 09:00")
    assert calendar().next_open(at("2026-11-24 18:00")) == at("2026-11-25 09:00")


def test_hours_are_read_on_the_reviewers_clock() -> None:
    # 02:00 UTC is 10:00 in Shanghai (open) and 03:00 in Berlin (closed).
    moment = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    assert calendar(SHANGHAI).is_open(moment) and not calendar(BERLIN).is_open(moment)
    assert calendar(BERLIN).next_open(moment) == at("2026-11-24 09:00", BERLIN)


def test_a_dst_change_keeps_the_local_morning() -> None:
    # Berlin leaves summer time on Sunday 2026-10-25: Monday's morning is still 09:00 local, 08:00 UTC.
    morning = calendar(BERLIN).next_morning(at("2026-10-23 20:00", BERLIN))
    assert morning == at("2026-10-26 09:00", BERLIN) and morning.astimezone(UTC).hour == 8


def test_one_working_day_later_skips_the_weekend() -> None:
    assert calendar().one_working_day_later(at("2026-11-27 15:00")) == at("2026-11-30 15:00")


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)),
       st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_working_time_never_exceeds_the_hours_on_offer(start: datetime, span: timedelta) -> None:
    begin = start.replace(tzinfo=UTC)
    waited = calendar().working_time(begin, begin + span)
    assert timedelta(0) <= waited <= span
    assert waited <= timedelta(hours=9) * (span.days + 2)
