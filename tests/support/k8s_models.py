"""Strict validation of Kubernetes manifests against the `kubernetes` client's models, and the RBAC access a
client API method needs, read from the client's generated code.

`problems(obj)` walks a manifest along the models' `attribute_map`/`openapi_types`, so a key the model does not
have (a misspelling, a field one level too high or too low) is reported with its path; then it deserializes the
object into its model class, which refuses missing required fields and wrong types. `access_of(api, method)`
reads the HTTP method and path from the generated serializer and turns them into the (API group, resource,
verb) an RBAC rule must allow.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from dataclasses import dataclass
from difflib import get_close_matches
from typing import Any

import kubernetes.client
from kubernetes.client import models

PRIMITIVES = {"str", "int", "float", "bool", "object", "date", "datetime", "bytearray", "bytes", "decimal"}
_LIST = re.compile(r"^(?:List|list)\[(.+)\]$")
_DICT = re.compile(r"^(?:Dict\[[^,]+,\s*(.+)\]|dict\([^,]+,\s*(.+)\))$")
_OPTIONAL = re.compile(r"^Optional\[(.+)\]$")


class ManifestError(ValueError):
    """A manifest the API server would refuse or silently misread; the message lists every problem."""


def snake(kind: str) -> str:
    """PodDisruptionBudget → pod_disruption_budget (the client's method and module naming)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", kind).lower()


def api_classes() -> dict[str, type]:
    """Every generated API class of the client (CoreV1Api, AppsV1Api, VersionApi, ...)."""
    found = {name: getattr(kubernetes.client, name) for name in dir(kubernetes.client) if name.endswith("Api")}
    return {name: cls for name, cls in found.items()
            if inspect.isclass(cls) and cls.__module__.startswith("kubernetes.client.api.")}


@functools.cache
def api_versions_of(kind: str) -> frozenset[str]:
    """The apiVersions that serve `kind`, from the paths of the client's create methods."""
    name = snake(kind)
    found = set()
    for cls in api_classes().values():
        for method in (f"create_namespaced_{name}", f"create_{name}"):
            if hasattr(cls, method):
                _, path = http_call(cls, method)
                found.add(group_version(path))
    return frozenset(found)


def group_version(path: str) -> str:
    """/api/v1/... → v1; /apis/apps/v1/... → apps/v1."""
    parts = path.strip("/").split("/")
    return parts[1] if parts[0] == "api" else f"{parts[1]}/{parts[2]}"


def model_class(api_version: str, kind: str) -> type:
    """The model class of an object, e.g. (apps/v1, Deployment) → V1Deployment."""
    served = api_versions_of(kind)
    if api_version not in served:
        raise ManifestError(f"{kind}: apiVersion {api_version!r} does not serve this kind; expected one of "
                            f"{sorted(served) or 'none (not a kind the Kubernetes API knows)'}")
    version = api_version.rsplit("/", 1)[-1]
    cls = getattr(models, version[:1].upper() + version[1:] + kind, None)
    if cls is None:
        raise ManifestError(f"{kind}: the kubernetes client has no model for {api_version}")
    return cls


def _element(type_name: str) -> tuple[str, str]:
    """('list' | 'dict' | 'model' | 'primitive', the inner type name)."""
    optional = _OPTIONAL.match(type_name)
    if optional:
        return _element(optional.group(1))
    listed = _LIST.match(type_name)
    if listed:
        return "list", listed.group(1)
    mapped = _DICT.match(type_name)
    if mapped:
        return "dict", mapped.group(1) or mapped.group(2)
    if type_name in PRIMITIVES:
        return "primitive", type_name
    return "model", type_name


def unknown_fields(data: Any, type_name: str, path: str) -> list[str]:
    """Keys the model does not know, and mappings where a list is expected (or the reverse), with their paths."""
    shape, inner = _element(type_name)
    if shape == "primitive" or data is None:
        return []
    if shape == "list":
        if not isinstance(data, list):
            return [f"{path}: expected a list ({type_name}), got {type(data).__name__}"]
        return [problem for i, item in enumerate(data) for problem in unknown_fields(item, inner, f"{path}[{i}]")]
    if shape == "dict":
        if not isinstance(data, dict):
            return [f"{path}: expected a mapping ({type_name}), got {type(data).__name__}"]
        return [problem for key, value in data.items() for problem in unknown_fields(value, inner, f"{path}.{key}")]
    cls = getattr(models, inner)
    if not isinstance(data, dict):
        return [f"{path}: expected a mapping ({inner}), got {type(data).__name__}"]
    json_to_attr = {json_key: attr for attr, json_key in cls.attribute_map.items()}
    found = []
    for key, value in data.items():
        attr = json_to_attr.get(key)
        where = f"{path}.{key}" if path else key
        if attr is None:
            close = get_close_matches(str(key), list(json_to_attr), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            found.append(f"{where}: unknown field of {inner}{hint}")
            continue
        found += unknown_fields(value, cls.openapi_types[attr], where)
    return found


def problems(obj: dict[str, Any]) -> list[str]:
    """Everything wrong with one manifest object: unknown or misplaced keys, then what the model refuses."""
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if not isinstance(kind, str) or not isinstance(api_version, str):
        return ["apiVersion and kind are required"]
    name = (obj.get("metadata") or {}).get("name", "?")
    try:
        cls = model_class(api_version, kind)
    except ManifestError as exc:
        return [str(exc)]
    found = [f"{kind}/{name}: {problem}" for problem in unknown_fields(obj, cls.__name__, "")]
    try:
        kubernetes.client.ApiClient().deserialize(json.dumps(obj), cls.__name__, "application/json")
    except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
        found.append(f"{kind}/{name}: {cls.__name__} refuses it: {exc}")
    return found


def problems_of_all(objects: list[dict[str, Any]]) -> list[str]:
    return [problem for obj in objects for problem in problems(obj)]


def validate(obj: dict[str, Any]) -> None:
    found = problems(obj)
    if found:
        raise ManifestError("\n".join(found))


# --------------------------------------------------------------------------- RBAC


@dataclass(frozen=True, order=True)
class Access:
    """What one API call needs from RBAC: a resource rule (group, resource[/subresource], verb) or, for a path
    outside the resource API such as /version/, a nonResourceURLs rule (group and resource empty, url set)."""

    group: str
    resource: str
    verb: str
    url: str = ""

    def __str__(self) -> str:
        if self.url:
            return f"{self.verb} {self.url}"
        return f"{self.verb} {self.group or 'core'}/{self.resource}"


_SERIALIZED = re.compile(r"method='(?P<method>[A-Z]+)',\s*resource_path='(?P<path>[^']+)'")
_LEGACY = re.compile(r"call_api\(\s*'(?P<path>[^']+)',\s*'(?P<method>[A-Z]+)'")


def http_call(cls: type, method: str) -> tuple[str, str]:
    """(HTTP method, path template) of a generated API method, from its serializer (client ≥ 33) or from its
    `_with_http_info` body (older clients)."""
    for name in (f"_{method}_serialize", f"{method}_with_http_info"):
        function = getattr(cls, name, None)
        if function is None:
            continue
        source = inspect.getsource(function)
        match = _SERIALIZED.search(source) or _LEGACY.search(source)
        if match:
            return match.group("method"), match.group("path")
    raise LookupError(f"cannot find the HTTP path of {cls.__name__}.{method} in the kubernetes client")


VERBS = {("GET", True): "get", ("GET", False): "list", ("POST", False): "create", ("POST", True): "create",
         ("PUT", True): "update", ("PATCH", True): "patch", ("DELETE", True): "delete",
         ("DELETE", False): "deletecollection"}


def access_of(cls: type, method: str, watch: bool = False) -> Access:
    """The RBAC access a call of `cls.method` needs (list calls made to watch need `watch`)."""
    http, path = http_call(cls, method)
    parts = path.strip("/").split("/")
    if parts[0] not in ("api", "apis") or len(parts) < 3:
        return Access("", "", http.lower(), url=path)
    group = "" if parts[0] == "api" else parts[1]
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if len(rest) > 2 and rest[0] == "namespaces" and rest[1] == "{namespace}":
        rest = rest[2:]  # a namespaced resource; the namespace is where, not what
    if not rest:
        return Access("", "", http.lower(), url=path)  # discovery: /apis/apps/v1/
    named = len(rest) > 1 and rest[1].startswith("{")
    resource = rest[0] + (f"/{rest[2]}" if named and len(rest) > 2 else "")
    verb = VERBS[(http, named)]
    if watch and verb == "list":
        verb = "watch"
    return Access(group, resource, verb)


def granted(cluster_role: dict[str, Any]) -> set[Access]:
    """Every (group, resource, verb) and (url, verb) a ClusterRole's rules allow, wildcards kept as '*'."""
    found: set[Access] = set()
    for rule in cluster_role.get("rules") or []:
        for verb in rule.get("verbs") or []:
            for url in rule.get("nonResourceURLs") or []:
                found.add(Access("", "", verb, url=url))
            for group in rule.get("apiGroups") or []:
                for resource in rule.get("resources") or []:
                    found.add(Access(group, resource, verb))
    return found
