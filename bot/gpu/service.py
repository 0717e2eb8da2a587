"""GPU views for a scope: the summary, idle GPUs, one node/namespace/team in detail, the queue and health.

Each view is one look at the cluster: at most four PromQL queries aggregated by Prometheus, and the
Kubernetes nodes and pods (cached for `gpu.cache`). When Kubernetes cannot be read the views still show
utilization and say why allocation is missing; when Prometheus has no DCGM metrics they say so.
"""

from __future__ import annotations

import difflib
import threading
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import GpuCluster, GpuQuery, KubeEvent, KubeSource, PrometheusSource
from bot.clock import Clock
from bot.gpu import store
from bot.gpu.fleet import Observed, Rules, build_fleet
from bot.gpu.model import (
    Fleet,
    Gpu,
    GpuSummary,
    HealthReport,
    HolderRow,
    IdleReport,
    Missing,
    ModelRow,
    QueuedPod,
    Scope,
    TeamGpus,
    Totals,
)
from bot.retry import BackendError
from bot.settings import Config


class NotFound(Exception):
    """A node, namespace or team /gpu does not know; `closest` are the names that look like it."""

    def __init__(self, kind: str, name: str, closest: list[str]) -> None:
        super().__init__(f"{kind} {name} not found")
        self.kind, self.name, self.closest = kind, name, closest


class GpuService:
    def __init__(self, prom: PrometheusSource, kube: KubeSource, clock: Clock, config: Config,
                 sessions: sessionmaker[Session]) -> None:
        self._prom = prom
        self._kube = kube
        self._clock = clock
        self._gpu = config.gpu
        self._sessions = sessions
        self._rules = Rules(threshold_pct=config.thresholds.gpu_idle_utilization_pct,
                            prices=config.gpu.price_table(), owner_labels=tuple(config.gpu.owner_labels),
                            team_of_namespace={ns: team.name for team in config.teams for ns in team.namespaces},
                            teams=frozenset(team.name for team in config.teams))
        self._cache_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="gpu-kube")
        self._cached: tuple[datetime, GpuCluster] | None = None

    @property
    def threshold_pct(self) -> float:
        return self._rules.threshold_pct

    # Views ------------------------------------------------------------------------------------------
    def look(self, scope: Scope, *, problems: bool = False, history: bool = False, memory: bool = True) -> Fleet:
        """Every GPU in `scope` now; `problems`: XID/ECC/throttling; `history`: how long idle GPUs have been;
        `memory`: framebuffer use (and, for one node, namespace or team, temperature). Kubernetes is read while
        Prometheus answers."""
        return self._fleet(self._observe(problems=problems, history=history, memory=memory,
                                         temperature=memory and scope.kind != "cluster"), scope)

    def _observe(self, *, problems: bool, history: bool, memory: bool, temperature: bool) -> _Look:
        now = self._clock.now()
        asked = self._pool.submit(self._cluster_or_failure)
        query = GpuQuery(at=now, window=self._gpu.window, threshold_pct=self._rules.threshold_pct,
                         node_labels=tuple(self._gpu.node_labels), memory=memory, temperature=temperature,
                         problems=problems, history=self._gpu.history if history else None)
        try:
            readings = self._prom.gpu_readings(query)
        finally:
            cluster, failure = asked.result()
        return _Look(Observed(readings, cluster, now, self._gpu.window, query.history), failure,
                     store.snoozed_pods(self._sessions, now), None if readings else self._prom.dcgm_targets())

    def _fleet(self, look: _Look, scope: Scope) -> Fleet:
        fleet = build_fleet(look.observed, scope, self._rules, look.snoozed)
        self._check_known(fleet, look.observed.cluster)
        return replace(fleet, allocation_error=look.failure, demo=bool(self._prom.demo or self._kube.demo),
                       targets=look.targets)

    def summary(self, scope: Scope) -> GpuSummary:
        fleet = self.look(scope, problems=True)
        return GpuSummary(fleet=fleet, totals=totals(fleet), models=models(fleet.gpus),
                          holders=holders(fleet, self._gpu.top),
                          idle_usd_per_day=sum(g.usd_per_hour for g in fleet.idle) * 24)

    def idle(self, scope: Scope) -> IdleReport:
        return _idle(self.look(scope, history=True, memory=False))

    def health(self, scope: Scope) -> HealthReport:
        return _health(self.look(scope, problems=True, history=True, memory=False))

    def queue(self, scope: Scope) -> list[QueuedPod]:
        """Pods waiting because no node has the GPUs they ask for, longest wait first."""
        cluster = self._cluster()
        fleet = build_fleet(Observed([], cluster, self._clock.now(), self._gpu.window), scope, self._rules)
        self._check_known(fleet, cluster)
        return _queued(fleet, _attempts(self._kube.scheduling_failures()))

    def team_views(self, scopes: Iterable[Scope]) -> dict[Scope, TeamGpus]:
        """`idle`, `queue` and `health` of many scopes from one look and one read of the scheduling events (the
        digest asks for every team at once)."""
        look = self._observe(problems=True, history=True, memory=False, temperature=False)
        attempts = _attempts(self._kube.scheduling_failures())
        views = {}
        for scope in scopes:
            fleet = self._fleet(look, scope)
            views[scope] = TeamGpus(_idle(fleet), _queued(fleet, attempts), _health(fleet))
        return views

    def utilization_by_node(self) -> dict[str, float]:
        """Each node's mean GPU utilization over the window (nodes whose GPUs report it), for the cost guards."""
        readings: dict[str, list[float]] = {}
        for gpu in self.look(Scope("cluster"), memory=False).gpus:
            if gpu.util_pct is not None:
                readings.setdefault(gpu.node, []).append(gpu.util_pct)
        return {node: sum(values) / len(values) for node, values in readings.items()}

    def idle_gpus_of(self, pod_key: str) -> list[Gpu]:
        """The idle GPUs a pod holds now (for a nudge), snoozed or not."""
        fleet = self.look(Scope("namespace", pod_key.split("/", 1)[0]), history=True, memory=False)
        return [gpu for gpu in fleet.gpus if gpu.idle and gpu.holder and gpu.holder.key == pod_key]

    # Kubernetes, cached --------------------------------------------------------------------------------
    def _cluster(self) -> GpuCluster:
        with self._cache_lock:
            now = self._clock.now()
            if self._cached and now - self._cached[0] < self._gpu.cache:
                return self._cached[1]
            cluster = self._kube.gpu_cluster(tuple(self._gpu.pool_labels))
            self._cached = (now, cluster)
            return cluster

    def _cluster_or_failure(self) -> tuple[GpuCluster | None, BackendError | None]:
        try:
            return self._cluster(), None
        except BackendError as exc:
            return None, exc

    def _check_known(self, fleet: Fleet, cluster: GpuCluster | None) -> None:
        """A node or namespace nobody has heard of is a typo: say so, with the names it resembles."""
        scope = fleet.scope
        if scope.kind not in ("node", "namespace") or fleet.gpus or fleet.pods or fleet.nodes:
            return
        if scope.kind == "node":
            known: Iterable[str] = {n.name for n in cluster.nodes} if cluster else ()
        else:
            known = {p.namespace for p in cluster.pods} if cluster else set()
            known = {*known, *self._rules.team_of_namespace}
            if scope.name in known:
                return
        raise NotFound(scope.kind, scope.name, difflib.get_close_matches(scope.name, sorted(known), n=3, cutoff=0.5))


def totals(fleet: Fleet) -> Totals:
    held = [g for g in fleet.gpus if g.holder]
    if fleet.allocation_error is not None:
        total, allocated = _physical(fleet.gpus), _physical(held)
    else:
        allocated = sum(p.gpus for p in fleet.pods if p.holds_gpus)
        total = sum(row.gpus for row in fleet.nodes) if fleet.scope.whole else allocated
    return Totals(total=total, allocated=allocated, util_pct=mean(g.util_pct for g in fleet.gpus),
                  mem_pct=memory_pct(fleet.gpus))


def models(gpus: Iterable[Gpu]) -> list[ModelRow]:
    by_model: dict[str, list[Gpu]] = defaultdict(list)
    for gpu in gpus:
        by_model[gpu.model or "?"].append(gpu)
    rows = [ModelRow(model=name, gpus=_physical(group), allocated=_physical(g for g in group if g.holder),
                     util_pct=mean(g.util_pct for g in group), mem_pct=memory_pct(group))
            for name, group in by_model.items()]
    return sorted(rows, key=lambda r: (-r.gpus, r.model))


def holders(fleet: Fleet, top: int) -> list[HolderRow]:
    """Who holds the GPUs: by team in the cluster view (namespaces no team claims by name), else by namespace."""
    by_name: dict[str, list[Gpu]] = defaultdict(list)
    for gpu in fleet.gpus:
        if gpu.holder:
            name = gpu.holder.team if fleet.scope.kind == "cluster" and gpu.holder.team else gpu.holder.namespace
            by_name[name].append(gpu)
    rows = [HolderRow(name=name, gpus=len(group), util_pct=mean(g.util_pct for g in group),
                      idle=sum(1 for g in group if g.idle)) for name, group in by_name.items()]
    return sorted(rows, key=lambda r: (-r.gpus, r.name))[:top]


def mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def memory_pct(gpus: Iterable[Gpu]) -> float | None:
    pairs = [(g.fb_used_mib, g.fb_total_mib) for g in gpus if g.fb_total_mib and g.fb_used_mib is not None]
    total = sum(t for _, t in pairs if t)
    return 100 * sum(u for u, _ in pairs if u is not None) / total if total else None


def _physical(gpus: Iterable[Gpu]) -> int:
    return len({g.uuid or f"{g.node}/{g.gpu}" for g in gpus})


@dataclass(frozen=True)
class _Look:
    """One read of Prometheus and Kubernetes, from which the fleet of any scope is built."""

    observed: Observed
    failure: BackendError | None  # why Kubernetes could not be read
    snoozed: frozenset[str]
    targets: tuple[int, int] | None  # (up, total) DCGM scrape targets, asked when no readings came back


def _idle(fleet: Fleet) -> IdleReport:
    now = fleet.as_of
    return IdleReport(fleet, sorted(fleet.idle, key=lambda g: (-(g.idle_cost(now) or 0), g.node, g.gpu)))


def _health(fleet: Fleet) -> HealthReport:
    missing = [Missing(row.node, row.gpus, row.reported) for row in fleet.nodes
               if fleet.allocation_error is None and row.reported < row.gpus] if fleet.scope.whole else []
    return HealthReport(fleet, fleet.unhealthy, missing)


def _queued(fleet: Fleet, attempts: dict[tuple[str, str], KubeEvent]) -> list[QueuedPod]:
    queued = [QueuedPod.of(pod, attempts.get((pod.namespace, pod.name))) for pod in fleet.pods
              if pod.node is None and (pod.waits_for_gpus or (pod.namespace, pod.name) in attempts)]
    return sorted(queued, key=lambda q: (q.waiting_since is None, q.waiting_since, q.namespace, q.pod))


def _attempts(events: list[KubeEvent]) -> dict[tuple[str, str], KubeEvent]:
    found: dict[tuple[str, str], KubeEvent] = {}
    for event in events:
        if event.kind == "Pod" and "nvidia.com/gpu" in event.message:
            found[(event.namespace, event.name)] = event
    return found
