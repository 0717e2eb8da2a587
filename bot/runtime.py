"""Start-up shared by serve, socket and shell: settings → services → migrations → Bolt app."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from slack_bolt import App

from bot.app import build_app
from bot.clock import Clock
from bot.log import configure_logging
from bot.services import Services, build_services
from bot.settings import Config, ConfigError, Env, load_config
from bot.store.db import migrate

log = logging.getLogger(__name__)
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"


def load_settings(demo: bool = False) -> tuple[Env, Config]:
    env = Env()
    configure_logging(env.log_level, env.secret_values())
    path = env.bot_config
    if demo and not path.exists():
        path = DEMO_CONFIG
    return env, load_config(path)


def start_services(env: Env, config: Config, *, demo: bool = False, clock: Clock | None = None,
                   slack: object | None = None) -> Services:
    services = build_services(env, config, demo=demo, clock=clock, slack=slack)  # type: ignore[arg-type]
    migrate(services.engine)
    register_domains(services)
    return services


def register_domains(services: Services) -> None:
    """Domain modules attach their actions (emoji combos, signals) and alert hooks."""
    from bot import spend_actions
    from bot.incidents import wiring

    wiring.register(services)
    spend_actions.register(services)


def prepare_app(services: Services, *, verify_requests: bool = True, executor=None) -> App:
    return build_app(services, verify_requests=verify_requests, executor=executor)


def require(values: Iterable[tuple[str, object]]) -> None:
    missing = [name for name, value in values if not value]
    if missing:
        raise ConfigError(f"missing environment variable(s): {', '.join(missing)} "
                          "(set them in the environment or .env; see README, Configuration)")
