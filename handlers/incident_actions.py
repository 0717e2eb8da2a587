"""Incident buttons (Undo, Ack, Mitigated, Resolve, Escalate, Severity) and the Declare incident shortcut."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.i18n import t
from bot.incidents.desk import IncidentDesk, OpenRequest, Refused, desk_for
from bot.render.blocks import Block, section
from bot.services import Services
from handlers.actions import Click, button
from handlers.common import answering_failures, ephemeral


def _incident_id(click: Click) -> int:
    return int(str(click.value).split(":", 1)[0])


Act = Callable[[IncidentDesk, Click], object]
ACTS: dict[str, Act] = {
    "incident_undo": lambda desk, click: desk.cancel(_incident_id(click), click.user),
    "incident_ack": lambda desk, click: desk.acknowledge(_incident_id(click), click.user, "button"),
    "incident_mitigated": lambda desk, click: desk.mitigate(_incident_id(click), click.user),
    "incident_resolve": lambda desk, click: desk.resolve(_incident_id(click), click.user),
    "incident_escalate": lambda desk, click: desk.escalate(_incident_id(click), click.user),
    "incident_severity": lambda desk, click: desk.set_severity(
        _incident_id(click), str(click.value).split(":", 1)[1], click.user),
}


def _storm_answer(desk: IncidentDesk, click: Click) -> list[Block]:
    """Join #N / Open a new one, asked of whoever fired 🔥💥 in a channel with a fresh incident."""
    asked = click.value if isinstance(click.value, dict) else {}
    reporter = str(asked.get("reporter", ""))
    if click.user != reporter:
        return [section(t("incident.storm_not_yours", click.language, user=reporter))]
    if click.action_id == "incident_join":
        joined = desk.join(int(asked["incident"]), click.user, str(asked["channel"]), asked.get("ts"))
        return [section(t("incident.storm_answered_join", click.language, number=joined.number))]
    desk.open(OpenRequest(reporter=reporter, source=str(asked.get("source") or "reaction"),
                          channel=str(asked["channel"]), message_ts=asked.get("ts"), thread_ts=asked.get("thread_ts"),
                          emoji=str(asked.get("emoji") or ""), degraded=bool(asked.get("degraded")), force=True))
    return [section(t("incident.storm_answered_new", click.language))]


def _answering_refusals(act: Act) -> Callable[[Services, WebClient, Click], list[Block] | None]:
    def run(services: Services, client: WebClient, click: Click) -> list[Block] | None:
        try:
            act(desk_for(services), click)
        except Refused as exc:
            return [section(str(exc))]
        return None
    return run


for _action_id, _act in ACTS.items():
    button(_action_id)(_answering_refusals(_act))
for _action_id in ("incident_join", "incident_open_new"):
    button(_action_id)(lambda services, client, click: _storm_answer(desk_for(services), click))


def register_shortcut(app: App, services: Services) -> None:
    def ack_now(ack: Ack) -> None:
        ack()

    def declare(body: dict[str, Any], client: WebClient) -> None:
        channel = (body.get("channel") or {}).get("id", "")
        message = body.get("message") or {}
        user = (body.get("user") or {}).get("id", "")
        team = services.config.team_for_channel(channel)
        with answering_failures(ephemeral(client, channel, user), team.language, "shortcut", "declare_incident"):
            desk_for(services).open(OpenRequest(reporter=user, source="shortcut", channel=channel,
                                                message_ts=message.get("ts"), thread_ts=message.get("thread_ts"),
                                                text=message.get("text")))

    app.shortcut("declare_incident")(ack=ack_now, lazy=[declare])
