"""The two messages that stand for an incident: the confirmation where it was declared (with Undo) and
the pinned summary (with the buttons). Posted once, and kept telling the truth about status and paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Once
from bot.clock import Clock
from bot.durations import format_duration
from bot.i18n import t
from bot.incidents import pages, render, store
from bot.incidents.model import Incident
from bot.notify import Notifier
from bot.render.blocks import Block
from bot.settings import Config


@dataclass
class IncidentSummary:
    notifier: Notifier
    config: Config
    factory: sessionmaker[Session]
    clock: Clock

    # The confirmation ----------------------------------------------------------------------------
    def confirm(self, incident: Incident, thread: str | None, source: str, extra: list[str],
                once: Once | None = None) -> tuple[str, str] | None:
        """Confirm where it was declared, with Undo; returns the (channel, ts) thread the incident hangs off."""
        if not incident.origin_channel:
            return None
        ts = self.notifier.post(incident.origin_channel, self.confirmation_blocks(incident, source, extra), thread,
                                once=once)
        if ts is None:
            return None
        store.set_fields(self.factory, incident.id, confirmation_ts=ts)
        return incident.origin_channel, thread or ts

    def confirmation_blocks(self, incident: Incident, source: str, extra: list[str]) -> list[Block]:
        undo = self.config.incidents.undo_within
        undo_text = format_duration(undo) if undo and self.clock.now() - incident.created_at < undo else None
        notes = [*extra, self.paging_note(incident)]
        if incident.channel_id and incident.channel_id != incident.origin_channel:
            notes.append(t("incident.channel_created", incident.language, channel=incident.channel_id))
        return render.confirmation_blocks(incident, incident.language, source, notes, undo_text)

    def close_confirmation(self, incident: Incident, message: str) -> None:
        channel, ts = store.confirmation_of(self.factory, incident.id)
        if channel and ts:
            self.notifier.update(channel, ts, render.closed_confirmation_blocks(incident, incident.language, message))

    def source_text(self, source: str, lang: str, emoji: str = "") -> str:
        """How it was declared: "by 🔥💥 on a message", "with /incident declare"…"""
        if source in {"reaction", "text"}:
            return t(f"incident.declared_from_{source}", lang, emoji=emoji)
        return t(f"incident.declared_from_{source}", lang)

    def stored_source(self, incident: Incident) -> str:
        emoji = next(("".join(c.emoji) for c in self.config.emoji.combos if c.action == "open_incident"), "")
        return self.source_text(incident.source, incident.language, emoji)

    # The pinned summary --------------------------------------------------------------------------
    def blocks(self, incident: Incident) -> list[Block]:
        return render.summary_blocks(incident, incident.language, list(self.config.incidents.severities),
                                     self.paging_note(incident))

    def post(self, incident: Incident, once: Once | None = None) -> None:
        """Post and pin the summary, once: a resumed announcement (`once.since`) pins the one it finds again."""
        ts = incident.summary_ts or self.notifier.post(incident.channel_id or "", self.blocks(incident),
                                                       incident.thread_ts, once=once)
        if ts is None:
            return
        store.set_fields(self.factory, incident.id, summary_ts=ts)
        self.notifier.pin(incident.channel_id or "", ts)

    def refresh(self, incident: Incident) -> None:
        if incident.channel_id and incident.summary_ts:
            self.notifier.update(incident.channel_id, incident.summary_ts, self.blocks(incident))

    # Paging, as both messages report it --------------------------------------------------------------
    def paging_note(self, incident: Incident) -> str:
        """What paging actually did so far: paged, retrying because Slack is down, failed, or not paging."""
        lang = incident.language
        chain = store.chain_of(self.factory, incident.id)
        if not chain.configured:
            return t("incident.no_rotation", lang, team=incident.team)
        if not chain.pages(incident.severity):
            return t("incident.no_page_severity", lang, severity=incident.severity)
        step = pages.first_page(self.factory, incident.id)
        user = step.user if step else chain.steps[0].user
        tier = step.tier if step else chain.steps[0].tier
        sla = chain.sla_for(incident.severity)
        params: dict[str, Any] = {"user": user.lstrip("?"), "tier": tier,
                                  "sla": format_duration(sla) if sla else "—"}
        if step is None or (step.status in {"scheduled", "sending"} and not step.attempts):
            return t("incident.paging" if sla else "incident.paging_no_sla", lang, **params)
        if step.status == "sent":
            return t("incident.paged" if sla else "incident.paged_no_sla", lang, **params)
        if step.status == "failed":
            return t("incident.page_failed_note", lang, reason=step.error or "?", **params)
        if step.status == "cancelled":
            return t("incident.paging_stopped", lang, **params)
        return t("incident.page_retrying", lang, reason=step.error or "?", attempts=step.attempts, **params)

    def paging_changed(self, incident_id: int) -> None:
        """Keep the confirmation and the pinned summary telling the truth about paging."""
        incident = store.load(self.factory, incident_id)
        if incident is None:
            return
        channel, ts = store.confirmation_of(self.factory, incident_id)
        if channel and ts and not incident.closed:
            self.notifier.update(channel, ts, self.confirmation_blocks(incident, self.stored_source(incident), []))
        self.refresh(incident)

    def page_delivered_late(self, incident_id: int) -> None:
        """Slack is back and the page went out: post what could not be posted while it was down."""
        incident = store.load(self.factory, incident_id)
        if incident is None:
            return
        _, confirmation = store.confirmation_of(self.factory, incident_id)
        if confirmation is None and incident.origin_channel:
            anchor = self.confirm(incident, incident.origin_ts, self.stored_source(incident), [])
            if anchor is not None and incident.thread_ts is None and incident.channel_id == incident.origin_channel:
                store.set_fields(self.factory, incident_id, thread_ts=anchor[1])
            incident = store.load(self.factory, incident_id) or incident
        if incident.summary_ts is None and incident.channel_id:
            self.post(incident)
        self.paging_changed(incident_id)
