"""Nobody can make the bot broadcast or spoof a mention by putting Slack markup in their text."""

from __future__ import annotations

import json

import pytest

from bot.escape import Markup, defuse, escape, strip_markup, unescape


@pytest.mark.parametrize("spoof", ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U123|boss>",
                                   "<#C42|general>", "<!subteam^S1|@oncall>", "<https://evil.example|bank>"])
def test_slack_markup_in_user_text_cannot_reach_slack_as_markup(spoof: str) -> None:
    escaped = escape(f"title {spoof} end")

    assert "<" not in escaped and ">" not in escaped
    assert escaped == "title " + spoof.replace("<", "&lt;").replace(">", "&gt;") + " end"


def test_ampersands_are_escaped_and_entities_stay_entities_so_nothing_turns_into_markup() -> None:
    assert escape("R&D &lt;!channel&gt;") == "R&amp;D &lt;!channel&gt;"  # Slack shows "<!channel>" as text


def test_escaping_twice_is_escaping_once_so_every_layer_may_escape() -> None:
    once = escape("R&D <!channel> &amp; <@U1>")

    assert escape(once) == once == "R&amp;D &lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_markup_the_bot_builds_on_purpose_passes_through() -> None:
    assert escape(Markup("<@U1>")) == "<@U1>"


@pytest.mark.parametrize("hostile", ["<!channel>", "<!everyone>", "<!here>", "<!subteam^S1|@oncall>",
                                     "<!channel|channel>"])
def test_defuse_makes_every_broadcast_inert_wherever_it_hides_in_a_payload(hostile: str) -> None:
    payload = [{"type": "section", "text": {"type": "mrkdwn", "text": f"title {hostile}"}},
               {"type": "context", "elements": [{"type": "mrkdwn", "text": hostile}]}]

    assert "<!" not in json.dumps(defuse(payload))


def test_defuse_keeps_only_the_bots_own_leading_here_and_drops_mention_labels() -> None:
    assert defuse("<!here> incident #1: <!here> <@U1|boss>", allow_here=True) == \
        "<!here> incident #1: &lt;!here&gt; <@U1>"
    assert defuse("<!here> x") == "&lt;!here&gt; x"


def test_plain_text_and_bare_at_words_are_left_alone() -> None:
    assert escape("deploy @channel now, 100% 🔥") == "deploy @channel now, 100% 🔥"


def test_escaping_then_unescaping_gives_back_the_original() -> None:
    text = "a <b> & c && <!here>"

    assert unescape(escape(text)) == text


def test_user_mentions_become_display_names() -> None:
    text = "<@U123> paged <@U999|bob> and <@U404>"

    assert strip_markup(text, {"U123": "alice"}) == "@alice paged @bob and @U404"


def test_channel_mentions_become_channel_names() -> None:
    assert strip_markup("see <#C42|general> and <#C43>") == "see #general and #C43"


def test_links_become_their_labels_or_the_bare_url() -> None:
    text = "read <https://example.com/doc|the doc> or <https://example.com/raw> or <mailto:a@b.c|mail>"

    assert strip_markup(text) == "read the doc or https://example.com/raw or mail"


def test_special_mentions_become_plain_words() -> None:
    assert strip_markup("<!here> <!channel> <!everyone>") == "@here @channel @everyone"


def test_user_group_mentions_read_like_slack_shows_them() -> None:
    assert strip_markup("ping <!subteam^S123|@oncall> and <!subteam^S9>") == "ping @oncall and @subteam"


def test_dates_become_their_fallback_text() -> None:
    assert strip_markup("due <!date^1392734382^{date_short}|Feb 18, 2014> ok") == "due Feb 18, 2014 ok"


def test_slack_entities_are_unescaped_once() -> None:
    assert strip_markup("a &lt;b&gt; &amp;amp; c") == "a <b> &amp; c"
