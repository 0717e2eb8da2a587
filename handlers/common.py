"""What every handler shares: replying in the user's language, and turning failures into clear answers."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bot.escape import Markup
from bot.i18n import t
from bot.metrics import ERRORS, HANDLER_SECONDS
from bot.render.blocks import Block, context, error_blocks
from bot.render.text import notification_text, safe_blocks
from bot.retry import BACKENDS, DATABASE_ERRORS, BackendError, backend_error_text, backend_name, diagnose

log = logging.getLogger("handlers")
Reply = Callable[[list[Block]], Any]

# English names, for code that still wants a mapping; user-facing text goes through backend_name().
BACKEND_NAMES = {backend: backend_name(backend, "en") for backend in BACKENDS}
# Seconds without an answer before the user is told the bot is on it (Slack shows nothing meanwhile).
WORKING_AFTER = 2.0


@contextmanager
def answering_failures(reply: Reply, language: str, kind: str, name: str) -> Iterator[None]:
    """Run handler work; a failure becomes a short reply (backend named, or an error id), never silence."""
    started = time.perf_counter()
    try:
        yield
    except BackendError as exc:
        _backend_failed(reply, language, kind, name, exc)
    except DATABASE_ERRORS as exc:
        _backend_failed(reply, language, kind, name, diagnose("database", exc, where="database"))
    except Exception:
        error_id = uuid.uuid4().hex[:8]
        ERRORS.labels("bot").inc()
        log.exception("%s %s failed; error id %s", kind, name, error_id, extra={"error_id": error_id})
        _safely(reply, error_blocks(t("core.error_with_id", language, error_id=error_id)))
    finally:
        HANDLER_SECONDS.labels(kind, name).observe(time.perf_counter() - started)


def _backend_failed(reply: Reply, language: str, kind: str, name: str, exc: BackendError) -> None:
    ERRORS.labels(exc.backend).inc()
    log.warning("%s %s: backend %s failed: %s%s", kind, name, exc.backend, exc.reason,
                f" [{exc.detail}]" if exc.detail else "")
    _safely(reply, error_blocks(backend_error_text(exc, language)))


def _safely(reply: Reply, blocks: list[Block]) -> None:
    try:
        reply(blocks)
    except Exception:
        log.exception("could not tell the user about a failure")


@contextmanager
def working_notice(reply: Reply, language: str, backends: Sequence[str] = ()) -> Iterator[Reply]:
    """Yields the reply to answer with. If no answer went out within WORKING_AFTER seconds, one
    "Working on it… (asking Prometheus)" goes out first; the answer always comes after it."""
    lock = threading.Lock()
    answered = False

    def tell_working() -> None:
        with lock:  # held while posting, so an answer that arrives meanwhile waits and lands second
            if not answered:
                _safely(reply, [context(working_text(language, backends))])

    def answer(blocks: list[Block]) -> Any:
        nonlocal answered
        with lock:
            answered = True
        timer.cancel()
        return reply(blocks)

    timer = threading.Timer(WORKING_AFTER, tell_working)
    timer.daemon = True
    timer.start()
    try:
        yield answer
    finally:
        with lock:
            answered = True
        timer.cancel()


def working_text(language: str, backends: Sequence[str]) -> str:
    if not backends:
        return t("core.working", language)
    names = [backend_name(backend, language) for backend in backends]
    listed = names[0] if len(names) == 1 else t(
        "core.list_and", language, items=Markup(t("core.list_separator", language).join(names[:-1])),
        last=names[-1])
    return t("core.working_asking", language, backends=listed)


def responder(respond: Callable[..., Any], response_type: str = "ephemeral") -> Reply:
    def reply(blocks: list[Block]) -> Any:
        safe = safe_blocks(blocks)
        return respond(blocks=safe, text=notification_text(safe), response_type=response_type,
                       replace_original=False)
    return reply


def ephemeral(client: Any, channel: str, user: str, thread_ts: str | None = None) -> Reply:
    def reply(blocks: list[Block]) -> Any:
        safe = safe_blocks(blocks)
        return client.chat_postEphemeral(channel=channel, user=user, blocks=safe, thread_ts=thread_ts,
                                         text=notification_text(safe))
    return reply


def post(client: Any, channel: str, thread_ts: str | None = None) -> Reply:
    def reply(blocks: list[Block]) -> Any:
        safe = safe_blocks(blocks)
        return client.chat_postMessage(channel=channel, thread_ts=thread_ts, blocks=safe,
                                       text=notification_text(safe), unfurl_links=False)
    return reply
