"""Fixtures for the security tests: one running bot per module (`python -m bot serve` over HTTP) on its own Slack
recorder, configured with every secret setting (each backend a loopback server that refuses), and a read-only look
at its SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.support.bot_process import DATABASE_PASSWORD, KUBE_TOKEN, SECRETS, URL_PASSWORD, BotProcess
from tests.support.config import bot_config
from tests.support.fixture_http import FixtureServer
from tests.support.servers import free_port
from tests.support.slack_recorder import SlackRecorder

ADMIN = "UADMIN"


@dataclass
class Served:
    """The module's bot, its Slack, and counts read from its database."""

    bot: BotProcess
    slack: SlackRecorder

    def count(self, table: str, where: str = "1 = 1", *args: object) -> int:
        with sqlite3.connect(f"file:{self.bot.workdir / 'bot.db'}?mode=ro", uri=True) as db:
            return int(db.execute(f"select count(*) from {table} where {where}", args).fetchone()[0])


def kubeconfig(path: Path, server: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "scan",
        "clusters": [{"name": "scan", "cluster": {"server": server}}],
        "users": [{"name": "bot", "user": {"token": KUBE_TOKEN}}],
        "contexts": [{"name": "scan", "context": {"cluster": "scan", "user": "bot"}}]}))
    return str(path)


def every_secret(workdir: Path, backend: str, database: bool = True) -> dict[str, str]:
    """Every secret setting, each backend at `backend`; with `database`, a PostgreSQL URL with a password at a
    port nobody listens on."""
    with_password = backend.replace("http://", f"http://scan:{URL_PASSWORD}@")
    postgres = f"postgresql://emoji:{DATABASE_PASSWORD}@127.0.0.1:{free_port()}/emoji"
    return {**SECRETS, **({"DATABASE_URL": postgres} if database else {}),
            "PROMETHEUS_URL": with_password, "ALERTMANAGER_URL": with_password, "GITHUB_API_URL": backend,
            "PAGERDUTY_API_URL": backend, "AWS_ENDPOINT_URL": backend, "AWS_DEFAULT_REGION": "us-east-1",
            "KUBECONFIG": kubeconfig(workdir / "kubeconfig", backend)}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Every secret set (its logs are scanned at the end of the session), every backend refusing; SQLite."""
    workdir: Path = tmp_path_factory.mktemp("secured-bot")
    with SlackRecorder() as slack, FixtureServer() as refusing:
        bot = BotProcess(workdir, slack.base_url, bot_config(admins=[ADMIN], incidents={"storm_window": "0s"}),
                         extra_env=every_secret(workdir, refusing.url, database=False))
        bot.start()
        try:
            yield Served(bot, slack)
        finally:
            bot.stop()


@pytest.fixture
def secured(served: Served) -> Served:
    """The module's bot with its Slack recorder's calls cleared."""
    served.slack.clear()
    return served
