"""Nobody can make the bot broadcast or spoof a mention by putting Slack markup in their text."""

from __future__ import annotations

import pytest

from bot.escape import escape, strip_markup, unescape


@pytest.mark.parametrize("spoof", ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<@U123|boss>",
                                   "<#C42|general>", "<!subteam^S1|@oncall>", "<https://evil.example|bank>"])
def test_slack_markup_in_user_text_cannot_reach_slack_as_markup(spoof: str) -> None:
    escaped = escape(f"title {spoof} end")

    assert "<" not in escaped and ">" not in escaped
    assert escaped == "title " + spoof.replace("<", "&lt;").replace(">", "&gt;") + " end"


def test_ampersands_are_escaped_so_entities_cannot_be_smuggled() -> None:
    assert escape("R&D &lt;!channel&gt;") == "R&amp;D &amp;lt;!channel&amp;gt;"


def test_plain_text_and_bare_at_words_are_left_alone() -> None:
    assert escape("deploy @channel now, 100% 🔥") == "deploy @channel now, 100% 🔥"


def test_escaping_then_unescaping_gives_back_the_original() -> None:
    text = "a <b> & c &amp; <!here>"

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
