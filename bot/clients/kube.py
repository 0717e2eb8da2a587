"""Kubernetes: GPU nodes (allocatable nvidia.com/gpu) and the pods that request GPUs."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from bot.clients import KubeSource, NodeGpus, PodGpus
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
BACKEND = "kubernetes"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by NVIDIA GPU feature discovery
PAGE_SIZE = 500
ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"


class KubeClient:
    demo = False

    def __init__(self, kubeconfig: str | None = None, timeout: Any = None) -> None:
        self._kubeconfig = kubeconfig
        self._limits = Timeout.of(timeout)
        self._timeout = self._limits.pair()  # the kubernetes client's _request_timeout=(connect, read)
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
        return call_with_retries(BACKEND, lambda: self._translated(fn), budget=self._limits.read)

    def _translated(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except ApiException as exc:
            raise self._diagnose(exc, int(exc.status or 0)) from exc
        except (urllib3.exceptions.HTTPError, ValidationError, ValueError) as exc:
            raise self._diagnose(exc) from exc

    def _diagnose(self, exc: Exception, status: int | None = None) -> BackendError:
        return diagnose(BACKEND, exc, where=self._where(), timeout=self._limits, status=status, hints=HINTS,
                        setting="KUBECONFIG")

    def _where(self) -> str:
        host = self._api_client.configuration.host if self._api_client else ""
        return where_of(host) if host else "the API server"

    def _api(self) -> client.ApiClient:
        if self._api_client is None:
            self._api_client = client.ApiClient(self._configuration())
        return self._api_client

    def _configuration(self) -> client.Configuration:
        configuration = client.Configuration()
        try:
            if self._kubeconfig:
                config.load_kube_config(  # type: ignore[no-untyped-call]  # kubernetes leaves it unannotated
                    config_file=self._kubeconfig, client_configuration=configuration, persist_config=False)
            else:
                config.load_incluster_config(  # type: ignore[no-untyped-call]  # kubernetes leaves it unannotated
                    client_configuration=configuration)
        except (ConfigException, OSError) as exc:
            code, params = ("kubeconfig", {"path": self._kubeconfig}) if self._kubeconfig else ("kube_in_cluster", {})
            raise BackendError(BACKEND, code=code, params=params, hint="kube_config",
                               detail=type(exc).__name__) from exc
        configuration.retries = False  # bot.retry decides; urllib3 would otherwise retry 3 times silently
        configuration.connection_pool_maxsize = 64  # concurrent /gpu commands share one client
        return configuration


HINTS = {"connection": "check_setting", "auth": "kube_token", "forbidden": "kube_rbac"}


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


if TYPE_CHECKING:  # mypy proves that KubeClient satisfies the Protocol the domain calls
    _source: type[KubeSource] = KubeClient
