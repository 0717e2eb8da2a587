"""A team's emoji dialect: reactions and typed emoji → canonical emoji → the actions they fire.

Canonical form is the Unicode emoji without variation selectors or skin tones (🔥, 👍, 🧑‍💻).
Slack reaction names (`fire`, `+1`, `thumbsup::skin-tone-2`), `:shortcodes:` in text, Unicode emoji in
text, and the team's own custom emoji names (mapped in config) all normalise to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import emoji as emoji_lib

from bot.settings import Combo, EmojiConfig

_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
_VARIATION_SELECTORS = {"\ufe0e", "\ufe0f"}
_SHORTCODE = re.compile(r"(?<!\w):([a-z0-9_+\-']+)(?:::skin-tone-\d)?:(?!\w)", re.IGNORECASE)
# Names Slack uses that the emoji package spells differently.
_SLACK_NAMES = {"octagonal_sign": "🛑", "slightly_smiling_face": "🙂", "simple_smile": "🙂"}


def strip_modifiers(text: str) -> str:
    return "".join(ch for ch in text if ch not in _SKIN_TONES and ch not in _VARIATION_SELECTORS)


class Dialect:
    def __init__(self, config: EmojiConfig) -> None:
        self.config = config
        self.custom: dict[str, str] = {}  # canonical() reads it while the custom names are resolved
        self.custom = {name.strip(":").lower(): self._from_any(value)
                       for name, value in config.custom.items()}
        self.combos = [(combo, frozenset(self._from_any(e) for e in combo.emoji)) for combo in config.combos]

    def canonical(self, name_or_char: str) -> str | None:
        """One reaction name, `:shortcode:` or emoji character → canonical emoji (None if unknown)."""
        value = name_or_char.strip()
        if not value:
            return None
        if emoji_lib.is_emoji(strip_modifiers(value)) or emoji_lib.is_emoji(value):
            return strip_modifiers(value)
        name = value.strip(":").split("::", 1)[0].lower()
        if name in self.custom:
            return self.custom[name]
        return _from_name(name)

    def _from_any(self, value: str) -> str:
        found = self.canonical(value)
        if found is None:
            raise ValueError(f"expected an emoji or a :shortcode:, got {value!r}")
        return found

    def in_text(self, text: str) -> list[str]:
        """Every emoji in message text, Unicode or :shortcode:, canonical and in order of appearance."""
        found: list[tuple[int, str]] = [(m["match_start"], strip_modifiers(m["emoji"]))
                                        for m in emoji_lib.emoji_list(text)]
        for match in _SHORTCODE.finditer(text):
            canonical = self.canonical(match.group(1))
            if canonical:
                found.append((match.start(), canonical))
        return [e for _, e in sorted(found)]

    def completed(self, present: Iterable[str]) -> list[Combo]:
        """The combos whose emoji are all present."""
        have = set(present)
        return [combo for combo, needed in self.combos if needed <= have]

    def involved(self, canonical: str) -> bool:
        return any(canonical in needed for _, needed in self.combos)

    def means(self, canonical: str | None, signal: str) -> bool:
        """Whether an emoji carries a single-emoji signal: acknowledge, resolve, pin or shutdown."""
        if canonical is None:
            return False
        return canonical in {self._from_any(e) for e in getattr(self.config, signal)}


def _from_name(name: str) -> str | None:
    if name in _SLACK_NAMES:
        return _SLACK_NAMES[name]
    for language in ("alias", "en"):
        candidate = emoji_lib.emojize(f":{name}:", language=language)
        if candidate != f":{name}:":
            return strip_modifiers(candidate)
    return None


@dataclass(frozen=True)
class ComboContext:
    """What a combo action needs to know about where it fired."""

    action: str
    combo: str
    emoji: tuple[str, ...]
    channel: str
    message_ts: str
    user: str
    source: str  # "reaction" or "text"
    thread_ts: str | None = None
    text: str | None = None


ActionHandler = Callable[[ComboContext], None]


@dataclass
class ActionRegistry:
    """Domain modules register what a named action does; config decides which emoji fire it."""

    handlers: dict[str, ActionHandler] = field(default_factory=dict)

    def register(self, name: str, handler: ActionHandler) -> None:
        self.handlers[name] = handler

    def get(self, name: str) -> ActionHandler | None:
        return self.handlers.get(name)
