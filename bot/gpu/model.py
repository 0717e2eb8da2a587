"""What /gpu hands out: GPUs joined with their holders, and the views built from them (summary, idle, focus,
queue, health)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from bot.clients import GpuPod, GpuProblem, KubeEvent

if TYPE_CHECKING:
    from bot.retry import BackendError

ScopeKind = Literal["cluster", "team", "namespace", "node"]


@dataclass(frozen=True)
class Scope:
    """Which GPUs a view covers: the whole cluster, a team's pods, a namespace's pods, or one node."""

    kind: ScopeKind
    name: str = ""

    @property
    def whole(self) -> bool:
        return self.kind in ("cluster", "node")  # free GPUs count; elsewhere only what pods hold


@dataclass(frozen=True)
class Holder:
    """The pod holding a GPU, and who answers for it."""

    namespace: str
    pod: str
    container: str | None
    owner: str | None  # the first owner label's value (a Slack id, an email, a name)
    team: str | None  # the configured team: a `team` label naming one, else the namespace's
    started: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.pod}"


@dataclass(frozen=True)
class Gpu:
    """One GPU, or one MIG slice, with its reading over the window and its holder."""

    node: str
    gpu: str
    uuid: str
    model: str
    util_pct: float | None
    util_source: str | None
    usd_per_hour: float
    mig_profile: str | None = None
    fb_used_mib: float | None = None
    fb_free_mib: float | None = None
    temp_c: float | None = None
    holder: Holder | None = None
    problems: tuple[GpuProblem, ...] = ()
    idle: bool = False  # held by a pod and under the threshold over the window
    idle_since: datetime | None = None  # from the history: the last busy moment, or when the pod started
    snoozed: bool = False

    @property
    def name(self) -> str:
        return f"{self.node}/{self.gpu}" + (f" ({self.mig_profile})" if self.mig_profile else "")

    @property
    def fb_total_mib(self) -> float | None:
        if self.fb_used_mib is None or self.fb_free_mib is None:
            return None
        return self.fb_used_mib + self.fb_free_mib

    @property
    def mem_pct(self) -> float | None:
        total = self.fb_total_mib
        return None if not total or self.fb_used_mib is None else 100 * self.fb_used_mib / total

    def idle_for(self, now: datetime) -> timedelta | None:
        return None if self.idle_since is None else max(now - self.idle_since, timedelta(0))

    def idle_cost(self, now: datetime) -> float | None:
        idle = self.idle_for(now)
        return None if idle is None else self.usd_per_hour * idle.total_seconds() / 3600


@dataclass(frozen=True)
class NodeRow:
    node: str
    model: str
    pool: str | None
    gpus: int  # allocatable in Kubernetes, else the GPUs DCGM reports
    allocated: int  # held by pods in scope
    util_pct: float | None
    reported: int  # GPUs (or MIG slices) DCGM reports on the node


@dataclass(frozen=True)
class Fleet:
    """Every GPU in a scope at one moment, and what was missing to see them fully."""

    scope: Scope
    gpus: tuple[Gpu, ...]
    nodes: tuple[NodeRow, ...]
    pods: tuple[GpuPod, ...]  # GPU pods in scope, waiting ones included
    as_of: datetime
    window: timedelta
    threshold_pct: float
    sources: Mapping[str, int] = field(default_factory=dict)  # util_source → GPUs read that way
    allocation_error: BackendError | None = None  # Kubernetes failed: utilization only
    targets: tuple[int, int] | None = None  # (up, total) dcgm scrape targets, asked when no metrics came back
    demo: bool = False

    @property
    def no_metrics(self) -> bool:
        return self.targets is not None

    @property
    def idle(self) -> list[Gpu]:
        return [gpu for gpu in self.gpus if gpu.idle and not gpu.snoozed]

    @property
    def snoozed(self) -> list[Gpu]:
        return [gpu for gpu in self.gpus if gpu.idle and gpu.snoozed]

    @property
    def unhealthy(self) -> list[Gpu]:
        return [gpu for gpu in self.gpus if gpu.problems]

    @property
    def waiting(self) -> list[GpuPod]:
        return [pod for pod in self.pods if pod.waits_for_gpus]


@dataclass(frozen=True)
class Totals:
    total: int  # cluster/node: every GPU; team/namespace: the GPUs its pods hold
    allocated: int
    util_pct: float | None
    mem_pct: float | None

    @property
    def free(self) -> int:
        return max(self.total - self.allocated, 0)


@dataclass(frozen=True)
class ModelRow:
    model: str
    gpus: int
    allocated: int
    util_pct: float | None
    mem_pct: float | None


@dataclass(frozen=True)
class HolderRow:
    """A namespace or team by GPUs held."""

    name: str
    gpus: int
    util_pct: float | None
    idle: int


@dataclass(frozen=True)
class GpuSummary:
    fleet: Fleet
    totals: Totals
    models: list[ModelRow]
    holders: list[HolderRow]  # by team in the cluster view, by namespace in a team's
    idle_usd_per_day: float


@dataclass(frozen=True)
class Missing:
    """A node where Kubernetes counts more GPUs than DCGM reports."""

    node: str
    allocatable: int
    reported: int


@dataclass(frozen=True)
class QueuedPod:
    namespace: str
    pod: str
    gpus: int
    priority_class: str | None
    waiting_since: datetime | None
    reason: str
    attempts: int = 0  # FailedScheduling events counted

    @classmethod
    def of(cls, pod: GpuPod, event: KubeEvent | None = None) -> QueuedPod:
        """A waiting pod, with the scheduler's latest FailedScheduling event for it when known."""
        return cls(namespace=pod.namespace, pod=pod.name, gpus=pod.gpus, priority_class=pod.priority_class,
                   waiting_since=pod.created, reason=pod.unschedulable or (event.message if event else ""),
                   attempts=event.count if event else 0)


@dataclass(frozen=True)
class IdleReport:
    fleet: Fleet
    gpus: list[Gpu]  # idle, not snoozed, longest idle first

    @property
    def usd_per_day(self) -> float:
        return sum(gpu.usd_per_hour for gpu in self.gpus) * 24


@dataclass(frozen=True)
class HealthReport:
    fleet: Fleet
    unhealthy: list[Gpu]
    missing: list[Missing]


@dataclass(frozen=True)
class TeamGpus:
    """A scope's idle GPUs, queue and health from one shared look (see GpuService.team_views)."""

    idle: IdleReport
    queue: list[QueuedPod]
    health: HealthReport
