"""Slack listeners: parse, authorize, ack within 3 s, hand slow work to lazy listeners.

One module per domain, each with one `register(app, services)`; every one of them is listed here.
"""

from __future__ import annotations

from slack_bolt import App

from bot.services import Services
from handlers import alerts, digest, gpu, incidents, messages, middleware, oncall, reactions, review, spend

LISTENERS = (middleware, incidents, oncall, gpu, spend, review, alerts, digest, reactions, messages)  # middleware first
SLASH_COMMANDS = {name for module in (incidents, oncall, gpu, spend, review, alerts, digest)
                  for name in module.COMMANDS}


def register_all(app: App, services: Services) -> None:
    for module in LISTENERS:
        module.register(app, services)
