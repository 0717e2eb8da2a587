"""`python -m bot socket`: Slack's Socket Mode, with a real WebSocket server standing in for Slack."""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from tests.support.bot_process import BotProcess
from tests.support.config import bot_config
from tests.support.servers import free_port
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

APP_TOKEN = "xapp-1-A1-e2e-socket-token-0000"


class SocketModeStandIn:
    """Says hello, sends the envelopes it is given, and collects what the bot sends back."""

    def __init__(self) -> None:
        self.port = free_port()
        self.outgoing: queue.Queue[dict] = queue.Queue()
        self.received: queue.Queue[dict] = queue.Queue()
        self.closing = threading.Event()
        self.server = serve(self._session, "127.0.0.1", self.port)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _session(self, connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello", "num_connections": 1,
                                    "debug_info": {"host": "stand-in"}, "connection_info": {"app_id": "A1"}}))
        threading.Thread(target=self._collect, args=(connection,), daemon=True).start()
        while not self.closing.is_set():
            try:
                connection.send(json.dumps(self.outgoing.get(timeout=0.1)))
            except queue.Empty:
                continue

    def _collect(self, connection: ServerConnection) -> None:
        try:
            for message in connection:
                self.received.put(json.loads(message))
        except ConnectionClosed:
            return

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()


@pytest.fixture
def socket_slack(slack: SlackRecorder) -> Iterator[SocketModeStandIn]:
    stand_in = SocketModeStandIn()
    slack.respond("apps.connections.open", {"ok": True, "url": f"ws://127.0.0.1:{stand_in.port}/link"})
    yield stand_in
    stand_in.close()


def test_socket_mode_acks_a_slash_command_over_the_websocket_and_answers(tmp_path: Path, slack: SlackRecorder,
                                                                         socket_slack: SocketModeStandIn) -> None:
    bot = BotProcess(tmp_path, slack.base_url, bot_config(), mode="socket",
                     extra_env={"SLACK_APP_TOKEN": APP_TOKEN})
    bot.start()
    try:
        opened = slack.wait_for("apps.connections.open")[0]
        assert opened.headers.get("authorization") == f"Bearer {APP_TOKEN}"
        command = {"command": "/oncall", "text": "", "user_id": "U1", "channel_id": "CTEAM", "team_id": "T1",
                   "response_url": slack.response_url("socket"), "trigger_id": "t", "api_app_id": "A1"}
        socket_slack.outgoing.put({"envelope_id": "env-1", "type": "slash_commands", "payload": command,
                                   "accepts_response_payload": True})
        ack = socket_slack.received.get(timeout=3)
        assert ack["envelope_id"] == "env-1"
        answer = slack_text(slack.wait_for("response_url")[0])
        assert "1st line" in answer and "UDRI1" in answer
    finally:
        bot.stop()
