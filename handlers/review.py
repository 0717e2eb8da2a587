"""/review: pull requests waiting for review in the team's repositories, oldest first."""

from __future__ import annotations

from slack_bolt import App

from bot.render.blocks import Block
from bot.review.render import review_blocks
from bot.services import Services
from handlers.common import Command, Invocation, register_commands, resolve_team, single_optional


def review(services: Services, inv: Invocation) -> list[Block]:
    team = resolve_team(services, inv.team, single_optional(inv.args, inv.language), inv.language)
    return review_blocks(services.review.pending(team), inv.language)


COMMANDS = {"/review": Command("review", review, asks=("github",))}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
