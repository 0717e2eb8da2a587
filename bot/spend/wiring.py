"""💸🔥 on a message: answer in its thread with the spend report (the same one /spend shows)."""

from __future__ import annotations

import logging

from bot.emoji_dialect import ComboContext
from bot.render.blocks import section
from bot.retry import BackendError, backend_error_text
from bot.services import Services
from bot.spend.model import DEFAULT_DAYS
from bot.spend.render import spend_blocks

log = logging.getLogger(__name__)


def register(services: Services) -> None:
    def spend_check(ctx: ComboContext) -> None:
        team = services.config.team_for_channel(ctx.channel)
        chat = services.chat
        thread = ctx.thread_ts or ctx.message_ts
        try:
            blocks = spend_blocks(services.spend.by_team(days=DEFAULT_DAYS), team.language, services.clock.now())
        except BackendError as exc:
            blocks = [section(backend_error_text(exc, team.language))]
        chat.post(ctx.channel, blocks, thread_ts=thread)

    services.actions.register("spend_check", spend_check)
