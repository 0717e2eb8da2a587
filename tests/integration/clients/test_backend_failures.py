"""The four backend clients against endpoints that fail the ways real ones do: nothing listening, a server
that accepts and never answers, a full accept queue (the connection itself times out), plain HTTP where
TLS was expected, a host name that does not resolve, credentials refused. Each failure must come back
fast, retried within bounds, and with the diagnosis that matches it."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.clients import GpuQuery
from bot.clients.aws import AwsClient
from bot.clients.github import GitHubClient
from bot.clients.kube import KubeClient
from bot.clients.prom import PrometheusClient
from bot.retry import BackendError, Timeout, backend_error_text
from tests.support.fixture_http import FixtureServer, Response
from tests.support.servers import free_port
from tests.support.waiting import wait_until

TIMEOUT = Timeout(connect=0.5, read=0.5)
GITHUB_SECONDS = 1  # PyGithub takes whole seconds
BACKENDS = ["prometheus", "kubernetes", "aws", "github"]
GPU_QUERY = GpuQuery(at=datetime.now(UTC), window=timedelta(minutes=15), threshold_pct=20, memory=False)  # one query
STS_INVALID_TOKEN = (b'<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                     b'<Code>InvalidClientTokenId</Code><Message>The security token included in the request is '
                     b'invalid.</Message></Error><RequestId>4a1b</RequestId></ErrorResponse>')


class SilentServer:
    """Accepts TCP connections and never says a word; counts the connections."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self._handle(connection)

    def _handle(self, connection: socket.socket) -> None:
        self.connections.append(connection)  # held open, never answered

    def close(self) -> None:
        self._listener.close()
        for connection in self.connections:
            connection.close()


class PlainHttpServer(SilentServer):
    """Answers plain HTTP at once, so a client speaking TLS to it fails the handshake."""

    def _handle(self, connection: socket.socket) -> None:
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        connection.close()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self._listener.getsockname()[1]}"


@contextmanager
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    try:
        yield server
    finally:
        server.close()


@contextmanager
def full_accept_queue() -> Iterator[str]:
    """A listener whose accept queue is full: the kernel drops new SYNs, so connecting times out."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        with suppress(BlockingIOError):
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    wait_until(lambda: any(_connected(filler) for filler in fillers), timeout=2,
               message="a filler connection to take the only place in the accept queue")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for sock in [*fillers, listener]:
            sock.close()


def _connected(sock: socket.socket) -> bool:
    """A non-blocking connect has completed (writable) without an error."""
    _, writable, _ = select.select([], [sock], [], 0)
    return bool(writable) and sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0


def kubeconfig(tmp_path: Path, server: str) -> str:
    path = tmp_path / "kubeconfig"
    cluster: dict[str, Any] = {"server": server}
    if server.startswith("https"):
        cluster["insecure-skip-tls-verify"] = False
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": cluster}],
        "users": [{"name": "bot", "user": {"token": "kube-token"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "bot"}}],
    }))
    return str(path)


@pytest.fixture
def call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Callable[[], Any]]:
    """call(backend, url) → the client's everyday request against `url`."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing-secret")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)

    def make(backend: str, url: str) -> Callable[[], Any]:
        if backend == "prometheus":
            prometheus = PrometheusClient(url, timeout=TIMEOUT)
            return lambda: prometheus.gpu_readings(GPU_QUERY)
        if backend == "kubernetes":
            return KubeClient(kubeconfig(tmp_path, url), timeout=TIMEOUT).gpu_cluster
        if backend == "aws":
            return AwsClient("us-east-1", endpoint_url=url, timeout=TIMEOUT).probe
        return GitHubClient("ghp_testtoken", url, timeout=TIMEOUT).probe
    return make


def failure_of(fn: Callable[[], Any]) -> tuple[BackendError, float]:
    started = time.monotonic()
    with pytest.raises(BackendError) as failure:
        fn()
    return failure.value, time.monotonic() - started


@pytest.mark.parametrize("backend", BACKENDS)
def test_nothing_listening_is_reported_as_connection_refused(backend: str, call: Any) -> None:
    port = free_port()

    error, took = failure_of(call(backend, f"http://127.0.0.1:{port}"))

    assert error.code == "refused" and error.transient
    assert "connection refused by" in error.reason and f"127.0.0.1:{port}" in error.reason
    assert "timed out" not in error.reason and "no answer" not in error.reason
    assert took < 3


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_backend_that_accepts_and_never_answers_costs_one_read_timeout(backend: str, call: Any) -> None:
    read = GITHUB_SECONDS if backend == "github" else TIMEOUT.read
    with silent() as server:
        error, took = failure_of(call(backend, server.url))

        assert error.code == "read_timeout" and error.transient
        assert f"but got no answer within {read:g}s" in error.reason
        assert took < 2 * read + 1  # not one timeout per retry
        assert len(server.connections) == 1


@pytest.mark.parametrize("backend", ["prometheus", "kubernetes", "aws"])
def test_a_connection_that_cannot_be_established_is_a_connect_timeout(backend: str, call: Any) -> None:
    with full_accept_queue() as url:
        error, took = failure_of(call(backend, url))

    assert error.code == "connect_timeout"
    assert "could not connect to" in error.reason and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in error.reason
    assert took < 3 * (TIMEOUT.connect + 1)


@pytest.mark.parametrize("backend", BACKENDS)
def test_plain_http_where_tls_was_expected_is_a_tls_error(backend: str, call: Any) -> None:
    server = PlainHttpServer()
    try:
        error, _ = failure_of(call(backend, server.url))
    finally:
        server.close()

    assert error.code == "tls" and not error.transient
    assert "TLS/certificate error" in error.reason


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_host_name_that_does_not_resolve_is_a_dns_failure(backend: str, call: Any) -> None:
    error, _ = failure_of(call(backend, "http://no-such-host.invalid:8080"))

    assert error.code == "dns"
    assert "cannot resolve the host name of" in error.reason


def test_aws_rejecting_the_credentials_says_so_and_is_not_retried(call: Any) -> None:
    rejected = Response(403, raw=STS_INVALID_TOKEN, content_type="text/xml")
    with FixtureServer({("POST", "/"): rejected}) as server:
        error, _ = failure_of(call("aws", server.url))

        assert error.code == "auth" and not error.transient
        assert "rejected the credentials (InvalidClientTokenId)" in error.reason
        assert "AWS_ACCESS_KEY_ID" in error.reason
        assert "testing-secret" not in str(error)
        assert len(server.requests()) == 1


def test_kubernetes_forbidden_names_the_rbac_fix(call: Any) -> None:
    forbidden = Response(403, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden",
                               "code": 403})
    with FixtureServer({("GET", "/api/v1/nodes"): forbidden}) as server:
        error, _ = failure_of(call("kubernetes", server.url))

    # The GPU view's lists say which RBAC rule is missing (the HTTP status stays in the detail, for logs).
    assert error.code == "kube_forbidden_cluster" and "HTTP 403" in error.detail and "RBAC" in error.reason
    assert "grant verb `list` on `nodes` in a ClusterRole" in error.reason


@pytest.mark.parametrize("status, code", [(429, "throttled"), (502, "server_error")])
def test_throttling_and_server_errors_are_named_and_retried(status: int, code: str, call: Any) -> None:
    with FixtureServer({("GET", "/api/v1/query"): Response(status, {"status": "error"})}) as server:
        error, _ = failure_of(call("prometheus", server.url))

        assert error.code == code and error.transient and f"HTTP {status}" in error.reason
        assert len(server.requests()) == 3


def test_the_reply_names_the_backend_and_the_reason_in_the_readers_language(call: Any) -> None:
    port = free_port()
    error, _ = failure_of(call("kubernetes", f"http://127.0.0.1:{port}"))

    english = backend_error_text(error, "en")
    chinese = backend_error_text(error, "zh-CN")

    assert f"Kubernetes: connection refused by 127.0.0.1:{port}; check KUBECONFIG" in english
    assert f"Kubernetes 获得答复：127.0.0.1:{port} 拒绝连接；请检查 KUBECONFIG" in chinese
    assert "refused" not in chinese
