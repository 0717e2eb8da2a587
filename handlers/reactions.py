"""reaction_added / reaction_removed: feed the emoji dialect, run what a completed combo or a signal means."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App

from bot.emoji.dialect import SIGNALS, ComboContext
from bot.i18n import t
from bot.render.blocks import section
from bot.services import Services
from handlers.common import answering_failures, ephemeral, post
from handlers.middleware import finishing

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    def reaction_added(event: dict[str, Any], event_id: str | None) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message" or not item.get("channel"):
            return
        channel, ts, user = item["channel"], item["ts"], event.get("user", "")
        team = services.config.team_for_channel(channel)
        reply = ephemeral(services.chat, channel, user)
        with answering_failures(reply, team.language, "event", "reaction_added"):
            for context in services.combos.reaction_added(channel, ts, event.get("reaction", ""), user,
                                                          event_id=event_id):
                run_action(services, context)
            run_signal(services, event.get("reaction", ""), channel, ts, user)

    def reaction_removed(event: dict[str, Any], _event_id: str | None) -> None:
        item = event.get("item") or {}
        if item.get("type") == "message" and item.get("channel"):
            services.combos.reaction_removed(item["channel"], item["ts"], event.get("reaction", ""),
                                             event.get("user", ""))

    app.event("reaction_added")(finishing(services, reaction_added))
    app.event("reaction_removed")(finishing(services, reaction_removed))


def run_action(services: Services, context: ComboContext) -> None:
    if services.combos.run(context):
        return
    team = services.config.team_for_channel(context.channel)
    post(services.chat, context.channel, context.thread_ts or context.message_ts)(
        [section(t("core.combo_without_handler", team.language, emoji="".join(context.emoji),
                   action=context.action))])


def run_signal(services: Services, reaction: str, channel: str, ts: str, user: str) -> None:
    """Single-emoji meanings (👀 acknowledge, ✅ resolve, 📌 pin, 🛑 shutdown) go to whoever registered them."""
    canonical = services.dialect.canonical(reaction)
    for signal in SIGNALS:
        handler = services.actions.get(signal)
        if handler and services.dialect.means(canonical, signal):
            handler(ComboContext(action=signal, combo=signal, emoji=(canonical or "",), channel=channel,
                                 message_ts=ts, user=user, source="reaction"))
