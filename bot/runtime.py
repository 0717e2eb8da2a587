"""Start-up shared by serve, socket and shell: settings → services → migrations → Bolt app."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from concurrent.futures import Executor
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from bot.alerts import wiring as alert_wiring
from bot.app import build_app
from bot.clock import Clock
from bot.incidents import wiring as incident_wiring
from bot.log import configure_logging
from bot.services import Services, build_services
from bot.settings import Config, ConfigError, Env, load_config, load_env
from bot.spend import wiring as spend_wiring
from bot.store.db import explain_connection_errors, migrate

log = logging.getLogger(__name__)
DEMO_CONFIG = Path(__file__).resolve().parent.parent / "config" / "demo.yaml"


def load_settings(demo: bool = False) -> tuple[Env, Config]:
    """Environment and YAML config, or ConfigError naming what is wrong (never a traceback)."""
    env = load_env()
    configure_logging(env.log_level, env.secret_values())
    path = env.config_file()
    if path is None:
        return env, load_config(DEMO_CONFIG) if demo else Config()
    return env, load_config(path)


def start_services(env: Env, config: Config, *, demo: bool = False, clock: Clock | None = None,
                   slack: WebClient | None = None) -> Services:
    services = build_services(env, config, demo=demo, clock=clock, slack=slack)
    with explain_connection_errors(services.engine):
        migrate(services.engine)
    register_domains(services)
    return services


def register_domains(services: Services) -> None:
    """Domain packages attach what their emoji mean (combos and single-emoji signals)."""
    incident_wiring.register(services.actions, services.incidents)
    services.incidents.opened.append(services.alerts.attach)
    if services.kube_configured:
        services.incidents.opened.append(services.evidence.on_open)
    services.incidents.opened.append(services.incidents.show_resembling)
    alert_wiring.register(services.actions, services.alerts)
    spend_wiring.register(services.actions, services.burn, services.chat, services.config)


def prepare_app(services: Services, *, verify_requests: bool = True, executor: Executor | None = None) -> App:
    return build_app(services, verify_requests=verify_requests, executor=executor)


def require(values: Iterable[tuple[str, object]]) -> None:
    missing = [name for name, value in values if not value]
    if missing:
        raise ConfigError(f"missing environment variable(s): {', '.join(missing)} "
                          "(set them in the environment or .env; see README, Configuration)")
