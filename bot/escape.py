"""Make user-supplied text inert before the bot posts it to Slack.

Slack's markup starts with `<` (`<!channel>`, `<@U123>`, `<https://…|label>`); escaping `&`, `<` and `>`
turns any of it back into plain text, so nobody can make the bot broadcast or spoof a mention.
We never send `link_names`, so a bare "@channel" in text stays text.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^>|]+)(?:\|([^>]*))?>")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_markup(text: str, names: dict[str, str] | None = None) -> str:
    """Slack message text → plain words: mentions become names, links their labels."""
    names = names or {}

    def mention(match: re.Match[str]) -> str:
        kind, target, label = match.groups()
        if kind == "@":
            return "@" + (names.get(target) or label or target)
        if kind == "#":
            return "#" + (label or target)
        command = target.split("^")[0]
        if command == "date":  # <!date^1392734382^{date}|Feb 18th> → its fallback text
            return label or ""
        return "@" + ((label or "").lstrip("@") or command)  # <!subteam^S1|@oncall> → @oncall

    text = _MENTION.sub(mention, text)
    text = _LINK.sub(lambda m: m.group(2) or m.group(1), text)
    return unescape(text)
