"""A generic JSON fixture server on loopback, the base for Kubernetes and GitHub stand-ins.

    routes = {
        ("GET", r"/api/v1/nodes"): {"kind": "NodeList", "items": [...]},
        ("POST", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/issues"): lambda req: Response(201, {...}),
    }
    with FixtureServer(routes) as server:
        client(base_url=server.url) ...
        assert server.requests("POST")[0].json()["title"] == "x"

A route's path is a regular expression matched in full against the request path (no query).
Its handler is either a JSON-able value (answered 200) or a callable taking the `Request`
and returning a `Response` or a JSON-able value. Routes added later win over earlier ones.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body, send_bytes
from tests.support.waiting import at_least, wait_until


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-encoded unless `raw` is given
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = "application/json"

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return json.dumps(self.body).encode()


Handler = Callable[[Request], Any] | Any
RouteKey = tuple[str, str]


def _not_found(request: Request) -> Response:
    return Response(404, {"error": f"no fixture for {request.method} {request.path}"})


def _as_response(result: Any) -> Response:
    return result if isinstance(result, Response) else Response(200, result)


class _FixtureHandler(QuietHandler):
    def _serve(self) -> None:
        owner: FixtureServer = self.server.owner  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query=parse_qs(parts.query, keep_blank_values=True),
            headers={name.lower(): value for name, value in self.headers.items()},
            body=read_body(self),
        )
        response = owner.handle(request)
        send_bytes(self, response.status, response.encoded(), response.content_type, response.headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


class FixtureServer(LoopbackHTTPServer):
    """Answers requests from a routes table; records every request (see `requests()`)."""

    def __init__(
        self,
        routes: Mapping[RouteKey, Handler] | None = None,
        not_found: Callable[[Request], Response] = _not_found,
    ) -> None:
        super().__init__(_FixtureHandler)
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._not_found = not_found
        self._requests: list[Request] = []
        self._changed = threading.RLock()  # guards the recorded state
        for (method, path), handler in (routes or {}).items():
            self.add(method, path, handler)

    def add(self, method: str, path_regex: str, handler: Handler) -> None:
        """Add a route (method "*" matches any); it takes precedence over earlier ones."""
        with self._changed:
            self._routes.insert(0, (method.upper(), re.compile(path_regex), handler))

    def handle(self, request: Request) -> Response:
        handler, match = self._find(request)
        request = Request(request.method, request.path, request.query, request.headers, request.body, match)
        with self._changed:
            self._requests.append(request)
        if match is None:
            return self._not_found(request)
        try:
            return _as_response(handler(request) if callable(handler) else handler)
        except Exception as exc:  # a broken fixture should show up in the test, not hang it
            return Response(500, {"error": f"fixture raised {exc!r}"})

    def _find(self, request: Request) -> tuple[Handler, re.Match[str] | None]:
        with self._changed:
            routes = list(self._routes)
        for method, pattern, handler in routes:
            match = pattern.fullmatch(request.path)
            if match and method in ("*", request.method):
                return handler, match
        return None, None

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Recorded requests, optionally filtered by method and full-match path regex."""
        with self._changed:
            recorded = list(self._requests)
        return [
            r
            for r in recorded
            if (method is None or r.method == method.upper()) and (path is None or re.fullmatch(path, r.path))
        ]

    def wait_for(
        self,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Request]:
        """Block until at least `count` matching requests were recorded; returns them."""
        return wait_until(lambda: at_least(count, self.requests(method, path)), timeout, interval=0.01,
                          message=lambda: f"{count} x {method or '*'} {path or '*'}; "
                                          f"saw {[f'{r.method} {r.path}' for r in self.requests()]}")

    def clear(self) -> None:
        with self._changed:
            self._requests.clear()
