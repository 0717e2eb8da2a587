"""What /spend and the cost guards hand out: cost reports, burn rates, tonight's shutdown, stale snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

DEFAULT_DAYS = 7
MAX_DAYS = 90
TOP_SERVICES = 5

Breakdown = Literal["team", "service", "project"]
ForecastSource = Literal["aws", "projection"]


# /spend ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SpendRow:
    name: str | None  # a team (its configured name when a team has this cost_tag), service or project; None: untagged
    usd: float  # the whole period
    usd_per_hour: float  # over the last full day with data
    cups_per_hour: float
    over_threshold: bool


@dataclass(frozen=True)
class SpendReport:
    """`/spend by team|service|project` and `/spend 30d`: cost per group over whole UTC days."""

    by: Breakdown
    rows: list[SpendRow]  # most expensive first
    start: date
    end: date  # exclusive
    burn_day: date | None  # the day the $/h is measured on
    coffee_usd: float
    threshold_cups_per_hour: float
    demo: bool
    as_of: datetime  # when Cost Explorer was asked
    team: str | None = None  # only this team's resources; None: the whole account
    project: str | None = None  # only this project's resources

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def total_usd(self) -> float:
        return sum(r.usd for r in self.rows)

    @property
    def burning(self) -> list[SpendRow]:
        return [r for r in self.rows if r.over_threshold]


@dataclass(frozen=True)
class Share:
    name: str | None  # a service, team or project; None: untagged
    usd: float


@dataclass(frozen=True)
class MonthByTeam:
    """Every team's cost this month to date (full UTC days), from one Cost Explorer question grouped by team tag."""

    month_start: date
    today: date
    days_in_month: int
    usd: dict[str, float]  # team name (or tag value no team claims) → month to date
    as_of: datetime

    def projected(self, usd: float) -> float | None:
        """The whole month at the pace so far; None on the month's first day (no full day yet)."""
        elapsed = (self.today - self.month_start).days
        return usd / elapsed * self.days_in_month if elapsed > 0 else None


@dataclass(frozen=True)
class Overview:
    """Plain `/spend`: month to date, yesterday, the last 7 days, the forecast and the top services."""

    team: str | None  # the team whose cost_tag filters every figure; None: the whole account
    cost_tag: str | None
    month_start: date
    today: date  # UTC; its costs are still arriving and are not counted
    month_to_date: float
    yesterday: float
    daily: tuple[tuple[date, float], ...]  # the last 7 full days, oldest first
    forecast_usd: float  # the whole month: month to date + what the rest of it will cost
    forecast_source: ForecastSource
    top_services: tuple[Share, ...]  # at most TOP_SERVICES, most expensive first
    untagged_usd: float  # month to date without the team tag (whole account only; 0 for a team)
    tagged_any: bool  # False: no cost carries the team tag (the cost-allocation tag may be inactive)
    as_of: datetime
    demo: bool
    tag_key: str = "team"  # the cost-allocation tag naming teams (cost_guards.team_tag): what to activate


class ReportDaysError(ValueError):
    """What the user typed is not a number of days from 1 to MAX_DAYS; `text` is that typed text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def report_days(arg: str | None) -> int:
    """`/spend [days]`: nothing means DEFAULT_DAYS; `30` or `30d` means 30, from 1 to MAX_DAYS."""
    if arg is None:
        return DEFAULT_DAYS
    digits = arg.rstrip("d")
    # isdecimal, not isdigit: int() can't read superscripts ("²"); a short one: nor 5,000 digits
    days = int(digits) if digits.isdecimal() and len(digits) <= 9 else 0
    if not 1 <= days <= MAX_DAYS:
        raise ReportDaysError(arg or "")
    return days


# Burn rate -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Running:
    """A running EC2 instance with what it costs."""

    id: str
    type: str
    name: str | None  # the Name tag
    owner: str | None  # the owner tag
    team: str | None
    launched: datetime
    usd_per_hour: float | None  # None: no price known for this type
    private_dns: str | None = None
    keep_tag: bool = False  # carries one of cost_guards.shutdown.keep_tag: never stopped

    def uptime(self, now: datetime) -> timedelta:
        return max(now - self.launched, timedelta(0))


@dataclass(frozen=True)
class TeamBurn:
    team: str
    usd_per_hour: float
    cups_per_hour: float
    threshold_cups: float
    instances: tuple[Running, ...]  # most expensive first
    unpriced: tuple[str, ...] = ()  # instance types without a price (counted as $0)

    @property
    def over(self) -> bool:
        return self.cups_per_hour > self.threshold_cups


@dataclass(frozen=True)
class BurnReport:
    teams: tuple[TeamBurn, ...]  # hottest first
    coffee_usd: float
    as_of: datetime
    demo: bool


# Nightly shutdown -------------------------------------------------------------------------------------------
Decision = Literal["stop", "tagged", "kept", "busy"]


@dataclass(frozen=True)
class Keep:
    """Someone pressed Keep running tonight."""

    instance: str
    by: str
    why: str
    at: datetime


@dataclass(frozen=True)
class Planned:
    instance: Running
    decision: Decision
    gpu_pct: float | None = None  # the instance's GPU utilization now (Kubernetes node or DCGM), if known
    keep: Keep | None = None  # for `kept`


@dataclass(frozen=True)
class ShutdownPlan:
    team: str
    night: date  # the local date the shutdown was scheduled on: the plan's name
    at: datetime  # when it acts (aware; later when postponed)
    dry_run: bool
    items: tuple[Planned, ...]
    postponed_by: str | None = None
    done: bool = False  # it already ran tonight
    postpone: timedelta = timedelta(hours=2)  # what the Postpone button adds (cost_guards.shutdown.postpone)

    @property
    def to_stop(self) -> list[Planned]:
        return [p for p in self.items if p.decision == "stop"]

    @property
    def usd_per_hour(self) -> float:
        return sum(p.instance.usd_per_hour or 0 for p in self.to_stop)


Outcome = Literal["stopped", "would_stop", "failed", "tagged", "kept", "busy", "already"]


@dataclass(frozen=True)
class Stopped:
    instance: Running
    outcome: Outcome
    error: str | None = None  # AWS's error code when failed
    message: str | None = None
    keep: Keep | None = None
    gpu_pct: float | None = None


@dataclass(frozen=True)
class ShutdownResult:
    team: str
    night: date
    dry_run: bool
    outcomes: tuple[Stopped, ...]
    saving_usd: float  # estimated: $/h of what was stopped × hours until the team's working day starts
    saving_hours: float
    by: str  # "scheduler" or the user who pressed Stop now

    def of(self, *outcomes: Outcome) -> list[Stopped]:
        return [s for s in self.outcomes if s.outcome in outcomes]


# Snapshots ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StaleSnapshot:
    id: str
    gib: int
    started: datetime
    age_days: int
    usd_month: float
    pipeline: str | None  # the pipeline tag's value
    team: str | None
    description: str


@dataclass(frozen=True)
class PipelineGroup:
    pipeline: str | None
    count: int
    gib: int
    usd_month: float


@dataclass(frozen=True)
class RecycleBin:
    """Whether deleted snapshots stay recoverable: the longest matching rule, or unknown."""

    known: bool
    days: int = 0  # 0 with known=True: no rule, deletes are final


@dataclass(frozen=True)
class SnapshotReport:
    snapshots: tuple[StaleSnapshot, ...]  # oldest first
    groups: tuple[PipelineGroup, ...]  # most expensive first
    in_use: int  # old pipeline snapshots kept because an AMI (even a disabled one) uses them
    managed: int  # kept because a Data Lifecycle Manager policy manages them
    older_than: timedelta
    recycle_bin: RecycleBin
    as_of: datetime
    demo: bool
    team: str | None = None

    @property
    def gib(self) -> int:
        return sum(s.gib for s in self.snapshots)

    @property
    def usd_month(self) -> float:
        return sum(s.usd_month for s in self.snapshots)

    @property
    def oldest(self) -> StaleSnapshot | None:
        return self.snapshots[0] if self.snapshots else None


@dataclass(frozen=True)
class Deleted:
    snapshot: StaleSnapshot
    ok: bool
    error: str | None = None  # InvalidSnapshot.InUse, UnauthorizedOperation, in_use (our own check)…
    message: str | None = None


@dataclass(frozen=True)
class DeletionResult:
    plan: str
    results: tuple[Deleted, ...]
    by: str

    @property
    def saved_usd_month(self) -> float:
        return sum(d.snapshot.usd_month for d in self.results if d.ok)

    @property
    def failed(self) -> list[Deleted]:
        return [d for d in self.results if not d.ok]
