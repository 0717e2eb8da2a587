"""A clean, short incident title from whatever message text Slack hands us."""

from __future__ import annotations

import re

import emoji as emoji_lib
import ftfy

from bot.escape import strip_markup

_SHORTCODE = re.compile(r":[a-z0-9_+\-']+:", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
# Control characters, and the bidi controls that would turn the rest of a line around ("\u202e" reverses
# "Incident #3: " and all that follows the title), as spaces.
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def mentioned_users(text: str, limit: int = 20) -> list[str]:
    return list(dict.fromkeys(MENTION.findall(text[:20000])))[:limit]


def clean_title(text: str, names: dict[str, str] | None = None, limit: int = 80) -> str:
    """Repair mojibake, resolve mentions to names, drop markup and emoji, cut at a word boundary."""
    text = ftfy.fix_text(text[:20000])
    text = strip_markup(text, names)
    text = emoji_lib.replace_emoji(_SHORTCODE.sub(" ", text), replace=" ")
    text = _SPACE.sub(" ", _INVISIBLE.sub(" ", text)).strip(" -–—:·")
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    boundary = cut.rfind(" ")
    if boundary > limit // 2:
        cut = cut[:boundary]
    return cut.rstrip(" ,.;:") + "…"


def slug(title: str, limit: int = 40) -> str:
    """Slack channel names: lowercase ASCII letters, digits and hyphens."""
    ascii_words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    return (ascii_words[:limit].rstrip("-")) or "incident"
