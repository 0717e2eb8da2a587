"""deploy/iam-policy.json allows exactly the AWS API actions the bot's code calls, and `check` probes exactly them.

The calls are found in the source (`ast`): the services the code makes boto3 clients for (`boto3.client("ec2", …)`),
then every attribute of such a client (`self.ec2.stop_instances`, `ec2 = self.ec2; ec2.delete_snapshot`, a
`partial(self.rbin.get_rule, …)`) that botocore names as one of the service's operations. So a new AWS call in bot/
fails here until the policy grants it, and a grant the code no longer needs fails here too.
"""

from __future__ import annotations

import ast
import functools
import json
from pathlib import Path
from typing import Any

import boto3

from bot.check import AWS_ACTIONS
from tests.unit.deploy.manifests import ROOT

POLICY = ROOT / "deploy" / "iam-policy.json"
SOURCES = ("bot", "handlers")


@functools.cache
def trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple((path, ast.parse(path.read_text(encoding="utf-8"), str(path)))
                 for source in SOURCES for path in sorted((ROOT / source).rglob("*.py")))


def client_services() -> set[str]:
    """The `boto3.client("<service>", …)` the code makes."""
    found = set()
    for _, tree in trees():
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "boto3" and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(str(node.args[0].value))
    return found


@functools.cache
def operations(service: str) -> dict[str, str]:
    """botocore's method name → API operation of a service (stop_instances → StopInstances); offline."""
    client: Any = boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    return dict(client.meta.method_to_api_mapping)


def _client_named(node: ast.expr, services: set[str]) -> str | None:
    """`self.ec2` or `ec2` → "ec2" when ec2 is a service the code has a client for."""
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
        return node.attr if node.attr in services else None
    if isinstance(node, ast.Name):
        return node.id if node.id in services else None
    return None


@functools.cache
def called_actions() -> dict[str, list[str]]:
    """IAM action (ec2:StopInstances) → where the code calls it (file:line)."""
    services = client_services()
    found: dict[str, list[str]] = {}
    for path, tree in trees():
        for node in ast.walk(tree):
            service = _client_named(node.value, services) if isinstance(node, ast.Attribute) else None
            if service is not None and node.attr in operations(service):  # type: ignore[attr-defined]
                action = f"{service}:{operations(service)[node.attr]}"  # type: ignore[attr-defined]
                found.setdefault(action, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def statements() -> list[dict[str, Any]]:
    return list(json.loads(POLICY.read_text(encoding="utf-8"))["Statement"])


def actions_of(statement: dict[str, Any]) -> set[str]:
    actions = statement["Action"]
    return {actions} if isinstance(actions, str) else set(actions)


def policy_actions(effect: str) -> set[str]:
    return {action for statement in statements() if statement["Effect"] == effect for action in actions_of(statement)}


def test_the_scan_finds_the_bots_aws_clients_and_calls() -> None:
    assert client_services() == {"ce", "ec2", "rbin", "iam", "sts"}
    assert {"ec2:StopInstances", "ec2:DeleteSnapshot", "ce:GetCostAndUsage"} <= set(called_actions())


def test_the_policy_allows_exactly_the_actions_the_code_calls() -> None:
    called = called_actions()

    missing = {action: where for action, where in called.items() if action not in policy_actions("Allow")}
    unused = policy_actions("Allow") - set(called)

    assert missing == {}, f"deploy/iam-policy.json lacks actions the code calls: {missing}"
    assert unused == set(), f"deploy/iam-policy.json allows actions no code calls: {sorted(unused)}"


def test_check_probes_exactly_the_actions_of_the_policy() -> None:
    assert sorted(AWS_ACTIONS) == sorted(policy_actions("Allow"))


def test_the_policy_only_writes_with_conditions_and_denies_protected_resources() -> None:
    """Writes (StopInstances, DeleteSnapshot) are scoped by tags; kept instances and lifecycle-managed snapshots are
    denied whatever else allows them; no wildcard action anywhere."""
    writes = [s for s in statements() if s["Effect"] == "Allow"
              and actions_of(s) & {"ec2:StopInstances", "ec2:DeleteSnapshot"}]

    assert len(writes) == 2 and all(s.get("Condition") and s["Resource"] != "*" for s in writes)
    assert policy_actions("Deny") == {"ec2:StopInstances", "ec2:DeleteSnapshot"}
    assert not any("*" in action for action in policy_actions("Allow") | policy_actions("Deny"))
