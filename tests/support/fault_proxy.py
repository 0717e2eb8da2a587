"""FaultProxy: a loopback HTTP reverse proxy of the tests' own, put between the bot and one backend (a real
Prometheus or Alertmanager, the Kubernetes or GitHub fixture servers, a PagerDuty stand-in, the AwsProxy) and
switched at run time between the ways a backend fails:

    with FaultProxy(prometheus.url, PROMETHEUS) as proxy:      # PROMETHEUS_URL=proxy.url
        proxy.down()                  # every connection is reset before an answer (counted, unlike a refusal)
        proxy.slow(1.5)               # each request goes through, its answer comes 1.5 s later: past the timeout
        proxy.slow(2, path="/api/chat.postMessage")   # only those requests
        proxy.throttled(retry_after=1, times=1)   # 429 with Retry-After, in the backend's own error shape
        proxy.burst(2, status=503)    # the next 2 requests answer 503, then requests pass again
        proxy.auth(401)               # credentials refused (401, or 403 denied), in the backend's shape
        proxy.passing()               # everything goes through unchanged
        proxy.arrivals()              # each request: when it arrived (monotonic), what it asked, what it got
        proxy.calls()                 # the same grouped by what was asked: one call of the bot and its retries

A `Shape` is how one backend says no: its status body and content type (Prometheus' `{"status": "error"}`,
Kubernetes' `Status`, GitHub's `{"message": …}`, PagerDuty's `{"status": "invalid event"}` …).
"""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body, send_bytes

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection",
              "te", "trailer", "upgrade", "server", "date"}
REASONS = {401: "Unauthorized", 403: "Forbidden", 429: "TooManyRequests", 500: "InternalError",
           502: "BadGateway", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
RESET = "reset"
LATE = "late"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()


Shape = Callable[[int], Answer]  # status → the backend's own answer with that status


def _json(status: int, body: object, content_type: str = "application/json") -> Answer:
    return Answer(status, json.dumps(body).encode(), content_type)


def prometheus_shape(status: int) -> Answer:
    if status in (401, 403):  # Prometheus' web.config basic auth answers in plain text
        return Answer(status, f"{REASONS[status]}\n".encode(), "text/plain; charset=utf-8")
    kind = "unavailable" if status >= 500 else "too_many_requests" if status == 429 else "bad_data"
    return _json(status, {"status": "error", "errorType": kind, "error": f"{REASONS.get(status, status)}"})


def kubernetes_shape(status: int) -> Answer:
    return _json(status, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": REASONS.get(status, str(status)), "reason": REASONS.get(status, "Unknown"),
                          "code": status})


def alertmanager_shape(status: int) -> Answer:
    if status in (401, 403):
        return Answer(status, f"{REASONS[status]}\n".encode(), "text/plain; charset=utf-8")
    return _json(status, f"{REASONS.get(status, status)}")  # Alertmanager's errors are a JSON string


def github_shape(status: int) -> Answer:
    docs = "https://docs.github.com/graphql"
    message = {401: "Bad credentials", 403: "Resource not accessible by integration",
               429: "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."}
    return _json(status, {"message": message.get(status, "Server Error"), "documentation_url": docs})


def pagerduty_shape(status: int) -> Answer:
    if status in (400, 401, 403):  # the Events API has no HTTP auth: a bad routing key is an invalid event
        return _json(400, {"status": "invalid event", "message": "Event object is invalid",
                           "errors": ["Invalid routing key"]})
    if status == 429:
        return _json(status, {"status": "throttle event", "message": "Requests for this service are arriving "
                                                                     "too quickly. Please retry later."})
    return Answer(status, b"<html><body><h1>Server Error</h1></body></html>", "text/html")


def plain_shape(status: int) -> Answer:
    return Answer(status, f"{status} {REASONS.get(status, '')}\n".encode(), "text/plain")


@dataclass(frozen=True)
class Arrival:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    body: bytes
    answer: str  # what the bot got: the status ("200", "429", "503" …), "reset", or "late" (slow: it had gone)

    @property
    def call(self) -> tuple[str, str, bytes]:
        """What the bot asked: a retry asks the same again."""
        return (self.method, self.path, self.body)

    @property
    def ok(self) -> bool:
        return self.answer.isdigit() and 200 <= int(self.answer) < 300


@dataclass
class _Mode:
    name: str = "pass"
    status: int = 0
    delay: float = 0.0
    retry_after: int | None = None
    times: int | None = None  # None: until switched
    path: str | None = None  # only requests whose path contains this (None: all)


class FaultProxy(LoopbackHTTPServer):
    """Forwards every request to `target` unless a fault is switched on; records every arrival."""

    def __init__(self, target: str, shape: Shape = plain_shape) -> None:
        super().__init__(_FaultHandler)
        parts = urlsplit(target)
        self.host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.prefix = parts.path.rstrip("/")
        self.shape = shape
        self._lock = threading.Lock()
        self._mode = _Mode()
        self._arrivals: list[Arrival] = []
        self._generation = 0  # bumped by clear(): a request that arrived before it is not recorded after it

    # ------------------------------------------------------------------ switching

    def passing(self) -> None:
        self._set(_Mode())

    def down(self) -> None:
        self._set(_Mode("down"))

    def slow(self, seconds: float, path: str | None = None) -> None:
        """Each request (whose path contains `path`) goes through at once; its answer comes `seconds` after it."""
        self._set(_Mode("slow", delay=seconds, path=path))

    def throttled(self, retry_after: int = 1, times: int | None = None) -> None:
        self._set(_Mode("status", status=429, retry_after=retry_after, times=times))

    def burst(self, count: int, status: int = 503) -> None:
        self._set(_Mode("status", status=status, times=count))

    def auth(self, status: int = 401) -> None:
        self._set(_Mode("status", status=status))

    def _set(self, mode: _Mode) -> None:
        with self._lock:
            self._mode = mode

    # ------------------------------------------------------------------ what tests read

    def arrivals(self, path: str | None = None) -> list[Arrival]:
        """Requests in arrival order (each recorded once answered); only those whose path contains `path`."""
        with self._lock:
            found = [a for a in self._arrivals if path is None or path in a.path]
        return sorted(found, key=lambda a: a.at)

    def calls(self) -> dict[tuple[str, str, bytes], list[Arrival]]:
        """Arrivals grouped by what was asked: each group is one call of the bot and its retries."""
        grouped: dict[tuple[str, str, bytes], list[Arrival]] = {}
        for arrival in self.arrivals():
            grouped.setdefault(arrival.call, []).append(arrival)
        return grouped

    def clear(self) -> None:
        with self._lock:
            self._arrivals.clear()
            self._generation += 1

    @property
    def generation(self) -> int:
        with self._lock:
            return self._generation

    # ------------------------------------------------------------------ serving

    def decide(self, path: str) -> _Mode:
        """How to treat the request arriving now (a fault with `times` counts down to passing)."""
        with self._lock:
            mode = self._mode
            if mode.path is not None and mode.path not in path:
                return _Mode()
            if mode.times is not None:
                mode.times -= 1
                if mode.times <= 0:
                    self._mode = _Mode()
            return mode

    def record(self, arrival: Arrival, generation: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._arrivals.append(arrival)

    def fault_answer(self, mode: _Mode) -> Answer:
        answer = self.shape(mode.status)
        if mode.retry_after is not None:
            return Answer(answer.status, answer.body, answer.content_type,
                          (*answer.headers, ("Retry-After", str(mode.retry_after))))
        return answer

    def forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Answer:
        connection = http.client.HTTPConnection(self.host, self.target_port, timeout=30)
        try:
            connection.request(method, self.prefix + path, body=body or None,
                               headers={k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP})
            response = connection.getresponse()
            data = response.read()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        finally:
            connection.close()
        content_type = next((v for k, v in kept if k.lower() == "content-type"), "application/octet-stream")
        return Answer(response.status, data, content_type, tuple((k, v) for k, v in kept
                                                                 if k.lower() != "content-type"))


class _FaultHandler(QuietHandler):
    def _serve(self) -> None:
        proxy: FaultProxy = self.server.owner  # type: ignore[attr-defined]
        arrived, generation, body = time.monotonic(), proxy.generation, read_body(self)
        mode = proxy.decide(self.path)
        if mode.name == "down":
            self._reset()
            proxy.record(Arrival(arrived, self.command, self.path, body, RESET), generation)
            return
        if mode.name == "slow":  # recorded now: the bot will have given up when the answer comes
            proxy.record(Arrival(arrived, self.command, self.path, body, LATE), generation)
        try:
            answer = proxy.fault_answer(mode) if mode.name == "status" else \
                proxy.forward(self.command, self.path, dict(self.headers.items()), body)
        except OSError as exc:  # the backend behind is gone: say so like a gateway would
            answer = Answer(502, f"FaultProxy: backend unreachable ({exc!r})".encode(), "text/plain")
        if mode.name == "slow":  # the backend did the work at once; its answer is what comes late
            time.sleep(max(0.0, arrived + mode.delay - time.monotonic()))
        else:
            proxy.record(Arrival(arrived, self.command, self.path, body, str(answer.status)), generation)
        with suppress(OSError):  # the bot gave up waiting (slow): nobody to answer
            send_bytes(self, answer.status, answer.body, answer.content_type, dict(answer.headers))

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the bot's connection is reset (ECONNRESET), no answer."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve
