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
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update

from bot.durations import format_duration
from bot.i18n import normalise_language, t
from bot.incidents import store
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.render import page_blocks, where
from bot.metrics import RETRIES
from bot.oncall.roster import chain_for
from bot.retry import BackendError
from bot.services import Services
from bot.store import repo
from bot.store.models import EscalationStep

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
PAGERDUTY_STEP = -1  # the PagerDuty trigger: a row like any page, but never part of the Slack chain


def snapshot(services: Services, team: str, now: datetime) -> dict[str, Any]:
    """Everything escalation needs, frozen at open: later config edits don't change a running incident."""
    chain = chain_for(services.config, services.factory, team, now)
    severities = services.config.incidents.severities
    return {
        "configured": chain is not None,
        "steps": [{"tier": s.tier, "user": member_to_user(services, s.user)} for s in (chain.steps if chain else [])],
        "gaps": list(chain.gaps) if chain else [],
        "sla": {name: s.ack_within.total_seconds() if s.ack_within else None for name, s in severities.items()},
        "page": {name: s.page for name, s in severities.items()},
        "repeat": services.config.incidents.repeat_last_tier,
    }


def member_to_user(services: Services, member: str) -> str:
    """Rotation members may be written as ids, emails or names; pages need Slack user ids."""
    if member[:1] in {"U", "W"} and member.isalnum() and member.isupper():
        return member
    user = services.users.resolve(member)
    return user.id if user.found else f"?{member}"


def pages(chain: dict[str, Any], severity: str) -> bool:
    return bool(chain.get("steps")) and bool(chain.get("page", {}).get(severity, True))


def sla_for(chain: dict[str, Any], severity: str) -> timedelta | None:
    seconds = chain.get("sla", {}).get(severity)
    return timedelta(seconds=seconds) if seconds else None


def start(services: Services, incident_id: int, severity: str) -> None:
    chain = store.chain_of(services.factory, incident_id)
    if not pages(chain, severity):
        return
    now = services.clock.now()
    if services.pager is not None:
        repo.claim(services.factory, EscalationStep(incident_id=incident_id, step=PAGERDUTY_STEP, kind="pagerduty",
                                                    due_at=now, status="scheduled"))
    schedule(services, incident_id, 0, chain, now)
    work_due(services, only_incident=incident_id)


def schedule(services: Services, incident_id: int, step: int, chain: dict[str, Any], due: datetime,
             escalated_by: str | None = None) -> None:
    steps = chain["steps"]
    total = len(steps) * (1 + int(chain.get("repeat", 0)))
    if step > total:
        return
    kind, tier, user = ("exhausted", "", None) if step == total else \
        ("page", steps[step % len(steps)]["tier"], steps[step % len(steps)]["user"])
    repo.claim(services.factory, EscalationStep(incident_id=incident_id, step=step, kind=kind, tier=tier,
                                                user_id=user, due_at=due, status="scheduled",
                                                escalated_by=escalated_by))


def work_due(services: Services, only_incident: int | None = None, rounds: int = 10) -> int:
    """Send every page whose time has come (and those a failed page made due). Run each second by the leader."""
    sent = 0
    for _ in range(rounds):
        done, claimed = _work_once(services, only_incident)
        sent += done
        if not claimed:
            break
    if sent:
        log.info("escalation: %d page(s) or announcement(s) sent", sent)
    return sent


def _work_once(services: Services, only_incident: int | None) -> tuple[int, int]:
    now = services.clock.now()
    with services.factory() as session:
        query = select(EscalationStep.id).where(or_(
            (EscalationStep.status == "scheduled") & (EscalationStep.due_at <= now),
            (EscalationStep.status == "sending") & (EscalationStep.claimed_at < now - LEASE)))
        if only_incident is not None:
            query = query.where(EscalationStep.incident_id == only_incident)
        due = list(session.scalars(query.order_by(EscalationStep.due_at, EscalationStep.step).limit(100)))
    claimed = [step_id for step_id in due if _claim(services, step_id, now)]
    return sum(1 for step_id in claimed if _process(services, step_id)), len(claimed)


def _claim(services: Services, step_id: int, now: datetime) -> bool:
    with services.factory.begin() as session:
        return bool(session.execute(update(EscalationStep).where(
            EscalationStep.id == step_id,
            or_(EscalationStep.status == "scheduled",
                (EscalationStep.status == "sending") & (EscalationStep.claimed_at < now - LEASE)),
        ).values(status="sending", claimed_at=now)).rowcount)


def _move_due(services: Services, incident_id: int, step: int, due: datetime, later_only: bool = False) -> None:
    condition = [EscalationStep.incident_id == incident_id, EscalationStep.step == step,
                 EscalationStep.status == "scheduled"]
    if later_only:
        condition.append(EscalationStep.due_at < due)
    with services.factory.begin() as session:
        session.execute(update(EscalationStep).where(*condition).values(due_at=due))


def _finish(services: Services, step_id: int, **values: Any) -> None:
    with services.factory.begin() as session:
        session.execute(update(EscalationStep).where(EscalationStep.id == step_id).values(**values))


def retry_delay(attempts: int, cap: timedelta) -> timedelta:
    """Exponential (1 s, 2 s, 4 s …) with full jitter on the upper half, never longer than `cap`."""
    base = min(cap.total_seconds(), float(2 ** min(attempts, 16)))
    return timedelta(seconds=random.uniform(base / 2, base))


def _retry_later(services: Services, step: EscalationStep, reason: str) -> None:
    """Slack (or PagerDuty) is having trouble: keep the step, try again soon, leave other tiers alone."""
    cap = services.config.incidents.page_retry_max
    RETRIES.labels("page").inc()
    _finish(services, step.id, status="scheduled", attempts=step.attempts + 1, error=reason[:255],
            due_at=services.clock.now() + retry_delay(step.attempts, cap))


def _process(services: Services, step_id: int) -> bool:
    with services.factory() as session:
        step = session.get(EscalationStep, step_id)
    incident = store.load(services.factory, step.incident_id) if step else None
    if step is None or incident is None or incident.status != "open":
        _finish(services, step_id, status="cancelled")
        return False
    chain = store.chain_of(services.factory, incident.id)
    if step.kind == "exhausted":
        _announce_exhausted(services, incident, chain)
        _finish(services, step_id, status="sent", sent_at=services.clock.now())
        return True
    if step.kind == "pagerduty":
        _trigger_pagerduty(services, incident, step)
        return True
    sla = sla_for(chain, incident.severity)
    if sla is not None:
        # Schedule the next step before paging, so a crash mid-page can't break the chain.
        schedule(services, incident.id, step.step + 1, chain, services.clock.now() + sla)
    outcome = _page(services, incident, step, chain)
    starts_round = (step.step + 1) % len(chain["steps"]) == 0
    if outcome == "failed" and sla is not None and not starts_round:
        _move_due(services, incident.id, step.step + 1, services.clock.now())  # next tier at once
    if outcome == "sent" and sla is not None and step.attempts:
        # Delivered late (Slack was down): the person paged gets a whole ack window from now.
        _move_due(services, incident.id, step.step + 1, services.clock.now() + sla, later_only=True)
    return outcome == "sent"


def _page(services: Services, incident: Incident, step: EscalationStep, chain: dict[str, Any]) -> str:
    """Send one page: "sent", "retrying" (Slack is having trouble) or "failed" (this person can't be paged)."""
    from bot.incidents.desk import desk_for

    desk = desk_for(services)
    user = step.user_id or ""
    lang = _reader_language(services, user, incident)
    sla = sla_for(chain, incident.severity)
    sla_text = format_duration(sla) if sla else None
    try:
        if user.startswith("?"):
            raise BackendError("slack", "unresolved_member")
        dm_channel, dm_ts = services.chat.dm(user, page_blocks(incident, lang, step.tier, sla_text), attempts=2)
    except BackendError as exc:
        if exc.transient:
            _page_retrying(services, desk, incident, step, exc.explain(incident.language))
            return "retrying"
        reason = exc.reason if exc.reason == "unresolved_member" else exc.explain(incident.language)
        _page_failed(services, desk, incident, step, reason)
        return "failed"
    now = services.clock.now()
    _finish(services, step.id, status="sent", sent_at=now, dm_channel=dm_channel, dm_ts=dm_ts, error=None)
    _announce_page(services, desk, incident, step, sla_text)
    if step.attempts:
        desk.page_delivered_late(incident.id)
    return "sent"


def _announce_page(services: Services, desk: Any, incident: Incident, step: EscalationStep,
                   sla_text: str | None) -> None:
    user, lang = step.user_id or "", incident.language
    kind = "paged" if step.step == 0 else "escalated"
    params = {"user": user, "tier": step.tier, "by": step.escalated_by, "attempts": step.attempts + 1}
    store.log_event(services.factory, incident.id, TimelineEntry(services.clock.now(), kind, step.escalated_by,
                                                                 f"paged {user} ({step.tier})", params))
    if step.step == 0:
        text = t("incident.page_mention", lang, user=user, tier=step.tier, number=incident.number)
    elif step.escalated_by:
        text = t("incident.escalated_by_hand", lang, by=step.escalated_by, number=incident.number, user=user,
                 tier=step.tier)
    else:
        text = t("incident.escalated", lang, sla=sla_text or "—", number=incident.number, user=user,
                 tier=step.tier)
    desk.post_quietly(incident, text)
    if step.step == 0:
        desk.invite_quietly(incident, [user])


def _reader_language(services: Services, user: str, incident: Incident) -> str:
    """Pages are read by the person paged: their Slack locale, else the incident's language."""
    if not user or user.startswith("?"):
        return incident.language
    return normalise_language(services.users.get(user).locale) or incident.language


def _page_retrying(services: Services, desk: Any, incident: Incident, step: EscalationStep, reason: str) -> None:
    user = (step.user_id or "").lstrip("?")
    log.warning("page for incident %s step %s to %s not delivered (attempt %d), retrying: %s",
                incident.id, step.step, user, step.attempts + 1, reason)
    _retry_later(services, step, reason)
    if step.attempts == 0:
        store.log_event(services.factory, incident.id, TimelineEntry(
            services.clock.now(), "page_retrying", None, f"page to {user} ({step.tier}) failed: {reason}, retrying",
            {"user": user, "tier": step.tier, "reason": reason}))
        desk.paging_changed(incident.id)


def _page_failed(services: Services, desk: Any, incident: Incident, step: EscalationStep, reason: str) -> None:
    user = (step.user_id or "").lstrip("?")
    log.warning("page for incident %s step %s to %s failed: %s", incident.id, step.step, user, reason)
    _finish(services, step.id, status="failed", error=reason[:255])
    store.log_event(services.factory, incident.id, TimelineEntry(services.clock.now(), "page_failed", None,
                                                                 f"page to {user} ({step.tier}) failed: {reason}",
                                                                 {"user": user, "tier": step.tier, "reason": reason}))
    key = "incident.page_failed_unresolved" if reason == "unresolved_member" else "incident.page_failed"
    desk.notify_team(incident, t(key, incident.language, user=user, tier=step.tier, number=incident.number,
                                 reason=reason))
    desk.paging_changed(incident.id)


def _trigger_pagerduty(services: Services, incident: Incident, step: EscalationStep) -> None:
    """PagerDuty runs beside Slack, in its own thread, so neither waits for the other."""
    def send() -> None:
        pager = services.pager
        if pager is None:
            _finish(services, step.id, status="cancelled")
            return
        try:
            pager.send("trigger", incident.id, summary=f"#{incident.number} {incident.title}",
                       severity=incident.severity, link=incident.origin_link)
        except BackendError as exc:
            if exc.transient:
                _retry_later(services, step, exc.reason)
                return
            _finish(services, step.id, status="failed", error=exc.reason[:255])
            store.log_event(services.factory, incident.id, TimelineEntry(
                services.clock.now(), "page_failed", None, f"PagerDuty trigger failed: {exc.reason}",
                {"user": "PagerDuty", "tier": "", "reason": exc.reason}))
            return
        _finish(services, step.id, status="sent", sent_at=services.clock.now())

    threading.Thread(target=send, name=f"pagerduty-{incident.id}", daemon=True).start()


def _announce_exhausted(services: Services, incident: Incident, chain: dict[str, Any]) -> None:
    from bot.incidents.desk import desk_for

    rounds = 1 + int(chain.get("repeat", 0))
    store.log_event(services.factory, incident.id, TimelineEntry(services.clock.now(), "exhausted", None,
                                                                 f"not acknowledged after {rounds} round(s)",
                                                                 {"rounds": rounds}))
    desk_for(services).notify_team(incident, t("incident.exhausted", incident.language, number=incident.number,
                                               severity=incident.severity, title=incident.title,
                                               rounds=rounds, where=where(incident)), loud=True)


def stop(services: Services, incident_id: int) -> list[tuple[str, str, str]]:
    """Cancel every page not yet sent; return the DMs already sent (channel, ts, user) so they can be updated."""
    with services.factory.begin() as session:
        session.execute(update(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled").values(status="cancelled"))
        rows = session.execute(select(EscalationStep.dm_channel, EscalationStep.dm_ts, EscalationStep.user_id).where(
            EscalationStep.incident_id == incident_id, EscalationStep.dm_ts.is_not(None))).all()
    return [(c, ts, user or "") for c, ts, user in rows]


def next_scheduled(services: Services, incident_id: int) -> EscalationStep | None:
    with services.factory() as session:
        return session.scalar(select(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled",
            EscalationStep.kind != "pagerduty").order_by(EscalationStep.step).limit(1))


def first_page(services: Services, incident_id: int) -> EscalationStep | None:
    """The 1st-line page (step 0): what the confirmation and the summary report."""
    with services.factory() as session:
        return session.scalar(select(EscalationStep).where(EscalationStep.incident_id == incident_id,
                                                           EscalationStep.step == 0))


def escalate_now(services: Services, incident_id: int, user: str) -> bool:
    """Send the next page now instead of waiting for the SLA."""
    now = services.clock.now()
    with services.factory.begin() as session:
        moved = session.execute(update(EscalationStep).where(
            EscalationStep.incident_id == incident_id, EscalationStep.status == "scheduled",
            EscalationStep.kind != "pagerduty").values(due_at=now, escalated_by=user)).rowcount
        last = session.scalar(select(EscalationStep.step).where(EscalationStep.incident_id == incident_id)
                              .order_by(EscalationStep.step.desc()).limit(1))
    if not moved:
        chain = store.chain_of(services.factory, incident_id)
        if not chain.get("steps"):
            return False
        schedule(services, incident_id, 0 if last is None else last + 1, chain, now, escalated_by=user)
    return work_due(services, only_incident=incident_id) > 0
