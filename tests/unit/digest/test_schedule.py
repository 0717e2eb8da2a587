"""When a team's digest is due: crontabs on the team's own clock across DST changes, holidays skipped, quiet hours
holding a slot, and after downtime only the latest slot, once."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.digest.schedule import due_slot, next_slot, schedule
from bot.settings import Config

BERLIN, SHANGHAI = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Shanghai")


def config(**team: Any) -> Config:
    digest = team.pop("digest_config", {})
    return Config.model_validate({"teams": [{"name": "ml", "channel": "CML", "timezone": "Europe/Berlin", **team}],
                                  "digest": digest})


def at(tz: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=tz).astimezone(UTC)


def due(conf: Config, now: datetime) -> tuple[str, datetime, datetime] | None:
    slot = due_slot(conf.teams[0], conf, now)
    return (slot.kind, slot.due.astimezone(UTC), slot.at.astimezone(UTC)) if slot else None


def test_the_daily_slot_is_due_at_nine_on_the_teams_own_clock_and_not_before() -> None:
    conf = config(timezone="Asia/Shanghai")  # defaults: daily 09:00 Mon-Fri, weekly Monday 09:00
    tuesday_nine = at(SHANGHAI, 2026, 11, 24, 9, 0)
    assert due(conf, tuesday_nine - timedelta(seconds=1)) is None  # Monday's 09:00 is 24 h back: past late_limit
    assert due(conf, tuesday_nine) == ("daily", tuesday_nine, tuesday_nine)
    assert due(conf, tuesday_nine + timedelta(hours=11, minutes=59)) == ("daily", tuesday_nine, tuesday_nine)
    assert due(conf, tuesday_nine + timedelta(hours=12, minutes=1)) is None  # missed by more than late_limit
    assert due(conf, at(SHANGHAI, 2026, 11, 28, 9, 30)) is None  # Saturday


def test_on_monday_the_weekly_digest_takes_the_slot_instead_of_the_daily_one() -> None:
    monday_nine = at(BERLIN, 2026, 11, 30, 9, 0)
    slot = due_slot(config().teams[0], config(), monday_nine + timedelta(minutes=1))
    assert slot is not None and slot.kind == "weekly"
    tuesday = due(config(), monday_nine + timedelta(days=1, minutes=1))
    assert tuesday is not None and tuesday[0] == "daily"


def test_nine_oclock_stays_nine_oclock_across_both_dst_changes() -> None:
    conf = config(digest="0 9 * * *", digest_config={"late_limit": "36h"})
    before_spring, after_spring = at(BERLIN, 2027, 3, 27, 9, 0), at(BERLIN, 2027, 3, 28, 9, 0)
    assert (before_spring.hour, after_spring.hour) == (8, 7)  # CET then CEST, in UTC
    assert due(conf, after_spring + timedelta(seconds=5)) == ("daily", after_spring, after_spring)
    assert due(conf, after_spring - timedelta(minutes=1))[1] == before_spring  # type: ignore[index]
    before_autumn, after_autumn = at(BERLIN, 2026, 10, 24, 9, 0), at(BERLIN, 2026, 10, 25, 9, 0)
    assert (before_autumn.hour, after_autumn.hour) == (7, 8)
    assert due(conf, after_autumn)[1] == after_autumn  # type: ignore[index]
    assert next_slot(conf.teams[0], conf, "daily", before_spring) == after_spring.astimezone(BERLIN)


def test_a_holiday_has_no_digest_and_the_next_one_comes_on_the_next_working_day() -> None:
    conf = config(holidays=["2026-12-25"])
    christmas_nine = at(BERLIN, 2026, 12, 25, 9, 0)
    assert due(conf, christmas_nine + timedelta(minutes=1)) is None
    assert next_slot(conf.teams[0], conf, "daily", christmas_nine - timedelta(hours=1)) == \
        at(BERLIN, 2026, 12, 28, 9, 0).astimezone(BERLIN)  # Monday: the weekly one also fires then
    assert next_slot(conf.teams[0], conf, "weekly", christmas_nine) == at(BERLIN, 2026, 12, 28, 9, 0)


def test_a_slot_inside_quiet_hours_waits_for_their_end_and_is_not_late_then() -> None:
    conf = config(digest="30 7 * * *", weekly_digest="off", quiet_hours="22:00-08:00")
    seven_thirty, eight = at(BERLIN, 2026, 11, 24, 7, 30), at(BERLIN, 2026, 11, 24, 8, 0)
    assert due(conf, seven_thirty + timedelta(minutes=1)) is None
    assert due(conf, eight) == ("daily", seven_thirty, eight)
    team_default = config(digest="30 7 * * *", weekly_digest="off", digest_config={"quiet_hours": "23:00-07:45"})
    assert due(team_default, at(BERLIN, 2026, 11, 24, 7, 45))[2] == at(BERLIN, 2026, 11, 24, 7, 45)  # type: ignore[index]


def test_after_downtime_only_the_latest_missed_slot_is_due() -> None:
    conf = config(digest="0 */2 * * *", weekly_digest="off")  # every two hours
    back_at = at(BERLIN, 2026, 11, 24, 15, 10)  # down since 07:50: 08:00 ... 14:00 were all missed
    assert due(conf, back_at) == ("daily", at(BERLIN, 2026, 11, 24, 14, 0), at(BERLIN, 2026, 11, 24, 14, 0))


def test_off_schedules_are_never_due_and_have_no_next_slot() -> None:
    conf = config(digest="off", weekly_digest="off")
    assert due(conf, at(BERLIN, 2026, 11, 30, 9, 0)) is None
    assert next_slot(conf.teams[0], conf, "daily", at(BERLIN, 2026, 11, 30, 9, 0)) is None


def test_the_schedule_names_the_crontabs_next_slots_quiet_hours_and_upcoming_holidays() -> None:
    conf = config(digest="0 10 * * 1-5", quiet_hours="22:00-07:00", holidays=["2026-11-01", "2026-12-25"])
    plan = schedule(conf.teams[0], conf, at(BERLIN, 2026, 11, 24, 12, 0))
    assert (plan.daily, plan.weekly, plan.quiet_hours) == ("0 10 * * 1-5", "0 9 * * 1", "22:00-07:00")
    assert plan.next_daily == at(BERLIN, 2026, 11, 25, 10, 0) and plan.next_weekly == at(BERLIN, 2026, 11, 30, 9, 0)
    assert plan.holidays == (date(2026, 12, 25),)


def test_check_names_each_teams_next_digest_and_warns_for_teams_that_get_none() -> None:
    from bot.check import OK, WARN, _digests

    conf = Config.model_validate({"teams": [{"name": "ml", "channel": "CML", "timezone": "Europe/Berlin"},
                                            {"name": "web", "timezone": "Asia/Shanghai"},
                                            {"name": "ops", "channel": "COPS", "digest": "off",
                                             "weekly_digest": "off"}]})
    [row] = _digests(conf)
    assert row.status == WARN and "ml " in row.detail and "Europe/Berlin" in row.detail
    assert "no digest for web, ops" in row.detail
    [fine] = _digests(Config.model_validate({"teams": [{"name": "ml", "channel": "CML"}]}))
    assert fine.status == OK and fine.detail.startswith("next: ml ")
