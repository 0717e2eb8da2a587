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
