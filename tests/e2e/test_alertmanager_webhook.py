"""A real Alertmanager delivers its webhook to the running bot, which stores firing and resolved alerts."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.bot_process import BotProcess
from tests.support.servers import AlertmanagerServer, alertmanager_config_for
from tests.support.waiting import wait_until


def stored_status(database: Path, fingerprint_like: str = "%") -> list[tuple[str, str]]:
    with sqlite3.connect(database) as connection:
        return connection.execute("select alertname, status from alerts where fingerprint like ?",
                                  (fingerprint_like,)).fetchall()


def test_real_alertmanager_webhook_is_stored_then_resolved(tmp_path: Path,
                                                          start_bot: Callable[..., BotProcess]) -> None:
    bot = start_bot()
    now = datetime.now(UTC)
    started = now - timedelta(minutes=1)
    alert = {"labels": {"alertname": "GpuIdle", "node": "gpu-h100-1"}, "annotations": {"summary": "idle 2h"},
             "startsAt": started.isoformat()}
    with AlertmanagerServer(tmp_path / "am", alertmanager_config_for(bot.url + "/alertmanager")) as manager:
        manager.post_alerts([alert])
        wait_until(lambda: stored_status(tmp_path / "bot.db") == [("GpuIdle", "firing")], timeout=15, interval=0.1,
                   message="the firing alert to be stored")
        manager.post_alerts([{**alert, "endsAt": (now - timedelta(seconds=1)).isoformat()}])
        wait_until(lambda: stored_status(tmp_path / "bot.db") == [("GpuIdle", "resolved")], timeout=15, interval=0.1,
                   message="the alert to be stored as resolved")
