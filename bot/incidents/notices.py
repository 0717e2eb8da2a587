"""Where an incident's news goes: its channel or thread, the team channel, the people paged, PagerDuty."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Once, PagerAction
from bot.clock import Clock
from bot.i18n import t
from bot.incidents import store
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.pages import LEASE
from bot.incidents.render import news_blocks
from bot.notify import Notifier
from bot.render.blocks import Block
from bot.retry import BackendError
from bot.settings import Config
from bot.store import notices as notice_store
from bot.store.notices import Notice

log = logging.getLogger(__name__)
ONCE = "incident"  # the `notices` kind of incident posts said once per key


@dataclass
class IncidentNotices:
    notifier: Notifier
    config: Config
    factory: sessionmaker[Session]
    clock: Clock

    def in_incident(self, incident: Incident, text: str) -> None:
        """Post where the incident runs: its own channel, else the thread it hangs off."""
        channel = incident.channel_id or incident.origin_channel
        if channel:
            self.notifier.post(channel, news_blocks(text), incident.thread_ts)

    def in_incident_once(self, incident: Incident, key: str, text: str) -> bool:
        """Post where the incident runs, once per `key` across restarts: a `notices` row is claimed before the post
        and freed if Slack refuses it. False: not said yet (Slack refused, or another claim is in flight), so the
        caller tries again later."""
        channel = incident.channel_id or incident.origin_channel
        if not channel:
            return True  # nowhere to say it
        subject = str(incident.id)
        found = notice_store.notice(self.factory, ONCE, subject, key)
        if found is not None and found.ts is not None:
            return True  # said already, before a restart
        if not self._claim(subject, key, channel, found):
            return False
        earlier = found.opened_at if found is not None else None  # a claim whose process died: it may have posted
        ts = self.notifier.post(channel, news_blocks(text), incident.thread_ts,
                                once=Once(f"notice:{subject}:{key}", earlier))
        if ts is None:
            notice_store.release_notice(self.factory, ONCE, subject, key)
            return False
        claimed = notice_store.notice(self.factory, ONCE, subject, key)
        if claimed is not None:
            notice_store.posted(self.factory, claimed.id, ts)
        return True

    def _claim(self, subject: str, key: str, channel: str, found: Notice | None) -> bool:
        """Claim the post; a claim left unposted for LEASE (its process died before posting) is freed first."""
        now = self.clock.now()
        if found is not None and not notice_store.release_unposted(self.factory, found.id, now - LEASE):
            return False
        return notice_store.claim_notice(self.factory, ONCE, subject, key, now, channel=channel)

    def blocks_in_incident(self, incident: Incident, blocks: list[Block]) -> str | None:
        """Post blocks where the incident runs; the message's ts, or None when Slack would not take it."""
        channel = incident.channel_id or incident.origin_channel
        return self.notifier.post(channel, blocks, incident.thread_ts) if channel else None

    def to_team(self, incident: Incident, text: str, loud: bool = False) -> None:
        """Tell the team channel (or wherever the incident lives). Used for failures and warnings."""
        team = self.config.team_named(incident.team)
        channel = (team.channel.lstrip("#") if team and team.channel else None) or incident.origin_channel \
            or incident.channel_id
        if channel:
            thread = None if loud or channel != incident.channel_id else incident.thread_ts
            self.notifier.post(channel, news_blocks(text), thread, loud=loud)

    def invite(self, incident: Incident, users: list[str]) -> None:
        """Into the incident's own channel; an incident running in a thread has no one to invite."""
        if incident.channel_id and incident.thread_ts is None:
            self.notifier.invite(incident.channel_id, users)

    def pagerduty(self, incident: Incident, action: PagerAction) -> None:
        """Acknowledge or resolve in PagerDuty too; a failure goes on the timeline, and the incident is told,
        since PagerDuty keeps paging its on-call until someone acknowledges there."""
        try:
            self.notifier.pagerduty(action, incident.id, summary=f"#{incident.number} {incident.title}",
                                    severity=incident.severity, link=incident.origin_link)
        except BackendError as exc:
            log.warning("PagerDuty %s for incident %s failed: %s", action, incident.id, exc.reason)
            store.log_event(self.factory, incident.id,
                            TimelineEntry(self.clock.now(), "page_failed", None,
                                          f"PagerDuty {action} failed: {exc.reason}",
                                          {"user": "PagerDuty", "tier": action, "reason": exc.reason}))
            key = "not_acknowledged" if action == "acknowledge" else "not_resolved"
            self.in_incident(incident, t(f"incident.pagerduty_{key}", incident.language, number=incident.number,
                                         reason=exc.explain(incident.language)))
