"""What /incident and /oncall answer to arguments they can't use: a usage message, never an error id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.incidents import store
from bot.store.models import OncallOverride
from tests.support.config import bot_config
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import event_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

MESSAGE_TS = "1700000000.000100"
ASKER = "UASKER"  # an admin, so authorization never stands between these tests and the parsing they test


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config(admins=[ASKER]), clock)


def say(app, slack: SlackRecorder, name: str, text: str, user: str = ASKER,  # type: ignore[no-untyped-def]
        channel: str = "CTEAM") -> str:
    """The reply the user sees (every text field of the response_url payloads)."""
    slack.clear()
    dispatch(app, slash_command_body(name, text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


def open_incident(app, slack: SlackRecorder) -> str:  # type: ignore[no-untyped-def]
    """Incident #1 from 🔥💥; its channel id."""
    slack.set_message("CTEAM", MESSAGE_TS, text="checkout 500s", user="UAUTHOR")
    for user, name in (("UALICE", "fire"), ("UBOB", "boom")):
        dispatch(app, event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
                                  "item": {"type": "message", "channel": "CTEAM", "ts": MESSAGE_TS},
                                  "event_ts": "1.0"}))
    return slack.calls("conversations.create")[0].response["channel"]["id"]


def assert_usage(said: str) -> None:
    assert "Usage" in said and "error id" not in said


# --- numbers and periods ------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["99999999999999999999999", "2147483648", "0", "#" + "9" * 5000])
def test_an_incident_number_the_database_cannot_hold_is_a_usage_message(db_url: str, slack: SlackRecorder,
                                                                         number: str) -> None:
    _, app = make_bot(db_url, slack, bot_config(admins=[ASKER]), FrozenClock(START))
    said = say(app, slack, "/incident", f"ack {number}")
    assert f"There is no incident #{number.lstrip('#')[:39]}" in said
    assert_usage(said)


def test_a_valid_number_of_no_incident_says_so(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    assert "There is no incident #2147483647." in say(app, slack, "/incident", "resolve 2147483647")


@pytest.mark.parametrize("period", ["99999999999d", "0d", "366d", "9" * 5000 + "d"])
def test_stats_periods_outside_one_day_to_a_year_are_a_usage_message(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                     period: str) -> None:
    _, app = bot
    said = say(app, slack, "/incident", f"stats {period}")
    assert "use 1d to 365d" in said
    assert_usage(said)
    assert not slack.calls("files.getUploadURLExternal")


def test_stats_for_a_year_still_works(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    assert "Incident stats" in say(app, slack, "/incident", "stats 365d")


# --- severity -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "severity"), [("1", "sev1"), ("SEV3", "sev3"), ("sev4", "sev4")])
def test_severity_takes_sevN_in_any_case_or_a_bare_number(bot, slack: SlackRecorder, typed: str,  # type: ignore[no-untyped-def]
                                                          severity: str) -> None:
    services, app = bot
    channel = open_incident(app, slack)
    said = say(app, slack, "/incident", f"severity {typed}", channel=channel)
    assert "didn't understand" not in said and "Usage" not in said
    assert store.load(services.sessions, 1).severity == severity
    changed = slack_text(slack.calls("chat.postMessage", channel=channel))
    assert f"<@{ASKER}> changed severity of incident #1: sev2 → {severity}." in changed


def test_severity_with_an_incident_number_and_a_bare_number(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    channel = open_incident(app, slack)
    say(app, slack, "/incident", "severity #1 3")
    assert store.load(services.sessions, 1).severity == "sev3"
    changed = slack_text(slack.calls("chat.postMessage", channel=channel))  # said in the incident's channel
    assert f"<@{ASKER}> changed severity of incident #1: sev2 → sev3." in changed


@pytest.mark.parametrize("typed", ["p1", "sev9", "sev1 now"])
def test_an_unknown_severity_names_what_was_typed_and_the_valid_ones(bot, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                                     typed: str) -> None:
    services, app = bot
    channel = open_incident(app, slack)
    said = say(app, slack, "/incident", f"severity {typed}", channel=channel)
    assert f"`{typed}`" in said and "`sev1`, `sev2`, `sev3`, `sev4`" in said and "`—`" not in said
    assert_usage(said)
    assert store.load(services.sessions, 1).severity == "sev2"


def test_severity_without_a_word_lists_the_severities(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    _, app = bot
    channel = open_incident(app, slack)
    said = say(app, slack, "/incident", "severity", channel=channel)
    assert "Name the severity" in said and "`sev1`" in said


def test_custom_severity_names_come_from_the_config(tmp_path, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    severities = {"critical": {"ack_within": "5m"}, "minor": {"ack_within": None, "page": False}}
    incidents = {"severities": severities, "default_severity": "critical", "degraded_severity": "minor"}
    services, app = make_bot(f"sqlite:///{tmp_path / 'custom.db'}", slack,
                             bot_config(admins=[ASKER], incidents=incidents))
    opened = say(app, slack, "/incident", "declare queue stuck MINOR")
    assert store.load(services.sessions, 1).severity == "minor"
    assert "*Incident #1 opened* (minor): queue stuck" in opened
    said = say(app, slack, "/incident", "severity #1 sev1")
    assert "`sev1`" in said and "`critical`, `minor`" in said
    say(app, slack, "/incident", "severity #1 Critical")
    assert store.load(services.sessions, 1).severity == "critical"
    assert "changed severity of incident #1: minor → critical." in slack_text(slack.calls("chat.postMessage"))


def test_declare_reads_a_trailing_number_as_part_of_the_title(bot, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = bot
    opened = say(app, slack, "/incident", "declare disk full on node 1")
    incident = store.load(services.sessions, 1)
    assert incident.title == "disk full on node 1" and incident.severity == "sev2"
    assert "*Incident #1 opened* (sev2): disk full on node 1" in opened


# --- /oncall override times ---------------------------------------------------------------------


def overrides(services) -> list[tuple[datetime, datetime]]:  # type: ignore[no-untyped-def]
    with services.sessions() as session:
        return [(row.starts_at, row.ends_at) for row in session.scalars(select(OncallOverride))]


@pytest.fixture
def in_los_angeles(bot, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    """The asker lives in Los Angeles; it is 2026-03-01, before both DST changes of 2026."""
    slack.set_user(ASKER, tz="America/Los_Angeles")
    clock.set(datetime(2026, 3, 1, 20, tzinfo=UTC))
    return bot


def test_override_in_the_spring_forward_gap_is_refused_with_alternatives(in_los_angeles,  # type: ignore[no-untyped-def]
                                                                         slack: SlackRecorder) -> None:
    services, app = in_los_angeles
    said = say(app, slack, "/oncall", "override <@UCOVER> 2026-03-08T02:30 2026-03-08T03:30")
    assert "02:30 doesn't exist on 2026-03-08 in America/Los_Angeles" in said
    assert "`2026-03-08T01:59`" in said and "`2026-03-08T03:00`" in said
    assert_usage(said)
    assert overrides(services) == []


def test_override_in_the_repeated_hour_asks_for_the_offset_and_then_lasts_what_was_asked(  # type: ignore[no-untyped-def]
        in_los_angeles, slack: SlackRecorder) -> None:
    services, app = in_los_angeles
    said = say(app, slack, "/oncall", "override <@UCOVER> 2026-11-01T01:30 +30m")
    assert "`2026-11-01T01:30-07:00`" in said and "`2026-11-01T01:30-08:00`" in said
    assert overrides(services) == []
    said = say(app, slack, "/oncall", "override <@UCOVER> 2026-11-01T01:30-08:00 +30m")
    assert "Override saved" in said
    assert overrides(services) == [(datetime(2026, 11, 1, 9, 30, tzinfo=UTC), datetime(2026, 11, 1, 10, tzinfo=UTC))]


def test_override_wholly_in_the_past_is_refused(in_los_angeles, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    services, app = in_los_angeles
    said = say(app, slack, "/oncall", "override <@UCOVER> 2026-02-20T09:00 2026-02-20T17:00")
    assert "wholly in the past" in said
    assert overrides(services) == []


def test_override_that_already_began_starts_now(in_los_angeles, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                clock: FrozenClock) -> None:
    services, app = in_los_angeles
    said = say(app, slack, "/oncall", "override <@UCOVER> 2026-03-01T09:00 2026-03-01T17:00")
    assert "Override saved" in said and "from Sun 2026-03-01 12:00 to Sun 2026-03-01 17:00" in said
    assert overrides(services) == [(clock.now(), clock.now() + timedelta(hours=5))]


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("9999-12-31T00:00", "+1h", "outside the years"),
    ("0001-01-01T00:00", "+1h", "outside the years"),
    ("now", "+99999999999d", "at most 90 days"),
    ("now", "+91d", "at most 90 days"),
    ("now", "2026-13-45T00:00", "couldn't read the time"),
])
def test_override_times_out_of_bounds_are_a_usage_message(in_los_angeles, slack: SlackRecorder,  # type: ignore[no-untyped-def]
                                                          start: str, end: str, expected: str) -> None:
    services, app = in_los_angeles
    said = say(app, slack, "/oncall", f"override <@UCOVER> {start} {end}")
    assert expected in said
    assert_usage(said)
    assert overrides(services) == []


# --- the reader's language ----------------------------------------------------------------------


def test_chinese_readers_get_chinese_dates_in_oncall_and_the_override_confirmation(bot,  # type: ignore[no-untyped-def]
                                                                                   slack: SlackRecorder) -> None:
    _, app = bot
    slack.set_user(ASKER, tz="Asia/Shanghai", locale="zh-CN")
    saved = say(app, slack, "/oncall", "override <@UCOVER> 2026-11-25T09:00 +8h")
    assert "替班已保存" in saved and "2026年11月25日 周三 09:00" in saved and "2026年11月25日 周三 17:00" in saved
    shown = say(app, slack, "/oncall", "")
    assert "到 2026年11月25日 周三 09:00" in shown  # UDRI1 until the override begins
    for weekday in ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"):
        assert weekday not in saved and weekday not in shown
