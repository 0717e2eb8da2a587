"""Kubernetes: GPU nodes (allocatable nvidia.com/gpu) and the pods that request GPUs; and the evidence for an
incident (pods of any phase, Warning events, Deployments/StatefulSets with their revisions, node health)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from pydantic import ValidationError

from bot.clients import (
    ContainerState,
    GpuCluster,
    GpuNode,
    GpuPod,
    KubeEvent,
    KubeEvidenceSource,
    KubeSource,
    NodeHealth,
    PodState,
    Workload,
    WorkloadRevision,
)
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
BACKEND = "kubernetes"
GPU_RESOURCE = "nvidia.com/gpu"
GPU_PRODUCT_LABEL = "nvidia.com/gpu.product"  # set by NVIDIA GPU feature discovery
PAGE_SIZE = 500
ACTIVE_PODS = "status.phase!=Succeeded,status.phase!=Failed"
WARNINGS = "type=Warning"
FAILED_SCHEDULING = "reason=FailedScheduling"
REVISION = "deployment.kubernetes.io/revision"
CHANGE_CAUSE = "kubernetes.io/change-cause"
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")
READ_NODES_UP_TO = 20  # more nodes than this: one paged list of all nodes beats one read each


@dataclass(frozen=True)
class Access:
    """What a call needs from RBAC, so that a 403 can say what to grant (from the call, never the answer)."""

    verb: str
    resource: str
    namespace: str | None = None


Lister = Callable[[Any, str | None], Any]


class KubeClient:
    demo = False

    def __init__(self, kubeconfig: str | None = None, timeout: Any = None) -> None:
        self._kubeconfig = kubeconfig
        self._limits = Timeout.of(timeout)
        self._timeout = self._limits.pair()  # the kubernetes client's _request_timeout=(connect, read)
        self._api_client: client.ApiClient | None = None
        self._api_lock = threading.Lock()  # evidence is collected from several threads at once

    def gpu_cluster(self, pool_labels: tuple[str, ...] = ()) -> GpuCluster:
        """Nodes and active pods, read as raw JSON: the client's models cost seconds on thousands of pods."""
        nodes = self._gpu_nodes(pool_labels)
        pods = self._raw_list(lambda core, token: core.list_pod_for_all_namespaces(
            limit=PAGE_SIZE, _continue=token, field_selector=ACTIVE_PODS, _request_timeout=self._timeout,
            _preload_content=False), Access("list", "pods"))
        gpu_pods = (_gpu_pod(item) for item in pods)
        pod_nodes = {item["metadata"]["name"]: item["spec"]["nodeName"] for item in pods
                     if (item.get("spec") or {}).get("nodeName")}
        return GpuCluster(nodes=nodes, pods=tuple(p for p in gpu_pods if p.gpus > 0), pod_nodes=pod_nodes)

    def _gpu_nodes(self, pool_labels: tuple[str, ...] = ()) -> tuple[GpuNode, ...]:
        items = self._raw_list(lambda core, token: core.list_node(
            limit=PAGE_SIZE, _continue=token, _request_timeout=self._timeout, _preload_content=False),
            Access("list", "nodes"))
        found = (_gpu_node(item, pool_labels) for item in items)
        return tuple(node for node in found if node.gpus > 0)

    def scheduling_failures(self) -> list[KubeEvent]:
        items = self._list(lambda core, token: core.list_event_for_all_namespaces(
            field_selector=FAILED_SCHEDULING, limit=PAGE_SIZE, _continue=token, _request_timeout=self._timeout),
            Access("list", "events"))
        return [_event(item) for item in items]

    def probe(self) -> str:
        version = self._call(lambda: client.VersionApi(self._api()).get_code(_request_timeout=self._timeout))
        nodes = self._gpu_nodes()
        return f"Kubernetes {version.git_version}, {len(nodes)} GPU nodes ({sum(n.gpus for n in nodes)} GPUs)"

    def _raw_list(self, page: Lister, access: Access) -> list[dict[str, Any]]:
        """Every item of a list call made with _preload_content=False, following `metadata.continue`."""
        core = client.CoreV1Api(self._api())
        items: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            answer = self._call(partial(_json_of, partial(page, core, token)), access)
            items += answer.get("items") or []
            token = (answer.get("metadata") or {}).get("continue") or None
            if not token:
                return items

    # Evidence for an incident (KubeEvidenceSource)

    def pods(self, namespace: str) -> list[PodState]:
        """Every pod of `namespace`, whatever its phase (an Evicted pod is Failed)."""
        items = self._list(lambda core, token: core.list_namespaced_pod(
            namespace, limit=PAGE_SIZE, _continue=token, _request_timeout=self._timeout),
            Access("list", "pods", namespace))
        return [_pod_state(item) for item in items]

    def warning_events(self, namespace: str) -> list[KubeEvent]:
        """Warning events of `namespace` from the core v1 API (events.k8s.io fails on events without
        eventTime in this client, kubernetes-client/python#1616)."""
        items = self._list(lambda core, token: core.list_namespaced_event(
            namespace, field_selector=WARNINGS, limit=PAGE_SIZE, _continue=token,
            _request_timeout=self._timeout), Access("list", "events", namespace))
        return [_event(item) for item in items]

    def deployments(self, namespace: str) -> list[Workload]:
        return [_workload("Deployment", item) for item in self._apps("deployment", "deployments", namespace)]

    def replica_sets(self, namespace: str) -> list[WorkloadRevision]:
        """ReplicaSets owned by a Deployment, with their revision number."""
        found = (_replica_set(item) for item in self._apps("replica_set", "replicasets", namespace))
        return [rs for rs in found if rs is not None]

    def stateful_sets(self, namespace: str) -> list[Workload]:
        return [_workload("StatefulSet", item) for item in self._apps("stateful_set", "statefulsets", namespace)]

    def controller_revisions(self, namespace: str) -> list[WorkloadRevision]:
        """ControllerRevisions owned by a StatefulSet, with the images of the pod template they record."""
        found = (_controller_revision(item)
                 for item in self._apps("controller_revision", "controllerrevisions", namespace))
        return [revision for revision in found if revision is not None]

    def _apps(self, kind: str, resource: str, namespace: str) -> list[Any]:
        """Every `apps/v1` object of one kind in `namespace` (`list_namespaced_<kind>`)."""
        def page(apps: Any, token: str | None) -> Any:
            return getattr(apps, f"list_namespaced_{kind}")(namespace, limit=PAGE_SIZE, _continue=token,
                                                            _request_timeout=self._timeout)
        return self._list(page, Access("list", resource, namespace), api=client.AppsV1Api)

    def nodes(self, names: list[str]) -> list[NodeHealth]:
        """Health of the named nodes (a name the API does not know is left out)."""
        wanted = sorted(set(names))
        if not wanted:
            return []
        if len(wanted) > READ_NODES_UP_TO:
            items = self._list(lambda core, token: core.list_node(
                limit=PAGE_SIZE, _continue=token, _request_timeout=self._timeout), Access("list", "nodes"))
            return [_node_health(item) for item in items if item.metadata.name in set(wanted)]
        core = client.CoreV1Api(self._api())
        found = [self._call(partial(_absent_as_none, partial(core.read_node, name, _request_timeout=self._timeout)),
                            Access("get", "nodes")) for name in wanted]
        return [_node_health(item) for item in found if item is not None]

    def _list(self, page: Lister, access: Access | None = None,
              api: Callable[[client.ApiClient], Any] = client.CoreV1Api) -> list[Any]:
        """Every item of a list call, following `metadata.continue`."""
        target = api(self._api())
        items: list[Any] = []
        token: str | None = None
        while True:
            answer = self._call(partial(page, target, token), access)
            items += answer.items or []
            token = answer.metadata.var_continue if answer.metadata else None
            if not token:
                return items

    def _call(self, fn: Callable[[], T], access: Access | None = None) -> T:
        return call_with_retries(BACKEND, lambda: self._translated(fn, access), budget=self._limits.read)

    def _translated(self, fn: Callable[[], T], access: Access | None = None) -> T:
        try:
            return fn()
        except ApiException as exc:
            if exc.status == 403 and access is not None:
                raise _forbidden(access, exc) from exc
            raise self._diagnose(exc, int(exc.status or 0), (exc.headers or {}).get("Retry-After")) from exc
        except (urllib3.exceptions.HTTPError, ValidationError, ValueError) as exc:
            raise self._diagnose(exc) from exc

    def _diagnose(self, exc: Exception, status: int | None = None, retry_after: str | None = None) -> BackendError:
        # The API server's priority and fairness answers 429 with Retry-After: the retry waits that long.
        return diagnose(BACKEND, exc, where=self._where(), timeout=self._limits, status=status, hints=HINTS,
                        setting="KUBECONFIG", retry_after=retry_after)

    def _where(self) -> str:
        host = self._api_client.configuration.host if self._api_client else ""
        return where_of(host) if host else "the API server"

    def _api(self) -> client.ApiClient:
        with self._api_lock:
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


def _json_of(call: Callable[[], Any]) -> dict[str, Any]:
    answer = json.loads(call().data)
    if not isinstance(answer, dict):
        raise ValueError(f"a list answered {type(answer).__name__}, not an object")
    return answer


def _gpu_node(item: dict[str, Any], pool_labels: tuple[str, ...]) -> GpuNode:
    allocatable = (item.get("status") or {}).get("allocatable") or {}
    labels = item["metadata"].get("labels") or {}
    return GpuNode(name=item["metadata"]["name"], gpus=quantity(allocatable.get(GPU_RESOURCE)),
                   model=labels.get(GPU_PRODUCT_LABEL),
                   pool=next((labels[key] for key in pool_labels if labels.get(key)), None))


def _gpu_pod(item: dict[str, Any]) -> GpuPod:
    """GPUs the scheduler reserves: the containers' sum, or the largest init container if larger."""
    metadata, spec, status = item["metadata"], item.get("spec") or {}, item.get("status") or {}
    running = [(c.get("name", ""), _gpus_of(c)) for c in spec.get("containers") or []]
    init = max((_gpus_of(c) for c in spec.get("initContainers") or []), default=0)
    scheduled: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), {})
    waiting = scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable"
    return GpuPod(namespace=metadata.get("namespace", ""), name=metadata["name"], node=spec.get("nodeName"),
                  phase=status.get("phase") or "Unknown", gpus=max(sum(n for _, n in running), init),
                  containers=tuple((name, n) for name, n in running if n), labels=metadata.get("labels") or {},
                  priority_class=spec.get("priorityClassName"), created=_time(metadata.get("creationTimestamp")),
                  unschedulable=(scheduled.get("message") or "Unschedulable") if waiting else None)


def _gpus_of(container: dict[str, Any]) -> int:
    """Extended resources are set as limits; a request, if given, must equal the limit."""
    resources = container.get("resources") or {}
    amounts = resources.get("limits") or resources.get("requests") or {}
    return quantity(amounts.get(GPU_RESOURCE))


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _forbidden(access: Access, exc: ApiException) -> BackendError:
    """A 403 as the RBAC rule that is missing; the verb and resource are those of the call that was made."""
    params = {"verb": access.verb, "resource": access.resource, "namespace": access.namespace or ""}
    code = "kube_forbidden" if access.namespace else "kube_forbidden_cluster"
    return BackendError(BACKEND, code=code, params=params, detail=f"ApiException (HTTP {exc.status})")


def _absent_as_none(fn: Callable[[], T]) -> T | None:
    try:
        return fn()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def _pod_state(pod: Any) -> PodState:
    status = pod.status
    conditions = (status.conditions if status else None) or []
    ready = any(c.type == "Ready" and c.status == "True" for c in conditions)
    containers = [*((status.init_container_statuses if status else None) or []),
                  *((status.container_statuses if status else None) or [])]
    return PodState(namespace=pod.metadata.namespace or "", name=pod.metadata.name,
                    node=pod.spec.node_name if pod.spec else None,
                    phase=(status.phase if status else None) or "Unknown", ready=ready,
                    reason=status.reason if status else None, message=status.message if status else None,
                    containers=tuple(_container_state(c) for c in containers),
                    created=pod.metadata.creation_timestamp)


def _container_state(status: Any) -> ContainerState:
    state = status.state
    waiting = state.waiting if state else None
    terminated = state.terminated if state else None
    last = status.last_state.terminated if status.last_state else None
    return ContainerState(name=status.name, ready=bool(status.ready), restarts=int(status.restart_count or 0),
                          waiting=waiting.reason if waiting else None,
                          waiting_message=waiting.message if waiting else None,
                          terminated=terminated.reason if terminated else None,
                          last_reason=last.reason if last else None,
                          last_exit_code=last.exit_code if last else None,
                          last_finished=last.finished_at if last else None)


def _event(event: Any) -> KubeEvent:
    """eventTime (new-style events, e.g. FailedScheduling) or first/lastTimestamp (old-style) may each be null;
    a series' lastObservedTime is the newest occurrence of a new-style event."""
    series = event.series
    observed = series.last_observed_time if series else None
    created = event.metadata.creation_timestamp if event.metadata else None
    first = _first(event.first_timestamp, event.event_time, event.last_timestamp, created)
    last = _first(observed, event.last_timestamp, event.event_time, event.first_timestamp, created)
    count = event.count or (series.count if series else None) or 1
    involved = event.involved_object
    return KubeEvent(namespace=event.metadata.namespace or involved.namespace or "", kind=involved.kind or "",
                     name=involved.name or "", reason=event.reason or "", message=(event.message or "").strip(),
                     count=int(count), first_seen=first, last_seen=last, type=event.type or "")


def _first(*moments: datetime | None) -> datetime | None:
    return next((m for m in moments if m is not None), None)


def _images(template: Any) -> tuple[str, ...]:
    spec = template.spec if template else None
    return tuple(c.image or "" for c in (spec.containers if spec else None) or [])


def _workload(kind: Literal["Deployment", "StatefulSet"], item: Any) -> Workload:
    annotations = item.metadata.annotations or {}
    status = item.status
    return Workload(kind=kind, namespace=item.metadata.namespace or "", name=item.metadata.name,
                    uid=item.metadata.uid or "", images=_images(item.spec.template if item.spec else None),
                    revision=annotations.get(REVISION), change_cause=annotations.get(CHANGE_CAUSE),
                    current_revision=status.current_revision if kind == "StatefulSet" and status else None,
                    update_revision=status.update_revision if kind == "StatefulSet" and status else None)


def _owner(item: Any, kind: str) -> Any:
    return next((o for o in item.metadata.owner_references or [] if o.kind == kind and o.controller), None)


def _replica_set(item: Any) -> WorkloadRevision | None:
    owner = _owner(item, "Deployment")
    annotations = item.metadata.annotations or {}
    if owner is None:
        return None
    return WorkloadRevision(kind="Deployment", namespace=item.metadata.namespace or "", owner=owner.name,
                            owner_uid=owner.uid, name=item.metadata.name,
                            revision=int(quantity(annotations.get(REVISION))),
                            images=_images(item.spec.template if item.spec else None),
                            created=item.metadata.creation_timestamp, change_cause=annotations.get(CHANGE_CAUSE))


def _controller_revision(item: Any) -> WorkloadRevision | None:
    """A StatefulSet's revision stores its pod template as a patch: data.spec.template.spec.containers."""
    owner = _owner(item, "StatefulSet")
    if owner is None:
        return None
    data = item.data if isinstance(item.data, dict) else {}
    spec = ((data.get("spec") or {}).get("template") or {}).get("spec") or {}
    images = tuple(str(c.get("image", "")) for c in spec.get("containers") or [] if isinstance(c, dict))
    annotations = item.metadata.annotations or {}
    return WorkloadRevision(kind="StatefulSet", namespace=item.metadata.namespace or "", owner=owner.name,
                            owner_uid=owner.uid, name=item.metadata.name, revision=int(item.revision or 0),
                            images=images, created=item.metadata.creation_timestamp,
                            change_cause=annotations.get(CHANGE_CAUSE))


def _node_health(node: Any) -> NodeHealth:
    conditions = {c.type: c for c in (node.status.conditions if node.status else None) or []}
    ready = conditions.get("Ready")
    return NodeHealth(name=node.metadata.name,
                      ready={"True": True, "False": False}.get(ready.status) if ready else None,
                      pressures=tuple(p for p in PRESSURES if p in conditions and conditions[p].status == "True"),
                      unschedulable=bool(node.spec.unschedulable) if node.spec else False,
                      ready_reason=ready.reason if ready else None)


if TYPE_CHECKING:  # mypy proves that KubeClient satisfies the Protocols the domain calls
    _source: type[KubeSource] = KubeClient
    _evidence: type[KubeEvidenceSource] = KubeClient
