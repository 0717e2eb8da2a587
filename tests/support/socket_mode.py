"""Slack's side of Socket Mode for several app connections: a WebSocket server that spreads envelopes over the
open connections in turn, as Slack does, and redelivers an envelope to another connection when it is not
acknowledged in time (or on purpose), with the same payload, a new envelope id and `retry_attempt` counting up.

    with SocketModeSlack(ack_timeout=3) as socket_slack:
        slack.respond("apps.connections.open", {"ok": True, "url": socket_slack.url})
        ... start the app processes ...
        socket_slack.wait_for_connections(2)
        delivery = socket_slack.send(event_callback_body)               # the next connection in turn
        delivery = socket_slack.send(body, to=0, redeliver=True)        # and at once to the other one too
        delivery.wait()                                                 # acknowledged (or given up)
        delivery.attempts                                               # where each copy went, acked or not
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

from tests.support.loopback import LOOPBACK
from tests.support.servers import free_port
from tests.support.waiting import wait_until

MAX_ATTEMPTS = 4  # Slack delivers an event at most four times: the first time and three retries


@dataclass
class Attempt:
    """One copy of an envelope sent to one connection, and when (monotonic) its ack came back, if it did."""

    connection: int
    envelope_id: str
    retry_attempt: int
    sent_at: float
    acked_at: float | None = None


@dataclass
class Delivery:
    """One envelope's way to the app: every attempt, and whether one of them was acknowledged in time."""

    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)
    acknowledged: bool = False

    def wait(self, timeout: float = 30.0) -> Self:
        """Block until the stand-in is done with this delivery (acknowledged, or out of attempts)."""
        if not self.done.wait(timeout):
            raise AssertionError(f"delivery not finished within {timeout:g}s: {self.attempts}")
        return self


class _Connection:
    """One app connection: what to send it, and the acks (envelope id → monotonic time) it sent back."""

    def __init__(self, index: int, socket: ServerConnection) -> None:
        self.index = index
        self.socket = socket
        self.outgoing: queue.Queue[str] = queue.Queue()
        self.acks: dict[str, float] = {}
        self.open = True
        self.changed = threading.Condition()

    def ack_time(self, envelope_id: str, timeout: float) -> float | None:
        """When the ack of `envelope_id` arrived, waiting up to `timeout` seconds for it; None if it did not."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while envelope_id not in self.acks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.changed.wait(remaining)
            return self.acks[envelope_id]


class SocketModeSlack:
    """Serves Socket Mode on ws://127.0.0.1:PORT/link; deliveries go round-robin over the open connections."""

    def __init__(self, ack_timeout: float = 3.0) -> None:
        """`ack_timeout`: seconds an envelope may go unacknowledged before it is sent to another connection."""
        self.ack_timeout = ack_timeout
        self.port = free_port()
        self.connections: list[_Connection] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._next = 0
        self._closing = threading.Event()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """The WebSocket URL `apps.connections.open` hands out."""
        return f"ws://{LOOPBACK}:{self.port}/link"

    def start(self) -> Self:
        """Listen, on a daemon thread."""
        self._server = serve(self._session, LOOPBACK, self.port)
        threading.Thread(target=self._server.serve_forever, name="socket-mode-slack", daemon=True).start()
        return self

    def stop(self) -> None:
        """Close every connection and stop listening."""
        self._closing.set()
        if self._server is not None:
            self._server.shutdown()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # Connections ---------------------------------------------------------------------------------------------
    def open_connections(self) -> list[int]:
        """Indexes of the connections still open, in the order they were made."""
        with self._lock:
            return [c.index for c in self.connections if c.open]

    def wait_for_connections(self, count: int, timeout: float = 20.0) -> list[int]:
        """Block until `count` connections are open; their indexes."""
        return wait_until(lambda: self.open_connections() if len(self.open_connections()) >= count else [],
                          timeout, message=f"{count} Socket Mode connection(s)")

    def _session(self, socket: ServerConnection) -> None:
        """One app connection: say hello, then send its queue and collect its acks until either side closes."""
        with self._lock:
            connection = _Connection(len(self.connections), socket)
            self.connections.append(connection)
            count = sum(1 for c in self.connections if c.open)
        socket.send(json.dumps({"type": "hello", "num_connections": count, "debug_info": {"host": "stand-in"},
                                "connection_info": {"app_id": "A1"}}))
        threading.Thread(target=self._collect, args=(connection,), name=f"socket-acks-{connection.index}",
                         daemon=True).start()
        try:
            while connection.open and not self._closing.is_set():
                try:
                    socket.send(connection.outgoing.get(timeout=0.1))
                except queue.Empty:
                    continue
        except ConnectionClosed:
            pass
        finally:
            self._closed(connection)

    def _collect(self, connection: _Connection) -> None:
        """Read what the app sends on a connection: acks name the envelope they acknowledge."""
        try:
            for raw in connection.socket:
                message = json.loads(raw)
                if isinstance(message, dict) and message.get("envelope_id"):
                    with connection.changed:
                        connection.acks.setdefault(str(message["envelope_id"]), time.monotonic())
                        connection.changed.notify_all()
        except (ConnectionClosed, ValueError):
            pass
        finally:
            self._closed(connection)

    def _closed(self, connection: _Connection) -> None:
        with connection.changed:
            connection.open = False
            connection.changed.notify_all()

    # Deliveries ----------------------------------------------------------------------------------------------
    def send(self, payload: dict[str, Any], kind: str = "events_api", to: int | None = None,
             redeliver: bool = False) -> Delivery:
        """Deliver `payload` as Slack would: to connection `to` (default: the next open one in turn); if it is not
        acknowledged within `ack_timeout`, again to another connection. With `redeliver`, the retry goes to another
        connection at once, acknowledged or not (Slack retrying while the first copy is still being handled)."""
        delivery = Delivery(payload)
        with self._lock:
            self.deliveries.append(delivery)
        threading.Thread(target=self._deliver, args=(delivery, kind, to, redeliver), name="socket-delivery",
                         daemon=True).start()
        return delivery

    def _deliver(self, delivery: Delivery, kind: str, to: int | None, redeliver: bool) -> None:
        """Send attempts until one is acknowledged in time or MAX_ATTEMPTS were made."""
        try:
            target = self._pick(to, avoid=None)
            for attempt in range(MAX_ATTEMPTS):
                if target is None:
                    return
                sent = self._send_to(delivery, kind, target, attempt)
                if redeliver and attempt == 0:
                    target = self._pick(None, avoid=target.index)
                    continue
                if target.ack_time(sent.envelope_id, self.ack_timeout) is not None:
                    delivery.acknowledged = True
                    return
                target = self._pick(None, avoid=target.index)
        finally:
            delivery.done.set()

    def _send_to(self, delivery: Delivery, kind: str, connection: _Connection, attempt: int) -> Attempt:
        """Queue one copy of the envelope for `connection`, with a fresh envelope id; its Attempt record."""
        envelope_id = str(uuid.uuid4())
        envelope: dict[str, Any] = {"envelope_id": envelope_id, "type": kind, "payload": delivery.payload,
                                    "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            envelope.update(retry_attempt=attempt, retry_reason="timeout" if attempt else "")
        sent = Attempt(connection.index, envelope_id, attempt, time.monotonic())
        delivery.attempts.append(sent)
        connection.outgoing.put(json.dumps(envelope))
        threading.Thread(target=self._note_ack, args=(connection, sent), daemon=True).start()
        return sent

    def _note_ack(self, connection: _Connection, sent: Attempt) -> None:
        """Fill in `acked_at` whenever the ack comes, even long after the stand-in stopped waiting for it."""
        sent.acked_at = connection.ack_time(sent.envelope_id, timeout=60.0)

    def _pick(self, to: int | None, avoid: int | None) -> _Connection | None:
        """Connection `to`, or the next open one in turn that is not `avoid` (any open one if it is the only one)."""
        with self._lock:
            if to is not None:
                return self.connections[to]
            candidates = [c for c in self.connections if c.open and c.index != avoid] or \
                [c for c in self.connections if c.open]
            if not candidates:
                return None
            chosen = candidates[self._next % len(candidates)]
            self._next += 1
            return chosen
