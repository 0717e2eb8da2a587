"""The incident desk: open, acknowledge, mitigate, resolve, cancel, re-rate and annotate incidents.

It decides and records; Slack side effects go through `bot.clients.chat.Chat`, and each one is
best-effort after the state change is committed, so a Slack failure never loses the incident.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func

from bot.clients.chat import Chat
from bot.clients.pager import PagerDuty
from bot.durations import format_duration
from bot.escape import escape
from bot.i18n import t
from bot.incidents import escalation, render, store
from bot.incidents.model import SEVERITIES, Incident, TimelineEntry
from bot.incidents.titles import clean_title, mentioned_users, slug
from bot.retry import BackendError
from bot.services import Services
from bot.settings import Team
from bot.store.models import IncidentRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenRequest:
    reporter: str
    source: str  # reaction | text | command | shortcut
    channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    text: str | None = None
    title: str | None = None
    severity: str | None = None
    emoji: str = ""
    degraded: bool = False


class Refused(Exception):
    """A request the desk won't carry out; the message is for the user."""


def desk_for(services: Services) -> IncidentDesk:
    desk = getattr(services, "_incident_desk", None)
    if desk is None:
        desk = IncidentDesk(services)
        services._incident_desk = desk  # type: ignore[attr-defined]
    return desk


class IncidentDesk:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.chat = Chat(services.slack)
        key = services.env.pagerduty_routing_key
        self.pager = PagerDuty(key.get_secret_value(), services.env.pagerduty_api_url) if key else None

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    # Opening -----------------------------------------------------------------------------------
    def open(self, request: OpenRequest) -> tuple[Incident, bool]:
        """Open an incident for a message (or a command); one incident per message, ever."""
        config = self.services.config
        team = config.team_for_channel(request.channel)
        severity = request.severity or (config.incidents.degraded_severity if request.degraded
                                        else config.incidents.default_severity)
        title, unreadable = self._title(request, team)
        now = self.now
        chain = escalation.snapshot(self.services, team.name, now)
        row = IncidentRow(title=title, severity=severity, team=team.name, status="open", reporter=request.reporter,
                          language=team.language, source=request.source, origin_channel=request.channel,
                          origin_ts=request.message_ts, chain=chain, created_at=now)
        incident_id, created = store.insert(self.services.factory, row, f"opened from {request.source}")
        if created:
            self._announce(incident_id, request, team, chain, unreadable)
        return self.load(incident_id), created

    def _title(self, request: OpenRequest, team: Team) -> tuple[str, str | None]:
        limit = self.services.config.incidents.title_max_chars
        text, unreadable = request.title or request.text, None
        if text is None and request.channel and request.message_ts:
            try:
                text = self.chat.message(request.channel, request.message_ts).text
            except BackendError as exc:
                unreadable = exc.reason
        names = {u: self.services.users.get(u).name for u in mentioned_users(text or "")}
        title = clean_title(text or "", names, limit)
        if not title:
            title = t("incident.placeholder_title", team.language, channel=request.channel or "?")
        if request.degraded:
            title = t("incident.degraded_title", team.language, title=title)[:limit + 12]
        return title, unreadable

    def _announce(self, incident_id: int, request: OpenRequest, team: Team, chain: dict[str, Any],
                  unreadable: str | None) -> None:
        """Channel first, then the page (what matters most), then the confirmation and the pinned summary."""
        incident = self.load(incident_id)
        lang = incident.language
        channel, refusal = self._make_channel(incident, [request.reporter])
        thread = None if channel else (request.thread_ts or request.message_ts)
        fields: dict[str, Any] = {"channel_id": channel or request.channel, "thread_ts": thread}
        if request.channel and request.message_ts:
            fields["origin_link"] = self.chat.permalink(request.channel, request.message_ts)
        store.set_fields(self.services.factory, incident_id, **fields)
        page_first = channel is not None or thread is not None  # else the confirmation becomes the thread
        if page_first:
            self._start_paging(incident_id, team, chain)
        notes = self._opening_notes(incident, chain, unreadable)
        if channel:
            notes.append(t("incident.channel_created", lang, channel=channel))
        elif refusal:
            notes.append(t("incident.channel_refused", lang, reason=refusal))
        anchor = self._confirm(incident, request, notes)
        if not channel and thread is None and anchor is not None:
            store.set_fields(self.services.factory, incident_id, thread_ts=anchor[1])
        if not page_first:
            self._start_paging(incident_id, team, chain)
        if channel or anchor is not None:
            self._post_summary(self.load(incident_id))

    def _start_paging(self, incident_id: int, team: Team, chain: dict[str, Any]) -> None:
        incident = self.load(incident_id)
        if chain["gaps"] and escalation.pages(chain, incident.severity):
            self.notify_team(incident, t("incident.gap_warning", incident.language, team=team.name,
                                         tiers=", ".join(chain["gaps"])))
        escalation.start(self.services, incident_id, incident.severity)

    def _opening_notes(self, incident: Incident, chain: dict[str, Any], unreadable: str | None) -> list[str]:
        lang = incident.language
        notes = []
        if unreadable:
            notes.append(t("incident.unreadable_message", lang, reason=unreadable))
        if not chain["configured"]:
            notes.append(t("incident.no_rotation", lang, team=incident.team))
        elif escalation.pages(chain, incident.severity):
            first = chain["steps"][0]
            sla = escalation.sla_for(chain, incident.severity)
            notes.append(t("incident.paging", lang, user=first["user"].lstrip("?"), tier=escape(first["tier"]),
                           sla=format_duration(sla) if sla else "—"))
        else:
            notes.append(t("incident.no_page_severity", lang, severity=incident.severity))
        return notes

    def _confirm(self, incident: Incident, request: OpenRequest, notes: list[str]) -> tuple[str, str] | None:
        """Confirm where it was declared, with Undo; returns the (channel, ts) thread the incident hangs off."""
        if not request.channel:
            return None
        lang = incident.language
        source = self._source_text(request, lang)
        undo = int(self.services.config.incidents.undo_within.total_seconds() // 60)
        blocks = render.confirmation_blocks(incident, lang, source, notes, undo)
        thread = request.thread_ts or request.message_ts
        try:
            ts = self.chat.post(request.channel, blocks, thread_ts=thread)
        except BackendError as exc:
            log.warning("could not confirm incident %s in %s: %s", incident.id, request.channel, exc.reason)
            return None
        store.set_fields(self.services.factory, incident.id, confirmation_ts=ts)
        return request.channel, thread or ts

    def _source_text(self, request: OpenRequest, lang: str) -> str:
        if request.source in {"reaction", "text"}:
            return t(f"incident.declared_from_{request.source}", lang, emoji=request.emoji)
        return t(f"incident.declared_from_{request.source}", lang)

    def _make_channel(self, incident: Incident, invite: list[str]) -> tuple[str | None, str | None]:
        """A dedicated incident channel, or (None, why not) so the incident runs in the origin thread."""
        config = self.services.config.incidents
        if not config.create_channel:
            return None, None
        date = _local_date(incident.created_at, self.team_zone(incident.team))
        name = config.channel_pattern.format(date=date, number=incident.number, slug=slug(incident.title))[:80]
        try:
            channel = self.chat.create_channel(name.lower())
        except BackendError as exc:
            log.info("could not create incident channel %s: %s", name, exc.reason)
            return None, exc.reason
        self._invite_safely(channel, invite)
        return channel, None

    def _post_summary(self, incident: Incident) -> None:
        try:
            ts = self.chat.post(incident.channel_id or "", render.summary_blocks(incident, incident.language),
                                thread_ts=incident.thread_ts)
        except BackendError as exc:
            log.warning("could not post summary for incident %s: %s", incident.id, exc.reason)
            return
        store.set_fields(self.services.factory, incident.id, summary_ts=ts)
        try:
            self.chat.pin(incident.channel_id or "", ts)
        except BackendError as exc:
            log.info("could not pin summary of incident %s: %s", incident.id, exc.reason)

    # Lifecycle ---------------------------------------------------------------------------------
    def acknowledge(self, incident_id: int, user: str, via: str) -> Incident:
        incident = self.load(incident_id)
        changed = store.transition(self.services.factory, incident_id, ("open",),
                                   TimelineEntry(self.now, "acknowledged", user, f"acknowledged via {via}"),
                                   status="acknowledged", acknowledged_at=self.now, acknowledged_by=user,
                                   commander=func.coalesce(IncidentRow.commander, user))
        if not changed:
            raise Refused(t("incident.already_acknowledged", incident.language, number=incident.number,
                            status=render.status_name(incident.status, incident.language)))
        elapsed = format_duration(self.now - incident.created_at)
        self._after_change(incident_id, t("incident.acknowledged", incident.language, user=user,
                                          number=incident.number, elapsed=elapsed),
                           dm_text=t("incident.page_dm_acked", incident.language, number=incident.number, user=user),
                           pager="acknowledge")
        return self.load(incident_id)

    def mitigate(self, incident_id: int, user: str) -> Incident:
        incident = self.load(incident_id)
        self._transition_or_refuse(incident, ("open", "acknowledged"), "mitigated", user,
                                   status="mitigated", mitigated_at=self.now,
                                   acknowledged_at=func.coalesce(IncidentRow.acknowledged_at, self.now),
                                   acknowledged_by=func.coalesce(IncidentRow.acknowledged_by, user),
                                   commander=func.coalesce(IncidentRow.commander, user))
        self._after_change(incident_id, t("incident.mitigated", incident.language, user=user, number=incident.number),
                           dm_text=t("incident.page_dm_acked", incident.language, number=incident.number, user=user),
                           pager="acknowledge")
        return self.load(incident_id)

    def resolve(self, incident_id: int, user: str) -> Incident:
        incident = self.load(incident_id)
        self._transition_or_refuse(incident, store.OPEN_STATUSES, "resolved", user, status="resolved",
                                   resolved_at=self.now, commander=func.coalesce(IncidentRow.commander, user))
        resolved = self.load(incident_id)
        elapsed = format_duration(self.now - incident.created_at)
        self._after_change(incident_id, t("incident.resolved", incident.language, user=user, number=incident.number,
                                          elapsed=elapsed),
                           dm_text=t("incident.page_dm_acked", incident.language, number=incident.number, user=user),
                           pager="resolve")
        self._attach_review(resolved)
        return resolved

    def cancel(self, incident_id: int, user: str) -> Incident:
        """Undo: only shortly after opening (accidental reactions happen)."""
        incident = self.load(incident_id)
        window = self.services.config.incidents.undo_within
        if self.now - incident.created_at > window:
            raise Refused(t("incident.undo_too_late", incident.language, number=incident.number,
                            minutes=int(window.total_seconds() // 60)))
        self._transition_or_refuse(incident, store.OPEN_STATUSES, "cancelled", user, status="cancelled",
                                   cancelled_at=self.now)
        message = t("incident.cancelled", incident.language, user=user, number=incident.number)
        self._after_change(incident_id, message, pager="resolve",
                           dm_text=t("incident.page_dm_cancelled", incident.language, number=incident.number))
        channel, ts = store.confirmation_of(self.services.factory, incident_id)
        if channel and ts:
            self._update_safely(channel, ts, render.closed_confirmation_blocks(self.load(incident_id),
                                                                               incident.language, message))
        return self.load(incident_id)

    def set_severity(self, incident_id: int, severity: str, user: str) -> Incident:
        incident = self.load(incident_id)
        if severity not in SEVERITIES:
            raise Refused(t("core.unknown_argument", incident.language, argument=severity))
        if incident.closed:
            raise Refused(t("incident.closed_already", incident.language, number=incident.number,
                            status=render.status_name(incident.status, incident.language)))
        if severity == incident.severity:
            return incident
        store.set_fields(self.services.factory, incident_id, severity=severity)
        store.log_event(self.services.factory, incident_id,
                        TimelineEntry(self.now, "severity", user, f"severity {incident.severity} -> {severity}"))
        self._after_change(incident_id, t("incident.severity_changed", incident.language, user=user,
                                          number=incident.number, old=incident.severity, new=severity),
                           stop_paging=False)
        if incident.status == "open" and escalation.next_scheduled(self.services, incident_id) is None \
                and not any(e.kind in {"paged", "page_failed"} for e in incident.timeline):
            escalation.start(self.services, incident_id, severity)
        return self.load(incident_id)

    def note(self, incident_id: int, user: str, text: str, key: str | None = None, kind: str = "note") -> bool:
        incident = self.load(incident_id)
        return store.log_event(self.services.factory, incident.id, TimelineEntry(self.now, kind, user, text[:2000]),
                               key=key)

    def escalate(self, incident_id: int, user: str) -> Incident:
        incident = self.load(incident_id)
        if incident.status != "open":
            raise Refused(t("incident.already_acknowledged", incident.language, number=incident.number,
                            status=render.status_name(incident.status, incident.language)))
        store.log_event(self.services.factory, incident_id, TimelineEntry(self.now, "escalated", user,
                                                                          "escalated by hand"))
        escalation.escalate_now(self.services, incident_id)
        return self.load(incident_id)

    # Helpers -----------------------------------------------------------------------------------
    def load(self, incident_id: int) -> Incident:
        incident = store.load(self.services.factory, incident_id)
        if incident is None:
            raise Refused(t("incident.unknown_incident", self.services.config.defaults.language, number=incident_id))
        return incident

    def team_zone(self, team: str) -> str:
        found = self.services.config.team_named(team)
        return found.timezone if found else self.services.config.defaults.timezone

    def _transition_or_refuse(self, incident: Incident, allowed: tuple[str, ...], kind: str, user: str,
                              **values: Any) -> None:
        if not store.transition(self.services.factory, incident.id, allowed,
                                TimelineEntry(self.now, kind, user, kind), **values):
            current = self.load(incident.id)
            raise Refused(t("incident.closed_already", incident.language, number=incident.number,
                            status=render.status_name(current.status, incident.language)))

    def _after_change(self, incident_id: int, message: str, dm_text: str | None = None,
                      pager: str | None = None, stop_paging: bool = True) -> None:
        incident = self.load(incident_id)
        if stop_paging:
            for channel, ts in escalation.stop(self.services, incident_id):
                if dm_text:
                    self._update_safely(channel, ts, [render.section(dm_text)])
        self.post_quietly(incident, message)
        self.refresh_summary(incident)
        if pager:
            self.pagerduty(incident, pager)

    def refresh_summary(self, incident: Incident) -> None:
        if incident.channel_id and incident.summary_ts:
            self._update_safely(incident.channel_id, incident.summary_ts,
                                render.summary_blocks(incident, incident.language))

    def _attach_review(self, incident: Incident) -> None:
        from bot.incidents.review import review_filename, review_markdown

        names = {u: self.services.users.get(u).name for u in {incident.reporter, *incident.responders}
                 if u and u[:1] in {"U", "W"}}
        markdown = review_markdown(incident, names, incident.language, self.team_zone(incident.team))
        try:
            self.chat.upload(incident.channel_id or incident.origin_channel or "", review_filename(incident),
                             markdown, title=review_filename(incident), thread_ts=incident.thread_ts,
                             comment=t("incident.review_comment", incident.language, number=incident.number))
        except BackendError as exc:
            log.warning("could not upload the review draft of incident %s: %s", incident.id, exc.reason)
            self.notify_team(incident, f"```{markdown[:2900]}```")

    def post_quietly(self, incident: Incident, text: str) -> None:
        channel = incident.channel_id or incident.origin_channel
        if channel:
            self._post_safely(channel, [render.section(text)], incident.thread_ts)

    def notify_team(self, incident: Incident, text: str, loud: bool = False) -> None:
        """Tell the team channel (or wherever the incident lives). Used for failures and warnings."""
        team = self.services.config.team_named(incident.team)
        channel = (team.channel.lstrip("#") if team and team.channel else None) or incident.origin_channel \
            or incident.channel_id
        if channel:
            thread = None if loud or channel != incident.channel_id else incident.thread_ts
            self._post_safely(channel, [render.section(text)], thread)

    def invite_quietly(self, incident: Incident, users: list[str]) -> None:
        if incident.channel_id and incident.thread_ts is None:
            self._invite_safely(incident.channel_id, users)

    def pagerduty(self, incident: Incident, action: str) -> None:
        if self.pager is None:
            return
        try:
            self.pager.send(action, incident.id, summary=f"#{incident.number} {incident.title}",  # type: ignore[arg-type]
                            severity=incident.severity, link=incident.origin_link)
        except BackendError as exc:
            log.warning("PagerDuty %s for incident %s failed: %s", action, incident.id, exc.reason)
            store.log_event(self.services.factory, incident.id,
                            TimelineEntry(self.now, "page_failed", None, f"PagerDuty {action} failed: {exc.reason}"))

    def _post_safely(self, channel: str, blocks: list[dict[str, Any]], thread_ts: str | None) -> None:
        try:
            self.chat.post(channel, blocks, thread_ts=thread_ts)
        except BackendError as exc:
            log.warning("could not post to %s: %s", channel, exc.reason)

    def _update_safely(self, channel: str, ts: str, blocks: list[dict[str, Any]]) -> None:
        try:
            self.chat.update(channel, ts, blocks)
        except BackendError as exc:
            log.warning("could not update message %s in %s: %s", ts, channel, exc.reason)

    def _invite_safely(self, channel: str, users: list[str]) -> None:
        try:
            self.chat.invite(channel, [u for u in users if u and not u.startswith("?")])
        except BackendError as exc:
            log.info("could not invite %s to %s: %s", users, channel, exc.reason)


def _local_date(at: datetime, zone: str) -> str:
    return at.astimezone(ZoneInfo(zone)).strftime("%Y%m%d")
