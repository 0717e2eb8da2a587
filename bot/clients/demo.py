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
    GpuSample,
    KubeEvent,
    KubeEvidenceSource,
    KubeSource,
    NodeGpus,
    NodeHealth,
    PodGpus,
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


def demo_samples() -> list[GpuSample]:
    samples = []
    for node, hostname, model, gpus in _GPUS:
        for index, (util, namespace, pod) in enumerate(gpus):
            used = 0.0 if pod is None else round(FB_TOTAL_MIB * min(0.95, 0.2 + util / 100), 0)
            samples.append(GpuSample(
                hostname=hostname, gpu=str(index), uuid=f"GPU-{node}-{index}",
                model=model, util_pct=float(util), fb_used_mib=used, fb_free_mib=FB_TOTAL_MIB - used,
                namespace=namespace, pod=pod, container=None if pod is None else "main"))
    return samples


def demo_nodes() -> list[NodeGpus]:
    return [NodeGpus(name=node, gpus=len(gpus), model=_NODE_LABEL_MODEL[model])
            for node, _hostname, model, gpus in _GPUS]


def demo_pods() -> list[PodGpus]:
    counts: dict[tuple[str, str, str], int] = {}
    for node, _hostname, _model, gpus in _GPUS:
        for _util, namespace, pod in gpus:
            if namespace and pod:
                counts[(namespace, pod, node)] = counts.get((namespace, pod, node), 0) + 1
    running = [PodGpus(namespace=ns, pod=pod, node=node, phase="Running", gpus=n)
               for (ns, pod, node), n in counts.items()]
    finished = PodGpus(namespace="ml-train", pod="nightly-eval-28", node="gpu-h100-2", phase="Succeeded",
                       gpus=1)
    return [*running, finished]


class DemoPrometheus:
    demo = True

    def __init__(self, samples: list[GpuSample] | None = None) -> None:
        self.samples = demo_samples() if samples is None else samples

    def gpu_samples(self) -> list[GpuSample]:
        return list(self.samples)

    def probe(self) -> str:
        return f"demo Prometheus (made-up DCGM metrics, {len(self.samples)} GPU series)"


VLLM = "registry.example.com/vllm-openai"


class DemoKube:
    """GPU nodes and pods; and an incident's evidence in ml-infer: vLLM rolled out to 0.6.0 18 minutes ago and
    crash-looping since, an embeddings pod OOMKilled, gpu-a100-1 under memory pressure."""

    demo = True

    def __init__(self, nodes: list[NodeGpus] | None = None, pods: list[PodGpus] | None = None,
                 clock: Clock | None = None) -> None:
        self.gpu_node_list = demo_nodes() if nodes is None else nodes
        self.gpu_pod_list = demo_pods() if pods is None else pods
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

    def gpu_nodes(self) -> list[NodeGpus]:
        return list(self.gpu_node_list)

    def gpu_pods(self, namespaces: list[str] | None = None) -> list[PodGpus]:
        return [p for p in self.gpu_pod_list if not namespaces or p.namespace in namespaces]

    def probe(self) -> str:
        return f"demo Kubernetes ({len(self.gpu_node_list)} GPU nodes, {sum(n.gpus for n in self.gpu_node_list)} GPUs)"


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
