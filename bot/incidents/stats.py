"""Incident KPIs (MTTA, MTTR, MTBF, counts by severity) per team, as data.

Pure functions: the incidents and the period are passed in; nothing here reads the clock, the
database or Slack. `render.stats_blocks` and `chart.chart_png` show them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clock import aware, elapsed
from bot.incidents.model import SEVERITIES, Incident


@dataclass(frozen=True)
class IncidentStats:
    """KPIs of one team, or of all teams when `team` is None.

    Cancelled incidents (opened by accident) count only in `cancelled`, never in `count` or the means.
    """

    team: str | None
    count: int
    by_severity: Mapping[str, int]
    cancelled: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None
    mtbf: timedelta | None


@dataclass(frozen=True)
class StatsReport:
    since: datetime
    until: datetime
    team: str | None  # the team filter, None for every team
    teams: tuple[IncidentStats, ...]
    overall: IncidentStats

    @property
    def empty(self) -> bool:
        return self.overall.count == 0 and self.overall.cancelled == 0


# ---------------------------------------------------------------- numbers


def compute(
    incidents: Sequence[Incident], since: datetime, until: datetime, team: str | None = None
) -> StatsReport:
    """Stats over incidents created in [since, until), optionally for one team only."""
    since, until = aware(since), aware(until)
    selected = [i for i in incidents if since <= aware(i.created_at) < until and team in (None, i.team)]
    names = [team] if team is not None else sorted({i.team for i in selected})
    per_team = tuple(_team_stats(name, [i for i in selected if i.team == name]) for name in names)
    overall = per_team[0] if team is not None else _team_stats(None, selected)
    return StatsReport(since=since, until=until, team=team, teams=per_team, overall=overall)


def _team_stats(team: str | None, incidents: Sequence[Incident]) -> IncidentStats:
    live = [i for i in incidents if i.status != "cancelled"]
    acked = [elapsed(i.created_at, i.acknowledged_at) for i in live if i.acknowledged_at]
    resolved = [elapsed(i.created_at, i.resolved_at) for i in live if i.resolved_at]
    return IncidentStats(
        team=team,
        count=len(live),
        by_severity=_by_severity(live),
        cancelled=len(incidents) - len(live),
        acknowledged=len(acked),
        resolved=len(resolved),
        mtta=_mean(acked),
        mttr=_mean(resolved),
        mtbf=_mean_gap([aware(i.created_at) for i in live]),
    )


def _by_severity(incidents: Iterable[Incident]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for incident in incidents:
        counts[incident.severity] = counts.get(incident.severity, 0) + 1
    return counts


def _mean(spans: Sequence[timedelta]) -> timedelta | None:
    return sum(spans, timedelta(0)) / len(spans) if spans else None


def _mean_gap(starts: list[datetime]) -> timedelta | None:
    """Mean time between consecutive starts: (last - first) / (n - 1); None with fewer than two."""
    if len(starts) < 2:
        return None
    ordered = sorted(starts)
    return (ordered[-1] - ordered[0]) / (len(ordered) - 1)
