"""/incident and /oncall: parse the words, call the incident desk or the roster, render the answer."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.escape import escape
from bot.i18n import t
from bot.incidents import escalation, render, store
from bot.incidents.desk import OpenRequest, Refused, desk_for
from bot.incidents.model import SEVERITIES, Incident
from bot.oncall_roster import add_override, parse_when, rotation_for, who_is_on_call
from bot.render.blocks import Block, context, section
from bot.render.oncall import oncall_blocks
from bot.services import Services
from handlers.commands import Invocation, UsageError, command, resolve_team

NUMBER = re.compile(r"^#?(\d+)$")
PERIOD = re.compile(r"^(\d+)d$")
MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


@command("/incident", "incident")
def incident(services: Services, inv: Invocation) -> list[Block]:
    if not inv.args:
        raise UsageError()
    sub, rest = inv.args[0].lower(), inv.args[1:]
    handler = SUBCOMMANDS.get(sub)
    if handler is None:
        raise UsageError(t("core.unknown_argument", inv.language, argument=sub))
    try:
        return handler(services, inv, rest)
    except Refused as exc:
        return [section(str(exc))]


def declare(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    severity = rest[-1].lower() if rest and rest[-1].lower() in SEVERITIES else None
    words = rest[:-1] if severity else rest
    if not words:
        raise UsageError()
    opened, _ = desk_for(services).open(OpenRequest(reporter=inv.user, source="command", channel=inv.channel,
                                                    title=" ".join(words), severity=severity))
    return [context(t("incident.opened", inv.language, number=opened.number, severity=opened.severity,
                      title=escape(opened.title)))]


def target(services: Services, inv: Invocation, rest: list[str], sub: str) -> tuple[Incident, list[str]]:
    """The incident named by `#12`/`12`, else the one whose channel this is."""
    desk = desk_for(services)
    if rest and NUMBER.match(rest[0]):
        return desk.load(int(NUMBER.match(rest[0]).group(1))), rest[1:]  # type: ignore[union-attr]
    found = store.find_by_channel(services.factory, inv.channel)
    if found is None:
        raise Refused(t("incident.not_an_incident_channel", inv.language, sub=sub))
    return found, rest


def lifecycle(action: str):  # type: ignore[no-untyped-def]
    def run(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
        found, extra = target(services, inv, rest, action)
        if extra:
            raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(extra)))
        desk = desk_for(services)
        {"ack": lambda: desk.acknowledge(found.id, inv.user, "/incident ack"),
         "mitigated": lambda: desk.mitigate(found.id, inv.user),
         "resolve": lambda: desk.resolve(found.id, inv.user),
         "escalate": lambda: desk.escalate(found.id, inv.user)}[action]()
        return []
    return run


def note(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    found, words = target(services, inv, rest, "note")
    if not words:
        raise UsageError()
    desk_for(services).note(found.id, inv.user, " ".join(words))
    return [context(t("incident.note_added", inv.language, number=found.number))]


def severity(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    found, words = target(services, inv, rest, "severity")
    if len(words) != 1 or words[0].lower() not in SEVERITIES:
        raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(words) or "—"))
    desk_for(services).set_severity(found.id, words[0].lower(), inv.user)
    return []


def status(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    found, _ = target(services, inv, rest, "status")
    step = escalation.next_scheduled(services, found.id)
    next_step = (step.user_id or "", step.tier, step.due_at) if step and step.kind == "page" else None
    tz = services.users.get(inv.user).tz or desk_for(services).team_zone(found.team)
    return render.status_blocks(found, inv.language, services.clock.now(), tz, next_step)


def stats(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    from bot.incidents.stats import chart_png, compute, stats_blocks

    days, team = 30, None
    for word in rest:
        if PERIOD.match(word.lower()):
            days = int(PERIOD.match(word.lower()).group(1))  # type: ignore[union-attr]
        else:
            team = resolve_team(services, inv.team, word, inv.language).name
    now = services.clock.now()
    since = now - timedelta(days=days)
    report = compute(store.in_period(services.factory, since, team), since, now, team)
    desk_for(services).chat.upload(inv.channel, "incident-stats.png", chart_png(report, inv.language),
                                   title=f"incidents {days}d")
    return stats_blocks(report, inv.language)


SUBCOMMANDS = {
    "declare": declare, "ack": lifecycle("ack"), "mitigated": lifecycle("mitigated"),
    "resolve": lifecycle("resolve"), "escalate": lifecycle("escalate"), "note": note,
    "severity": severity, "status": status, "stats": stats,
}


@command("/oncall", "oncall")
def oncall(services: Services, inv: Invocation) -> list[Block]:
    if inv.args and inv.args[0].lower() == "override":
        return override(services, inv, inv.args[1:])
    if len(inv.args) > 1:
        raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(inv.args[1:])))
    team = resolve_team(services, inv.team, inv.args[0] if inv.args else None, inv.language)
    tz = services.users.get(inv.user).tz or team.timezone
    if rotation_for(services.config, team.name) is None:
        return no_rotation(services, team.name, inv.language)
    tiers = who_is_on_call(services.config, services.factory, team.name, services.clock.now())
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
    tz = services.users.get(inv.user).tz or team.timezone
    now = services.clock.now()
    start = _when(args[1], tz, now, None, inv.language)
    end = _when(args[2], tz, now, start, inv.language)
    if end <= start:
        raise UsageError(t("oncall.override_bad_order", inv.language))
    add_override(services.factory, team.name, tier, user, start, end, inv.user, now)
    return [section(t("oncall.override_saved", inv.language, user=user, tier=escape(tier), team=team.name,
                      start=_fmt(start, tz), end=_fmt(end, tz), tz=tz))]


def _when(value: str, tz: str, now, after, lang: str):  # type: ignore[no-untyped-def]
    try:
        return parse_when(value, tz, now, after)
    except ValueError:
        raise UsageError(t("oncall.override_bad_time", lang, value=value, tz=tz)) from None


def _fmt(at, tz: str) -> str:  # type: ignore[no-untyped-def]
    from bot.render.oncall import when

    return when(at, tz)
