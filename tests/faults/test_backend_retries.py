"""The retry rules every backend client shares (bot/retry.py), where the matrix cannot show them one by one: waits
are jittered and bounded, a Retry-After is honoured or, past the time the user waits, reported, and one call that
fails for good is one error."""

from __future__ import annotations

import time

import pytest
from prometheus_client import REGISTRY

from bot.retry import BackendError, backend_error_text, backoff, call_with_retries, diagnose
from handlers.common import answering_failures


def errors(backend: str) -> float:
    return REGISTRY.get_sample_value("bot_errors_total", {"backend": backend}) or 0.0


def test_waits_are_jittered_within_a_doubling_window_and_never_before_retry_after() -> None:
    for attempt, window in ((1, 0.2), (2, 0.4), (3, 0.8), (9, 4.0)):
        waits = [backoff(attempt) for _ in range(200)]
        assert all(0 <= wait <= window for wait in waits)
        assert len(set(waits)) > 150  # two clients failing together do not come back together
    after = [backoff(1, retry_after=2.0) for _ in range(200)]
    assert all(2.0 <= wait <= 2.2 for wait in after) and len(set(after)) > 150


def throttled(retry_after: int) -> BackendError:
    """What a client makes of a 429 with `Retry-After: <retry_after>`."""
    return diagnose("prometheus", RuntimeError("HTTP 429"), where="prom:9090", status=429,
                    retry_after=str(retry_after))


def test_a_retry_after_429_comes_no_sooner_than_retry_after() -> None:
    tried: list[float] = []

    def ask() -> str:
        tried.append(time.monotonic())
        if len(tried) == 1:
            raise throttled(1)
        return "answer"

    assert call_with_retries("prometheus", ask, budget=2.0) == "answer"
    assert len(tried) == 2 and tried[1] - tried[0] >= 1.0


def test_a_retry_after_past_the_budget_is_not_waited_for_and_the_user_is_told_when_to_try() -> None:
    tried: list[float] = []

    def ask() -> str:
        tried.append(time.monotonic())
        raise throttled(30)

    with pytest.raises(BackendError) as failure:
        call_with_retries("prometheus", ask, budget=2.0)
    assert len(tried) == 1
    assert "is throttling requests (HTTP 429)" in backend_error_text(failure.value, "en")
    assert "try again in 30s" in backend_error_text(failure.value, "en")
    assert "请 30 秒后重试" in backend_error_text(failure.value, "zh-CN")


def test_a_call_that_fails_for_good_is_one_error_not_one_per_layer() -> None:
    before = errors("prometheus")
    said: list[object] = []

    def ask() -> None:
        raise BackendError("prometheus", transient=False, code="auth", params={"where": "prom", "status": "401"})

    with answering_failures(said.append, "en", "command", "/gpu"):
        call_with_retries("prometheus", ask)
    assert said and errors("prometheus") == before + 1
