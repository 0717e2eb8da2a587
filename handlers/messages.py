"""Messages: emoji typed together (🔥💥 in one message) fire combos like reactions do."""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.services import Services
from handlers.common import answering_failures, ephemeral
from handlers.middleware import finishing
from handlers.reactions import run_action

IGNORED_SUBTYPES = {"message_changed", "message_deleted", "bot_message", "channel_join", "channel_leave"}


def register(app: App, services: Services) -> None:
    def message(event: dict[str, Any], event_id: str | None) -> None:
        if event.get("subtype") in IGNORED_SUBTYPES or event.get("bot_id") or not event.get("text"):
            return
        channel, user = event.get("channel", ""), event.get("user", "")
        team = services.config.team_for_channel(channel)
        with answering_failures(ephemeral(services.chat, channel, user), team.language, "event", "message"):
            for context in services.combos.message(channel, event["ts"], event["text"], user,
                                                   thread_ts=event.get("thread_ts"), event_id=event_id):
                run_action(services, context)

    app.event("message")(finishing(services, message))
