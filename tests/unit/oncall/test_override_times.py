"""The rule for override times: each one the user types names exactly one instant, or is refused saying why."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import t
from bot.oncall.when import WhenError, override_window, parse_when

LA = "America/Los_Angeles"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def refusal(start: str, end: str = "+1h", tz: str = LA, now: datetime = NOW, lang: str = "en") -> str:
    """What the user is told when `override_window` refuses the times."""
    with pytest.raises(WhenError) as refused:
        override_window(start, end, tz, now)
    return t(refused.value.key, lang, **refused.value.params)


def test_a_time_the_spring_forward_skips_is_refused_with_the_minutes_either_side_of_the_jump() -> None:
    said = refusal("2026-03-08T02:30", "2026-03-08T03:30")

    assert "02:30 doesn't exist on 2026-03-08 in America/Los_Angeles" in said
    assert "clocks jump from 02:00 to 03:00" in said
    assert "`2026-03-08T01:59`" in said and "`2026-03-08T03:00`" in said


def test_the_suggested_times_either_side_of_the_gap_are_accepted_and_are_one_minute_apart() -> None:
    before = parse_when("2026-03-08T01:59", LA, NOW)
    after = parse_when("2026-03-08T03:00", LA, NOW)

    assert (before, after) == (utc(2026, 3, 8, 9, 59), utc(2026, 3, 8, 10, 0))


def test_a_time_the_autumn_fall_back_repeats_is_refused_offering_both_offsets() -> None:
    said = refusal("2026-11-01T01:30", "+30m")

    assert "`2026-11-01T01:30` happens twice in America/Los_Angeles" in said
    assert "clocks go back from 02:00 to 01:00" in said
    assert "`2026-11-01T01:30-07:00`" in said and "`2026-11-01T01:30-08:00`" in said


@pytest.mark.parametrize(("offset", "start"), [("-07:00", utc(2026, 11, 1, 8, 30)),
                                                ("-08:00", utc(2026, 11, 1, 9, 30))])
def test_an_explicit_offset_picks_one_reading_of_the_repeated_hour(offset: str, start: datetime) -> None:
    assert override_window(f"2026-11-01T01:30{offset}", "+30m", LA, NOW) == (start, start + timedelta(minutes=30))


def test_plus_duration_is_real_elapsed_time_even_across_the_fall_back() -> None:
    start, end = override_window("2026-11-01T00:30", "+2h", LA, NOW)  # 00:30 PDT → 01:30 PST, not 02:30

    assert end - start == timedelta(hours=2)
    assert end == utc(2026, 11, 1, 9, 30)


def test_a_whole_day_across_spring_forward_is_23_hours_when_given_as_wall_clock_times() -> None:
    start, end = override_window("2026-03-07T09:00", "2026-03-08T09:00", LA, NOW)

    assert end - start == timedelta(hours=23)


def test_shanghai_has_no_dst_so_every_wall_clock_time_is_one_instant() -> None:
    start, end = override_window("2026-11-24T09:00", "+8h", "Asia/Shanghai", NOW)

    assert (start, end) == (utc(2026, 11, 24, 1), utc(2026, 11, 24, 9))


def test_an_override_wholly_in_the_past_is_refused() -> None:
    said = refusal("2026-02-27T09:00", "2026-02-28T09:00")

    assert "wholly in the past" in said


def test_an_override_that_began_in_the_past_starts_now() -> None:
    start, end = override_window("2026-03-01T00:00", "+8h", LA, NOW)  # 08:00 UTC, four hours ago

    assert (start, end) == (NOW, utc(2026, 3, 1, 16))


def test_an_override_that_ends_before_it_starts_is_refused() -> None:
    assert "must end after it starts" in refusal("2026-03-02T10:00", "2026-03-02T09:00")


@pytest.mark.parametrize("value", ["9999-12-31T00:00", "0001-01-01T00:00", "2029-01-01T00:00", "2024-12-31T23:59"])
def test_years_far_from_now_are_refused_naming_the_accepted_range(value: str) -> None:
    said = refusal(value)

    assert value in said and "2025 to 2028" in said


@pytest.mark.parametrize("end", ["+91d", "+99999999999d", "2026-06-30T00:00"])
def test_overrides_longer_than_90_days_are_refused(end: str) -> None:
    assert "at most 90 days" in refusal("2026-03-02T00:00", end)


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01T00:00", "+8x", "+"])
def test_unreadable_times_say_what_to_type_in_the_users_zone(value: str) -> None:
    said = refusal(value)

    assert f"`{value}`" in said and "2026-11-24T09:00" in said and LA in said


def test_refusals_are_in_the_readers_language() -> None:
    said = refusal("2026-03-08T02:30", lang="zh-CN")

    assert "并不存在" in said and "`2026-03-08T01:59`" in said


def test_a_30_minute_dst_shift_is_found_to_the_minute() -> None:
    said = refusal("2026-10-04T02:15", tz="Australia/Lord_Howe")  # clocks go from 02:00 to 02:30

    assert "clocks jump from 02:00 to 02:30" in said and "`2026-10-04T01:59`" in said
