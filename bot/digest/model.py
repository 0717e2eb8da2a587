"""What a digest holds: its slot, and one part per domain, each taken from that domain's service as the commands
take it. A part is None when it does not apply to the team (its backend is not configured, or the team has no
repositories, cost tag, rotation...), `Unavailable` when its backend failed, and skipped when `empty`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from bot.alerts.quality import NoisyAlert
from bot.gpu.model import HealthReport, IdleReport, QueuedPod
from bot.incidents.model import Incident
from bot.incidents.stats import StatsReport
from bot.oncall.rotation import TierOnCall
from bot.review.model import TeamQueue
from bot.spend.model import Overview, ShutdownPlan, SnapshotReport, TeamBurn

Kind = Literal["daily", "weekly"]
KINDS: tuple[Kind, ...] = ("weekly", "daily")  # when both fall in one slot, the weekly one is posted
NOISE_DAYS = 7


@dataclass(frozen=True)
class Slot:
    """One firing of a team's digest schedule."""

    team: str
    kind: Kind
    due: datetime  # when the schedule fired (aware)
    at: datetime  # when it may be posted: `due`, or the end of the team's quiet hours

    @property
    def period(self) -> str:
        """The slot's name in the `notices` row: one digest per team per slot, whichever kind claims it."""
        return self.due.astimezone(UTC).isoformat(timespec="minutes")


@dataclass(frozen=True)
class Unavailable:
    backend: str  # "aws", "kubernetes", "prometheus", "github", "database"...
    why: str  # already in the team's language (BackendError.explain)


@dataclass(frozen=True)
class IncidentsPart:
    open: tuple[Incident, ...]  # not resolved or cancelled, oldest first
    week: StatsReport  # the last 7 days
    previous: StatsReport  # the 7 days before: the trend

    @property
    def empty(self) -> bool:
        return not self.open and self.week.empty and self.previous.empty


@dataclass(frozen=True)
class OnCallPart:
    tiers: tuple[TierOnCall, ...]

    @property
    def empty(self) -> bool:
        return not self.tiers


@dataclass(frozen=True)
class SpendPart:
    month_to_date: float | None  # None: Cost Explorer has nothing for the team's tag
    projected: float | None  # the month at the pace so far
    budget: float | None  # teams[].budget_usd_month
    as_of: datetime | None  # when Cost Explorer's figures were read
    burn: TeamBurn | None  # live EC2 burn; None when the team has no instances to burn
    coffee_usd: float
    overview: Overview | None = None  # weekly only: the team's /spend overview (its daily trend is charted)

    @property
    def empty(self) -> bool:
        return self.month_to_date is None and self.burn is None

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.projected is not None and self.projected > self.budget


@dataclass(frozen=True)
class GpuPart:
    idle: IdleReport
    queue: tuple[QueuedPod, ...]
    health: HealthReport

    @property
    def empty(self) -> bool:
        return not self.idle.gpus and not self.queue and not self.health.unhealthy and not self.health.missing


@dataclass(frozen=True)
class ReviewPart:
    queue: TeamQueue

    @property
    def empty(self) -> bool:
        return not self.queue.items


@dataclass(frozen=True)
class NoisePart:
    alerts: tuple[NoisyAlert, ...]  # the noisiest first (as /alerts noisy)
    days: int = NOISE_DAYS

    @property
    def empty(self) -> bool:
        return not self.alerts


@dataclass(frozen=True)
class GuardsPart:
    snapshots: SnapshotReport | None  # the team's stale pipeline snapshots
    shutdown: ShutdownPlan | None  # tonight's nightly shutdown plan

    @property
    def empty(self) -> bool:
        no_waste = self.snapshots is None or not self.snapshots.snapshots
        no_plan = self.shutdown is None or self.shutdown.done or not self.shutdown.to_stop
        return no_waste and no_plan


Part = IncidentsPart | OnCallPart | SpendPart | GpuPart | ReviewPart | NoisePart | GuardsPart
SECTIONS = ("incidents", "oncall", "spend", "gpu", "review", "noise", "guards")  # the order they are shown in


@dataclass(frozen=True)
class Digest:
    team: str
    language: str
    timezone: str
    kind: Kind
    due: datetime  # the slot it answers (now, for /digest)
    made_at: datetime
    late: bool  # posted well after its slot (the bot was down, or quiet hours held it)
    incidents: IncidentsPart | Unavailable | None = None
    oncall: OnCallPart | Unavailable | None = None
    spend: SpendPart | Unavailable | None = None
    gpu: GpuPart | Unavailable | None = None
    review: ReviewPart | Unavailable | None = None
    noise: NoisePart | Unavailable | None = None
    guards: GuardsPart | Unavailable | None = None

    def sections(self) -> list[tuple[str, Part | Unavailable]]:
        """The sections to show, in order: each part that applies and has something to say, or why it can't."""
        shown: list[tuple[str, Part | Unavailable]] = []
        for name in SECTIONS:
            part: Part | Unavailable | None = getattr(self, name)
            if part is not None and (isinstance(part, Unavailable) or not part.empty):
                shown.append((name, part))
        return shown

    @property
    def empty(self) -> bool:
        return not self.sections()


@dataclass(frozen=True)
class Schedule:
    """When a team's digests post (for /digest preview): crontabs in its zone, the next slots, what holds them."""

    team: str
    channel: str | None  # None: the team has no channel, so nothing is posted
    timezone: str
    daily: str  # a crontab, or "off"
    weekly: str
    next_daily: datetime | None
    next_weekly: datetime | None
    quiet_hours: str | None  # "22:00-08:00"
    holidays: tuple[date, ...]  # upcoming ones
