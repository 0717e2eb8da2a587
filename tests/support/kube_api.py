"""A loopback server shaped like the Kubernetes API, for the real `kubernetes` client.

The kubernetes 37.x client validates every answer with pydantic models, so the builders below write
complete objects (every required field, as a real API server sends them). `KubeApi` serves pods,
core v1 events, deployments, replicasets, statefulsets, controllerrevisions and nodes, per namespace and
across namespaces (`/api/v1/pods`, `/api/v1/events`, ...), pages lists with `limit`/`continue`, honours
`fieldSelector` on pods and events (`status.phase!=Succeeded,spec.nodeName=n1`, `reason=FailedScheduling`),
counts requests per method and path (`request_counts`), and can make a path hang (`hang`) or answer 403
with a real-looking Status (`forbid`).

    with KubeApi() as api:
        api.put(pod("payments", "api-1", node_name="node-1", containers=[...]))
        client = KubeClient(kubeconfig(tmp_path, api.url))
"""

from __future__ import annotations

import re
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import yaml

from tests.support.fixture_http import FixtureServer, Request, Response

TOKEN = "kube-test-token"
Obj = dict[str, Any]
Term = tuple[str, bool, str]  # a fieldSelector term: (dotted path, wants equal, value)


def ts(moment: datetime) -> str:
    """A Kubernetes Time (seconds)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def micro(moment: datetime) -> str:
    """A Kubernetes MicroTime (eventTime)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None,
         created: datetime | str = "2026-03-01T08:00:00Z", annotations: dict[str, str] | None = None,
         owner: Obj | None = None) -> Obj:
    found: Obj = {"name": name, "uid": f"uid-{namespace or ''}-{name}", "resourceVersion": "1",
                  "creationTimestamp": created if isinstance(created, str) else ts(created), "labels": labels or {}}
    if namespace:
        found["namespace"] = namespace
    if annotations:
        found["annotations"] = annotations
    if owner:
        found["ownerReferences"] = [owner]
    return found


def owner_ref(kind: str, name: str, namespace: str) -> Obj:
    return {"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": f"uid-{namespace}-{name}",
            "controller": True, "blockOwnerDeletion": True}


def node(name: str, gpus: int | None = None, product: str | None = None, ready: str = "True",
         pressures: tuple[str, ...] = (), unschedulable: bool = False) -> Obj:
    allocatable = {"cpu": "96", "memory": "1056Gi", "pods": "110"}
    if gpus is not None:
        allocatable["nvidia.com/gpu"] = str(gpus)
    labels = {"kubernetes.io/hostname": name, **({"nvidia.com/gpu.product": product} if product else {})}
    conditions = [{"type": kind, "status": "True" if kind in pressures else "False",
                   "reason": f"KubeletHas{'Insufficient' if kind in pressures else 'No'}{kind}",
                   "lastHeartbeatTime": "2026-11-24T05:59:00Z", "lastTransitionTime": "2026-11-20T00:00:00Z"}
                  for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")]
    conditions.append({"type": "Ready", "status": ready,
                       "reason": "KubeletReady" if ready == "True" else "NodeStatusUnknown",
                       "message": "kubelet is posting ready status" if ready == "True"
                       else "Kubelet stopped posting node status.",
                       "lastHeartbeatTime": "2026-11-24T05:30:00Z", "lastTransitionTime": "2026-11-24T05:31:00Z"})
    spec: Obj = {"providerID": f"aws:///us-east-1a/i-{name}"}
    if unschedulable:
        spec["unschedulable"] = True
    return {"kind": "Node", "apiVersion": "v1", "metadata": meta(name, labels=labels), "spec": spec,
            "status": {"capacity": allocatable, "allocatable": allocatable, "conditions": conditions,
                       "nodeInfo": {"architecture": "amd64", "bootID": "b", "containerRuntimeVersion": "containerd://1.7",
                                    "kernelVersion": "6.1", "kubeProxyVersion": "v1.29.3", "kubeletVersion": "v1.29.3",
                                    "machineID": "m", "operatingSystem": "linux", "osImage": "Debian 12",
                                    "systemUUID": "s"}}}


def container(name: str, gpus: int | None = None, image: str | None = None) -> Obj:
    resources: Obj = {"requests": {"cpu": "4"}}
    if gpus is not None:
        resources["limits"] = {"nvidia.com/gpu": str(gpus)}
    return {"name": name, "image": image or f"registry.example.com/{name}:1.0", "resources": resources,
            "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File"}


def container_status(name: str, *, ready: bool = True, restarts: int = 0, state: Obj | None = None,
                     last: Obj | None = None, image: str | None = None) -> Obj:
    image = image or f"registry.example.com/{name}:1.0"
    return {"name": name, "image": image, "imageID": f"{image}@sha256:{'ab' * 32}", "ready": ready,
            "started": ready, "restartCount": restarts,
            "state": state or {"running": {"startedAt": "2026-11-24T04:00:00Z"}},
            "lastState": {"terminated": last} if last else {}, "containerID": f"containerd://{name}"}


def waiting(reason: str, message: str = "") -> Obj:
    return {"waiting": {"reason": reason, "message": message}}


def terminated(reason: str, exit_code: int, finished: datetime | str = "2026-11-24T05:50:00Z") -> Obj:
    return {"reason": reason, "exitCode": exit_code, "startedAt": "2026-11-24T05:40:00Z",
            "finishedAt": finished if isinstance(finished, str) else ts(finished), "containerID": "containerd://x"}


def pod(namespace: str, name: str, node_name: str | None, containers: list[Obj], phase: str = "Running",
        init: list[Obj] | None = None, statuses: list[Obj] | None = None, ready: bool | None = None,
        reason: str | None = None, message: str | None = None, owner: Obj | None = None, *,
        labels: dict[str, str] | None = None, priority_class: str | None = None, priority: int | None = None,
        created: datetime | str | None = None, unschedulable: str | None = None) -> Obj:
    """A pod; `unschedulable` (the scheduler's message) makes it Pending, unbound, with PodScheduled False."""
    spec: Obj = {"containers": containers, "restartPolicy": "Always"}
    if node_name and not unschedulable:
        spec["nodeName"] = node_name
    if init:
        spec["initContainers"] = init
    if priority_class:
        spec["priorityClassName"] = priority_class
    if priority is not None:
        spec["priority"] = priority
    status: Obj = {"phase": "Pending" if unschedulable else phase}
    if statuses is not None:
        is_ready = all(s["ready"] for s in statuses) if ready is None else ready
        status["containerStatuses"] = statuses
        status["conditions"] = [{"type": "Ready", "status": "True" if is_ready else "False",
                                 "lastTransitionTime": "2026-11-24T05:40:00Z"},
                                {"type": "PodScheduled", "status": "True",
                                 "lastTransitionTime": "2026-11-24T04:00:00Z"}]
        status["hostIP"] = "10.0.0.1"
        status["podIP"] = "10.1.0.1"
        status["startTime"] = "2026-11-24T04:00:00Z"
        status["qosClass"] = "Burstable"
    if unschedulable:
        status["conditions"] = [_unschedulable(unschedulable, created)]
        status["qosClass"] = "Burstable"
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    metadata = meta(name, namespace, labels=labels, owner=owner, **({"created": created} if created else {}))
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata, "spec": spec, "status": status}


def _unschedulable(message: str, since: datetime | str | None) -> Obj:
    stamp = since if isinstance(since, str) else ts(since) if since else "2026-11-24T04:00:00Z"
    return {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": message,
            "lastTransitionTime": stamp, "lastProbeTime": None}


def event(namespace: str, kind: str, name: str, reason: str, message: str, *, count: int | None = 1,
          first: datetime | None = None, last: datetime | None = None, event_time: datetime | None = None,
          type_: str = "Warning", uid: str | None = None) -> Obj:
    """A core v1 Event; old-style ones have first/lastTimestamp, new-style ones eventTime (and null timestamps)."""
    stamp = event_time or last or first or datetime(2026, 11, 24, tzinfo=UTC)
    uid = uid or f"{abs(hash((name, reason, message, stamp, count))):x}"
    return {"kind": "Event", "apiVersion": "v1",
            "metadata": {"name": f"{name}.{uid}", "namespace": namespace, "uid": uid,
                         "resourceVersion": "7", "creationTimestamp": ts(stamp)},
            "involvedObject": {"kind": kind, "namespace": namespace, "name": name, "uid": f"uid-{namespace}-{name}",
                               "apiVersion": "v1" if kind in ("Pod", "Node") else "apps/v1",
                               "resourceVersion": "5"},
            "reason": reason, "message": message,
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": ts(first) if first else None, "lastTimestamp": ts(last) if last else None,
            "eventTime": micro(event_time) if event_time else None,
            "count": count, "type": type_,
            "reportingComponent": "kubelet" if not event_time else "default-scheduler",
            "reportingInstance": "node-1" if not event_time else "default-scheduler-abc",
            "action": "Scheduling" if event_time else None}


def failed_scheduling(namespace: str, pod_name: str, message: str, *, event_time: datetime, count: int = 1,
                      last_observed: datetime | None = None, uid: str | None = None) -> Obj:
    """A FailedScheduling Event as default-scheduler writes it (events.k8s.io, read through core v1).

    `eventTime` is the first occurrence; the first/last timestamps and `count` are null, and repeats show
    as `series` (`count`, `lastObservedTime`, default `event_time`) once `count` > 1.
    """
    found = event(namespace, "Pod", pod_name, "FailedScheduling", message, count=None, event_time=event_time,
                  uid=uid)
    found["source"] = {}
    found["reportingInstance"] = "default-scheduler-control-plane"
    if count > 1:
        found["series"] = {"count": count, "lastObservedTime": micro(last_observed or event_time)}
    return found


def _template(namespace: str, app: str, images: list[str]) -> Obj:
    return {"metadata": {"labels": {"app": app}},
            "spec": {"containers": [container(image.rsplit("/", 1)[-1].split(":")[0], image=image) for image in images],
                     "restartPolicy": "Always"}}


def deployment(namespace: str, name: str, image: str, revision: int, change_cause: str | None = None) -> Obj:
    annotations = {"deployment.kubernetes.io/revision": str(revision)}
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    return {"kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": meta(name, namespace, annotations=annotations),
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                     "template": _template(namespace, name, [image]),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%",
                                                                             "maxUnavailable": "25%"}}},
            "status": {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2,
                       "observedGeneration": revision}}


def replica_set(namespace: str, deployment_name: str, pod_hash: str, image: str, revision: int,
                created: datetime, change_cause: str | None = None) -> Obj:
    annotations = {"deployment.kubernetes.io/revision": str(revision),
                   "deployment.kubernetes.io/desired-replicas": "3", "deployment.kubernetes.io/max-replicas": "4"}
    if change_cause:
        annotations["kubernetes.io/change-cause"] = change_cause
    labels = {"app": deployment_name, "pod-template-hash": pod_hash}
    return {"kind": "ReplicaSet", "apiVersion": "apps/v1",
            "metadata": meta(f"{deployment_name}-{pod_hash}", namespace, labels=labels, created=created,
                             annotations=annotations, owner=owner_ref("Deployment", deployment_name, namespace)),
            "spec": {"replicas": 3, "selector": {"matchLabels": labels},
                     "template": _template(namespace, deployment_name, [image])},
            "status": {"replicas": 3, "observedGeneration": 1}}


def stateful_set(namespace: str, name: str, image: str, current: str, update: str) -> Obj:
    return {"kind": "StatefulSet", "apiVersion": "apps/v1", "metadata": meta(name, namespace),
            "spec": {"replicas": 3, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                     "template": _template(namespace, name, [image]),
                     "updateStrategy": {"type": "RollingUpdate"}},
            "status": {"replicas": 3, "currentRevision": current, "updateRevision": update,
                       "observedGeneration": 2, "readyReplicas": 3}}


def controller_revision(namespace: str, statefulset: str, revision_hash: str, image: str, revision: int,
                        created: datetime) -> Obj:
    data = {"spec": {"template": {"$patch": "replace", **_template(namespace, statefulset, [image])}}}
    return {"kind": "ControllerRevision", "apiVersion": "apps/v1",
            "metadata": meta(f"{statefulset}-{revision_hash}", namespace, created=created,
                             labels={"app": statefulset, "controller-revision-hash": revision_hash},
                             owner=owner_ref("StatefulSet", statefulset, namespace)),
            "data": data, "revision": revision}


def listing(kind: str, items: list[Obj], continue_token: str | None = None, api_version: str = "v1") -> Obj:
    metadata: Obj = {"resourceVersion": "100"}
    if continue_token:
        metadata["continue"] = continue_token
    return {"kind": kind, "apiVersion": api_version, "metadata": metadata, "items": items}


def forbidden_status(verb: str, resource: str, namespace: str | None, group: str = "") -> Obj:
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    qualified = f"{resource}.{group}" if group else resource
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": f'{qualified} is forbidden: User "system:serviceaccount:ops:emoji-ops" cannot {verb} '
                       f'resource "{resource}" in API group "{group}"{where}',
            "reason": "Forbidden", "details": {"group": group, "kind": resource}, "code": 403}


def kubeconfig(tmp_path: Path, server: str, token: str = TOKEN) -> str:
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [{"name": "bot", "user": {"token": token}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "bot"}}],
    }))
    return str(path)


# (resource, API prefix, list kind, group)
RESOURCES = {
    "pods": ("/api/v1", "PodList", ""),
    "events": ("/api/v1", "EventList", ""),
    "deployments": ("/apis/apps/v1", "DeploymentList", "apps"),
    "replicasets": ("/apis/apps/v1", "ReplicaSetList", "apps"),
    "statefulsets": ("/apis/apps/v1", "StatefulSetList", "apps"),
    "controllerrevisions": ("/apis/apps/v1", "ControllerRevisionList", "apps"),
}
KINDS = {"Pod": "pods", "Event": "events", "Deployment": "deployments", "ReplicaSet": "replicasets",
         "StatefulSet": "statefulsets", "ControllerRevision": "controllerrevisions"}


class KubeApi(FixtureServer):
    """Namespaced objects and nodes added with `put`; lists paged with `limit`/`continue`.

    `keep_requests=False` stops recording each request (`requests()` stays empty) for load runs;
    `request_counts()` counts them either way.
    """

    def __init__(self, keep_requests: bool = True) -> None:
        super().__init__()
        self.keep_requests = keep_requests
        self.objects: dict[tuple[str, str], list[Obj]] = defaultdict(list)  # (resource, namespace) -> items
        self.nodes: list[Obj] = []
        self._released = threading.Event()
        self._counts: Counter[tuple[str, str]] = Counter()
        self._data = threading.Lock()  # guards the objects' generation, the counts and the selection cache
        self._generation = 0  # bumped by `put`; cached selections and indexes of an older one are stale
        self._cache: dict[tuple[str, str | None, str], tuple[int, list[Obj]]] = {}
        self._indexes: dict[tuple[str, str], tuple[int, dict[str, list[Obj]]]] = {}
        for resource, (prefix, kind, _group) in RESOURCES.items():
            self.add("GET", rf"{prefix}/namespaces/(?P<ns>[^/]+)/{resource}", self._lister(resource, kind))
            self.add("GET", rf"{prefix}/{resource}", self._lister(resource, kind, everywhere=True))
        self.add("GET", r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)", self._read_pod)
        self.add("GET", r"/api/v1/nodes", lambda request: self._page(request, "NodeList", self.nodes, "v1"))
        self.add("GET", r"/api/v1/nodes/(?P<name>[^/]+)", self._read_node)

    def put(self, *objects: Obj) -> Self:
        with self._data:
            for obj in objects:
                if obj["kind"] == "Node":
                    self.nodes.append(obj)
                else:
                    self.objects[(KINDS[obj["kind"]], obj["metadata"]["namespace"])].append(obj)
            self._generation += 1
        return self

    def handle(self, request: Request) -> Response:
        with self._data:
            self._counts[(request.method, request.path)] += 1
        response = super().handle(request)
        if not self.keep_requests:
            self.clear()
        return response

    def request_counts(self) -> dict[tuple[str, str], int]:
        """Requests served so far per (method, path), whether or not they are kept."""
        with self._data:
            return dict(self._counts)

    def request_count(self, method: str | None = None, path: str | None = None) -> int:
        """How many requests matched `method` and the full-match `path` regex."""
        return sum(count for (m, p), count in self.request_counts().items()
                   if (method is None or m == method.upper()) and (path is None or re.fullmatch(path, p)))

    def hang(self, resource: str, namespace: str, seconds: float) -> None:
        """The namespace's list of `resource` answers only after `seconds` (or when the server stops)."""
        prefix, kind, _group = RESOURCES[resource]
        answer = self._lister(resource, kind)

        def slow(request: Request) -> Obj | Response:
            self._released.wait(seconds)
            return answer(request)
        self.add("GET", f"{prefix}/namespaces/{re.escape(namespace)}/{resource}", slow)

    def forbid(self, resource: str, namespace: str | None = None, verb: str = "list") -> None:
        """403 with the Status a real API server sends when RBAC denies `verb` on `resource`.

        Without a namespace, the cluster-wide paths (`/api/v1/pods`, `/api/v1/nodes/n1`) are denied.
        """
        prefix, _kind, group = RESOURCES.get(resource, ("/api/v1", "", ""))
        path = f"{prefix}/namespaces/{re.escape(namespace)}/{resource}" if namespace else f"{prefix}/{resource}(/.*)?"
        self.add("GET", path, Response(403, forbidden_status(verb, resource, namespace, group)))

    def stop(self) -> None:
        self._released.set()
        super().stop()

    def _lister(self, resource: str, kind: str, everywhere: bool = False) -> Any:
        api_version = "apps/v1" if RESOURCES[resource][2] == "apps" else "v1"

        def answer(request: Request) -> Obj | Response:
            namespace = None if everywhere else request.match.group("ns") if request.match else ""
            try:
                terms = field_terms(request.param("fieldSelector") or "")
            except ValueError as exc:
                return Response(400, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                      "message": str(exc), "reason": "BadRequest", "code": 400})
            return self._page(request, kind, self._select(resource, namespace, terms), api_version)
        return answer

    def _select(self, resource: str, namespace: str | None, terms: list[Term]) -> list[Obj]:
        """The items of one namespace (None: all, by namespace) matching `terms`, cached until the next `put`.

        Across namespaces, an equality term is answered from an index (as the API server's cache indexes
        `spec.nodeName`), so a per-node loop does not cost a scan of every pod per request.
        """
        key = (resource, namespace, repr(terms))
        with self._data:
            generation = self._generation
            cached = self._cache.get(key)
            if cached and cached[0] == generation:
                return cached[1]
        equal = next((term for term in terms if term[1]), None)
        if namespace is None and equal:
            items = self._indexed(resource, equal[0]).get(equal[2], [])
        elif namespace is None:
            items = self._everywhere(resource)
        else:
            items = list(self.objects.get((resource, namespace), []))
        return self._cached(key, generation, select(items, terms))

    def _everywhere(self, resource: str) -> list[Obj]:
        key = (resource, None, "")
        with self._data:
            generation = self._generation
            cached = self._cache.get(key)
            if cached and cached[0] == generation:
                return cached[1]
            items = [i for (r, _ns), found in sorted(self.objects.items()) if r == resource for i in found]
        return self._cached(key, generation, items)

    def _indexed(self, resource: str, path: str) -> dict[str, list[Obj]]:
        with self._data:
            generation = self._generation
            cached = self._indexes.get((resource, path))
        if cached and cached[0] == generation:
            return cached[1]
        index: dict[str, list[Obj]] = defaultdict(list)
        for item in self._everywhere(resource):
            index[field_value(item, path)].append(item)
        with self._data:
            self._indexes[(resource, path)] = (generation, index)
        return index

    def _cached(self, key: tuple[str, str | None, str], generation: int, items: list[Obj]) -> list[Obj]:
        with self._data:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = (generation, items)
        return items

    @staticmethod
    def _page(request: Request, kind: str, items: list[Obj], api_version: str) -> Obj:
        start = int(request.param("continue") or 0)
        limit = int(request.param("limit") or 0) or len(items) or 1
        token = str(start + limit) if start + limit < len(items) else None
        return listing(kind, items[start:start + limit], token, api_version)

    def _read_pod(self, request: Request) -> Obj | Response:
        assert request.match
        namespace, name = request.match.group("ns"), request.match.group("name")
        found = [p for p in self.objects.get(("pods", namespace), []) if p["metadata"]["name"] == name]
        return found[0] if found else _not_found("pods", name)

    def _read_node(self, request: Request) -> Obj | Response:
        assert request.match
        found = [n for n in self.nodes if n["metadata"]["name"] == request.match.group("name")]
        return found[0] if found else _not_found("nodes", request.match.group("name"))


_TERM = re.compile(r"(?P<path>[^=!,]+)(?P<op>!=|==|=)(?P<value>[^,]*)")


def field_terms(selector: str) -> list[Term]:
    """`a.b=x,c!=y` as [(path, wants_equal, value)]; `==` is `=`. Raises ValueError on a malformed term."""
    terms = []
    for raw in filter(None, (part.strip() for part in selector.split(","))):
        match = _TERM.fullmatch(raw)
        if not match:
            raise ValueError(f"invalid field selector term {raw!r}")
        terms.append((match.group("path").strip(), match.group("op") != "!=", match.group("value").strip()))
    return terms


def field_value(obj: Obj, path: str) -> str:
    """The dotted JSON `path` of `obj` as the API server compares it; a missing field is ""."""
    found: Any = obj
    for part in path.split("."):
        found = found.get(part) if isinstance(found, dict) else None
    if found is None:
        return ""
    return str(found).lower() if isinstance(found, bool) else str(found)


def select(items: list[Obj], terms: list[Term]) -> list[Obj]:
    """The items a parsed `fieldSelector` keeps (all of them for no terms)."""
    if not terms:
        return items
    return [item for item in items if all((field_value(item, path) == value) == equal for path, equal, value in terms)]


def _not_found(resource: str, name: str) -> Response:
    return Response(404, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                          "message": f'{resource} "{name}" not found', "reason": "NotFound",
                          "details": {"name": name, "kind": resource}, "code": 404})
