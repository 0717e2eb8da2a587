"""What a Slack user reads in what the bot sent: the one way tests turn payloads and blocks into text.

    slack_text(slack.calls("response_url"))  # every reply to the slash command
    slack_text(page)                         # one recorded call (a DM, a post, an ephemeral, an update)
    slack_text(gpu_blocks(summary, "en"))    # rendered Block Kit

The text is as the bot wrote it, mrkdwn and all (`<@UDRI1>`, `*bold*`, `&lt;`), so a test can tell a real
mention from a name typed as text. Not `bot.render.text.blocks_to_text`: that turns mentions into names and
drops the bold for the local shell, which would hide exactly what these tests check.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from tests.support.slack_recorder import Call

# Keys whose string values a reader sees: text objects and message text, image alt text, file titles and comments.
_VISIBLE = frozenset({"text", "alt_text", "title", "initial_comment"})


def slack_text(*sources: Any) -> str:
    """Every text a reader sees in `sources`, one per line, in order.

    A source is a recorded Call, a call's parameters, a block or a list of blocks, or a list of any of these;
    blocks, attachments and views that Slack form parameters carry as JSON strings are read too. A message's
    `text` (its notification) and the texts of its blocks are both there.
    """
    return "\n".join(_texts(list(sources)))


def _texts(value: Any) -> Iterator[str]:
    if isinstance(value, Call):
        yield from _texts(value.params)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key in _VISIBLE and isinstance(item, str):
                yield item
            else:
                yield from _texts(decoded(item))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _texts(item)


def decoded(value: Any) -> Any:
    """A JSON array or object inside a form parameter, decoded; anything else as it is."""
    if isinstance(value, str) and value.lstrip().startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
