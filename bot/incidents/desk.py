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

from sqlalchemy import func, update

from bot.durations import format_duration
from bot.escape import unescape
from bot.i18n import normalise_language, t
from bot.incidents import escalation, render, store
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.titles import clean_title, mentioned_users, slug
from bot.permissions import Audience, Denied
from bot.retry import BackendError
from bot.services import Services
from bot.settings import Team
from bot.store.models import IncidentRow
from bot.store.repo import audit

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
    force: bool = False  # open even if the channel just had an incident (the reporter said it's a new one)


class Refused(Exception):
    """A request the desk won't carry out; the message is for the user."""


class NotAllowed(Refused):
    """The user may not change this incident; the message says who can."""


def desk_for(services: Services) -> IncidentDesk:
    desk = getattr(services, "_incident_desk", None)
    if desk is None:
        desk = IncidentDesk(services)
        services._incident_desk = desk  # type: ignore[attr-defined]
    return desk


class IncidentDesk:
    def __init__(self, services: Services) -> None:
        self.services = services
        self.chat = services.chat

    @property
    def now(self) -> datetime:
        return self.services.clock.now()

    # Opening -----------------------------------------------------------------------------------
    def open(self, request: OpenRequest) -> tuple[Incident, bool]:
        """Open an incident for a message (or a command); one incident per message, ever."""
        config = self.services.config
        team = config.team_for_channel(request.channel)
        similar = self._storm_twin(request)
        if similar is not None:
            self._ask_same_or_new(similar, request)
            return similar, False
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
                unreadable = exc.explain(team.language)
        names = {u: self.services.users.get(u).name for u in mentioned_users(text or "")}
        title = clean_title(text or "", names, limit)
        if not title:
            title = t("incident.placeholder_title", team.language, channel=request.channel or "?")
        if request.degraded:
            title = unescape(t("incident.degraded_title", team.language, title=title))[:limit + 12]
        return title, unreadable

    def _storm_twin(self, request: OpenRequest) -> Incident | None:
        """An incident opened from this channel moments ago, when a new 🔥💥 is likely the same fire."""
        window = self.services.config.incidents.storm_window
        if request.force or request.source not in {"reaction", "text"} or not request.channel or not window:
            return None
        return store.recent_in_channel(self.services.factory, request.channel, self.now - window,
                                       exclude_ts=request.message_ts)

    def _ask_same_or_new(self, similar: Incident, request: OpenRequest) -> None:
        lang = self.reader_language(request.reporter, similar.language)
        ago = format_duration(self.now - similar.created_at)
        blocks = render.same_or_new_blocks(similar, lang, ago, {
            "reporter": request.reporter, "channel": request.channel, "ts": request.message_ts,
            "thread_ts": request.thread_ts, "emoji": request.emoji, "degraded": request.degraded,
            "source": request.source})
        try:
            self.chat.ephemeral(request.channel or "", request.reporter, blocks,
                                thread_ts=request.thread_ts or request.message_ts)
        except BackendError as exc:
            log.warning("could not ask %s whether this is incident %s: %s", request.reporter, similar.id,
                        exc.reason)

    def join(self, incident_id: int, user: str, channel: str, ts: str | None) -> Incident:
        """The reporter of a second 🔥💥 says it is the same fire: link the message, invite them, page no one."""
        incident = self.load(incident_id)
        link = self.chat.permalink(channel, ts) if ts else None
        store.log_event(self.services.factory, incident.id,
                        TimelineEntry(self.now, "joined", user, f"reported again: {link or channel}",
                                      {"link": link or ""}), key=f"join:{channel}:{ts}")
        self.invite_quietly(incident, [user])
        self.post_quietly(incident, t("incident.joined", incident.language, user=user, number=incident.number,
                                      link=link or ""))
        return incident

    def reader_language(self, user: str | None, fallback: str) -> str:
        """The reader's own Slack locale, else the incident's (team's) language."""
        if not user:
            return fallback
        return normalise_language(self.services.users.get(user).locale) or fallback

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
        notes = [t("incident.unreadable_message", lang, reason=unreadable)] if unreadable else []
        if refusal:
            notes.append(t("incident.channel_refused", lang, reason=refusal))
        anchor = self._confirm(self.load(incident_id), request.thread_ts or request.message_ts,
                               self._source_text(request, lang), notes)
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

    def _confirmation_notes(self, incident: Incident, extra: list[str]) -> list[str]:
        notes = [*extra, self.paging_note(incident)]
        if incident.channel_id and incident.channel_id != incident.origin_channel:
            notes.append(t("incident.channel_created", incident.language, channel=incident.channel_id))
        return notes

    def paging_note(self, incident: Incident) -> str:
        """What paging actually did so far: paged, retrying because Slack is down, failed, or not paging."""
        lang = incident.language
        chain = store.chain_of(self.services.factory, incident.id)
        if not chain.get("configured"):
            return t("incident.no_rotation", lang, team=incident.team)
        if not escalation.pages(chain, incident.severity):
            return t("incident.no_page_severity", lang, severity=incident.severity)
        step = escalation.first_page(self.services, incident.id)
        user = (step.user_id if step else chain["steps"][0]["user"]) or ""
        tier = step.tier if step else chain["steps"][0]["tier"]
        sla = escalation.sla_for(chain, incident.severity)
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
        incident = self.load(incident_id)
        channel, ts = store.confirmation_of(self.services.factory, incident_id)
        if channel and ts and not incident.closed:
            self._update_safely(channel, ts, self._confirmation_blocks(incident, self._stored_source(incident), []))
        self.refresh_summary(incident)

    def page_delivered_late(self, incident_id: int) -> None:
        """Slack is back and the page went out: post what could not be posted while it was down."""
        incident = self.load(incident_id)
        _, confirmation = store.confirmation_of(self.services.factory, incident_id)
        if confirmation is None and incident.origin_channel:
            anchor = self._confirm(incident, incident.origin_ts, self._stored_source(incident), [])
            if anchor is not None and incident.thread_ts is None and incident.channel_id == incident.origin_channel:
                store.set_fields(self.services.factory, incident_id, thread_ts=anchor[1])
            incident = self.load(incident_id)
        if incident.summary_ts is None and incident.channel_id:
            self._post_summary(incident)
        self.paging_changed(incident_id)

    def _stored_source(self, incident: Incident) -> str:
        emoji = next(("".join(c.emoji) for c in self.services.config.emoji.combos if c.action == "open_incident"), "")
        if incident.source in {"reaction", "text"}:
            return t(f"incident.declared_from_{incident.source}", incident.language, emoji=emoji)
        return t(f"incident.declared_from_{incident.source}", incident.language)

    def _confirmation_blocks(self, incident: Incident, source: str, extra: list[str]) -> list[dict[str, Any]]:
        undo = self.services.config.incidents.undo_within
        undo_text = format_duration(undo) if undo and self.now - incident.created_at < undo else None
        return render.confirmation_blocks(incident, incident.language, source,
                                          self._confirmation_notes(incident, extra), undo_text)

    def _confirm(self, incident: Incident, thread: str | None, source: str,
                 extra: list[str]) -> tuple[str, str] | None:
        """Confirm where it was declared, with Undo; returns the (channel, ts) thread the incident hangs off."""
        if not incident.origin_channel:
            return None
        try:
            ts = self.chat.post(incident.origin_channel, self._confirmation_blocks(incident, source, extra),
                                thread_ts=thread)
        except BackendError as exc:
            log.warning("could not confirm incident %s in %s: %s", incident.id, incident.origin_channel, exc.reason)
            return None
        store.set_fields(self.services.factory, incident.id, confirmation_ts=ts)
        return incident.origin_channel, thread or ts

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
        name = config.channel_pattern.format(date=date, number=incident.number, slug=slug(incident.title),
                                             team=slug(incident.team))[:80]
        try:
            channel = self.chat.create_channel(name.lower())
        except BackendError as exc:
            log.info("could not create incident channel %s: %s", name, exc.reason)
            return None, exc.explain(incident.language)
        self._invite_safely(channel, invite)
        return channel, None

    def summary(self, incident: Incident) -> list[dict[str, Any]]:
        return render.summary_blocks(incident, incident.language, self.severity_names(), self.paging_note(incident))

    def severity_names(self) -> list[str]:
        return list(self.services.config.incidents.severities)

    def _post_summary(self, incident: Incident) -> None:
        try:
            ts = self.chat.post(incident.channel_id or "", self.summary(incident), thread_ts=incident.thread_ts)
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
        incident = self._authorized(incident_id, user, "acknowledge")
        changed = store.transition(self.services.factory, incident_id, ("open",),
                                   TimelineEntry(self.now, "acknowledged", user, f"acknowledged via {via}",
                                                 {"via": via}),
                                   status="acknowledged", acknowledged_at=self.now, acknowledged_by=user,
                                   commander=func.coalesce(IncidentRow.commander, user))
        if not changed:
            raise Refused(self._status_refusal("incident.already_acknowledged", incident, user))
        elapsed = format_duration(self.now - incident.created_at)
        self._after_change(incident_id, t("incident.acknowledged", incident.language, user=user,
                                          number=incident.number, elapsed=elapsed),
                           dm_key="incident.page_dm_acked", actor=user, pager="acknowledge")
        return self.load(incident_id)

    def mitigate(self, incident_id: int, user: str) -> Incident:
        incident = self._authorized(incident_id, user, "mitigate")
        self._transition_or_refuse(incident, ("open", "acknowledged"), "mitigated", user,
                                   status="mitigated", mitigated_at=self.now,
                                   acknowledged_at=func.coalesce(IncidentRow.acknowledged_at, self.now),
                                   acknowledged_by=func.coalesce(IncidentRow.acknowledged_by, user),
                                   commander=func.coalesce(IncidentRow.commander, user))
        self._after_change(incident_id, t("incident.mitigated", incident.language, user=user, number=incident.number),
                           dm_key="incident.page_dm_mitigated", actor=user, pager="acknowledge")
        return self.load(incident_id)

    def resolve(self, incident_id: int, user: str) -> Incident:
        incident = self._authorized(incident_id, user, "resolve")
        self._transition_or_refuse(incident, store.OPEN_STATUSES, "resolved", user, status="resolved",
                                   resolved_at=self.now, commander=func.coalesce(IncidentRow.commander, user))
        resolved = self.load(incident_id)
        elapsed = format_duration(self.now - incident.created_at)
        self._after_change(incident_id, t("incident.resolved", incident.language, user=user, number=incident.number,
                                          elapsed=elapsed),
                           dm_key="incident.page_dm_resolved", actor=user, pager="resolve")
        self._attach_review(resolved)
        return resolved

    def cancel(self, incident_id: int, user: str) -> Incident:
        """Undo: only shortly after opening (accidental reactions happen), by the reporter or an admin."""
        incident = self._authorized(incident_id, user, "undo")
        window = self.services.config.incidents.undo_within
        if self.now - incident.created_at > window:
            raise Refused(t("incident.undo_too_late", self._reader(user, incident), number=incident.number,
                            window=format_duration(window)))
        self._transition_or_refuse(incident, store.OPEN_STATUSES, "cancelled", user, status="cancelled",
                                   cancelled_at=self.now)
        message = t("incident.cancelled", incident.language, user=user, number=incident.number)
        self._after_change(incident_id, message, pager="resolve", dm_key="incident.page_dm_cancelled", actor=user)
        channel, ts = store.confirmation_of(self.services.factory, incident_id)
        if channel and ts:
            self._update_safely(channel, ts, render.closed_confirmation_blocks(self.load(incident_id),
                                                                               incident.language, message))
        return self.load(incident_id)

    def set_severity(self, incident_id: int, severity: str, user: str) -> Incident:
        incident = self._authorized(incident_id, user, "severity")
        lang = self._reader(user, incident)
        if severity not in self.severity_names():
            raise Refused(t("incident.unknown_severity", lang, severity=severity,
                            known=", ".join(self.severity_names())))
        if incident.closed:
            raise Refused(self._status_refusal("incident.closed_already", incident, user))
        if severity == incident.severity:
            return incident
        with self.services.factory.begin() as session:
            session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(severity=severity))
            store.add_event(session, incident_id, TimelineEntry(
                self.now, "severity", user, f"severity {incident.severity} -> {severity}",
                {"old": incident.severity, "new": severity}))
            audit(session, self.now, user, "incident.severity", f"incident:{incident_id}", old=incident.severity,
                  new=severity)
        self._after_change(incident_id, t("incident.severity_changed", incident.language, user=user,
                                          number=incident.number, old=incident.severity, new=severity),
                           stop_paging=False)
        if incident.status == "open" and escalation.next_scheduled(self.services, incident_id) is None \
                and not any(e.kind in {"paged", "page_failed"} for e in incident.timeline):
            escalation.start(self.services, incident_id, severity)
        return self.load(incident_id)

    def note(self, incident_id: int, user: str, text: str, key: str | None = None, kind: str = "note") -> bool:
        """Anyone may add to the timeline (notes and 📌 record, they change nothing)."""
        incident = self.load(incident_id, reader=user)
        return store.log_event(self.services.factory, incident.id, TimelineEntry(self.now, kind, user, text[:2000]),
                               key=key)

    def escalate(self, incident_id: int, user: str) -> Incident:
        incident = self._authorized(incident_id, user, "escalate")
        if incident.status != "open":
            raise Refused(self._status_refusal("incident.already_acknowledged", incident, user))
        with self.services.factory.begin() as session:
            audit(session, self.now, user, "incident.escalate", f"incident:{incident_id}")
        escalation.escalate_now(self.services, incident_id, user)
        return self.load(incident_id)

    # Who may act --------------------------------------------------------------------------------
    def _authorized(self, incident_id: int, user: str, action: str) -> Incident:
        """Load the incident and check `user` may do `action` to it (one check for every change)."""
        incident = self.load(incident_id, reader=user)
        lang = self._reader(user, incident)
        try:
            self.services.permissions.require(user, action, t("incident.target", lang, number=incident.number),
                                              self.audience(incident, action, lang), lang)
        except Denied as exc:
            raise NotAllowed(str(exc)) from None
        return incident

    def audience(self, incident: Incident, action: str, lang: str) -> Audience:
        """Undo is the reporter's; every other change belongs to the responders and the team's user group."""
        if action == "undo":
            return Audience(people=frozenset({incident.reporter}),
                            description=t("permissions.reporter", lang))
        return Audience(people=frozenset(self.responders(incident)), teams=(incident.team,),
                        description=t("permissions.responders", lang))

    def responders(self, incident: Incident) -> set[str]:
        """The snapshotted chain, the commander, the acknowledger and the reporter."""
        chain = store.chain_of(self.services.factory, incident.id)
        people = {step["user"] for step in chain.get("steps", []) if not step["user"].startswith("?")}
        people |= {incident.commander, incident.acknowledged_by, incident.reporter}
        return {p for p in people if p}

    def _reader(self, user: str | None, incident: Incident) -> str:
        return self.reader_language(user, incident.language)

    def _status_refusal(self, key: str, incident: Incident, user: str) -> str:
        lang = self._reader(user, incident)
        current = self.load(incident.id)
        return t(key, lang, number=incident.number, status=render.status_name(current.status, lang))

    # Helpers -----------------------------------------------------------------------------------
    def load(self, incident_id: int, reader: str | None = None) -> Incident:
        incident = store.load(self.services.factory, incident_id)
        if incident is None:
            lang = self.reader_language(reader, self.services.config.defaults.language)
            raise Refused(t("incident.unknown_incident", lang, number=incident_id))
        return incident

    def team_zone(self, team: str) -> str:
        found = self.services.config.team_named(team)
        return found.timezone if found else self.services.config.defaults.timezone

    def _transition_or_refuse(self, incident: Incident, allowed: tuple[str, ...], kind: str, user: str,
                              **values: Any) -> None:
        if not store.transition(self.services.factory, incident.id, allowed,
                                TimelineEntry(self.now, kind, user, kind, {}), **values):
            raise Refused(self._status_refusal("incident.closed_already", incident, user))

    def _after_change(self, incident_id: int, message: str, dm_key: str | None = None, actor: str | None = None,
                      pager: str | None = None, stop_paging: bool = True) -> None:
        incident = self.load(incident_id)
        if stop_paging:
            for channel, ts, paged in escalation.stop(self.services, incident_id):
                if dm_key:
                    lang = self._reader(paged, incident)
                    self._update_safely(channel, ts, [render.section(t(dm_key, lang, number=incident.number,
                                                                       user=actor or ""))])
        self.post_quietly(incident, message)
        self.refresh_summary(incident)
        if pager:
            self.pagerduty(incident, pager)

    def refresh_summary(self, incident: Incident) -> None:
        if incident.channel_id and incident.summary_ts:
            self._update_safely(incident.channel_id, incident.summary_ts, self.summary(incident))

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
            self._post_safely(channel, [render.section(text)], thread, loud=loud)

    def invite_quietly(self, incident: Incident, users: list[str]) -> None:
        if incident.channel_id and incident.thread_ts is None:
            self._invite_safely(incident.channel_id, users)

    def pagerduty(self, incident: Incident, action: str) -> None:
        pager = self.services.pager
        if pager is None:
            return
        try:
            pager.send(action, incident.id, summary=f"#{incident.number} {incident.title}",  # type: ignore[arg-type]
                            severity=incident.severity, link=incident.origin_link)
        except BackendError as exc:
            log.warning("PagerDuty %s for incident %s failed: %s", action, incident.id, exc.reason)
            store.log_event(self.services.factory, incident.id,
                            TimelineEntry(self.now, "page_failed", None, f"PagerDuty {action} failed: {exc.reason}",
                                          {"user": "PagerDuty", "tier": action, "reason": exc.reason}))

    def _post_safely(self, channel: str, blocks: list[dict[str, Any]], thread_ts: str | None,
                     loud: bool = False) -> None:
        try:
            self.chat.post(channel, blocks, thread_ts=thread_ts, loud=loud)
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
