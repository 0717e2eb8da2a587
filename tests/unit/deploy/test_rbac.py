"""The ClusterRole allows every Kubernetes API call the bot's code makes, and nothing else.

The calls are found in the source (`ast`): attributes named like a method of a kubernetes client API class the
code uses (CoreV1Api, AppsV1Api, ...), including names built at run time with `getattr(api, f"list_namespaced_{x}")`
whose `x` comes from constant arguments. What each call needs (group, resource, verb) comes from the client's own
generated code (the HTTP method and path), so a new call in bot/ fails here until the ClusterRole grants it.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.k8s_models import Access, access_of, api_classes, granted
from tests.unit.deploy.manifests import ROOT, one

SOURCES = ("bot", "handlers")
READ_ONLY = {"get", "list", "watch"}


@dataclass(frozen=True)
class ApiCall:
    method: str
    where: str  # file:line
    watch: bool = False


class UnresolvedCall(Exception):
    """A computed method name that may be a Kubernetes call but whose parts are not constants."""


def api_methods(classes: Iterable[str]) -> dict[str, list[type]]:
    """Public method name → the API classes (of those named) that define it."""
    found: dict[str, list[type]] = {}
    for name in classes:
        cls = api_classes()[name]
        for method in dir(cls):
            # an API call has a `_with_http_info` twin; close(), __enter__() and the like do not
            if not method.startswith("_") and hasattr(cls, f"{method}_with_http_info"):
                found.setdefault(method, []).append(cls)
    return found


def referenced_api_classes(trees: dict[str, ast.Module]) -> set[str]:
    """The kubernetes API classes the code names (client.CoreV1Api, AppsV1Api, ...)."""
    known = api_classes()
    names = set()
    for tree in trees.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in known:
                names.add(node.attr)
            elif isinstance(node, ast.Name) and node.id in known:
                names.add(node.id)
    return names


def _parents(tree: ast.AST) -> dict[ast.AST, ast.AST]:
    return {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}


def _constant_arguments(tree: ast.Module, parents: dict[ast.AST, ast.AST], node: ast.AST, name: str) -> list[str]:
    """The constant values the variable `name` takes: a parameter of an enclosing function, read from every call
    of that function in the module."""
    scope = parents.get(node)
    while scope is not None and not (isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
                                     and name in [a.arg for a in scope.args.args + scope.args.kwonlyargs]):
        scope = parents.get(scope)
    if scope is None:
        raise UnresolvedCall(f"{name!r} is not a parameter of an enclosing function")
    assert isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef)
    positional = [a.arg for a in scope.args.args]
    index = positional.index(name) if name in positional else None
    skip = 1 if positional and positional[0] in ("self", "cls") else 0
    values = []
    for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
        callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
        if callee != scope.name:
            continue
        argument = next((k.value for k in call.keywords if k.arg == name), None)
        if argument is None and index is not None and len(call.args) > index - skip:
            argument = call.args[index - skip]
        if not (isinstance(argument, ast.Constant) and isinstance(argument.value, str)):
            raise UnresolvedCall(f"{scope.name}() is called with a non-constant {name!r} at line {call.lineno}")
        values.append(argument.value)
    if not values:
        raise UnresolvedCall(f"{scope.name}() is never called with {name!r}")
    return values


def _computed_names(tree: ast.Module, parents: dict[ast.AST, ast.AST], text: ast.JoinedStr) -> list[str]:
    pieces: list[list[str]] = []
    for part in text.values:
        if isinstance(part, ast.Constant):
            pieces.append([str(part.value)])
        elif isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Name):
            pieces.append(_constant_arguments(tree, parents, text, part.value.id))
        else:
            raise UnresolvedCall(f"an f-string part that is not a plain name at line {text.lineno}")
    return ["".join(combo) for combo in itertools.product(*pieces)]


def _is_watch(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    """A list method called with watch=True, or handed to kubernetes.watch.Watch().stream()."""
    parent = parents.get(node)
    if isinstance(parent, ast.Call) and parent.func is node:
        return any(k.arg == "watch" and isinstance(k.value, ast.Constant) and k.value.value for k in parent.keywords)
    return (isinstance(parent, ast.Call) and isinstance(parent.func, ast.Attribute)
            and parent.func.attr == "stream" and node in parent.args)


def api_calls(path: str, source: str, methods: set[str]) -> Iterator[ApiCall]:
    """Every use of a Kubernetes API method in one module: `x.list_node(...)`, a reference handed on, or
    `getattr(x, "name")` / `getattr(x, f"list_namespaced_{kind}")`."""
    tree = ast.parse(source, filename=path)
    parents = _parents(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in methods:
            yield ApiCall(node.attr, f"{path}:{node.lineno}", _is_watch(node, parents))
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
              and len(node.args) >= 2):
            name = node.args[1]
            if isinstance(name, ast.Constant) and name.value in methods:
                yield ApiCall(str(name.value), f"{path}:{node.lineno}", _is_watch(node, parents))
            elif isinstance(name, ast.JoinedStr):
                shape = re.compile("".join(re.escape(str(part.value)) if isinstance(part, ast.Constant) else ".+"
                                           for part in name.values))
                if not any(shape.fullmatch(method) for method in methods):
                    continue  # no Kubernetes method name, whatever the variables hold (getattr(x, f"{m}_at"))
                for computed in _computed_names(tree, parents, name):
                    if computed not in methods:
                        raise UnresolvedCall(f"{path}:{node.lineno}: getattr builds {computed!r}, which no "
                                             "Kubernetes API class the code uses defines")
                    yield ApiCall(computed, f"{path}:{node.lineno}", _is_watch(node, parents))


def needed_access(sources: dict[str, str], classes: set[str]) -> dict[Access, list[str]]:
    """Access → where in the code it is needed."""
    methods = api_methods(classes)
    needed: dict[Access, list[str]] = {}
    for path, source in sources.items():
        for call in api_calls(path, source, set(methods)):
            accesses = {access_of(cls, call.method, call.watch) for cls in methods[call.method]}
            assert len(accesses) == 1, f"{call.where}: {call.method} means different things in {methods[call.method]}"
            needed.setdefault(accesses.pop(), []).append(f"{call.where} {call.method}")
    return needed


def code_sources() -> dict[str, str]:
    return {str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
            for top in SOURCES for path in sorted((ROOT / top).rglob("*.py"))}


@functools.cache
def bot_classes() -> frozenset[str]:
    return frozenset(referenced_api_classes({path: ast.parse(text) for path, text in code_sources().items()}))


@functools.cache
def bot_needs() -> dict[Access, list[str]]:
    """What the bot's own code needs from RBAC."""
    return needed_access(code_sources(), set(bot_classes()))


def uncovered(needed: Iterable[Access], role: dict[str, Any]) -> list[Access]:
    allowed = granted(role)
    return sorted(access for access in needed if access not in allowed)


# --------------------------------------------------------------------------- the bot's ClusterRole


def test_the_scan_finds_the_calls_the_bot_is_known_to_make() -> None:
    """A scanner that found nothing would make the checks below pass vacuously."""
    assert {"CoreV1Api", "AppsV1Api"} <= bot_classes()
    needed = bot_needs()
    assert Access("", "nodes", "get") in needed  # read_node
    assert Access("", "pods", "list") in needed  # list_pod_for_all_namespaces, list_namespaced_pod
    assert Access("apps", "controllerrevisions", "list") in needed, "getattr(apps, f'list_namespaced_{kind}')"
    # backend clients live in bot/clients/ (docs/architecture.md); a match elsewhere would be a false positive
    assert all(where.startswith("bot/clients/") for wheres in needed.values() for where in wheres)


def test_cluster_role_allows_every_call_the_code_makes() -> None:
    needed = bot_needs()
    missing = uncovered(needed, one("ClusterRole"))
    assert missing == [], "\n".join(f"not allowed: {a} (needed at {', '.join(needed[a])})" for a in missing)


def test_cluster_role_allows_nothing_the_code_does_not_use() -> None:
    extra = sorted(granted(one("ClusterRole")) - set(bot_needs()))
    assert extra == [], f"granted but never used by bot/: {', '.join(map(str, extra))}"


def test_cluster_role_is_read_only_without_wildcards() -> None:
    role = one("ClusterRole")
    allowed = granted(role)
    assert {access.verb for access in allowed} <= READ_ONLY
    assert not any("*" in (access.group, access.resource, access.verb, access.url) for access in allowed)
    assert not any(rule.get("resourceNames") == [] for rule in role["rules"])


def test_the_binding_gives_the_role_to_the_deployments_service_account() -> None:
    binding, role = one("ClusterRoleBinding"), one("ClusterRole")
    account = one("ServiceAccount")
    pod = one("Deployment")["spec"]["template"]["spec"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": "emoji-ops"}]
    assert pod["serviceAccountName"] == account["metadata"]["name"]
    assert pod.get("automountServiceAccountToken", True) is True, "the in-cluster client needs the token"


# --------------------------------------------------------------------------- the checker can fail


FAKE = '''
from kubernetes import client

class Extra:
    def logs(self, core):
        return core.read_namespaced_pod_log("web-0", "prod")

    def kinds(self, apps, kind):
        return getattr(apps, f"delete_namespaced_{kind}")("x", "prod")

    def run(self, apps):
        self.kinds(apps, "deployment")
        self.kinds(apps, kind="stateful_set")
        return client.AppsV1Api
'''


def test_a_call_the_role_does_not_cover_fails() -> None:
    needed = needed_access({"bot/fake.py": FAKE}, {"CoreV1Api", "AppsV1Api"})
    assert set(needed) == {Access("", "pods/log", "get"), Access("apps", "deployments", "delete"),
                           Access("apps", "statefulsets", "delete")}
    assert uncovered(needed, one("ClusterRole")) == sorted(needed)


def test_a_watch_needs_the_watch_verb() -> None:
    source = ("def follow(core, w):\n"
              "    core.list_node(watch=True)\n"
              "    return w.stream(core.list_namespaced_pod, 'x')\n")
    assert set(needed_access({"bot/w.py": source}, {"CoreV1Api"})) == {Access("", "nodes", "watch"),
                                                                         Access("", "pods", "watch")}


def test_a_computed_name_that_cannot_be_resolved_fails() -> None:
    source = "def read(apps, kind):\n    return getattr(apps, f'list_namespaced_{kind}')('ns')\n\nread(a, pick())\n"
    with pytest.raises(UnresolvedCall):
        needed_access({"bot/dyn.py": source}, {"AppsV1Api"})


def test_a_role_with_extra_or_wildcard_grants_is_refused() -> None:
    role = one("ClusterRole")
    wider = {**role, "rules": [*role["rules"], {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}
    assert Access("", "secrets", "get") in granted(wider) - set(bot_needs())
    wildcard = {**role, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]}
    assert uncovered(bot_needs(), wildcard) == sorted(bot_needs()), "a wildcard is not read as covering anything"

