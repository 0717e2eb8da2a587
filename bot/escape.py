"""Make user-supplied text inert before the bot posts it to Slack.

Slack's markup starts with `<` (`<!channel>`, `<@U123>`, `<https://…|label>`); escaping `&`, `<` and `>`
turns any of it back into plain text, so nobody can make the bot broadcast or spoof a mention.
We never send `link_names`, so a bare "@channel" in text stays text.
"""

from __future__ import annotations

import re

_MENTION = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")
_LINK = re.compile(r"<([^>|]+)(?:\|([^>]*))?>")
_BARE_AMPERSAND = re.compile(r"&(?!(?:amp|lt|gt);)")


class Markup(str):
    """Slack markup the bot built on purpose (a mention, a channel, a link): `t()` passes it through unescaped."""

    __slots__ = ()


def escape(text: str) -> str:
    """Idempotent: text escaped once is not escaped again, so the choke point can escape everything."""
    if isinstance(text, Markup):
        return text
    return _BARE_AMPERSAND.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


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


# Anything Slack might read as a broadcast, in any case: <!channel>, <!here|here>, the legacy <!group>…
_BROADCAST = re.compile(r"<!(?:channel|everyone|here|group|subteam\^)[^>]*>", re.IGNORECASE)
_LABELLED_MENTION = re.compile(r"<@([UW][A-Z0-9]+)\|[^>]*>")


def defuse(value: object, allow_here: bool = False) -> object:
    """Every string in an outgoing Slack payload, with broadcasts made inert and mention labels dropped.

    The last line of defence behind `t()`'s escaping, applied where the bot sends to Slack: only a loud
    announcement the bot itself composes may start with `<!here>`, and nothing else may broadcast.
    """
    if isinstance(value, str):
        return _defuse_text(value, allow_here)
    if isinstance(value, list):
        return [defuse(item, allow_here) for item in value]
    if isinstance(value, dict):
        return {key: defuse(item, allow_here) for key, item in value.items()}
    return value


def _defuse_text(text: str, allow_here: bool) -> str:
    def inert(match: re.Match[str]) -> str:
        if allow_here and match.start() == 0 and match.group(0) == "<!here>":
            return match.group(0)
        return escape(match.group(0))

    return _LABELLED_MENTION.sub(r"<@\1>", _BROADCAST.sub(inert, text))
