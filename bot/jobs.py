"""Scheduled jobs the leader runs. APScheduler persists jobs by reference, so these are plain module
functions that reach the running process's services through `bind()`."""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.interval import IntervalTrigger

from bot.config_types import crontab_trigger
from bot.metrics import EVENTS_REPLAYED
from bot.retry import BackendError
from bot.scheduler import BotScheduler, JobSpec, leader_lock_for
from bot.services import Services
from bot.store import inbox, repo

log = logging.getLogger(__name__)
REVIEW_TICK = 60  # seconds: held nudges, follow-ups, morning digests and reminders go out within a minute
DIGEST_TICK = 30  # seconds: a digest goes out within half a minute of its slot
FINISH_TICK = 10  # seconds: work a killed process left is taken over within this of its lease lapsing
SHUTDOWN_TICK = 30  # seconds: the warning and the stop land within half a minute of their time
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
    removed += inbox.forget(services.sessions, services.clock.now() - timedelta(days=2))
    log.info("forgot %d Slack event id(s) older than 2 days", removed)


def finish_unfinished() -> None:
    finish_unfinished_work(_bound())


def finish_unfinished_work(services: Services) -> None:
    """What a killed process left half-done: Slack events it acked but never finished, incidents it opened but
    never announced. Each is claimed again only once its lease lapsed, so a live process's work is left alone."""
    now = services.clock.now()
    for event_id in inbox.give_up(services.sessions, now):
        EVENTS_REPLAYED.labels("given_up").inc()
        log.error("gave up on Slack event %s: its work failed %d times", event_id, inbox.MAX_ATTEMPTS)
    if services.replay_event is not None:
        for body in inbox.unfinished(services.sessions, now):
            EVENTS_REPLAYED.labels("replayed").inc()
            log.warning("replaying Slack event %s, left unfinished", body.get("event_id"))
            services.replay_event(body)
    services.incidents.resume_announcements()


def work_escalations() -> None:
    _bound().escalation.dispatch_due()


def deliver_alerts() -> None:
    _bound().alerts.deliver(wait=False)


def check_idle_gpus() -> None:
    try:
        _bound().gpu_watch.check_idle()
    except BackendError as exc:  # the next check tries again; /gpu tells people what is wrong meanwhile
        log.warning("GPU idle check skipped: %s", exc)


def check_gpu_health() -> None:
    try:
        _bound().gpu_watch.check_health()
    except BackendError as exc:
        log.warning("GPU health check skipped: %s", exc)


def check_burn_rate() -> None:
    try:
        _bound().burn.check()
    except BackendError as exc:  # the next check tries again; /spend burn tells people what is wrong meanwhile
        log.warning("burn-rate check skipped: %s", exc)


def shutdown_tick() -> None:
    try:
        _bound().shutdown.tick()
    except BackendError as exc:  # the next tick (within LATE_LIMIT of the shutdown time) tries again
        log.warning("nightly shutdown tick failed: %s", exc)


def snapshot_report() -> None:
    try:
        _bound().snapshots.weekly()
    except BackendError as exc:
        log.warning("weekly snapshot report skipped: %s", exc)


def review_tick() -> None:
    services = _bound()
    try:
        services.nudges.deliver_due()
        services.review_digests.tick()
    except BackendError as exc:  # GitHub or Slack down: the rows wait, the next tick tries again
        log.warning("review tick stopped early: %s", exc)


def digest_tick() -> None:
    try:
        _bound().digests.tick()
    except BackendError as exc:  # Slack or the database down: the slot stays unclaimed, the next tick tries again
        log.warning("digest tick stopped early: %s", exc)


def job_specs(services: Services) -> list[JobSpec]:
    specs = [
        JobSpec("forget-old-events", "bot.jobs:forget_old_events", IntervalTrigger(hours=6)),
        JobSpec("work-escalations", "bot.jobs:work_escalations", IntervalTrigger(seconds=1)),
        JobSpec("finish-unfinished", "bot.jobs:finish_unfinished", IntervalTrigger(seconds=FINISH_TICK)),
        JobSpec("deliver-alerts", "bot.jobs:deliver_alerts", IntervalTrigger(seconds=1)),
    ]
    if services.prometheus_configured:  # without DCGM metrics there is nothing to check
        gpu = services.config.gpu
        specs += [JobSpec("gpu-idle-check", "bot.jobs:check_idle_gpus", IntervalTrigger(seconds=_seconds(
                      gpu.idle_check.every))),
                  JobSpec("gpu-health-check", "bot.jobs:check_gpu_health",
                          IntervalTrigger(seconds=_seconds(gpu.health_every)))]
    if services.aws_configured and any(team.cost_tag or team.instance_tags for team in services.config.teams):
        guards = services.config.cost_guards
        specs += [JobSpec("burn-rate-check", "bot.jobs:check_burn_rate",
                          IntervalTrigger(seconds=_seconds(guards.burn.every))),
                  JobSpec("shutdown-tick", "bot.jobs:shutdown_tick", IntervalTrigger(seconds=SHUTDOWN_TICK)),
                  JobSpec("snapshot-report", "bot.jobs:snapshot_report", crontab_trigger(
                      services.config.schedules.snapshot_cleanup, ZoneInfo(services.config.defaults.timezone)))]
    if any(team.channel for team in services.config.teams):
        specs.append(JobSpec("digest-tick", "bot.jobs:digest_tick", IntervalTrigger(seconds=DIGEST_TICK)))
    if services.github_configured and any(team.repos for team in services.config.teams):
        specs.append(JobSpec("review-tick", "bot.jobs:review_tick", IntervalTrigger(seconds=REVIEW_TICK)))
    return specs


def _seconds(every: timedelta) -> int:
    return max(1, int(every.total_seconds()))


def start_scheduler(services: Services) -> BotScheduler:
    """The leader-elected scheduler, running these jobs against `services`."""
    bind(services)
    scheduler = BotScheduler(services.engine, leader_lock_for(services.engine), lambda: job_specs(services))
    scheduler.start()
    return scheduler
