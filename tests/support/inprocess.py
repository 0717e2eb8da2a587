"""The bot's services built in-process (injected clock, real database, Slack recorder) for domain tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.clients.slack import make_web_client
from bot.clock import FrozenClock
from bot.runtime import register_domains
from bot.services import Services, build_services
from bot.settings import Config, Env
from bot.store.db import make_engine, migrate
from tests.support.slack_recorder import SlackRecorder

START = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday


def make_services(database_url: str, slack: SlackRecorder, config: dict[str, Any],
                  clock: FrozenClock | None = None, **env: Any) -> Services:
    settings = Env(_env_file=None, slack_bot_token="xoxb-inprocess-test", database_url=database_url,  # type: ignore[call-arg]
                   slack_api_url=slack.base_url, **env)
    engine = make_engine(database_url)
    migrate(engine)
    services = build_services(settings, Config.model_validate(config), clock=clock or FrozenClock(START),
                              slack=make_web_client("xoxb-inprocess-test", slack.base_url), engine=engine)
    register_domains(services)
    return services


def make_bot(database_url: str, slack: SlackRecorder, config: dict[str, Any], clock: FrozenClock | None = None,
             **env: Any) -> tuple[Services, Any]:
    """The services and the Bolt app on them: what a flow test drives with `dispatch` and inspects in the store."""
    services = make_services(database_url, slack, config, clock, **env)
    return services, make_app(services)


def make_app(services: Services):  # type: ignore[no-untyped-def]
    """The real Bolt app, run synchronously so a test sees every effect when dispatch returns."""
    from bot.app import build_app
    from bot.shell import InlineExecutor

    return build_app(services, verify_requests=False, executor=InlineExecutor())


def dispatch(app, body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    from slack_bolt import BoltRequest

    content_type = "application/json" if body.lstrip().startswith(b"{") else "application/x-www-form-urlencoded"
    sent = {"content-type": [content_type], **{name.lower(): [value] for name, value in (headers or {}).items()}}
    return app.dispatch(BoltRequest(body=body.decode(), headers=sent))
