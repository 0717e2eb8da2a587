"""/alerts (firing now, noisy, quiet) and the buttons on alert messages: Silence, Open incident, Noisy."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.alerts.quality_render import noisy_blocks, noisy_chart_png
from bot.alerts.render import REASON_CHARS, firing_blocks, noisy_modal, said_blocks
from bot.alerts.service import AlertRefused
from bot.durations import DurationTooLong, format_duration, parse_duration
from bot.i18n import t
from bot.incidents.desk import Refused
from bot.permissions import Denied
from bot.render.blocks import Block, context, section
from bot.render.time import local
from bot.services import Services
from handlers.common import (
    Button,
    Click,
    Command,
    Invocation,
    Submission,
    UsageError,
    ack_now,
    answering_failures,
    click_from,
    echo,
    ephemeral,
    register_buttons,
    register_commands,
    resolve_team,
    run_submission,
)

log = logging.getLogger("handlers")
NOISY_PERIODS = {"7d": 7, "30d": 30}
MAX_GROUP = 2**31 - 1  # alert group ids are 32-bit integers in the database
MAX_QUIET = timedelta(days=7)


def alerts(services: Services, inv: Invocation) -> list[Block]:
    sub = inv.args[0].lower() if inv.args else ""
    if sub == "noisy":
        return noisy(services, inv, inv.args[1:])
    if sub == "quiet":
        return quiet(services, inv, inv.args[1:])
    if len(inv.args) > 1:
        raise UsageError(t("core.unknown_argument", inv.language, argument=echo(" ".join(inv.args[1:]))))
    team = resolve_team(services, inv.team, inv.args[0] if inv.args else None, inv.language) \
        if inv.args or services.config.team_named(inv.team.name) else None
    groups = services.alerts.firing(team.name if team else None)
    tz = services.users.get(inv.user).tz or (team.timezone if team else services.config.defaults.timezone)
    return firing_blocks(groups, team.name if team else None, inv.language, tz, services.clock.now())


def noisy(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    """/alerts noisy [team] [7d|30d]: the noisiest alert names, with a chart."""
    days, words = 7, list(args)
    for word in list(words):
        if word.lower() in NOISY_PERIODS:
            days = NOISY_PERIODS[word.lower()]
            words.remove(word)
    if len(words) > 1:
        raise UsageError(t("core.unknown_argument", inv.language, argument=echo(" ".join(words[1:]))))
    named = resolve_team(services, inv.team, words[0], inv.language) if words else None
    team = named.name if named else (inv.team.name if services.config.team_named(inv.team.name) else None)
    now = services.clock.now()
    report = services.alerts.noisy(team, now - timedelta(days=days))
    if report:
        services.chat.upload(inv.channel, f"noisy-alerts-{days}d.png", noisy_chart_png(report, inv.language),
                             title=t("alerts.chart_title", inv.language, days=days))
    return noisy_blocks(report, team, days, inv.language)


def quiet(services: Services, inv: Invocation, args: list[str]) -> list[Block]:
    """/alerts quiet <team|namespace> <duration> [reason]"""
    if len(args) < 2:
        raise UsageError(t("alerts.quiet_needs", inv.language))
    try:
        duration = parse_duration(args[1])
    except (ValueError, DurationTooLong):
        raise UsageError(t("alerts.quiet_bad_duration", inv.language, duration=echo(args[1]))) from None
    if not timedelta(minutes=1) <= duration <= MAX_QUIET:
        raise UsageError(t("alerts.quiet_bad_duration", inv.language, duration=echo(args[1])))
    try:
        window = services.alerts.quiet(args[0].lstrip("#"), duration, " ".join(args[2:]), inv.user, inv.language)
    except (Denied, AlertRefused) as exc:
        return [section(str(exc))]
    tz = services.users.get(inv.user).tz or inv.team.timezone
    return [section(t("alerts.quiet_saved", inv.language, target=args[0], until=f"{local(window.ends_at, tz):%H:%M}",
                      duration=format_duration(duration)))]


# Buttons ---------------------------------------------------------------------------------------------


def silence(services: Services, click: Click) -> list[Block] | None:
    try:
        done = services.alerts.silence(_group_id(click), click.user, click.language)
    except (Denied, AlertRefused) as exc:
        return [section(str(exc))]
    except BadButton:
        return [section(t("alerts.bad_button", click.language))]
    tz = services.users.get(click.user).tz or services.alerts.team_zone(done.group.team)
    return [context(t("alerts.silenced", click.language, alertname=done.group.alertname,
                      until=f"{local(done.until, tz):%H:%M}"))]


def open_incident(services: Services, click: Click) -> list[Block] | None:
    try:
        incident = services.alerts.open_incident(_group_id(click), click.user, click.language)
    except (Refused, AlertRefused) as exc:
        return [section(str(exc))]
    except BadButton:
        return [section(t("alerts.bad_button", click.language))]
    return [context(t("incident.opened", click.language, number=incident.number, severity=incident.severity,
                      title=incident.title))]


class BadButton(Exception):
    """A button's value names no alert group (a message from an older version, or a forged one)."""


def _group_id(click: Click) -> int:
    group = _group_named(click.value)
    if group is None:
        raise BadButton
    return group


def _group_named(value: object) -> int | None:
    """The alert group a button's value names (the bot writes its id), or None."""
    digits = str(value)
    if digits.isascii() and digits.isdecimal() and len(digits) <= 10 and 1 <= int(digits) <= MAX_GROUP:
        return int(digits)
    return None


# The Noisy button and its modal -------------------------------------------------------------------------------
NOISY_VIEW = "alerts_noisy_reason"


def ask_why_noisy(services: Services, body: dict[str, Any], client: WebClient) -> None:
    """The Noisy button opens a one-line modal at once (Slack's trigger_id expires after 3 s); when it can't,
    the mark is recorded without a reason."""
    click = click_from(services, body)
    reply = ephemeral(services.chat, click.channel, click.user)
    with answering_failures(reply, click.language, "action", "alerts_noisy"):
        group = _group_named(click.value)
        if group is None:
            reply([section(t("alerts.bad_button", click.language))])
            return
        metadata = json.dumps({"channel": click.channel, "ts": click.message_ts, "value": group})
        try:
            client.views_open(trigger_id=body["trigger_id"], view=noisy_modal(metadata, click.language))
        except (SlackApiError, KeyError) as exc:  # too late, or Slack refused: record without a reason
            log.info("could not open the noisy modal: %s", exc)
            said = noisy_submitted(services, Submission(click.user, click.channel, click.message_ts, group, {},
                                                        click.language))
            if said:
                reply(said)


def noisy_submitted(services: Services, sub: Submission) -> list[Block] | None:
    """The mark recorded, and said to the person in their language."""
    group = _group_named(sub.value)
    if group is None:
        return [section(t("alerts.bad_button", sub.language))]
    try:
        services.alerts.mark_noisy(group, sub.user, sub.inputs.get("reason", "")[:REASON_CHARS], lang=sub.language)
        alertname = services.alerts.group(group, sub.language).alertname
    except AlertRefused as exc:
        return [section(str(exc))]
    return said_blocks("noisy_recorded", {"alertname": alertname}, sub.language)


COMMANDS = {"/alerts": Command("alerts", alerts)}
BUTTONS: dict[str, Button] = {"alerts_silence": silence, "alerts_incident": open_incident}


def register(app: App, services: Services) -> None:
    register_commands(app, services, COMMANDS)
    register_buttons(app, services, BUTTONS)

    def noisy_clicked(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        ask_why_noisy(services, body, client)

    def why_submitted(body: dict[str, Any]) -> None:
        run_submission(services, NOISY_VIEW, noisy_submitted, body)

    app.action("alerts_noisy")(noisy_clicked)
    app.view(NOISY_VIEW)(ack=ack_now, lazy=[why_submitted])
