"""/spend: AWS cost by team over the last N days, with the coffee burn rate."""

from __future__ import annotations

from slack_bolt import App

from bot.i18n import t
from bot.render.blocks import Block
from bot.services import Services
from bot.spend.model import ReportDaysError, report_days
from bot.spend.render import spend_blocks
from handlers.common import Command, Invocation, UsageError, register_commands, single_optional


def spend(services: Services, inv: Invocation) -> list[Block]:
    try:
        days = report_days(single_optional(inv.args, inv.language))
    except ReportDaysError as exc:
        raise UsageError(t("core.unknown_argument", inv.language, argument=exc.text)) from None
    return spend_blocks(services.spend.by_team(days=days), inv.language, services.clock.now())


COMMANDS = {"/spend": Command("spend", spend, asks=("aws",))}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
