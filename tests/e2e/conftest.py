"""Fixtures that run the real bot process against a Slack recorder (configured by tests/support/config.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot_process import BotProcess
from tests.support.config import bot_config
from tests.support.slack_recorder import SlackRecorder


@pytest.fixture
def start_bot(tmp_path: Path, slack: SlackRecorder) -> Iterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def start(config: dict[str, Any] | None = None, **kwargs: Any) -> BotProcess:
        bot = BotProcess(tmp_path, slack.base_url, bot_config() if config is None else config, **kwargs)
        bot.start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(start_bot: Callable[..., BotProcess]) -> BotProcess:
    return start_bot()
