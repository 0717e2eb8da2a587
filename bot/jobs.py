"""Scheduled jobs the leader runs. APScheduler persists jobs by reference, so these are plain module
functions that reach the running process's services through `bind()`."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import BotScheduler, JobSpec, leader_lock_for
from bot.services import Services
from bot.store import repo

log = logging.getLogger(__name__)
_services: Services | None = None


def bind(services: Services) -> None:
    global _services
    _services = services


def _bound() -> Services:
    if _services is None:
        raise RuntimeError("jobs ran before bind(services)")
    return _services


def forget_old_events() -> None:
    services = _bound()
    removed = repo.forget_old_events(services.sessions, services.clock.now() - timedelta(days=2))
    log.info("forgot %d Slack event id(s) older than 2 days", removed)


def work_escalations() -> None:
    _bound().escalation.work_due()


def deliver_alerts() -> None:
    _bound().alerts.deliver(wait=False)


def job_specs(services: Services) -> list[JobSpec]:
    return [
        JobSpec("forget-old-events", "bot.jobs:forget_old_events", IntervalTrigger(hours=6)),
        JobSpec("work-escalations", "bot.jobs:work_escalations", IntervalTrigger(seconds=1)),
        JobSpec("deliver-alerts", "bot.jobs:deliver_alerts", IntervalTrigger(seconds=1)),
    ]


def start_scheduler(services: Services) -> BotScheduler:
    """The leader-elected scheduler, running these jobs against `services`."""
    bind(services)
    scheduler = BotScheduler(services.engine, leader_lock_for(services.engine), lambda: job_specs(services))
    scheduler.start()
    return scheduler
