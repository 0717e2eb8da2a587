"""bot.render.time and bot.clock.aware/elapsed: the shared ways replies say a time or an age, in both languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.clock import aware, elapsed
from bot.render.time import age, local, local_stamp, stamp, when

MONDAY_9_IN_SHANGHAI = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(("lang", "expected"), [
    ("en", "Mon 2026-11-30 09:00"),
    ("zh-CN", "2026年11月30日 周一 09:00"),
])
def test_when_is_the_readers_wall_clock_in_their_language(lang: str, expected: str) -> None:
    assert when(MONDAY_9_IN_SHANGHAI, "Asia/Shanghai", lang) == expected


def test_when_pads_months_in_english_only_and_crosses_the_date_line() -> None:
    early = datetime(2026, 3, 5, 23, 15, tzinfo=UTC)

    assert when(early, "Asia/Tokyo", "en") == "Fri 2026-03-06 08:15"
    assert when(early, "Asia/Tokyo", "zh-CN") == "2026年3月6日 周五 08:15"
    assert when(early, "America/Los_Angeles") == "Thu 2026-03-05 15:15"


def test_naive_times_are_read_as_utc() -> None:
    naive = datetime(2026, 1, 5, 9, 0)

    assert aware(naive) == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert local(naive, "Europe/Berlin") == datetime(2026, 1, 5, 10, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert local_stamp(naive, "Europe/Berlin") == "2026-01-05 10:00:00 +01:00"


def test_local_stamp_carries_seconds_and_the_offset() -> None:
    at = datetime(2026, 7, 1, 12, 0, 7, tzinfo=UTC)

    assert local_stamp(at, ZoneInfo("Asia/Kolkata")) == "2026-07-01 17:30:07 +05:30"
    assert local_stamp(at, "America/New_York") == "2026-07-01 08:00:07 -04:00"


def test_stamp_is_to_the_minute_in_the_times_own_zone() -> None:
    at = datetime(2026, 3, 2, 9, 30, 59, tzinfo=UTC)

    assert stamp(at) == "2026-03-02 09:30"
    assert stamp(at, zone_name=True) == "2026-03-02 09:30 UTC"
    assert stamp(at.astimezone(ZoneInfo("Asia/Shanghai")), zone_name=True) == "2026-03-02 17:30 CST"
    assert stamp(datetime(2026, 3, 2, 9, 30), zone_name=True) == "2026-03-02 09:30 UTC"


def test_elapsed_is_never_negative() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    assert elapsed(start, start + timedelta(minutes=5)) == timedelta(minutes=5)
    assert elapsed(start, start - timedelta(minutes=5)) == timedelta(0)
    assert elapsed(datetime(2026, 3, 2, 9, 0), start + timedelta(hours=1)) == timedelta(hours=1)


@pytest.mark.parametrize(("delta", "en", "zh"), [
    (timedelta(seconds=-30), "0 min", "0 分钟"),
    (timedelta(minutes=9), "9 min", "9 分钟"),
    (timedelta(hours=23, minutes=59), "23 h", "23 小时"),
    (timedelta(hours=30), "1 d", "1 天"),
])
def test_age_in_the_review_catalog(delta: timedelta, en: str, zh: str) -> None:
    assert age(delta, "en", "review") == en
    assert age(delta, "zh-CN", "review") == zh


@pytest.mark.parametrize(("delta", "en", "zh"), [
    (timedelta(seconds=-30), "just now", "刚刚"),
    (timedelta(seconds=59), "just now", "刚刚"),
    (timedelta(minutes=42), "42 min ago", "42 分钟前"),
    (timedelta(hours=30), "30 h ago", "30 小时前"),
    (timedelta(days=3, hours=1), "3 d ago", "3 天前"),
])
def test_age_in_the_spend_catalog_says_just_now_and_hours_for_two_days(delta: timedelta, en: str, zh: str) -> None:
    assert age(delta, "en", "spend", days_from=timedelta(hours=48), just_now=True) == en
    assert age(delta, "zh-CN", "spend", days_from=timedelta(hours=48), just_now=True) == zh


@pytest.mark.parametrize(("delta", "en", "zh"), [
    (timedelta(days=13, hours=23), "13 d ago", "13 天前"),
    (timedelta(days=14), "2 weeks ago", "2 周前"),
    (timedelta(days=27), "3 weeks ago", "3 周前"),
])
def test_age_counts_weeks_from_weeks_from(delta: timedelta, en: str, zh: str) -> None:
    assert age(delta, "en", "incident", weeks_from=timedelta(weeks=2)) == en
    assert age(delta, "zh-CN", "incident", weeks_from=timedelta(weeks=2)) == zh
