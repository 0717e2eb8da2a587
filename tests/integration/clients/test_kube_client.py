"""KubeClient with the real `kubernetes` client against a loopback server shaped like the Kubernetes API."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clients import GpuNode, GpuPod, KubeEvent
from bot.clients.kube import KubeClient
from bot.retry import BackendError
from tests.support.fixture_http import Response
from tests.support.kube_api import (
    TOKEN,
    KubeApi,
    Obj,
    container,
    event,
    failed_scheduling,
    kubeconfig,
    listing,
    node,
    pod,
)

POOLS = ("cloud.google.com/gke-nodepool", "karpenter.sh/nodepool", "eks.amazonaws.com/nodegroup")
UNSCHEDULABLE = ("0/12 nodes are available: 12 Insufficient nvidia.com/gpu. preemption: 0/12 nodes are available: "
                 "12 No preemption victims found for incoming pod.")
CREATED = datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
EXPORTER = "nvidia-dcgm-exporter-x7k2p"
VERSION = {"major": "1", "minor": "29", "gitVersion": "v1.29.3-eks-1234", "gitCommit": "abc",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.21.8",
           "compiler": "gc", "platform": "linux/amd64"}


def labelled(obj: Obj, **labels: str) -> Obj:
    """`obj` with more metadata labels (label names with dots and slashes go through a dict)."""
    obj["metadata"]["labels"].update(labels)
    return obj


def gated(obj: Obj) -> Obj:
    """A pod held back by a scheduling gate: PodScheduled is False, but not because nothing fits."""
    obj["spec"]["schedulingGates"] = [{"name": "example.com/quota"}]
    obj["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                                    "message": "Scheduling is blocked due to non-empty scheduling gates",
                                    "lastTransitionTime": "2026-11-24T04:00:00Z", "lastProbeTime": None}]
    return obj


NODES = [
    labelled(node("gpu-h100-1", 8, "NVIDIA-H100-80GB-HBM3"),
             **{"karpenter.sh/nodepool": "h100-spot", "eks.amazonaws.com/nodegroup": "gpu-ng"}),
    labelled(node("gpu-a100-1", 4), **{"eks.amazonaws.com/nodegroup": "a100-ng"}),
    node("cpu-1", None),
    node("gpu-cordoned", 0),
]
TRAIN = pod("ml-train", "llm-pretrain-0", "gpu-h100-1",
            [container("trainer", 6), container("helper", 2), container("metrics")],
            labels={"team": "llm", "owner": "U123"}, priority_class="training-high", created=CREATED)
INFER = pod("ml-infer", "vllm-0", "gpu-a100-1", [container("vllm", 2)], init=[container("warmup", 3)])
WAITING = pod("ml-infer", "vllm-1", None, [container("vllm", 2)], priority_class="research-low",
              created=CREATED + timedelta(hours=1), unschedulable=UNSCHEDULABLE)
GATED = gated(pod("ml-infer", "vllm-2", None, [container("vllm", 2)], phase="Pending"))
WEB = pod("web", "api-0", "cpu-1", [container("api")])
EXPORTER_POD = pod("gpu-operator", EXPORTER, "gpu-h100-1", [container("nvidia-dcgm-exporter")])
DONE = pod("ml-train", "eval-0", "gpu-h100-1", [container("eval", 1)], phase="Succeeded")
EVICTED = pod("ml-train", "eval-1", "gpu-a100-1", [container("eval", 1)], phase="Failed", reason="Evicted")


@pytest.fixture
def api() -> Iterator[KubeApi]:
    with KubeApi() as server:
        server.put(*NODES, TRAIN, INFER, WAITING, GATED, WEB, EXPORTER_POD, DONE, EVICTED)
        server.add("GET", "/version/?", VERSION)
        yield server


@pytest.fixture
def kube(api: KubeApi, tmp_path: Path) -> KubeClient:
    return KubeClient(kubeconfig(tmp_path, api.url))


def test_gpu_nodes_are_those_with_allocatable_gpus_with_model_and_pool(kube: KubeClient, api: KubeApi) -> None:
    nodes = kube.gpu_cluster(POOLS).nodes

    assert nodes == (GpuNode("gpu-h100-1", 8, "NVIDIA-H100-80GB-HBM3", "h100-spot"),  # the first pool label it has
                     GpuNode("gpu-a100-1", 4, None, "a100-ng"))
    [request] = api.requests("GET", "/api/v1/nodes")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.param("limit") == "500"


def test_without_pool_labels_configured_nodes_have_no_pool(kube: KubeClient) -> None:
    assert [(n.name, n.pool) for n in kube.gpu_cluster().nodes] == [("gpu-h100-1", None), ("gpu-a100-1", None)]


def test_gpu_pods_across_namespaces_with_gpus_containers_labels_priority_and_age(kube: KubeClient) -> None:
    pods = {(p.namespace, p.name): p for p in kube.gpu_cluster().pods}

    assert set(pods) == {("ml-train", "llm-pretrain-0"), ("ml-infer", "vllm-0"), ("ml-infer", "vllm-1"),
                         ("ml-infer", "vllm-2")}
    assert pods[("ml-train", "llm-pretrain-0")] == GpuPod(
        "ml-train", "llm-pretrain-0", "gpu-h100-1", "Running", 8, containers=(("trainer", 6), ("helper", 2)),
        labels={"team": "llm", "owner": "U123"}, priority_class="training-high", created=CREATED)
    infer = pods[("ml-infer", "vllm-0")]
    assert (infer.gpus, infer.containers) == (3, (("vllm", 2),))  # the init container needs more
    assert infer.holds_gpus and not infer.waits_for_gpus


def test_a_pending_pod_the_scheduler_cannot_place_says_why(kube: KubeClient) -> None:
    pods = {p.name: p for p in kube.gpu_cluster().pods}

    waiting = pods["vllm-1"]
    assert (waiting.node, waiting.phase, waiting.gpus) == (None, "Pending", 2)
    assert waiting.unschedulable == UNSCHEDULABLE
    assert (waiting.priority_class, waiting.created) == ("research-low", CREATED + timedelta(hours=1))
    assert waiting.waits_for_gpus and not waiting.holds_gpus
    gated_pod = pods["vllm-2"]  # PodScheduled=False for a scheduling gate, not for a lack of GPUs
    assert (gated_pod.phase, gated_pod.unschedulable, gated_pod.waits_for_gpus) == ("Pending", None, False)
    assert pods["llm-pretrain-0"].unschedulable is None


def test_finished_pods_are_left_out_by_the_field_selector_sent(kube: KubeClient, api: KubeApi) -> None:
    cluster = kube.gpu_cluster()

    assert not {"eval-0", "eval-1"} & {p.name for p in cluster.pods}
    assert not {"eval-0", "eval-1"} & set(cluster.pod_nodes)
    [request] = api.requests("GET", "/api/v1/pods")
    assert request.param("fieldSelector") == "status.phase!=Succeeded,status.phase!=Failed"
    assert request.param("limit") == "500"


def test_pod_nodes_covers_every_active_bound_pod_including_the_exporter(kube: KubeClient) -> None:
    cluster = kube.gpu_cluster()

    assert cluster.pod_nodes == {"llm-pretrain-0": "gpu-h100-1", "vllm-0": "gpu-a100-1", "api-0": "cpu-1",
                                 EXPORTER: "gpu-h100-1"}
    assert EXPORTER not in {p.name for p in cluster.pods} and "api-0" not in {p.name for p in cluster.pods}


def test_1200_pods_are_read_in_three_pages(tmp_path: Path) -> None:
    with KubeApi() as api:
        api.put(node("gpu-1", 8))
        api.put(*(pod(f"team-{i % 7}", f"job-{i}", "gpu-1", [container("worker", 1)]) for i in range(1200)))

        cluster = KubeClient(kubeconfig(tmp_path, api.url)).gpu_cluster()

        assert len(cluster.pods) == 1200 and len(cluster.pod_nodes) == 1200
        assert {p.name for p in cluster.pods} == {f"job-{i}" for i in range(1200)}
        assert api.request_count("GET", "/api/v1/pods") == 3
        assert [r.param("continue") for r in api.requests("GET", "/api/v1/pods")] == [None, "500", "1000"]
        assert api.request_count("GET", "/api/v1/nodes") == 1


def test_scheduling_failures_are_failed_scheduling_events_across_namespaces(kube: KubeClient, api: KubeApi) -> None:
    first, last = CREATED, CREATED + timedelta(minutes=29)
    api.put(failed_scheduling("ml-infer", "vllm-1", UNSCHEDULABLE, event_time=first, count=14, last_observed=last),
            failed_scheduling("research", "notebook-3", UNSCHEDULABLE, event_time=last),
            event("ml-train", "Pod", "llm-pretrain-0", "BackOff", "Back-off restarting failed container", last=last))

    failures = sorted(kube.scheduling_failures(), key=lambda e: e.namespace)

    assert failures == [
        KubeEvent("ml-infer", "Pod", "vllm-1", "FailedScheduling", UNSCHEDULABLE, 14, first, last),
        KubeEvent("research", "Pod", "notebook-3", "FailedScheduling", UNSCHEDULABLE, 1, last, last),
    ]
    [request] = api.requests("GET", "/api/v1/events")
    assert request.param("fieldSelector") == "reason=FailedScheduling"


@pytest.mark.parametrize("resource, read", [
    ("nodes", lambda kube: kube.gpu_cluster()),
    ("pods", lambda kube: kube.gpu_cluster()),
    ("events", lambda kube: kube.scheduling_failures()),
], ids=["nodes", "pods", "events"])
def test_a_cluster_wide_403_names_the_verb_and_resource_to_grant(resource: str, read: Callable[[KubeClient], Any],
                                                                 kube: KubeClient, api: KubeApi) -> None:
    api.forbid(resource)

    with pytest.raises(BackendError) as failure:
        read(kube)

    assert failure.value.code == "kube_forbidden_cluster" and not failure.value.transient
    assert f"list {resource}" in failure.value.reason and "ClusterRole" in failure.value.reason
    assert api.request_count("GET", f"/api/v1/{resource}") == 1  # not retried


def test_probe_names_the_version_and_gpu_capacity_without_listing_pods(kube: KubeClient, api: KubeApi) -> None:
    assert kube.probe() == "Kubernetes v1.29.3-eks-1234, 2 GPU nodes (12 GPUs)"
    assert api.request_count("GET", "/api/v1/pods") == 0


def test_a_transient_503_is_retried_and_then_succeeds(kube: KubeClient, api: KubeApi) -> None:
    answers = iter([Response(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503}),
                    listing("NodeList", NODES)])
    api.add("GET", "/api/v1/nodes", lambda _request: next(answers))

    assert [n.name for n in kube.gpu_cluster().nodes] == ["gpu-h100-1", "gpu-a100-1"]
    assert len(api.requests("GET", "/api/v1/nodes")) == 2


def test_a_401_is_not_retried_and_says_to_check_the_token(kube: KubeClient, api: KubeApi) -> None:
    api.add("GET", "/api/v1/nodes", Response(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                   "reason": "Unauthorized", "code": 401}))

    with pytest.raises(BackendError) as failure:
        kube.gpu_cluster()

    assert failure.value.backend == "kubernetes" and not failure.value.transient
    assert "HTTP 401" in failure.value.reason and "token" in failure.value.reason
    assert TOKEN not in str(failure.value)
    assert len(api.requests("GET", "/api/v1/nodes")) == 1


@pytest.mark.parametrize("read", [lambda kube: kube.gpu_cluster(), lambda kube: kube.scheduling_failures()],
                         ids=["gpu_cluster", "scheduling_failures"])
def test_a_silent_api_server_times_out(read: Callable[[KubeClient], Any], tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:  # connects, never answers
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"

        no_answer = r"connected to 127\.0\.0\.1:\d+ but got no answer within 0\.3s"
        with pytest.raises(BackendError, match=no_answer) as failure:
            read(KubeClient(kubeconfig(tmp_path, server), timeout=0.3))

    assert failure.value.transient and failure.value.code == "read_timeout"


def test_without_kubeconfig_outside_a_cluster_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(BackendError, match="set KUBECONFIG"):
        KubeClient(None).gpu_cluster()


def test_unreadable_kubeconfig_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"kubeconfig .*missing"):
        KubeClient(str(tmp_path / "missing")).scheduling_failures()
