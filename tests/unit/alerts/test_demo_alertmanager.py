"""The demo Alertmanager keeps silences in memory and refuses what the real one refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clients.demo import DemoAlertmanager
from bot.clock import FrozenClock
from bot.retry import BackendError

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def test_a_silence_is_active_until_it_ends_or_is_expired() -> None:
    clock = FrozenClock(NOW)
    alertmanager = DemoAlertmanager(clock)

    first = alertmanager.create_silence({"alertname": "A"}, NOW + timedelta(hours=1), "U1", "deploy")
    second = alertmanager.create_silence({"alertname": "B"}, NOW + timedelta(hours=2), "U1", "deploy")
    alertmanager.expire_silence(first)
    alertmanager.expire_silence(first)  # like the real one: expiring twice is fine

    assert [s.id for s in alertmanager.active()] == [second]
    clock.advance(timedelta(hours=3))
    assert alertmanager.active() == []
    assert "0 active silences" in alertmanager.probe()


def test_it_refuses_what_alertmanager_refuses() -> None:
    alertmanager = DemoAlertmanager(FrozenClock(NOW))

    with pytest.raises(BackendError) as no_matchers:
        alertmanager.create_silence({}, NOW + timedelta(hours=1), "U1", "x")
    with pytest.raises(BackendError) as unknown:
        alertmanager.expire_silence("nope")

    assert no_matchers.value.code == "alertmanager_rejected"
    assert unknown.value.code == "alertmanager_silence_not_found"
