"""The Slack Web API client: honours Retry-After on 429, retries connection errors, counts both."""

from __future__ import annotations

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler
from slack_sdk.http_retry.handler import RetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from bot.metrics import RETRIES


class _Counted(RetryHandler):
    def prepare_for_next_attempt(self, *, state: RetryState, request: HttpRequest,
                                 response: HttpResponse | None = None, error: Exception | None = None) -> None:
        RETRIES.labels("slack").inc()
        super().prepare_for_next_attempt(state=state, request=request, response=response, error=error)


class CountedRateLimitHandler(_Counted, RateLimitErrorRetryHandler):
    """Sleeps for Slack's Retry-After (plus jitter) before trying again."""


class CountedConnectionErrorHandler(_Counted, ConnectionErrorRetryHandler):
    pass


def make_web_client(token: str | None, base_url: str, timeout: int = 10) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        timeout=timeout,
        retry_handlers=[CountedRateLimitHandler(max_retry_count=3), CountedConnectionErrorHandler(max_retry_count=2)],
    )
