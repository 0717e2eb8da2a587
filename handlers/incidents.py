"""/incident, the incident buttons (Undo, Ack, Mitigated, Resolve, Escalate, Severity, the storm question)
and the Declare incident shortcut: parse the words and clicks, call the incident desk, render its answer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeGuard

from slack_bolt import App

from bot.escape import Markup, escape
from bot.i18n import t
from bot.incidents import render
from bot.incidents.desk import IncidentDesk, OpenRequest, Refused
from bot.incidents.model import Incident
from bot.render.blocks import Block, context, mention, section
from bot.services import Services
from handlers.common import (
    Button,
    Click,
    Command,
    Invocation,
    UsageError,
    ack_now,
    answering_failures,
    echo,
    ephemeral,
    register_buttons,
    register_commands,
    resolve_team,
)

NUMBER = re.compile(r"^#?(\d+)$")
PERIOD = re.compile(r"^(\d+)d$")
RESOLUTION = re.compile(r"^\s*(?:resolution|解决)\s*[:：]\s*", re.IGNORECASE)  # `note resolution: …`, `note 解决：…`
MAX_NUMBER = 2**31 - 1  # incident ids are 32-bit integers in the database
MAX_PERIOD_DAYS = 365
Subcommand = Callable[[Services, Invocation, list[str]], list[Block]]


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
    opened, _ = services.incidents.open(OpenRequest(reporter=inv.user, source="command", channel=inv.channel,
                                                    title=" ".join(words), severity=severity))
    return [context(t("incident.opened", inv.language, number=opened.number, severity=opened.severity,
                      title=escape(opened.title)))]


def target(services: Services, inv: Invocation, rest: list[str], sub: str,
           words_after: int = 0) -> tuple[Incident, list[str]]:
    """The incident named by `#12`/`12` (when at least `words_after` words follow it), else the one whose
    channel this is."""
    if len(rest) > words_after and NUMBER.match(rest[0]):
        return services.incidents.load(incident_number(rest[0], inv.language), reader=inv.user), rest[1:]
    found = services.incidents.in_channel(inv.channel)
    if found is None:
        example = "severity 12 sev1" if sub == "severity" else f"{sub} 12"
        raise Refused(t("incident.not_an_incident_channel", inv.language, example=example))
    return found, rest


def incident_number(word: str, lang: str) -> int:
    """`#12` or `12` as a number the database can hold; anything larger names no incident."""
    match = NUMBER.match(word)
    digits = match.group(1) if match else word
    if len(digits) > len(str(MAX_NUMBER)) or not 1 <= int(digits) <= MAX_NUMBER:
        raise UsageError(t("incident.unknown_incident", lang, number=echo(digits)))
    return int(digits)


def severity_named(services: Services, word: str, numbers: bool = True) -> str | None:
    """The configured severity `word` names, case-insensitively (`SEV1`); with `numbers`, `1` means `sev1`."""
    names = {name.lower(): name for name in services.config.incidents.severities}
    word = word.lower()
    return names.get(word) or (names.get(f"sev{word}") if numbers and word.isdecimal() else None)


def lifecycle(action: str) -> Subcommand:
    def run(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
        found, extra = target(services, inv, rest, action)
        if extra:
            raise UsageError(t("core.unknown_argument", inv.language, argument=" ".join(extra)))
        desk = services.incidents
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
    text = " ".join(words)
    marked = RESOLUTION.match(text)
    if marked is None:
        services.incidents.note(found.id, inv.user, text)
        return [context(t("incident.note_added", inv.language, number=found.number))]
    resolution = text[marked.end():].strip()
    if not resolution:
        raise UsageError()
    services.incidents.note(found.id, inv.user, resolution, kind="resolution")
    return [context(t("incident.resolution_added", inv.language, number=found.number))]


def evidence(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    """/incident context: take the Kubernetes evidence again and post it in the incident."""
    found, words = target(services, inv, rest, "context")
    if not services.kube_configured:
        return [section(t("incident.evidence_needs_kube", inv.language))]
    snapshot = services.evidence.take(found, " ".join(words))
    return [context(t("incident.evidence_taken", inv.language, number=found.number, pods=len(snapshot.pods),
                      skipped=len(snapshot.skipped)))]


def severity(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    found, words = target(services, inv, rest, "severity", words_after=1)  # a lone `1` is sev1, not #1
    known = ", ".join(f"`{escape(name)}`" for name in services.config.incidents.severities)
    if not words:
        raise UsageError(t("arguments.severity_missing", inv.language, known=Markup(known)))
    name = severity_named(services, words[0]) if len(words) == 1 else None
    if name is None:
        raise UsageError(t("incident.unknown_severity", inv.language, severity=echo(" ".join(words)),
                           known=Markup(known)))
    services.incidents.set_severity(found.id, name, inv.user)
    return []


def status(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    found, _ = target(services, inv, rest, "status")
    tz = services.users.get(inv.user).tz or services.incidents.team_zone(found.team)
    return render.status_blocks(found, inv.language, services.clock.now(), tz, services.incidents.next_page(found.id))


def stats(services: Services, inv: Invocation, rest: list[str]) -> list[Block]:
    days, team = 30, None
    for word in rest:
        if PERIOD.match(word.lower()):
            days = period_days(word, inv.language)
        else:
            team = resolve_team(services, inv.team, word, inv.language).name
    from bot.incidents.chart import chart_png  # matplotlib takes ~0.3 s to import; only this needs it

    report = services.incidents.stats(days, team)
    services.chat.upload(inv.channel, "incident-stats.png", chart_png(report, inv.language),
                         title=f"incidents {days}d")
    return render.stats_blocks(report, inv.language)


def period_days(word: str, lang: str) -> int:
    """`30d` as a number of days from 1 to 365."""
    match = PERIOD.match(word.lower())
    digits = match.group(1) if match else word
    if len(digits) > len(str(MAX_PERIOD_DAYS)) or not 1 <= int(digits) <= MAX_PERIOD_DAYS:
        raise UsageError(t("arguments.period_out_of_range", lang, period=echo(word), most=MAX_PERIOD_DAYS))
    return int(digits)


SUBCOMMANDS: dict[str, Subcommand] = {
    "declare": declare, "ack": lifecycle("ack"), "mitigated": lifecycle("mitigated"),
    "resolve": lifecycle("resolve"), "escalate": lifecycle("escalate"), "note": note,
    "severity": severity, "status": status, "stats": stats, "context": evidence,
}


class BadButton(Exception):
    """A button's value names no incident (a message from an older version, or a forged one)."""


def _incident_id(click: Click) -> int:
    """The incident a button names: `12`, or `12:sev1` from the severity menu."""
    digits = str(click.value).split(":", 1)[0]
    if not (digits.isascii() and digits.isdecimal() and len(digits) <= len(str(MAX_NUMBER))
            and 1 <= int(digits) <= MAX_NUMBER):
        raise BadButton
    return int(digits)


def _severity(services: Services, click: Click) -> str:
    """The configured severity the severity menu's option names (`12:sev1`)."""
    name = str(click.value).partition(":")[2]
    if name not in services.config.incidents.severities:
        raise BadButton
    return name


Act = Callable[[Services, Click], object]
ACTS: dict[str, Act] = {
    "incident_undo": lambda services, click: services.incidents.cancel(_incident_id(click), click.user),
    "incident_ack": lambda services, click: services.incidents.acknowledge(_incident_id(click), click.user, "button"),
    "incident_mitigated": lambda services, click: services.incidents.mitigate(_incident_id(click), click.user),
    "incident_resolve": lambda services, click: services.incidents.resolve(_incident_id(click), click.user),
    "incident_escalate": lambda services, click: services.incidents.escalate(_incident_id(click), click.user),
    "incident_severity": lambda services, click: services.incidents.set_severity(
        _incident_id(click), _severity(services, click), click.user),
}


def _storm_answer(desk: IncidentDesk, click: Click) -> list[Block]:
    """Join #N / Open a new one, asked of whoever fired 🔥💥 in a channel with a fresh incident."""
    asked = click.value if isinstance(click.value, dict) else {}
    reporter, channel, ts = asked.get("reporter"), asked.get("channel"), asked.get("ts")
    if not (isinstance(reporter, str) and _text(channel) and _text(ts)
            and isinstance(asked.get("thread_ts"), str | None)):
        raise BadButton
    if click.user != reporter:
        return [section(t("incident.storm_not_yours", click.language, user=Markup(mention(reporter))))]
    if click.action_id == "incident_join":
        number = asked.get("incident")
        if not (isinstance(number, int) and 1 <= number <= MAX_NUMBER):
            raise BadButton
        joined = desk.join(number, click.user, channel, ts)
        return [section(t("incident.storm_answered_join", click.language, number=joined.number))]
    desk.open(OpenRequest(reporter=reporter, source=str(asked.get("source") or "reaction"),
                          channel=channel, message_ts=ts, thread_ts=asked.get("thread_ts"),
                          emoji=str(asked.get("emoji") or ""), degraded=bool(asked.get("degraded")), force=True))
    return [section(t("incident.storm_answered_new", click.language))]


def _text(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and bool(value)


def _answering_refusals(act: Callable[[Services, Click], object]) -> Button:
    """Refusals are the answer; a value that names no incident says the button is out of date."""
    def run(services: Services, click: Click) -> list[Block] | None:
        try:
            result = act(services, click)
        except Refused as exc:
            return [section(str(exc))]
        except BadButton:
            return [section(t("incident.bad_button", click.language))]
        return result if isinstance(result, list) else None
    return run


COMMANDS = {"/incident": Command("incident", incident)}
BUTTONS: dict[str, Button] = {
    **{action_id: _answering_refusals(act) for action_id, act in ACTS.items()},
    "incident_join": _answering_refusals(lambda services, click: _storm_answer(services.incidents, click)),
    "incident_open_new": _answering_refusals(lambda services, click: _storm_answer(services.incidents, click)),
}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
    register_buttons(app, services, BUTTONS)
    _declare_from_shortcut(app, services)


def _declare_from_shortcut(app: App, services: Services) -> None:
    """The "Declare incident" message shortcut: the message becomes the incident's origin."""
    def declare(body: dict[str, Any]) -> None:
        channel = (body.get("channel") or {}).get("id", "")
        message = body.get("message") or {}
        user = (body.get("user") or {}).get("id", "")
        team = services.config.team_for_channel(channel)
        with answering_failures(ephemeral(services.chat, channel, user), team.language, "shortcut", "declare_incident"):
            services.incidents.open(OpenRequest(reporter=user, source="shortcut", channel=channel,
                                                message_ts=message.get("ts"), thread_ts=message.get("thread_ts"),
                                                text=message.get("text")))

    app.shortcut("declare_incident")(ack=ack_now, lazy=[declare])
