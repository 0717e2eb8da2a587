"""Kubernetes evidence for an incident: unhealthy pods, recent Warning events, recent rollouts, sick nodes
and firing alerts of a few namespaces, gathered at once within a time budget.

Every read runs on its own thread. Whatever has not answered when the budget is spent, failed, or was
forbidden is listed in `Snapshot.skipped` with the reason, and the snapshot is returned anyway (partial):
a stuck API server never holds up the incident. Threads still waiting are abandoned, not joined; they end
at the client's own read timeout.

Rollouts: a Deployment's newest ReplicaSet (by `deployment.kubernetes.io/revision`) against the one before
it; a StatefulSet's newest ControllerRevision against the one before it. "When" is the creation time of the
newest revision, so a rollback to an existing ReplicaSet (which reuses an old one) is not seen as recent.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

from bot.clients import KubeEvent, KubeEvidenceSource, NodeHealth, PodState, Workload, WorkloadRevision
from bot.clock import Clock, aware
from bot.evidence.model import (
    PROBLEMS,
    EventCount,
    FiringAlert,
    NodeProblem,
    PodProblem,
    RolloutChange,
    Skipped,
    Snapshot,
    Targets,
)
from bot.i18n import LANGUAGES, t
from bot.retry import BackendError

EVENTS_WINDOW = timedelta(minutes=30)
ROLLOUT_WINDOW = timedelta(hours=2)
DEFAULT_BUDGET = 5.0
MAX_WORKERS = 16
IMAGE_PULL = {"ImagePullBackOff", "ErrImagePull"}

FiringAlerts = Callable[[list[str]], list[FiringAlert]]


class EvidenceCollector:
    """`collect(targets)` returns a Snapshot within `budget` seconds (plus a few milliseconds to sort)."""

    def __init__(self, kube: KubeEvidenceSource, clock: Clock, budget: float = DEFAULT_BUDGET) -> None:
        self._kube = kube
        self._clock = clock
        self._budget = float(budget)

    def collect(self, targets: Targets, firing_alerts: FiringAlerts | None = None) -> Snapshot:
        deadline = time.monotonic() + self._budget
        now = self._clock.now()
        pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="evidence")
        try:
            reads = _Reads(pool, deadline)
            for namespace in targets.namespaces:
                reads.start("pods", namespace, self._kube.pods, namespace)
                reads.start("events", namespace, self._kube.warning_events, namespace)
                reads.start("deployments", namespace, self._kube.deployments, namespace)
                reads.start("replicasets", namespace, self._kube.replica_sets, namespace)
                reads.start("statefulsets", namespace, self._kube.stateful_sets, namespace)
                reads.start("controllerrevisions", namespace, self._kube.controller_revisions, namespace)
            if firing_alerts is not None and targets.namespaces:
                reads.start("alerts", None, firing_alerts, list(targets.namespaces))
            pods: list[PodState] = [p for ns in targets.namespaces for p in reads.result("pods", ns, [])]
            hosts = sorted({p.node for p in pods if p.node and p.phase in ("Pending", "Running", "Unknown")})
            if hosts:
                reads.start("nodes", None, self._kube.nodes, hosts)
            return self._snapshot(targets, now, reads, pods)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _snapshot(self, targets: Targets, now: datetime, reads: _Reads, pods: list[PodState]) -> Snapshot:
        spaces = targets.namespaces
        events = [e for ns in spaces for e in reads.result("events", ns, [])]
        deployments = [d for ns in spaces for d in reads.result("deployments", ns, [])]
        replica_sets = [r for ns in spaces for r in reads.result("replicasets", ns, [])]
        stateful_sets = [s for ns in spaces for s in reads.result("statefulsets", ns, [])]
        revisions = [r for ns in spaces for r in reads.result("controllerrevisions", ns, [])]
        nodes: list[NodeHealth] = reads.result("nodes", None, [])
        alerts: list[FiringAlert] = reads.result("alerts", None, [])
        return Snapshot(
            targets=targets, taken_at=now, budget_s=self._budget,
            pods=tuple(pod_problems(pods, targets)),
            events=tuple(warning_counts(events, now)),
            rollouts=tuple(rollouts(deployments, replica_sets, now, targets)
                           + rollouts(stateful_sets, revisions, now, targets)),
            nodes=tuple(node_problems(nodes, pods)),
            alerts=tuple(sorted((a for a in alerts if a.namespace in spaces), key=_alert_order)),
            skipped=tuple(reads.skipped(self._budget)), pods_seen=len(pods),
            demo=bool(getattr(self._kube, "demo", False)))


class _Reads:
    """The reads of one snapshot, each a future keyed by (part, namespace), all sharing one deadline."""

    def __init__(self, pool: ThreadPoolExecutor, deadline: float) -> None:
        self._pool = pool
        self._deadline = deadline
        self._futures: dict[tuple[str, str | None], Future[Any]] = {}

    def start(self, part: str, namespace: str | None, fn: Callable[..., Any], *args: Any) -> None:
        self._futures[(part, namespace)] = self._pool.submit(fn, *args)

    def result(self, part: str, namespace: str | None, default: Any) -> Any:
        future = self._futures.get((part, namespace))
        if future is None:
            return default
        wait([future], timeout=max(0.0, self._deadline - time.monotonic()))
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        return default

    def skipped(self, budget: float) -> list[Skipped]:
        wait(list(self._futures.values()), timeout=max(0.0, self._deadline - time.monotonic()))
        found = []
        for (part, namespace), future in self._futures.items():
            if not future.done() or future.cancelled():
                found.append(Skipped(part, namespace, timed_out=True, reasons=_reasons(
                    lambda lang: t("evidence.timed_out", lang, seconds=f"{budget:g}"))))
            elif (error := future.exception()) is not None:
                found.append(Skipped(part, namespace, timed_out=False, reasons=_reasons(_explainer(error))))
        return found


def _explainer(error: BaseException) -> Callable[[str], str]:
    if isinstance(error, BackendError):
        return error.explain
    return lambda lang: t("evidence.failed", lang, detail=type(error).__name__)


def _reasons(explain: Callable[[str], str]) -> tuple[tuple[str, str], ...]:
    return tuple((lang, explain(lang)) for lang in LANGUAGES)


# The pure parts, each testable on its own.

def pod_problems(pods: Iterable[PodState], targets: Targets) -> list[PodProblem]:
    """Pods that are crash-looping, OOMKilled, failing to pull, evicted or not Ready; worst first."""
    found = [problem for pod in pods if (problem := _pod_problem(pod, targets)) is not None]
    return sorted(found, key=lambda p: (not p.named, PROBLEMS.index(p.problem), -p.restarts, p.namespace, p.pod))


def _pod_problem(pod: PodState, targets: Targets) -> PodProblem | None:
    named = pod.name in targets.pods or any(_owned_by(pod.name, w) for w in (*targets.deployments,
                                                                            *targets.statefulsets))
    common: dict[str, Any] = {"namespace": pod.namespace, "pod": pod.name, "node": pod.node, "named": named}
    if pod.phase == "Failed" and pod.reason == "Evicted":
        return PodProblem(problem="Evicted", last_reason=pod.reason, message=pod.message, **common)
    if pod.phase in ("Succeeded", "Failed"):
        return None
    ranked = []
    for c in pod.containers:
        problem = _container_problem(c.waiting, c.terminated, c.last_reason, c.ready)
        if problem:
            ranked.append((PROBLEMS.index(problem), problem, c))
    if ranked:
        _, problem, c = min(ranked, key=lambda r: (r[0], -r[2].restarts))
        return PodProblem(problem=problem, container=c.name, last_reason=c.last_reason or c.terminated,
                          exit_code=c.last_exit_code, restarts=c.restarts, message=c.waiting_message, **common)
    if not pod.ready:
        worst = max(pod.containers, key=lambda c: c.restarts, default=None)
        return PodProblem(problem="NotReady", container=worst.name if worst else None,
                          last_reason=(worst.last_reason if worst else None) or (pod.reason or pod.phase),
                          exit_code=worst.last_exit_code if worst else None,
                          restarts=worst.restarts if worst else 0, message=pod.message, **common)
    return None


def _container_problem(waiting: str | None, terminated: str | None, last: str | None, ready: bool) -> str | None:
    if waiting == "CrashLoopBackOff":
        return "CrashLoopBackOff"
    if "OOMKilled" in (terminated, last):
        return "OOMKilled"
    if waiting in IMAGE_PULL:
        return waiting
    return None


def _owned_by(pod: str, workload: str) -> bool:
    """Pods of a Deployment are `<name>-<rs hash>-<suffix>`; of a StatefulSet `<name>-<ordinal>`."""
    return re.fullmatch(rf"{re.escape(workload)}-([a-z0-9]+-[a-z0-9]+|\d+)", pod) is not None


def warning_counts(events: Iterable[KubeEvent], now: datetime) -> list[EventCount]:
    """Warning events seen in the last 30 minutes, one per (reason, object, message), most frequent first."""
    since = now - EVENTS_WINDOW
    groups: dict[tuple[str, str, str, str, str], list[KubeEvent]] = defaultdict(list)
    for event in events:
        seen = event.last_seen or event.first_seen
        if event.type == "Warning" and seen is not None and aware(seen) >= since:
            groups[(event.namespace, event.reason, event.kind, event.name, event.message)].append(event)
    counted = [EventCount(namespace=ns, kind=kind, name=name, reason=reason, message=message,
                          count=sum(e.count for e in group),
                          first_seen=min((aware(e.first_seen) for e in group if e.first_seen), default=None),
                          last_seen=max((aware(e.last_seen) for e in group if e.last_seen), default=None))
               for (ns, reason, kind, name, message), group in groups.items()]
    return sorted(counted, key=lambda e: (-e.count, e.namespace, e.reason, e.name))


def rollouts(workloads: Iterable[Workload], revisions: Iterable[WorkloadRevision], now: datetime,
             targets: Targets | None = None) -> list[RolloutChange]:
    """Workloads whose newest revision was created in the last 2 hours: images before → after; newest first."""
    by_owner: dict[str, list[WorkloadRevision]] = defaultdict(list)
    for revision in revisions:
        by_owner[revision.owner_uid].append(revision)
    since = now - ROLLOUT_WINDOW
    found = []
    for workload in workloads:
        history = sorted(by_owner.get(workload.uid, []), key=lambda r: r.revision)
        if not history or history[-1].created is None or aware(history[-1].created) < since:
            continue
        newest = history[-1]
        before = history[-2].images if len(history) > 1 else ()
        in_progress = (workload.kind == "StatefulSet" and bool(workload.update_revision)
                       and workload.update_revision != workload.current_revision)
        found.append(RolloutChange(kind=workload.kind, namespace=workload.namespace, name=workload.name,
                                   revision=newest.revision, images_before=before, images_after=newest.images,
                                   at=aware(newest.created) if newest.created else now,
                                   change_cause=newest.change_cause or workload.change_cause,
                                   in_progress=in_progress))
    named = set(targets.deployments + targets.statefulsets) if targets else set()
    return sorted(found, key=lambda r: (r.name not in named, -r.at.timestamp()))


def node_problems(nodes: Iterable[NodeHealth], pods: Iterable[PodState]) -> list[NodeProblem]:
    """Nodes hosting the targets' pods that are NotReady (or silent), under pressure or cordoned."""
    hosted: Mapping[str, int] = _count(p.node for p in pods if p.node)
    found = [NodeProblem(node=n.name, not_ready=n.ready is not True, pressures=n.pressures,
                         unschedulable=n.unschedulable, pods=hosted.get(n.name, 0), reason=n.ready_reason)
             for n in nodes if n.ready is not True or n.pressures or n.unschedulable]
    return sorted(found, key=lambda n: (not n.not_ready, -len(n.pressures), -n.pods, n.node))


def _count(values: Iterable[str]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[value] += 1
    return counts


SEVERITIES = ("critical", "page", "high", "error", "warning", "medium", "info", "low", "none")


def _alert_order(alert: FiringAlert) -> tuple[int, float]:
    severity = alert.severity.lower()
    rank = SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)
    return rank, aware(alert.since).timestamp()


# Targets from an alert's labels and a message's words.

_NAME = r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?"
_TEXT_PATTERNS = {
    "namespace": [rf"\bnamespace[:=\s]+({_NAME})\b", rf"\bns/({_NAME})\b", rf"(?:^|\s)-n\s+({_NAME})\b",
                  rf"--namespace[=\s]+({_NAME})\b"],
    "deployment": [rf"\b(?:deployment|deploy)/({_NAME})\b"],
    "statefulset": [rf"\b(?:statefulset|sts)/({_NAME})\b"],
    "pod": [rf"\b(?:pod|po)/({_NAME})\b"],
}
_LABELS = {"namespace": "namespace", "deployment": "deployment", "statefulset": "statefulset", "pod": "pod"}


def targets_from(text: str, labels: Mapping[str, str] | None = None,
                 namespaces: Iterable[str] = ()) -> Targets:
    """What an incident points at: alert labels `namespace`, `deployment`, `statefulset`, `pod`, and words like
    `namespace payments`, `ns/payments`, `-n payments`, `deployment/api`, `sts/db`, `pod/api-7d9f-abc`.
    `namespaces` (e.g. the team's) are used only when neither text nor labels name one. Order kept, no repeats."""
    found: dict[str, list[str]] = {kind: [] for kind in _TEXT_PATTERNS}
    for kind, label in _LABELS.items():
        value = (labels or {}).get(label, "").strip().lower()
        if value and re.fullmatch(_NAME, value):
            found[kind].append(value)
    lowered = (text or "")[:20_000].lower()
    for kind, patterns in _TEXT_PATTERNS.items():
        hits = sorted((m.start(), m.group(1)) for p in patterns for m in re.finditer(p, lowered))
        found[kind] += [name for _, name in hits]
    spaces = _unique(found["namespace"]) or _unique(ns for ns in namespaces if ns)
    return Targets(namespaces=tuple(spaces), deployments=tuple(_unique(found["deployment"])),
                   statefulsets=tuple(_unique(found["statefulset"])), pods=tuple(_unique(found["pod"])))


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
