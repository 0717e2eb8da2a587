"""Bounded, jittered, counted retries for backend calls, and the diagnosis of why a call failed.

`diagnose()` turns whatever a client library raised (requests, urllib3, botocore, PyGithub, the kubernetes
client, SQLAlchemy) into a `BackendError` with a reason code: connection refused, timed out while
connecting or while waiting for the answer, DNS, TLS, credentials, permissions, throttling, server error.
The code picks a `core.reason_<code>` catalog entry, so the reason reads in the user's language.
"""

from __future__ import annotations

import errno
import logging
import random
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import urllib3
from sqlalchemy import exc as sa
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
)
from tenacity.stop import stop_base

from bot.i18n import catalog, t
from bot.metrics import ERRORS, RETRIES

T = TypeVar("T")
log = logging.getLogger(__name__)

TRANSIENT_HTTP_STATUS = {408, 425, 429, 500, 502, 503, 504}
CONNECTION_CODES = frozenset({"refused", "connect_timeout", "read_timeout", "dns", "tls", "unreachable"})
TRANSIENT_CODES = frozenset({"refused", "connect_timeout", "read_timeout", "dns", "unreachable", "throttled",
                             "server_error", "db_unreachable", "db_busy"})
# Product names are the same in every language; only "the database" is words, so it is in the catalog.
PRODUCT_NAMES = {"prometheus": "Prometheus", "kubernetes": "Kubernetes", "aws": "AWS", "github": "GitHub",
                 "slack": "Slack", "pagerduty": "PagerDuty", "alertmanager": "Alertmanager"}
BACKENDS = (*PRODUCT_NAMES, "database")
# Errors that mean "the database is down, read-only or overloaded", not a bug in a query.
DATABASE_ERRORS = (sa.OperationalError, sa.InterfaceError, sa.InternalError, sa.TimeoutError)
FIRST_WAIT = 0.2  # the first retry comes within this many seconds; each later window doubles


class BackendError(Exception):
    """A backend call failed for good; the message is safe to show (no secrets).

    `reason` is English (logs, and callers that compare Slack error codes); `code` and `params` say the
    same in any catalog language through `explain()`; `detail` is the underlying exception, for logs.
    `retry_after` is the backend's Retry-After in seconds, when it said one; `counted` is set once
    `call_with_retries` has counted the failure in `bot_errors_total`.
    """

    def __init__(self, backend: str, reason: str = "", transient: bool = False, *, code: str | None = None,
                 params: Mapping[str, object] | None = None, hint: str | None = None, detail: str = "",
                 retry_after: float | None = None) -> None:
        self.backend = backend
        self.retry_after = retry_after
        self.counted = False
        self.code = code
        self.params = dict(params or {})
        self.hint = hint
        self.detail = detail
        self.transient = transient
        self.reason = reason
        if not reason and code is not None:
            self.reason = self.explain("en")
        super().__init__(f"{backend}: {self.reason}")

    def explain(self, language: str) -> str:
        """The reason, and what to do about it, in `language`."""
        if self.code is None:
            return self.reason
        reason = t(f"core.reason_{self.code}", language, **self.params)
        if not self.hint:
            return reason
        return t("core.reason_with_hint", language, reason=reason,
                 hint=t(f"core.hint_{self.hint}", language, **self.params))


@dataclass(frozen=True)
class Timeout:
    """Seconds to wait for a TCP connection, then for each answer."""

    connect: float = 3.0
    read: float = 10.0

    @classmethod
    def of(cls, value: Any) -> Timeout:
        """From a Timeout, a (connect, read) pair, one number of seconds, or config's `timeouts.<backend>`
        (None: the defaults)."""
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if isinstance(value, int | float):
            return cls(min(cls.connect, float(value)), float(value))
        if isinstance(value, tuple):
            return cls(float(value[0]), float(value[1]))
        return cls(_seconds(value.connect), _seconds(value.read))

    def pair(self) -> tuple[float, float]:
        return (self.connect, self.read)


def _seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def backend_name(backend: str, language: str) -> str:
    """How users see a backend's name: "Prometheus", "GitHub", "the database" (zh-CN "数据库")."""
    if backend in PRODUCT_NAMES:
        return PRODUCT_NAMES[backend]
    key = f"core.backend_{backend}"
    return t(key, language) if key in catalog("en") else backend


def backend_error_text(exc: BackendError, language: str) -> str:
    """The one-line reply for a failed backend: its name, the reason in `language`, and what to do."""
    return t("core.backend_error", language, backend=backend_name(exc.backend, language),
             reason=exc.explain(language))


def where_of(url: str) -> str:
    """host:port of a URL, never its credentials or path."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname or url)


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
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status if isinstance(status, int) else None
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def retry_after_seconds(value: object) -> float | None:
    """A Retry-After header as seconds from now: delay-seconds or an HTTP date; None when absent or unreadable."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return None
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def diagnose(backend: str, exc: BaseException, *, where: str, timeout: Timeout | None = None,
             status: int | None = None, hints: Mapping[str, str] | None = None,
             retry_after: object = None, **params: object) -> BackendError:
    """What went wrong talking to `where`, as a BackendError with a reason code.

    `hints` maps a reason code (or "connection", for any failure to connect) to a `core.hint_<name>`
    entry saying what to do; `params` fill the hint (`setting="PROMETHEUS_URL"`). `retry_after` is the
    answer's Retry-After header: retries wait that long, and a throttled reply says when to try again.
    """
    if isinstance(exc, sa.SQLAlchemyError):
        return _database_error(exc)
    timeout = timeout or Timeout()
    chain = list(_causes(exc))
    code = _connection_code(chain)
    if code is None:
        status = status if status is not None else _status_of(exc)
        code = _status_code(status)
    seconds = timeout.connect if code == "connect_timeout" else timeout.read
    hints = hints or {}
    hint = hints.get(code) or (hints.get("connection") if code in CONNECTION_CODES else None)
    transient = code in TRANSIENT_CODES or (code == "http_status" and status in TRANSIENT_HTTP_STATUS)
    values = {"where": where, "seconds": f"{seconds:g}", "status": f"HTTP {status}" if status else "?",
              "detail": type(exc).__name__, **params}
    wait = retry_after_seconds(retry_after)
    if wait is not None and code in ("throttled", "server_error") and not hint:
        hint, values["wait"] = "retry_in", f"{wait:g}"
    return BackendError(backend, transient=transient, code=code, params=values, hint=hint,
                        detail=_detail(chain), retry_after=wait)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: causes, contexts, and the wrapped errors libraries keep
    in `args`, `reason` (urllib3), `kwargs['error']` (botocore) and `orig` (SQLAlchemy)."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending and len(seen) < 32:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None),
                 getattr(current, "orig", None), (getattr(current, "kwargs", None) or {}).get("error")]
        inner += list(current.args)
        pending += [e for e in inner if isinstance(e, BaseException)]


def _connection_code(chain: list[BaseException]) -> str | None:
    def has(*kinds: type[BaseException]) -> bool:
        return any(isinstance(e, kinds) for e in chain)

    if has(socket.gaierror, urllib3.exceptions.NameResolutionError):
        return "dns"
    if has(ssl.SSLError, ssl.CertificateError, urllib3.exceptions.SSLError, requests.exceptions.SSLError):
        return "tls"
    if has(ConnectionRefusedError):
        return "refused"
    # urllib3's NewConnectionError subclasses ConnectTimeoutError although it means "could not connect".
    if any(isinstance(e, urllib3.exceptions.ConnectTimeoutError)
           and not isinstance(e, urllib3.exceptions.NewConnectionError) for e in chain):
        return "connect_timeout"
    if has(urllib3.exceptions.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError):
        return "read_timeout"
    if has(ConnectionError, urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError,
           requests.ConnectionError) or any(isinstance(e, OSError) and e.errno in _NETWORK_ERRNOS for e in chain):
        return "unreachable"
    if any(type(e).__name__ in _BOTOCORE_CONNECTION for e in chain):
        return "unreachable"
    return None


_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE}
_BOTOCORE_CONNECTION = {"EndpointConnectionError", "ConnectionClosedError", "ProxyConnectionError"}


def _status_code(status: int | None) -> str:
    if status is None or status == 0:
        return "unexpected"
    if status == 401:
        return "auth"
    if status == 403:
        return "forbidden"
    if status == 429:
        return "throttled"
    if status >= 500:
        return "server_error"
    if status == 400:
        return "bad_request"
    return "http_status"


def _detail(chain: list[BaseException]) -> str:
    innermost = chain[-1]
    return f"{type(chain[0]).__name__} ({type(innermost).__name__}: {str(innermost)[:200]})"


def _database_error(exc: sa.SQLAlchemyError) -> BackendError:
    text = str(getattr(exc, "orig", None) or exc).lower()
    if "read-only" in text or "readonly" in text:
        code = "db_read_only"
    elif isinstance(exc, sa.TimeoutError) or "locked" in text:
        code = "db_busy"
    else:
        code = "db_unreachable"
    return BackendError("database", transient=code in TRANSIENT_CODES, code=code, hint="database",
                        detail=f"{type(exc).__name__}: {str(getattr(exc, 'orig', None) or exc)[:200]}")


def backoff(attempt: int, retry_after: float | None = None, *, cap: float = 4.0) -> float:
    """Seconds to wait after failed attempt number `attempt` (1, 2, …): full jitter in a window that doubles
    from FIRST_WAIT up to `cap`; after the backend's Retry-After when it said one, so that it is honoured and
    the clients it throttled do not all come back in the same instant."""
    jitter = random.uniform(0, min(cap, FIRST_WAIT * 2 ** (attempt - 1)))
    return jitter if retry_after is None else retry_after + jitter


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome else None
    return exc.retry_after if isinstance(exc, BackendError) else None


class _AskedToWaitPast(stop_base):
    """Stop when the backend's Retry-After ends past the budget: the answer comes now, saying when to try again."""

    def __init__(self, budget: float) -> None:
        self.budget = budget

    def __call__(self, retry_state: RetryCallState) -> bool:
        wait = _retry_after(retry_state)
        return wait is not None and (retry_state.seconds_since_start or 0.0) + wait > self.budget


def call_with_retries(
    backend: str,
    fn: Callable[[], T],
    *,
    attempts: int = 3,
    max_wait: float = 4.0,
    budget: float | None = None,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Run `fn`, retrying transient failures with exponential backoff and full jitter (`backoff`), never sooner
    than a Retry-After the backend sent.

    With a `budget` (seconds), no new attempt starts once that much time has passed, nor one the backend's
    Retry-After would start after it: a backend that accepts connections and never answers costs one read
    timeout, not `attempts` of them.
    """

    def count(state: RetryCallState) -> None:
        RETRIES.labels(backend).inc()
        log.warning("retrying %s after %s (attempt %d)", backend,
                    type(state.outcome.exception()).__name__ if state.outcome else "?", state.attempt_number)

    stop: stop_base = stop_after_attempt(attempts)
    if budget is not None:
        stop = stop | stop_after_delay(budget) | _AskedToWaitPast(budget)
    retrying = Retrying(
        stop=stop,
        wait=lambda state: backoff(state.attempt_number, _retry_after(state), cap=max_wait),
        retry=retry_if_exception(transient),
        before_sleep=count,
        reraise=True,
    )
    try:
        return retrying(fn)
    except Exception as exc:
        ERRORS.labels(backend).inc()
        if isinstance(exc, BackendError):
            exc.counted = True
        raise
