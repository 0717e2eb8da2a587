"""Thin backend clients and the plain records they return.

Every source (real or demo) has a `demo` flag, a `probe() -> str` for `python -m bot check`,
and returns the frozen dataclasses below, so domain code never sees library types.
The Protocols are what domain code may call; each client module ends with a typed assignment
so that mypy proves the real client (and its demo twin) still satisfies its Protocol.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from bot.render.blocks import Block

PagerAction = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class GpuQuery:
    """What to ask Prometheus about GPUs: averages over `window` ending `at`; history (when the GPU was last
    busy, since when a problem shows) over `history`, evaluated every `step`; `problems`: XID, ECC, throttling."""

    at: datetime
    window: timedelta
    threshold_pct: float
    node_labels: tuple[str, ...] = ("node", "kubernetes_node")
    memory: bool = True  # framebuffer use
    temperature: bool = False
    problems: bool = False
    history: timedelta | None = None
    step: timedelta = timedelta(minutes=5)


@dataclass(frozen=True)
class GpuProblem:
    """Something wrong with a GPU: `xid` (value: the last XID code), `ecc` (uncorrectable errors), `thermal` or
    `power` (clock throttling; value: the reasons bitmask)."""

    kind: str
    value: float
    since: datetime | None = None  # first seen within the history, when history was asked for


@dataclass(frozen=True)
class GpuReading:
    """One GPU, or one MIG slice of it, as dcgm-exporter reports it over the window.

    Pod labels are there only while a pod holds the GPU. `util_pct` is None when there is no usable reading
    (e.g. only DCGM_FI_DEV_GPU_UTIL on a MIG slice, where it always reads 0)."""

    hostname: str
    gpu: str
    uuid: str
    model: str
    util_pct: float | None
    util_source: str | None  # "prof": DCGM_FI_PROF_GR_ENGINE_ACTIVE, "dev": DCGM_FI_DEV_GPU_UTIL
    mig_profile: str | None = None  # GPU_I_PROFILE, e.g. "1g.10gb"
    mig_instance: str | None = None  # GPU_I_ID
    fb_used_mib: float | None = None
    fb_free_mib: float | None = None
    temp_c: float | None = None
    namespace: str | None = None
    pod: str | None = None
    container: str | None = None
    node: str | None = None  # a node label the scrape config adds (GpuQuery.node_labels)
    problems: tuple[GpuProblem, ...] = ()
    busy_at: datetime | None = None  # the last time within the history it was at or over the threshold

    @property
    def key(self) -> str:
        slice_ = f"/{self.mig_instance}" if self.mig_instance is not None else ""
        return (self.uuid or f"{self.hostname}/{self.gpu}") + slice_


@dataclass(frozen=True)
class GpuNode:
    name: str
    gpus: int  # allocatable nvidia.com/gpu
    model: str | None = None  # nvidia.com/gpu.product
    pool: str | None = None  # the first of the configured node-pool labels the node carries


@dataclass(frozen=True)
class GpuPod:
    """A pod not yet finished that requests GPUs."""

    namespace: str
    name: str
    node: str | None
    phase: str
    gpus: int
    containers: tuple[tuple[str, int], ...] = ()  # (container, GPUs) for containers that ask for GPUs
    labels: Mapping[str, str] = field(default_factory=dict)
    priority_class: str | None = None
    created: datetime | None = None
    unschedulable: str | None = None  # the PodScheduled=False message, while the scheduler cannot place it

    @property
    def holds_gpus(self) -> bool:
        return bool(self.node) and self.gpus > 0 and self.phase in {"Pending", "Running", "Unknown"}

    @property
    def waits_for_gpus(self) -> bool:
        return self.node is None and "nvidia.com/gpu" in (self.unschedulable or "")


@dataclass(frozen=True)
class GpuCluster:
    """What Kubernetes says about GPUs: the GPU nodes, the pods asking for GPUs, and the node of every active
    pod by name (dcgm-exporter's Hostname may be its own pod's name)."""

    nodes: tuple[GpuNode, ...]
    pods: tuple[GpuPod, ...]
    pod_nodes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ContainerState:
    """One container of a pod as its status reports it (evidence for an incident)."""

    name: str
    ready: bool
    restarts: int
    waiting: str | None = None  # state.waiting.reason: CrashLoopBackOff, ImagePullBackOff, ErrImagePull…
    waiting_message: str | None = None
    terminated: str | None = None  # state.terminated.reason, while the container is terminated
    last_reason: str | None = None  # lastState.terminated.reason: OOMKilled, Error…
    last_exit_code: int | None = None
    last_finished: datetime | None = None


@dataclass(frozen=True)
class PodState:
    """A pod of any phase, with what its status says about its health."""

    namespace: str
    name: str
    node: str | None
    phase: str
    ready: bool
    reason: str | None = None  # status.reason: Evicted, NodeLost…
    message: str | None = None
    containers: tuple[ContainerState, ...] = ()
    created: datetime | None = None


@dataclass(frozen=True)
class KubeEvent:
    """A core v1 event; `first_seen`/`last_seen` already fall back across eventTime, first/lastTimestamp and
    the object's creation, so either may be None only when the API sent no time at all."""

    namespace: str
    kind: str  # the involved object's
    name: str
    reason: str
    message: str
    count: int
    first_seen: datetime | None
    last_seen: datetime | None
    type: str = "Warning"


@dataclass(frozen=True)
class Workload:
    """A Deployment or StatefulSet (apps/v1)."""

    kind: Literal["Deployment", "StatefulSet"]
    namespace: str
    name: str
    uid: str
    images: tuple[str, ...]
    revision: str | None = None  # deployment.kubernetes.io/revision
    change_cause: str | None = None  # kubernetes.io/change-cause
    current_revision: str | None = None  # StatefulSet status.currentRevision
    update_revision: str | None = None  # StatefulSet status.updateRevision


@dataclass(frozen=True)
class WorkloadRevision:
    """One revision of a workload: a Deployment's ReplicaSet or a StatefulSet's ControllerRevision."""

    kind: Literal["Deployment", "StatefulSet"]  # the owner's kind
    namespace: str
    owner: str
    owner_uid: str
    name: str
    revision: int
    images: tuple[str, ...]
    created: datetime | None
    change_cause: str | None = None


@dataclass(frozen=True)
class NodeHealth:
    name: str
    ready: bool | None  # None: the Ready condition is Unknown or missing (the kubelet stopped reporting)
    pressures: tuple[str, ...] = ()  # MemoryPressure, DiskPressure, PIDPressure that are True
    unschedulable: bool = False
    ready_reason: str | None = None


@dataclass(frozen=True)
class CostRow:
    day: date
    key: str | None  # the group's value: a tag value (None: resources without the tag) or a service name
    usd: float


CostGroupKind = Literal["TAG", "DIMENSION"]


@dataclass(frozen=True)
class CostQuery:
    """One Cost Explorer question: daily unblended cost in [start, end), grouped and filtered."""

    start: date
    end: date  # exclusive
    group_kind: CostGroupKind | None = "TAG"
    group_key: str = "team"  # a tag key, or a dimension such as SERVICE
    tag_key: str | None = None  # only resources whose tag `tag_key` has one of `tag_values`
    tag_values: tuple[str, ...] = ()

    def cache_key(self) -> str:
        only = f"{self.tag_key}={','.join(self.tag_values)}" if self.tag_key else "*"
        return f"{self.start}:{self.end}:{self.group_kind}:{self.group_key}:{only}"


@dataclass(frozen=True)
class CostAnswer:
    rows: tuple[CostRow, ...]
    requests: int  # pages asked for: Cost Explorer bills each one


@dataclass(frozen=True)
class Forecast:
    usd: float | None  # None: Cost Explorer could not forecast (too little history, or not available)
    requests: int


@dataclass(frozen=True)
class Instance:
    """An EC2 instance as the cost guards see it."""

    id: str
    type: str  # p4d.24xlarge
    state: str  # running, stopped…
    launched: datetime  # aware
    tags: Mapping[str, str]
    private_dns: str | None = None  # ip-10-0-1-2.ec2.internal: the Kubernetes node name on EKS

    @property
    def family(self) -> str:
        return self.type.split(".")[0]

    @property
    def name(self) -> str | None:
        return self.tags.get("Name")


@dataclass(frozen=True)
class ActionResult:
    """What AWS said about one instance stopped or one snapshot deleted."""

    id: str
    ok: bool
    error: str | None = None  # the AWS error code: UnauthorizedOperation, IncorrectInstanceState…
    message: str | None = None  # AWS's message, cut to one line


@dataclass(frozen=True)
class Snapshot:
    id: str
    gib: int
    started: datetime  # aware
    description: str
    tags: Mapping[str, str]
    state: str = "completed"


@dataclass(frozen=True)
class ImageUse:
    """An AMI (available, disabled or deprecated) whose block devices use a snapshot."""

    image_id: str
    state: str  # available, disabled…
    deprecated: bool = False


@dataclass(frozen=True)
class RecycleRule:
    """A Recycle Bin retention rule for EBS snapshots: matching deletes stay recoverable for `days`."""

    id: str
    days: int
    tags: Mapping[str, str]  # resource tags the rule applies to; empty: every snapshot in the region


@dataclass(frozen=True)
class PermissionProbe:
    """Whether the bot's AWS identity may perform one IAM action, and how that was found out."""

    action: str  # ec2:StopInstances
    allowed: bool | None  # None: could not tell
    how: Literal["simulate", "dry-run", "call"]
    detail: str = ""


@dataclass(frozen=True)
class ReviewRequest:
    """A review asked of one user (by login) or one team (by `org/slug`), and since when."""

    reviewer: str
    team: bool = False
    requested_at: datetime | None = None  # the latest request; None: unknown (read as the PR's creation)


@dataclass(frozen=True)
class PullRequest:
    repo: str  # owner/name
    number: int
    title: str
    url: str
    author: str
    created_at: datetime
    requests: tuple[ReviewRequest, ...] = ()  # reviews still asked for: a submitted review removes its request
    draft: bool = False
    state: Literal["OPEN", "CLOSED", "MERGED"] = "OPEN"
    body: str = ""  # plain text, as GitHub renders the description without markup
    additions: int = 0
    deletions: int = 0
    changed_files: int = 0
    labels: tuple[str, ...] = ()
    ci: str | None = None  # the head commit's check rollup: SUCCESS, FAILURE, ERROR, PENDING or EXPECTED
    approvals: tuple[str, ...] = ()  # logins whose latest review approves
    changes_requested: tuple[str, ...] = ()  # logins whose latest review asks for changes
    emails: tuple[tuple[str, str], ...] = ()  # (login, public e-mail) of the author and requested users

    @property
    def requested_reviewers(self) -> tuple[str, ...]:
        return tuple(r.reviewer for r in self.requests if not r.team)

    @property
    def requested_teams(self) -> tuple[str, ...]:
        return tuple(r.reviewer for r in self.requests if r.team)

    def waiting_since(self, request: ReviewRequest) -> datetime:
        return request.requested_at or self.created_at

    @property
    def size(self) -> int:
        """Lines changed."""
        return self.additions + self.deletions


@dataclass(frozen=True)
class OpenPulls:
    """The open pull requests of some repositories, oldest first, and the repositories GitHub did not show."""

    pulls: tuple[PullRequest, ...]
    missing: tuple[str, ...] = ()  # not found, or not visible to the token


@dataclass(frozen=True)
class Message:
    """One Slack message as the domain reads it back."""

    text: str
    user: str | None


class PrometheusSource(Protocol):
    demo: bool

    def gpu_readings(self, query: GpuQuery) -> list[GpuReading]:
        """Every GPU DCGM reports, in at most four queries aggregated by Prometheus."""
        ...

    def dcgm_targets(self) -> tuple[int, int]:
        """(up, total) scrape targets whose job name mentions dcgm: why there may be no GPU metrics."""
        ...

    def probe(self) -> str: ...


class KubeSource(Protocol):
    demo: bool

    def gpu_cluster(self, pool_labels: tuple[str, ...] = ()) -> GpuCluster:
        """GPU nodes and the active pods across all namespaces, in paged lists."""
        ...

    def scheduling_failures(self) -> list[KubeEvent]:
        """FailedScheduling events across all namespaces."""
        ...

    def probe(self) -> str: ...


class KubeEvidenceSource(Protocol):
    """What an incident's Kubernetes evidence reads; every call raises BackendError on failure (a 403 names
    the RBAC verb and resource it needed)."""

    demo: bool

    def pods(self, namespace: str) -> list[PodState]: ...

    def warning_events(self, namespace: str) -> list[KubeEvent]: ...

    def deployments(self, namespace: str) -> list[Workload]: ...

    def replica_sets(self, namespace: str) -> list[WorkloadRevision]: ...

    def stateful_sets(self, namespace: str) -> list[Workload]: ...

    def controller_revisions(self, namespace: str) -> list[WorkloadRevision]: ...

    def nodes(self, names: list[str]) -> list[NodeHealth]: ...


class CostSource(Protocol):
    demo: bool

    def costs(self, query: CostQuery) -> CostAnswer: ...

    def forecast(self, start: date, end: date, tag_key: str | None = None, tag_values: tuple[str, ...] = ()) \
            -> Forecast: ...

    def probe(self) -> str: ...


class Ec2Source(Protocol):
    demo: bool

    def instances(self, states: tuple[str, ...] = ("running",), tags: Mapping[str, tuple[str, ...]] | None = None,
                  families: tuple[str, ...] = ()) -> list[Instance]: ...

    def stop_instances(self, ids: list[str]) -> list[ActionResult]: ...

    def snapshots(self) -> list[Snapshot]: ...

    def images_using(self) -> dict[str, ImageUse]: ...

    def delete_snapshot(self, snapshot_id: str) -> ActionResult: ...

    def recycle_rules(self) -> list[RecycleRule] | None: ...

    def permissions(self, actions: tuple[str, ...]) -> list[PermissionProbe]: ...


class AwsSource(CostSource, Ec2Source, Protocol):
    """Cost Explorer and EC2 through one client."""


class GitHubSource(Protocol):
    demo: bool

    def open_pulls(self, repos: Sequence[str]) -> OpenPulls:
        """Every open pull request of these `owner/name` repositories, in one request per page of 100."""
        ...

    def pull(self, repo: str, number: int) -> PullRequest | None:
        """One pull request in any state; None when the repository has no such number."""
        ...

    def teams_of(self, login: str, orgs: Sequence[str]) -> tuple[str, ...]:
        """The `org/slug` of every team in these organisations that `login` belongs to."""
        ...

    def probe(self) -> str: ...


@dataclass(frozen=True)
class Once:
    """A message that must reach Slack once: `key` rides in its metadata. `since` is when an earlier attempt began,
    if one did (a process killed mid-send, a post that got no answer): the channel is then read first, and a message
    carrying the key is taken as sent instead of posting it again."""

    key: str
    since: datetime | None = None


class ChatSender(Protocol):
    """Slack side effects the domain needs (bot.clients.chat.Chat); each raises BackendError on failure."""

    def post(self, channel: str, blocks: list[Block], thread_ts: str | None = None,
             broadcast: bool = False, loud: bool = False, attempts: int = 3, once: Once | None = None) -> str: ...

    def update(self, channel: str, ts: str, blocks: list[Block]) -> None: ...

    def ephemeral(self, channel: str, user: str, blocks: list[Block], thread_ts: str | None = None) -> None: ...

    def dm(self, user: str, blocks: list[Block], attempts: int = 3, once: Once | None = None) -> tuple[str, str]: ...

    def create_channel(self, name: str, ours_if_taken: bool = False) -> str: ...

    def invite(self, channel: str, users: list[str]) -> None: ...

    def pin(self, channel: str, ts: str) -> None: ...

    def permalink(self, channel: str, ts: str) -> str | None: ...

    def message(self, channel: str, ts: str) -> Message: ...

    def upload(self, channel: str, filename: str, content: bytes | str, title: str,
               thread_ts: str | None = None, comment: str | None = None) -> None: ...


class Pager(Protocol):
    """Pages people about an incident (bot.clients.pager.PagerDuty), keyed by the incident's id."""

    def send(self, action: PagerAction, incident_id: int, summary: str = "", severity: str = "sev2",
             source: str = "emoji-ops", link: str | None = None) -> None: ...


class SilenceSource(Protocol):
    """Alertmanager silences (bot.clients.alertmanager); each call raises BackendError on failure."""

    demo: bool

    def create_silence(self, matchers: Mapping[str, str], ends_at: datetime, created_by: str, comment: str,
                       starts_at: datetime | None = None) -> str: ...

    def expire_silence(self, silence_id: str) -> None: ...

    def probe(self) -> str: ...
