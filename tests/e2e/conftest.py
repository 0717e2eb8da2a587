"""Fixtures that run the real bot process against a Slack recorder."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.bot_process import BotProcess
from tests.support.slack_recorder import SlackRecorder

ROTATION = {
    "tiers": [
        {"name": "1st line", "layers": [{"members": ["UDRI1"], "rotate_every": "1w", "handoff": "09:00",
                                         "start": "2026-01-05", "timezone": "Asia/Shanghai"}]},
        {"name": "2nd line", "layers": [{"members": ["USENIOR2"], "rotate_every": "1w", "handoff": "09:00",
                                         "start": "2026-01-05", "timezone": "Europe/Berlin"}]},
        {"name": "3rd line", "layers": [{"members": ["ULEAD3"], "rotate_every": "1w", "handoff": "09:00",
                                         "start": "2026-01-05", "timezone": "America/New_York"}]},
    ]
}


def team_config(**incidents: Any) -> dict[str, Any]:
    return {
        "teams": [{"name": "ml-platform", "channel": "CTEAM", "timezone": "Asia/Shanghai", "language": "en"}],
        "oncall": {"ml-platform": copy.deepcopy(ROTATION)},
        "incidents": incidents,
    }


@pytest.fixture
def start_bot(tmp_path: Path, slack: SlackRecorder) -> Iterator[Callable[..., BotProcess]]:
    started: list[BotProcess] = []

    def start(config: dict[str, Any] | None = None, **kwargs: Any) -> BotProcess:
        bot = BotProcess(tmp_path, slack.base_url, team_config() if config is None else config, **kwargs)
        bot.start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def bot(start_bot: Callable[..., BotProcess]) -> BotProcess:
    return start_bot()
