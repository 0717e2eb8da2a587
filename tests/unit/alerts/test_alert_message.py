"""The alert group's message, the webhook parser's limits, routing and recurring quiet windows, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.alerts.maintenance import current_opening
from bot.alerts.model import AlertGroup, AlertView, Streak
from bot.alerts.parse import VALUE_LIMIT, BadPayload, parse
from bot.alerts.render import group_blocks, ordinal, safe_link, said_blocks
from bot.alerts.routing import route
from bot.settings import Config, MaintenanceWindow
from tests.support.alert_payloads import alert, notification
from tests.support.slack_text import slack_text

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


def group(count: int, status: str = "firing", **fields: object) -> AlertGroup:
    alerts = tuple(AlertView(f"fp{n}", status, {"alertname": "Disk", "namespace": "ml", "pod": f"p-{n}"},
                             {"summary": f"disk {n} full"}, NOW - timedelta(minutes=n), None) for n in range(count))
    values: dict[str, object] = {
        "id": 7, "group_key": "k", "alertname": "Disk", "team": "ml", "channel": "C1", "status": status,
        "common_labels": {"alertname": "Disk", "namespace": "ml", "severity": "critical"},
        "common_annotations": {}, "external_url": "http://am:9093", "message_ts": None, "held": False,
        "silenced_by": None, "silenced_until": None, "alerts": alerts,
        "streak": Streak(1, NOW - timedelta(minutes=14), NOW if status == "resolved" else None, None, 3)}
    return AlertGroup(**{**values, **fields})  # type: ignore[arg-type]


def test_a_group_of_a_thousand_alerts_stays_inside_block_kit_limits() -> None:
    blocks = group_blocks(group(1000), "en", "Asia/Shanghai", NOW, "2h")
    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    shown = slack_text(blocks)
    assert "1000 firing, 0 resolved" in shown and "more alert(s)" in shown
    assert "3rd time today" in shown and "firing since 09:46" in shown  # the team's wall clock


def test_the_message_reads_in_chinese_for_a_chinese_team() -> None:
    shown = slack_text(group_blocks(group(2, status="resolved"), "zh-CN", "Asia/Shanghai", NOW, "2h"))
    assert "持续 14 分钟 后恢复" in shown and "创建事故" in shown
    assert "静默" not in shown  # a resolved group has nothing to silence


def test_ordinals_and_said_lines() -> None:
    assert [ordinal(n, "en") for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st"]
    assert ordinal(3, "zh-CN") == "3"
    assert slack_text(said_blocks("recovered", {"seconds": 14 * 60}, "en")) == "✅ recovered after 14 min"
    assert slack_text(said_blocks("firing_again", {"count": 3}, "zh-CN")) == "🔥 再次告警（今天第 3 次）"


@pytest.mark.parametrize("url", ["javascript:alert(1)", "http://x/|label", "https://a.example.com/<!channel>",
                                 "ftp://files", "", "http://"])
def test_only_plain_http_links_become_links(url: str) -> None:
    assert safe_link(url, "Runbook") == ""


def test_a_link_keeps_its_query_but_not_its_ampersands_raw() -> None:
    assert safe_link("https://grafana.example.com/d/x?a=1&b=2", "Grafana") == \
        "<https://grafana.example.com/d/x?a=1&amp;b=2|Grafana>"


def test_the_parser_cuts_long_values_and_refuses_what_is_not_a_v4_webhook() -> None:
    body = notification([alert("Big", annotations={"description": "x" * 40_000})])
    parsed = parse(body)
    assert len(parsed.alerts[0].annotations["description"]) == VALUE_LIMIT
    with pytest.raises(BadPayload, match='expected "4"'):
        parse({**body, "version": "2"})
    with pytest.raises(BadPayload, match="at most 64"):
        parse(notification([alert("Many", **{f"l{n}": "v" for n in range(80)})]))
    with pytest.raises(BadPayload, match="groupKey"):
        parse({k: v for k, v in body.items() if k != "groupKey"})


def test_routing_prefers_the_team_label_then_the_namespace_then_the_default() -> None:
    config = Config.model_validate({"teams": [{"name": "ml", "channel": "#ml-alerts", "namespaces": ["train"]},
                                              {"name": "web", "channel": "CWEB"}],
                                    "alerts": {"default_channel": "CALL"}})
    assert route({"team": "web", "namespace": "train"}, config).channel == "CWEB"
    assert route({"namespace": "train"}, config).channel == "ml-alerts"
    assert route({"team": "nobody"}, config).channel == "CALL"
    assert route({}, Config()).channel is None


def test_a_recurring_window_is_open_from_its_cron_time_for_its_duration() -> None:
    window = MaintenanceWindow(team="ml", cron="0 2 * * 6", duration=timedelta(hours=2))  # Saturdays 02:00
    zone = ZoneInfo("Europe/Berlin")
    saturday = datetime(2026, 11, 28, 1, 30, tzinfo=UTC)  # 02:30 in Berlin
    assert current_opening(window, zone, saturday) == datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    assert current_opening(window, zone, saturday + timedelta(hours=2)) is None
    assert current_opening(window, zone, saturday - timedelta(days=1)) is None
