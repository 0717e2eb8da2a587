"""Buttons: each action_id maps to a small function; ack at once, do the work in a lazy listener."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot.render.blocks import Block
from bot.services import Services
from handlers.common import answering_failures, responder, working_notice


@dataclass(frozen=True)
class Click:
    action_id: str
    value: Any
    user: str
    channel: str
    message_ts: str | None
    language: str
    body: dict[str, Any]


Button = Callable[[Services, WebClient, Click], list[Block] | None]
BUTTONS: dict[str, Button] = {}


def button(action_id: str) -> Callable[[Button], Button]:
    def add(fn: Button) -> Button:
        BUTTONS[action_id] = fn
        return fn
    return add


def click_from(services: Services, body: dict[str, Any]) -> Click:
    action = body["actions"][0]
    raw = (action.get("selected_option") or {}).get("value") or action.get("value") or "null"
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    channel = (body.get("channel") or body.get("container") or {}).get("id") or \
        (body.get("container") or {}).get("channel_id", "")
    user = (body.get("user") or {}).get("id", "")
    team = services.config.team_for_channel(channel)
    return Click(action_id=action["action_id"], value=value, user=user, channel=channel,
                 message_ts=(body.get("message") or {}).get("ts") or (body.get("container") or {}).get("message_ts"),
                 language=services.language(user, team), body=body)


def register(app: App, services: Services) -> None:
    from handlers import incident_actions  # registers the incident buttons

    incident_actions.register_shortcut(app, services)

    def ack_now(ack: Ack) -> None:
        ack()

    def clicked(body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        click = click_from(services, body)
        with working_notice(responder(respond), click.language) as answer, \
                answering_failures(answer, click.language, "action", click.action_id):
            blocks = BUTTONS[click.action_id](services, client, click)
            if blocks:
                answer(blocks)

    for action_id in BUTTONS:
        app.action(action_id)(ack=ack_now, lazy=[clicked])
