"""Text for Slack: Block Kit as readable plain text (notifications, the local shell); lines fitted to a section."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from bot.escape import defuse, escape, strip_markup
from bot.render.blocks import SECTION_LIMIT

_BOLD = re.compile(r"(?<!\w)\*([^*\n]+)\*(?!\w)")


def blocks_to_text(blocks: list[dict[str, Any]] | None, fallback: str = "",
                   names: dict[str, str] | None = None) -> str:
    """`names` maps user and channel ids to readable names for mentions."""
    if not blocks:
        return strip_markup(fallback, names)
    lines = [_named(line, names) for block in blocks for line in _block_lines(block)]
    return "\n".join(lines)


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "header":
        title = _text(block.get("text"))
        return [title, "=" * min(len(title), 60)]
    if kind == "section":
        lines = [_text(block.get("text"))] if block.get("text") else []
        lines += ["  " + _text(f) for f in block.get("fields", [])]
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            lines.append(f"[{_text(accessory['text'])}]")
        return lines
    if kind == "context":
        return ["  " + " · ".join(_text(e) for e in block.get("elements", []) if "text" in e)]
    if kind == "actions":
        return ["  ".join(f"[{_text(e.get('text'))}]" for e in block.get("elements", []) if e.get("text"))]
    if kind == "divider":
        return ["-" * 40]
    if kind == "image":
        return [f"(chart: {block.get('alt_text', 'image')})"]
    return []


def _named(line: str, names: dict[str, str] | None) -> str:
    if not names:
        return line
    return re.sub(r"([@#])([UWCD][A-Z0-9]{2,})", lambda m: m.group(1) + names.get(m.group(2), m.group(2)), line)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        value = value.get("text", "")
    return _BOLD.sub(r"\1", strip_markup(str(value or "")))


def buttons_in(blocks: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    found = []
    for block in blocks or []:
        if block.get("type") == "actions":
            found += [e for e in block.get("elements", []) if e.get("type") == "button"]
        accessory = block.get("accessory")
        if accessory and accessory.get("type") == "button":
            found.append(accessory)
    return found


def notification_text(blocks: list[dict[str, Any]]) -> str:
    """The `text` Slack shows in notifications: the blocks as plain words, escaped again so that user text
    unescaped for reading can't turn back into a broadcast or a mention."""
    return escape(blocks_to_text(blocks))[:3000]


def safe_blocks(blocks: list[dict[str, Any]], loud: bool = False) -> list[dict[str, Any]]:
    """What every path to Slack sends: blocks with broadcasts made inert (`loud`: the bot's own leading @here)."""
    return [cast(dict[str, Any], defuse(block, allow_here=loud)) for block in blocks]  # defuse keeps each dict


def fit_lines(lines: list[str], more: Callable[[int], str], limit: int = SECTION_LIMIT) -> str:
    """Join lines up to Slack's section limit; the rest becomes "…and N more"."""
    kept: list[str] = []
    size = 0
    for index, line in enumerate(lines):
        remaining = len(lines) - index - 1
        reserve = len(more(remaining)) + 1 if remaining else 0
        if size + len(line) + 1 + reserve > limit:
            kept.append(more(len(lines) - index))
            break
        kept.append(line)
        size += len(line) + 1
    return "\n".join(kept)
