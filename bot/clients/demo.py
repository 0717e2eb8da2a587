"""Made-up but realistic backends behind the real clients' interfaces (`python -m bot shell --demo`).

Three GPU nodes (two H100, one A100 whose DCGM Hostname is the exporter pod's name), pods in
ml-train and ml-infer with a few GPUs allocated but idle, AWS costs for ml / platform / untagged
(ml burns more than 30 cups of coffee an hour) with their GPU instances and pipeline snapshots, and three
pull requests waiting for review in the repositories of config/demo.yaml, and an Alertmanager that keeps
its silences in memory. Each constructor takes optional data so tests can bring their own.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from bot.clients import (
    ActionResult,
    AwsSource,
    ContainerState,
    CostAnswer,
    CostQuery,
    CostRow,
    Forecast,
    GitHubSource,
    GpuCluster,
    GpuNode,
    GpuPod,
    GpuProblem,
    GpuQuery,
    GpuReading,
    ImageUse,
    Instance,
    KubeEvent,
    KubeEvidenceSource,
    KubeSource,
    NodeHealth,
    OpenPulls,
    PermissionProbe,
    PodState,
    PrometheusSource,
    PullRequest,
    RecycleRule,
    ReviewRequest,
    SilenceSource,
    Snapshot,
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


# Cost shares: each team's daily cost split by project tag and by service (Cost Explorer's SERVICE names).
_PROJECT_SHARES: dict[str | None, dict[str | None, float]] = {
    "ml": {"llm-pretrain": 0.62, "finetune": 0.18, "eval": 0.12, None: 0.08},
    "platform": {"ci": 0.45, "observability": 0.35, "inference-gateway": 0.20},
    None: {None: 1.0},
}
_SERVICE_SHARES: dict[str | None, dict[str, float]] = {
    "ml": {"Amazon Elastic Compute Cloud - Compute": 0.71, "Amazon SageMaker": 0.12, "EC2 - Other": 0.09,
           "Amazon Simple Storage Service": 0.08},
    "platform": {"Amazon Elastic Compute Cloud - Compute": 0.48, "Amazon Relational Database Service": 0.22,
                 "Amazon Simple Storage Service": 0.14, "Amazon Elastic Kubernetes Service": 0.09,
                 "Amazon CloudWatch": 0.07},
    None: {"Amazon Simple Storage Service": 0.55, "EC2 - Other": 0.30, "AWS Key Management Service": 0.15},
}
DEMO_SERVICES = tuple(sorted({service for shares in _SERVICE_SHARES.values() for service in shares}))
DLM_TAG = "aws:dlm:lifecycle-policy-id"


def _demo_id(prefix: str, name: str) -> str:
    """A stable id shaped like AWS's (i-, snap-, ami- and 17 hex digits)."""
    return f"{prefix}-0{hashlib.sha256(name.encode()).hexdigest()[:16]}"


# name, type, state, team, owner, project, launched hours ago, extra tags
_INSTANCES: list[tuple[str, str, str, str | None, str | None, str | None, float, dict[str, str]]] = [
    ("llm-pretrain-1", "p4d.24xlarge", "running", "ml", "wei-zhang", "llm-pretrain", 30.5, {}),
    ("llm-pretrain-2", "p4d.24xlarge", "running", "ml", "wei-zhang", "llm-pretrain", 30.5,
     {"keep-running": "true"}),
    ("finetune-lora-7b", "g5.12xlarge", "running", "ml", "sam-o", "finetune", 5.2, {}),
    ("notebook-lena", "g5.12xlarge", "running", "ml", "lena-k", "eval", 9.0, {}),
    ("eval-sweep-old", "g5.12xlarge", "stopped", "ml", "maria-s", "eval", 20 * 24.0, {}),
    ("inference-canary", "g6e.xlarge", "running", "platform", "chen-li", "inference-gateway", 3.0, {}),
    ("ci-runner-1", "m6i.2xlarge", "running", "platform", "ci", "ci", 6 * 24.0, {}),
    ("ci-runner-2", "m6i.2xlarge", "running", "platform", "ci", "ci", 6 * 24.0, {}),
    ("prometheus-0", "m6i.xlarge", "running", "platform", "chen-li", "observability", 41 * 24.0, {}),
    ("bastion", "t3.medium", "running", None, None, None, 90 * 24.0, {}),
]

# name, GiB, days old, tags, description
_SNAPSHOTS: list[tuple[str, int, int, dict[str, str], str]] = [
    ("nightly-train-1", 1500, 187, {"pipeline": "nightly-train", "team": "ml"}, ""),
    ("nightly-train-2", 1500, 152, {"pipeline": "nightly-train", "team": "ml"}, ""),
    ("nightly-train-3", 1500, 118, {"pipeline": "nightly-train", "team": "ml"}, ""),
    ("nightly-train-4", 1500, 81, {"pipeline": "nightly-train", "team": "ml"}, ""),
    ("nightly-train-5", 1500, 47, {"pipeline": "nightly-train", "team": "ml"}, ""),
    ("feature-extract-1", 800, 133, {"pipeline": "feature-extract", "team": "ml"}, ""),
    ("feature-extract-2", 800, 64, {"pipeline": "feature-extract", "team": "ml"}, ""),
    ("eval-datasets-1", 250, 96, {"pipeline": "eval-datasets", "team": "ml"}, ""),
    ("ci-cache-1", 100, 172, {"pipeline": "ci-cache", "team": "platform"}, ""),
    ("ci-cache-2", 100, 58, {"pipeline": "ci-cache", "team": "platform", DLM_TAG: "policy-0a1b2c3d4e5f67890"}, ""),
    ("golden-image-root", 200, 143, {}, "Created by CI pipeline for ami build golden-2026-q2"),
    ("postgres-before-migration", 500, 12, {"team": "platform"}, "manual backup before the orders migration"),
]
_SNAPSHOT_IN_USE = "golden-image-root"  # the root volume of a disabled AMI


class DemoAws:
    """Cost Explorer, EC2 and Recycle Bin of a made-up account, kept in memory: teams `ml` and `platform`
    (team and project tags, a few services), GPU instances for ml (one tagged keep-running=true) and platform,
    a dozen pipeline snapshots 40–200 days old (one the root of a disabled AMI, one managed by Data Lifecycle
    Manager), and one 7-day Recycle Bin rule (`recycle_days=None`: none). Stops and deletes change only this
    object. `requests` counts Cost Explorer requests, as AWS bills them."""

    demo = True

    def __init__(self, daily_usd: dict[str | None, float] | None = None, clock: Clock | None = None,
                 recycle_days: int | None = 7, instances: list[Instance] | None = None,
                 snapshots: list[Snapshot] | None = None, images: dict[str, ImageUse] | None = None) -> None:
        self.daily_usd = dict(_DAILY_USD if daily_usd is None else daily_usd)
        self.requests = 0  # Cost Explorer bills every request; tests count them
        self._clock = clock or SystemClock()
        now = self._clock.now().replace(second=0, microsecond=0)
        self.instances_by_id = {i.id: i for i in (demo_instances(now) if instances is None else instances)}
        self.snapshots_by_id = {s.id: s for s in (demo_snapshots(now) if snapshots is None else snapshots)}
        self.images = dict(demo_images() if images is None else images)
        self.rules = [] if recycle_days is None else [RecycleRule("rbin-demo-ebs-snapshots", recycle_days, {})]

    # Cost Explorer: every team's daily cost, split by project and service, with a stable ±8 % daily wobble.
    def costs(self, query: CostQuery) -> CostAnswer:
        if query.tag_key and not query.tag_values:
            return CostAnswer(rows=(), requests=0)  # matches nothing: AwsClient asks nothing either
        self.requests += 1
        totals: dict[tuple[date, str | None], float] = defaultdict(float)
        for day, tags, service, usd in self._cells(query.start, query.end, query.tag_key, query.tag_values):
            if query.group_kind is None:
                key = None
            elif query.group_kind == "DIMENSION":
                key = service if query.group_key == "SERVICE" else None
            else:
                key = tags.get(query.group_key)
            totals[(day, key)] += usd
        rows = tuple(CostRow(day, key, round(usd, 2)) for (day, key), usd in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or "")))
        return CostAnswer(rows=rows, requests=1)

    def forecast(self, start: date, end: date, tag_key: str | None = None,
                 tag_values: tuple[str, ...] = ()) -> Forecast:
        if tag_key and not tag_values:
            return Forecast(usd=None, requests=0)
        self.requests += 1
        usd = sum(usd for _, _, _, usd in self._cells(start, end, tag_key, tag_values))
        return Forecast(usd=round(usd, 2), requests=1)

    def _cells(self, start: date, end: date, tag_key: str | None, tag_values: tuple[str, ...]) \
            -> Iterator[tuple[date, dict[str, str], str, float]]:
        day = start
        while day < end:
            wobble = 1 + ((day.toordinal() * 37) % 17 - 8) / 100
            for team, usd in self.daily_usd.items():
                services = _SERVICE_SHARES.get(team, _SERVICE_SHARES[None])
                for project, project_share in _PROJECT_SHARES.get(team, {None: 1.0}).items():
                    tags = {key: value for key, value in (("team", team), ("project", project)) if value}
                    if tag_key and tags.get(tag_key) not in tag_values:
                        continue
                    for service, service_share in services.items():
                        yield day, tags, service, usd * wobble * project_share * service_share
            day += timedelta(days=1)

    # EC2
    def instances(self, states: tuple[str, ...] = ("running",), tags: Mapping[str, tuple[str, ...]] | None = None,
                  families: tuple[str, ...] = ()) -> list[Instance]:
        return [i for i in self.instances_by_id.values()
                if (not states or i.state in states) and (not families or i.family in families)
                and all(key in i.tags and (not values or i.tags[key] in values)
                        for key, values in (tags or {}).items())]

    def stop_instances(self, ids: list[str]) -> list[ActionResult]:
        results = []
        for instance_id in ids:
            instance = self.instances_by_id.get(instance_id)
            if instance is None:
                results.append(ActionResult(instance_id, False, "InvalidInstanceID.NotFound",
                                            f"The instance ID '{instance_id}' does not exist"))
                continue
            self.instances_by_id[instance_id] = replace(instance, state="stopped")
            results.append(ActionResult(instance_id, True))
        return results

    def snapshots(self) -> list[Snapshot]:
        return list(self.snapshots_by_id.values())

    def images_using(self) -> dict[str, ImageUse]:
        return dict(self.images)

    def delete_snapshot(self, snapshot_id: str) -> ActionResult:
        if snapshot_id not in self.snapshots_by_id:
            return ActionResult(snapshot_id, False, "InvalidSnapshot.NotFound",
                                f"The snapshot '{snapshot_id}' does not exist.")
        if snapshot_id in self.images:
            image = self.images[snapshot_id].image_id
            return ActionResult(snapshot_id, False, "InvalidSnapshot.InUse",
                                f"The snapshot {snapshot_id} is currently in use by {image}")
        del self.snapshots_by_id[snapshot_id]
        return ActionResult(snapshot_id, True)

    def recycle_rules(self) -> list[RecycleRule] | None:
        return list(self.rules)

    def permissions(self, actions: tuple[str, ...]) -> list[PermissionProbe]:
        return [PermissionProbe(action, True, "simulate", "demo: everything is allowed") for action in actions]

    def probe(self) -> str:
        return "demo AWS (made-up Cost Explorer costs, EC2 instances and EBS snapshots)"


def demo_instances(now: datetime) -> list[Instance]:
    instances = []
    for number, (name, type_, state, team, owner, project, hours, extra) in enumerate(_INSTANCES, start=11):
        tags = {"Name": name, **{key: value for key, value in
                                 (("team", team), ("owner", owner), ("project", project)) if value}, **extra}
        instances.append(Instance(id=_demo_id("i", name), type=type_, state=state,
                                  launched=now - timedelta(hours=hours), tags=tags,
                                  private_dns=f"ip-10-0-{number // 10}-{number}.ec2.internal"))
    return instances


def demo_snapshots(now: datetime) -> list[Snapshot]:
    snapshots = []
    for name, gib, days, tags, description in _SNAPSHOTS:
        pipeline = tags.get("pipeline")
        started = now - timedelta(days=days, hours=3)
        if pipeline:
            tags = {"created-by": "pipeline", **tags}
            description = description or f"Created by pipeline {pipeline} run {started:%Y-%m-%d}"
        snapshots.append(Snapshot(id=_demo_id("snap", name), gib=gib, started=started, description=description,
                                  tags={"Name": name, **tags}))
    return snapshots


def demo_images() -> dict[str, ImageUse]:
    return {_demo_id("snap", _SNAPSHOT_IN_USE): ImageUse(_demo_id("ami", "golden-2026-q2"), "disabled")}


def demo_pull_requests(clock: Clock) -> list[PullRequest]:
    now = clock.now()
    gateway, trainer = "acme/inference-gateway", "acme/trainer"

    def asked(*logins: str, hours: float = 0, team: bool = False) -> tuple[ReviewRequest, ...]:
        return tuple(ReviewRequest(login, team=team, requested_at=now - timedelta(hours=hours)) for login in logins)
    return [
        PullRequest(repo=gateway, number=412, title="Autoscale vLLM replicas on queue depth",
                    url=f"https://github.com/{gateway}/pull/412", author="wei-zhang",
                    created_at=now - timedelta(days=3, hours=4), requests=asked("lena-k", hours=76),
                    body="Unblocks the GPU right-sizing rollout: replicas follow the request queue.",
                    additions=212, deletions=40, changed_files=6, labels=("inference",), ci="SUCCESS"),
        PullRequest(repo=gateway, number=418, title="vLLM: bump to 0.6 and enable prefix caching",
                    url=f"https://github.com/{gateway}/pull/418", author="maria-s",
                    created_at=now - timedelta(hours=26), requests=asked("chen-li", "sam-o", hours=26),
                    body="Cuts time-to-first-token by a third for chat traffic.",
                    additions=18, deletions=6, changed_files=2, ci="PENDING"),
        PullRequest(repo=gateway, number=420, title="Bump boto3 from 1.35.0 to 1.35.8",
                    url=f"https://github.com/{gateway}/pull/420", author="dependabot[bot]",
                    created_at=now - timedelta(hours=30), additions=2, deletions=2, changed_files=1),
        PullRequest(repo=trainer, number=97, title="修复 checkpoint 上传到 S3 的 retry 逻辑",
                    url=f"https://github.com/{trainer}/pull/97", author="liu-yang",
                    created_at=now - timedelta(hours=5), requests=asked("acme/ml-infra", hours=5, team=True),
                    body="训练任务中断后可以从最近的 checkpoint 恢复。", additions=64, deletions=12, changed_files=3,
                    ci="FAILURE"),
        PullRequest(repo=trainer, number=99, title="WIP: FSDP config for 70B",
                    url=f"https://github.com/{trainer}/pull/99", author="sam-o",
                    created_at=now - timedelta(days=6), requests=asked("lena-k", hours=144), draft=True),
    ]


class DemoGitHub:
    """Pull requests of acme/inference-gateway and acme/trainer (the repos of config/demo.yaml):
    three wait for review, one is a draft, one has no reviewer. Other repositories have none."""

    demo = True

    def __init__(self, clock: Clock | None = None, pulls: list[PullRequest] | None = None) -> None:
        self._clock = clock or SystemClock()
        self._pulls = pulls

    def _all(self) -> list[PullRequest]:
        return self._pulls if self._pulls is not None else demo_pull_requests(self._clock)

    def open_pulls(self, repos: Sequence[str]) -> OpenPulls:
        wanted = set(repos)
        pulls = sorted((pr for pr in self._all() if pr.repo in wanted and pr.state == "OPEN"),
                       key=lambda pr: (pr.created_at, pr.repo, pr.number))
        return OpenPulls(pulls=tuple(pulls))

    def pull(self, repo: str, number: int) -> PullRequest | None:
        return next((pr for pr in self._all() if pr.repo == repo and pr.number == number), None)

    def teams_of(self, login: str, orgs: Sequence[str]) -> tuple[str, ...]:
        return ("acme/ml-infra",) if login in {"lena-k", "chen-li"} and "acme" in orgs else ()

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
    _aws: type[AwsSource] = DemoAws
    _github: type[GitHubSource] = DemoGitHub
    _alertmanager: type[SilenceSource] = DemoAlertmanager
