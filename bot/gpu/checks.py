"""The scheduled GPU checks: a team's idle GPU-hours (in its working hours) and GPUs turning unhealthy.

Each post is a `notices` row first, open until its cause clears; then the thread gets a reply
("back to work", "healthy again") and the row is closed, so a restart neither repeats nor loses a post.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.gpu.model import Gpu, HealthReport, Scope
from bot.gpu.render import back_to_work_blocks, healthy_again_blocks, idle_post_blocks, unhealthy_post_blocks
from bot.gpu.service import GpuService
from bot.notices import NoticeBoard
from bot.notify import Notifier
from bot.settings import Config, Team
from bot.store.notices import Notice

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    """One thing the health check posts about: a GPU's problem, or a node's GPUs missing from DCGM."""

    key: str
    team: Team | None
    gpus: tuple[Gpu, ...] = ()
    node: str = ""
    missing: int = 0


class GpuWatch:
    def __init__(self, gpus: GpuService, notifier: Notifier, sessions: sessionmaker[Session], clock: Clock,
                 config: Config) -> None:
        self._gpus = gpus
        self._board = NoticeBoard(notifier, sessions, clock)
        self._config = config

    # Idle -----------------------------------------------------------------------------------------------
    def check_idle(self) -> None:
        report = self._gpus.idle(Scope("cluster"))
        now = report.fleet.as_of
        by_team: dict[str, list[Gpu]] = defaultdict(list)
        for gpu in report.gpus:
            if gpu.holder and gpu.holder.team:
                by_team[gpu.holder.team].append(gpu)
        opened = self._board.opened("idle")
        for team in self._config.teams:
            if team.channel and self._working(team, now):
                self._idle_team(team, by_team.get(team.name, []), opened.get(team.name), now)

    def idle_hours(self, gpus: list[Gpu], now: datetime) -> float:
        """GPU-hours idle within the check window (a GPU idle for longer counts the whole window)."""
        window = self._config.gpu.idle_check.window
        return sum(min(gpu.idle_for(now) or window, window).total_seconds() for gpu in gpus) / 3600

    def _idle_team(self, team: Team, gpus: list[Gpu], notice: Notice | None, now: datetime) -> None:
        hours, limit = self.idle_hours(gpus, now), self._config.gpu.idle_check.gpu_hours
        if notice is None and hours >= limit:
            window = self._config.gpu.idle_check.window
            self._board.open("idle", team.name, team.channel or "",
                             idle_post_blocks(team, gpus, hours, window, now, team.language))
        elif notice is not None and hours < limit / 2:  # half the threshold: no flapping around it
            self._board.close(notice, back_to_work_blocks(team.language))

    def _working(self, team: Team, now: datetime) -> bool:
        return self._config.gpu.working_hours.contains(now.astimezone(ZoneInfo(team.timezone)))

    # Health ---------------------------------------------------------------------------------------------
    def check_health(self) -> None:
        report = self._gpus.health(Scope("cluster"))
        problems = {p.key: p for p in self._problems(report)}
        opened = self._board.opened("health")
        for key, problem in problems.items():
            if key not in opened:
                channel = self._channel(problem.team)
                if channel is None:
                    log.warning("GPU problem %s: no channel to post to; set gpu.platform_channel", key)
                    continue
                lang = problem.team.language if problem.team else self._config.defaults.language
                self._board.open("health", key, channel, unhealthy_post_blocks(problem.gpus, problem.node,
                                                                               problem.missing, lang))
        for key, notice in opened.items():
            if key not in problems:
                team = self._team_of_channel(notice.channel)
                self._board.close(notice, healthy_again_blocks(team.language if team else
                                                               self._config.defaults.language))

    def _problems(self, report: HealthReport) -> list[Problem]:
        found = []
        for gpu in report.unhealthy:
            team = self._config.team_named(gpu.holder.team) if gpu.holder and gpu.holder.team else None
            found += [Problem(f"{gpu.uuid or gpu.name}/{p.kind}", team, (gpu,)) for p in gpu.problems]
        found += [Problem(f"{m.node}/missing", None, node=m.node, missing=m.allocatable - m.reported)
                  for m in report.missing]
        return found

    def _channel(self, team: Team | None) -> str | None:
        if team and team.channel:
            return team.channel
        return self._config.gpu.platform_channel or self._config.alerts.default_channel

    def _team_of_channel(self, channel: str | None) -> Team | None:
        return next((t for t in self._config.teams if channel and t.channel == channel), None)
