"""What an evidence snapshot hands out: frozen records, worst first within each list."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# Pod problems from worst to least bad; the renderer and the sort use this order.
PROBLEMS = ("CrashLoopBackOff", "OOMKilled", "ImagePullBackOff", "ErrImagePull", "Evicted", "NotReady")


@dataclass(frozen=True)
class Targets:
    """Where to look: namespaces, and names in them the incident points at (shown first)."""

    namespaces: tuple[str, ...]
    deployments: tuple[str, ...] = ()
    statefulsets: tuple[str, ...] = ()
    pods: tuple[str, ...] = ()


@dataclass(frozen=True)
class FiringAlert:
    alertname: str
    namespace: str
    severity: str
    since: datetime
    summary: str


@dataclass(frozen=True)
class PodProblem:
    namespace: str
    pod: str
    problem: str  # one of PROBLEMS
    node: str | None
    container: str | None = None
    last_reason: str | None = None  # the container's last termination reason (or the pod's, for Evicted)
    exit_code: int | None = None
    restarts: int = 0
    message: str | None = None
    named: bool = False  # the incident names this pod (or its workload)


@dataclass(frozen=True)
class EventCount:
    """Warning events with the same reason, involved object and message, counted together."""

    namespace: str
    kind: str
    name: str
    reason: str
    message: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None


@dataclass(frozen=True)
class RolloutChange:
    kind: str  # Deployment or StatefulSet
    namespace: str
    name: str
    revision: int
    images_before: tuple[str, ...]  # () for a first revision
    images_after: tuple[str, ...]
    at: datetime  # when the new revision (ReplicaSet / ControllerRevision) was created
    change_cause: str | None = None
    in_progress: bool = False  # a StatefulSet whose pods are not all on the update revision yet


@dataclass(frozen=True)
class NodeProblem:
    node: str
    not_ready: bool
    pressures: tuple[str, ...]
    unschedulable: bool
    pods: int  # pods of the targets on this node
    reason: str | None = None


@dataclass(frozen=True)
class Skipped:
    """A part of the snapshot that did not arrive: `part` is pods, events, deployments, replicasets,
    statefulsets, controllerrevisions, nodes or alerts; `reasons` holds why, per catalog language."""

    part: str
    namespace: str | None
    timed_out: bool
    reasons: tuple[tuple[str, str], ...] = ()

    def reason(self, language: str) -> str:
        found = dict(self.reasons)
        return found.get(language) or found.get("en") or ""


@dataclass(frozen=True)
class Snapshot:
    targets: Targets
    taken_at: datetime
    budget_s: float
    pods: tuple[PodProblem, ...] = ()
    events: tuple[EventCount, ...] = ()
    rollouts: tuple[RolloutChange, ...] = ()
    nodes: tuple[NodeProblem, ...] = ()
    alerts: tuple[FiringAlert, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    pods_seen: int = 0
    demo: bool = False

    @property
    def partial(self) -> bool:
        return bool(self.skipped)

    @property
    def empty(self) -> bool:
        return not (self.pods or self.events or self.rollouts or self.nodes or self.alerts)
