"""An incident's Kubernetes evidence, through the real kubernetes client against a loopback API server."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.clients.kube import KubeClient
from bot.clock import FrozenClock
from bot.evidence.model import FiringAlert, Targets
from bot.evidence.render import snapshot_blocks, snapshot_text
from bot.evidence.service import EvidenceCollector
from tests.support.fixture_http import Response
from tests.support.kube_api import (
    KubeApi,
    container,
    container_status,
    controller_revision,
    deployment,
    event,
    forbidden_status,
    kubeconfig,
    node,
    pod,
    replica_set,
    stateful_set,
    terminated,
    waiting,
)

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
NS = "payments"
PAYMENTS = Targets(namespaces=(NS,))


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


def cluster(api: KubeApi) -> None:
    api.put(
        node("node-1"), node("node-bad", ready="Unknown"), node("node-full", pressures=("MemoryPressure",)),
        pod(NS, "api-7d9f-abc", "node-bad", [container("api")], statuses=[container_status(
            "api", ready=False, restarts=12, state=waiting("CrashLoopBackOff", "back-off 5m0s restarting failed"),
            last=terminated("Error", 1))]),
        pod(NS, "worker-5c8-xyz", "node-1", [container("worker")], statuses=[container_status(
            "worker", restarts=4, last=terminated("OOMKilled", 137))]),
        pod(NS, "web-6b4-pull", "node-1", [container("web")], phase="Pending", statuses=[container_status(
            "web", ready=False, state=waiting("ImagePullBackOff", 'Back-off pulling image "web:9.9"'))]),
        pod(NS, "batch-1", "node-1", [container("batch")], phase="Failed", reason="Evicted",
            message="The node was low on resource: memory."),
        pod(NS, "api-7d9f-ok", "node-1", [container("api")], statuses=[container_status("api")]),
        pod("other", "noisy-1", "node-full", [container("x")], statuses=[container_status("x", ready=False)]),
        # the same BackOff three times (three event objects): one line, counted 14
        *[event(NS, "Pod", "api-7d9f-abc", "BackOff", "Back-off restarting failed container api", count=n,
                first=ago(minutes=25), last=ago(minutes=m)) for n, m in ((5, 20), (7, 10), (2, 1))],
        # a new-style event: eventTime only, first/lastTimestamp null
        event(NS, "Pod", "web-6b4-pull", "FailedScheduling", "0/3 nodes are available: 3 Insufficient memory.",
              count=None, event_time=ago(minutes=3)),
        event(NS, "Pod", "old-1", "BackOff", "long ago", count=40, first=ago(hours=3), last=ago(hours=2)),
        event(NS, "Pod", "api-7d9f-ok", "Pulled", "Successfully pulled image", type_="Normal", last=ago(minutes=2)),
        deployment(NS, "api", "registry.example.com/api:1.5.0", 4, "deploy 1.5.0 (alice)"),
        replica_set(NS, "api", "5b8c", "registry.example.com/api:1.4.0", 3, ago(days=3)),
        replica_set(NS, "api", "7d9f", "registry.example.com/api:1.5.0", 4, ago(minutes=20), "deploy 1.5.0 (alice)"),
        deployment(NS, "ledger", "registry.example.com/ledger:2.0", 2),
        replica_set(NS, "ledger", "1a2b", "registry.example.com/ledger:1.9", 1, ago(days=30)),
        replica_set(NS, "ledger", "3c4d", "registry.example.com/ledger:2.0", 2, ago(hours=5)),
        stateful_set(NS, "db", "postgres:15.5", current="db-6f7", update="db-8a9"),
        controller_revision(NS, "db", "6f7", "postgres:15.4", 1, ago(days=10)),
        controller_revision(NS, "db", "8a9", "postgres:15.5", 2, ago(minutes=40)),
    )


@pytest.fixture
def api() -> Iterator[KubeApi]:
    with KubeApi() as server:
        cluster(server)
        yield server


@pytest.fixture
def kube(api: KubeApi, tmp_path: Path) -> KubeClient:
    return KubeClient(kubeconfig(tmp_path, api.url))


def collector(kube: KubeClient, budget: float = 5.0) -> EvidenceCollector:
    return EvidenceCollector(kube, FrozenClock(NOW), budget)


def test_the_snapshot_shows_what_is_wrong_worst_first(kube: KubeClient) -> None:
    alerts = [FiringAlert("PaymentsErrorRate", NS, "critical", ago(minutes=12), "5xx above 5% <!channel>"),
              FiringAlert("Elsewhere", "other", "critical", ago(minutes=1), "not ours")]

    snapshot = collector(kube).collect(PAYMENTS, lambda namespaces: alerts)
    text = snapshot_text(snapshot, "en")

    assert not snapshot.partial
    assert [(p.pod, p.problem) for p in snapshot.pods] == [
        ("api-7d9f-abc", "CrashLoopBackOff"), ("worker-5c8-xyz", "OOMKilled"), ("web-6b4-pull", "ImagePullBackOff"),
        ("batch-1", "Evicted")]
    assert ("`payments/api-7d9f-abc` CrashLoopBackOff · container `api` · last terminated: Error · exit code 1 · "
            "12 restarts · node `node-bad`") in text
    assert "`payments/worker-5c8-xyz` OOMKilled · container `worker` · exit code 137 · 4 restarts" in text
    assert "`payments/batch-1` Evicted · node `node-1` · “The node was low on resource: memory.”" in text
    assert "Unhealthy pods (4 of 5)" in text
    assert ("`Pod/api-7d9f-abc` BackOff ×14, last 1 min ago: Back-off restarting failed container api") in text
    assert "`Pod/web-6b4-pull` FailedScheduling ×1, last 3 min ago: 0/3 nodes are available" in text
    assert "long ago" not in text and "Successfully pulled" not in text
    assert ("Deployment `payments/api` revision 4, 20 min ago: `registry.example.com/api:1.4.0` → "
            "`registry.example.com/api:1.5.0` · change cause: “deploy 1.5.0 (alice)”") in text
    assert "ledger" not in text  # rolled out 5 h ago
    assert ("StatefulSet `payments/db` revision 2, 40 min ago: `postgres:15.4` → `postgres:15.5` · "
            "still rolling out") in text
    assert "`node-bad` NotReady · hosts 1 of these pods" in text
    assert "node-full" not in text  # under pressure, but hosts none of these pods
    assert "[critical] PaymentsErrorRate in `payments` for 12 min: 5xx above 5% <!channel>" in text
    assert "Elsewhere" not in text
    sections = [b["text"]["text"] for b in snapshot_blocks(snapshot, "en") if b["type"] == "section"]
    assert [s.split("\n")[0] for s in sections] == [
        "*Firing alerts* (1)", "*Unhealthy pods* (4 of 5)", "*Nodes in trouble* (1)", "*Rollouts in the last 2 h* (2)",
        "*Warning events, last 30 min* (2 kinds, 15 in all)"]
    assert "&lt;!channel&gt;" in sections[0] and "<!channel>" not in sections[0]


def test_lists_are_paged_with_limit_and_continue(api: KubeApi, kube: KubeClient) -> None:
    api.put(*[pod(NS, f"filler-{i}", "node-1", [container("c")], statuses=[container_status("c")])
              for i in range(1_100)])

    snapshot = collector(kube).collect(PAYMENTS)

    assert snapshot.pods_seen == 1_105
    pages = api.requests("GET", f"/api/v1/namespaces/{NS}/pods")
    assert [r.param("continue") for r in pages] == [None, "500", "1000"]
    assert {r.param("limit") for r in pages} == {"500"}
    [events] = api.requests("GET", f"/api/v1/namespaces/{NS}/events")
    assert events.param("fieldSelector") == "type=Warning"


def test_a_hanging_events_endpoint_gives_a_partial_snapshot_within_the_budget(api: KubeApi,
                                                                               kube: KubeClient) -> None:
    api.hang("events", NS, seconds=30)

    started = time.monotonic()
    snapshot = collector(kube, budget=1.0).collect(PAYMENTS)
    took = time.monotonic() - started

    assert took < 2.0
    assert snapshot.partial and [(s.part, s.namespace, s.timed_out) for s in snapshot.skipped] == [
        ("events", NS, True)]
    assert [p.problem for p in snapshot.pods][:1] == ["CrashLoopBackOff"]  # the rest still arrived
    text = snapshot_text(snapshot, "en")
    assert "Partial snapshot: some parts did not arrive within 1s or failed" in text
    assert "Warning events in `payments`: timed out after 1s" in text
    assert "命名空间 `payments` 的Warning 事件：1 秒后超时" in snapshot_text(snapshot, "zh-CN")


def test_a_403_on_deployments_names_the_missing_rbac_verb_and_resource(api: KubeApi, kube: KubeClient) -> None:
    api.forbid("deployments", NS)

    snapshot = collector(kube).collect(PAYMENTS)

    [skipped] = snapshot.skipped
    assert (skipped.part, skipped.timed_out) == ("deployments", False)
    assert skipped.reason("en") == ("forbidden: list deployments in namespace payments "
                                    "(RBAC: grant verb `list` on `deployments`)")
    assert "Deployments in `payments`: forbidden: list deployments in namespace payments" in snapshot_text(
        snapshot, "en")
    assert "RBAC：请授予对 `deployments` 的 `list` 权限" in snapshot_text(snapshot, "zh-CN")
    assert [r.kind for r in snapshot.rollouts] == ["StatefulSet"]  # what was allowed still shows
    assert len(api.requests("GET", f"/apis/apps/v1/namespaces/{NS}/deployments")) == 1  # a 403 is not retried


def test_a_403_on_nodes_names_the_cluster_wide_rule(api: KubeApi, kube: KubeClient) -> None:
    api.add("GET", r"/api/v1/nodes/.*", Response(403, forbidden_status("get", "nodes", None)))

    snapshot = collector(kube).collect(PAYMENTS)

    assert [s.reason("en") for s in snapshot.skipped] == [
        "forbidden: get nodes (RBAC: grant verb `get` on `nodes` in a ClusterRole)"]


def test_a_namespace_with_nothing_wrong_says_so(kube: KubeClient) -> None:
    snapshot = collector(kube).collect(Targets(namespaces=("quiet",)))

    assert snapshot.empty and not snapshot.partial
    assert "Nothing unusual in quiet" in snapshot_text(snapshot, "en")
