"""The bench/gpu.py cluster: a seeded GPU fleet with its DCGM history and Kubernetes objects, and the process
that serves it (Prometheus backfilled by promtool, the Kubernetes API fixture) apart from the bot's.

The same arguments always give the same cluster, so a run can be compared with the next one.
"""

from __future__ import annotations

import math
import random
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from types import FrameType
from typing import Any

import common  # noqa: F401  (puts the repository root on sys.path, for `tests.support`)

from tests.support.dcgm import (
    ECC_DBE,
    FB_FREE,
    FB_USED,
    PROF,
    TEMP,
    THROTTLE,
    THROTTLE_HW_THERMAL,
    THROTTLE_SW_THERMAL,
    UTIL,
    XID,
    Gpu,
    Series,
    backfilled_prometheus,
    constant,
    steps,
)
from tests.support.kube_api import (
    KubeApi,
    Obj,
    container,
    container_status,
    failed_scheduling,
    node,
    pod,
)

SEED = 20261124
OPERATOR_NS = "gpu-operator"
POOL_LABEL = "karpenter.sh/nodepool"
# modelName as DCGM reports it, nvidia.com/gpu.product as GPU feature discovery labels the node, MiB, share
MODELS = {
    "NVIDIA H100 80GB HBM3": ("NVIDIA-H100-80GB-HBM3", 81559, 0.40),
    "NVIDIA A100-SXM4-80GB": ("NVIDIA-A100-SXM4-80GB", 81920, 0.30),
    "NVIDIA L40S": ("NVIDIA-L40S", 46068, 0.20),
    "NVIDIA L4": ("NVIDIA-L4", 23034, 0.10),
}
PROFILING = ("NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB")  # DCGM_FI_PROF_* on these only
POOLS = {"NVIDIA H100 80GB HBM3": ("h100-reserved", "h100-ondemand", "h100-spot"),
         "NVIDIA A100-SXM4-80GB": ("a100-reserved", "a100-ondemand", "a100-spot"),
         "NVIDIA L40S": ("l40s-ondemand", "l40s-spot"), "NVIDIA L4": ("l4-ondemand", "l4-spot")}
WORKLOADS = (("train", "trainer"), ("finetune", "trainer"), ("vllm", "vllm"), ("triton", "server"),
             ("notebook", "jupyter"), ("eval", "worker"))
SIZES = ((1, 0.55), (2, 0.35), (4, 0.10))  # GPUs per pod: 1.65 on average
IDLE_SHARE = 0.15  # of the running GPU pods: under 10 % for the last 20-60 minutes
PRIORITIES = (("research-low", 100), ("production-high", 100000))


@dataclass(frozen=True)
class NodeSpec:
    name: str
    model: str
    pool: str
    exporter: str  # the dcgm-exporter pod on this node
    exporter_hostname: bool  # DCGM's Hostname is the exporter pod's name (hostNetwork off), not the node's


@dataclass(frozen=True)
class PodSpec:
    namespace: str
    name: str
    container: str
    gpus: int
    node: str | None  # None: Pending, unschedulable
    labels: dict[str, str] = field(default_factory=dict)
    idle_since_s: float | None = None  # under 10 % since this many seconds before the end
    created_s: float = 4 * 3600  # created this many seconds before the end
    priority: tuple[str, int] | None = None
    attempts: int = 1  # FailedScheduling occurrences


@dataclass
class Cluster:
    nodes: list[NodeSpec]
    pods: list[PodSpec]  # running, holding GPUs
    pending: list[PodSpec]
    holders: dict[tuple[str, int], PodSpec]  # (node, GPU index) -> the pod holding it
    faults: dict[tuple[str, int], str]  # (node, GPU index) -> "xid79", "ecc", "thermal"
    gpus_per_node: int
    namespaces: list[str]

    def summary(self) -> dict[str, Any]:
        held = len(self.holders)
        idle = sum(p.gpus for p in self.pods if p.idle_since_s is not None)
        return {"nodes": len(self.nodes), "gpus": len(self.nodes) * self.gpus_per_node, "gpus_held": held,
                "gpus_held_idle": idle, "running_gpu_pods": len(self.pods), "pending_pods": len(self.pending),
                "namespaces": len(self.namespaces), "faulty_gpus": len(self.faults),
                "exporter_hostname_nodes": sum(n.exporter_hostname for n in self.nodes),
                "models": dict(Counter(n.model for n in self.nodes)), "pools": len({n.pool for n in self.nodes})}


def _choose(rng: random.Random, weighted: tuple[tuple[Any, float], ...]) -> Any:
    return rng.choices([value for value, _w in weighted], [w for _v, w in weighted])[0]


def make_nodes(rng: random.Random, count: int) -> list[NodeSpec]:
    models = tuple((model, share) for model, (_product, _mib, share) in MODELS.items())
    found = []
    for i in range(count):
        model = _choose(rng, models)
        exporter = "nvidia-dcgm-exporter-" + "".join(rng.choices("bcdfghjklmnpqrstvwxz2456789", k=5))
        found.append(NodeSpec(f"gpu-node-{i:04d}", model, rng.choice(POOLS[model]), exporter, i % 3 == 0))
    return found


def make_cluster(gpus: int, nodes: int, pods: int, namespaces: int = 40, seed: int = SEED) -> Cluster:
    """`nodes` nodes of gpus/nodes GPUs each, up to `pods` running GPU pods packed onto them, 3 % more Pending."""
    rng = random.Random(seed)
    per_node = max(1, gpus // nodes)
    fleet = make_nodes(rng, nodes)
    names = [f"team-{i:02d}" for i in range(namespaces)]
    running, holders = _place(rng, fleet, per_node, pods, names)
    pending = [_pending(rng, i, names) for i in range(max(1, pods * 3 // 100))]
    faults = _faults(rng, fleet, per_node, max(3, gpus // 1000))
    return Cluster(fleet, running, pending, holders, faults, per_node, names)


def _place(rng: random.Random, fleet: list[NodeSpec], per_node: int, pods: int,
           namespaces: list[str]) -> tuple[list[PodSpec], dict[tuple[str, int], PodSpec]]:
    free = {n.name: list(range(per_node)) for n in fleet}
    running: list[PodSpec] = []
    holders: dict[tuple[str, int], PodSpec] = {}
    for i in range(pods):
        size = min(_choose(rng, SIZES), per_node)
        host = _find_room(rng, fleet, free, size)
        if host is None:
            break
        spec = _running(rng, i, namespaces, size, host)
        running.append(spec)
        for index in free[host][:size]:
            holders[(host, index)] = spec
        del free[host][:size]
    return running, holders


def _find_room(rng: random.Random, fleet: list[NodeSpec], free: dict[str, list[int]], size: int) -> str | None:
    for _ in range(20):
        candidate = rng.choice(fleet).name
        if len(free[candidate]) >= size:
            return candidate
    return next((name for name, left in free.items() if len(left) >= size), None)


def _labels(rng: random.Random, namespace: str) -> dict[str, str]:
    labels = {"app.kubernetes.io/managed-by": "kubeflow"} if rng.random() < 0.2 else {}
    if rng.random() < 0.5:
        labels["owner"] = f"U{rng.randrange(16**8):08X}"
    if rng.random() < 0.3:
        labels["team"] = namespace
    return labels


def _running(rng: random.Random, i: int, namespaces: list[str], size: int, host: str) -> PodSpec:
    namespace = rng.choice(namespaces)
    workload, container_name = rng.choice(WORKLOADS)
    idle = rng.uniform(20 * 60, 60 * 60) if rng.random() < IDLE_SHARE else None
    return PodSpec(namespace, f"{workload}-{i:05d}", container_name, size, host, _labels(rng, namespace),
                   idle_since_s=idle, created_s=rng.uniform(65 * 60, 72 * 3600))


def _pending(rng: random.Random, i: int, namespaces: list[str]) -> PodSpec:
    namespace = rng.choice(namespaces)
    workload, container_name = rng.choice(WORKLOADS[:2])
    priority = rng.choice(PRIORITIES) if rng.random() < 0.4 else None
    return PodSpec(namespace, f"{workload}-queued-{i:04d}", container_name, rng.choice((1, 2, 4, 8)), None,
                   _labels(rng, namespace), created_s=rng.uniform(5 * 60, 3 * 3600), priority=priority,
                   attempts=rng.randint(1, 40))


def _faults(rng: random.Random, fleet: list[NodeSpec], per_node: int, count: int) -> dict[tuple[str, int], str]:
    kinds = ("xid79", "xid13", "ecc", "thermal")
    chosen = rng.sample([(n.name, g) for n in fleet for g in range(per_node)], min(count, len(fleet) * per_node))
    return {where: kinds[i % len(kinds)] for i, where in enumerate(chosen)}


# --------------------------------------------------------------------------- DCGM series


def _busy(base: float, phase: float, idle_since: float | None, idle_level: float) -> Series:
    def util(age: float) -> float:
        if idle_since is not None and age < idle_since:
            return idle_level
        return float(round(min(100.0, max(10.0, base + 9 * math.sin(age / 420 + phase)))))
    return util


def _scaled(series: Series, factor: float, offset: float = 0.0, digits: int = 3) -> Series:
    def value(age: float) -> float | None:
        found = series(age)
        return None if found is None else round(offset + found * factor, digits)
    return value


def gpu_series(cluster: Cluster, seed: int = SEED) -> list[Gpu]:
    """Every GPU's DCGM series, labelled as dcgm-exporter (and Kubernetes service discovery) label them."""
    rng = random.Random(seed + 1)
    found = []
    for spec in cluster.nodes:
        for index in range(cluster.gpus_per_node):
            holder = cluster.holders.get((spec.name, index))
            fault = cluster.faults.get((spec.name, index))
            found.append(Gpu(spec.exporter if spec.exporter_hostname else spec.name, str(index), model=spec.model,
                             uuid=f"GPU-{rng.getrandbits(64):016x}", labels=_gpu_labels(spec, holder),
                             metrics=_metrics(rng, spec.model, holder, fault)))
    return found


def _gpu_labels(spec: NodeSpec, holder: PodSpec | None) -> dict[str, str]:
    workload = {"namespace": holder.namespace, "pod": holder.name, "container": holder.container} if holder else {}
    if not spec.exporter_hostname:
        return workload
    # Scraped through Kubernetes service discovery: the target's own pod labels win, DCGM's become exported_*.
    return {"namespace": OPERATOR_NS, "pod": spec.exporter, **{f"exported_{k}": v for k, v in workload.items()}}


def _metrics(rng: random.Random, model: str, holder: PodSpec | None, fault: str | None) -> dict[str, Series]:
    total = MODELS[model][1]
    if holder is None:
        util: Series = constant(0)
        used = float(rng.choice((0, 1, 3)))
    else:
        util = _busy(rng.uniform(45, 95), rng.uniform(0, 6.3), holder.idle_since_s, float(rng.randint(0, 9)))
        used = float(int(total * rng.uniform(0.35, 0.97)))
    metrics: dict[str, Series] = {UTIL: util, FB_USED: constant(used), FB_FREE: constant(total - used),
                                  TEMP: _scaled(util, 0.45, 31 + rng.randint(0, 6), 0)}
    if model in PROFILING:
        metrics[PROF] = _scaled(util, 0.0085)
    if fault:
        metrics.update(_fault_series(fault, metrics[TEMP]))
    return metrics


def _fault_series(fault: str, temp: Series) -> dict[str, Series]:
    if fault == "xid79":  # fell off the bus 12 minutes ago
        return {XID: steps((3600, 0), (720, 79))}
    if fault == "xid13":
        return {XID: steps((3600, 0), (1500, 13))}
    if fault == "ecc":
        return {XID: steps((3600, 0), (300, 48)), ECC_DBE: steps((3600, 0), (300, 2))}
    return {TEMP: steps((3600, 71), (600, 91)),
            THROTTLE: steps((3600, 0), (600, THROTTLE_SW_THERMAL | THROTTLE_HW_THERMAL))}


# --------------------------------------------------------------------------- Kubernetes objects


def kube_objects(cluster: Cluster, end: datetime) -> list[Obj]:
    """Nodes, the exporter DaemonSet's pods, the running GPU pods, the Pending ones and their FailedScheduling."""
    objects = [_node(spec, cluster.gpus_per_node) for spec in cluster.nodes]
    objects += [pod(OPERATOR_NS, spec.exporter, spec.name, [container("nvidia-dcgm-exporter")],
                    statuses=[container_status("nvidia-dcgm-exporter")], labels={"app": "nvidia-dcgm-exporter"},
                    created=end - timedelta(days=20)) for spec in cluster.nodes]
    objects += [pod(p.namespace, p.name, p.node, [container(p.container, p.gpus)],
                    statuses=[container_status(p.container)], labels=p.labels,
                    created=end - timedelta(seconds=p.created_s)) for p in cluster.pods]
    message = (f"0/{len(cluster.nodes)} nodes are available: {len(cluster.nodes)} Insufficient nvidia.com/gpu. "
               f"preemption: 0/{len(cluster.nodes)} nodes are available: {len(cluster.nodes)} No preemption "
               "victims found for incoming pod.")
    for p in cluster.pending:
        created = end - timedelta(seconds=p.created_s)
        class_name, value = p.priority or (None, None)
        objects.append(pod(p.namespace, p.name, None, [container(p.container, p.gpus)], labels=p.labels,
                           created=created, priority_class=class_name, priority=value, unschedulable=message))
        objects.append(failed_scheduling(p.namespace, p.name, message, event_time=created + timedelta(seconds=2),
                                         count=p.attempts, last_observed=end - timedelta(seconds=p.created_s % 300),
                                         uid=f"fs-{p.name}"))
    return objects


def _node(spec: NodeSpec, gpus: int) -> Obj:
    found = node(spec.name, gpus, MODELS[spec.model][0])
    found["metadata"]["labels"][POOL_LABEL] = spec.pool
    return found


# --------------------------------------------------------------------------- the fixture process


def _stop_on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)  # so that Prometheus (a process of its own) is stopped by the `with` below


def serve(sizes: dict[str, int], end: datetime, base_dir: str, conn: Connection) -> None:
    """Run in a child process: build the cluster, serve it, report {urls, timings, summary}, then answer
    "counts" with the Kubernetes request counts until "stop"."""
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.perf_counter()
    cluster = make_cluster(sizes["gpus"], sizes["nodes"], sizes["pods"])
    gpus = gpu_series(cluster)
    built = time.perf_counter() - started
    with KubeApi(keep_requests=False) as api, \
            backfilled_prometheus(tempfile.mkdtemp(prefix="bench-gpu-", dir=base_dir), gpus, end) as prom:
        api.put(*kube_objects(cluster, end))
        source = Path(prom.work_dir or ".", "dcgm.om.txt")
        size = source.stat().st_size
        source.unlink()  # ~0.5 GB at full size; the blocks are what Prometheus reads
        conn.send({"prometheus": prom.url, "kube": api.url, "samples": prom.samples,
                   "timings": {"dataset": built, **prom.timings}, "openmetrics_bytes": size,
                   "summary": cluster.summary(), "nodes": [n.name for n in cluster.nodes]})
        while (message := conn.recv()) != "stop":
            conn.send(api.request_counts() if message == "counts" else None)
