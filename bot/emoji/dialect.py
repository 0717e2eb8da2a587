"""A team's emoji dialect: reactions and typed emoji → canonical emoji → the actions they fire.

Canonical form is the Unicode emoji without variation selectors or skin tones (🔥, 👍, 🧑‍💻).
Slack reaction names (`fire`, `+1`, `thumbsup::skin-tone-2`), `:shortcodes:` in text, Unicode emoji in
text, and the team's own custom emoji names (mapped in config) all normalise to it.

A typed combo fires only when its emoji stand together: one run of emoji separated by nothing but
whitespace and `+` ("🔥💥", "💥 + 🔥", ":fire::boom:"), never emoji scattered through a sentence.

The `emoji` section of the config (`EmojiConfig`, its `Combo`s) is defined here, next to the dialect that
checks it (`emoji_config_problems`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import emoji as emoji_lib
from emoji.tokenizer import get_search_tree
from pydantic import Field

from bot.config_types import Duration, Strict, clipped, shown

# The emoji library builds its search tree on first use, in place and without a lock: a message read by another
# thread meanwhile misses its emoji (a 🔥💥 opens nothing). Built here, once, before any listener thread runs.
get_search_tree()
SIGNALS = ("acknowledge", "resolve", "pin", "shutdown", "noisy")  # single-emoji meanings (EmojiConfig fields)
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
_VARIATION_SELECTORS = {"\ufe0e", "\ufe0f"}
_NAME = re.compile(r"[a-z0-9_+\-']+")  # what Slack and the emoji package name an emoji with
_SKIN_TONE_SUFFIX = re.compile(r"::skin-tone-\d$")
_SHORTCODE = re.compile(r"(?<!\w):([a-z0-9_+\-']+)(?:::skin-tone-\d)?:(?!\w)", re.IGNORECASE)
# What may stand between two emoji of one typed run; modifiers are here because the emoji package
# leaves a stray variation selector or skin tone out of the match before it ("🔥\ufe0f💥").
_RUN_GLUE = frozenset("+\uff0b") | _SKIN_TONES | _VARIATION_SELECTORS  # \uff0b: full-width ＋ (CJK input)
# Names Slack uses that the emoji package spells differently.
_SLACK_NAMES = {"octagonal_sign": "🛑", "slightly_smiling_face": "🙂", "simple_smile": "🙂"}


class Combo(Strict):
    emoji: list[str] = Field(min_length=1)
    action: str
    name: str | None = None

    @property
    def key(self) -> str:
        return self.name or self.action


class EmojiConfig(Strict):
    window: Duration = timedelta(minutes=10)
    custom: dict[str, str] = {}
    combos: list[Combo] = [
        Combo(emoji=["🔥", "💥"], action="open_incident"),
        Combo(emoji=["🔨", "⚡"], action="degraded"),
        Combo(emoji=["💸", "🔥"], action="spend_check"),
    ]
    acknowledge: list[str] = ["👀"]
    resolve: list[str] = ["✅"]
    pin: list[str] = ["📌"]
    shutdown: list[str] = ["🛑"]
    noisy: list[str] = ["👎"]


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
        bare = strip_modifiers(value)
        if emoji_lib.is_emoji(bare) or emoji_lib.is_emoji(value):
            return bare or None  # a skin tone or variation selector alone is no emoji
        name = _SKIN_TONE_SUFFIX.sub("", value.strip(":")).lower()  # thumbsup::skin-tone-2 is 👍
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
        return [typed.emoji for typed in self._typed(text) if typed.emoji]

    def typed_runs(self, text: str) -> list[set[str]]:
        """The emoji typed together, one set per run: "ok 🔥 💥, then ✅" → [{🔥, 💥}, {✅}]."""
        runs: list[set[str]] = []
        previous_end: int | None = None
        for typed in self._typed(text):
            if previous_end is None or not _is_glue(text[previous_end:typed.start]):
                runs.append(set())
            if typed.emoji:
                runs[-1].add(typed.emoji)
            previous_end = typed.end
        return [run for run in runs if run]

    def typed_combos(self, text: str) -> list[Combo]:
        """The combos a message fires: those whose emoji all stand in one run (see typed_runs)."""
        runs = self.typed_runs(text)
        return [combo for combo, needed in self.combos if any(needed <= run for run in runs)]

    def _typed(self, text: str) -> list[_Typed]:
        found = [_Typed(m["match_start"], m["match_end"], strip_modifiers(m["emoji"]) or None)
                 for m in emoji_lib.emoji_list(text)]
        # An unmapped :shortcode: is still kept: in Slack it is some custom emoji, so it joins a run
        # ("🔥:partyparrot:💥") without counting as any emoji of ours.
        found += [_Typed(m.start(), m.end(), self.canonical(m.group(1)) or None) for m in _SHORTCODE.finditer(text)]
        return sorted(found, key=lambda typed: typed.start)

    def completed(self, present: Iterable[str]) -> list[Combo]:
        """The combos whose emoji are all present."""
        have = set(present)
        return [combo for combo, needed in self.combos if needed <= have]

    def involved(self, canonical: str) -> bool:
        return any(canonical in needed for _, needed in self.combos)

    def acts_on(self, event: dict[str, Any]) -> bool:
        """Whether a message or reaction event could fire a combo or carry a signal: what someone expects an answer
        to (and must be told about when the bot can't take it)."""
        if event.get("type") == "message":
            return bool(self.typed_combos(str(event.get("text") or "")))
        canonical = self.canonical(str(event.get("reaction") or "")) if event.get("type") == "reaction_added" else None
        return canonical is not None and (self.involved(canonical) or any(self.means(canonical, s) for s in SIGNALS))

    def means(self, canonical: str | None, signal: str) -> bool:
        """Whether an emoji carries a single-emoji signal: acknowledge, resolve, pin, shutdown or noisy."""
        if canonical is None:
            return False
        return canonical in {self._from_any(e) for e in getattr(self.config, signal)}


def emoji_config_problems(emoji: EmojiConfig) -> list[str]:
    """Every configured emoji the dialect cannot resolve, as `  key = value: expectation` lines."""
    plain = Dialect(EmojiConfig(custom={}, combos=[]))
    problems = [f"  emoji.custom.{clipped(name, 200)} = {shown(value)}: expected an emoji or a Slack name such as"
                " :fire:" for name, value in emoji.custom.items() if plain.canonical(str(value)) is None]
    if problems:
        return problems
    dialect = Dialect(emoji.model_copy(update={"combos": []}))
    expected = "expected an emoji, a Slack name such as :fire:, or a name defined under emoji.custom"
    for i, combo in enumerate(emoji.combos):
        problems += [f"  emoji.combos[{i}].emoji[{j}] = {shown(value)}: {expected}"
                     for j, value in enumerate(combo.emoji) if dialect.canonical(value) is None]
    for signal in ("acknowledge", "resolve", "pin", "shutdown", "noisy"):
        problems += [f"  emoji.{signal}[{i}] = {shown(value)}: {expected}"
                     for i, value in enumerate(getattr(emoji, signal)) if dialect.canonical(value) is None]
    return problems


@dataclass(frozen=True)
class _Typed:
    """One emoji typed in a message, where it stands; emoji is None for a custom emoji nobody mapped."""

    start: int
    end: int
    emoji: str | None


def _is_glue(gap: str) -> bool:
    return all(ch.isspace() or ch in _RUN_GLUE for ch in gap)


def _from_name(name: str) -> str | None:
    if name in _SLACK_NAMES:
        return _SLACK_NAMES[name]
    if not _NAME.fullmatch(name):  # "on:fire:" would emojize to "🔛fire:", ":fire::boom:" to 🔥 alone
        return None
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
