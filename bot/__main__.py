"""Command line: python -m bot serve | socket | shell | check | migrate."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

from pydantic import SecretStr

from bot.settings import ConfigError

if TYPE_CHECKING:  # for annotations only; the modules themselves are imported where they are used
    from flask import Flask

    from bot.scheduler import BotScheduler
    from bot.services import Services


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="HTTP mode on $PORT behind the waitress WSGI server")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--threads", type=int, default=32)
    commands.add_parser("socket", help="Socket Mode with SLACK_APP_TOKEN (no public URL needed)")
    shell = commands.add_parser("shell", help="a local console: type /gpu, messages, react :fire:")
    shell.add_argument("--demo", action="store_true", help="bundled demo data instead of real backends")
    shell.add_argument("--lang", choices=["en", "zh-CN"], default=None, help="reply language")
    shell.add_argument("--channel", default=None, help="the channel id to pretend to be in")
    commands.add_parser("check", help="validate settings and probe every configured backend")
    commands.add_parser("migrate", help="apply database migrations")
    args = parser.parse_args(argv)
    try:
        return RUNNERS[args.command](args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


def run_serve(args: argparse.Namespace) -> int:
    import waitress

    services, web, scheduler = _boot("SLACK_SIGNING_SECRET", verify_requests=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        waitress.serve(web, host=args.host, port=services.env.port, threads=args.threads, ident="emoji-ops",
                       channel_timeout=30, connection_limit=1000)
    finally:
        scheduler.shutdown()
    return 0


def run_socket(_args: argparse.Namespace) -> int:
    import waitress
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    services, web, scheduler = _boot("SLACK_APP_TOKEN", verify_requests=False)
    threading.Thread(target=waitress.serve, args=(web,), daemon=True,
                     kwargs={"host": "0.0.0.0", "port": services.env.port, "ident": "emoji-ops"}).start()
    try:
        handler = SocketModeHandler(web.config["bolt"], _secret(services.env.slack_app_token))
        handler.start()  # type: ignore[no-untyped-call]  # Bolt leaves SocketModeHandler.start() unannotated
    finally:
        scheduler.shutdown()
    return 0


def _boot(mode_secret: str, verify_requests: bool) -> tuple[Services, Flask, BotScheduler]:
    """Settings → services (migrated) → scheduler → Bolt app behind the HTTP routes."""
    from bot.jobs import start_scheduler
    from bot.runtime import load_settings, prepare_app, require, start_services
    from bot.web import build_web

    env, config = load_settings()
    require([(mode_secret, getattr(env, mode_secret.lower())), ("SLACK_BOT_TOKEN", env.slack_bot_token)])
    services = start_services(env, config)
    scheduler = start_scheduler(services)
    web = build_web(prepare_app(services, verify_requests=verify_requests), services,
                    _secret(env.alertmanager_token))
    return services, web, scheduler


def run_shell(args: argparse.Namespace) -> int:
    from bot.shell import run

    return run(demo=args.demo, language=args.lang, channel=args.channel)


def run_check(_args: argparse.Namespace) -> int:
    from bot.check import run

    return run()


def run_migrate(_args: argparse.Namespace) -> int:
    from bot.runtime import load_settings
    from bot.store.db import explain_connection_errors, make_engine, migrate

    env, _config = load_settings()
    engine = make_engine(env.database_url)
    with explain_connection_errors(engine):
        migrate(engine)
    print("database is up to date")
    return 0


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value else None


RUNNERS = {"serve": run_serve, "socket": run_socket, "shell": run_shell, "check": run_check,
           "migrate": run_migrate}

if __name__ == "__main__":
    sys.exit(main())
