"""GPU utilization, allocation and idle GPUs, for a team's namespaces or the whole organisation.

Prometheus (DCGM) says how busy each GPU is; Kubernetes says how many GPUs each node has
and which pods hold them. DCGM's `Hostname` label may be the exporter pod's name rather than
the node's, so each Hostname is matched to a Kubernetes node when possible (by name, by a
`node` label, or through a pod it reports) and shown as is otherwise.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from bot.clients import GpuSample, KubeSource, NodeGpus, PodGpus, PrometheusSource
from bot.clock import Clock
from bot.gpu.model import GpuSummary, IdleGpu, NodeRow
from bot.settings import Team


class GpuService:
    def __init__(self, prom: PrometheusSource, kube: KubeSource, clock: Clock,
                 idle_threshold_pct: float) -> None:
        self._prom = prom
        self._kube = kube
        self._clock = clock
        self._threshold = idle_threshold_pct

    def summary(self, team: Team) -> GpuSummary:
        namespaces = tuple(team.namespaces)
        samples = self._prom.gpu_samples()
        nodes = self._kube.gpu_nodes()
        pods = [p for p in self._kube.gpu_pods(list(namespaces) or None) if p.holds_gpus]
        view = _View(samples, nodes, pods, namespaces)
        rows = view.rows()
        team_name = team.name if namespaces else None
        return GpuSummary(
            team=team_name,
            namespaces=namespaces,
            total_gpus=sum(r.allocated for r in rows) if namespaces else sum(r.gpus for r in rows),
            allocated_gpus=sum(r.allocated for r in rows),
            avg_util_pct=_mean(s.util_pct for s in view.in_scope),
            nodes=rows,
            idle=view.idle(self._threshold),
            threshold_pct=self._threshold,
            demo=bool(self._prom.demo or self._kube.demo),
            as_of=self._clock.now(),
        )


class _View:
    """The samples, nodes and pods of one summary, joined on node names."""

    def __init__(self, samples: list[GpuSample], nodes: list[NodeGpus], pods: list[PodGpus],
                 namespaces: tuple[str, ...]) -> None:
        self.nodes = {n.name: n for n in nodes}
        self.pods = pods
        self.held = {(p.namespace, p.pod) for p in pods}
        self.node_of = _resolve_hostnames(samples, self.nodes, pods)
        self.in_scope = [s for s in samples if not namespaces or s.namespace in namespaces]
        self.scoped = bool(namespaces)

    def holder(self, sample: GpuSample) -> tuple[str | None, str | None]:
        # A pod label counts only for a pod Kubernetes says holds GPUs (not e.g. the exporter's own pod).
        if sample.pod and (sample.namespace, sample.pod) in self.held:
            return sample.namespace, sample.pod
        return None, None

    def rows(self) -> list[NodeRow]:
        by_node: dict[str, list[GpuSample]] = defaultdict(list)
        for sample in self.in_scope:
            by_node[self.node_of[sample.hostname]].append(sample)
        allocated: dict[str, int] = defaultdict(int)
        for pod in self.pods:
            allocated[pod.node or "?"] += pod.gpus
        names = set(by_node) | set(allocated) | (set() if self.scoped else set(self.nodes))
        return [self._row(name, by_node.get(name, []), allocated.get(name, 0)) for name in sorted(names)]

    def _row(self, name: str, samples: list[GpuSample], allocated: int) -> NodeRow:
        node = self.nodes.get(name)
        model = (samples[0].model if samples else "") or (node.model if node and node.model else "")
        return NodeRow(node=name, model=model, gpus=node.gpus if node else len(samples), allocated=allocated,
                       avg_util_pct=_mean(s.util_pct for s in samples))

    def idle(self, threshold: float) -> list[IdleGpu]:
        found = []
        for sample in self.in_scope:
            if sample.util_pct is None or sample.util_pct >= threshold:
                continue
            namespace, pod = self.holder(sample)
            if self.scoped and pod is None:
                continue
            found.append(IdleGpu(node=self.node_of[sample.hostname], gpu=sample.gpu, model=sample.model,
                                 util_pct=sample.util_pct, namespace=namespace, pod=pod))
        return sorted(found, key=lambda g: (not g.allocated, g.node, _gpu_order(g.gpu)))


def _resolve_hostnames(samples: list[GpuSample], nodes: dict[str, NodeGpus],
                       pods: list[PodGpus]) -> dict[str, str]:
    """DCGM Hostname → Kubernetes node name; the Hostname itself when nothing matches."""
    pod_node = {(p.namespace, p.pod): p.node for p in pods if p.node}
    resolved: dict[str, str] = {}
    for sample in samples:
        known = resolved.get(sample.hostname)
        if known in nodes:
            continue
        candidates = [sample.hostname, sample.node, pod_node.get((sample.namespace or "", sample.pod or ""))]
        resolved[sample.hostname] = next((c for c in candidates if c and c in nodes), sample.hostname)
    return resolved


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _gpu_order(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)
