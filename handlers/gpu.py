"""/gpu: who holds every GPU and how busy it is, for the channel's team or the one named."""

from __future__ import annotations

from slack_bolt import App

from bot.gpu.render import gpu_blocks
from bot.render.blocks import Block
from bot.services import Services
from handlers.common import Command, Invocation, register_commands, resolve_team, single_optional


def gpu(services: Services, inv: Invocation) -> list[Block]:
    team = resolve_team(services, inv.team, single_optional(inv.args, inv.language), inv.language)
    return gpu_blocks(services.gpu.summary(team), inv.language)


COMMANDS = {"/gpu": Command("gpu", gpu, asks=("prometheus", "kubernetes"))}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
