"""Every Kubernetes object in deploy/k8s is one the API server would take as written: each key is a field of the
kubernetes client's model at that place, required fields are there and values have the model's types."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support import k8s_models
from tests.unit.deploy.manifests import (
    K8S,
    MONITORING,
    documents,
    generated_files,
    kustomization,
    kustomize,
    resource_objects,
)

CRD_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor"), ("monitoring.coreos.com/v1", "PrometheusRule")}
BASE = resource_objects()


def test_every_manifest_file_is_a_resource_of_the_base() -> None:
    """A manifest left out of `resources:` would silently never be applied."""
    listed = set(kustomization().get("resources") or [])
    on_disk = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"} - generated_files()
    assert on_disk == listed
    assert generated_files() == {"bot.yaml"}


def test_the_base_holds_what_the_bot_needs() -> None:
    kinds = sorted(obj["kind"] for _, obj in BASE)
    assert kinds == sorted(["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "Deployment",
                            "PodDisruptionBudget"])
    assert not any((obj["apiVersion"], obj["kind"]) in CRD_KINDS for _, obj in BASE), \
        "the monitoring CRDs are an optional component, not part of the base"


@pytest.mark.parametrize(("name", "obj"), BASE, ids=[f"{name}:{obj.get('kind')}" for name, obj in BASE])
def test_base_object_validates_strictly(name: str, obj: dict[str, Any]) -> None:
    assert k8s_models.problems(obj) == [], name


def test_kustomize_renders_the_base_and_every_object_validates() -> None:
    rendered = kustomize(K8S)
    assert k8s_models.problems_of_all(rendered) == []
    kinds = {obj["kind"] for obj in rendered}
    assert "ConfigMap" in kinds, "the configMapGenerator made the config's ConfigMap"
    config_map = next(obj for obj in rendered if obj["kind"] == "ConfigMap")
    deployment = next(obj for obj in rendered if obj["kind"] == "Deployment")
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"], \
        "the Deployment mounts the generated (hash-suffixed) ConfigMap"
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    wanted = kustomization()["images"][0]
    assert image == f"{wanted['newName']}:{wanted['newTag']}"
    assert {obj["metadata"].get("namespace") for obj in rendered if obj["kind"] != "ClusterRole" and
            obj["kind"] != "ClusterRoleBinding"} == {kustomization()["namespace"]}


def test_monitoring_component_renders_alone_and_in_an_overlay(tmp_path: Path) -> None:
    alone = kustomize(MONITORING)
    assert {(obj["apiVersion"], obj["kind"]) for obj in alone} == CRD_KINDS
    overlay = tmp_path / "overlay"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
        f"resources: [{os.path.relpath(K8S, overlay)}]\ncomponents: [{os.path.relpath(MONITORING, overlay)}]\n")
    combined = kustomize(overlay, load_anywhere=True)
    builtin = [obj for obj in combined if (obj["apiVersion"], obj["kind"]) not in CRD_KINDS]
    assert len(combined) - len(builtin) == 2
    assert k8s_models.problems_of_all(builtin) == []


def test_monitoring_component_is_a_component_listing_both_files() -> None:
    component = documents(MONITORING / "kustomization.yaml")[0]
    assert component["kind"] == "Component"
    assert sorted(component["resources"]) == ["prometheusrule.yaml", "servicemonitor.yaml"]


# --------------------------------------------------------------------------- the validator itself


def _deployment() -> dict[str, Any]:
    return copy.deepcopy(next(obj for _, obj in BASE if obj["kind"] == "Deployment"))


def test_validator_catches_a_misspelled_field() -> None:
    broken = _deployment()
    broken["spec"]["replica"] = 3
    found = k8s_models.problems(broken)
    assert any("spec.replica: unknown field" in problem and "'replicas'" in problem for problem in found), found


def test_validator_catches_a_misspelled_field_deep_down() -> None:
    broken = _deployment()
    broken["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFileSystem"] = True
    found = k8s_models.problems(broken)
    assert any("containers[0].securityContext.readOnlyRootFileSystem: unknown field" in p for p in found), found


def test_validator_catches_wrong_nesting() -> None:
    broken = _deployment()
    pod = broken["spec"]["template"]
    pod["containers"] = pod["spec"].pop("containers")  # one level too high
    found = k8s_models.problems(broken)
    assert any("spec.template.containers: unknown field" in problem for problem in found), found
    assert any("refuses it" in problem and "containers" in problem for problem in found), \
        "the pod spec without containers is refused too"


def test_validator_catches_a_list_written_as_a_mapping() -> None:
    broken = _deployment()
    broken["spec"]["template"]["spec"]["containers"][0]["ports"] = {"name": "http", "containerPort": 3000}
    found = k8s_models.problems(broken)
    assert any("ports: expected a list" in problem for problem in found), found


def test_validator_catches_a_missing_required_field_and_a_wrong_type() -> None:
    broken = _deployment()
    del broken["spec"]["selector"]
    broken["spec"]["replicas"] = "three"
    found = "\n".join(k8s_models.problems(broken))
    assert "selector" in found
    assert "replicas" in found


def test_validator_catches_a_wrong_api_version() -> None:
    broken = _deployment()
    broken["apiVersion"] = "extensions/v1beta1"
    assert "does not serve this kind" in "\n".join(k8s_models.problems(broken))


def test_validator_accepts_what_it_should() -> None:
    assert k8s_models.problems(_deployment()) == []
