"""A Slack Web API stand-in on loopback that records every call.

    with SlackRecorder() as slack:
        client = WebClient(token="xoxb-test", base_url=slack.base_url)
        client.chat_postMessage(channel="C1", text="hi")
        [call] = slack.calls("chat.postMessage")
        assert call.params["text"] == "hi"

Paths served:
- `GET|POST /api/<method>`: form, JSON, multipart or query parameters; the token comes from
  the Authorization header (or a `token` parameter). Answered like Slack with plausible
  per-method payloads; unknown methods answer `{"ok": true}`.
- `POST /response/<id>`: a `response_url` sink, recorded as method "response_url".
- `POST /upload/<file_id>`: the upload URL handed out by files.getUploadURLExternal,
  recorded as method "file_upload".

Every recorded call is checked for broadcasts and mentions the bot did not write
(tests/support/payload_safety.py); tests/conftest.py turns what it finds into test failures.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support import payload_safety
from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body, send_bytes
from tests.support.waiting import at_least, wait_until

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_NAME = "Test"


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    headers: dict[str, str]  # lower-cased names
    path: str = ""
    body: bytes = b""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    received_at: float = field(default_factory=time.time)

    @property
    def token(self) -> str | None:
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        token = self.params.get("token")
        return str(token) if token is not None else None

    def json_param(self, name: str) -> Any:
        """A parameter Slack sends JSON-encoded inside a form (blocks, attachments, files)."""
        value = self.params.get(name)
        return json.loads(value) if isinstance(value, str) else value


@dataclass
class _Failure:
    status: int
    error: str
    retry_after: int | None
    times: int


Responder = Callable[[Call], dict[str, Any]]


# --------------------------------------------------------------------------- request parsing


def parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Merge query-string and body parameters; single values become plain strings."""
    params = _flatten(parse_qs(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        params.update(json.loads(body))
    elif kind == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    elif body:
        params.update(_flatten(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)))
    return params


def _flatten(parsed: dict[str, list[str]]) -> dict[str, Any]:
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def _parse_multipart(content_type: str, body: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    params: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        params[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return params


# --------------------------------------------------------------------------- HTTP handler


class _SlackHandler(QuietHandler):
    def _serve(self) -> None:
        recorder: SlackRecorder = self.server.owner  # type: ignore[attr-defined]
        parts = urlsplit(self.path)
        method = _method_for(parts.path)
        if method is None:
            send_bytes(self, 404, b'{"ok": false, "error": "unknown_path"}', "application/json")
            return
        body = read_body(self)
        params = parse_params(self.headers.get("Content-Type", ""), body, parts.query)
        headers = {name.lower(): value for name, value in self.headers.items()}
        call = Call(method=method, params=params, headers=headers, path=parts.path, body=body)
        down = recorder.outage_answer(call)
        if down is not None:
            send_bytes(self, down[0], down[1], "text/html; charset=utf-8")
            return
        status, payload, extra_headers = recorder.answer(call)
        send_bytes(
            self, status, json.dumps(payload).encode(), "application/json; charset=utf-8", extra_headers
        )

    do_GET = do_POST = _serve


def _method_for(path: str) -> str | None:
    if path.startswith("/api/") and len(path) > len("/api/"):
        return path[len("/api/") :]
    if path.startswith("/response/"):
        return "response_url"
    if path.startswith("/upload/"):
        return "file_upload"
    return None


# --------------------------------------------------------------------------- the recorder


class SlackRecorder(LoopbackHTTPServer):
    """Records Slack Web API calls and answers them; programmable failures and fixtures."""

    def __init__(self) -> None:
        super().__init__(_SlackHandler)
        self._changed = threading.RLock()  # guards the recorded state
        self._calls: list[Call] = []
        self._once: dict[str, deque[_Failure]] = {}
        self._always: dict[str, str] = {}
        self._responders: dict[str, Responder] = {}
        self._messages: dict[tuple[str, str], dict[str, Any]] = {}  # set by tests, and every message posted
        self._channels: dict[str, dict[str, Any]] = {}  # channels created, by name
        self._users: dict[str, dict[str, Any]] = {}
        self._outages: dict[str, tuple[float, int]] = {}
        self._counter = itertools.count(1)
        self._every: dict[str, tuple[int, int, int]] = {}  # method -> (every nth call, calls so far, Retry-After)
        self._per_channel: tuple[frozenset[str], float, int] | None = None  # (methods, interval, Retry-After)
        self._last_in_channel: dict[tuple[str, str], float] = {}

    # ----------------------------------------------------------------- addresses

    @property
    def base_url(self) -> str:
        """For WebClient(base_url=...): http://127.0.0.1:PORT/api/"""
        return f"{self.url}/api/"

    def response_url(self, response_id: str = "1") -> str:
        return f"{self.url}/response/{response_id}"

    # ----------------------------------------------------------------- programming

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int | None = 1,
        error: str = "ratelimited",
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer HTTP `status` with {"ok": false, "error": error}."""
        with self._changed:
            self._once.setdefault(method, deque()).append(_Failure(status, error, retry_after, times))

    def outage(self, methods: tuple[str, ...], seconds: float, status: int = 503) -> None:
        """For `seconds` from now, `methods` answer HTTP `status` with an HTML page, as Slack's edge does."""
        with self._changed:
            for method in methods:
                self._outages[method] = (time.monotonic() + seconds, status)

    def outage_answer(self, call: Call) -> tuple[int, bytes] | None:
        """(status, HTML body) while `call.method` is in an outage (the call is recorded), else None."""
        with self._changed:
            until, status = self._outages.get(call.method, (0.0, 0))
            if time.monotonic() >= until:
                return None
            body = f"<html><body><h1>{status} Service Unavailable</h1></body></html>".encode()
            self._calls.append(Call(call.method, call.params, call.headers, call.path, call.body, status,
                                    {"ok": False, "error": f"HTTP {status} (HTML)"}))
        return status, body

    def in_outage(self, method: str) -> bool:
        """True while an `outage(...)` of `method` lasts."""
        with self._changed:
            until, _status = self._outages.get(method, (0.0, 0))
        return time.monotonic() < until

    def rate_limit_every(self, methods: tuple[str, ...], every: int = 2, retry_after: int = 1) -> None:
        """Every `every`-th call of each of `methods` answers 429 with Retry-After (every=0 undoes it)."""
        with self._changed:
            for method in methods:
                if every:
                    self._every[method] = (every, 0, retry_after)
                else:
                    self._every.pop(method, None)

    def rate_limit_per_channel(self, methods: tuple[str, ...], per_second: float = 1.0, retry_after: int = 1) -> None:
        """Like Slack: more than `per_second` calls of `methods` to one channel answer 429 with Retry-After."""
        with self._changed:
            self._per_channel = (frozenset(methods), 1.0 / per_second, retry_after) if per_second else None

    def _rate_limited(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        limited = (429, {"ok": False, "error": "ratelimited"})
        with self._changed:
            if call.method in self._every:
                every, seen, retry_after = self._every[call.method]
                self._every[call.method] = (every, seen + 1, retry_after)
                if (seen + 1) % every == 0:
                    return (*limited, {"Retry-After": str(retry_after)})
            if self._per_channel and call.method in self._per_channel[0]:
                _methods, interval, retry_after = self._per_channel
                key = (call.method, str(call.params.get("channel", "")))
                now = time.monotonic()
                if now - self._last_in_channel.get(key, -interval) < interval:
                    return (*limited, {"Retry-After": str(retry_after)})
                self._last_in_channel[key] = now
        return None

    def fail_method(self, method: str, error: str | None = "not_allowed_token_type") -> None:
        """Every call of `method` answers 200 {"ok": false, "error": error}; error=None undoes it."""
        with self._changed:
            if error is None:
                self._always.pop(method, None)
            else:
                self._always[method] = error

    def respond(self, method: str, responder: Responder | dict[str, Any]) -> None:
        """Replace the answer for `method` (a payload, or a function of the Call)."""
        with self._changed:
            self._responders[method] = responder if callable(responder) else (lambda _call: responder)

    def set_message(self, channel: str, ts: str, **fields: Any) -> dict[str, Any]:
        """Store a message returned by conversations.history / conversations.replies."""
        message = {"type": "message", "text": "", "user": "U0", "ts": ts, **fields}
        with self._changed:
            self._messages[(channel, ts)] = message
        return message

    def set_user(self, user_id: str, **fields: Any) -> dict[str, Any]:
        """Override users.info fields for `user_id` (email=... also feeds users.lookupByEmail)."""
        with self._changed:
            user = self._users.setdefault(user_id, _default_user(user_id))
            email = fields.pop("email", None)
            user.update(fields)
            if email is not None:
                user["profile"]["email"] = email
            if "real_name" in fields:
                user["profile"]["real_name"] = fields["real_name"]
            return user

    # ----------------------------------------------------------------- queries

    def calls(self, method: str | None = None, channel: str | None = None) -> list[Call]:
        """Recorded calls, oldest first: of `method`, and sent to `channel` (a DM to U1 goes to "DU1")."""
        with self._changed:
            return [c for c in self._calls if (method is None or c.method == method)
                    and (channel is None or c.params.get("channel") == channel)]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> list[Call]:
        """Block until `count` calls of `method` (matching `predicate`) were recorded; returns them."""
        return wait_until(lambda: at_least(count, [c for c in self.calls(method) if predicate is None or predicate(c)]),
                          timeout, interval=0.01,
                          message=lambda: f"{count} matching {method} call(s); saw {[c.method for c in self.calls()]}")

    def clear(self) -> None:
        """Forget recorded calls (programmed failures, messages and users stay)."""
        with self._changed:
            self._calls.clear()

    def forget_workspace(self) -> None:
        """Forget what the bot made in Slack (its posts, its channels); what tests set with set_message stays."""
        with self._changed:
            for key in [key for key, message in self._messages.items() if message.get("bot_id") == BOT_ID]:
                del self._messages[key]
            self._channels.clear()

    def reset(self) -> None:
        """Forget calls, failures, responders, messages and users."""
        with self._changed:
            self._calls.clear()
            self._once.clear()
            self._always.clear()
            self._responders.clear()
            self._messages.clear()
            self._channels.clear()
            self._users.clear()
            self._outages.clear()
            self._every.clear()
            self._per_channel = None

    # ----------------------------------------------------------------- answering

    def answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Decide the reply to `call`, record it, and return (status, payload, headers)."""
        status, payload, headers = self._programmed_failure(call.method) or self._rate_limited(call) or \
            self._success(call)
        recorded = Call(call.method, call.params, call.headers, call.path, call.body, status, payload)
        payload_safety.check_call(call.method, call.params)
        with self._changed:
            self._calls.append(recorded)
        return status, payload, headers

    def _programmed_failure(self, method: str) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        with self._changed:
            queue = self._once.get(method)
            if queue:
                failure = queue[0]
                failure.times -= 1
                if failure.times <= 0:
                    queue.popleft()
                headers = {"Retry-After": str(failure.retry_after)} if failure.retry_after is not None else {}
                return failure.status, {"ok": False, "error": failure.error}, headers
            if method in self._always:
                return 200, {"ok": False, "error": self._always[method]}, {}
        return None

    def _success(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._changed:
            responder = self._responders.get(call.method)
        if responder is not None:
            return 200, responder(call), {}
        builder = _BUILDERS.get(call.method)
        return 200, {"ok": True, **(builder(self, call) if builder else {})}, {}

    def next_ts(self) -> str:
        """Unique increasing message timestamps: 1700000000.000100, 1700000000.000200, ..."""
        micros = next(self._counter) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):08d}"

    def message(self, channel: str, ts: str) -> dict[str, Any]:
        with self._changed:
            stored = self._messages.get((channel, ts))
        return dict(stored) if stored else {"type": "message", "text": "", "user": "U0", "ts": ts}

    def thread_replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        with self._changed:
            stored = [m for (ch, ts), m in self._messages.items() if ch == channel and ts != thread_ts]
        replies = [dict(m) for m in stored if m.get("thread_ts") == thread_ts]
        return sorted(replies, key=lambda m: float(m["ts"]))

    def channel_messages(self, channel: str) -> list[dict[str, Any]]:
        with self._changed:
            stored = [dict(m) for (ch, _ts), m in self._messages.items() if ch == channel]
        return sorted(stored, key=lambda m: float(m["ts"]), reverse=True)

    def remember(self, channel: str, message: dict[str, Any]) -> None:
        """A message the bot posted: conversations.history and .replies return it, as Slack would."""
        with self._changed:
            self._messages[(channel, str(message["ts"]))] = message

    def create_channel(self, name: str) -> dict[str, Any] | None:
        """A new channel created by the bot, or None when the name is taken (Slack's `name_taken`)."""
        with self._changed:
            if name in self._channels:
                return None
            channel = {**_channel(self.next_id("C"), name), "creator": BOT_USER_ID}
            self._channels[name] = channel
            return dict(channel)

    def created_channels(self) -> list[dict[str, Any]]:
        with self._changed:
            return [dict(channel) for channel in self._channels.values()]

    def user(self, user_id: str) -> dict[str, Any]:
        with self._changed:
            stored = self._users.get(user_id)
            return json.loads(json.dumps(stored)) if stored else _default_user(user_id)

    def user_by_email(self, email: str) -> dict[str, Any] | None:
        with self._changed:
            for user in self._users.values():
                if user["profile"].get("email", "").lower() == email.lower():
                    return json.loads(json.dumps(user))
        return None


def _default_user(user_id: str) -> dict[str, Any]:
    name = f"user-{user_id.lower()}"
    return {
        "id": user_id,
        "team_id": TEAM_ID,
        "name": name,
        "real_name": f"User {user_id}",
        "tz": "UTC",
        "tz_label": "Coordinated Universal Time",
        "tz_offset": 0,
        "locale": "en-US",
        "is_bot": False,
        "deleted": False,
        "profile": {"real_name": f"User {user_id}", "display_name": name, "email": f"{name}@example.com"},
    }


# --------------------------------------------------------------------------- per-method payloads


def _auth_test(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {
        "url": "https://test.slack.com/",
        "team": TEAM_NAME,
        "user": "bot",
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


def _post_message(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    ts = recorder.next_ts()
    channel = str(call.params.get("channel", ""))
    message = {
        "type": "message",
        "text": call.params.get("text", ""),
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "ts": ts,
    }
    for key in ("blocks", "attachments", "thread_ts", "metadata"):
        if key in call.params:
            message[key] = call.json_param(key) if key != "thread_ts" else call.params[key]
    recorder.remember(channel, message)
    return {"channel": channel, "ts": ts, "message": message}


def _update(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {
        "channel": call.params.get("channel"),
        "ts": call.params.get("ts"),
        "text": call.params.get("text", ""),
    }


def _post_ephemeral(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"message_ts": recorder.next_ts()}


def _delete(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"channel": call.params.get("channel"), "ts": call.params.get("ts")}


def _permalink(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    channel, ts = call.params.get("channel", ""), str(call.params.get("message_ts", ""))
    return {
        "channel": channel,
        "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
    }


def _channel(channel_id: str, name: str | None = None) -> dict[str, Any]:
    return {
        "id": channel_id,
        "name": name or f"channel-{channel_id.lower()}",
        "is_channel": True,
        "is_member": True,
        "created": 1_700_000_000,
    }


def _conversations_create(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    channel = recorder.create_channel(str(call.params.get("name", "")))
    return {"channel": channel} if channel else {"ok": False, "error": "name_taken"}


def _conversations_list(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"channels": recorder.created_channels(), "response_metadata": {"next_cursor": ""}}


def _conversations_channel(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"channel": _channel(str(call.params.get("channel", "C0")))}


def _conversations_open(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    users = str(call.params.get("users", "")).replace(",", "")
    return {"channel": {"id": f"D{users}", "is_im": True}}


def _history(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    channel = str(call.params.get("channel", ""))
    latest = call.params.get("latest")
    messages = [recorder.message(channel, str(latest))] if latest else recorder.channel_messages(channel)
    return {"messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}


def _replies(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    channel, ts = str(call.params.get("channel", "")), str(call.params.get("ts", ""))
    messages = [recorder.message(channel, ts), *recorder.thread_replies(channel, ts)]
    return {"messages": messages, "has_more": False, "response_metadata": {"next_cursor": ""}}


def _users_info(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"user": recorder.user(str(call.params.get("user", "")))}


def _lookup_by_email(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    user = recorder.user_by_email(str(call.params.get("email", "")))
    return {"user": user} if user else {"ok": False, "error": "users_not_found"}


def _file(file_id: str, title: str = "") -> dict[str, Any]:
    return {
        "id": file_id,
        "name": title or f"{file_id}.bin",
        "title": title,
        "permalink": f"https://test.slack.com/files/{BOT_USER_ID}/{file_id}",
        "url_private": f"https://files.slack.com/files-pri/{TEAM_ID}-{file_id}/file",
    }


def _files_upload(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    title = str(call.params.get("title") or call.params.get("filename") or "")
    return {"file": _file(recorder.next_id("F"), title)}


def _get_upload_url(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    file_id = recorder.next_id("F")
    return {"upload_url": f"{recorder.url}/upload/{file_id}", "file_id": file_id}


def _complete_upload(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    files = call.json_param("files") or []
    return {"files": [_file(str(f.get("id")), str(f.get("title") or "")) for f in files]}


def _file_upload(recorder: SlackRecorder, call: Call) -> dict[str, Any]:
    return {"size": len(call.body)}


_BUILDERS: dict[str, Callable[[SlackRecorder, Call], dict[str, Any]]] = {
    "auth.test": _auth_test,
    "chat.postMessage": _post_message,
    "chat.update": _update,
    "chat.postEphemeral": _post_ephemeral,
    "chat.delete": _delete,
    "chat.getPermalink": _permalink,
    "conversations.create": _conversations_create,
    "conversations.info": _conversations_channel,
    "conversations.list": _conversations_list,
    "conversations.invite": _conversations_channel,
    "conversations.join": _conversations_channel,
    "conversations.open": _conversations_open,
    "conversations.history": _history,
    "conversations.replies": _replies,
    "users.info": _users_info,
    "users.lookupByEmail": _lookup_by_email,
    "files.upload": _files_upload,
    "files.getUploadURLExternal": _get_upload_url,
    "files.completeUploadExternal": _complete_upload,
    "file_upload": _file_upload,
}
