"""The retry rules every backend client shares (bot/retry.py), where the matrix cannot show them one by one: waits
are jittered and bounded, a Retry-After is honoured or, past the time the user waits, reported; one call that
fails for good is one error; and the PagerDuty client keeps to them like the others."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.clients.pager import PagerDuty
from bot.retry import BackendError, backend_error_text, backoff, call_with_retries, diagnose
from handlers.common import answering_failures
from tests.support.config import bot_config
from tests.support.fault_proxy import FaultProxy, pagerduty_shape
from tests.support.fixture_http import FixtureServer, Response
from tests.support.inprocess import make_services
from tests.support.slack_recorder import SlackRecorder


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


@pytest.fixture
def pagerduty() -> Iterator[FaultProxy]:
    with FixtureServer({("POST", "/v2/enqueue"): Response(202, {"status": "success"})}) as events, \
            FaultProxy(events.url, pagerduty_shape) as proxy:
        yield proxy


def test_pagerduty_down_is_a_backend_error_naming_it_and_its_setting(pagerduty: FaultProxy) -> None:
    pagerduty.down()

    with pytest.raises(BackendError) as failure:
        PagerDuty("R0UTINGKEY", pagerduty.url).send("acknowledge", 7)

    assert failure.value.backend == "pagerduty" and failure.value.transient
    assert "PagerDuty: cannot connect to" in backend_error_text(failure.value, "en")
    assert "check PAGERDUTY_API_URL" in backend_error_text(failure.value, "en")
    assert len(pagerduty.arrivals()) <= 3


def test_pagerduty_refusing_the_routing_key_says_which_setting(pagerduty: FaultProxy) -> None:
    pagerduty.auth()

    with pytest.raises(BackendError) as failure:
        PagerDuty("R0UTINGKEY", pagerduty.url).send("trigger", 7, summary="#7 trainer OOM")

    assert not failure.value.transient and len(pagerduty.arrivals()) == 1
    assert "rejected the request (HTTP 400); check PAGERDUTY_ROUTING_KEY" in backend_error_text(failure.value, "en")


def test_pagerduty_keeps_to_timeouts_pagerduty(pagerduty: FaultProxy, tmp_path: Path) -> None:
    with SlackRecorder() as slack:
        services = make_services(f"sqlite:///{tmp_path / 'pd.db'}", slack,
                                 bot_config(timeouts={"pagerduty": {"read": "0.5s"}}),
                                 pagerduty_routing_key="R0UTINGKEY", pagerduty_api_url=pagerduty.url)
        pagerduty.slow(1.5)
        assert services.pager is not None
        with pytest.raises(BackendError) as failure:
            services.pager.send("resolve", 7)
        services.engine.dispose()

    assert "but got no answer within 0.5s" in backend_error_text(failure.value, "en")
    assert [len(tries) for tries in pagerduty.calls().values()] == [1]  # one read timeout, not three

