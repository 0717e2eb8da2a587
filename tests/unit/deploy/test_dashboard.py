"""The Grafana dashboard imports as it is (a datasource variable, panels on it) and every panel's query is valid
PromQL (the real promtool, after Grafana's variables are filled in) over metrics the bot exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.unit.deploy.manifests import DASHBOARD
from tests.unit.deploy.promql import check_rules, metric_names, recording_rules, unknown_metrics

# Grafana's own variables, and a value for each of the dashboard's, as Grafana would put them in a query.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "6h"}
VALUES = {"job": "emoji-ops", "namespace": ".*", "datasource": "prometheus"}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")

Panel = dict[str, Any]


def load(path: Path = DASHBOARD) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(dashboard: dict[str, Any]) -> list[Panel]:
    """Every panel, those inside collapsed rows included; rows themselves left out."""
    found: list[Panel] = []
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            found += panel.get("panels") or []
        else:
            found.append(panel)
    return found


def expressions(dashboard: dict[str, Any]) -> dict[str, str]:
    """'<panel title> <refId>' → the PromQL as written (variables not filled in)."""
    return {f"{panel['title']} {target['refId']}": target["expr"]
            for panel in panels(dashboard) for target in panel.get("targets") or []}


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def filled(expr: str, known: set[str]) -> str:
    """The query as Grafana sends it: each $variable, ${variable} or [[variable]] replaced by a value."""
    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name in GRAFANA_VARIABLES:
            return GRAFANA_VARIABLES[name]
        if name not in known:
            raise KeyError(f"${name} is neither a variable of the dashboard nor one of Grafana's")
        return VALUES[name]
    return _VARIABLE.sub(value, expr)


DASH = load()
EXPRS = expressions(DASH)


def test_dashboard_header() -> None:
    assert DASH["uid"] and DASH["title"]
    assert 36 <= DASH["schemaVersion"] <= 41
    assert "id" not in DASH or DASH["id"] is None, "an exported id clashes with the target Grafana's own"


def test_datasource_is_a_prometheus_variable_every_panel_uses() -> None:
    datasource = variables(DASH)["datasource"]
    assert datasource["type"] == "datasource" and datasource["query"] == "prometheus"
    for panel in panels(DASH):
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"]) == panel["datasource"], panel["title"]
    for variable in variables(DASH).values():
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}", variable["name"]


def test_panels_have_unique_ids_and_do_not_overlap() -> None:
    everything = [*DASH["panels"], *(p for row in DASH["panels"] for p in row.get("panels") or [])]
    ids = [panel["id"] for panel in everything]
    assert len(ids) == len(set(ids))
    cells: dict[tuple[int, int], str] = {}
    for panel in everything:
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_every_panel_has_a_query() -> None:
    for panel in panels(DASH):
        assert panel["targets"] and all(t["expr"].strip() and t["refId"] for t in panel["targets"]), panel["title"]


def _reading(metric: str) -> list[str]:
    return [expr for expr in EXPRS.values() if metric in metric_names(expr)]


@pytest.mark.parametrize("metric", [
    "bot_acks_total", "bot_handler_seconds_bucket", "bot_errors_total", "bot_retries_total", "bot_pages_total",
    "bot_escalation_overdue_seconds", "bot_alert_outbox_depth", "bot_alert_outbox_oldest_seconds",
    "bot_cost_explorer_requests_total", "bot_instances_stopped_total", "bot_snapshots_deleted_total",
    "bot_digests_total", "bot_leader",
])
def test_the_dashboard_shows(metric: str) -> None:
    assert _reading(metric), f"no panel reads {metric}"


def test_panels_break_down_by_the_agreed_labels() -> None:
    def by(metric: str, label: str) -> bool:
        return any(re.search(rf"by \([^)]*\b{label}\b", expr) for expr in _reading(metric))
    assert by("bot_acks_total", "kind") and by("bot_handler_seconds_bucket", "kind")
    assert by("bot_errors_total", "backend") and by("bot_retries_total", "backend")
    assert by("bot_pages_total", "outcome") and by("bot_digests_total", "outcome")
    assert by("bot_instances_stopped_total", "outcome") and by("bot_snapshots_deleted_total", "outcome")
    assert by("bot_leader", "pod") or by("bot_leader", "instance")
    latency = _reading("bot_handler_seconds_bucket")
    for quantile in ("0.5", "0.95", "0.99"):
        assert any(f"histogram_quantile({quantile}," in expr for expr in latency), quantile
    assert any("* 0.01" in expr for expr in _reading("bot_cost_explorer_requests_total")), "the dollars"


def test_every_metric_a_panel_or_variable_reads_is_one_the_bot_exports() -> None:
    queries = dict(EXPRS)
    for variable in variables(DASH).values():
        if variable["type"] == "query":
            query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
            inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query)
            assert inner, f"${variable['name']}: expected label_values(<selector>, <label>)"
            queries[f"${variable['name']}"] = inner.group(1)
    assert unknown_metrics(queries) == {}


def test_every_query_uses_only_known_variables() -> None:
    known = set(variables(DASH))
    for where, expr in EXPRS.items():
        assert "$" not in filled(expr, known), where


def test_promtool_accepts_every_panel_query(tmp_path: Path) -> None:
    known = set(variables(DASH))
    exprs = {where: filled(expr, known) for where, expr in EXPRS.items()}
    result = check_rules(recording_rules(exprs), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in result.stdout


# --------------------------------------------------------------------------- the checks can fail


def test_an_unknown_variable_or_metric_is_caught(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        filled('rate(bot_acks_total{job="$jbo"}[$__rate_interval])', set(variables(DASH)))
    broken = json.loads(json.dumps(DASH))
    panels(broken)[0]["targets"][0]["expr"] = "sum(rate(bot_ack_total[5m]))"
    assert unknown_metrics(expressions(broken)) == {f"{panels(broken)[0]['title']} A": {"bot_ack_total"}}
    bad = {"unbalanced": filled("sum by (kind) (rate(bot_acks_total[$__rate_interval])", set())}
    assert check_rules(recording_rules(bad), tmp_path).returncode != 0
