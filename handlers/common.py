"""What every handler shares: replying in the user's language, and turning failures into clear answers."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from bot.i18n import t
from bot.metrics import ERRORS, HANDLER_SECONDS
from bot.render.blocks import Block, error_blocks
from bot.render.text import notification_text
from bot.retry import BackendError

log = logging.getLogger("handlers")
Reply = Callable[[list[Block]], Any]

BACKEND_NAMES = {"prometheus": "Prometheus", "kubernetes": "Kubernetes", "aws": "AWS", "github": "GitHub",
                 "slack": "Slack", "database": "the database", "pagerduty": "PagerDuty"}


@contextmanager
def answering_failures(reply: Reply, language: str, kind: str, name: str) -> Iterator[None]:
    """Run handler work; a failure becomes a short reply (backend named, or an error id), never silence."""
    started = time.perf_counter()
    try:
        yield
    except BackendError as exc:
        ERRORS.labels(exc.backend).inc()
        log.warning("%s %s: backend %s failed: %s", kind, name, exc.backend, exc.reason)
        backend = BACKEND_NAMES.get(exc.backend, exc.backend)
        _safely(reply, error_blocks(t("core.backend_error", language, backend=backend, reason=exc.reason)))
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        ERRORS.labels("bot").inc()
        log.exception("%s %s failed; error id %s", kind, name, error_id, extra={"error_id": error_id})
        _safely(reply, error_blocks(t("core.error_with_id", language, error_id=error_id)))
    finally:
        HANDLER_SECONDS.labels(kind, name).observe(time.perf_counter() - started)


def _safely(reply: Reply, blocks: list[Block]) -> None:
    try:
        reply(blocks)
    except Exception:
        log.exception("could not tell the user about a failure")


def responder(respond: Callable[..., Any], response_type: str = "ephemeral") -> Reply:
    def reply(blocks: list[Block]) -> Any:
        return respond(blocks=blocks, text=notification_text(blocks), response_type=response_type,
                       replace_original=False)
    return reply


def ephemeral(client: Any, channel: str, user: str, thread_ts: str | None = None) -> Reply:
    def reply(blocks: list[Block]) -> Any:
        return client.chat_postEphemeral(channel=channel, user=user, blocks=blocks, thread_ts=thread_ts,
                                         text=notification_text(blocks))
    return reply


def post(client: Any, channel: str, thread_ts: str | None = None) -> Reply:
    def reply(blocks: list[Block]) -> Any:
        return client.chat_postMessage(channel=channel, thread_ts=thread_ts, blocks=blocks,
                                       text=notification_text(blocks), unfurl_links=False)
    return reply
