"""The Deployment gives the bot what bot.settings reads, secrets only by reference to the Secret `emoji-ops`,
a config file that loads, and the pod shape the bot needs to run several replicas safely."""

from __future__ import annotations

import re
import typing
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr

from bot.settings import Env, load_config
from tests.unit.deploy.manifests import (
    K8S,
    OPERATIONS,
    ROOT,
    SECRET_NAME,
    bot_container,
    documents,
    kustomization,
    one,
    web_routes,
)

# What `python -m bot serve` refuses to start without (bot/__main__.py: _boot), and the database it shares.
REQUIRED_SECRETS = {"DATABASE_URL", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"}
SECRET_WORDS = ("TOKEN", "SECRET", "KEY", "PASSWORD")
# Shapes of real credentials (the docs use placeholders such as xoxb-REPLACE-ME, which these do not match).
CREDENTIALS = re.compile(r"xox[abpr]-\d{6,}|xapp-\d-[A-Z0-9]{6,}|AKIA[0-9A-Z]{16}|ghp_[A-Za-z0-9]{30,}"
                         r"|github_pat_[A-Za-z0-9_]{30,}|-----BEGIN [A-Z ]*PRIVATE KEY-----")

ENV_NAMES = {name.upper() for name in Env.model_fields}
DEPLOYMENT = one("Deployment")
POD = DEPLOYMENT["spec"]["template"]
CONTAINER = bot_container()
ENV = {entry["name"]: entry for entry in CONTAINER["env"]}


def secret_settings() -> set[str]:
    """Env fields typed SecretStr: the values that must never be written into a manifest."""
    return {name.upper() for name, field in Env.model_fields.items()
            if SecretStr in typing.get_args(field.annotation) or field.annotation is SecretStr}


def secret_refs(env: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: entry["valueFrom"]["secretKeyRef"] for name, entry in env.items()
            if "secretKeyRef" in entry.get("valueFrom", {})}


# --------------------------------------------------------------------------- environment and secrets


def test_env_names_only_variables_the_bot_reads() -> None:
    assert len(CONTAINER["env"]) == len(ENV), "a variable set twice"
    assert set(ENV) <= ENV_NAMES, f"unknown to bot.settings.Env: {sorted(set(ENV) - ENV_NAMES)}"


def test_no_env_from_besides_the_secret() -> None:
    for source in CONTAINER.get("envFrom") or []:
        assert set(source) == {"secretRef"} and source["secretRef"]["name"] == SECRET_NAME


def test_no_secret_value_is_written_inline() -> None:
    inline = {name for name, entry in ENV.items() if "value" in entry}
    secretish = {name for name in inline if any(word in name for word in SECRET_WORDS)}
    assert secretish == set()
    assert inline.isdisjoint(secret_settings() | {"DATABASE_URL"})


def test_secrets_come_from_the_secret_by_reference() -> None:
    refs = secret_refs(ENV)
    assert set(refs) >= REQUIRED_SECRETS, "PostgreSQL's URL and the Slack credentials come from the Secret"
    assert secret_settings() & set(ENV) <= set(refs)
    for name, ref in refs.items():
        assert ref["name"] == SECRET_NAME, name
        assert ref["key"] == name, "the Secret's keys are named after the variables (docs/operations.md)"
        assert ref.get("optional", False) is (name not in REQUIRED_SECRETS), \
            f"{name}: required ones are not optional, every other key is"


def test_no_secret_object_or_credential_is_in_the_repository() -> None:
    files = [*K8S.rglob("*.yaml"), ROOT / "Dockerfile", ROOT / "Procfile", OPERATIONS]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not CREDENTIALS.search(text), path
        if path.suffix == ".yaml":
            kinds = {doc.get("kind") for doc in documents(path) if isinstance(doc, dict)}
            assert "Secret" not in kinds, path
    assert "secretGenerator" not in kustomization()


def test_the_credential_scan_would_notice_a_real_token() -> None:
    assert CREDENTIALS.search("SLACK_BOT_TOKEN=xoxb-1234567890-1234567890-abcdefABCDEF")
    assert CREDENTIALS.search("aws_access_key_id = AKIAABCDEFGHIJKLMNOP")
    assert not CREDENTIALS.search("--from-literal=SLACK_BOT_TOKEN=xoxb-REPLACE-ME")


def test_the_checks_would_notice_an_inline_token() -> None:
    bad = {**ENV, "SLACK_BOT_TOKEN": {"name": "SLACK_BOT_TOKEN", "value": "xoxb-…"}, "SLAK_PORT": {"name": "X"}}
    assert "SLACK_BOT_TOKEN" not in secret_refs(bad)
    assert {name for name, entry in bad.items() if "value" in entry} & secret_settings() == {"SLACK_BOT_TOKEN"}
    assert not set(bad) <= ENV_NAMES


# --------------------------------------------------------------------------- the config file


def _config_volume() -> tuple[dict[str, Any], dict[str, Any]]:
    volume = next(v for v in POD["spec"]["volumes"] if "configMap" in v)
    mount = next(m for m in CONTAINER["volumeMounts"] if m["name"] == volume["name"])
    return volume, mount


def test_bot_config_points_at_the_mounted_config_map() -> None:
    volume, mount = _config_volume()
    generator = next(g for g in kustomization()["configMapGenerator"] if g["name"] == volume["configMap"]["name"])
    assert generator["files"] == ["bot.yaml"]
    assert ENV["BOT_CONFIG"]["value"] == f"{mount['mountPath']}/bot.yaml"
    assert mount.get("readOnly") is True and "subPath" not in mount, "subPath mounts never see an update"


def test_the_config_loads(tmp_path: Path) -> None:
    copy = tmp_path / "bot.yaml"
    copy.write_text((K8S / "bot.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    config = load_config(copy)
    assert config.teams, "a realistic config names teams"
    assert config.alerts.default_channel


def test_a_broken_config_would_fail(tmp_path: Path) -> None:
    from bot.settings import ConfigError

    raw = yaml.safe_load((K8S / "bot.yaml").read_text(encoding="utf-8"))
    raw["teams"][0]["timezone"] = "Mars/Olympus"
    broken = tmp_path / "bot.yaml"
    broken.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(broken)


def test_the_config_holds_no_secrets() -> None:
    def keys(node: Any) -> set[str]:
        if isinstance(node, dict):
            return {str(k).lower() for k in node} | set().union(*(keys(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(keys(v) for v in node)) if node else set()
        return set()
    found = keys(yaml.safe_load((K8S / "bot.yaml").read_text(encoding="utf-8")))
    assert not {k for k in found if any(word.lower() in k for word in SECRET_WORDS)}


# --------------------------------------------------------------------------- the pod


def test_three_replicas_and_a_disruption_budget_that_keeps_two() -> None:
    assert DEPLOYMENT["spec"]["replicas"] == 3
    budget = one("PodDisruptionBudget")["spec"]
    assert budget.get("maxUnavailable") == 1 or budget.get("minAvailable") == 2
    assert budget["selector"]["matchLabels"] == DEPLOYMENT["spec"]["selector"]["matchLabels"]
    assert DEPLOYMENT["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_selectors_match_the_pod_labels() -> None:
    labels = POD["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert one("Service")["spec"]["selector"].items() <= labels.items()
    spread = POD["spec"].get("topologySpreadConstraints") or []
    anti = (POD["spec"].get("affinity") or {}).get("podAntiAffinity")
    assert spread or anti, "replicas are spread over nodes"
    for constraint in spread:
        assert constraint["labelSelector"]["matchLabels"].items() <= labels.items()
    assert any(c["topologyKey"] == "kubernetes.io/hostname" for c in spread) or anti


def test_probes_ask_healthz_on_the_http_port() -> None:
    ports = {p["name"]: p["containerPort"] for p in CONTAINER["ports"]}
    assert ports == {"http": int(ENV["PORT"]["value"])}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = CONTAINER[probe]["httpGet"]
        assert get["path"] == "/healthz" and get["path"] in web_routes(), probe
        assert ports.get(get["port"], get["port"]) == ports["http"], probe
    startup = CONTAINER["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120, "time to migrate behind another replica"


def test_service_and_scrape_annotations_reach_the_http_port() -> None:
    port = CONTAINER["ports"][0]
    service_ports = one("Service")["spec"]["ports"]
    assert [p["targetPort"] for p in service_ports] == [port["name"]]
    annotations = POD["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/port"] == str(port["containerPort"])
    assert annotations["prometheus.io/path"] == "/metrics" and "/metrics" in web_routes()


def test_resources_have_requests_and_limits() -> None:
    resources = CONTAINER["resources"]
    assert {"cpu", "memory"} <= set(resources["requests"])
    assert "memory" in resources["limits"]


def test_pod_and_container_run_locked_down() -> None:
    pod, container = POD["spec"]["securityContext"], CONTAINER["securityContext"]
    for context in (pod, container):
        assert context["runAsNonRoot"] is True and context["runAsUser"] == 10001
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    tmp = next(m for m in CONTAINER["volumeMounts"] if m["mountPath"] == "/tmp")
    volume = next(v for v in POD["spec"]["volumes"] if v["name"] == tmp["name"])
    assert "emptyDir" in volume, "a writable /tmp on a read-only root filesystem"


def test_the_documented_secret_has_the_keys_the_deployment_reads() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    command = re.search(r"kubectl -n emoji-ops create secret generic emoji-ops \\\n(.*?)\n```", text, re.DOTALL)
    assert command, "docs/operations.md shows how to create the Secret"
    keys = set(re.findall(r"--from-literal=([A-Z_]+)=", command.group(1)))
    refs = secret_refs(ENV)
    assert REQUIRED_SECRETS <= keys <= set(refs)
    for name in refs:
        assert f"`{name}`" in text, f"docs/operations.md does not mention the Secret key {name}"
