"""What /gpu reports: per-node rows, idle GPUs and the summary that holds them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class NodeRow:
    node: str
    model: str
    gpus: int  # the node's GPUs (allocatable in Kubernetes, else the GPUs DCGM reports)
    allocated: int  # held by pods in scope
    avg_util_pct: float | None  # over the in-scope GPUs DCGM reports on this node


@dataclass(frozen=True)
class IdleGpu:
    node: str
    gpu: str
    model: str
    util_pct: float
    namespace: str | None = None
    pod: str | None = None

    @property
    def allocated(self) -> bool:
        """A pod holds this GPU but barely uses it ("allocated but idle")."""
        return self.pod is not None


@dataclass(frozen=True)
class GpuSummary:
    team: str | None  # None: the whole organisation
    namespaces: tuple[str, ...]
    total_gpus: int  # organisation: every GPU; team: the GPUs its pods hold
    allocated_gpus: int
    avg_util_pct: float | None
    nodes: list[NodeRow]
    idle: list[IdleGpu]
    threshold_pct: float
    demo: bool
    as_of: datetime

    @property
    def idle_gpus(self) -> int:
        return len(self.idle)

    @property
    def allocated_idle_gpus(self) -> int:
        return sum(1 for gpu in self.idle if gpu.allocated)
