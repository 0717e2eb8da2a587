"""A local console for the bot, in the spirit of Hubot's shell adapter and Errbot's text backend.

The real Bolt app runs unchanged; Slack's Web API is replaced by a loopback server that prints
what the bot posts as plain text rendered from the very Block Kit it would send to Slack.

Every run can be repeated in the same directory: event ids carry a per-run token and message
timestamps are wall-clock microseconds, so the persistent `seen_events` table and the combo keys
(channel + ts) never mistake a new run's lines for redeliveries of an old run's. `--demo` without
DATABASE_URL uses a throwaway SQLite file, so made-up incidents never mix with real ones.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ParamSpec, TextIO, TypeVar, overload
from urllib.parse import parse_qsl, urlencode

import emoji
from pydantic import SecretStr
from slack_bolt import App, BoltRequest

from bot.app import slash_commands
from bot.i18n import t
from bot.render.text import blocks_to_text, buttons_in
from bot.settings import Config, Env

SHELL_CHANNEL = "C0SHELL"
SHELL_USER = "U0YOU"
P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs listener work immediately, so each reply prints before the next input line is read."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class _ShellNames(dict[str, str]):
    """Pretend users are U0ALICE, U0BOB…: their name is the rest of the id."""

    @overload
    def get(self, key: str, default: None = None, /) -> str | None: ...
    @overload
    def get(self, key: str, default: str, /) -> str: ...
    @overload
    def get(self, key: str, default: T, /) -> str | T: ...
    def get(self, key: str, default: object = None, /) -> object:
        return super().get(key) or (key[2:].lower() if key.startswith("U0") else default)


@dataclass
class Posted:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    thread_ts: str | None = None


@dataclass
class Console:
    """What the pretend workspace holds: messages, channels, users."""

    out: TextIO
    locale: str
    base_url: str = ""
    messages: list[Posted] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=lambda: {SHELL_CHANNEL: "shell"})
    _last_ts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_ts(self) -> str:
        """A Slack-style `seconds.micros` ts: increasing within a run and later than any earlier run's."""
        with self.lock:
            self._last_ts = max(time.time_ns() // 1000, self._last_ts + 1)
            micros = self._last_ts
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def add(self, posted: Posted) -> Posted:
        with self.lock:
            self.messages.append(posted)
        return posted

    def last_top_level(self, channel: str) -> Posted | None:
        return next((m for m in reversed(self.messages) if m.channel == channel and not m.thread_ts), None)

    def find(self, channel: str, ts: str) -> Posted | None:
        return next((m for m in self.messages if m.channel == channel and m.ts == ts), None)

    def names(self) -> dict[str, str]:
        return _ShellNames({**self.channels, SHELL_USER: "you"})

    def show(self, where: str, blocks: list[dict[str, Any]], text: str) -> None:
        body = emoji.emojize(blocks_to_text(blocks, text, self.names()), language="alias")
        indented = "\n".join("  " + line for line in body.splitlines())
        self.out.write(f"bot {where}:\n{indented}\n")
        self.out.flush()


def _api_handler(console: Console) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode(errors="replace")
            if "json" in (self.headers.get("Content-Type") or ""):
                params = json.loads(raw or "{}")
            else:
                params = dict(parse_qsl(raw))
            for key in ("blocks", "attachments"):
                if isinstance(params.get(key), str):
                    params[key] = json.loads(params[key])
            result = answer(console, self.path, params)
            body = json.dumps(result).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def answer(console: Console, path: str, params: dict[str, Any]) -> dict[str, Any]:
    method = path.rsplit("/", 1)[-1].split("?")[0]
    if path.startswith("/upload/"):
        return {"ok": True}
    if path.startswith("/response/"):
        console.show("(only you can see this)", params.get("blocks") or [], params.get("text", ""))
        return {"ok": True}
    if method in {"chat.postMessage", "chat.postEphemeral", "chat.update"}:
        return _post(console, method, params)
    if method == "auth.test":
        return {"ok": True, "user_id": "U0BOT", "bot_id": "B0BOT", "team_id": "T0SHELL", "team": "shell"}
    if method == "users.info":
        user = params.get("user", SHELL_USER)
        name = "you" if user == SHELL_USER else user.removeprefix("U0").lower()
        return {"ok": True, "user": {"id": user, "name": name, "real_name": name, "tz": "UTC",
                                     "locale": console.locale, "profile": {"display_name": name}}}
    if method in {"conversations.history", "conversations.replies"}:
        found = console.find(params.get("channel", ""), params.get("latest") or params.get("ts") or "")
        messages = [{"type": "message", "ts": found.ts, "text": found.text, "user": found.user}] if found else []
        return {"ok": True, "messages": messages, "has_more": False}
    if method == "conversations.create":
        channel_id = f"C0INC{len(console.channels)}"
        console.channels[channel_id] = params.get("name", channel_id)
        return {"ok": True, "channel": {"id": channel_id, "name": params.get("name")}}
    if method == "conversations.open":
        users = params.get("users", "")
        return {"ok": True, "channel": {"id": "D" + users.split(",")[0]}}
    if method == "conversations.info":
        channel = params.get("channel", "")
        return {"ok": True, "channel": {"id": channel, "name": console.channels.get(channel, channel)}}
    if method == "files.getUploadURLExternal":
        return {"ok": True, "upload_url": f"{console.base_url}/upload/{params.get('filename')}", "file_id": "F0SHELL"}
    if method == "files.completeUploadExternal":
        files = params.get("files")
        title = json.loads(files)[0].get("title") if isinstance(files, str) else "file"
        console.out.write(f"bot uploaded a file: {title}\n")
        return {"ok": True, "files": [{"id": "F0SHELL", "title": title}]}
    if method == "chat.getPermalink":
        return {"ok": True, "permalink": f"shell://{params.get('channel')}/{params.get('message_ts')}"}
    return {"ok": True}


def _post(console: Console, method: str, params: dict[str, Any]) -> dict[str, Any]:
    channel = params.get("channel", SHELL_CHANNEL)
    blocks = params.get("blocks") or []
    text = params.get("text", "")
    ts = params.get("ts") if method == "chat.update" else console.next_ts()
    if method != "chat.postEphemeral":
        console.add(Posted(channel, ts or "", text, blocks, "U0BOT", params.get("thread_ts")))
    console.show(_where(console, channel, method, params.get("thread_ts")), blocks, text)
    return {"ok": True, "channel": channel, "ts": ts, "message_ts": ts,
            "message": {"ts": ts, "text": text, "blocks": blocks}}


def _where(console: Console, channel: str, method: str, thread_ts: str | None) -> str:
    place = f"to @{channel[3:].lower() or 'you'} (DM)" if channel.startswith("DU") else \
        f"in #{console.channels.get(channel, channel)}"
    if thread_ts:
        place += " (thread)"
    if method == "chat.postEphemeral":
        place += " (only you can see this)"
    if method == "chat.update":
        place += " (updated)"
    return place


class Shell:
    def __init__(self, app: App, console: Console, base_url: str, channel: str) -> None:
        self.app = app
        self.console = console
        self.base_url = base_url
        self.channel = channel
        self.events = itertools.count(1)
        self.run_token = secrets.token_hex(4).upper()  # event ids of an earlier run are in `seen_events`
        self.commands = slash_commands()

    def handle(self, line: str, user: str = SHELL_USER) -> None:
        line = line.strip()
        if line.startswith("as "):
            _, who, rest = [*line.split(maxsplit=2), "", ""][:3]
            return self.handle(rest, "U0" + who.lstrip("@").upper())
        word, _, rest = line.partition(" ")
        if word.startswith("/"):
            if word not in self.commands:
                self.console.out.write(f"(Slack would not send {word}: the app has {', '.join(self.commands)})\n")
                return None
            self._command(word, rest, user)
        elif word in {"react", "unreact"}:
            self._react(rest, user, added=word == "react")
        elif word == "click":
            self._click(rest, user)
        else:
            self._message(line, user)
        return None

    def _dispatch(self, body: str, content_type: str) -> None:
        self.app.dispatch(BoltRequest(body=body, headers={"content-type": [content_type]}))

    def _command(self, command: str, text: str, user: str) -> None:
        form = {"command": command, "text": text, "user_id": user, "user_name": user, "channel_id": self.channel,
                "channel_name": self.console.channels.get(self.channel, "shell"), "team_id": "T0SHELL",
                "response_url": f"{self.base_url}/response/{next(self.events)}", "trigger_id": "shell"}
        self._dispatch(urlencode(form), "application/x-www-form-urlencoded")

    def _event(self, event: dict[str, Any]) -> None:
        envelope = {"type": "event_callback", "team_id": "T0SHELL", "api_app_id": "A0SHELL",
                    "event_id": self.next_event_id(), "event_time": int(time.time()), "event": event}
        self._dispatch(json.dumps(envelope), "application/json")

    def next_event_id(self) -> str:
        return f"Ev0SHELL{self.run_token}N{next(self.events)}"

    def _message(self, text: str, user: str) -> None:
        posted = self.console.add(Posted(self.channel, self.console.next_ts(), text, [], user))
        self._event({"type": "message", "channel": self.channel, "user": user, "text": text, "ts": posted.ts,
                     "channel_type": "channel"})

    def _react(self, name: str, user: str, added: bool) -> None:
        target = self.console.last_top_level(self.channel)
        if target is None:
            self.console.out.write("(nothing to react to yet: type a message first)\n")
            return
        self._event({"type": "reaction_added" if added else "reaction_removed", "user": user,
                     "reaction": name.strip().strip(":"), "item_user": target.user,
                     "item": {"type": "message", "channel": target.channel, "ts": target.ts},
                     "event_ts": self.console.next_ts()})

    def _click(self, label: str, user: str) -> None:
        wanted = label.strip().lower()
        for posted in reversed(self.console.messages):
            for element in buttons_in(posted.blocks):
                if wanted in {element["text"]["text"].lower(), element["action_id"].lower()}:
                    return self._press(posted, element, user)
        self.console.out.write(f"(no button called {label!r} on recent messages)\n")
        return None

    def _press(self, posted: Posted, element: dict[str, Any], user: str) -> None:
        payload = {"type": "block_actions", "user": {"id": user}, "team": {"id": "T0SHELL"},
                   "channel": {"id": posted.channel}, "trigger_id": "shell",
                   "container": {"type": "message", "message_ts": posted.ts, "channel_id": posted.channel},
                   "message": {"ts": posted.ts, "text": posted.text, "blocks": posted.blocks},
                   "response_url": f"{self.base_url}/response/{next(self.events)}",
                   "actions": [{"type": "button", "action_id": element["action_id"],
                                "value": element.get("value", ""), "block_id": "b"}]}
        self._dispatch(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


def run(demo: bool = False, language: str | None = None, channel: str | None = None,
        stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    from bot.runtime import load_settings

    env, config = load_settings(demo=demo)
    with tempfile.TemporaryDirectory(prefix="emoji-ops-demo-", ignore_cleanup_errors=True) as scratch:
        if demo and "database_url" not in env.model_fields_set:  # DATABASE_URL from env or .env wins
            env.database_url = f"sqlite:///{Path(scratch) / 'demo.db'}"
        return _serve(env, config, demo, language or config.defaults.language, channel, stdin, stdout)


def _serve(env: Env, config: Config, demo: bool, lang: str, channel: str | None, stdin: TextIO,
           stdout: TextIO) -> int:
    """The loopback Slack API, the bot behind it, and the read-eval-print loop."""
    from bot.runtime import prepare_app, start_services

    console = Console(out=stdout, locale=lang)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _api_handler(console))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    console.base_url = base_url
    env.slack_api_url = base_url + "/api/"
    env.slack_bot_token = SecretStr("xoxb-local-shell")  # the console ignores tokens
    if "LOG_LEVEL" not in os.environ:
        logging.getLogger().setLevel(logging.WARNING)
    services = start_services(env, config, demo=demo)
    try:
        app = prepare_app(services, verify_requests=False, executor=InlineExecutor())
        _loop(Shell(app, console, base_url, channel or SHELL_CHANNEL), lang, demo, stdin, stdout)
    finally:
        server.shutdown()
        services.engine.dispose()  # release the demo database file before its directory is removed
    return 0


def _loop(shell: Shell, lang: str, demo: bool, stdin: TextIO, stdout: TextIO) -> None:
    stdout.write(t("core.shell_welcome", lang) + "\n")
    if demo:
        stdout.write(t("core.shell_demo", lang) + "\n")
    interactive = stdin.isatty()
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line or line.strip() in {"quit", "exit"}:
            return
        if line.strip() == "help":
            stdout.write(t("core.shell_help", lang) + "\n")
        elif line.strip():
            if not interactive:
                stdout.write(f"> {line.strip()}\n")
            shell.handle(line)
