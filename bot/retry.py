"""Bounded, jittered, counted retries for transient backend errors (tenacity underneath)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import requests
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from bot.metrics import ERRORS, RETRIES

T = TypeVar("T")
log = logging.getLogger(__name__)

TRANSIENT_HTTP_STATUS = {408, 425, 429, 500, 502, 503, 504}


class BackendError(Exception):
    """A backend call failed for good; the message is safe to show (no secrets)."""

    def __init__(self, backend: str, reason: str, transient: bool = False) -> None:
        super().__init__(f"{backend}: {reason}")
        self.backend = backend
        self.reason = reason
        self.transient = transient


def is_transient(exc: BaseException) -> bool:
    """Connection trouble, timeouts, throttling and 5xx are worth another try; the rest is permanent."""
    if isinstance(exc, BackendError):
        return exc.transient
    if isinstance(exc, requests.ConnectionError | requests.Timeout | ConnectionError | TimeoutError):
        return True
    status = _status_of(exc)
    return status in TRANSIENT_HTTP_STATUS if status is not None else False


def _status_of(exc: BaseException) -> int | None:
    for attr in ("status", "status_code"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    if isinstance(response, dict):  # botocore ClientError
        code = response.get("Error", {}).get("Code", "")
        if code in {"Throttling", "ThrottlingException", "RequestLimitExceeded", "ServiceUnavailable"}:
            return 429
        return response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return getattr(response, "status_code", None)


def call_with_retries(
    backend: str,
    fn: Callable[[], T],
    *,
    attempts: int = 3,
    max_wait: float = 4.0,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run `fn`, retrying transient failures with exponential backoff and full jitter."""

    def count(state: RetryCallState) -> None:
        RETRIES.labels(backend).inc()
        log.warning("retrying %s after %s (attempt %d)", backend,
                    type(state.outcome.exception()).__name__ if state.outcome else "?", state.attempt_number)

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.2, max=max_wait),
        retry=retry_if_exception(transient),
        before_sleep=count,
        reraise=True,
    )
    try:
        return retrying(fn)
    except Exception:
        ERRORS.labels(backend).inc()
        raise
