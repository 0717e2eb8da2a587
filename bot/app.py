"""The composition root: builds the Bolt app from settings and services and registers every listener.
The only module of `bot` that imports `handlers` (tests/unit/core/test_layering.py)."""

from __future__ import annotations

import logging
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltRequest
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner

from bot.services import Services
from handlers import SLASH_COMMANDS, register_all

log = logging.getLogger(__name__)

# Bolt runs acks and lazy listeners on one pool by default. Slow backend work goes to a pool of
# its own, so however many slow commands are in flight, an ack never queues behind them
# (Slack wants the ack within 3 s).
LISTENER_THREADS = 32
LAZY_THREADS = 64


def slash_commands() -> list[str]:
    """Every slash command the bot answers (the shell offers them; the manifest must declare them)."""
    return sorted(SLASH_COMMANDS)


def build_app(services: Services, *, verify_requests: bool = True, executor: Executor | None = None) -> App:
    signing_secret = services.env.slack_signing_secret
    app = App(
        client=services.slack,
        signing_secret=signing_secret.get_secret_value() if signing_secret else None,
        token_verification_enabled=False,
        request_verification_enabled=verify_requests,
        listener_executor=executor or ThreadPoolExecutor(max_workers=LISTENER_THREADS,
                                                         thread_name_prefix="listener"),
        logger=logging.getLogger("slack_bolt"),
    )
    if executor is None:
        lazy = app.listener_runner.lazy_listener_runner  # typed as the abstract runner, which has no executor
        if not isinstance(lazy, ThreadLazyListenerRunner):
            raise TypeError(f"Bolt's lazy listener runner is a {type(lazy).__name__}; expected a thread runner")
        lazy.executor = ThreadPoolExecutor(max_workers=LAZY_THREADS, thread_name_prefix="lazy")
    register_all(app, services)
    services.replay_event = lambda body: _replay(app, body)
    return app


def _replay(app: App, body: dict[str, Any]) -> None:
    """An event from the inbox, dispatched as Socket Mode delivers one (it was verified when it first came)."""
    app.dispatch(BoltRequest(body=body, mode="socket_mode"))
