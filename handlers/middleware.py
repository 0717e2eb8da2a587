"""Global middleware: drop Slack redeliveries of events already handled, count acks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltResponse

from bot.metrics import ACKS, DUPLICATES
from bot.services import Services
from bot.store import repo

log = logging.getLogger(__name__)


def register(app: App, services: Services) -> None:
    @app.middleware
    def drop_redeliveries(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not repo.first_sighting(services.sessions, event_id, services.clock.now()):
            DUPLICATES.inc()
            log.info("dropping redelivered event %s", event_id)
            return BoltResponse(status=200, body="")
        ACKS.labels(_kind(body)).inc()
        next()
        return None


def _kind(body: dict[str, Any]) -> str:
    if "command" in body:
        return "command"
    return str(body.get("type") or "unknown")
