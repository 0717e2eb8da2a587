"""💸🔥: each team's live burn rate (running instances × on-demand price, in cups of coffee an hour), and the
scheduled check that posts once per crossing of the team's threshold and says in the thread when it is back under."""

from __future__ import annotations

from collections import defaultdict

from bot.clock import Clock
from bot.notices import NoticeBoard
from bot.settings import Config, Team
from bot.spend.fleet import Instances
from bot.spend.model import BurnReport, Running, TeamBurn
from bot.spend.render import back_under_blocks, burn_post_blocks

KIND = "burn"


class BurnWatch:
    def __init__(self, instances: Instances, board: NoticeBoard, clock: Clock, config: Config, demo: bool) -> None:
        self._instances = instances
        self._board = board
        self._clock = clock
        self._config = config
        self._demo = demo

    def report(self, team: Team | None = None, running: list[Running] | None = None) -> BurnReport:
        """Every configured team's burn (or only `team`'s), hottest first; from `running` when the caller has
        already read the running instances."""
        by_team: dict[str, list[Running]] = defaultdict(list)
        for instance in self._instances.running() if running is None else running:
            if instance.team:
                by_team[instance.team].append(instance)
        teams = [team] if team is not None else [t for t in self._config.teams if t.cost_tag or t.instance_tags]
        burns = [self._burn(t, by_team.get(t.name, [])) for t in teams]
        burns.sort(key=lambda b: (-b.cups_per_hour, b.team))
        return BurnReport(teams=tuple(burns), coffee_usd=self._config.thresholds.coffee_usd,
                          as_of=self._clock.now(), demo=self._demo)

    def check(self) -> None:
        """Post 💸🔥 to each team's channel when it crosses its threshold (once per crossing, `burn.cooldown` apart);
        reply "back under" in that post's thread when it falls below."""
        report = self.report()
        opened = self._board.opened(KIND)
        for burn in report.teams:
            team = self._config.team_named(burn.team)
            if team is None or not team.channel:
                continue
            notice = opened.get(team.name)
            if notice is None and burn.over and self._cooled_down(team.name):
                self._board.open(KIND, team.name, team.channel, burn_post_blocks(
                    burn, report.coffee_usd, report.as_of, team.language, team.timezone, self._config.gpu.top))
            elif notice is not None and not burn.over:
                self._board.close(notice, back_under_blocks(burn, team.language))

    def _cooled_down(self, team: str) -> bool:
        last = self._board.latest(KIND, team)
        return last is None or self._clock.now() - last.opened_at >= self._config.cost_guards.burn.cooldown

    def _burn(self, team: Team, instances: list[Running]) -> TeamBurn:
        usd = sum(i.usd_per_hour or 0 for i in instances)
        coffee = self._config.thresholds.coffee_usd
        return TeamBurn(team=team.name, usd_per_hour=usd, cups_per_hour=usd / coffee if coffee > 0 else 0.0,
                        threshold_cups=team.burn_cups_per_hour or self._config.thresholds.burn_rate_cups_per_hour,
                        instances=tuple(instances),
                        unpriced=tuple(sorted({i.type for i in instances if i.usd_per_hour is None})))
