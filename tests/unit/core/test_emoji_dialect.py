"""The emoji dialect: what the bot understands from reactions and typed emoji, and when combos fire."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.emoji.combos import ComboEngine
from bot.emoji.dialect import ActionRegistry, Dialect, EmojiConfig
from bot.settings import ConfigError, load_config
from bot.store.db import make_engine, migrate, session_factory
from bot.store.models import ComboFire

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TS = "1700000000.000100"


def dialect(**emoji: object) -> Dialect:
    return Dialect(EmojiConfig.model_validate(emoji))


def actions(combos: list) -> list[str]:
    return sorted(combo.action for combo in combos)


# --- Slack reaction names → canonical emoji -------------------------------------------------------

@pytest.mark.parametrize(("reaction", "expected"), [
    ("fire", "🔥"),
    ("boom", "💥"),
    ("collision", "💥"),
    ("+1", "👍"),
    ("thumbsup", "👍"),
    ("thumbsup::skin-tone-2", "👍"),
    ("+1::skin-tone-6", "👍"),
    ("octagonal_sign", "🛑"),
    ("money_with_wings", "💸"),
    ("hammer", "🔨"),
    ("zap", "⚡"),
    ("eyes", "👀"),
    ("white_check_mark", "✅"),
    (":fire:", "🔥"),
])
def test_slack_reaction_names_mean_the_same_emoji_as_the_unicode_character(reaction: str,
                                                                            expected: str) -> None:
    assert dialect().canonical(reaction) == expected


def test_a_teams_custom_emoji_counts_as_the_emoji_it_is_mapped_to() -> None:
    team = dialect(custom={"this-is-fine": "🔥", "money-fire": ":money_with_wings:"})

    assert team.canonical("this-is-fine") == "🔥"
    assert team.canonical(":this-is-fine:") == "🔥"
    assert team.canonical("This-Is-Fine") == "🔥"  # Slack emoji names are case-insensitive
    assert team.canonical("money-fire") == "💸"


def test_a_custom_emoji_name_is_unknown_to_a_team_that_did_not_map_it() -> None:
    assert dialect().canonical("this-is-fine") is None


@pytest.mark.parametrize("name", ["definitely_not_an_emoji", "partyparrot", "", "   "])
def test_reaction_names_nobody_defined_are_ignored(name: str) -> None:
    assert dialect().canonical(name) is None


@pytest.mark.parametrize(("character", "expected"), [
    ("❤️", "❤"),          # variation selector dropped
    ("👍🏽", "👍"),          # skin tone dropped
    ("🧑🏽‍💻", "🧑‍💻"),     # skin tone dropped inside a ZWJ sequence, sequence kept
])
def test_unicode_emoji_are_compared_without_skin_tone_or_presentation(character: str, expected: str) -> None:
    assert dialect().canonical(character) == expected


# --- emoji in message text ------------------------------------------------------------------------

def test_typed_emoji_are_found_in_the_order_they_were_written() -> None:
    found = dialect().in_text("ok ❤️ then 👍🏽 :fire: by 🧑‍💻 and :boom: and :thumbsup::skin-tone-3:")

    assert found == ["❤", "👍", "🔥", "🧑‍💻", "💥", "👍"]


def test_zwj_sequences_in_text_stay_one_emoji() -> None:
    assert dialect().in_text("family 👨‍👩‍👧 and coder 🧑‍💻") == ["👨‍👩‍👧", "🧑‍💻"]


def test_custom_shortcodes_in_text_are_understood() -> None:
    team = dialect(custom={"this-is-fine": "🔥"})

    assert team.in_text("everything is :this-is-fine: :boom:") == ["🔥", "💥"]


def test_text_without_emoji_or_with_unknown_shortcodes_yields_nothing() -> None:
    assert dialect().in_text("deploy at 10:30 please, see :no-such-emoji-here:") == []


# --- combos ----------------------------------------------------------------------------------------

def test_the_default_dialect_has_the_three_team_combos() -> None:
    d = dialect()

    assert actions(d.completed(["🔥", "💥"])) == ["open_incident"]
    assert actions(d.completed(["💥", "🔥"])) == ["open_incident"]  # either order
    assert actions(d.completed(["💸", "🔥"])) == ["spend_check"]
    assert actions(d.completed(["🔨", "⚡"])) == ["degraded"]


def test_half_a_combo_does_nothing() -> None:
    d = dialect()

    for alone in ("🔥", "💥", "💸", "🔨", "⚡", "🛑", "👀"):
        assert d.completed([alone]) == []


def test_every_combo_whose_emoji_are_all_present_fires() -> None:
    assert actions(dialect().completed(["💸", "🔥", "💥"])) == ["open_incident", "spend_check"]


def test_combos_configured_with_shortcodes_match_reactions_and_typed_emoji() -> None:
    d = dialect(combos=[{"emoji": [":fire:", ":boom:"], "action": "open_incident"},
                        {"emoji": [":rotating_light:"], "action": "page"}])

    assert actions(d.completed([d.canonical("fire"), d.canonical("collision")])) == ["open_incident"]
    assert actions(d.completed(d.in_text("🔥💥"))) == ["open_incident"]
    assert actions(d.completed(d.in_text("🚨"))) == ["page"]


def test_a_team_can_replace_the_default_combos() -> None:
    d = dialect(combos=[{"emoji": ["🐛", "🔥"], "action": "bug_fire"}])

    assert d.completed(["🔥", "💥"]) == []
    assert actions(d.completed(["🔥", "🐛"])) == ["bug_fire"]


def test_combos_can_use_the_teams_custom_emoji() -> None:
    d = dialect(custom={"this-is-fine": "🔥"},
                combos=[{"emoji": [":this-is-fine:", ":boom:"], "action": "open_incident"}])

    assert actions(d.completed([d.canonical("fire"), d.canonical("boom")])) == ["open_incident"]


def test_single_emoji_signals_follow_config() -> None:
    d = dialect(acknowledge=[":eyes:", "🙋"])

    assert d.means(d.canonical("eyes"), "acknowledge")
    assert d.means("🙋", "acknowledge")
    assert d.means(d.canonical("octagonal_sign"), "shutdown")
    assert not d.means(d.canonical("fire"), "acknowledge")
    assert not d.means(None, "resolve")


def test_a_combo_emoji_nobody_can_resolve_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"':not-an-emoji-anywhere:'"):
        dialect(combos=[{"emoji": [":fire:", ":not-an-emoji-anywhere:"], "action": "x"}])


def test_a_custom_emoji_mapped_to_nonsense_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'definitely not an emoji'"):
        dialect(custom={"party": "definitely not an emoji"})


def write(tmp_path: Path, config: dict) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def test_starting_with_an_unknown_combo_emoji_names_the_file_the_key_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, {"emoji": {"combos": [{"emoji": [":fire:", ":typo-boom:"], "action": "x"}]}})

    with pytest.raises(ConfigError) as error:
        load_config(path)

    message = str(error.value)
    assert str(path) in message
    assert "emoji.combos[0].emoji[1]" in message
    assert "':typo-boom:'" in message
    assert "expected an emoji" in message


def test_starting_with_a_custom_emoji_mapped_to_nonsense_names_the_custom_name(tmp_path: Path) -> None:
    path = write(tmp_path, {"emoji": {"custom": {"party": "not an emoji"}}})

    with pytest.raises(ConfigError, match=r"emoji\.custom\.party = 'not an emoji'"):
        load_config(path)


def test_starting_with_an_unknown_signal_emoji_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"emoji\.acknowledge\[1\] = ':nope-nope:'"):
        load_config(write(tmp_path, {"emoji": {"acknowledge": [":eyes:", ":nope-nope:"]}}))


# --- ComboEngine against a real SQLite database ---------------------------------------------------

class Harness:
    """A ComboEngine on a fresh migrated SQLite file, with a frozen clock."""

    def __init__(self, database: Path, **emoji: object) -> None:
        self.engine = make_engine("sqlite:///" + str(database))
        migrate(self.engine)
        self.factory = session_factory(self.engine)
        self.clock = FrozenClock(START)
        self.combos = ComboEngine(self.factory, dialect(**emoji), ActionRegistry(), self.clock)

    def react(self, reaction: str, user: str, ts: str = TS, channel: str = "CINC") -> list[str]:
        return [fired.action for fired in self.combos.reaction_added(channel, ts, reaction, user)]

    def fires_recorded(self) -> int:
        with self.factory() as session:
            return session.scalar(select(func.count()).select_from(ComboFire)) or 0


MakeHarness = Callable[..., Harness]


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[MakeHarness]:
    made: list[Harness] = []

    def make(**emoji: object) -> Harness:
        made.append(Harness(tmp_path / f"combos-{len(made)}.db", **emoji))
        return made[-1]

    yield make
    for h in made:
        h.engine.dispose()


def test_fire_then_boom_from_two_people_opens_one_incident(harness: MakeHarness) -> None:
    h = harness()

    assert h.react("fire", "UALICE") == []
    h.clock.advance(timedelta(minutes=2))
    assert h.react("boom", "UBOB") == ["open_incident"]
    assert h.fires_recorded() == 1


def test_boom_before_fire_also_opens_the_incident(harness: MakeHarness) -> None:
    h = harness()

    assert h.react("collision", "UALICE") == []
    assert h.react("fire", "UBOB") == ["open_incident"]


def test_a_third_person_piling_on_does_not_open_a_second_incident(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")
    assert h.react("boom", "UBOB") == ["open_incident"]

    h.clock.advance(timedelta(seconds=30))
    assert h.react("fire", "UCAROL") == []
    assert h.react("boom", "UDAVE") == []
    assert h.fires_recorded() == 1


def test_the_same_combo_on_another_message_fires_again(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE", ts="1.1")
    assert h.react("boom", "UBOB", ts="1.1") == ["open_incident"]

    h.react("fire", "UALICE", ts="2.2")
    assert h.react("boom", "UBOB", ts="2.2") == ["open_incident"]


def test_reactions_further_apart_than_ten_minutes_do_not_combine(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")

    h.clock.advance(timedelta(minutes=10, seconds=1))
    assert h.react("boom", "UBOB") == []
    assert h.fires_recorded() == 0


def test_reactions_just_inside_ten_minutes_combine(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")

    h.clock.advance(timedelta(minutes=9, seconds=59))
    assert h.react("boom", "UBOB") == ["open_incident"]


def test_a_configured_window_of_30s_is_respected(harness: MakeHarness) -> None:
    slow = harness(window="30s")
    slow.react("fire", "UALICE")
    slow.clock.advance(timedelta(seconds=31))
    assert slow.react("boom", "UBOB") == []

    quick = harness(window="30s")
    quick.react("fire", "UALICE")
    quick.clock.advance(timedelta(seconds=29))
    assert quick.react("boom", "UBOB") == ["open_incident"]


def test_a_fresh_reaction_can_complete_a_combo_with_a_recent_partner(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")
    h.clock.advance(timedelta(minutes=11))
    assert h.react("boom", "UBOB") == []  # the old 🔥 is stale

    h.clock.advance(timedelta(minutes=1))
    assert h.react("fire", "UCAROL") == ["open_incident"]  # but the 💥 is recent


def test_removing_a_reaction_before_its_partner_arrives_prevents_the_combo(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")
    h.combos.reaction_removed("CINC", TS, "fire", "UALICE")

    assert h.react("boom", "UBOB") == []
    assert h.fires_recorded() == 0


def test_removing_someone_elses_reaction_does_not_cancel_yours(harness: MakeHarness) -> None:
    h = harness()
    h.react("fire", "UALICE")
    h.react("fire", "UBOB")
    h.combos.reaction_removed("CINC", TS, "fire", "UBOB")

    assert h.react("boom", "UCAROL") == ["open_incident"]


def test_a_custom_reaction_completes_a_combo(harness: MakeHarness) -> None:
    h = harness(custom={"this-is-fine": "🔥"})
    h.react("this-is-fine", "UALICE")

    assert h.react("boom", "UBOB") == ["open_incident"]


def test_reactions_outside_every_combo_are_ignored(harness: MakeHarness) -> None:
    h = harness()

    assert h.react("tada", "UALICE") == []
    assert h.react("not-an-emoji", "UALICE") == []


def test_typed_fire_boom_opens_one_incident_even_when_the_message_is_delivered_twice(
        harness: MakeHarness) -> None:
    h = harness()

    first = h.combos.message("CINC", "1.5", "prod is down 🔥💥", "UALICE")
    again = h.combos.message("CINC", "1.5", "prod is down 🔥💥", "UALICE")

    assert [(c.action, c.source, c.text) for c in first] == [("open_incident", "text", "prod is down 🔥💥")]
    assert again == []
    assert h.fires_recorded() == 1


def test_typed_shortcodes_fire_like_unicode_emoji(harness: MakeHarness) -> None:
    h = harness()

    fired = h.combos.message("CINC", "1.6", "burning cash :money_with_wings: :fire:", "UALICE")

    assert [c.action for c in fired] == ["spend_check"]


def test_reacting_to_a_message_that_already_fired_from_text_does_not_fire_again(
        harness: MakeHarness) -> None:
    h = harness()
    assert [c.action for c in h.combos.message("CINC", "1.7", "🔥💥", "UALICE")] == ["open_incident"]

    h.react("fire", "UBOB", ts="1.7")
    assert h.react("boom", "UCAROL", ts="1.7") == []


def test_a_fired_combo_runs_its_registered_action(harness: MakeHarness) -> None:
    h = harness()
    ran: list[str] = []
    h.combos.actions.register("open_incident", lambda context: ran.append(context.user))

    h.react("fire", "UALICE")
    (fired,) = h.combos.reaction_added("CINC", TS, "boom", "UBOB")

    assert h.combos.run(fired) is True
    assert ran == ["UBOB"]
    assert fired.emoji == ("🔥", "💥")
    assert fired.source == "reaction"


def test_a_fired_combo_without_a_handler_reports_false(harness: MakeHarness) -> None:
    h = harness()
    h.react("hammer", "UALICE")
    (fired,) = h.combos.reaction_added("CINC", TS, "zap", "UBOB")

    assert fired.action == "degraded"
    assert h.combos.run(fired) is False


def test_colons_inside_words_and_times_are_not_shortcodes() -> None:
    from bot.emoji.dialect import Dialect, EmojiConfig

    dialect = Dialect(EmojiConfig())
    assert dialect.in_text("a:b:c at 12:30:00, ratio 1:100:1") == []
    assert dialect.in_text(":fire::boom: again") == ["🔥", "💥"]


# --- typed combos fire only when their emoji stand together ---------------------------------------

def typed(h: Harness, text: str, ts: str = "2.1") -> list[str]:
    """What a message posted in the team channel fires."""
    return [fired.action for fired in h.combos.message("CINC", ts, text, "UALICE")]


@pytest.mark.parametrize("text", [
    "🔥💥",
    "💥🔥",
    "💥+🔥",
    "🔥 + 💥",
    ":fire: :boom:",
    ":fire::boom:",
    ":boom:+:fire:",
    "🔥🔥💥",                               # repeated emoji in the run
    "🔥👀💥",                               # an extra emoji in the run
    "🔥🏽💥",                               # a stray skin tone
    "🔥\ufe0f💥",                           # a stray variation selector
    "🔥\u3000💥",                           # ideographic space
    "💥＋🔥",                               # full-width plus, as Chinese input methods type it
    "🔥\n💥",
    "deploy失败 🔥💥 checkout down",
    "支付服务挂了💥+🔥",
    "checkout is down :fire: :boom: please look",
    "🔥 is hot, and now for real: 🔥💥",    # a scattered mention does not spoil a real run
])
def test_emoji_typed_together_open_an_incident(harness: MakeHarness, text: str) -> None:
    assert typed(harness(), text) == ["open_incident"]


@pytest.mark.parametrize("text", [
    "FYI: to open an incident, react with :fire: and :boom: on the message",
    "react with :fire: and :boom:",
    "🔥 is hot and 💥 is loud",
    "🔥, 💥",
    "🔥/💥",
    "🔥 是火，💥 是爆炸",
    "deploy失败🔥了，然后💥",
    "🔥 `+` 💥",
])
def test_emoji_scattered_through_a_sentence_open_nothing(harness: MakeHarness, text: str) -> None:
    h = harness()

    assert typed(h, text) == []
    assert h.fires_recorded() == 0


def test_a_sentence_explaining_the_spend_combo_does_not_run_a_spend_check(harness: MakeHarness) -> None:
    assert typed(harness(), "send :money_with_wings: when we overspend, :fire: when it is urgent") == []


def test_the_teams_custom_emoji_count_as_emoji_of_a_run(harness: MakeHarness) -> None:
    h = harness(custom={"this-is-fine": "🔥"})

    assert typed(h, "everything is :this-is-fine::boom:", ts="3.1") == ["open_incident"]
    assert typed(h, ":this-is-fine: + 💥", ts="3.2") == ["open_incident"]
    assert typed(h, "this is :this-is-fine: and that is :boom:", ts="3.3") == []


def test_an_unmapped_custom_emoji_inside_a_run_does_not_break_it(harness: MakeHarness) -> None:
    assert typed(harness(), "🔥:partyparrot:💥") == ["open_incident"]


def test_two_runs_fire_two_different_combos(harness: MakeHarness) -> None:
    assert sorted(typed(harness(), "prod 🔥💥 and the bill 💸🔥")) == ["open_incident", "spend_check"]


@pytest.mark.parametrize("text", [
    "ðŸ”¥ðŸ’¥ éƒ¨ç½²å¤±è´¥ checkout",            # "🔥💥 部署失败" read with the wrong encoding
    "é\x83¨ç½²å¤±è´¥ \ufffd\ufffd :fire",
    "\ud83d half a surrogate pair \udca5",
    "\x00\x01 :: ::: :+: 🔥\x00💥",
    "",
])
def test_mojibake_and_broken_text_open_nothing_and_do_not_crash(harness: MakeHarness, text: str) -> None:
    assert typed(harness(), text) == []


def test_a_run_is_reported_once_however_it_is_spelled() -> None:
    d = dialect(custom={"this-is-fine": "🔥"})

    assert d.typed_runs("ok 🔥 💥, then ✅") == [{"🔥", "💥"}, {"✅"}]
    assert d.typed_runs("👍🏽👍 :this-is-fine: and 🧑‍💻") == [{"👍", "🔥"}, {"🧑‍💻"}]
    assert d.typed_runs("no emoji at 12:30:00") == []


def test_reactions_still_combine_from_anywhere_because_they_carry_no_text(harness: MakeHarness) -> None:
    h = harness()
    assert typed(h, "react with :fire: and :boom:", ts=TS) == []

    h.react("fire", "UALICE")
    assert h.react("boom", "UBOB") == ["open_incident"]
