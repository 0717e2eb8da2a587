"""Slack listeners: parse, authorize, ack within 3 s, hand slow work to lazy listeners."""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services


def register_all(app: App, services: Services) -> None:
    from handlers import actions, commands, messages, middleware, reactions

    middleware.register(app, services)
    commands.register(app, services)
    reactions.register(app, services)
    messages.register(app, services)
    actions.register(app, services)
