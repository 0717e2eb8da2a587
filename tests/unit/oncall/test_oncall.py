import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from pydantic import ValidationError

from bot.oncall.rotation import (
    Layer,
    Override,
    Shift,
    TeamRotation,
    escalation_chain,
    next_handoffs,
    on_call,
    shift_at,
)
from tests.support.config import layer
from tests.support.config import rotation as rotation_yaml
from tests.support.slack_text import slack_text


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def layer_dict(**fields: object) -> dict:
    """A layer as it comes out of YAML: daily, 09:00 UTC handoff, anchored Monday 2026-01-05."""
    return layer("alice", "bob", "carol", rotate_every="1d", timezone="UTC") | fields


def make_layer(**fields: object) -> Layer:
    return Layer.model_validate(layer_dict(**fields))


def rotation(*tiers: list[dict]) -> TeamRotation:
    return TeamRotation.model_validate(rotation_yaml(*tiers))


DAYTIME = {"from": "09:00", "to": "21:00"}
NIGHT = {"from": "21:00", "to": "09:00"}


# --- handoff at local wall-clock time ---------------------------------------------------------


def test_weekly_rotation_hands_off_at_0900_shanghai_which_is_0100_utc_and_cycles_members():
    layer = make_layer(members=["U1", "U2", "U3"], rotate_every="1w", timezone="Asia/Shanghai")

    assert shift_at(layer, utc(2026, 1, 5, 0, 59)) is None  # before the anchor
    assert shift_at(layer, utc(2026, 1, 5, 1, 0)) == Shift(
        "U1", utc(2026, 1, 5, 1), utc(2026, 1, 12, 1), "rotation"
    )
    assert shift_at(layer, utc(2026, 1, 12, 0, 59)).user == "U1"
    assert shift_at(layer, utc(2026, 1, 12, 1, 0)).user == "U2"
    assert shift_at(layer, utc(2026, 1, 19, 1, 0)).user == "U3"
    assert shift_at(layer, utc(2026, 1, 26, 1, 0)).user == "U1"


def test_shift_at_accepts_any_aware_datetime_and_returns_utc():
    layer = make_layer(rotate_every="1w", timezone="Asia/Shanghai")
    shift = shift_at(layer, datetime(2026, 1, 5, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    assert shift.user == "alice"
    assert shift.start == utc(2026, 1, 5, 1)
    assert shift.start.tzinfo is UTC


def test_naive_datetime_is_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        shift_at(make_layer(), datetime(2026, 1, 5, 9))


def test_daily_rotation_across_us_spring_forward_keeps_0900_local_handoff_in_a_23h_shift():
    layer = make_layer(members=["a", "b"], start="2026-03-01", timezone="America/New_York")

    shift = shift_at(layer, utc(2026, 3, 8, 12))  # 08:00 EDT, just after the 02:00 jump
    assert shift.start == utc(2026, 3, 7, 14)  # 09:00 EST
    assert shift.end == utc(2026, 3, 8, 13)  # 09:00 EDT
    assert shift.end - shift.start == timedelta(hours=23)
    assert shift_at(layer, shift.end).user != shift.user


def test_daily_rotation_across_us_fall_back_keeps_0900_local_handoff_in_a_25h_shift():
    layer = make_layer(members=["a", "b"], start="2026-03-01", timezone="America/New_York")

    shift = shift_at(layer, utc(2026, 11, 1, 12))
    assert shift.start == utc(2026, 10, 31, 13)  # 09:00 EDT
    assert shift.end == utc(2026, 11, 1, 14)  # 09:00 EST
    assert shift.end - shift.start == timedelta(hours=25)


def test_weekly_rotation_across_us_spring_forward_is_one_hour_short():
    layer = make_layer(rotate_every="1w", start="2026-03-02", timezone="America/New_York")

    shift = shift_at(layer, utc(2026, 3, 8, 12))
    assert (shift.start, shift.end) == (utc(2026, 3, 2, 14), utc(2026, 3, 9, 13))
    assert shift.end - shift.start == timedelta(days=7) - timedelta(hours=1)


@pytest.mark.parametrize(
    ("at", "start", "end", "length"),
    [
        # DST ends Sunday 2026-04-05 03:00 AEDT -> 02:00 AEST
        (utc(2026, 4, 4, 12), utc(2026, 4, 3, 22), utc(2026, 4, 4, 23), timedelta(hours=25)),
        # DST starts Sunday 2026-10-04 02:00 AEST -> 03:00 AEDT
        (utc(2026, 10, 3, 12), utc(2026, 10, 2, 23), utc(2026, 10, 3, 22), timedelta(hours=23)),
    ],
    ids=["dst-ends-25h", "dst-starts-23h"],
)
def test_daily_rotation_across_sydney_dst_keeps_0900_local_handoff(at, start, end, length):
    layer = make_layer(members=["a", "b"], start="2026-03-01", timezone="Australia/Sydney")

    shift = shift_at(layer, at)
    assert (shift.start, shift.end) == (start, end)
    assert shift.end - shift.start == length
    for instant in (shift.start, shift.end):
        assert instant.astimezone(ZoneInfo("Australia/Sydney")).hour == 9


def test_hourly_rotation_counts_real_hours_across_dst():
    # Anchor 2026-03-07 09:00 EST = 14:00 UTC; after spring-forward the handoff drifts to 10:00 EDT.
    layer = make_layer(
        members=["a", "b"], rotate_every="12h", start="2026-03-07", timezone="America/New_York"
    )

    shift = shift_at(layer, utc(2026, 3, 9, 14, 30))
    assert (shift.start, shift.end) == (utc(2026, 3, 9, 14), utc(2026, 3, 10, 2))
    assert shift.user == "a"  # 4 slots after the anchor
    assert shift_at(layer, utc(2026, 3, 9, 13, 59)).user == "b"


# --- active windows and follow-the-sun --------------------------------------------------------


def test_active_window_crossing_midnight_covers_the_night_and_clips_the_shift_end():
    layer = make_layer(
        members=["night1", "night2"],
        handoff="21:00",
        timezone="Europe/London",
        active=NIGHT,
    )

    assert shift_at(layer, utc(2026, 1, 5, 23)) == Shift(
        "night1", utc(2026, 1, 5, 21), utc(2026, 1, 6, 9), "rotation"
    )
    assert shift_at(layer, utc(2026, 1, 6, 8, 59)).user == "night1"
    assert shift_at(layer, utc(2026, 1, 6, 9)) is None
    assert shift_at(layer, utc(2026, 1, 6, 12)) is None
    assert shift_at(layer, utc(2026, 1, 6, 21)).user == "night2"


def test_follow_the_sun_later_layer_wins_while_active_and_gap_when_none_is():
    shanghai = layer_dict(members=["cn1", "cn2"], timezone="Asia/Shanghai", active=DAYTIME)
    london = layer_dict(members=["uk1", "uk2"], timezone="Europe/London", active=DAYTIME)
    team = rotation([shanghai, london])

    def who(at: datetime) -> str | None:
        now = on_call(team, at)[0].now
        return now and now.user

    assert who(utc(2026, 1, 6, 3)) == "cn2"  # 11:00 Shanghai
    assert who(utc(2026, 1, 6, 10)) == "uk2"  # 18:00 Shanghai, 10:00 London: London is on top
    assert who(utc(2026, 1, 6, 14)) == "uk2"  # Shanghai window closed at 13:00 UTC
    assert who(utc(2026, 1, 6, 22)) is None  # both closed
    # British summer time: London's 09:00 is 08:00 UTC
    assert who(utc(2026, 7, 6, 7, 30)) == "cn1"
    assert who(utc(2026, 7, 6, 8, 30)) == "uk1"


def test_follow_the_sun_shift_ends_when_a_higher_layer_takes_over():
    shanghai = layer_dict(members=["cn1", "cn2"], timezone="Asia/Shanghai", active=DAYTIME)
    london = layer_dict(members=["uk1", "uk2"], timezone="Europe/London", active=DAYTIME)

    tier = on_call(rotation([shanghai, london]), utc(2026, 1, 6, 3))[0]

    assert tier.now == Shift("cn2", utc(2026, 1, 6, 1), utc(2026, 1, 6, 9), "rotation")
    assert tier.next == Shift("uk2", utc(2026, 1, 6, 9), utc(2026, 1, 6, 21), "rotation")


def test_night_layer_under_day_layer_covers_around_the_clock():
    night = layer_dict(members=["n1"], handoff="21:00", timezone="Europe/London", active=NIGHT)
    day = layer_dict(members=["d1"], timezone="Europe/London", active=DAYTIME)
    team = rotation([night, day])

    assert [on_call(team, utc(2026, 1, 6, h))[0].now.user for h in (2, 9, 20, 21, 23)] == [
        "n1",
        "d1",
        "d1",
        "n1",
        "n1",
    ]


# --- overrides --------------------------------------------------------------------------------


def test_override_wins_over_rotation_during_its_window_and_not_outside_it():
    team = rotation([layer_dict(members=["alice", "bob"])])
    cover = Override(tier=0, user="dave", start=utc(2026, 1, 6, 12), end=utc(2026, 1, 6, 18))

    during = on_call(team, utc(2026, 1, 6, 13), [cover])[0]
    assert during.now == Shift("dave", utc(2026, 1, 6, 12), utc(2026, 1, 6, 18), "override")
    assert during.next == Shift("bob", utc(2026, 1, 6, 18), utc(2026, 1, 7, 9), "rotation")

    before = on_call(team, utc(2026, 1, 6, 11), [cover])[0]
    assert before.now == Shift("bob", utc(2026, 1, 6, 9), utc(2026, 1, 6, 12), "rotation")
    assert before.next.user == "dave"

    assert on_call(team, utc(2026, 1, 6, 18), [cover])[0].now.user == "bob"


def test_override_by_tier_name_only_affects_that_tier():
    team = rotation([layer_dict(members=["alice"])], [layer_dict(members=["senior"])])
    cover = Override(tier="2nd line", user="dave", start=utc(2026, 1, 6), end=utc(2026, 1, 7))

    first, second = on_call(team, utc(2026, 1, 6, 12), [cover])
    assert first.now.user == "alice"
    assert (second.now.user, second.now.source) == ("dave", "override")


def test_override_for_unknown_tier_is_an_error_not_silently_ignored():
    team = rotation([layer_dict()])
    cover = Override(tier="2nd lien", user="dave", start=utc(2026, 1, 6), end=utc(2026, 1, 7))
    with pytest.raises(ValueError, match="2nd lien"):
        on_call(team, utc(2026, 1, 6, 12), [cover])


def test_override_must_end_after_it_starts():
    with pytest.raises(ValidationError, match="must be after start"):
        Override(tier=0, user="dave", start=utc(2026, 1, 7), end=utc(2026, 1, 6))


# --- gaps and escalation ----------------------------------------------------------------------


def test_gap_yields_gap_true_and_escalation_chain_skips_that_tier():
    team = rotation(
        [layer_dict(members=["dri1", "dri2"])],
        [layer_dict(members=["senior"], active={"from": "09:00", "to": "18:00"})],
        [layer_dict(members=["lead"], rotate_every="1w")],
    )
    at = utc(2026, 1, 6, 20)

    tiers = on_call(team, at)
    assert [t.gap for t in tiers] == [False, True, False]
    assert tiers[1].now is None
    assert tiers[1].next == Shift("senior", utc(2026, 1, 7, 9), utc(2026, 1, 7, 18), "rotation")

    chain = escalation_chain(team, at)
    assert [(step.tier, step.user) for step in chain.steps] == [("1st line", "dri2"), ("3rd line", "lead")]
    assert chain.gaps == ["2nd line"]


def test_next_is_the_following_person_and_handoff_time():
    team = rotation([layer_dict(members=["U1", "U2"], rotate_every="1w", timezone="Asia/Shanghai")])

    tier = on_call(team, utc(2026, 1, 7, 12))[0]

    assert tier.now == Shift("U1", utc(2026, 1, 5, 1), utc(2026, 1, 12, 1), "rotation")
    assert tier.next == Shift("U2", utc(2026, 1, 12, 1), utc(2026, 1, 19, 1), "rotation")


def test_next_skips_back_to_back_shifts_of_the_same_person():
    team = rotation([layer_dict(members=["solo", "solo", "other"])])

    tier = on_call(team, utc(2026, 1, 5, 12))[0]

    assert (tier.now.start, tier.now.end) == (utc(2026, 1, 5, 9), utc(2026, 1, 7, 9))
    assert tier.next.user == "other"


def test_next_handoffs_lists_changes_in_time_order():
    team = rotation(
        [layer_dict(members=["dri1", "dri2"])],
        [layer_dict(members=["senior"], active={"from": "09:00", "to": "18:00"})],
    )

    handoffs = next_handoffs(team, utc(2026, 1, 6, 12), within=timedelta(days=1))

    assert [(h.at, h.tier, h.from_user, h.to_user) for h in handoffs] == [
        (utc(2026, 1, 6, 18), "2nd line", "senior", None),
        (utc(2026, 1, 7, 9), "1st line", "dri2", "dri1"),
        (utc(2026, 1, 7, 9), "2nd line", None, "senior"),
    ]


# --- config validation ------------------------------------------------------------------------


ROTATION_YAML = """
tiers:
  - name: "1st line"
    layers:
      - members: ["U01AAA", "U01BBB", "alice@example.com"]
        rotate_every: 1w
        handoff: "09:00"
        start: 2026-01-05
        timezone: Asia/Shanghai
        active: {from: "09:00", to: "21:00"}
      - members: ["@bob"]
        rotate_every: 1d
        handoff: "09:00"
        start: 2026-01-05
        timezone: Europe/London
  - name: "2nd line"
    layers:
      - members: ["U02CCC"]
        rotate_every: 1w
        handoff: "09:00"
        start: 2026-01-05
        timezone: Asia/Shanghai
"""


def test_rotation_loads_from_yaml():
    team = TeamRotation.model_validate(yaml.safe_load(ROTATION_YAML))

    assert [tier.name for tier in team.tiers] == ["1st line", "2nd line"]
    assert team.tiers[0].layers[0].active.to.hour == 21
    assert escalation_chain(team, utc(2026, 1, 6, 3)).steps[0].user == "@bob"


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("timezone", "Asia/Shangai", "'Asia/Shangai' is not a valid IANA time zone"),
        ("timezone", "asia/shanghai", "'asia/shanghai' is not a valid IANA time zone"),
        ("timezone", "../etc/passwd", "is not a valid IANA time zone"),
        ("rotate_every", "2 weeks", "'2 weeks' is not a rotation period"),
        ("rotate_every", "0d", "'0d' is not a rotation period"),
        ("rotate_every", 7, "7 is not a rotation period"),
        ("handoff", "25:00", "'25:00' is not a time of day"),
        ("handoff", "9am", "'9am' is not a time of day"),
        ("handoff", 1260, "got the number 1260"),  # what YAML makes of an unquoted 21:00
        ("members", [], "at least 1 item"),
    ],
)
def test_invalid_layer_config_error_names_the_bad_value(field, value, expected):
    with pytest.raises(ValidationError, match=expected) as error:
        make_layer(**{field: value})
    assert field in str(error.value)


def test_unknown_config_keys_are_rejected():
    with pytest.raises(ValidationError, match="rotate_evry"):
        make_layer(rotate_evry="1w")


def test_empty_active_window_is_rejected():
    with pytest.raises(ValidationError, match="is empty"):
        make_layer(active={"from": "09:00", "to": "09:00"})


def test_layer_round_trips_through_model_dump():
    layer = make_layer(active=NIGHT)
    assert Layer.model_validate(layer.model_dump(by_alias=True, mode="json")) == layer


def test_duplicate_tier_names_are_rejected():
    with pytest.raises(ValidationError, match="repeated: 1st line"):
        TeamRotation.model_validate({"tiers": [{"name": "1st line", "layers": [layer_dict()]}] * 2})


# --- /oncall as the reader sees it --------------------------------------------------------------


def rendered(lang: str, tz: str = "Asia/Shanghai") -> str:
    """The mrkdwn Slack gets for /oncall on Tuesday 2026-11-24 10:00 in Shanghai."""
    from bot.oncall.render import oncall_blocks

    team = rotation([layer_dict(members=["UALICE", "UBOB"], rotate_every="1w", start="2026-11-23",
                                timezone="Asia/Shanghai")])
    blocks = oncall_blocks("ml", on_call(team, utc(2026, 11, 24, 2)), lang, tz)
    return slack_text(blocks)


def test_oncall_in_chinese_shows_chinese_dates_and_no_english_weekday():
    shown = rendered("zh-CN")

    assert "2026年11月30日 周一 09:00" in shown  # the next weekly handoff, 09:00 Shanghai
    assert not re.search(r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\b", shown)


def test_oncall_in_english_keeps_weekday_and_iso_date():
    shown = rendered("en", tz="America/Los_Angeles")

    assert "until Sun 2026-11-29 17:00" in shown  # 09:00 Shanghai on Monday is Sunday evening in LA


def test_oncall_mentions_the_people_on_call_so_slack_shows_their_names():
    shown = rendered("en")

    assert "<@UALICE>" in shown and "<@UBOB>" in shown
