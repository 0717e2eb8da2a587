"""KubeClient with the real `kubernetes` client against a loopback server shaped like the Kubernetes API."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.clients import NodeGpus, PodGpus
from bot.clients.kube import KubeClient
from bot.retry import BackendError
from tests.support.fixture_http import FixtureServer, Request, Response
from tests.support.kube_api import TOKEN, container, kubeconfig, listing, node, pod

NODES = [node("gpu-h100-1", 8, "NVIDIA-H100-80GB-HBM3"), node("gpu-a100-1", 4), node("cpu-1", None),
         node("gpu-cordoned", 0)]
TRAIN = pod("ml-train", "llm-pretrain-0", "gpu-h100-1", [container("trainer", 4), container("sidecar", 4)])
INFER = pod("ml-infer", "vllm-0", "gpu-a100-1", [container("vllm", 2)], init=[container("warmup", 3)])
PENDING = pod("ml-infer", "vllm-1", None, [container("vllm", 2)], phase="Pending")
WEB = pod("web", "api-0", "cpu-1", [container("api")])
VERSION = {"major": "1", "minor": "29", "gitVersion": "v1.29.3-eks-1234", "gitCommit": "abc",
           "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.21.8",
           "compiler": "gc", "platform": "linux/amd64"}


def all_pods(request: Request) -> dict[str, Any]:
    if request.param("continue") == "page-2":
        return listing("PodList", [PENDING, WEB])
    return listing("PodList", [TRAIN, INFER], continue_token="page-2")


def namespaced_pods(request: Request) -> dict[str, Any]:
    namespace = request.match.group("ns") if request.match else ""
    pods = [p for p in (TRAIN, INFER, PENDING, WEB) if p["metadata"]["namespace"] == namespace]
    return listing("PodList", pods)


@pytest.fixture
def api() -> Iterator[FixtureServer]:
    with FixtureServer({
        ("GET", "/api/v1/nodes"): listing("NodeList", NODES),
        ("GET", "/api/v1/pods"): all_pods,
        ("GET", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods"): namespaced_pods,
        ("GET", "/version/?"): VERSION,
    }) as server:
        yield server


@pytest.fixture
def kube(api: FixtureServer, tmp_path: Path) -> KubeClient:
    return KubeClient(kubeconfig(tmp_path, api.url))


def test_gpu_nodes_lists_nodes_with_allocatable_gpus(kube: KubeClient, api: FixtureServer) -> None:
    assert kube.gpu_nodes() == [NodeGpus("gpu-h100-1", 8, "NVIDIA-H100-80GB-HBM3"), NodeGpus("gpu-a100-1", 4)]
    [request] = api.requests("GET", "/api/v1/nodes")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_gpu_pods_across_namespaces_follow_continue_tokens(kube: KubeClient, api: FixtureServer) -> None:
    pods = kube.gpu_pods()

    assert pods == [
        PodGpus("ml-train", "llm-pretrain-0", "gpu-h100-1", "Running", 8),  # both containers' limits
        PodGpus("ml-infer", "vllm-0", "gpu-a100-1", "Running", 3),  # the init container needs more
        PodGpus("ml-infer", "vllm-1", None, "Pending", 2),
    ]
    first, second = api.requests("GET", "/api/v1/pods")
    assert first.param("continue") is None and second.param("continue") == "page-2"
    assert first.param("fieldSelector") == "status.phase!=Succeeded,status.phase!=Failed"
    assert first.param("limit") == "500"


def test_gpu_pods_of_given_namespaces_only(kube: KubeClient, api: FixtureServer) -> None:
    pods = kube.gpu_pods(["ml-infer", "web"])

    assert [(p.namespace, p.pod) for p in pods] == [("ml-infer", "vllm-0"), ("ml-infer", "vllm-1")]
    assert [r.path for r in api.requests("GET")] == ["/api/v1/namespaces/ml-infer/pods",
                                                      "/api/v1/namespaces/web/pods"]


def test_probe_names_the_version_and_gpu_capacity(kube: KubeClient) -> None:
    assert kube.probe() == "Kubernetes v1.29.3-eks-1234, 2 GPU nodes (12 GPUs)"


def test_a_transient_503_is_retried_and_then_succeeds(kube: KubeClient, api: FixtureServer) -> None:
    answers = iter([Response(503, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 503}),
                    listing("NodeList", NODES)])
    api.add("GET", "/api/v1/nodes", lambda _request: next(answers))

    assert [n.name for n in kube.gpu_nodes()] == ["gpu-h100-1", "gpu-a100-1"]
    assert len(api.requests("GET", "/api/v1/nodes")) == 2


def test_a_401_is_not_retried_and_says_to_check_the_token(kube: KubeClient, api: FixtureServer) -> None:
    api.add("GET", "/api/v1/nodes", Response(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                                   "reason": "Unauthorized", "code": 401}))

    with pytest.raises(BackendError) as failure:
        kube.gpu_nodes()

    assert failure.value.backend == "kubernetes" and not failure.value.transient
    assert "HTTP 401" in failure.value.reason and "token" in failure.value.reason
    assert TOKEN not in str(failure.value)
    assert len(api.requests("GET", "/api/v1/nodes")) == 1


def test_a_silent_api_server_times_out(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=8) as silent:  # connects, never answers
        server = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()

        no_answer = r"connected to 127\.0\.0\.1:\d+ but got no answer within 0\.3s"
        with pytest.raises(BackendError, match=no_answer) as failure:
            KubeClient(kubeconfig(tmp_path, server), timeout=0.3).gpu_nodes()

    assert failure.value.transient
    assert time.monotonic() - started < 3


def test_without_kubeconfig_outside_a_cluster_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)

    with pytest.raises(BackendError, match="set KUBECONFIG"):
        KubeClient(None).gpu_nodes()


def test_unreadable_kubeconfig_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(BackendError, match=r"kubeconfig .*missing"):
        KubeClient(str(tmp_path / "missing")).gpu_pods()
