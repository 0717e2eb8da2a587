"""Scheduled jobs. APScheduler persists jobs by reference, so these are plain module functions
that reach the running process's services through `bind()`."""

from __future__ import annotations

import logging
from datetime import timedelta

from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import JobSpec
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
    removed = repo.forget_old_events(services.factory, services.clock.now() - timedelta(days=2))
    log.info("forgot %d Slack event id(s) older than 2 days", removed)


def work_escalations() -> None:
    from bot.incidents.escalation import work_due

    work_due(_bound())


def job_specs(services: Services) -> list[JobSpec]:
    return [
        JobSpec("forget-old-events", "handlers.jobs:forget_old_events", IntervalTrigger(hours=6)),
        JobSpec("work-escalations", "handlers.jobs:work_escalations", IntervalTrigger(seconds=1)),
    ]
