"""💸🔥 on a message: answer in its thread with the live burn rate (the same one /spend burn shows)."""

from __future__ import annotations

from bot.clients import ChatSender
from bot.emoji.dialect import ActionRegistry, ComboContext
from bot.render.blocks import section
from bot.retry import BackendError, backend_error_text
from bot.settings import Config
from bot.spend.burn import BurnWatch
from bot.spend.render import burn_blocks


def register(actions: ActionRegistry, burn: BurnWatch, chat: ChatSender, config: Config) -> None:
    def spend_check(ctx: ComboContext) -> None:
        """A failed post raises, so the reaction handler tells the reactor instead of failing silently."""
        team = config.team_for_channel(ctx.channel)
        mine = config.team_named(team.name)
        try:
            blocks = burn_blocks(burn.report(mine if mine and (mine.cost_tag or mine.instance_tags) else None),
                                 team.language, team.timezone, config.gpu.top)
        except BackendError as exc:
            blocks = [section(backend_error_text(exc, team.language))]
        chat.post(ctx.channel, blocks, thread_ts=ctx.thread_ts or ctx.message_ts)

    actions.register("spend_check", spend_check)
