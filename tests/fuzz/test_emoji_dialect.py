"""The emoji dialect under hostile message text (issue #13): 10,000 generated texts through the dialect, then 🔥💥
messages whose text is a corpus item (or generated) end to end through the real Bolt app.

Targets: `bot.emoji.dialect.Dialect` (`canonical`, `in_text`, `typed_runs`, `typed_combos`, `strip_modifiers`)
with the default combos and a team's custom names; `bot.emoji.combos.ComboEngine.message` behind the `message`
event (handlers/messages.py), and what a fired 🔥💥 does: `IncidentDesk.open` with the message text as the
title (bot/incidents/titles.py `clean_title`, `slug`) and the incident channel named from it.

Invariants: nothing raises; every emoji the dialect reports is canonical (no skin tone, no variation selector)
and a real emoji or a configured one; a combo fires only when all its emoji stand in one run, and 🔥💥 on a line
of its own fires whatever surrounds it; end to end, the incident opened has a title of at most
incidents.title_max_chars without Slack markup, a channel name Slack takes, and every payload keeps the
invariants of tests/fuzz/invariants.py (no broadcast, no foreign mention, valid Block Kit, no traceback).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import emoji as emoji_lib
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.emoji.dialect import Dialect, EmojiConfig, strip_modifiers
from tests.fuzz.corpus import EMOJI, NASTIES
from tests.fuzz.harness import EN_USER, READERS, ZH_USER, FuzzBot, crashes, fuzz, tally
from tests.fuzz.invariants import sent_problems
from tests.fuzz.strategies import hostile_text, nasty, short_nasty, token

DIALECT = Dialect(EmojiConfig(custom={"this-is-fine": "🔥", "money-fire": ":money_with_wings:"}))
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # bidi overrides turn a line around
MODIFIERS = frozenset("\ufe0e\ufe0f") | {chr(c) for c in range(0x1F3FB, 0x1F400)}
COMBO_EMOJI = ["🔥", "💥", "🔨", "⚡", "💸", "👀", "✅", ":fire:", ":boom:", ":this-is-fine:", "🔥🏽", "💥\ufe0f",
               " + ", "＋", "\u200d", "\n"]
emoji_text = st.lists(st.sampled_from(COMBO_EMOJI) | st.sampled_from(sorted(EMOJI.values())) | token,
                      max_size=8).map("".join)


def dialect_problems(text: str) -> list[str]:
    found = []
    for emoji in DIALECT.in_text(text):
        found += [f"{emoji!r} is not canonical"] if set(emoji) & MODIFIERS or not emoji_lib.is_emoji(emoji) else []
    runs, fired = DIALECT.typed_runs(text), DIALECT.typed_combos(text)
    for combo, needed in DIALECT.combos:
        if any(needed <= run for run in runs) != (combo in fired):
            found.append(f"{combo.key} {'fired without' if combo in fired else 'did not fire despite'} its emoji in"
                         f" one run: {runs}")
    for word in text.split()[:20]:  # as a reaction name, a :shortcode: or a configured emoji
        canonical = DIALECT.canonical(word)
        if canonical is not None and not (emoji_lib.is_emoji(canonical) and DIALECT.canonical(canonical) == canonical):
            found.append(f"canonical({word!r}) = {canonical!r} is no canonical emoji")
    if set(strip_modifiers(text)) & MODIFIERS:
        found.append("strip_modifiers left a modifier")
    return found


# The first 2,000 characters of the corpus' long items: the dialect reads text a character at a time, and the 40 KB
# ones go whole through the end-to-end cases below.
@fuzz()
@given(text=(emoji_text | hostile_text | nasty).map(lambda text: text[:2000]),
       before=st.text(max_size=10) | short_nasty, after=st.text(max_size=10))
@example(text="🔥\u200d💥", before="", after="")
@example(text="on:fire: :fire::boom:", before="", after="")  # read as "🔛fire:" and as 🔥 alone
@example(text="🏻", before="", after="")  # a skin tone alone: is_emoji says yes, and it strips to nothing
def test_the_dialect_reads_any_text(text: str, before: str, after: str) -> None:
    tally("emoji dialect")
    assert dialect_problems(text) == []
    alone = f"{before}\n🔥💥\n{after}"
    assert "open_incident" in {combo.action for combo in DIALECT.typed_combos(alone)}, alone


@pytest.mark.parametrize("text", ["🔥 is hot, and 💥 is loud", ":fire: then :boom:", "🔥 ok 💥"])
def test_emoji_scattered_through_a_sentence_fire_nothing(text: str) -> None:
    assert DIALECT.typed_combos(text) == []


# End to end: 🔥💥 messages open incidents ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzBot]:
    """No storm guard: every 🔥💥 opens its own incident, so every title and channel name is checked."""
    made = FuzzBot(tmp_path_factory.mktemp("fuzz"), incidents={"storm_window": "0s"})
    yield made
    made.close()


def fire(bot: FuzzBot, text: str, user: str, channel: str) -> list[str]:
    """`text` as a message in `channel`; every problem with the incident it opens and what was sent."""
    with crashes() as errors:
        response = bot.message(text, user, channel)
    found = [] if response.status == 200 else [f"HTTP {response.status}"]
    found += errors + sent_problems(bot.slack.calls(), user, READERS[user], bot.typed)
    if "open_incident" in {combo.action for combo in DIALECT.typed_combos(text)}:
        found += opened_problems(bot)
    return [f"{text[:80]!r} by {user} in {channel}: {problem}" for problem in found]


def opened_problems(bot: FuzzBot) -> list[str]:
    created = bot.slack.calls("conversations.create")
    if not created:
        return ["🔥💥 opened no incident channel"]
    incident = bot.services.incidents.in_channel(created[-1].response["channel"]["id"])
    if incident is None:
        return ["no incident in the channel created"]
    limit = bot.services.config.incidents.title_max_chars
    found = [] if 0 < len(incident.title) <= limit else [f"title of {len(incident.title)} characters"]
    found += [f"control or bidi characters in the title {incident.title!r}"] if CONTROL.search(incident.title) else []
    return found


@pytest.mark.parametrize("item", sorted(NASTIES))
def test_a_fire_boom_message_of_every_corpus_item(bot: FuzzBot, item: str) -> None:
    user = ZH_USER if sorted(NASTIES).index(item) % 2 else EN_USER
    problems = fire(bot, f"🔥💥 {NASTIES[item]}", user, "CZH" if user == ZH_USER else "CTEAM")
    assert problems == [], "\n".join(problems)


@fuzz(share=0.005)
@given(title=hostile_text | emoji_text, user=st.sampled_from(sorted(READERS)),
       channel=st.sampled_from(["CTEAM", "CZH", "CNOTEAM"]))
def test_generated_fire_boom_messages_through_the_bolt_app(bot: FuzzBot, title: str, user: str, channel: str) -> None:
    tally("🔥💥 messages end to end")
    problems = fire(bot, f"{title}\n🔥💥", user, channel)
    assert problems == [], "\n".join(problems)
