"""Kubernetes: GPU nodes (allocatable nvidia.com/gpu) and the pods that request GPUs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from bot.clients import NodeGpus, PodGpus
from bot.retry import TRANSIENT_HTTP_STATUS, BackendError, call_with_retries

T = TypeVar("T")
BACKEND = "kubernetes"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by NVIDIA GPU feature discovery
PAGE_SIZE = 500
ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"


class KubeClient:
    demo = False

    def __init__(self, kubeconfig: str | None = None, timeout: float = 10.0) -> None:
        self._kubeconfig = kubeconfig
        self._timeout = (min(3.0, timeout), timeout)
        self._api_client: client.ApiClient | None = None

    def gpu_nodes(self) -> list[NodeGpus]:
        nodes = self._list(lambda core, token: core.list_node(
            limit=PAGE_SIZE, _continue=token, _request_timeout=self._timeout))
        found = (_node_gpus(node) for node in nodes)
        return [node for node in found if node.gpus > 0]

    def gpu_pods(self, namespaces: list[str] | None = None) -> list[PodGpus]:
        pods: list[Any] = []
        for namespace in namespaces if namespaces else [None]:
            pods += self._list(self._pod_lister(namespace))
        found = (_pod_gpus(pod) for pod in pods)
        return [pod for pod in found if pod.gpus > 0]

    def probe(self) -> str:
        version = self._call(lambda: client.VersionApi(self._api()).get_code(_request_timeout=self._timeout))
        nodes = self.gpu_nodes()
        return f"Kubernetes {version.git_version}, {len(nodes)} GPU nodes ({sum(n.gpus for n in nodes)} GPUs)"

    def _pod_lister(self, namespace: str | None) -> Callable[[client.CoreV1Api, str | None], Any]:
        def page(core: client.CoreV1Api, token: str | None) -> Any:
            common: dict[str, Any] = {"limit": PAGE_SIZE, "_continue": token, "field_selector": ACTIVE_PODS,
                                      "_request_timeout": self._timeout}
            if namespace is None:
                return core.list_pod_for_all_namespaces(**common)
            return core.list_namespaced_pod(namespace, **common)
        return page

    def _list(self, page: Callable[[client.CoreV1Api, str | None], Any]) -> list[Any]:
        """Every item of a list call, following `metadata.continue`."""
        core = client.CoreV1Api(self._api())
        items: list[Any] = []
        token: str | None = None
        while True:
            answer = self._call(partial(page, core, token))
            items += answer.items or []
            token = answer.metadata.var_continue if answer.metadata else None
            if not token:
                return items

    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retries(BACKEND, lambda: _translated(fn))

    def _api(self) -> client.ApiClient:
        if self._api_client is None:
            self._api_client = client.ApiClient(self._configuration())
        return self._api_client

    def _configuration(self) -> client.Configuration:
        configuration = client.Configuration()
        try:
            if self._kubeconfig:
                config.load_kube_config(config_file=self._kubeconfig, client_configuration=configuration,
                                        persist_config=False)
            else:
                config.load_incluster_config(client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            where = f"kubeconfig {self._kubeconfig}" if self._kubeconfig else "in-cluster service account"
            raise BackendError(BACKEND, f"cannot load the {where}: set KUBECONFIG to a readable kubeconfig "
                               "file, or run the bot inside the cluster") from exc
        configuration.retries = False  # bot.retry decides; urllib3 would otherwise retry 3 times silently
        configuration.connection_pool_maxsize = 64  # concurrent /gpu commands share one client
        return configuration


def _translated(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ApiException as exc:
        status = int(exc.status or 0)
        raise BackendError(BACKEND, _status_reason(status), status in TRANSIENT_HTTP_STATUS) from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise BackendError(BACKEND, "the API server did not answer in time", transient=True) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise BackendError(BACKEND, "cannot connect to the API server: check KUBECONFIG",
                           transient=True) from exc
    except (ValidationError, ValueError) as exc:
        raise BackendError(BACKEND, f"unexpected answer from the API server ({type(exc).__name__})") from exc


def _status_reason(status: int) -> str:
    if status == 401:
        return "the API server rejected the credentials (HTTP 401): check the kubeconfig's token"
    if status == 403:
        return "not allowed (HTTP 403): the bot's RBAC role needs get/list on nodes and pods"
    return f"the API server answered HTTP {status or '?'}"


def quantity(value: str | None) -> int:
    """Extended resources such as nvidia.com/gpu are whole numbers."""
    try:
        return int(str(value or "0").strip())
    except ValueError:
        return 0


def _node_gpus(node: Any) -> NodeGpus:
    allocatable = (node.status.allocatable if node.status else None) or {}
    labels = node.metadata.labels or {}
    return NodeGpus(name=node.metadata.name, gpus=quantity(allocatable.get(GPU_RESOURCE)),
                    model=labels.get(GPU_PRODUCT_LABEL))


def _pod_gpus(pod: Any) -> PodGpus:
    spec = pod.spec
    return PodGpus(namespace=pod.metadata.namespace or "", pod=pod.metadata.name,
                   node=spec.node_name if spec else None,
                   phase=(pod.status.phase if pod.status else None) or "Unknown",
                   gpus=requested_gpus(spec))


def requested_gpus(spec: Any) -> int:
    """GPUs the scheduler reserves: the containers' sum, or the largest init container if larger."""
    if spec is None:
        return 0
    running = sum(_limit(c) for c in spec.containers or [])
    init = max((_limit(c) for c in spec.init_containers or []), default=0)
    return max(running, init)


def _limit(container: Any) -> int:
    limits = (container.resources.limits if container.resources else None) or {}
    return quantity(limits.get(GPU_RESOURCE))
