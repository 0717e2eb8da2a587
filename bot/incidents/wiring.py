"""Connects the incident desk to the emoji dialect: combos open incidents, single emoji act on them."""

from __future__ import annotations

import logging

from bot.emoji_dialect import ComboContext
from bot.i18n import t
from bot.incidents import store
from bot.incidents.desk import IncidentDesk, OpenRequest, Refused, desk_for
from bot.incidents.model import Incident
from bot.render.blocks import context
from bot.retry import BackendError
from bot.services import Services

log = logging.getLogger(__name__)


def register(services: Services) -> None:
    def open_incident(ctx: ComboContext, degraded: bool = False) -> None:
        desk_for(services).open(OpenRequest(reporter=ctx.user, source=ctx.source, channel=ctx.channel,
                                            message_ts=ctx.message_ts, thread_ts=ctx.thread_ts, text=ctx.text,
                                            emoji="".join(ctx.emoji), degraded=degraded))

    def acknowledge(ctx: ComboContext) -> None:
        _on_incident_message(services, ctx, lambda desk, inc: desk.acknowledge(inc.id, ctx.user, "👀"))

    def resolve(ctx: ComboContext) -> None:
        _on_incident_message(services, ctx, lambda desk, inc: desk.resolve(inc.id, ctx.user))

    def pin(ctx: ComboContext) -> None:
        _pin_to_timeline(services, ctx)

    services.actions.register("open_incident", open_incident)
    services.actions.register("degraded", lambda ctx: open_incident(ctx, degraded=True))
    services.actions.register("acknowledge", acknowledge)
    services.actions.register("resolve", resolve)
    services.actions.register("pin", pin)


def may_act(services: Services, incident: Incident, user: str, action: str) -> bool:
    """The same audience the desk enforces; a reaction from anyone else is just a reaction (no reply)."""
    desk = desk_for(services)
    return services.permissions.allows(user, desk.audience(incident, action, incident.language))


def _on_incident_message(services: Services, ctx: ComboContext, act) -> None:  # type: ignore[no-untyped-def]
    incident = store.find_by_message(services.factory, ctx.channel, ctx.message_ts)
    action = "resolve" if ctx.action == "resolve" else "acknowledge"
    if incident is None or not may_act(services, incident, ctx.user, action):
        return
    try:
        act(desk_for(services), incident)
    except Refused as exc:
        log.info("%s on incident %s ignored: %s", ctx.action, incident.id, exc)


def _pin_to_timeline(services: Services, ctx: ComboContext) -> None:
    incident = store.find_by_channel(services.factory, ctx.channel)
    if incident is None:
        return
    desk: IncidentDesk = desk_for(services)
    try:
        text = desk.chat.message(ctx.channel, ctx.message_ts).text
    except BackendError as exc:
        text = f"(message {ctx.message_ts}: {exc.reason})"
    if desk.note(incident.id, ctx.user, text, key=f"pin:{ctx.channel}:{ctx.message_ts}", kind="pinned"):
        try:
            desk.chat.ephemeral(ctx.channel, ctx.user, [context(t("incident.pinned", incident.language,
                                                                  number=incident.number))])
        except BackendError as exc:
            log.info("could not confirm the pin: %s", exc.reason)
