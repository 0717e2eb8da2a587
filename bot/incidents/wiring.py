"""Connects the incident desk to the emoji dialect: combos open incidents, single emoji act on them."""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.emoji.dialect import ActionRegistry, ComboContext
from bot.incidents.desk import IncidentDesk, OpenRequest, Refused
from bot.incidents.model import Incident

log = logging.getLogger(__name__)


def register(actions: ActionRegistry, desk: IncidentDesk) -> None:
    def open_incident(ctx: ComboContext, degraded: bool = False) -> None:
        desk.open(OpenRequest(reporter=ctx.user, source=ctx.source, channel=ctx.channel, message_ts=ctx.message_ts,
                              thread_ts=ctx.thread_ts, text=ctx.text, emoji="".join(ctx.emoji), degraded=degraded))

    def acknowledge(ctx: ComboContext) -> None:
        _on_incident_message(desk, ctx, "acknowledge", lambda inc: desk.acknowledge(inc.id, ctx.user, "👀"))

    def resolve(ctx: ComboContext) -> None:
        _on_incident_message(desk, ctx, "resolve", lambda inc: desk.resolve(inc.id, ctx.user))

    def pin(ctx: ComboContext) -> None:
        desk.pin_message(ctx.channel, ctx.message_ts, ctx.user)

    actions.register("open_incident", open_incident)
    actions.register("degraded", lambda ctx: open_incident(ctx, degraded=True))
    actions.register("acknowledge", acknowledge)
    actions.register("resolve", resolve)
    actions.register("pin", pin)


def _on_incident_message(desk: IncidentDesk, ctx: ComboContext, action: str,
                         act: Callable[[Incident], object]) -> None:
    """👀/✅ on an incident's message; from anyone not allowed to act it is just a reaction (no reply)."""
    incident = desk.of_message(ctx.channel, ctx.message_ts)
    if incident is None or not desk.allows(incident, ctx.user, action):
        return
    try:
        act(incident)
    except Refused as exc:
        log.info("%s on incident %s ignored: %s", ctx.action, incident.id, exc)
