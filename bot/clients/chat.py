"""Slack side effects the domain needs (post, DM, create channel, pin, upload), each a small call.

Wraps slack_sdk's WebClient: Slack errors become BackendError with Slack's error code; transient
ones (5xx with any body, Slack's own "try later" codes, connection trouble) are retried with jittered
backoff (429s are already honoured via Retry-After by the client); posts to one channel are paced to
Slack's ~1 message/s with a small burst; every payload passes `defuse`, so nothing the bot sends can
broadcast unless the caller composed a loud announcement itself.

A post whose answer did not come within the timeout may still have landed: it is not repeated at once, and
when the same message is posted again (the outbox, a notice or a page trying later), the channel is read
first, so a message Slack took slowly is not posted twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.clients import ChatSender, Message, Once
from bot.render.blocks import Block
from bot.render.text import notification_text, safe_blocks
from bot.retry import BackendError, call_with_retries, is_transient

T = TypeVar("T")
METADATA_EVENT = "emoji_ops_message"  # the metadata event type of a message sent Once
TRANSIENT_SLACK_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                          "request_timeout"}
# Slack refusing the bot's own token: no message goes out to anyone until someone fixes it. That says nothing about
# the person or channel a message was for, so it is kept for later (transient: a page waits and is tried again, it
# does not move on to the next tier), but not tried again at once.
TOKEN_REFUSED = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}


class ChannelPacer:
    """Token bucket per channel: `burst` posts at once, then one per `interval` seconds."""

    def __init__(self, burst: int = 3, interval: float = 1.0) -> None:
        self.burst = burst
        self.interval = interval
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def wait(self, channel: str) -> None:
        with self.lock:
            now = time.monotonic()
            tokens, last = self.buckets.get(channel, (float(self.burst), now))
            tokens = min(self.burst, tokens + (now - last) / self.interval)
            delay = 0.0 if tokens >= 1 else (1 - tokens) * self.interval
            self.buckets[channel] = (tokens - 1 + delay / self.interval, now + delay)
        if delay:
            time.sleep(delay)


Unsure = tuple[str, str | None, str]  # (channel, thread_ts, text) of a post whose answer never came


class Chat:
    def __init__(self, client: WebClient, pacer: ChannelPacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()
        self._unsure: dict[Unsure, float] = {}  # → when it was sent (Unix time)
        self._unsure_lock = threading.Lock()

    def _call(self, fn: Callable[[], T], attempts: int = 3,
              transient: Callable[[BaseException], bool] | None = None) -> T:
        return call_with_retries("slack", lambda: _slack_errors(fn), attempts=attempts,
                                 transient=transient or _worth_retrying_now)

    def post(self, channel: str, blocks: list[Block], thread_ts: str | None = None,
             broadcast: bool = False, loud: bool = False, attempts: int = 3, once: Once | None = None) -> str:
        """`loud`: the bot's own announcement may start with <!here>; nothing else can broadcast. `once`: see Once."""
        self.pacer.wait(channel)
        safe = safe_blocks(blocks, loud)
        text = notification_text(safe)
        key: Unsure = (channel, thread_ts, text)
        landed = self._landed(key) if once is None else self._keyed(channel, thread_ts, once)
        if landed is not None:
            return landed
        sent = time.time()
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": once.key}} if once else None
        try:
            response = self._call(lambda: self.client.chat_postMessage(
                channel=channel, blocks=safe, text=text, thread_ts=thread_ts, metadata=metadata,
                reply_broadcast=broadcast or None, unfurl_links=False), attempts, _repeatable_post)
        except BackendError as exc:
            if _unanswered(exc):
                with self._unsure_lock:
                    self._unsure.setdefault(key, sent)
            raise
        return str(response["ts"])

    def _landed(self, key: Unsure) -> str | None:
        """The ts of a message posted earlier without an answer, if it did land; None when it did not (or none was)."""
        with self._unsure_lock:
            sent = self._unsure.get(key)
        if sent is None:
            return None
        channel, thread_ts, text = key
        oldest = f"{sent - 1:.6f}"
        found = self._call(lambda: self.client.conversations_replies(channel=channel, ts=thread_ts, oldest=oldest)
                           if thread_ts else self.client.conversations_history(channel=channel, oldest=oldest,
                                                                              limit=100))
        ts = next((str(m["ts"]) for m in found.get("messages") or [] if m.get("text") == text and m.get("bot_id")
                   and m.get("ts") != thread_ts), None)
        with self._unsure_lock:
            self._unsure.pop(key, None)
        return ts

    def _keyed(self, channel: str, thread_ts: str | None, once: Once) -> str | None:
        """The ts of the message carrying `once.key`, posted since an earlier attempt began; None when there was no
        earlier attempt or it never landed."""
        if once.since is None:
            return None
        oldest = f"{once.since.timestamp() - 1:.6f}"
        found = self._call(lambda: self.client.conversations_replies(
            channel=channel, ts=thread_ts, oldest=oldest, include_all_metadata=True, limit=200)
            if thread_ts else self.client.conversations_history(channel=channel, oldest=oldest,
                                                                include_all_metadata=True, limit=200))
        return next((str(m["ts"]) for m in found.get("messages") or [] if _key_of(m) == once.key), None)

    def update(self, channel: str, ts: str, blocks: list[Block]) -> None:
        safe = safe_blocks(blocks)
        self._call(lambda: self.client.chat_update(channel=channel, ts=ts, blocks=safe,
                                                   text=notification_text(safe)))

    def ephemeral(self, channel: str, user: str, blocks: list[Block], thread_ts: str | None = None) -> None:
        safe = safe_blocks(blocks)
        self._call(lambda: self.client.chat_postEphemeral(channel=channel, user=user, blocks=safe,
                                                          thread_ts=thread_ts, text=notification_text(safe)))

    def dm(self, user: str, blocks: list[Block], attempts: int = 3, once: Once | None = None) -> tuple[str, str]:
        opened = self._call(lambda: self.client.conversations_open(users=user), attempts)
        channel = str(opened["channel"]["id"])
        return channel, self.post(channel, blocks, attempts=attempts, once=once)

    def create_channel(self, name: str, ours_if_taken: bool = False) -> str:
        """A new public channel. `ours_if_taken`: an earlier attempt may have created it (a process killed before it
        read Slack's answer), so a taken name that the bot itself created is that channel."""
        for candidate in (name, f"{name[:76]}-{int(time.time()) % 1000:03d}"):
            try:
                created = self._call(partial(self.client.conversations_create, name=candidate))
                return str(created["channel"]["id"])
            except BackendError as exc:
                if exc.reason != "name_taken":
                    raise
                ours = self._created_by_bot(candidate) if ours_if_taken and candidate == name else None
                if ours is not None:
                    return ours
        raise BackendError("slack", "name_taken")

    def _created_by_bot(self, name: str) -> str | None:
        me = self._call(self.client.auth_test).get("user_id")
        cursor = None
        while True:
            page = self._call(partial(self.client.conversations_list, types="public_channel", exclude_archived=True,
                                      limit=1000, cursor=cursor))
            found = next((c for c in page.get("channels") or [] if c.get("name") == name), None)
            if found is not None:
                return str(found["id"]) if found.get("creator") == me else None
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None

    def invite(self, channel: str, users: list[str]) -> None:
        wanted = sorted({u for u in users if u})
        if wanted:
            try:
                self._call(lambda: self.client.conversations_invite(channel=channel, users=",".join(wanted)))
            except BackendError as exc:
                if exc.reason not in {"already_in_channel", "cant_invite_self"}:
                    raise

    def pin(self, channel: str, ts: str) -> None:
        self._call(lambda: self.client.pins_add(channel=channel, timestamp=ts))

    def permalink(self, channel: str, ts: str) -> str | None:
        try:
            return str(self._call(lambda: self.client.chat_getPermalink(channel=channel, message_ts=ts))["permalink"])
        except BackendError:
            return None

    def message(self, channel: str, ts: str) -> Message:
        """The text of one message (top level or in a thread); BackendError says why it can't be read."""
        history = self._call(lambda: self.client.conversations_history(
            channel=channel, latest=ts, oldest=ts, inclusive=True, limit=1))
        found = _matching(history.get("messages") or [], ts)
        if found is None:
            replies = self._call(lambda: self.client.conversations_replies(channel=channel, ts=ts, limit=1))
            found = _matching(replies.get("messages") or [], ts)
        if found is None:
            raise BackendError("slack", "message_not_found")
        return Message(text=str(found.get("text") or ""), user=found.get("user"))

    def upload(self, channel: str, filename: str, content: bytes | str, title: str,
               thread_ts: str | None = None, comment: str | None = None) -> None:
        self._call(lambda: self.client.files_upload_v2(channel=channel, filename=filename, content=content,
                                                       title=title, thread_ts=thread_ts,
                                                       initial_comment=comment))


def _slack_errors(fn: Callable[[], T]) -> T:
    """Slack's failures as BackendError: transient when Slack (or the way to it) is having trouble."""
    try:
        return fn()
    except SlackApiError as exc:
        status = getattr(exc.response, "status_code", 200)
        error = str(exc.response.get("error", "unknown_error"))
        if status >= 500 or error.startswith("Received a response in a non-JSON format"):
            raise _unavailable(f"HTTP {status}") from None
        if error in TRANSIENT_SLACK_ERRORS or status == 429:
            raise _unavailable(error) from None
        if error in TOKEN_REFUSED:
            raise BackendError("slack", transient=True, code="slack_token_refused", params={"error": error}) from None
        raise BackendError("slack", error) from None
    except (SlackClientError, OSError) as exc:  # connection refused or reset, timeouts, DNS
        raise _unavailable(type(exc).__name__) from None


def _worth_retrying_now(exc: BaseException) -> bool:
    return is_transient(exc) and not (isinstance(exc, BackendError) and exc.code == "slack_token_refused")


def _unanswered(exc: BaseException) -> bool:
    """The request went out and no answer came in time: Slack may have acted on it."""
    return isinstance(exc, BackendError) and exc.code == "slack_unavailable" and \
        exc.params.get("status") in ("TimeoutError", "ReadTimeout")


def _repeatable_post(exc: BaseException) -> bool:
    return _worth_retrying_now(exc) and not _unanswered(exc)


def _unavailable(status: str) -> BackendError:
    return BackendError("slack", transient=True, code="slack_unavailable", params={"status": status})


def _key_of(message: dict[str, Any]) -> str | None:
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") != METADATA_EVENT:
        return None
    return (metadata.get("event_payload") or {}).get("key")


def _matching(messages: list[dict[str, Any]], ts: str) -> dict[str, Any] | None:
    return next((m for m in messages if m.get("ts") == ts), None)


if TYPE_CHECKING:  # mypy proves that Chat is what the domain may call
    _chat: type[ChatSender] = Chat
