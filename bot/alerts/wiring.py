"""What emoji mean on an alert message: 👎 (emoji.noisy) records that the alert is noisy."""

from __future__ import annotations

from bot.alerts.service import AlertService
from bot.emoji.dialect import ActionRegistry, ComboContext


def register(actions: ActionRegistry, alerts: AlertService) -> None:
    def noisy(ctx: ComboContext) -> None:
        group = alerts.of_message(ctx.channel, ctx.message_ts)
        if group is not None:
            alerts.mark_noisy(group.id, ctx.user, "", tell=True)

    actions.register("noisy", noisy)
