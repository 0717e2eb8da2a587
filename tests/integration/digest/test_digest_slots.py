"""Scheduled digests on a real database: exactly one per team per slot whatever happens (two replicas ticking at
once, a restart, a process killed between its claim and its post, Slack refusing), one late digest after downtime,
none on a holiday, in the team's language and on its clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import REGISTRY

from bot.clock import FrozenClock
from bot.incidents.desk import OpenRequest
from bot.store import notices as notice_store
from tests.support.config import DIGESTS, TEAM, TEAM_CHANNEL, bot_config, team
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.threads import all_at_once

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY_NINE = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)  # the weekly slot
TUESDAY_NINE = MONDAY_NINE + timedelta(days=1)


def config(**fields: Any) -> dict[str, Any]:
    # ml-platform in CTEAM, Shanghai, with the three-line rotation; daily 09:00 Monday to Friday, weekly Monday
    return bot_config(teams=[team(**fields)], schedules=DIGESTS)


def digests(slack: SlackRecorder) -> list[str]:
    """The digests posted in the team's channel (not their thread replies), as the channel reads them."""
    return [slack_text(c) for c in slack.calls("chat.postMessage", TEAM_CHANNEL)
            if c.response.get("ok") and not c.params.get("thread_ts") and "digest" in slack_text(c).lower()]


def test_two_replicas_ticking_together_and_a_restart_post_one_digest_per_slot(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(seconds=20))
    replicas = [new_bot(db_url, slack, config(), clock)[0] for _ in range(2)]
    all_at_once(lambda: [r.digests.tick() for r in replicas], threads=4)
    restarted, _ = new_bot(db_url, slack, config(), clock)
    restarted.digests.tick()
    clock.advance(timedelta(minutes=5))
    restarted.digests.tick()
    assert len(digests(slack)) == 1
    assert "Daily digest" in digests(slack)[0] and TEAM in digests(slack)[0]
    clock.set(TUESDAY_NINE + timedelta(days=1, seconds=5))  # Wednesday's slot
    replicas[1].digests.tick()
    replicas[0].digests.tick()
    assert len(digests(slack)) == 2


def test_after_downtime_one_digest_comes_late_and_says_so_not_a_burst(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(MONDAY_NINE + timedelta(seconds=10))
    services, _ = new_bot(db_url, slack, config(), clock)
    assert services.digests.tick() == 1  # Monday: the weekly digest
    assert "Weekly digest" in digests(slack)[0]
    clock.set(datetime(2026, 11, 26, 10, 30, tzinfo=SHANGHAI))  # down from Monday to Thursday 10:30
    back, _ = new_bot(db_url, slack, config(), clock)
    assert back.digests.tick() == 1
    assert back.digests.tick() == 0
    late = digests(slack)[-1]
    assert len(digests(slack)) == 2 and "Late" in late and "09:00" in late  # Thursday's, marked late


def test_a_new_install_does_not_open_with_a_late_digest(db_url: str, slack: SlackRecorder,
                                                        new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(hours=2))
    services, _ = new_bot(db_url, slack, config(), clock)
    assert services.digests.tick() == 0
    clock.set(TUESDAY_NINE + timedelta(days=1, seconds=30))
    assert services.digests.tick() == 1 and len(digests(slack)) == 1


def test_a_slot_claimed_by_a_process_killed_before_it_posted_is_posted_once_by_another(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(seconds=5))
    services, _ = new_bot(db_url, slack, config(), clock)
    period = TUESDAY_NINE.astimezone(UTC).isoformat(timespec="minutes")
    assert notice_store.claim_notice(services.sessions, "digest", TEAM, period, clock.now(), channel=TEAM_CHANNEL)
    clock.advance(timedelta(minutes=1))
    assert services.digests.tick() == 0  # the claim is fresh: its owner may still be posting
    clock.advance(timedelta(minutes=2))
    other, _ = new_bot(db_url, slack, config(), clock)
    all_at_once(other.digests.tick, threads=3)
    services.digests.tick()
    assert len(digests(slack)) == 1


def test_slack_refusing_the_digest_loses_nothing_the_next_tick_posts_it_once(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(seconds=5))
    services, _ = new_bot(db_url, slack, config(), clock)
    refused = REGISTRY.get_sample_value("bot_digests_total", {"outcome": "refused"}) or 0
    slack.fail_method("chat.postMessage", "channel_not_found")
    assert services.digests.tick() == 0
    assert REGISTRY.get_sample_value("bot_digests_total", {"outcome": "refused"}) == refused + 1  # counted
    slack.fail_method("chat.postMessage", None)
    clock.advance(timedelta(seconds=30))
    assert services.digests.tick() == 1
    assert services.digests.tick() == 0
    assert len(digests(slack)) == 1


def test_no_digest_on_a_holiday_and_the_next_working_day_has_one(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(seconds=5))
    services, _ = new_bot(db_url, slack, config(holidays=["2026-11-24"]), clock)
    assert services.digests.tick() == 0
    clock.advance(timedelta(days=1))
    assert services.digests.tick() == 1


def test_the_digest_is_in_the_teams_language_with_its_local_date_and_the_details_in_its_thread(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    clock = FrozenClock(TUESDAY_NINE + timedelta(seconds=5))
    services, _ = new_bot(db_url, slack, config(language="zh-CN"), clock)
    slack.set_message(TEAM_CHANNEL, "1700000000.000100", text="payments down", user="UAUTHOR")
    services.incidents.open(OpenRequest(reporter="UREPORTER", source="reaction", channel=TEAM_CHANNEL,
                                        message_ts="1700000000.000100", severity="sev1", emoji="🔥💥"))
    slack.clear()
    assert services.digests.tick() == 1
    posted = [c for c in slack.calls("chat.postMessage", TEAM_CHANNEL) if c.response.get("ok")]
    main, thread = posted[0], [c for c in posted if c.params.get("thread_ts")]
    assert "每日摘要" in slack_text(main) and "11月24日" in slack_text(main)
    assert "payments down" in slack_text(main) and "<@UDRI1>" in slack_text(main)  # the open incident, on call
    assert thread and all(c.params["thread_ts"] == main.response["ts"] for c in thread)


def test_after_the_clocks_change_the_digest_still_comes_at_nine_local(
        db_url: str, slack: SlackRecorder, new_bot: Callable[..., tuple[Any, Any]]) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    friday_nine = datetime(2027, 3, 26, 9, 0, tzinfo=berlin)  # CET: 08:00 UTC
    clock = FrozenClock(friday_nine + timedelta(seconds=5))
    services, _ = new_bot(db_url, slack, config(timezone="Europe/Berlin"), clock)
    assert services.digests.tick() == 1
    monday_nine = datetime(2027, 3, 29, 9, 0, tzinfo=berlin)  # CEST since Sunday: 07:00 UTC
    assert monday_nine.astimezone(UTC).hour == 7
    clock.set(monday_nine - timedelta(minutes=1))
    assert services.digests.tick() == 0
    clock.set(monday_nine + timedelta(seconds=5))
    assert services.digests.tick() == 1
    clock.set(monday_nine + timedelta(hours=1, seconds=5))  # 09:00 on last week's UTC offset: nothing more
    assert services.digests.tick() == 0
    assert [d.splitlines()[0] for d in digests(slack)] == ["📋 Daily digest · ml-platform · Fri 2027-03-26",
                                                           "📋 Weekly digest · ml-platform · Mon 2027-03-29"]
