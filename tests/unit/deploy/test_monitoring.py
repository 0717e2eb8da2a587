"""The ServiceMonitor scrapes what the bot serves, and the PrometheusRule's alerts are valid PromQL (checked by
the real promtool) over metrics the bot exports, each with a runbook section in docs/operations.md."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.unit.deploy.manifests import MONITORING, OPERATIONS, documents, one, web_routes
from tests.unit.deploy.promql import PROMETHEUS_SERIES, check_rules, metric_names, recording_rules, unknown_metrics

REQUIRED_ALERTS = {"BotDown", "BotAcksSlow", "BotEscalationOverdue", "BotAlertOutboxGrowing", "BotNoLeader",
                   "BotSeveralLeaders", "BotBackendErrors", "BotPagesFailing"}
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def _only(path: Path) -> dict[str, Any]:
    found = documents(path)
    assert len(found) == 1, f"{path}: expected one object"
    return found[0]


SERVICE_MONITOR = _only(MONITORING / "servicemonitor.yaml")
RULE = _only(MONITORING / "prometheusrule.yaml")


def alerting_rules(rule: dict[str, Any] = RULE) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"] if "alert" in r]


def anchors(markdown: str) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    headings = re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


# --------------------------------------------------------------------------- ServiceMonitor


def test_service_monitor_shape() -> None:
    assert SERVICE_MONITOR["apiVersion"] == "monitoring.coreos.com/v1"
    assert SERVICE_MONITOR["kind"] == "ServiceMonitor"
    assert SERVICE_MONITOR["metadata"]["name"]
    spec = SERVICE_MONITOR["spec"]
    assert set(spec) <= {"selector", "endpoints", "namespaceSelector", "jobLabel", "targetLabels", "podTargetLabels"}
    assert spec["endpoints"], "a ServiceMonitor without endpoints scrapes nothing"
    for endpoint in spec["endpoints"]:
        assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme", "honorLabels",
                                 "relabelings", "metricRelabelings"}
        assert DURATION.match(endpoint["interval"]) and DURATION.match(endpoint["scrapeTimeout"])


def test_service_monitor_selects_the_service_and_scrapes_metrics() -> None:
    service = one("Service")
    labels = service["metadata"]["labels"]
    assert SERVICE_MONITOR["spec"]["selector"]["matchLabels"].items() <= labels.items()
    ports = {port["name"] for port in service["spec"]["ports"]}
    routes = web_routes()
    assert "/metrics" in routes
    for endpoint in SERVICE_MONITOR["spec"]["endpoints"]:
        assert endpoint["port"] in ports
        assert endpoint["path"] in routes


def test_the_alerts_select_the_job_the_service_monitor_makes() -> None:
    """Without jobLabel, the Prometheus Operator names the job after the Service."""
    assert "jobLabel" not in SERVICE_MONITOR["spec"]
    job = one("Service")["metadata"]["name"]
    for rule in alerting_rules():
        assert f'job="{job}"' in rule["expr"], rule["alert"]


# --------------------------------------------------------------------------- PrometheusRule


def test_prometheus_rule_shape() -> None:
    assert RULE["apiVersion"] == "monitoring.coreos.com/v1"
    assert RULE["kind"] == "PrometheusRule"
    assert RULE["metadata"]["name"]
    assert set(RULE["spec"]) == {"groups"}
    for group in RULE["spec"]["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"} and group["name"] and group["rules"]
    for rule in alerting_rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}, rule["alert"]
        assert isinstance(rule["expr"], str) and rule["expr"].strip()
        assert DURATION.match(rule.get("for", "0s")), rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning"}, rule["alert"]
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), rule["alert"]


def test_every_required_alert_is_there_once() -> None:
    names = [rule["alert"] for rule in alerting_rules()]
    assert sorted(names) == sorted(REQUIRED_ALERTS)


@pytest.mark.parametrize("alert", sorted(REQUIRED_ALERTS))
def test_runbook_url_points_at_its_section_of_operations_md(alert: str) -> None:
    rule = next(r for r in alerting_rules() if r["alert"] == alert)
    url = urlsplit(rule["annotations"]["runbook_url"])
    assert url.scheme == "https" and url.path.endswith("/docs/operations.md"), url
    assert url.fragment == alert.lower(), "the anchor of the heading named after the alert"
    assert url.fragment in anchors(OPERATIONS.read_text(encoding="utf-8")), f"no '## {alert}' in docs/operations.md"


def test_the_alert_thresholds_are_the_agreed_ones() -> None:
    rules = {rule["alert"]: rule for rule in alerting_rules()}
    assert "> 2.5" in rules["BotAcksSlow"]["expr"] and "histogram_quantile(0.95" in rules["BotAcksSlow"]["expr"]
    assert rules["BotAcksSlow"]["for"] == "10m"
    assert "> 120" in rules["BotEscalationOverdue"]["expr"] and rules["BotEscalationOverdue"]["for"] == "2m"
    assert "> 300" in rules["BotAlertOutboxGrowing"]["expr"]
    assert "== 0" in rules["BotNoLeader"]["expr"] and rules["BotNoLeader"]["for"] == "2m"
    assert "> 1" in rules["BotSeveralLeaders"]["expr"]
    assert 'outcome="failed"' in rules["BotPagesFailing"]["expr"]
    assert "by (backend)" in rules["BotBackendErrors"]["expr"]


def test_every_metric_an_alert_reads_is_one_the_bot_exports() -> None:
    exprs = {rule["alert"]: rule["expr"] for rule in alerting_rules()}
    assert unknown_metrics(exprs, also=PROMETHEUS_SERIES) == {}
    read = set().union(*(metric_names(expr) for expr in exprs.values()))
    assert {"bot_handler_seconds_bucket", "bot_escalation_overdue_seconds", "bot_alert_outbox_depth",
            "bot_alert_outbox_oldest_seconds", "bot_leader", "bot_errors_total", "bot_pages_total", "up"} <= read


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    result = check_rules(RULE["spec"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerting_rules())} rules found" in result.stdout


# --------------------------------------------------------------------------- the checks can fail


def test_an_alert_on_a_metric_the_bot_does_not_export_is_caught() -> None:
    exprs = {"typo": 'histogram_quantile(0.95, sum by (le) (rate(bot_handler_second_bucket{job="x"}[5m])))',
             "counter_without_total": "rate(bot_acks[5m])", "fine": "max(bot_leader)"}
    assert unknown_metrics(exprs) == {"typo": {"bot_handler_second_bucket"}, "counter_without_total": {"bot_acks"}}


def test_promtool_refuses_a_broken_rule(tmp_path: Path) -> None:
    broken = {"groups": [{"name": "x", "rules": [{"alert": "Broken", "expr": "sum(rate(bot_acks_total[5m])"}]}]}
    assert check_rules(broken, tmp_path).returncode != 0
    typed = recording_rules({"range_in_a_sum": "sum(bot_acks_total[5m])"})
    assert check_rules(typed, tmp_path).returncode != 0, "a range vector where an instant vector is expected"


def test_a_missing_runbook_anchor_is_caught() -> None:
    assert "botdown" in anchors("# Ops\n\n## BotDown\n")
    assert "botackslow" not in anchors("## BotAcksSlow\n")


def test_every_link_inside_operations_md_has_its_heading() -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links, "the page links its sections"
    assert links - anchors(text) == set()
