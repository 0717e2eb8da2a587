"""A loopback reverse proxy that spreads requests over N backends in turn, as a Kubernetes Service does.

    with RoundRobinProxy([bot.url for bot in replicas]) as proxy:
        requests.post(proxy.url + "/slack/events", data=body, headers=signed)   # lands on the next replica
        proxy.counts                                                            # requests per backend

Each request goes to the next backend in turn with its method, path, headers (Slack's signature and
timestamp too) and body unchanged. A backend that refuses the connection (a killed replica: its readiness
probe would have taken it out of the Service) is skipped and the request goes to the next one; any other
failure (a reset mid-answer, a timeout) answers 502, since the backend may have acted on the request.
`lose_responses` makes the proxy forward a request and then answer 502 instead of the backend's answer,
the way a connection lost after the work was done looks to the sender (Alertmanager then retries). `hold`
keeps matching requests waiting until `release`, which forwards them or drops them (502, never forwarded):
a process killed while its request waits is then one whose request never arrived.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body

HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "content-length"})
TIMEOUT = 30.0


@dataclass(frozen=True)
class Forwarded:
    """One request the proxy forwarded: which backend (by index) took it, what it answered, and whether that
    answer was lost on the way back (`lose_responses`)."""

    backend: int
    method: str
    path: str
    status: int
    lost: bool = False


class _ProxyHandler(QuietHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the sender, as a Service does; one backend call per request

    def _forward(self) -> None:
        """Read the request, hand it to the proxy, and send back what the chosen backend answered."""
        proxy: RoundRobinProxy = self.server.owner  # type: ignore[attr-defined]
        body = read_body(self)
        headers = [(name, value) for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP]
        status, reply_headers, reply = proxy.forward(self.command, self.path, headers, body)
        try:
            self.send_response(status)
            for name, value in reply_headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
        except (BrokenPipeError, ConnectionResetError):  # the sender is gone (killed while it waited)
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward


class RoundRobinProxy(LoopbackHTTPServer):
    """Forwards each request to the next of its backends in turn, skipping those that refuse connections."""

    def __init__(self, backends: Sequence[str] = ()) -> None:
        """Proxy for `backends`, base URLs such as http://127.0.0.1:PORT (order is the round-robin order)."""
        super().__init__(_ProxyHandler)
        self._lock = threading.Lock()
        self.backends = [urlsplit(url) for url in backends]
        self._next = 0
        self._lose: dict[str, int] = {}
        self._hold: bytes | None = None
        self._released = threading.Condition(self._lock)
        self._release_forwards: bool | None = None
        self._holding = 0
        self.forwarded: list[Forwarded] = []

    def set_backends(self, backends: Sequence[str]) -> None:
        """Replace the backends (e.g. once the replicas' addresses are known; the proxy may already be running)."""
        with self._lock:
            self.backends = [urlsplit(url) for url in backends]
            self._next = 0

    @property
    def counts(self) -> list[int]:
        """Requests forwarded to each backend so far, in backend order."""
        with self._lock:
            return [sum(1 for f in self.forwarded if f.backend == index) for index in range(len(self.backends))]

    def requests_to(self, path_prefix: str) -> list[Forwarded]:
        """The forwarded requests whose path starts with `path_prefix`, oldest first."""
        with self._lock:
            return [f for f in self.forwarded if f.path.startswith(path_prefix)]

    def lose_responses(self, path_prefix: str, count: int = 1) -> None:
        """Forward the next `count` requests to `path_prefix`, then answer 502 instead of the backend's answer."""
        with self._lock:
            self._lose[path_prefix] = self._lose.get(path_prefix, 0) + count

    def hold(self, body_contains: bytes) -> None:
        """Keep every request whose body contains `body_contains` waiting, unforwarded, until `release`."""
        with self._lock:
            self._hold, self._release_forwards = body_contains, None

    @property
    def held(self) -> int:
        """How many requests wait on `hold` right now."""
        with self._lock:
            return self._holding

    def release(self, forward: bool = True) -> None:
        """Stop holding: the waiting requests go on to a backend, or (`forward=False`) are answered 502 unsent."""
        with self._lock:
            self._hold, self._release_forwards = None, forward
            self._released.notify_all()

    def _wait_if_held(self, body: bytes) -> bool:
        """Wait while `body` is held; False when it is to be dropped instead of forwarded."""
        with self._lock:
            if self._hold is None or self._hold not in body:
                return True
            self._holding += 1
            while self._hold is not None:
                self._released.wait()
            self._holding -= 1
            return bool(self._release_forwards)

    def forward(self, method: str, path: str, headers: list[tuple[str, str]],
                body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send one request to the next backend that accepts a connection; (status, headers, body) to answer."""
        if not self._wait_if_held(body):
            return 502, [("Content-Type", "text/plain")], b"held, then dropped before reaching a backend\n"
        with self._lock:
            backends = len(self.backends)
            start = self._next
            self._next = (self._next + 1) % max(1, backends)
        for offset in range(backends):
            index = (start + offset) % backends
            try:
                status, reply_headers, reply = self._send(index, method, path, headers, body)
            except ConnectionRefusedError:
                continue  # not ready (killed): the next backend takes the request
            except (OSError, http.client.HTTPException) as exc:
                self._record(Forwarded(index, method, path, 502))
                return 502, [("Content-Type", "text/plain")], f"backend {index}: {exc!r}\n".encode()
            lost = self._take_loss(path)
            self._record(Forwarded(index, method, path, status, lost))
            if lost:
                return 502, [("Content-Type", "text/plain")], b"response lost on the way back\n"
            return status, reply_headers, reply
        return 502, [("Content-Type", "text/plain")], b"no backend accepted the connection\n"

    def _send(self, index: int, method: str, path: str, headers: list[tuple[str, str]],
              body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        """One request on a fresh connection to backend `index`; raises ConnectionRefusedError if it is down."""
        backend = self.backends[index]
        connection = http.client.HTTPConnection(backend.hostname or "127.0.0.1", backend.port, timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body if body or method not in ("GET", "HEAD") else None,
                               headers=dict(headers))
            response = connection.getresponse()
            reply = response.read()
            kept = [(name, value) for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP]
            return response.status, kept, reply
        finally:
            connection.close()

    def _record(self, forwarded: Forwarded) -> None:
        """Note which backend took a request and what came of it."""
        with self._lock:
            self.forwarded.append(forwarded)

    def _take_loss(self, path: str) -> bool:
        """Whether this answer to `path` is to be lost (one of the `lose_responses` still owed)."""
        with self._lock:
            for prefix, left in self._lose.items():
                if left > 0 and path.startswith(prefix):
                    self._lose[prefix] = left - 1
                    return True
        return False

