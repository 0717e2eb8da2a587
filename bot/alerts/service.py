"""Alerts as decisions: Alertmanager notifications → one durable Slack thread per group, incidents, quiet windows.

`receive` only writes: the alerts, the group's new state and the Slack side effects it causes (outbox rows),
in one transaction, then answers. `deliver` (the leader's worker) sends those rows; `tick` opens and closes
maintenance windows. Buttons and commands (silence, open an incident, quiet) check permission and audit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import maintenance, outbox, quality, render, store
from bot.alerts.model import AlertGroup, HeldSummary, Route, Window
from bot.alerts.outbox import Item, OutboxWorker, Outcome
from bot.alerts.parse import WebhookPayload, parse
from bot.alerts.routing import route
from bot.clients import ChatSender, SilenceSource
from bot.clock import Clock
from bot.durations import format_duration
from bot.evidence.model import FiringAlert
from bot.i18n import t
from bot.incidents.desk import IncidentDesk, OpenRequest, Refused
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.store import log_event
from bot.metrics import ALERTS_RECEIVED
from bot.permissions import Audience, Permissions
from bot.retry import BackendError
from bot.settings import Config, Team
from bot.store.repo import audit

log = logging.getLogger(__name__)


class AlertRefused(Exception):
    """A request about alerts the bot won't carry out; the message is for the user."""


def unknown_group(lang: str) -> AlertRefused:
    return AlertRefused(t("alerts.unknown_group", lang))


@dataclass(frozen=True)
class Silenced:
    group: AlertGroup
    until: datetime


class AlertService:
    def __init__(self, config: Config, factory: sessionmaker[Session], clock: Clock, chat: ChatSender,
                 incidents: IncidentDesk, permissions: Permissions, audience: Callable[[str, str], Audience],
                 silences: Callable[[], SilenceSource], bot_user: Callable[[], str],
                 reader: Callable[[str, str], str]) -> None:
        self.config = config
        self.factory = factory
        self.clock = clock
        self.chat = chat
        self.incidents = incidents
        self.permissions = permissions
        self.audience = audience  # (team, lang) → who may silence or quiet that team's alerts
        self.silences = silences  # raises BackendError when ALERTMANAGER_URL is not set
        self.bot_user = bot_user
        self.reader = reader  # (user, fallback) → the language that user reads: their Slack locale, else fallback
        self.worker = OutboxWorker(factory, clock, self._send)

    # Receiving ---------------------------------------------------------------------------------------
    def receive(self, body: Any) -> int:
        """The number of alerts stored; raises `parse.BadPayload` for a body that is not a v4 webhook."""
        payload = parse(body)
        destination = route({**payload.group_labels, **payload.common_labels}, self.config)
        try:
            self._record(payload, destination)
        except IntegrityError:  # another replica created the same new group a moment ago: it exists now
            self._record(payload, destination)
        ALERTS_RECEIVED.labels(payload.status).inc()
        return len(payload.alerts)

    def _record(self, payload: WebhookPayload, destination: Route) -> None:
        now = self.clock.now()
        with self.factory.begin() as session:
            change = store.apply(session, payload, destination, now, self.config.alerts.reopen_within)
            group = store.group_in(session, change.group_id, self._midnight)
            if group is None:
                return
            self._queue(session, change, group, now)

    def _queue(self, session: Session, change: store.Change, group: AlertGroup, now: datetime) -> None:
        channel = group.channel or ""
        if change.what == "new":
            windows = maintenance.active(session, self.config, now)
            if any(w.covers(group.team, store.namespaces_of(group)) for w in windows):
                store.set_held(session, group.id, True)
                return
            if channel:
                store.show(session, group)
                outbox.enqueue(session, "post", channel, now, group.id)
                if group.team:
                    outbox.enqueue(session, "correlate", channel, now, group.id, {"streak": change.streak_id})
            self._maybe_page(session, group, change.streak_id, now)
            return
        if group.held or not channel or (change.what == "same_streak_resolved" and not group.message_ts):
            return
        if not store.show(session, group):  # Alertmanager's repeat notification: nothing visible changed
            return
        outbox.enqueue(session, "update", channel, now, group.id)
        if change.what == "resolved" and group.streak and group.streak.resolved_at:
            took = (group.streak.resolved_at - group.streak.started_at).total_seconds()
            outbox.enqueue(session, "reply", channel, now, group.id, {"say": "recovered", "params": {"seconds": took}})
        elif change.what == "reopened":
            number = group.streak.number_today if group.streak else 1
            outbox.enqueue(session, "reply", channel, now, group.id,
                           {"say": "firing_again", "params": {"count": number}})
            self._maybe_page(session, group, change.streak_id, now)

    def _maybe_page(self, session: Session, group: AlertGroup, streak_id: int, now: datetime) -> None:
        team = self.config.team_named(group.team or "")
        page_on = team.page_on if team and team.page_on is not None else self.config.alerts.page_on
        if group.severity and group.severity in page_on:
            outbox.enqueue(session, "incident", group.channel or "", now, group.id, {"streak": streak_id})

    def _midnight(self, team_name: str | None) -> datetime:
        wall = self.clock.now().astimezone(ZoneInfo(self.team_zone(team_name)))
        return wall.replace(hour=0, minute=0, second=0, microsecond=0)

    # Delivering --------------------------------------------------------------------------------------
    def deliver(self, wait: bool = True) -> int:
        """Open and close quiet windows, then send the outbox rows that are due; with `wait`, the number sent
        (the leader's job does not wait: each channel drains on its own thread)."""
        self.tick()
        return self.worker.work(wait)

    def _send(self, item: Item) -> str:
        if item.group_id is None:
            return self._notice(item)
        group = store.load(self.factory, item.group_id, self._midnight)
        if group is None:
            return Outcome.SKIP
        if item.kind == "incident":
            return self._auto_incident(group, int(item.payload["streak"]))
        if item.kind == "correlate":
            return self._correlate(group, int(item.payload["streak"]))
        if group.held or not group.channel:
            return Outcome.SKIP
        if item.kind == "post" and not group.message_ts:
            ts = self.chat.post(group.channel, self.group_blocks(group), once=item.once())
            with self.factory.begin() as session:
                store.set_message(session, group.id, ts)
            return Outcome.SENT
        if not group.message_ts:
            return Outcome.WAIT if self._post_waiting(group.id) else Outcome.SKIP
        if item.kind in ("post", "update"):
            self.chat.update(group.channel, group.message_ts, self.group_blocks(group))
        else:
            lang = self.team_language(group.team)
            self.chat.post(group.channel, render.said_blocks(item.payload["say"], item.payload.get("params", {}),
                                                             lang), thread_ts=group.message_ts, once=item.once())
        return Outcome.SENT

    def _post_waiting(self, group_id: int) -> bool:
        return outbox.waiting(self.factory, group_id, "post")

    def _notice(self, item: Item) -> str:
        lang = str(item.payload.get("lang") or self.config.defaults.language)
        self.chat.post(item.channel, render.said_blocks(item.payload["say"], item.payload.get("params", {}), lang),
                       thread_ts=item.payload.get("thread_ts"), once=item.once())
        return Outcome.SENT

    def group_blocks(self, group: AlertGroup) -> list[dict[str, Any]]:
        lang, tz = self.team_language(group.team), self.team_zone(group.team)
        incident = self._incident_of(group)
        where = (incident.number, f"<#{incident.channel_id}>" if incident.channel_id else "") if incident else None
        return render.group_blocks(group, lang, tz, self.clock.now(), format_duration(self.config.alerts.silence_for),
                                   where)

    def _incident_of(self, group: AlertGroup) -> Incident | None:
        streak = group.streak
        if streak is None or not streak.incident_id or streak.incident_id < 0:
            return None
        try:
            return self.incidents.load(streak.incident_id)
        except Refused:  # the incident row is gone: show the alert without the link
            return None

    # Incidents from alerts ---------------------------------------------------------------------------
    def _auto_incident(self, group: AlertGroup, streak_id: int) -> str:
        """page_on: open an incident and page, once per group per firing streak."""
        if group.status != "firing" or group.held:
            return Outcome.SKIP
        if not store.claim_incident(self.factory, streak_id, paged=True):
            return Outcome.SKIP
        try:
            incident, _ = self.incidents.open(self._open_request(group, self.bot_user(), "alert"))
        except Exception:
            store.release_incident_claim(self.factory, streak_id)
            raise
        store.set_incident(self.factory, streak_id, incident.id)
        return Outcome.SENT

    def open_incident(self, group_id: int, user: str, lang: str) -> Incident:
        """The Open incident button: an incident from the alert, its team and severity from the alert; a refusal
        in `lang`, the clicker's."""
        group = self.group(group_id, lang)
        incident, _ = self.incidents.open(self._open_request(group, user, "alert_button"))
        return incident

    def _open_request(self, group: AlertGroup, reporter: str, source: str) -> OpenRequest:
        said = group.common_annotations.get("summary") or next(
            (a.annotations["summary"] for a in group.alerts if a.annotations.get("summary")), "")
        title = f"{group.alertname}: {said}" if said else group.alertname
        severity = self.config.alerts.severities.get(group.severity)
        return OpenRequest(reporter=reporter, source=source, channel=group.channel,
                           message_ts=group.message_ts, title=title or None, severity=severity, team=group.team,
                           alert_group=group.id, force=True)

    def attach(self, incident: Incident, request: OpenRequest) -> None:
        """After an incident opens: if it came from an alert (its message, or the button), put the alert in its
        timeline and link the incident from the alert's message."""
        group = store.load(self.factory, request.alert_group) if request.alert_group else None
        if group is None and request.channel and request.message_ts:
            group = store.by_message(self.factory, request.channel, request.message_ts)
        if group is None:
            return
        log_event(self.factory, incident.id, TimelineEntry(
            self.clock.now(), "alert", None, f"alert {group.alertname} attached",
            {"alertname": group.alertname, "labels": labels_of(group), "group": group.id}),
            key=f"alert:{incident.id}:{group.id}")
        if group.streak and group.streak.incident_id is None:
            store.claim_incident(self.factory, group.streak.id, paged=False)
            store.set_incident(self.factory, group.streak.id, incident.id)
        if group.message_ts and group.channel:
            with self.factory.begin() as session:
                outbox.enqueue(session, "update", group.channel, self.clock.now(), group.id)

    def labels_for(self, incident: Incident) -> dict[str, str]:
        """The labels of the alert attached to an incident (for evidence and resembling incidents)."""
        for entry in incident.timeline:
            if entry.kind == "alert" and entry.params and isinstance(entry.params.get("labels"), dict):
                return {str(k): str(v) for k, v in entry.params["labels"].items()}
        return {}

    def _correlate(self, group: AlertGroup, streak_id: int) -> str:
        """A new alert group for a team with an incident open: say so in the incident."""
        incident = self.incidents.open_for_team(group.team) if group.team else None
        if incident is None or (group.streak and group.streak.incident_id) or not group.message_ts:
            return Outcome.WAIT if group.message_ts is None and self._post_waiting(group.id) else Outcome.SKIP
        where = incident.channel_id or incident.origin_channel
        if not where or incident.origin_ts == group.message_ts:
            return Outcome.SKIP
        count, namespaces = store.alerts_since(self.factory, group.team or "", incident.created_at)
        link = self.chat.permalink(group.channel or "", group.message_ts) or ""
        self.chat.post(where, render.said_blocks("correlated", {
            "count": count, "namespace": ", ".join(sorted(namespaces)) or "—", "alertname": group.alertname,
            "link": render.safe_link(link, group.alertname) or group.alertname}, incident.language),
            thread_ts=incident.thread_ts)
        return Outcome.SENT

    # Buttons ------------------------------------------------------------------------------------------
    def group(self, group_id: int, lang: str) -> AlertGroup:
        """The group, or AlertRefused in `lang` (the asker's) when the bot no longer knows it."""
        found = store.load(self.factory, group_id, self._midnight)
        if found is None:
            raise unknown_group(lang)
        return found

    def of_message(self, channel: str, ts: str) -> AlertGroup | None:
        return store.by_message(self.factory, channel, ts)

    def silence(self, group_id: int, user: str, lang: str) -> Silenced:
        """A real Alertmanager silence matching the group's common labels, for `alerts.silence_for`."""
        group = self.group(group_id, lang)
        self.permissions.require(user, "silence", group.alertname, self.audience(group.team or "", lang), lang)
        matchers = labels_of(group)
        if not matchers:
            raise AlertRefused(t("alerts.silence_no_labels", lang))
        now = self.clock.now()
        until = now + self.config.alerts.silence_for
        silence_id = self.silences().create_silence(matchers, until, created_by=user,
                                                    comment=f"from Slack by {user} (emoji-ops)")
        store.set_silence(self.factory, group.id, silence_id, user, until)
        with self.factory.begin() as session:
            audit(session, now, user, "alerts.silence", group.alertname, silence=silence_id, matchers=matchers,
                  until=until.isoformat())
            if group.message_ts and group.channel:
                outbox.enqueue(session, "update", group.channel, now, group.id)
        return Silenced(self.group(group_id, lang), until)

    def mark_noisy(self, group_id: int, user: str, reason: str, tell: bool = False, lang: str | None = None) -> bool:
        """👎 or the Noisy button: recorded once per person per group (a second time updates the reason). What is
        said to `user` is in `lang`, else in the language they read (looked up only when something is said)."""
        group = store.load(self.factory, group_id, self._midnight)
        if group is None:
            raise unknown_group(lang or self.reader(user, self.config.defaults.language))
        first = quality.record_noisy(self.factory, group.id, user, reason, self.clock.now())
        with self.factory.begin() as session:
            audit(session, self.clock.now(), user, "alerts.noisy", group.alertname, reason=reason[:500])
        if tell and group.channel and group.message_ts:
            lang = lang or self.reader(user, self.team_language(group.team))
            try:
                self.chat.ephemeral(group.channel, user, render.said_blocks(
                    "noisy_recorded", {"alertname": group.alertname}, lang), thread_ts=None)
            except BackendError as exc:
                log.info("could not tell %s the noisy mark was recorded: %s", user, exc.reason)
        return first

    # Maintenance windows ---------------------------------------------------------------------------
    def quiet(self, target: str, duration: timedelta, reason: str, user: str, lang: str) -> Window:
        team = self.config.team_named(target)
        namespace = None if team else target
        owner = team.name if team else self._namespace_owner(target)
        self.permissions.require(user, "quiet", target, self.audience(owner or "", lang), lang)
        now = self.clock.now()
        window = maintenance.add(self.factory, f"command:{user}:{now.isoformat()}", team.name if team else None,
                                 namespace, now, now + duration, reason, user)
        if window is None:
            raise AlertRefused(t("alerts.quiet_exists", lang))
        with self.factory.begin() as session:
            audit(session, now, user, "alerts.quiet", target, until=window.ends_at.isoformat(), reason=reason)
        self.tick()
        return window

    def tick(self) -> None:
        """Open configured windows; announce starts; at ends, post what was held and still fires."""
        now = self.clock.now()
        maintenance.open_configured(self.factory, self.config, now)
        opened, closed = maintenance.to_announce(self.factory, now)
        for window in opened:
            if maintenance.claim_announcement(self.factory, window.id, "start"):
                self._announce(window, "quiet_started", {
                    "target": window.team or window.namespace or "", "reason": window.reason or "—",
                    "until": f"{window.ends_at.astimezone(ZoneInfo(self.team_zone(window.team))):%H:%M}"})
        for window in closed:
            if maintenance.claim_announcement(self.factory, window.id, "end"):
                held = self._release(window, now)
                self._announce(window, "quiet_ended", {"target": window.team or window.namespace or "",
                                                       "held": held.alerts, "firing": held.still_firing})

    def _release(self, window: Window, now: datetime) -> HeldSummary:
        alerts = firing = 0
        with self.factory.begin() as session:
            still_open = [w for w in maintenance.active(session, self.config, now) if w.id != window.id]
            for group in store.held_groups(session, window.team, window.namespace):
                if any(w.covers(group.team, store.namespaces_of(group)) for w in still_open):
                    continue
                alerts += len(group.alerts)
                firing += len(group.firing)
                store.set_held(session, group.id, False)
                if group.status == "firing" and group.channel:
                    outbox.enqueue(session, "post", group.channel, now, group.id)
                    if group.streak:
                        self._maybe_page(session, group, group.streak.id, now)
        return HeldSummary(alerts, firing)

    def _announce(self, window: Window, key: str, params: dict[str, Any]) -> None:
        owner = self.config.team_named(window.team or "") or self.config.team_named(
            self._namespace_owner(window.namespace or "") or "")
        channel = (owner.channel.lstrip("#") if owner and owner.channel else None) or self.config.alerts.default_channel
        if not channel:
            log.info("maintenance window %s: %s (no channel to say it in)", window.id, key)
            return
        with self.factory.begin() as session:
            outbox.enqueue(session, "notice", channel, self.clock.now(), None,
                           {"say": key, "params": params, "lang": owner.language if owner else None})

    def _namespace_owner(self, namespace: str) -> str | None:
        return next((team.name for team in self.config.teams if namespace in team.namespaces), None)

    # Reading ------------------------------------------------------------------------------------------
    def firing(self, team: str | None) -> list[AlertGroup]:
        return store.firing(self.factory, team)

    def firing_in(self, namespaces: list[str]) -> list[FiringAlert]:
        """Alerts firing now in these namespaces (for an incident's Kubernetes evidence)."""
        return [FiringAlert(a.labels.get("alertname", ""), a.labels.get("namespace", ""), a.labels.get("severity", ""),
                            a.starts_at or self.clock.now(), a.annotations.get("summary", ""))
                for a in store.firing_alerts(self.factory, namespaces)]

    def noisy(self, team: str | None, since: datetime) -> list[quality.NoisyAlert]:
        return quality.noisy_report(self.factory, team, since, self.clock.now())

    def team_language(self, team: str | None) -> str:
        found = self.config.team_named(team or "")
        return found.language if found else self.config.defaults.language

    def team_zone(self, team: str | None) -> str:
        found: Team | None = self.config.team_named(team or "")
        return found.timezone if found else self.config.defaults.timezone


def labels_of(group: AlertGroup) -> dict[str, str]:
    """The labels all of the group's alerts share (Alertmanager's commonLabels), for silences and matching."""
    return dict(group.common_labels)
