"""/oncall: who is on call now and next per tier, and /oncall override to cover someone's shift."""

from __future__ import annotations

import re

from slack_bolt import App

from bot.escape import escape
from bot.i18n import t
from bot.oncall import TeamRotation
from bot.oncall_roster import WhenError, add_override, override_window, rotation_for, who_is_on_call
from bot.permissions import Audience, Denied
from bot.render.blocks import Block, context, section
from bot.render.oncall import oncall_blocks, when
from bot.services import Services
from handlers.common import Command, Invocation, UsageError, register_commands, resolve_team

MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
ECHO_CHARS = 40


def echo(typed: str) -> str:
    return typed if len(typed) <= ECHO_CHARS else typed[:ECHO_CHARS - 1] + "…"


def oncall(services: Services, inv: Invocation) -> list[Block]:
    if inv.args and inv.args[0].lower() == "override":
        return override(services, inv, inv.args[1:])
    if len(inv.args) > 1:
        raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(inv.args[1:])))
    team = resolve_team(services, inv.team, inv.args[0] if inv.args else None, inv.language)
    tz = services.users.get(inv.user).tz or team.timezone
    if rotation_for(services.config, team.name) is None:
        return no_rotation(services, team.name, inv.language)
    tiers = who_is_on_call(services.config, services.sessions, team.name, services.clock.now())
    return oncall_blocks(team.name, tiers, inv.language, tz)


def no_rotation(services: Services, team: str, lang: str) -> list[Block]:
    teams = sorted(services.config.oncall)
    if not teams:
        return [section(t("oncall.no_rotations_at_all", lang))]
    return [section(t("oncall.no_rotation", lang, team=team)),
            context(t("oncall.teams_with_rotations", lang, teams=", ".join(f"`{n}`" for n in teams)))]


def override(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    """/oncall override @user <from> <to> [team] [tier]"""
    if len(args) < 3 or not MENTION.match(args[0]):
        raise UsageError(t("oncall.override_bad_user", inv.language))
    user = MENTION.match(args[0]).group(1)  # type: ignore[union-attr]
    team = resolve_team(services, inv.team, args[3] if len(args) > 3 else None, inv.language)
    rotation = rotation_for(services.config, team.name)
    if rotation is None:
        return no_rotation(services, team.name, inv.language)
    tiers = [tier.name for tier in rotation.tiers]
    tier = " ".join(args[4:]) if len(args) > 4 else tiers[0]
    if tier not in tiers:
        raise UsageError(t("oncall.override_unknown_tier", inv.language, team=team.name, tier=tier,
                           tiers=", ".join(tiers)))
    refusal = _may_not_override(services, inv, team.name, tier, rotation)
    if refusal:
        return refusal
    tz = services.users.get(inv.user).tz or team.timezone
    now = services.clock.now()
    try:
        start, end = override_window(args[1], args[2], tz, now)
    except WhenError as exc:  # a time that names no instant, or two, or one out of bounds: see parse_when
        params = {name: echo(value) if isinstance(value, str) else value for name, value in exc.params.items()}
        raise UsageError(t(exc.key, inv.language, **params)) from None
    add_override(services.sessions, team.name, tier, user, start, end, inv.user, now)
    return [section(t("oncall.override_saved", inv.language, user=user, tier=escape(tier), team=team.name,
                      start=when(start, tz, inv.language), end=when(end, tz, inv.language), tz=tz))]


def _may_not_override(services: Services, inv: Invocation, team: str, tier: str,
                      rotation: TeamRotation) -> list[Block] | None:
    """The rotation's members, the team's user group and the admins may override; others are told who can."""
    members = {m for each in rotation.tiers for layer in each.layers for m in layer.members}
    people = frozenset(u.id for u in map(services.users.resolve, sorted(members)) if u.found)
    audience = Audience(people=people, teams=(team,), description=t("permissions.rotation_members", inv.language))
    try:
        services.permissions.require(inv.user, "override", f"{team} / {tier}", audience, inv.language)
    except Denied as exc:
        return [section(str(exc))]
    return None


COMMANDS = {"/oncall": Command("oncall", oncall)}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
