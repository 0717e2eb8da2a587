"""/oncall: who is on call now and next per tier, and /oncall override to cover someone's shift."""

from __future__ import annotations

from slack_bolt import App

from bot.i18n import t
from bot.oncall.render import oncall_blocks, override_saved_blocks
from bot.oncall.service import NoRotation, OverrideRefused, override_request
from bot.oncall.when import WhenError
from bot.permissions import Denied
from bot.render.blocks import Block, context, section
from bot.services import Services
from handlers.common import Command, Invocation, UsageError, echo, register_commands, resolve_team


def oncall(services: Services, inv: Invocation) -> list[Block]:
    if inv.args and inv.args[0].lower() == "override":
        return override(services, inv, inv.args[1:])
    if len(inv.args) > 1:
        raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(inv.args[1:])))
    team = resolve_team(services, inv.team, inv.args[0] if inv.args else None, inv.language)
    tz = services.users.get(inv.user).tz or team.timezone
    try:
        tiers = services.oncall.on_call(team.name)
    except NoRotation:
        return no_rotation(services, team.name, inv.language)
    return oncall_blocks(team.name, tiers, inv.language, tz)


def no_rotation(services: Services, team: str, lang: str) -> list[Block]:
    teams = services.oncall.teams_with_rotations()
    if not teams:
        return [section(t("oncall.no_rotations_at_all", lang))]
    return [section(t("oncall.no_rotation", lang, team=team)),
            context(t("oncall.teams_with_rotations", lang, teams=", ".join(f"`{n}`" for n in teams)))]


def override(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    """/oncall override @user <from> <to> [team] [tier]"""
    try:
        request = override_request(args)
        team = resolve_team(services, inv.team, request.team, inv.language)
        saved = services.oncall.save(request, team, inv.user, inv.language)
    except NoRotation as exc:
        return no_rotation(services, exc.team, inv.language)
    except OverrideRefused as exc:
        raise UsageError(t(exc.key, inv.language, **exc.params)) from None
    except Denied as exc:
        return [section(str(exc))]
    except WhenError as exc:  # a time that names no instant, or two, or one out of bounds: see parse_when
        params = {name: echo(value) if isinstance(value, str) else value for name, value in exc.params.items()}
        raise UsageError(t(exc.key, inv.language, **params)) from None
    return override_saved_blocks(saved, inv.language)


COMMANDS = {"/oncall": Command("oncall", oncall)}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
