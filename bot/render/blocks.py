"""Tiny Block Kit constructors shared by every renderer."""

from __future__ import annotations

import json
from typing import Any

from bot.clients.slack_users import is_user_id
from bot.escape import Markup, escape
from bot.i18n import t

Block = dict[str, Any]
SECTION_LIMIT = 3000


def mention(user: str | None) -> str:
    """A Slack user id as a mention; anything else (an email or name that never resolved) as plain text."""
    if user and is_user_id(user):
        return Markup(f"<@{user}>")
    return escape(user or "?")


def header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def section(markdown: str) -> Block:
    if len(markdown) > SECTION_LIMIT:
        markdown = markdown[: SECTION_LIMIT - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": markdown}}


def context(markdown: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": markdown[:SECTION_LIMIT]}]}


def button(text: str, action_id: str, value: object, style: str | None = None) -> Block:
    element: Block = {"type": "button", "text": {"type": "plain_text", "text": text, "emoji": True},
                      "action_id": action_id, "value": value if isinstance(value, str) else json.dumps(value)}
    if style:
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id:
        block["block_id"] = block_id
    return block


def error_blocks(message: str) -> list[Block]:
    return [section(message)]


def usage_blocks(language: str, *commands: str) -> list[Block]:
    lines = [t("core.usage_header", language)] + [t(f"core.usage_{c}", language) for c in commands]
    return [section("\n".join(lines))]
