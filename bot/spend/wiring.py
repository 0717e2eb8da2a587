"""💸🔥 on a message: answer in its thread with the spend report (the same one /spend shows)."""

from __future__ import annotations

from bot.clients import ChatSender
from bot.clock import Clock
from bot.emoji.dialect import ActionRegistry, ComboContext
from bot.render.blocks import section
from bot.retry import BackendError, backend_error_text
from bot.settings import Config
from bot.spend.model import DEFAULT_DAYS
from bot.spend.render import spend_blocks
from bot.spend.service import SpendService


def register(actions: ActionRegistry, spend: SpendService, chat: ChatSender, config: Config, clock: Clock) -> None:
    def spend_check(ctx: ComboContext) -> None:
        """A failed post raises, so the reaction handler tells the reactor instead of failing silently."""
        team = config.team_for_channel(ctx.channel)
        try:
            blocks = spend_blocks(spend.by_team(days=DEFAULT_DAYS), team.language, clock.now())
        except BackendError as exc:
            blocks = [section(backend_error_text(exc, team.language))]
        chat.post(ctx.channel, blocks, thread_ts=ctx.thread_ts or ctx.message_ts)

    actions.register("spend_check", spend_check)
