"""An idle bot logs the work it does, not the ticks of its 1-second escalation job (issue #6, item 10)."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.support.bot_process import BotProcess
from tests.support.waiting import wait_until


def test_an_idle_bot_at_info_logs_almost_nothing(start_bot: Callable[..., BotProcess]) -> None:
    bot = start_bot(extra_env={"LOG_LEVEL": "INFO"})
    wait_until(lambda: "elected leader" in bot.log_path.read_text(), timeout=10,
               message="the bot to become leader and start its jobs")
    before = len(bot.log_path.read_text().splitlines())
    time.sleep(6)  # six ticks of the escalation job
    lines = bot.log_path.read_text().splitlines()[before:]
    assert len(lines) <= 2, lines
