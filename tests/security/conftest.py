"""Fixtures for the security tests: one running bot per module (`python -m bot serve` over HTTP, with
ALERTMANAGER_TOKEN set) on its own Slack recorder, and a read-only look at its SQLite database."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.bot_process import SECRETS, BotProcess
from tests.support.config import bot_config
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


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    workdir: Path = tmp_path_factory.mktemp("secured-bot")
    with SlackRecorder() as slack:
        bot = BotProcess(workdir, slack.base_url, bot_config(admins=[ADMIN], incidents={"storm_window": "0s"}),
                         extra_env={"ALERTMANAGER_TOKEN": SECRETS["ALERTMANAGER_TOKEN"]})
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
