"""Global middleware and the event wrapper: Slack events are written to the inbox before Slack gets its 200
(redeliveries of one already written are dropped; with the database away, none is acknowledged, so Slack delivers
it again), marked done when their listener ends, and acks are counted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse

from bot.metrics import ACKS, DUPLICATES
from bot.render.blocks import error_blocks
from bot.retry import DATABASE_ERRORS, BackendError, backend_error_text, diagnose
from bot.services import Services
from bot.store import inbox, repo

log = logging.getLogger(__name__)
# Events whose work the inbox carries across a kill: their listeners end with `finishing`.
INBOXED = frozenset({"message", "reaction_added", "reaction_removed"})


def register(app: App, services: Services) -> None:
    @app.middleware
    def drop_redeliveries(body: dict[str, Any], request: BoltRequest,
                          next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id:
            try:
                first = _first_to_work(services, body, str(event_id))
            except DATABASE_ERRORS as exc:
                _unrecorded(services, body, request, exc)
                return BoltResponse(status=500, body="")  # not acknowledged: Slack delivers it again
            if not first:
                DUPLICATES.inc()
                log.info("dropping redelivered event %s", event_id)
                return BoltResponse(status=200, body="")
        ACKS.labels(_kind(body)).inc()
        next()
        return None


def _first_to_work(services: Services, body: dict[str, Any], event_id: str) -> bool:
    """Whether this process does the event's work (False: a redelivery of one written down already)."""
    now = services.clock.now()
    if (body.get("event") or {}).get("type") in INBOXED:
        return inbox.receive(services.sessions, body, now)
    return repo.first_sighting(services.sessions, event_id, now)


def _unrecorded(services: Services, body: dict[str, Any], request: BoltRequest, exc: Exception) -> None:
    """The event could not be written down (the database is away), so Slack will deliver it again; whoever
    reacted or typed something the bot acts on hears why nothing happened yet, once (not on each redelivery)."""
    event = body.get("event") or {}
    log.warning("event %s not taken, the database is unavailable (%s); Slack will deliver it again",
                body.get("event_id"), type(exc).__name__)
    if request.headers.get("x-slack-retry-num") or not services.dialect.acts_on(event):
        return
    channel = str(event.get("channel") or (event.get("item") or {}).get("channel") or "")
    user = str(event.get("user") or "")
    language = services.language(user, services.config.team_for_channel(channel))
    said = backend_error_text(diagnose("database", exc, where="database"), language)
    try:
        services.chat.ephemeral(channel, user, error_blocks(said))
    except BackendError as failed:
        log.warning("could not tell %s the database is unavailable: %s", user, failed.reason)


def finishing(services: Services, work: Callable[[dict[str, Any], str | None], None]) -> Callable[..., None]:
    """An event listener that marks its inbox row done when `work` returns (a kill before that leaves it for the
    leader's replay). Bolt fills listener arguments by name, hence `body` and `event`."""
    def listener(body: dict[str, Any], event: dict[str, Any]) -> None:
        event_id = str(body["event_id"]) if body.get("event_id") else None
        work(event, event_id)
        if event_id:
            try:
                inbox.done(services.sessions, event_id, services.clock.now())
            except DATABASE_ERRORS as exc:  # the replay does the (idempotent) work again later
                log.warning("event %s done, but not marked so: %s", event_id, type(exc).__name__)
    return listener


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return str(body.get("type") or "unknown")
