"""DCGM readings joined with Kubernetes: each GPU's node, holder, owner, team, idleness and price, in a scope.

dcgm-exporter's `Hostname` may be the exporter pod's name rather than the node's (dcgm-exporter#78), so each
Hostname is matched to a Kubernetes node by name, by a node label on the series, by the exporter pod's
`spec.nodeName`, or through the pod holding the GPU; it is shown as is when nothing matches.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clients import GpuCluster, GpuNode, GpuPod, GpuReading
from bot.gpu.model import Fleet, Gpu, Holder, NodeRow, Scope
from bot.gpu.pricing import price_per_hour


@dataclass(frozen=True)
class Rules:
    """What the join needs from the configuration."""

    threshold_pct: float
    prices: Mapping[str, float]
    owner_labels: tuple[str, ...]
    team_of_namespace: Mapping[str, str]
    teams: frozenset[str]


@dataclass(frozen=True)
class Observed:
    """One look at the cluster: what Prometheus and Kubernetes answered, when, over which window."""

    readings: list[GpuReading]
    cluster: GpuCluster | None  # None: Kubernetes could not be read
    at: datetime
    window: timedelta
    history: timedelta | None = None


def build_fleet(observed: Observed, scope: Scope, rules: Rules, snoozed: frozenset[str] = frozenset()) -> Fleet:
    join = _Join(observed, rules, snoozed)
    gpus = [gpu for gpu in join.gpus() if _in_scope(scope, gpu.node, gpu.holder)]
    pods = [pod for pod in join.pods if _in_scope(scope, pod.node, join.holder_of(pod))]
    return Fleet(scope=scope, gpus=tuple(_ordered(gpus)), nodes=tuple(join.node_rows(scope, gpus, pods)),
                 pods=tuple(pods), as_of=observed.at, window=observed.window, threshold_pct=rules.threshold_pct,
                 sources=Counter(g.util_source for g in gpus if g.util_source))


def _in_scope(scope: Scope, node: str | None, holder: Holder | None) -> bool:
    if scope.kind == "cluster":
        return True
    if scope.kind == "node":
        return node == scope.name
    if holder is None:
        return False
    return (holder.team if scope.kind == "team" else holder.namespace) == scope.name


def _ordered(gpus: Iterable[Gpu]) -> list[Gpu]:
    return sorted(gpus, key=lambda g: (g.node, _index(g.gpu), g.mig_profile or ""))


def _index(gpu: str) -> tuple[int, str]:
    return (int(gpu), "") if gpu.isdigit() else (1 << 30, gpu)


class _Join:
    def __init__(self, observed: Observed, rules: Rules, snoozed: frozenset[str]) -> None:
        self.observed = observed
        self.rules = rules
        self.snoozed = snoozed
        cluster = observed.cluster
        self.nodes: dict[str, GpuNode] = {n.name: n for n in cluster.nodes} if cluster else {}
        self.pods = list(cluster.pods) if cluster else []
        self.by_name = {(p.namespace, p.name): p for p in self.pods if p.holds_gpus}
        self.pod_nodes = dict(cluster.pod_nodes) if cluster else {}
        self._node_of: dict[tuple[str, str | None, str | None, str | None], str] = {}
        self._prices: dict[tuple[str, str | None], float] = {}

    def gpus(self) -> list[Gpu]:
        return [self._gpu(reading) for reading in self.observed.readings]

    def _gpu(self, reading: GpuReading) -> Gpu:
        holder = self._holder(reading)
        util = reading.util_pct
        idle = holder is not None and util is not None and util < self.rules.threshold_pct
        return Gpu(node=self._node(reading), gpu=reading.gpu, uuid=reading.uuid, model=reading.model,
                   util_pct=util, util_source=reading.util_source,
                   usd_per_hour=self._price(reading.model, reading.mig_profile),
                   mig_profile=reading.mig_profile, fb_used_mib=reading.fb_used_mib,
                   fb_free_mib=reading.fb_free_mib, temp_c=reading.temp_c, holder=holder,
                   problems=reading.problems, idle=idle,
                   idle_since=self._idle_since(reading, holder) if holder and idle else None,
                   snoozed=holder is not None and holder.key in self.snoozed)

    def _price(self, model: str, mig_profile: str | None) -> float:
        key = (model, mig_profile)
        if key not in self._prices:
            self._prices[key] = price_per_hour(model, mig_profile, self.rules.prices)
        return self._prices[key]

    def _node(self, reading: GpuReading) -> str:
        key = (reading.hostname, reading.node, reading.namespace, reading.pod)
        if key not in self._node_of:
            self._node_of[key] = self._resolve(reading)
        return self._node_of[key]

    def _resolve(self, reading: GpuReading) -> str:
        pod = self.by_name.get((reading.namespace or "", reading.pod or ""))
        candidates = (reading.hostname, reading.node, self.pod_nodes.get(reading.hostname), pod.node if pod else None)
        if not self.nodes:  # Kubernetes unknown: a node label beats a Hostname that may be a pod's name
            return reading.node or reading.hostname
        return next((c for c in candidates if c and c in self.nodes), reading.hostname)

    def _holder(self, reading: GpuReading) -> Holder | None:
        if not reading.pod or not reading.namespace or reading.pod == reading.hostname:
            return None  # no pod labels (free, not idle), or only the exporter's own (scraped without exported_*)
        pod = self.by_name.get((reading.namespace, reading.pod))
        if pod is None and self.observed.cluster is not None:
            return None  # not a pod holding GPUs now (e.g. the exporter's own pod labels)
        labels = pod.labels if pod else {}
        return Holder(namespace=reading.namespace, pod=reading.pod, container=reading.container,
                      owner=next((labels[k] for k in self.rules.owner_labels if labels.get(k)), None),
                      team=self._team(reading.namespace, labels), started=pod.created if pod else None)

    def holder_of(self, pod: GpuPod) -> Holder:
        return Holder(namespace=pod.namespace, pod=pod.name, container=None, owner=None,
                      team=self._team(pod.namespace, pod.labels), started=pod.created)

    def _team(self, namespace: str, labels: Mapping[str, str]) -> str | None:
        named = labels.get("team")
        if named in self.rules.teams:
            return named
        return self.rules.team_of_namespace.get(namespace)

    def _idle_since(self, reading: GpuReading, holder: Holder) -> datetime | None:
        history = self.observed.history
        if history is None:
            return None
        floor = self.observed.at - history  # never busy within the history: idle at least since its start
        return max(m for m in (reading.busy_at, holder.started, floor) if m is not None)

    def node_rows(self, scope: Scope, gpus: list[Gpu], pods: list[GpuPod]) -> list[NodeRow]:
        by_node: dict[str, list[Gpu]] = defaultdict(list)
        for gpu in gpus:
            by_node[gpu.node].append(gpu)
        allocated: Counter[str] = Counter()
        for pod in pods:
            if pod.holds_gpus and pod.node:
                allocated[pod.node] += pod.gpus
        reported = self._reported()
        names = set(by_node) | set(allocated)
        if scope.whole:
            names |= {n for n in self.nodes if scope.kind == "cluster" or n == scope.name}
        return [self._row(name, by_node.get(name, []), allocated[name], reported.get(name, 0))
                for name in sorted(names)]

    def _reported(self) -> dict[str, int]:
        """GPUs DCGM reports per node, as Kubernetes counts them: a MIG slice is one (MIG's single strategy)."""
        units: dict[str, set[str]] = defaultdict(set)
        for reading in self.observed.readings:
            units[self._node(reading)].add(reading.key)
        return {node: len(keys) for node, keys in units.items()}

    def _row(self, name: str, gpus: list[Gpu], allocated: int, reported: int) -> NodeRow:
        node = self.nodes.get(name)
        model = (gpus[0].model if gpus else "") or (node.model if node and node.model else "")
        utils = [g.util_pct for g in gpus if g.util_pct is not None]
        return NodeRow(node=name, model=model, pool=node.pool if node else None,
                       gpus=node.gpus if node else reported, allocated=allocated,
                       util_pct=sum(utils) / len(utils) if utils else None, reported=reported)
