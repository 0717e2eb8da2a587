"""/digest [team]: the team's digest now, only to you; /digest preview <team> <daily|weekly>: what its scheduled
digest will look like, and when it posts."""

from __future__ import annotations

from slack_bolt import App

from bot.digest import render
from bot.digest.model import Kind
from bot.digest.schedule import schedule
from bot.i18n import t
from bot.render.blocks import Block
from bot.services import Services
from bot.settings import Team
from handlers.common import (
    Command,
    Invocation,
    UsageError,
    echo,
    reader_tz,
    register_commands,
    resolve_team,
    single_optional,
)

KINDS: dict[str, Kind] = {"daily": "daily", "weekly": "weekly", "每日": "daily", "每周": "weekly"}


def digest(services: Services, inv: Invocation) -> list[Block]:
    words = inv.args
    if words and words[0].lower() == "preview":
        return preview(services, inv, words[1:])
    if words and words[0].lower() == "help":
        raise UsageError()
    team = _configured(services, inv, resolve_team(services, inv.team, single_optional(words, inv.language),
                                                   inv.language))
    made = services.digests.compose(team, "daily", lang=inv.language, tz=reader_tz(services, inv))
    return render.digest_blocks(made, services.config.digest.top)


def preview(services: Services, inv: Invocation, words: list[str]) -> list[Block]:
    if len(words) != 2:
        raise UsageError(t("digest.preview_needs", inv.language))
    team = _configured(services, inv, resolve_team(services, inv.team, words[0], inv.language))
    kind = KINDS.get(words[1].lower())
    if kind is None:
        raise UsageError(t("core.unknown_argument", inv.language, argument=echo(words[1])))
    made = services.digests.compose(team, kind, lang=inv.language)  # as the channel will see it: the team's zone
    plan = schedule(team, services.config, services.clock.now())
    return render.schedule_blocks(plan, kind, inv.language) + render.digest_blocks(made, services.config.digest.top)


def _configured(services: Services, inv: Invocation, team: Team) -> Team:
    """A team from the config: a channel no team claims has no digest of its own."""
    if services.config.team_named(team.name) is None:
        known = ", ".join(f"`{t_.name}`" for t_ in services.config.teams) or t("core.no_teams", inv.language)
        raise UsageError(t("digest.which_team", inv.language, known=known))
    return team


COMMANDS = {"/digest": Command("digest", digest, asks=())}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
