"""What an incident points at, from an alert's labels and the words of a message."""

from __future__ import annotations

import pytest

from bot.evidence.model import Targets
from bot.evidence.service import targets_from


@pytest.mark.parametrize("text", ["checkout down in namespace payments", "ns/payments is on fire",
                                  "kubectl get pods -n payments", "kubectl logs --namespace=payments x",
                                  "Namespace: Payments"])
def test_a_namespace_named_in_words(text: str) -> None:
    assert targets_from(text).namespaces == ("payments",)


def test_workloads_and_pods_named_in_words() -> None:
    found = targets_from("deployment/api crash-loops, pod/api-7d9f-abc OOMKilled; sts/db lagging -n payments")

    assert found == Targets(namespaces=("payments",), deployments=("api",), statefulsets=("db",),
                            pods=("api-7d9f-abc",))


def test_alert_labels_come_first_and_nothing_repeats() -> None:
    labels = {"namespace": "payments", "deployment": "api", "pod": "api-1", "statefulset": "db", "job": "x"}

    found = targets_from("see ns/ledger and ns/payments, deployment/api", labels)

    assert found == Targets(namespaces=("payments", "ledger"), deployments=("api",), statefulsets=("db",),
                            pods=("api-1",))


def test_the_teams_namespaces_only_when_nothing_is_named() -> None:
    assert targets_from("checkout is slow", {}, ["web", "payments"]).namespaces == ("web", "payments")
    assert targets_from("ns/ledger is slow", {}, ["web"]).namespaces == ("ledger",)


def test_words_that_only_look_alike_are_not_targets() -> None:
    found = targets_from("the namespaces are fine; redeploy/api later; <!channel> pod/ and ns/ alone")

    assert found == Targets(namespaces=())


def test_a_label_that_is_not_a_kubernetes_name_is_ignored() -> None:
    assert targets_from("", {"namespace": "<!channel>"}).namespaces == ()


def test_a_40_kb_message_is_read_to_its_first_20_000_characters() -> None:
    found = targets_from("ns/payments " + "lorem ipsum dolor " * 2_500 + " ns/late")

    assert found.namespaces == ("payments",)
