"""/incident and /oncall: parse the words, call the incident desk or the roster, render the answer."""

from __future__ import annotations

import re
from datetime import timedelta

from bot.escape import Markup, escape
from bot.i18n import t
from bot.incidents import escalation, render, store
from bot.incidents.desk import OpenRequest, Refused, desk_for
from bot.incidents.model import Incident
from bot.oncall.render import oncall_blocks, override_saved_blocks
from bot.oncall.roster import rotation_for, who_is_on_call
from bot.oncall.service import NoRotation, OverrideRefused, OverrideService, override_request
from bot.oncall.when import WhenError
from bot.permissions import Denied
from bot.render.blocks import Block, context, section
from bot.services import Services
from handlers.commands import Invocation, UsageError, command, resolve_team

NUMBER = re.compile(r"^#?(\d+)$")
PERIOD = re.compile(r"^(\d+)d$")
MAX_NUMBER = 2**31 - 1  # incident ids are 32-bit integers in the database
MAX_PERIOD_DAYS = 365
ECHO_CHARS = 40  # what a refusal quotes of the typed text, so a pasted novel still leaves room for the usage


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
    severity = severity_named(services, rest[-1], numbers=False) if rest else None
    words = rest[:-1] if severity else rest
    if not words:
        raise UsageError()
    opened, _ = desk_for(services).open(OpenRequest(reporter=inv.user, source="command", channel=inv.channel,
                                                    title=" ".join(words), severity=severity))
    return [context(t("incident.opened", inv.language, number=opened.number, severity=opened.severity,
                      title=escape(opened.title)))]


def target(services: Services, inv: Invocation, rest: list[str], sub: str,
           words_after: int = 0) -> tuple[Incident, list[str]]:
    """The incident named by `#12`/`12` (when at least `words_after` words follow it), else the one whose
    channel this is."""
    if len(rest) > words_after and NUMBER.match(rest[0]):
        return desk_for(services).load(incident_number(rest[0], inv.language), reader=inv.user), rest[1:]
    found = store.find_by_channel(services.factory, inv.channel)
    if found is None:
        example = "severity 12 sev1" if sub == "severity" else f"{sub} 12"
        raise Refused(t("incident.not_an_incident_channel", inv.language, example=example))
    return found, rest


def incident_number(word: str, lang: str) -> int:
    """`#12` or `12` as a number the database can hold; anything larger names no incident."""
    digits = NUMBER.match(word).group(1)  # type: ignore[union-attr]
    if len(digits) > len(str(MAX_NUMBER)) or not 1 <= int(digits) <= MAX_NUMBER:
        raise UsageError(t("incident.unknown_incident", lang, number=echo(digits)))
    return int(digits)


def echo(typed: str) -> str:
    return typed if len(typed) <= ECHO_CHARS else typed[:ECHO_CHARS - 1] + "…"


def severity_named(services: Services, word: str, numbers: bool = True) -> str | None:
    """The configured severity `word` names, case-insensitively (`SEV1`); with `numbers`, `1` means `sev1`."""
    names = {name.lower(): name for name in services.config.incidents.severities}
    word = word.lower()
    return names.get(word) or (names.get(f"sev{word}") if numbers and word.isdecimal() else None)


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
    found, words = target(services, inv, rest, "severity", words_after=1)  # a lone `1` is sev1, not #1
    known = ", ".join(f"`{escape(name)}`" for name in services.config.incidents.severities)
    if not words:
        raise UsageError(t("arguments.severity_missing", inv.language, known=Markup(known)))
    name = severity_named(services, words[0]) if len(words) == 1 else None
    if name is None:
        raise UsageError(t("incident.unknown_severity", inv.language, severity=echo(" ".join(words)),
                           known=Markup(known)))
    desk_for(services).set_severity(found.id, name, inv.user)
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
            days = period_days(word, inv.language)
        else:
            team = resolve_team(services, inv.team, word, inv.language).name
    now = services.clock.now()
    since = now - timedelta(days=days)
    report = compute(store.in_period(services.factory, since, team), since, now, team)
    desk_for(services).chat.upload(inv.channel, "incident-stats.png", chart_png(report, inv.language),
                                   title=f"incidents {days}d")
    return stats_blocks(report, inv.language)


def period_days(word: str, lang: str) -> int:
    """`30d` as a number of days from 1 to 365."""
    digits = PERIOD.match(word.lower()).group(1)  # type: ignore[union-attr]
    if len(digits) > len(str(MAX_PERIOD_DAYS)) or not 1 <= int(digits) <= MAX_PERIOD_DAYS:
        raise UsageError(t("arguments.period_out_of_range", lang, period=echo(word), most=MAX_PERIOD_DAYS))
    return int(digits)


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
    try:
        request = override_request(args)
        team = resolve_team(services, inv.team, request.team, inv.language)
        saved = OverrideService(services.config, services.factory, services.users, services.permissions,
                                services.clock).save(request, team, inv.user, inv.language)
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
