"""What must hold for every payload the bot sends to Slack, whatever it was fed: `problems(payload, lang, typed)`.

- valid Block Kit within Slack's limits (tests/support/block_kit_limits.py);
- no broadcast and no mention the bot did not write (tests/support/payload_safety.py `unsafe_markup`: replies
  through a response_url the tests capture themselves never reach the recorder's session-wide check);
- nothing of a crash: no "Traceback", no exception class name, no source path or line number, no error id
  (the reply answering_failures gives when a handler raised something it did not expect);
- the reader's language: no phrase only the other catalog has (three English words in a row of an English
  template shown to a zh-CN reader; two Chinese characters of a Chinese template shown to an English one).

`typed` (a `Typed`) is everything people and senders supplied so far, the configured names and the data the bot
keeps from them (an incident title in its team's language): text the bot shows back from it is not held against it.
"""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

from bot.i18n import catalog
from tests.support.block_kit_limits import violations
from tests.support.payload_safety import unsafe_markup
from tests.support.slack_recorder import Call
from tests.support.slack_text import slack_text

# Bounded repeats only: a 5,000-character word must not make this quadratic.
_CRASH = re.compile(r"Traceback \(most recent call last\)|File \"[^\"\n]{1,300}\", line \d+|"
                    r"\b[A-Z][A-Za-z]{1,40}(?:Error|Exception)\b|[\w/-]{0,40}\.py\b|"
                    r"\b(?:sqlalchemy|psycopg|pydantic|slack_sdk|slack_bolt|botocore)\.\w+")
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_ENGLISH_WORD = re.compile(r"[A-Za-z]+")
_CJK = re.compile(r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]+")  # with CJK punctuation and full-width forms
_CODE = re.compile(r"`[^`]*`")


class Typed:
    """What was supplied, as the checks need it: the text, its English word runs, its pairs of Chinese characters."""

    def __init__(self, *texts: str) -> None:
        self.texts: list[str] = []
        self.runs: set[str] = set()
        self.pairs: set[str] = set()
        for text in texts:
            self.add(text)

    def add(self, text: str) -> None:
        """`text`, and when it is JSON (a button's value, a webhook), every string in it."""
        for each in [text, *_json_strings(text)]:
            self.texts.append(each)
            self.runs |= _trigrams(each)
            self.pairs |= _pairs(each)

    def __contains__(self, piece: str) -> bool:
        return any(piece in text for text in self.texts)


def _json_strings(text: str) -> list[str]:
    if not text.lstrip().startswith(("{", "[", '"')):
        return []
    try:
        stack = [json.loads(text)]
    except (ValueError, RecursionError):
        return []
    found = []
    while stack:  # not recursive: hostile JSON nests deeply
        value = stack.pop()
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
    return found


def problems(payload: Any, lang: str | None, typed: Typed) -> list[str]:
    """Everything wrong with one payload sent to Slack (a recorded Call or a response_url body) for a reader of
    `lang` (None: a post whose readers are not the person who typed), given what was typed."""
    params = getattr(payload, "params", payload)
    key = (json.dumps(params, sort_keys=True, default=str), lang)
    if key in _CLEAN:
        return []
    found = violations(payload) + unsafe_markup(params)
    text = slack_text(payload)
    found += foreign_phrases(text, lang, typed) if lang else []
    found += crash_traces(text, typed) + error_ids(text)
    if not found and len(_CLEAN) < 100_000:
        _CLEAN.add(key)
    return found


# Payloads found clean. What was typed only ever excuses text, so a payload clean once is clean whatever was typed
# (the same usage reply comes back thousands of times).
_CLEAN: set[tuple[str, str | None]] = set()


# What the bot sends that a person reads; the rest of its calls (users.info, conversations.history…) only ask.
SENDS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update",
                   "views.publish", "response_url"})
_CHANNEL_NAME = re.compile(r"^[a-z0-9_-]{1,80}$")  # Slack: lowercase letters, digits, - and _; at most 80


def sent_problems(calls: list[Call], reader: str, lang: str, typed: Typed) -> list[str]:
    """`problems` of every call the bot made that someone reads, in `lang` where it answers `reader` (the reply
    to a command, an ephemeral message); a channel it creates must have a name Slack takes."""
    found = []
    for call in calls:
        if call.method == "conversations.create":
            found += [] if _CHANNEL_NAME.match(str(call.params.get("name", ""))) else \
                [f"conversations.create: {call.params.get('name')!r} is no Slack channel name"]
        elif call.method in SENDS:
            answers = call.method == "response_url" or call.params.get("user") == reader
            found += [f"{call.method}: {p}" for p in problems(call, lang if answers else None, typed)]
    return found


def crash_traces(text: str, typed: Typed) -> list[str]:
    """Pieces of a traceback, exception names or source paths in `text` that did not come from `typed`."""
    return [f"crash text {match.group(0)!r} in {_around(text, match)!r}" for match in _CRASH.finditer(text)
            if match.group(0) not in typed]


def error_ids(text: str) -> list[str]:
    """The reply of a handler that raised something unexpected (core.error_with_id), in either language."""
    return [f"an error id reply: {text[:200]!r}" for marker in _error_markers() if marker in text]


def foreign_phrases(text: str, lang: str, typed: Typed) -> list[str]:
    """Phrases of the other language's catalog in `text`, not typed by the person."""
    if lang == "zh-CN":
        return [f"English {phrase!r} shown to a zh-CN reader"
                for phrase in sorted(_trigrams(text) & _english_only() - typed.runs)]
    return [f"Chinese {pair!r} shown to an English reader"
            for pair in sorted(_pairs(text) & _chinese_only() - typed.pairs)]


def _pairs(text: str) -> set[str]:
    return {run[i:i + 2] for run in _CJK.findall(text) for i in range(len(run) - 1)}


@cache
def _english_only() -> frozenset[str]:
    """Three-word runs of the English catalog's prose that no Chinese template has. Words in `code` (commands,
    names: the same in both languages) are no prose, and a reply's own `code` spans can't be told apart
    reliably once an echo holds a backtick, so runs inside them are left out instead."""
    def runs(lang: str, prose: bool) -> set[str]:
        found: set[str] = set()
        for template in catalog(lang).values():
            for piece in _PLACEHOLDER.split(template):
                found |= _trigrams(_CODE.sub(" | ", piece)) if prose else \
                    {run for code in _CODE.findall(piece) for run in _trigrams(code)}
        return found
    return frozenset(runs("en", prose=True) - runs("zh-CN", prose=True) - runs("zh-CN", prose=False)
                     - runs("en", prose=False))


def _trigrams(text: str) -> set[str]:
    """Three English words in a row, lower-cased, within one stretch of text without Chinese or a `|`."""
    found = set()
    for stretch in _CJK.split(text):
        for part in stretch.split("|"):
            words = [w.lower() for w in _ENGLISH_WORD.findall(part)]
            found |= {" ".join(words[i:i + 3]) for i in range(len(words) - 2)}
    return found


@cache
def _chinese_only() -> frozenset[str]:
    def pairs(lang: str) -> set[str]:
        return {pair for template in catalog(lang).values() for pair in _pairs(template)}
    return frozenset(pairs("zh-CN") - pairs("en"))


@cache
def _error_markers() -> tuple[str, ...]:
    """The fixed text before `{error_id}` in each language's core.error_with_id."""
    return tuple(catalog(lang)["core.error_with_id"].split("{error_id}")[0][-12:] for lang in ("en", "zh-CN"))


def _around(text: str, match: re.Match[str]) -> str:
    return text[max(match.start() - 40, 0):match.end() + 40]
