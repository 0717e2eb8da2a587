"""💸🔥 on a message: answer in its thread with the spend report (the same one /spend shows)."""

from __future__ import annotations

import logging

from bot.clients.chat import Chat
from bot.emoji_dialect import ComboContext
from bot.i18n import t
from bot.render.blocks import section
from bot.render.spend import spend_blocks
from bot.retry import BackendError
from bot.services import Services

log = logging.getLogger(__name__)


def register(services: Services) -> None:
    def spend_check(ctx: ComboContext) -> None:
        team = services.config.team_for_channel(ctx.channel)
        chat = Chat(services.slack)
        thread = ctx.thread_ts or ctx.message_ts
        try:
            blocks = spend_blocks(services.spend.by_team(days=7), team.language, services.clock.now())
        except BackendError as exc:
            blocks = [section(t("core.backend_error", team.language, backend=exc.backend, reason=exc.reason))]
        chat.post(ctx.channel, blocks, thread_ts=thread)

    services.actions.register("spend_check", spend_check)
