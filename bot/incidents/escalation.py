"""Paging and escalation: the chain is snapshotted at open; each page is a row the leader claims once.

Step k pages chain[k % n] (n tiers, gaps skipped). After n × (1 + repeat) pages nobody acknowledged,
one last `exhausted` step posts loudly in the team channel. A step is claimed by a conditional UPDATE
(`scheduled` → `sending`), so redeliveries, replicas and restarts never send it twice; a claim left
`sending` by a killed process is taken over after LEASE.

A page Slack cannot deliver right now (5xx, `service_unavailable`, connection errors) goes back to
`scheduled` with a jittered, capped backoff and is tried again until it is delivered, acknowledged or
the incident closes; the other tiers keep their own times. Only a page that can never be delivered
(an unknown user, a member that isn't a Slack user) fails and moves the chain on at once.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Once
from bot.clients.slack_users import UserDirectory, is_user_id
from bot.clock import Clock, aware
from bot.durations import format_duration
from bot.i18n import t
from bot.incidents import pages, store
from bot.incidents.model import ChainMember, ChainSnapshot, Incident, Page, TimelineEntry
from bot.incidents.notices import IncidentNotices
from bot.incidents.render import page_blocks, where
from bot.incidents.summary import IncidentSummary
from bot.metrics import PAGES, RETRIES
from bot.notify import Notifier
from bot.oncall.roster import chain_for
from bot.retry import BackendError
from bot.settings import Config

log = logging.getLogger(__name__)
PAGE_WORKERS = 8  # incidents whose pages go out at once
ON_TIME = timedelta(seconds=2)  # a page sent within this of its due time was sent by the tick on time


def window_start(due: datetime, now: datetime) -> datetime:
    """When the paged person's ack window starts: the page's due time if the tick sent it on time (so the next
    deadline falls on a tick, not one tick late), else now (a late page still gets a whole window)."""
    return due if timedelta(0) <= now - due <= ON_TIME else now


def retry_delay(attempts: int, cap: timedelta) -> timedelta:
    """Exponential (1 s, 2 s, 4 s …) with full jitter on the upper half, never longer than `cap`."""
    base = min(cap.total_seconds(), float(2 ** min(attempts, 16)))
    return timedelta(seconds=random.uniform(base / 2, base))


@dataclass
class Escalator:
    config: Config
    factory: sessionmaker[Session]
    clock: Clock
    users: UserDirectory
    notifier: Notifier
    notices: IncidentNotices
    summary: IncidentSummary
    _workers: ThreadPoolExecutor = field(init=False, repr=False, default_factory=lambda: ThreadPoolExecutor(
        max_workers=PAGE_WORKERS, thread_name_prefix="pages"))
    _in_flight: set[int] = field(init=False, repr=False, default_factory=set)  # incidents whose pages are going out
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    # The chain -------------------------------------------------------------------------------------
    def snapshot(self, team: str, now: datetime) -> ChainSnapshot:
        """Everything escalation needs, frozen at open: later config edits don't change a running incident."""
        chain = chain_for(self.config, self.factory, team, now)
        severities = self.config.incidents.severities
        return ChainSnapshot(
            configured=chain is not None,
            steps=tuple(ChainMember(s.tier, self.member_to_user(s.user)) for s in (chain.steps if chain else [])),
            gaps=tuple(chain.gaps) if chain else (),
            sla_seconds={name: s.ack_within.total_seconds() if s.ack_within else None
                         for name, s in severities.items()},
            page={name: s.page for name, s in severities.items()},
            repeat=self.config.incidents.repeat_last_tier,
        )

    def member_to_user(self, member: str) -> str:
        """Rotation members may be written as ids, emails or names; pages need Slack user ids."""
        if is_user_id(member):
            return member
        user = self.users.resolve(member)
        return user.id if user.found else f"?{member}"

    # Starting, stopping, hurrying ---------------------------------------------------------------------
    def start(self, incident_id: int, severity: str) -> None:
        chain = store.chain_of(self.factory, incident_id)
        if not chain.pages(severity):
            return
        now = self.clock.now()
        if self.notifier.pager is not None:
            pages.add(self.factory, incident_id, pages.PAGERDUTY_STEP, "pagerduty", now)
        self._schedule(incident_id, 0, chain, now)
        self.work_due(only_incident=incident_id)

    def stop(self, incident_id: int) -> list[Page]:
        """Cancel every page not yet sent; the pages already delivered come back so their DMs can be updated."""
        return pages.cancel_unsent(self.factory, incident_id)

    def escalate_now(self, incident_id: int, user: str) -> bool:
        """Send the next page now instead of waiting for the SLA."""
        now = self.clock.now()
        moved, last = pages.bring_forward(self.factory, incident_id, now, user)
        if not moved:
            chain = store.chain_of(self.factory, incident_id)
            if not chain.steps:
                return False
            self._schedule(incident_id, 0 if last is None else last + 1, chain, now, escalated_by=user)
        return self.work_due(only_incident=incident_id) > 0

    def next_page(self, incident_id: int) -> Page | None:
        return pages.next_scheduled(self.factory, incident_id)

    def first_page(self, incident_id: int) -> Page | None:
        return pages.first_page(self.factory, incident_id)

    def has_steps(self, incident_id: int) -> bool:
        """Paging was started for this incident (some step exists, whatever its state)."""
        return pages.exists(self.factory, incident_id)

    def has_paged(self, incident: Incident) -> bool:
        """Paging ran for this incident already (a page waits, went out, or failed)."""
        return self.next_page(incident.id) is not None or any(e.kind in {"paged", "page_failed"}
                                                              for e in incident.timeline)

    def _schedule(self, incident_id: int, step: int, chain: ChainSnapshot, due: datetime,
                  escalated_by: str | None = None) -> None:
        total = len(chain.steps) * (1 + chain.repeat)
        if step > total:
            return
        if step == total:
            pages.add(self.factory, incident_id, step, "exhausted", due, escalated_by=escalated_by)
            return
        member = chain.steps[step % len(chain.steps)]
        pages.add(self.factory, incident_id, step, "page", due, member.tier, member.user, escalated_by)

    # Working the due pages ------------------------------------------------------------------------
    def work_due(self, only_incident: int | None = None, rounds: int = 10) -> int:
        """Send every page whose time has come (and those a failed page made due). Run each second by the leader."""
        sent = 0
        for _ in range(rounds):
            now = self.clock.now()
            claimed = [step_id for step_id in pages.due(self.factory, now, only_incident)
                       if pages.claim(self.factory, step_id, now)]
            sent += sum(1 for step_id in claimed if self._process(step_id))
            if not claimed:
                break
        if sent:
            log.info("escalation: %d page(s) or announcement(s) sent", sent)
        return sent

    def dispatch_due(self) -> int:
        """The leader's tick: claim what is due and send it on the page workers, one incident per worker, and return
        at once; so one incident's slow Slack (a paced channel, a retry) never holds another's page past its time."""
        now = self.clock.now()
        with self._lock:
            busy = set(self._in_flight)
        claimed: dict[int, list[int]] = defaultdict(list)
        for step_id in pages.due(self.factory, now):
            step = pages.get(self.factory, step_id)
            if step is not None and step.incident_id not in busy and pages.claim(self.factory, step_id, now):
                claimed[step.incident_id].append(step_id)
        for incident_id, steps in claimed.items():
            with self._lock:
                self._in_flight.add(incident_id)
            self._workers.submit(self._process_steps, incident_id, steps)
        return sum(len(steps) for steps in claimed.values())

    def _process_steps(self, incident_id: int, steps: list[int]) -> None:
        try:
            sent = sum(1 for step_id in steps if self._process(step_id))
            if sent:
                log.info("escalation: %d page(s) or announcement(s) sent for incident %s", sent, incident_id)
        except Exception:  # a bug in one incident's step must not stop the worker; the step's lease frees it later
            log.exception("escalation of incident %s failed", incident_id)
        finally:
            with self._lock:
                self._in_flight.discard(incident_id)

    def _process(self, step_id: int) -> bool:
        step = pages.get(self.factory, step_id)
        incident = store.load(self.factory, step.incident_id) if step else None
        if step is None or incident is None or incident.status != "open":
            pages.finish(self.factory, step_id, status="cancelled")
            return False
        chain = store.chain_of(self.factory, incident.id)
        if step.kind == "exhausted":
            self._announce_exhausted(incident, chain)
            pages.finish(self.factory, step_id, status="sent", sent_at=self.clock.now())
            return True
        if step.kind == "pagerduty":
            self._trigger_pagerduty(incident, step)
            return True
        sla = chain.sla_for(incident.severity)
        if sla is not None:
            # Schedule the next step before paging, so a crash mid-page can't break the chain.
            self._schedule(incident.id, step.step + 1, chain, window_start(aware(step.due_at), self.clock.now()) + sla)
        outcome = self._page(incident, step, chain)
        PAGES.labels(outcome).inc()
        starts_round = (step.step + 1) % len(chain.steps) == 0
        if outcome == "failed" and sla is not None and not starts_round:
            pages.move_due(self.factory, incident.id, step.step + 1, self.clock.now())  # next tier at once
        if outcome == "sent" and sla is not None and step.attempts:
            # Delivered late (Slack was down): the person paged gets a whole ack window from now.
            pages.move_due(self.factory, incident.id, step.step + 1, self.clock.now() + sla, later_only=True)
        return outcome == "sent"

    def _page(self, incident: Incident, step: Page, chain: ChainSnapshot) -> str:
        """Send one page: "sent", "retrying" (Slack is having trouble) or "failed" (this person can't be paged)."""
        lang = self.users.language(step.user, incident.language)
        sla = chain.sla_for(incident.severity)
        sla_text = format_duration(sla) if sla else None
        try:
            if step.user.startswith("?"):
                raise BackendError("slack", "unresolved_member")
            dm_channel, dm_ts = self.notifier.dm(step.user, page_blocks(incident, lang, step.tier, sla_text),
                                                 attempts=2, once=Once(f"page:{step.id}", step.earlier_send))
        except BackendError as exc:
            if exc.transient:
                self._page_retrying(incident, step, exc.explain(incident.language))
                return "retrying"
            reason = exc.reason if exc.reason == "unresolved_member" else exc.explain(incident.language)
            self._page_failed(incident, step, reason)
            return "failed"
        pages.finish(self.factory, step.id, status="sent", sent_at=self.clock.now(), dm_channel=dm_channel,
                     dm_ts=dm_ts, error=None)
        self._announce_page(incident, step, sla_text)
        if step.attempts:
            self.summary.page_delivered_late(incident.id)
        return "sent"

    def _announce_page(self, incident: Incident, step: Page, sla_text: str | None) -> None:
        user, lang = step.user, incident.language
        kind = "paged" if step.step == 0 else "escalated"
        params = {"user": user, "tier": step.tier, "by": step.escalated_by, "attempts": step.attempts + 1}
        store.log_event(self.factory, incident.id, TimelineEntry(self.clock.now(), kind, step.escalated_by,
                                                                 f"paged {user} ({step.tier})", params))
        if step.step == 0:
            text = t("incident.page_mention", lang, user=user, tier=step.tier, number=incident.number)
        elif step.escalated_by:
            text = t("incident.escalated_by_hand", lang, by=step.escalated_by, number=incident.number, user=user,
                     tier=step.tier)
        else:
            text = t("incident.escalated", lang, sla=sla_text or "—", number=incident.number, user=user,
                     tier=step.tier)
        self.notices.in_incident(incident, text)
        if step.step == 0:
            self.notices.invite(incident, [user])

    def _retry_later(self, step: Page, reason: str) -> None:
        """Slack (or PagerDuty) is having trouble: keep the step, try again soon, leave other tiers alone."""
        RETRIES.labels("page").inc()
        pages.finish(self.factory, step.id, status="scheduled", attempts=step.attempts + 1, error=reason[:255],
                     due_at=self.clock.now() + retry_delay(step.attempts, self.config.incidents.page_retry_max))

    def _page_retrying(self, incident: Incident, step: Page, reason: str) -> None:
        user = step.user.lstrip("?")
        log.warning("page for incident %s step %s to %s not delivered (attempt %d), retrying: %s",
                    incident.id, step.step, user, step.attempts + 1, reason)
        self._retry_later(step, reason)
        if step.attempts == 0:
            store.log_event(self.factory, incident.id, TimelineEntry(
                self.clock.now(), "page_retrying", None, f"page to {user} ({step.tier}) failed: {reason}, retrying",
                {"user": user, "tier": step.tier, "reason": reason}))
            self.summary.paging_changed(incident.id)

    def _page_failed(self, incident: Incident, step: Page, reason: str) -> None:
        user = step.user.lstrip("?")
        log.warning("page for incident %s step %s to %s failed: %s", incident.id, step.step, user, reason)
        pages.finish(self.factory, step.id, status="failed", error=reason[:255])
        store.log_event(self.factory, incident.id, TimelineEntry(self.clock.now(), "page_failed", None,
                                                                 f"page to {user} ({step.tier}) failed: {reason}",
                                                                 {"user": user, "tier": step.tier, "reason": reason}))
        key = "incident.page_failed_unresolved" if reason == "unresolved_member" else "incident.page_failed"
        self.notices.to_team(incident, t(key, incident.language, user=user, tier=step.tier, number=incident.number,
                                         reason=reason))
        self.summary.paging_changed(incident.id)

    def _trigger_pagerduty(self, incident: Incident, step: Page) -> None:
        """PagerDuty runs beside Slack, in its own thread, so neither waits for the other."""
        def send() -> None:
            try:
                sent = self.notifier.pagerduty("trigger", incident.id, summary=f"#{incident.number} {incident.title}",
                                               severity=incident.severity, link=incident.origin_link)
            except BackendError as exc:
                if exc.transient:
                    self._retry_later(step, exc.reason)
                else:
                    self._pagerduty_refused(incident, step, exc)
                return
            if sent:
                pages.finish(self.factory, step.id, status="sent", sent_at=self.clock.now())
            else:
                pages.finish(self.factory, step.id, status="cancelled")

        threading.Thread(target=send, name=f"pagerduty-{incident.id}", daemon=True).start()

    def _pagerduty_refused(self, incident: Incident, step: Page, exc: BackendError) -> None:
        """On the timeline, then said in the incident once (a `notices` row claimed first); the step fails only once
        it is said, so Slack refusing the post, or a restart before it, tries the step again instead of losing it."""
        log.warning("page for incident %s to PagerDuty failed: %s", incident.id, exc.reason)
        store.log_event(self.factory, incident.id, TimelineEntry(
            self.clock.now(), "page_failed", None, f"PagerDuty trigger failed: {exc.reason}",
            {"user": "PagerDuty", "tier": "", "reason": exc.reason}), key=f"pagerduty_refused:{step.id}")
        text = t("incident.pagerduty_not_triggered", incident.language, number=incident.number,
                 reason=exc.explain(incident.language))
        if self.notices.in_incident_once(incident, f"pagerduty_refused:{step.id}", text):
            pages.finish(self.factory, step.id, status="failed", error=exc.reason[:255])
            PAGES.labels("failed").inc()  # BotPagesFailing: the runbook names a refused trigger
        else:
            self._retry_later(step, exc.reason)

    def _announce_exhausted(self, incident: Incident, chain: ChainSnapshot) -> None:
        rounds = 1 + chain.repeat
        store.log_event(self.factory, incident.id, TimelineEntry(self.clock.now(), "exhausted", None,
                                                                 f"not acknowledged after {rounds} round(s)",
                                                                 {"rounds": rounds}))
        self.notices.to_team(incident, t("incident.exhausted", incident.language, number=incident.number,
                                         severity=incident.severity, title=incident.title, rounds=rounds,
                                         where=where(incident)), loud=True)
