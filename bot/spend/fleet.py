"""Running EC2 instances as the cost guards see them: whose team they are, who owns them, what they cost."""

from __future__ import annotations

from collections.abc import Iterable

from bot.clients import Ec2Source, Instance
from bot.settings import Config, Team
from bot.spend.model import Running
from bot.spend.pricing import InstancePrices


class Instances:
    def __init__(self, aws: Ec2Source, config: Config) -> None:
        self._aws = aws
        self._config = config
        self.prices = InstancePrices(config.cost_guards.prices)

    def running(self) -> list[Running]:
        """Every running instance, with its team (None: no team's tags), most expensive first."""
        found = [self.of(instance) for instance in self._aws.instances(states=("running",))]
        return sorted(found, key=lambda r: (-(r.usd_per_hour or 0), r.id))

    def of(self, instance: Instance) -> Running:
        team = self.team_of(instance)
        return Running(id=instance.id, type=instance.type, name=instance.name,
                       owner=instance.tags.get(self._config.cost_guards.owner_tag), team=team.name if team else None,
                       launched=instance.launched, usd_per_hour=self.prices.hourly(instance.type),
                       private_dns=instance.private_dns, keep_tag=any(
                           instance.tags.get(k) == v for k, v in self._config.cost_guards.shutdown.keep_tag.items()))

    def team_of(self, instance: Instance) -> Team | None:
        """The team whose cost_tag the instance's team tag names, else whose `instance_tags` it carries."""
        tag = instance.tags.get(self._config.cost_guards.team_tag)
        for team in self._config.teams:
            if team.cost_tag and tag == team.cost_tag:
                return team
        for team in self._config.teams:
            if team.instance_tags and all(instance.tags.get(k) == v for k, v in team.instance_tags.items()):
                return team
        return None

    def families(self, team: Team) -> tuple[str, ...]:
        """The instance families the nightly shutdown stops for this team (empty: any)."""
        chosen = team.shutdown_families if team.shutdown_families is not None else \
            self._config.cost_guards.shutdown.families
        return tuple(chosen)

    def unmatched_selectors(self) -> list[str]:
        """Teams whose shutdown selector matches no instance at all, running or stopped (for `check`)."""
        every = self._aws.instances(states=("pending", "running", "stopping", "stopped"))
        return [team.name for team in self._config.teams
                if (team.cost_tag or team.instance_tags) and not any(
                    self.team_of(i) == team and selected(i.type, self.families(team)) for i in every)]


def selected(instance_type: str, families: Iterable[str]) -> bool:
    wanted = tuple(families)
    return not wanted or instance_type.split(".")[0] in wanted
