"""Every slash command end to end through the real Bolt app (in-process, real services, SQLite, the Slack recorder)
under hostile words (issue #13): every corpus item through every command (after a different subcommand for each
item), by an English and by a Chinese reader, then generated words (0.5% of the fuzz profile's cases, each through
all seven commands).

Targets: the seven commands of handlers/*.py COMMANDS tables as Slack sends them, with everything they do behind
the parsing: incidents opened and their channels created (`/incident declare <corpus item>`), notes, overrides,
quiet windows, digests, and the backends that are not configured here answering their clear "not configured".

Invariants, on every call the recorder saw: nothing crashed (no error logged, no error id), every payload is
valid Block Kit within Slack's limits, carries no traceback and no broadcast or foreign mention (also checked
session-wide by tests/support/payload_safety.py), replies are in the reader's language, channel names are ones
Slack takes; and every command was answered.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.corpus import NASTIES
from tests.fuzz.harness import CHANNELS, EN_USER, READERS, ZH_USER, FuzzBot, crashes, fuzz, tally
from tests.fuzz.invariants import SENDS, sent_problems
from tests.fuzz.strategies import SUBCOMMANDS, grammatical, hostile_text, words
from tests.support.slack_text import slack_text


def command(bot: FuzzBot, name: str, text: str, user: str, channel: str) -> list[str]:
    """The command through Bolt; every problem with what the bot did."""
    with crashes() as errors:
        response = bot.command(name, text, user, channel)
    calls = bot.slack.calls()
    found = [] if response.status == 200 else [f"HTTP {response.status}"]
    found += [] if any(call.method in SENDS for call in calls) else ["no reply and nothing posted"]
    found += errors + sent_problems(calls, user, READERS[user], bot.typed)
    return [f"{name} {text[:80]!r} by {user} in {channel}: {problem}" for problem in found]


@pytest.mark.parametrize("item", sorted(NASTIES))
def test_every_corpus_item_through_every_command(bot: FuzzBot, item: str) -> None:
    """The item after one subcommand of each command (the next one for the next item), or as the whole text."""
    index = sorted(NASTIES).index(item)
    user = ZH_USER if index % 2 else EN_USER
    channel = bot.incident_channel if index % 3 == 0 else "CTEAM"  # where /incident note, severity… act
    problems = [problem for name, subcommands in SUBCOMMANDS.items()
                for problem in command(bot, name, f"{subcommands[index % len(subcommands)]} {NASTIES[item]}", user,
                                       channel)]
    assert problems == [], "\n".join(problems)


@fuzz(share=0.005)
@given(case=grammatical | (words | hostile_text).map(lambda args: ("", "", args)), pick=st.integers(0, 11),
       user=st.sampled_from(sorted(READERS)), channel=st.sampled_from([*CHANNELS, "INCIDENT"]))
def test_generated_words_through_the_bolt_app(bot: FuzzBot, case: tuple[str, str, str], pick: int, user: str,
                                              channel: str) -> None:
    tally("commands end to end (7 commands each)")
    focus, focus_subcommand, args = case
    channel = bot.incident_channel if channel == "INCIDENT" else channel
    problems = []
    for name, subcommands in SUBCOMMANDS.items():
        subcommand = focus_subcommand if name == focus else subcommands[pick % len(subcommands)]
        problems += command(bot, name, f"{subcommand} {args}", user, channel)
    assert problems == [], "\n".join(problems)


def test_a_nul_typed_into_commands_is_stored_on_postgresql(pg_url: str,
                                                           tmp_path_factory: pytest.TempPathFactory) -> None:
    """PostgreSQL text can't hold U+0000: a note or a quiet window's reason with one must still be saved."""
    bot = FuzzBot(tmp_path_factory.mktemp("fuzz-pg"), database_url=pg_url)
    try:
        problems = command(bot, "/incident", "note disk\x00full", EN_USER, bot.incident_channel)
        problems += command(bot, "/alerts", "quiet ml-platform 1h node\x00upgrade", EN_USER, "CTEAM")
        said = slack_text(bot.slack.calls("response_url"))
    finally:
        bot.close()
    assert problems == [], "\n".join(problems)
    assert "Quiet window for `ml-platform`" in said
