"""🛑 The nightly shutdown: per team, at a local time in its time zone, stop its running instances of the
selected families unless tagged keep-running, kept tonight with the button, or busy on their GPUs.

The night is a `guard_plans` row (team/date); the warning is a `notices` row; each instance's fate is one
`guard_items` row (kept, or claimed for a stop), so a second run, a restart or another replica never stops
an instance twice and never stops a kept one. Dry-run (plan and posts, no stop) until
`cost_guards.shutdown.enabled: true`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Ec2Source
from bot.clock import Clock
from bot.escape import Markup
from bot.guard import LEASE, Guard
from bot.i18n import t
from bot.metrics import INSTANCES_STOPPED
from bot.notices import NoticeBoard
from bot.permissions import Audience, Permissions
from bot.render.blocks import Block, mention, section
from bot.retry import BackendError
from bot.settings import Config, Team
from bot.spend.fleet import Instances, selected
from bot.spend.model import Keep, Planned, Running, ShutdownPlan, ShutdownResult, Stopped
from bot.spend.render import shutdown_plan_blocks, shutdown_result_blocks
from bot.store import guards as store
from bot.store.guards import Item, Plan
from bot.store.repo import audit

log = logging.getLogger(__name__)
KIND = "shutdown"
SCHEDULER = "scheduler"
NOON = time(12, 0)
LATE_LIMIT = timedelta(hours=2)  # a shutdown missed by longer (the bot was down) waits for the next night
MAX_SAVING_HOURS = 72.0


class ShutdownRefused(Exception):
    """The button cannot do what it says any more (already ran, too late to keep); the message says why."""


class NightlyShutdown:
    def __init__(self, aws: Ec2Source, instances: Instances, guard: Guard, permissions: Permissions,
                 board: NoticeBoard, sessions: sessionmaker[Session], clock: Clock, config: Config,
                 gpu_utilization: Callable[[], dict[str, float]] | None = None) -> None:
        self._aws = aws
        self._instances = instances
        self._guard = guard
        self._permissions = permissions
        self._board = board
        self._sessions = sessions
        self._clock = clock
        self._config = config
        self._gpu_utilization = gpu_utilization

    # When ---------------------------------------------------------------------------------------------------
    def night(self, team: Team, now: datetime | None = None) -> tuple[date, datetime] | None:
        """The shutdown this team is in or heading for: (the night's date, when it acts, postponements included),
        the first scheduled one that is not over; None when no night is scheduled in the coming week."""
        now = now or self._clock.now()
        tz = ZoneInfo(team.timezone)
        shutdown = self._config.cost_guards.shutdown
        today = now.astimezone(tz).date()
        for offset in range(-1, 9):
            day = today + timedelta(days=offset)
            if day.weekday() not in shutdown.days or day in shutdown.holidays:
                continue
            row = store.plan(self._sessions, KIND, _key(team, day))
            acts_at = row.acts_at if row and row.acts_at else night_moment(day, team.shutdown_at or shutdown.at, tz)
            if acts_at + LATE_LIMIT > now or (row is not None and row.state == "acting"):
                return day, acts_at
        return None

    def tick(self) -> None:
        """Every minute: post the warning `warn_before` the shutdown, and run it when its time comes."""
        now = self._clock.now()
        fleet = self.fleet()  # read once, and only if some team is in its warning window
        for team in self._teams():
            found = self.night(team, now)
            if found is None:
                continue
            day, acts_at = found
            if now < acts_at - self._config.cost_guards.shutdown.warn_before:
                continue
            row = self._plan_row(team, day, acts_at)
            if row.state == "planned" and now < acts_at:
                self._warn(team, day, now, fleet)
            elif row.state != "done":  # due, or left acting by a killed process (run takes it over after the lease)
                self.run(team, SCHEDULER, fleet)

    # What ---------------------------------------------------------------------------------------------------
    def plan(self, team: Team, fleet: Fleet | None = None) -> ShutdownPlan | None:
        """Tonight's plan for the team as it stands now; None when no night is scheduled."""
        found = self.night(team)
        if found is None:
            return None
        day, acts_at = found
        row = self._plan_row(team, day, acts_at)
        decided = {i.item: i for i in store.items(self._sessions, row.id)}
        fleet = fleet or self.fleet()
        abandoned = self._clock.now() - LEASE  # a stop claimed before this by a killed process is to be done again
        mine = [r for r in fleet.running()
                if r.team == team.name and selected(r.type, self._instances.families(team))
                and (r.id not in decided or decided[r.id].state not in ("done", "stopping")
                     or (decided[r.id].state == "stopping" and decided[r.id].at < abandoned))]
        utilization = fleet.utilization() if mine else {}
        items = tuple(self._decide(r, decided.get(r.id), _gpu_pct(r, utilization)) for r in mine)
        return ShutdownPlan(team=team.name, night=day, at=row.acts_at or acts_at, dry_run=self._dry_run(),
                            items=items, postponed_by=row.detail.get("postponed_by"), done=row.state == "done",
                            postpone=self._config.cost_guards.shutdown.postpone)

    def _decide(self, instance: Running, item: Item | None, gpu_pct: float | None) -> Planned:
        if instance.keep_tag:
            return Planned(instance, "tagged", gpu_pct)
        if item is not None and item.state == "kept":
            return Planned(instance, "kept", gpu_pct, Keep(instance.id, item.by or "", item.why, item.at))
        if gpu_pct is not None and gpu_pct > self._config.cost_guards.shutdown.busy_gpu_pct:
            return Planned(instance, "busy", gpu_pct)
        return Planned(instance, "stop", gpu_pct)

    # Act ----------------------------------------------------------------------------------------------------
    def run(self, team: Team, by: str, fleet: Fleet | None = None) -> ShutdownResult | None:
        """Run tonight's shutdown once (by the scheduler, or a permitted user's Stop now); None if it already ran
        or another process is running it."""
        found = self.night(team)
        if found is None:
            return None
        row = self._plan_row(team, *found)
        if not self._guard.start(row, by):
            return None
        plan = self.plan(team, fleet)  # decided now that nobody can keep or postpone any more
        if plan is None:
            return None
        outcomes = self._stop(row, plan, by)
        hours = self._saving_hours(team, self._clock.now())
        saving = sum(s.instance.usd_per_hour or 0 for s in outcomes if s.outcome in ("stopped", "would_stop"))
        result = ShutdownResult(team=team.name, night=plan.night, dry_run=plan.dry_run, outcomes=tuple(outcomes),
                                saving_usd=round(saving * hours, 2), saving_hours=hours, by=by)
        self._guard.finish(row, stopped=len(result.of("stopped")), failed=len(result.of("failed")),
                           dry_run=plan.dry_run)
        self._tell(team, plan.night, shutdown_result_blocks(result, team.language, team.timezone,
                                                            self._config.gpu.top))
        return result

    def _stop(self, row: Plan, plan: ShutdownPlan, by: str) -> list[Stopped]:
        kept = [Stopped(p.instance, p.decision, keep=p.keep, gpu_pct=p.gpu_pct)
                for p in plan.items if p.decision != "stop"]
        targets = {p.instance.id: p for p in plan.to_stop}
        if plan.dry_run:
            with self._sessions.begin() as session:
                audit(session, self._clock.now(), by, "spend.shutdown_dry_run", row.key,
                      would_stop=sorted(targets))
            return [Stopped(p.instance, "would_stop", gpu_pct=p.gpu_pct) for p in targets.values()] + kept
        results = self._guard.act(row, list(targets), by, "stopping", "spend.stop", self._aws.stop_instances,
                                  batch=50)
        stopped = []
        for instance_id, planned in targets.items():
            result = results.get(instance_id)
            if result is None:  # kept (or claimed elsewhere) between the plan and the claim
                stopped.append(Stopped(planned.instance, "already", gpu_pct=planned.gpu_pct))
                continue
            INSTANCES_STOPPED.labels("stopped" if result.ok else "failed").inc()
            stopped.append(Stopped(planned.instance, "stopped" if result.ok else "failed",
                                   error=result.error, message=result.message, gpu_pct=planned.gpu_pct))
        return stopped + kept

    # Buttons -------------------------------------------------------------------------------------------------
    def keep(self, team: Team, night: date, instance: str, by: str, why: str, lang: str) -> None:
        """Keep one instance running tonight (recorded with who and why); ShutdownRefused when it is too late."""
        self._permissions.require(by, "keep_instance", instance, self._audience(team, lang), lang)
        row = self._existing(team, night, lang)
        now = self._clock.now()
        if not store.move_item(self._sessions, row.id, instance, "kept", by, now, why=why):
            raise ShutdownRefused(t("spend.keep_too_late", lang, instance=instance))
        with self._sessions.begin() as session:
            audit(session, now, by, "spend.keep", instance, night=night.isoformat(), why=why)
        self._reply(team, night, t("spend.kept_by", team.language, instance=instance, user=_mention(by), why=why))

    def postpone(self, team: Team, night: date, by: str, lang: str) -> datetime:
        """Move tonight's shutdown `cost_guards.shutdown.postpone` later; returns the new time."""
        self._permissions.require(by, "postpone_shutdown", team.name, self._audience(team, lang), lang)
        row = self._existing(team, night, lang)
        until = (row.acts_at or self._clock.now()) + self._config.cost_guards.shutdown.postpone
        if not store.postpone(self._sessions, row, until, by, self._clock.now()):
            raise ShutdownRefused(t("spend.already_ran", lang, team=team.name))
        store.annotate(self._sessions, row.id, postponed_by=by)
        self._reply(team, night, t("spend.postponed_by", team.language, user=_mention(by),
                                   time=f"{until.astimezone(ZoneInfo(team.timezone)):%H:%M}"))
        return until

    def stop_now(self, team: Team, night: date, by: str, lang: str) -> ShutdownResult:
        """A permitted user runs tonight's shutdown now (cost_guards.allowed)."""
        self._guard.require(by, "stop_instances", team.name, lang)
        self._existing(team, night, lang)
        result = self.run(team, by)
        if result is None:
            raise ShutdownRefused(t("spend.already_ran", lang, team=team.name))
        return result

    # Pieces --------------------------------------------------------------------------------------------------
    def _teams(self) -> list[Team]:
        return [team for team in self._config.teams if team.channel and (team.cost_tag or team.instance_tags)]

    def _plan_row(self, team: Team, day: date, acts_at: datetime) -> Plan:
        return store.ensure_plan(self._sessions, KIND, _key(team, day), SCHEDULER, self._clock.now(),
                                 team=team.name, acts_at=acts_at)

    def _existing(self, team: Team, night: date, lang: str) -> Plan:
        row = store.plan(self._sessions, KIND, _key(team, night))
        if row is None:
            found = self.night(team)
            if found is None or found[0] != night:
                raise ShutdownRefused(t("spend.plan_gone", lang, team=team.name))
            row = self._plan_row(team, *found)
        if row.state == "done":  # an `acting` plan is run's to decide: taken over once its runner's lease is out
            raise ShutdownRefused(t("spend.already_ran", lang, team=team.name))
        return row

    def _audience(self, team: Team, lang: str) -> Audience:
        allowed = self._guard.audience(lang)
        return Audience(people=allowed.people, teams=(team.name,), groups=allowed.groups,
                        description=t("spend.team_and_allowed", lang, team=team.name))

    def _warn(self, team: Team, day: date, now: datetime, fleet: Fleet) -> None:
        if self._board.find(KIND, team.name, day.isoformat()) is not None:
            return
        plan = self.plan(team, fleet)
        if plan is None:
            return
        blocks = shutdown_plan_blocks(plan, team.language, team.timezone, now, can_stop=True,
                                      top=self._config.gpu.top)
        self._board.open(KIND, team.name, team.channel or "", blocks, period=day.isoformat())

    def _tell(self, team: Team, night: date, blocks: list[Block]) -> None:
        """In the warning's thread, or in the channel when no warning went out (Stop now before it)."""
        warning = self._board.find(KIND, team.name, night.isoformat())
        if warning is not None and warning.ts:
            self._board.reply(warning, blocks)
        elif team.channel:
            self._board.say(team.channel, blocks)

    def _reply(self, team: Team, night: date, text: str) -> None:
        warning = self._board.find(KIND, team.name, night.isoformat())
        if warning is not None:
            self._board.reply(warning, [section(text)])

    def fleet(self) -> Fleet:
        """The running instances and their GPU use, each read at most once (share it between plans)."""
        return Fleet(self._instances.running, self._utilization)

    def _utilization(self) -> dict[str, float]:
        if self._gpu_utilization is None:
            return {}
        try:
            return self._gpu_utilization()
        except BackendError as exc:  # the plan still shows; "busy" just can't be told tonight
            log.warning("no GPU utilization for the shutdown plan: %s", exc.reason)
            return {}


    def _dry_run(self) -> bool:
        return not self._config.cost_guards.shutdown.enabled

    def _saving_hours(self, team: Team, now: datetime) -> float:
        """Hours from now until the team's working day starts (gpu.working_hours in its time zone)."""
        hours = self._config.gpu.working_hours
        local = now.astimezone(ZoneInfo(team.timezone))
        for offset in range(0, 8):
            day = local.date() + timedelta(days=offset)
            start = local_moment(day, hours.start, ZoneInfo(team.timezone))
            if day.weekday() in hours.days and start > now:
                return round(min((start - now).total_seconds() / 3600, MAX_SAVING_HOURS), 1)
        return MAX_SAVING_HOURS


def night_moment(night: date, at: time, tz: ZoneInfo) -> datetime:
    """When the shutdown of the night of `night` acts: that evening at `at`, or, for a time before noon such as
    00:00, early the next morning (the night of Friday the 27th stops at 00:00 on Saturday the 28th)."""
    return local_moment(night + timedelta(days=1) if at < NOON else night, at, tz)


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`at` on `day` in `tz` as an aware UTC time; a wall time skipped by DST moves on by the gap, an ambiguous
    one means its first occurrence."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _key(team: Team, day: date) -> str:
    return f"{team.name}/{day.isoformat()}"


def _gpu_pct(instance: Running, utilization: dict[str, float]) -> float | None:
    """The instance's GPU utilization, by its Kubernetes node name (the private DNS name on EKS) or its id."""
    names = [instance.private_dns, (instance.private_dns or "").split(".")[0], instance.id, instance.name]
    return next((utilization[n] for n in names if n and n in utilization), None)


def _mention(user: str) -> Markup:
    return Markup(user if user == SCHEDULER else mention(user))


class Fleet:
    """The running instances and their GPUs' utilization, each read at most once and only when asked: one tick's
    teams (and a run's plan before and after its claim) share one read of the account."""

    def __init__(self, read: Callable[[], list[Running]], utilization: Callable[[], dict[str, float]]) -> None:
        self._read, self._read_utilization = read, utilization
        self._running: list[Running] | None = None
        self._utilization: dict[str, float] | None = None

    def running(self) -> list[Running]:
        if self._running is None:
            self._running = self._read()
        return self._running

    def utilization(self) -> dict[str, float]:
        if self._utilization is None:
            self._utilization = self._read_utilization()
        return self._utilization
