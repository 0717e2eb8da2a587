"""Everything the bot says on its own initiative: posts, updates, DMs, invites, pins, uploads, PagerDuty.

One Notifier per process (on `Services`) wraps the one `Chat`, so every post shares the per-channel
pacing. The "quiet" methods are best-effort: the state change they report is already committed, so a
Slack failure is logged and answered with None/False rather than raised. `dm` and `pagerduty` raise,
because paging needs to tell a transient failure (retry) from a permanent one (move on).
"""

from __future__ import annotations

import logging

from bot.clients import ChatSender, Once, Pager, PagerAction
from bot.render.blocks import Block
from bot.retry import BackendError

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, chat: ChatSender, pager: Pager | None = None) -> None:
        self.chat = chat
        self.pager = pager

    def post(self, channel: str, blocks: list[Block], thread_ts: str | None = None, loud: bool = False,
             once: Once | None = None) -> str | None:
        """The new message's ts, or None when Slack would not take it."""
        try:
            return self.chat.post(channel, blocks, thread_ts=thread_ts, loud=loud, once=once)
        except BackendError as exc:
            log.warning("could not post to %s: %s", channel, exc.reason)
            return None

    def update(self, channel: str, ts: str, blocks: list[Block]) -> bool:
        try:
            self.chat.update(channel, ts, blocks)
            return True
        except BackendError as exc:
            log.warning("could not update message %s in %s: %s", ts, channel, exc.reason)
            return False

    def ephemeral(self, channel: str, user: str, blocks: list[Block], thread_ts: str | None = None) -> bool:
        try:
            self.chat.ephemeral(channel, user, blocks, thread_ts=thread_ts)
            return True
        except BackendError as exc:
            log.info("could not show %s a message in %s: %s", user, channel, exc.reason)
            return False

    def invite(self, channel: str, users: list[str]) -> None:
        try:
            self.chat.invite(channel, [u for u in users if u and not u.startswith("?")])
        except BackendError as exc:
            log.info("could not invite %s to %s: %s", users, channel, exc.reason)

    def pin(self, channel: str, ts: str) -> None:
        try:
            self.chat.pin(channel, ts)
        except BackendError as exc:
            log.info("could not pin %s in %s: %s", ts, channel, exc.reason)

    def upload(self, channel: str, filename: str, content: bytes | str, title: str, thread_ts: str | None = None,
               comment: str | None = None) -> bool:
        try:
            self.chat.upload(channel, filename, content, title, thread_ts=thread_ts, comment=comment)
            return True
        except BackendError as exc:
            log.warning("could not upload %s to %s: %s", filename, channel, exc.reason)
            return False

    def dm(self, user: str, blocks: list[Block], attempts: int = 3, once: Once | None = None) -> tuple[str, str]:
        """(DM channel, ts); raises BackendError, transient or not."""
        return self.chat.dm(user, blocks, attempts=attempts, once=once)

    def pagerduty(self, action: PagerAction, incident_id: int, summary: str, severity: str, link: str | None) -> bool:
        """False when PagerDuty is not configured; raises BackendError when it is and the event failed."""
        if self.pager is None:
            return False
        self.pager.send(action, incident_id, summary=summary, severity=severity, link=link)
        return True
