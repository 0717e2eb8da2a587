"""The incident desk: open, acknowledge, mitigate, resolve, cancel, re-rate and annotate incidents.

It decides and records; what it says goes through `IncidentNotices`, `IncidentSummary` and the process's
one `Notifier`, each best-effort after the state change is committed, so a Slack failure never loses
the incident. Paging is the `Escalator`'s.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Once, PagerAction
from bot.clients.slack_users import UserDirectory, is_user_id
from bot.clock import Clock
from bot.durations import format_duration
from bot.escape import unescape
from bot.i18n import t
from bot.incidents import render, store
from bot.incidents.escalation import Escalator
from bot.incidents.memory import resembling
from bot.incidents.model import Incident, Page, TimelineEntry
from bot.incidents.notices import IncidentNotices
from bot.incidents.stats import StatsReport, compute
from bot.incidents.summary import IncidentSummary
from bot.incidents.titles import clean_title, mentioned_users, slug
from bot.notify import Notifier
from bot.permissions import Audience, Denied, Permissions
from bot.render.time import local
from bot.retry import BackendError
from bot.settings import Config, Team
from bot.store.models import IncidentRow
from bot.store.repo import audit

log = logging.getLogger(__name__)
# An announcement claimed this long ago and still unfinished was left by a killed process: another takes it over.
ANNOUNCE_LEASE = timedelta(seconds=60)


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
    team: str | None = None  # the owning team when the channel does not say (an alert routed by its labels)
    alert_group: int | None = None  # the alert group it was opened from, when its message is not the origin


class Refused(Exception):
    """A request the desk won't carry out; the message is for the user."""


class NotAllowed(Refused):
    """The user may not change this incident; the message says who can."""


@dataclass
class IncidentDesk:
    config: Config
    factory: sessionmaker[Session]
    clock: Clock
    users: UserDirectory
    permissions: Permissions
    notifier: Notifier
    escalator: Escalator
    # Run after a new incident is announced (alerts attach, Kubernetes evidence, resembling incidents), in order;
    # each is best-effort: a failure is logged and the incident stands.
    opened: list[Callable[[Incident, OpenRequest], None]] = field(default_factory=list)

    @property
    def notices(self) -> IncidentNotices:
        return self.escalator.notices

    @property
    def summary(self) -> IncidentSummary:
        return self.escalator.summary

    @property
    def now(self) -> datetime:
        return self.clock.now()

    # Opening -----------------------------------------------------------------------------------
    def open(self, request: OpenRequest) -> tuple[Incident, bool]:
        """Open an incident for a message (or a command); one incident per message, ever."""
        config = self.config
        team = (config.team_named(request.team) if request.team else None) or config.team_for_channel(request.channel)
        similar = self._storm_twin(request)
        if similar is not None:
            self._ask_same_or_new(similar, request)
            return similar, False
        severity = request.severity or (config.incidents.degraded_severity if request.degraded
                                        else config.incidents.default_severity)
        title, unreadable = self._title(request, team)
        now = self.now
        chain = self.escalator.snapshot(team.name, now)
        row = IncidentRow(title=title, severity=severity, team=team.name, status="open", reporter=request.reporter,
                          language=team.language, source=request.source, origin_channel=request.channel,
                          origin_ts=request.message_ts, origin_thread_ts=request.thread_ts, chain=chain.to_json(),
                          created_at=now, announce_claimed_at=now)
        incident_id, created = store.insert(self.factory, row, f"opened from {request.source}")
        if created:
            self._announce(incident_id, request, unreadable, resumed=False)
        elif store.claim_announcement(self.factory, incident_id, now, ANNOUNCE_LEASE):
            self._announce(incident_id, request, None, resumed=True)  # the opener was killed mid-announcement
        return self.load(incident_id), created

    def resume_announcements(self) -> int:
        """Finish announcing the incidents whose opener was killed mid-way (the leader's job); how many."""
        now = self.now
        resumed = 0
        for incident_id in store.unannounced(self.factory, now - ANNOUNCE_LEASE):
            if store.claim_announcement(self.factory, incident_id, now, ANNOUNCE_LEASE):
                incident = self.load(incident_id)
                log.warning("incident %s: resuming its announcement, left unfinished", incident_id)
                self._announce(incident_id, self._request_of(incident), None, resumed=True)
                resumed += 1
        return resumed

    def _request_of(self, incident: Incident) -> OpenRequest:
        emoji = next(("".join(c.emoji) for c in self.config.emoji.combos if c.action == "open_incident"), "")
        return OpenRequest(reporter=incident.reporter, source=incident.source, channel=incident.origin_channel,
                           message_ts=incident.origin_ts, thread_ts=incident.origin_thread_ts, emoji=emoji,
                           team=incident.team)

    def _after_open(self, incident_id: int, request: OpenRequest) -> None:
        for hook in self.opened:
            try:
                hook(self.load(incident_id), request)
            except Exception:
                log.exception("after opening incident %s: %s failed", incident_id, getattr(hook, "__name__", hook))

    def show_resembling(self, incident: Incident, request: OpenRequest) -> None:
        """Up to 3 past incidents of the team like this one, with how they were resolved (an `opened` hook)."""
        blocks = render.resembling_blocks(resembling(self.factory, incident, {}), incident.language)
        if blocks:
            self.notices.blocks_in_incident(incident, blocks)

    def _title(self, request: OpenRequest, team: Team) -> tuple[str, str | None]:
        limit = self.config.incidents.title_max_chars
        text, unreadable = request.title or request.text, None
        if text is None and request.channel and request.message_ts:
            try:
                text = self.notifier.chat.message(request.channel, request.message_ts).text
            except BackendError as exc:
                unreadable = exc.explain(team.language)
        names = {u: self.users.get(u).name for u in mentioned_users(text or "")}
        title = clean_title(text or "", names, limit)
        if not title:
            title = t("incident.placeholder_title", team.language, channel=request.channel or "?")
        if request.degraded:
            title = unescape(t("incident.degraded_title", team.language, title=title))[:limit + 12]
        return title, unreadable

    def _storm_twin(self, request: OpenRequest) -> Incident | None:
        """An incident opened from this channel moments ago, when a new 🔥💥 is likely the same fire."""
        window = self.config.incidents.storm_window
        if request.force or request.source not in {"reaction", "text"} or not request.channel or not window:
            return None
        return store.recent_in_channel(self.factory, request.channel, self.now - window,
                                       exclude_ts=request.message_ts)

    def _ask_same_or_new(self, similar: Incident, request: OpenRequest) -> None:
        lang = self.users.language(request.reporter, similar.language)
        ago = format_duration(self.now - similar.created_at)
        blocks = render.same_or_new_blocks(similar, lang, ago, {
            "reporter": request.reporter, "channel": request.channel, "ts": request.message_ts,
            "thread_ts": request.thread_ts, "emoji": request.emoji, "degraded": request.degraded,
            "source": request.source})
        self.notifier.ephemeral(request.channel or "", request.reporter, blocks,
                                thread_ts=request.thread_ts or request.message_ts)

    def join(self, incident_id: int, user: str, channel: str, ts: str | None) -> Incident:
        """The reporter of a second 🔥💥 says it is the same fire: link the message, invite them, page no one."""
        incident = self.load(incident_id)
        link = self.notifier.chat.permalink(channel, ts) if ts else None
        store.log_event(self.factory, incident.id,
                        TimelineEntry(self.now, "joined", user, f"reported again: {link or channel}",
                                      {"link": link or ""}), key=f"join:{channel}:{ts}")
        self.notices.invite(incident, [user])
        self.notices.in_incident(incident, t("incident.joined", incident.language, user=user, number=incident.number,
                                      link=link or ""))
        return incident

    def _announce(self, incident_id: int, request: OpenRequest, unreadable: str | None, resumed: bool) -> None:
        """Channel first, then the page (what matters most), then the confirmation and the pinned summary, then the
        `opened` hooks. Each step is skipped once done, and a resumed announcement (its first try was killed) finds
        what Slack already made instead of making it twice."""
        earlier = self.load(incident_id).created_at if resumed else None
        notes = self._place(incident_id, request, resumed)
        incident = self.load(incident_id)
        if unreadable:
            notes.insert(0, t("incident.unreadable_message", incident.language, reason=unreadable))
        own_channel = incident.channel_id is not None and incident.channel_id != incident.origin_channel
        page_first = own_channel or incident.thread_ts is not None  # else the confirmation becomes the thread
        if page_first:
            self._start_paging(incident_id)
        self._confirm(incident, request, notes, Once(f"confirm:{incident_id}", earlier))
        if not page_first:
            self._start_paging(incident_id)
        incident = self.load(incident_id)
        if own_channel or incident.thread_ts is not None:
            self.summary.post(incident, Once(f"summary:{incident_id}", earlier))
        store.set_fields(self.factory, incident_id, announced_at=self.now)
        self._after_open(incident_id, request)

    def _place(self, incident_id: int, request: OpenRequest, resumed: bool) -> list[str]:
        """Where the incident runs: its own channel, else the origin message's thread. Notes for the confirmation
        on why not its own channel (none when an earlier try placed it already)."""
        incident = self.load(incident_id)
        if incident.channel_id is not None:
            return []
        channel, refusal = self._make_channel(incident, [request.reporter], resumed)
        thread = None if channel else (request.thread_ts or request.message_ts)
        fields: dict[str, Any] = {"channel_id": channel or request.channel, "thread_ts": thread}
        if request.channel and request.message_ts:
            fields["origin_link"] = self.notifier.chat.permalink(request.channel, request.message_ts)
        store.set_fields(self.factory, incident_id, **fields)
        return [t("incident.channel_refused", incident.language, reason=refusal)] if refusal else []

    def _confirm(self, incident: Incident, request: OpenRequest, notes: list[str], once: Once) -> None:
        """The confirmation where it was declared (unless already posted); with neither a channel nor a thread
        yet, it becomes the incident's thread."""
        if store.confirmation_of(self.factory, incident.id)[1] is not None:
            return
        source = self.summary.source_text(request.source, incident.language, request.emoji)
        anchor = self.summary.confirm(incident, request.thread_ts or request.message_ts, source, notes, once)
        if incident.channel_id in (None, incident.origin_channel) and incident.thread_ts is None and anchor:
            store.set_fields(self.factory, incident.id, thread_ts=anchor[1])

    def _start_paging(self, incident_id: int) -> None:
        """Warn of gaps in the chain and start paging, unless a killed announcement got that far already."""
        incident = self.load(incident_id)
        if self.escalator.has_steps(incident_id):
            return
        chain = store.chain_of(self.factory, incident_id)
        if chain.gaps and chain.pages(incident.severity):
            self.notices.to_team(incident, t("incident.gap_warning", incident.language, team=incident.team,
                                             tiers=", ".join(chain.gaps)))
        self.escalator.start(incident_id, incident.severity)

    def _make_channel(self, incident: Incident, invite: list[str], resumed: bool) -> tuple[str | None, str | None]:
        """A dedicated incident channel, or (None, why not) so the incident runs in the origin thread. Its name is
        written down first: a resumed announcement takes the channel of that name the bot already created."""
        config = self.config.incidents
        if not config.create_channel:
            return None, None
        date = f"{local(incident.created_at, self.team_zone(incident.team)):%Y%m%d}"
        name = config.channel_pattern.format(date=date, number=incident.number, slug=slug(incident.title),
                                             team=slug(incident.team))[:80]
        store.set_fields(self.factory, incident.id, channel_name=name.lower())
        try:
            channel = self.notifier.chat.create_channel(name.lower(), ours_if_taken=resumed)
        except BackendError as exc:
            log.info("could not create incident channel %s: %s", name, exc.reason)
            return None, exc.explain(incident.language)
        self.notifier.invite(channel, invite)
        return channel, None

    def severity_names(self) -> list[str]:
        return list(self.config.incidents.severities)

    # Lifecycle ---------------------------------------------------------------------------------
    def acknowledge(self, incident_id: int, user: str, via: str) -> Incident:
        incident = self._authorized(incident_id, user, "acknowledge")
        changed = store.transition(self.factory, incident_id, ("open",),
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
        window = self.config.incidents.undo_within
        if self.now - incident.created_at > window:
            raise Refused(t("incident.undo_too_late", self._reader(user, incident), number=incident.number,
                            window=format_duration(window)))
        self._transition_or_refuse(incident, store.OPEN_STATUSES, "cancelled", user, status="cancelled",
                                   cancelled_at=self.now)
        message = t("incident.cancelled", incident.language, user=user, number=incident.number)
        self._after_change(incident_id, message, pager="resolve", dm_key="incident.page_dm_cancelled", actor=user)
        self.summary.close_confirmation(self.load(incident_id), message)
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
        with self.factory.begin() as session:
            session.execute(update(IncidentRow).where(IncidentRow.id == incident_id).values(severity=severity))
            store.add_event(session, incident_id, TimelineEntry(
                self.now, "severity", user, f"severity {incident.severity} -> {severity}",
                {"old": incident.severity, "new": severity}))
            audit(session, self.now, user, "incident.severity", f"incident:{incident_id}", old=incident.severity,
                  new=severity)
        self._after_change(incident_id, t("incident.severity_changed", incident.language, user=user,
                                          number=incident.number, old=incident.severity, new=severity),
                           stop_paging=False)
        if incident.status == "open" and not self.escalator.has_paged(incident):
            self.escalator.start(incident_id, severity)  # the old severity paged no one; this one may
        return self.load(incident_id)

    def note(self, incident_id: int, user: str, text: str, key: str | None = None, kind: str = "note") -> bool:
        """Anyone may add to the timeline (notes and 📌 record, they change nothing)."""
        incident = self.load(incident_id, reader=user)
        return store.log_event(self.factory, incident.id, TimelineEntry(self.now, kind, user, text[:2000]),
                               key=key)

    def escalate(self, incident_id: int, user: str) -> Incident:
        incident = self._authorized(incident_id, user, "escalate")
        if incident.status != "open":
            raise Refused(self._status_refusal("incident.already_acknowledged", incident, user))
        with self.factory.begin() as session:
            audit(session, self.now, user, "incident.escalate", f"incident:{incident_id}")
        self.escalator.escalate_now(incident_id, user)
        return self.load(incident_id)

    # Who may act --------------------------------------------------------------------------------
    def _authorized(self, incident_id: int, user: str, action: str) -> Incident:
        """Load the incident and check `user` may do `action` to it (one check for every change)."""
        incident = self.load(incident_id, reader=user)
        lang = self._reader(user, incident)
        try:
            self.permissions.require(user, action, t("incident.target", lang, number=incident.number),
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
        people: set[str | None] = {*store.chain_of(self.factory, incident.id).people}
        people |= {incident.commander, incident.acknowledged_by, incident.reporter}
        return {p for p in people if p}

    def allows(self, incident: Incident, user: str, action: str) -> bool:
        """The same audience every change is checked against, asked without refusing (for reactions)."""
        return self.permissions.allows(user, self.audience(incident, action, incident.language))

    def _reader(self, user: str | None, incident: Incident) -> str:
        return self.users.language(user, incident.language)

    def _status_refusal(self, key: str, incident: Incident, user: str) -> str:
        lang = self._reader(user, incident)
        current = self.load(incident.id)
        return t(key, lang, number=incident.number, status=render.status_name(current.status, lang))

    # Finding incidents ---------------------------------------------------------------------------
    def in_channel(self, channel: str) -> Incident | None:
        """The incident whose own channel this is."""
        return store.find_by_channel(self.factory, channel)

    def open_for_team(self, team: str) -> Incident | None:
        """The team's most recent incident that is not resolved or cancelled."""
        return store.latest_open(self.factory, team)

    def of_message(self, channel: str, ts: str) -> Incident | None:
        """The incident whose summary, confirmation, origin or page DM this message is."""
        return store.find_by_message(self.factory, channel, ts)

    def next_page(self, incident_id: int) -> Page | None:
        return self.escalator.next_page(incident_id)

    def stats(self, days: int, team: str | None, *, before: int = 0) -> StatsReport:
        """Counts and times to acknowledge/resolve over the last `days`, for one team or all; with `before`,
        over the `days` that ended `before` days ago (the digest's trend compares two weeks)."""
        until = self.now - timedelta(days=before)
        since = until - timedelta(days=days)
        return compute(store.in_period(self.factory, since, team), since, until, team)

    def open_incidents(self, team: str) -> list[Incident]:
        """The team's incidents not yet resolved or cancelled, oldest first."""
        return store.open_of_team(self.factory, team)

    def pin_message(self, channel: str, ts: str, user: str) -> Incident | None:
        """📌 in an incident channel copies the message onto the timeline, once per message."""
        incident = self.in_channel(channel)
        if incident is None:
            return None
        try:
            text = self.notifier.chat.message(channel, ts).text
        except BackendError as exc:
            text = f"(message {ts}: {exc.reason})"
        if self.note(incident.id, user, text, key=f"pin:{channel}:{ts}", kind="pinned"):
            self.notifier.ephemeral(channel, user, render.pinned_blocks(incident, incident.language))
        return incident

    # Helpers -----------------------------------------------------------------------------------
    def load(self, incident_id: int, reader: str | None = None) -> Incident:
        incident = store.load(self.factory, incident_id)
        if incident is None:
            lang = self.users.language(reader, self.config.defaults.language)
            raise Refused(t("incident.unknown_incident", lang, number=incident_id))
        return incident

    def team_zone(self, team: str) -> str:
        found = self.config.team_named(team)
        return found.timezone if found else self.config.defaults.timezone

    def _transition_or_refuse(self, incident: Incident, allowed: tuple[str, ...], kind: str, user: str,
                              **values: Any) -> None:
        if not store.transition(self.factory, incident.id, allowed,
                                TimelineEntry(self.now, kind, user, kind, {}), **values):
            raise Refused(self._status_refusal("incident.closed_already", incident, user))

    def _after_change(self, incident_id: int, message: str, dm_key: str | None = None, actor: str | None = None,
                      pager: PagerAction | None = None, stop_paging: bool = True) -> None:
        incident = self.load(incident_id)
        if stop_paging:
            for page in self.escalator.stop(incident_id):
                if dm_key and page.dm_channel and page.dm_ts:
                    lang = self._reader(page.user, incident)
                    self.notifier.update(page.dm_channel, page.dm_ts,
                                         render.page_answered_blocks(incident, lang, dm_key, actor or ""))
        self.notices.in_incident(incident, message)
        self.summary.refresh(incident)
        if pager:
            self.notices.pagerduty(incident, pager)

    def _attach_review(self, incident: Incident) -> None:
        from bot.incidents.postmortem import review_filename, review_markdown

        names = {u: self.users.get(u).name for u in {incident.reporter, *incident.responders} if is_user_id(u)}
        markdown = review_markdown(incident, names, incident.language, self.team_zone(incident.team))
        uploaded = self.notifier.upload(incident.channel_id or incident.origin_channel or "",
                                        review_filename(incident), markdown, title=review_filename(incident),
                                        thread_ts=incident.thread_ts,
                                        comment=t("incident.review_comment", incident.language,
                                                  number=incident.number))
        if not uploaded:
            self.notices.to_team(incident, f"```{markdown[:2900]}```")
