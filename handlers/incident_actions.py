"""Incident buttons (Undo, Ack, Mitigated, Resolve, Escalate, Severity) and the Declare incident shortcut."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot.incidents.desk import OpenRequest, Refused, desk_for
from bot.render.blocks import Block, section
from bot.services import Services
from handlers.actions import Click, button
from handlers.common import answering_failures, ephemeral


def _incident_id(click: Click) -> int:
    return int(str(click.value).split(":", 1)[0])


def _refusal_to_reply(run):  # type: ignore[no-untyped-def]
    def wrapped(services: Services, client: WebClient, click: Click) -> list[Block] | None:
        try:
            run(services, click)
        except Refused as exc:
            return [section(str(exc))]
        return None
    return wrapped


@button("incident_undo")
@_refusal_to_reply
def undo(services: Services, click: Click) -> None:
    desk_for(services).cancel(_incident_id(click), click.user)


@button("incident_ack")
@_refusal_to_reply
def ack(services: Services, click: Click) -> None:
    desk_for(services).acknowledge(_incident_id(click), click.user, "button")


@button("incident_mitigated")
@_refusal_to_reply
def mitigated(services: Services, click: Click) -> None:
    desk_for(services).mitigate(_incident_id(click), click.user)


@button("incident_resolve")
@_refusal_to_reply
def resolve(services: Services, click: Click) -> None:
    desk_for(services).resolve(_incident_id(click), click.user)


@button("incident_escalate")
@_refusal_to_reply
def escalate(services: Services, click: Click) -> None:
    desk_for(services).escalate(_incident_id(click), click.user)


@button("incident_severity")
@_refusal_to_reply
def severity(services: Services, click: Click) -> None:
    desk_for(services).set_severity(_incident_id(click), str(click.value).split(":", 1)[1], click.user)


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
