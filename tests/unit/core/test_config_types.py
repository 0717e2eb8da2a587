"""Config building blocks: crontab schedules read the way crontab reads them."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.config_types import crontab_trigger


def test_crontab_weekday_numbers_mean_what_crontab_means() -> None:
    monday = datetime(2026, 11, 23, tzinfo=UTC)  # APScheduler alone would read 2 as Wednesday
    fires = {expr: crontab_trigger(expr, ZoneInfo("UTC")).get_next_fire_time(None, monday).strftime("%a")
             for expr in ("0 10 * * 2", "0 0 * * 0", "0 0 * * 7", "0 0 * * 6", "0 0 * * sat")}
    assert fires == {"0 10 * * 2": "Tue", "0 0 * * 0": "Sun", "0 0 * * 7": "Sun", "0 0 * * 6": "Sat",
                     "0 0 * * sat": "Sat"}
    weekdays = crontab_trigger("0 9 * * 1-5", ZoneInfo("UTC"))
    saturday = datetime(2026, 11, 28, tzinfo=UTC)
    assert weekdays.get_next_fire_time(None, saturday).strftime("%a %d") == "Mon 30"
