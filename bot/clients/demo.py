"""Made-up but realistic backends behind the real clients' interfaces (`python -m bot shell --demo`).

Three GPU nodes (two H100, one A100 whose DCGM Hostname is the exporter pod's name), pods in
ml-train and ml-infer with a few GPUs allocated but idle, AWS costs for ml / platform / untagged
(ml burns more than 30 cups of coffee an hour), and three pull requests waiting for review
in the repositories of config/demo.yaml, and an Alertmanager that keeps its silences in memory.
Each constructor takes optional data so tests can bring their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.clients import (
    ContainerState,
    CostRow,
    CostSource,
    GitHubSource,
    GpuCluster,
    GpuNode,
    GpuPod,
    GpuProblem,
    GpuQuery,
    GpuReading,
    KubeEvent,
    KubeEvidenceSource,
    KubeSource,
    NodeHealth,
    PodState,
    PrometheusSource,
    PullRequest,
    SilenceSource,
    Workload,
    WorkloadRevision,
)
from bot.clock import Clock, SystemClock
from bot.retry import BackendError

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"
FB_TOTAL_MIB = 81559.0
A100_EXPORTER_POD = "nvidia-dcgm-exporter-7xk2p"

# node, DCGM Hostname, model, (util %, namespace, pod) per GPU index
_GPUS: list[tuple[str, str, str, list[tuple[float, str | None, str | None]]]] = [
    ("gpu-h100-1", "gpu-h100-1", H100,
     [(util, "ml-train", "llm-pretrain-0") for util in (93, 91, 95, 88, 90, 94, 92, 89)]),
    ("gpu-h100-2", "gpu-h100-2", H100, [
        (6, "ml-train", "finetune-lora-7b"), (11, "ml-train", "finetune-lora-7b"),
        (64, "ml-infer", "embeddings-api-0"),
        (81, "ml-train", "ray-worker-1"), (77, "ml-train", "ray-worker-1"),
        (85, "ml-train", "ray-worker-1"), (79, "ml-train", "ray-worker-1"),
        (0, None, None),
    ]),
    ("gpu-a100-1", A100_EXPORTER_POD, A100, [
        (14, "ml-infer", "vllm-llama-70b-0"), (17, "ml-infer", "vllm-llama-70b-0"),
        (38, "ml-infer", "vllm-llama-70b-0"), (41, "ml-infer", "vllm-llama-70b-0"),
        (72, "ml-train", "eval-sweep-3"), (68, "ml-train", "eval-sweep-3"),
        (0, None, None), (0, None, None),
    ]),
]
_NODE_LABEL_MODEL = {H100: "NVIDIA-H100-80GB-HBM3", A100: "NVIDIA-A100-SXM4-80GB"}
_DAILY_USD = {"ml": 4300.0, "platform": 610.0, None: 185.0}


_OWNERS = {"finetune-lora-7b": "U0DEMOLORA", "vllm-llama-70b-0": "ml-platform"}
_BUSY_AGO = {"finetune-lora-7b": timedelta(hours=5, minutes=10), "vllm-llama-70b-0": timedelta(minutes=50)}


def demo_readings(query: GpuQuery | None = None) -> list[GpuReading]:
    """The demo GPUs as DCGM reports them; H100s export the PROF metric, the A100 only DCGM_FI_DEV_GPU_UTIL.
    One H100 has logged XID 79 (fallen off the bus) when problems are asked for."""
    readings = []
    for node, hostname, model, gpus in _GPUS:
        for index, (util, namespace, pod) in enumerate(gpus):
            used = 0.0 if pod is None else round(FB_TOTAL_MIB * min(0.95, 0.2 + util / 100), 0)
            busy_ago = _BUSY_AGO.get(pod or "")
            xid = query is not None and query.problems and (node, index) == ("gpu-h100-1", 7)
            readings.append(GpuReading(
                hostname=hostname, gpu=str(index), uuid=f"GPU-{node}-{index}", model=model, util_pct=float(util),
                util_source="prof" if model == H100 else "dev", fb_used_mib=used, fb_free_mib=FB_TOTAL_MIB - used,
                temp_c=38.0 + util / 3, namespace=namespace, pod=pod, container=None if pod is None else "main",
                problems=(GpuProblem("xid", 79.0, query.at - timedelta(minutes=25)),) if xid and query else (),
                busy_at=query.at - busy_ago if query and query.history and busy_ago else None))
    return readings


def demo_cluster(now: datetime) -> GpuCluster:
    nodes = tuple(GpuNode(name=node, gpus=len(gpus), model=_NODE_LABEL_MODEL[model], pool=model.split()[1])
                  for node, _hostname, model, gpus in _GPUS)
    counts: dict[tuple[str, str, str], int] = {}
    for node, _hostname, _model, gpus in _GPUS:
        for _util, namespace, pod in gpus:
            if namespace and pod:
                counts[(namespace, pod, node)] = counts.get((namespace, pod, node), 0) + 1
    running = [GpuPod(namespace=ns, name=pod, node=node, phase="Running", gpus=n, containers=(("main", n),),
                      labels={"owner": _OWNERS[pod]} if pod in _OWNERS else {}, created=now - timedelta(hours=9))
               for (ns, pod, node), n in counts.items()]
    waiting = [GpuPod(namespace="ml-train", name=f"sweep-{i}", node=None, phase="Pending", gpus=4,
                      containers=(("main", 4),), priority_class="batch-low", created=now - timedelta(minutes=40 * i),
                      unschedulable="0/3 nodes are available: 3 Insufficient nvidia.com/gpu.") for i in (1, 2)]
    return GpuCluster(nodes=nodes, pods=(*running, *waiting), pod_nodes={A100_EXPORTER_POD: "gpu-a100-1"})


class DemoPrometheus:
    demo = True

    def __init__(self, readings: list[GpuReading] | None = None) -> None:
        self.readings = readings

    def gpu_readings(self, query: GpuQuery) -> list[GpuReading]:
        return demo_readings(query) if self.readings is None else list(self.readings)

    def dcgm_targets(self) -> tuple[int, int]:
        return (1, 1) if self.readings is None or self.readings else (0, 0)

    def probe(self) -> str:
        return f"demo Prometheus (made-up DCGM metrics, {len(demo_readings())} GPU series)"


VLLM = "registry.example.com/vllm-openai"


class DemoKube:
    """GPU nodes and pods; and an incident's evidence in ml-infer: vLLM rolled out to 0.6.0 18 minutes ago and
    crash-looping since, an embeddings pod OOMKilled, gpu-a100-1 under memory pressure."""

    demo = True

    def __init__(self, cluster: GpuCluster | None = None, clock: Clock | None = None) -> None:
        self.cluster = cluster
        self._clock = clock or SystemClock()

    def pods(self, namespace: str) -> list[PodState]:
        now = self._clock.now()
        if namespace != "ml-infer":
            return []
        crash = ContainerState("vllm", ready=False, restarts=9, waiting="CrashLoopBackOff",
                               waiting_message="back-off 5m0s restarting failed container", last_reason="Error",
                               last_exit_code=1, last_finished=now - timedelta(minutes=2))
        oom = ContainerState("embed", ready=True, restarts=3, last_reason="OOMKilled", last_exit_code=137,
                             last_finished=now - timedelta(minutes=11))
        healthy = ContainerState("vllm", ready=True, restarts=0)
        return [PodState("ml-infer", "vllm-llama-70b-0", "gpu-a100-1", "Running", False, containers=(crash,)),
                PodState("ml-infer", "embeddings-api-0", "gpu-h100-2", "Running", True, containers=(oom,)),
                PodState("ml-infer", "vllm-llama-70b-1", "gpu-a100-1", "Running", True, containers=(healthy,))]

    def warning_events(self, namespace: str) -> list[KubeEvent]:
        now = self._clock.now()
        if namespace != "ml-infer":
            return []
        return [KubeEvent("ml-infer", "Pod", "vllm-llama-70b-0", "BackOff",
                          "Back-off restarting failed container vllm in pod vllm-llama-70b-0", 14,
                          now - timedelta(minutes=16), now - timedelta(minutes=1)),
                KubeEvent("ml-infer", "Pod", "vllm-llama-70b-0", "Unhealthy",
                          "Readiness probe failed: HTTP probe failed with statuscode: 503", 31,
                          now - timedelta(minutes=17), now - timedelta(minutes=1))]

    def deployments(self, namespace: str) -> list[Workload]:
        if namespace != "ml-infer":
            return []
        return [Workload("Deployment", "ml-infer", "vllm-llama-70b", "uid-vllm", (f"{VLLM}:v0.6.0",), "8",
                         "bump vLLM to 0.6 (prefix caching)")]

    def replica_sets(self, namespace: str) -> list[WorkloadRevision]:
        now = self._clock.now()
        if namespace != "ml-infer":
            return []
        return [WorkloadRevision("Deployment", "ml-infer", "vllm-llama-70b", "uid-vllm", "vllm-llama-70b-7c9d", 7,
                                 (f"{VLLM}:v0.5.4",), now - timedelta(days=9)),
                WorkloadRevision("Deployment", "ml-infer", "vllm-llama-70b", "uid-vllm", "vllm-llama-70b-5f2b", 8,
                                 (f"{VLLM}:v0.6.0",), now - timedelta(minutes=18),
                                 "bump vLLM to 0.6 (prefix caching)")]

    def stateful_sets(self, namespace: str) -> list[Workload]:
        return []

    def controller_revisions(self, namespace: str) -> list[WorkloadRevision]:
        return []

    def nodes(self, names: list[str]) -> list[NodeHealth]:
        return [NodeHealth(name, ready=True, pressures=("MemoryPressure",) if name == "gpu-a100-1" else ())
                for name in sorted(set(names))]

    def gpu_cluster(self, pool_labels: tuple[str, ...] = ()) -> GpuCluster:
        return demo_cluster(self._clock.now()) if self.cluster is None else self.cluster

    def scheduling_failures(self) -> list[KubeEvent]:
        now = self._clock.now()
        return [KubeEvent("ml-train", "Pod", pod.name, "FailedScheduling", pod.unschedulable or "", 12,
                          pod.created, now - timedelta(minutes=1))
                for pod in self.gpu_cluster().pods if pod.waits_for_gpus]

    def probe(self) -> str:
        nodes = self.gpu_cluster().nodes
        return f"demo Kubernetes ({len(nodes)} GPU nodes, {sum(n.gpus for n in nodes)} GPUs)"


class DemoAws:
    demo = True

    def __init__(self, daily_usd: dict[str | None, float] | None = None) -> None:
        self.daily_usd = dict(_DAILY_USD if daily_usd is None else daily_usd)
        self.requests = 0  # Cost Explorer bills every request; tests count them

    def cost_by_team(self, start: date, end: date, tag_key: str = "team") -> list[CostRow]:
        self.requests += 1
        rows = []
        day = start
        while day < end:
            wobble = 1 + ((day.toordinal() * 37) % 17 - 8) / 100  # a stable ±8 % day-to-day variation
            rows += [CostRow(day=day, team=team, usd=round(usd * wobble, 2))
                     for team, usd in self.daily_usd.items()]
            day += timedelta(days=1)
        return rows

    def probe(self) -> str:
        return "demo AWS (made-up Cost Explorer costs)"


def demo_pull_requests(clock: Clock) -> list[PullRequest]:
    now = clock.now()
    gateway, trainer = "acme/inference-gateway", "acme/trainer"
    return [
        PullRequest(repo=gateway, number=412, title="Autoscale vLLM replicas on queue depth",
                    url=f"https://github.com/{gateway}/pull/412", author="wei-zhang",
                    created_at=now - timedelta(days=3, hours=4), requested_reviewers=("lena-k",)),
        PullRequest(repo=gateway, number=418, title="vLLM: bump to 0.6 and enable prefix caching",
                    url=f"https://github.com/{gateway}/pull/418", author="maria-s",
                    created_at=now - timedelta(hours=26), requested_reviewers=("chen-li", "sam-o")),
        PullRequest(repo=gateway, number=420, title="Bump boto3 from 1.35.0 to 1.35.8",
                    url=f"https://github.com/{gateway}/pull/420", author="dependabot[bot]",
                    created_at=now - timedelta(hours=30), requested_reviewers=()),
        PullRequest(repo=trainer, number=97, title="修复 checkpoint 上传到 S3 的 retry 逻辑",
                    url=f"https://github.com/{trainer}/pull/97", author="liu-yang",
                    created_at=now - timedelta(hours=5), requested_reviewers=(),
                    requested_teams=("ml-infra",)),
        PullRequest(repo=trainer, number=99, title="WIP: FSDP config for 70B",
                    url=f"https://github.com/{trainer}/pull/99", author="sam-o",
                    created_at=now - timedelta(days=6), requested_reviewers=("lena-k",), draft=True),
    ]


class DemoGitHub:
    """Pull requests of acme/inference-gateway and acme/trainer (the repos of config/demo.yaml):
    three wait for review, one is a draft, one has no reviewer. Other repositories have none."""

    demo = True

    def __init__(self, clock: Clock | None = None, pulls: list[PullRequest] | None = None) -> None:
        self._clock = clock or SystemClock()
        self._pulls = pulls

    def open_pull_requests(self, repo: str) -> list[PullRequest]:
        pulls = self._pulls if self._pulls is not None else demo_pull_requests(self._clock)
        return [pr for pr in pulls if pr.repo == repo]

    def probe(self) -> str:
        return "demo GitHub (made-up pull requests)"


@dataclass(frozen=True)
class DemoSilence:
    id: str
    matchers: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    expired: bool = False


class DemoAlertmanager:
    """Silences kept in memory; refuses what the real Alertmanager refuses (no matchers, end before start)."""

    demo = True
    where = "demo-alertmanager:9093"

    def __init__(self, clock: Clock | None = None) -> None:
        self._clock = clock or SystemClock()
        self.silences: dict[str, DemoSilence] = {}

    def create_silence(self, matchers: Mapping[str, str], ends_at: datetime, created_by: str, comment: str,
                       starts_at: datetime | None = None) -> str:
        starts_at = starts_at or self._clock.now()
        if not matchers or ends_at <= starts_at:
            error = "at least one matcher required" if not matchers else "start time must be before end time"
            raise BackendError("alertmanager", code="alertmanager_rejected",
                               params={"where": self.where, "status": "HTTP 400", "error": error})
        silence = DemoSilence(id=str(uuid.uuid4()), matchers=dict(matchers), starts_at=starts_at, ends_at=ends_at,
                              created_by=created_by, comment=comment)
        self.silences[silence.id] = silence
        return silence.id

    def expire_silence(self, silence_id: str) -> None:
        if silence_id not in self.silences:
            raise BackendError("alertmanager", code="alertmanager_silence_not_found",
                               params={"where": self.where, "status": "HTTP 500", "error": "silence not found",
                                       "id": silence_id})
        self.silences[silence_id] = replace(self.silences[silence_id], expired=True)

    def active(self) -> list[DemoSilence]:
        now = self._clock.now()
        return [s for s in self.silences.values() if not s.expired and s.starts_at <= now < s.ends_at]

    def probe(self) -> str:
        return f"demo Alertmanager ({len(self.active())} active silences, kept in memory)"


if TYPE_CHECKING:  # mypy proves that each demo twin satisfies the same Protocol as its real client
    _prometheus: type[PrometheusSource] = DemoPrometheus
    _kube: type[KubeSource] = DemoKube
    _kube_evidence: type[KubeEvidenceSource] = DemoKube
    _aws: type[CostSource] = DemoAws
    _github: type[GitHubSource] = DemoGitHub
    _alertmanager: type[SilenceSource] = DemoAlertmanager
