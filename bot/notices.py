"""Posts the bot makes on its own, said once: a `notices` row is claimed before the post and released if Slack
refuses it; closing one is a second one-write claim, so only one process replies in its thread."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.notify import Notifier
from bot.render.blocks import Block
from bot.store import notices as store
from bot.store.notices import Notice


class NoticeBoard:
    def __init__(self, notifier: Notifier, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._notifier = notifier
        self._sessions = sessions
        self._clock = clock

    def open(self, kind: str, subject: str, channel: str, blocks: list[Block], period: str | None = None,
             detail: dict[str, Any] | None = None) -> Notice | None:
        """Post once per (kind, subject, period); the notice, or None if another caller has it or Slack refused."""
        now = self._clock.now()
        period = period or now.isoformat()
        if not store.claim_notice(self._sessions, kind, subject, period, now, channel=channel, detail=detail):
            return None
        ts = self._notifier.post(channel, blocks)
        if ts is None:  # Slack would not take it: the next try claims it again
            store.release_notice(self._sessions, kind, subject, period)
            return None
        notice = store.notice(self._sessions, kind, subject, period)
        if notice is not None:
            store.posted(self._sessions, notice.id, ts)
        return store.notice(self._sessions, kind, subject, period)

    def close(self, notice: Notice, blocks: list[Block] | None = None) -> bool:
        """Close it; the one caller whose write closed it replies in its thread."""
        if not store.clear(self._sessions, notice.id, self._clock.now()):
            return False
        if blocks and notice.channel and notice.ts:
            self._notifier.post(notice.channel, blocks, thread_ts=notice.ts)
        return True

    def say(self, channel: str, blocks: list[Block], thread_ts: str | None = None) -> str | None:
        """A plain post that needs no claim (it follows a claimed action)."""
        return self._notifier.post(channel, blocks, thread_ts=thread_ts)

    def reply(self, notice: Notice, blocks: list[Block]) -> None:
        if notice.channel and notice.ts:
            self._notifier.post(notice.channel, blocks, thread_ts=notice.ts)

    def opened(self, kind: str) -> dict[str, Notice]:
        return {n.subject: n for n in store.open_notices(self._sessions, kind)}

    def latest(self, kind: str, subject: str) -> Notice | None:
        return store.latest_notice(self._sessions, kind, subject)

    def find(self, kind: str, subject: str, period: str) -> Notice | None:
        return store.notice(self._sessions, kind, subject, period)
