"""bot.incidents.memory: title tokens, labels and the ranking of past incidents; the compact lines they become."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.incidents.memory import jaccard, match_labels, pod_workload, rank, tokens
from bot.incidents.model import Incident, Resemblance, TimelineEntry
from bot.incidents.render import resembling_blocks, resembling_line

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CRASH = {"alertname": "KubePodCrashLooping", "namespace": "payments", "deployment": "api"}


def incident(number: int, title: str, *, days_ago: float = 1, status: str = "resolved", team: str = "ml-platform",
             labels: dict[str, str] | None = None, minutes: int = 42,
             notes: tuple[TimelineEntry, ...] = ()) -> Incident:
    opened = NOW - timedelta(days=days_ago)
    timeline = tuple([TimelineEntry(opened, "alert", None, "alert", {"labels": labels, "group": number})]
                     if labels else []) + notes
    ended = opened + timedelta(minutes=minutes)
    return Incident(id=number, title=title, severity="sev2", team=team, status=status, reporter="U1", commander=None,
                    language="en", created_at=opened, timeline=timeline,
                    resolved_at=ended if status == "resolved" else None,
                    mitigated_at=ended if status == "mitigated" else None)


NEW = incident(99, "KubePodCrashLooping: api pods restarting in payments", days_ago=0, status="open")


# ---------------------------------------------------------------- tokens


@pytest.mark.parametrize(("title", "expected"), [
    ("Checkout 500s after the deploy", ["checkout", "500s", "deploy"]),
    ("API is DOWN!! api down", ["api"]),  # lowercase, once each; "is", "down" are stop words
    ("db-7 / p99 latency_high on gpu-node", ["p99", "latency_high", "gpu", "node"]),  # short pieces dropped
    ("Degraded: grafana is slow", ["grafana", "slow"]),  # the bot's own title word says nothing
    ("支付服务故障，回滚后恢复", ["支付", "回滚", "滚后", "后恢", "恢复"]),  # CJK pairs, stop words cut out
    ("api服务超时", ["api", "超时"]),
    ("", []),
])
def test_tokens(title: str, expected: list[str]) -> None:
    assert tokens(title) == expected


def test_jaccard_is_shared_over_all() -> None:
    assert jaccard(["a1a", "b2b"], ["b2b", "c3c"]) == pytest.approx(1 / 3)
    assert jaccard([], []) == 0.0


def test_generic_chinese_words_do_not_make_titles_alike() -> None:
    assert jaccard(tokens("支付服务故障"), tokens("登录服务故障")) == 0.0
    assert jaccard(tokens("支付服务超时"), tokens("支付服务超时了")) == 1.0


# ---------------------------------------------------------------- labels


@pytest.mark.parametrize(("labels", "expected"), [
    (CRASH, CRASH),
    ({"alertname": "A", "statefulset": "kafka", "pod": "kafka-2"}, {"alertname": "A", "deployment": "kafka"}),
    ({"namespace": "ns", "pod": "api-7d9f8b6c4-x2x7k"}, {"namespace": "ns", "deployment": "api"}),
    ({"severity": "critical", "alertname": ""}, {}),
])
def test_match_labels_keeps_alertname_namespace_and_a_workload(labels: dict[str, str],
                                                               expected: dict[str, str]) -> None:
    assert match_labels(labels) == expected


def test_a_pod_name_without_a_generated_suffix_names_no_workload() -> None:
    assert pod_workload("standalone") == ""
    assert pod_workload("web-0") == "web"


# ---------------------------------------------------------------- ranking


def ranked(*candidates: Incident, labels: dict[str, str] = CRASH, new: Incident = NEW,
           limit: int = 3) -> list[int]:
    return [found.number for found in rank(new, match_labels(labels), candidates, limit)]


def test_more_shared_labels_rank_first_then_the_heavier_label() -> None:
    candidates = [
        incident(1, "something else", labels={"alertname": "KubePodCrashLooping"}),
        incident(2, "something else", labels={"namespace": "payments"}),
        incident(3, "something else", labels={"namespace": "payments", "deployment": "api"}),
        incident(4, "something else", labels={"deployment": "api"}),
        incident(5, "something else", labels=CRASH),
    ]
    assert ranked(*candidates, limit=5) == [5, 3, 1, 2, 4]


def test_title_overlap_breaks_ties_and_recency_breaks_the_rest() -> None:
    same = {"alertname": "KubePodCrashLooping"}
    candidates = [
        incident(1, "unrelated words entirely", labels=same, days_ago=1),
        incident(2, "api pods restarting", labels=same, days_ago=30),
        incident(3, "unrelated words entirely", labels=same, days_ago=2),
    ]
    assert ranked(*candidates) == [2, 1, 3]


def test_title_words_alone_need_an_overlap_of_at_least_0_3() -> None:
    new = incident(99, "checkout api returns 500s", days_ago=0, status="open")
    close = incident(1, "checkout api 500s")  # 3 of 4
    far = incident(2, "checkout latency graphs slow dashboards")  # 1 of 8
    assert ranked(close, far, new=new, labels={}) == [1]
    [found] = rank(new, {}, [close])
    assert found.shared_labels == () and found.shared_words == ("checkout", "api", "500s")
    assert found.title_overlap == pytest.approx(0.75)


def test_only_resolved_or_mitigated_incidents_of_the_same_team_other_than_itself() -> None:
    candidates = [
        incident(1, NEW.title, labels=CRASH, status="open"),
        incident(2, NEW.title, labels=CRASH, status="cancelled"),
        incident(3, NEW.title, labels=CRASH, team="payments"),
        replace(NEW, status="resolved"),
        incident(5, NEW.title, labels=CRASH, status="mitigated"),
    ]
    assert ranked(*candidates) == [5]


def test_any_of_several_alert_groups_of_a_past_incident_can_match() -> None:
    opened = NOW - timedelta(days=3)
    past = replace(incident(1, "x"), timeline=(
        TimelineEntry(opened, "alert", None, "", {"labels": {"alertname": "HighLatency"}, "group": 1}),
        TimelineEntry(opened, "alert", None, "", {"labels": {"alertname": "KubePodCrashLooping"}, "group": 2}),
        TimelineEntry(opened, "note", "U1", "", None)))
    [found] = rank(NEW, {"alertname": "KubePodCrashLooping"}, [past])
    assert found.shared_labels == (("alertname", "KubePodCrashLooping"),)


def test_a_result_carries_duration_age_and_resolution() -> None:
    notes = (TimelineEntry(NOW - timedelta(days=21) + timedelta(minutes=10), "note", "U1", "looking"),
             TimelineEntry(NOW - timedelta(days=21) + timedelta(minutes=30), "resolution", "U1", "rolled back api"))
    [found] = rank(NEW, match_labels(CRASH), [incident(12, "api down", days_ago=21, labels=CRASH, notes=notes)])
    assert (found.duration, found.ago) == (timedelta(minutes=42), timedelta(days=21))
    assert (found.resolution, found.resolution_kind) == ("rolled back api", "resolution")
    assert found.resolved_at == NOW - timedelta(days=21) + timedelta(minutes=42)


def test_without_a_resolution_note_the_last_note_before_resolving_is_the_resolution() -> None:
    opened = NOW - timedelta(days=2)
    notes = (TimelineEntry(opened + timedelta(minutes=5), "note", "U1", "restarted the pods"),
             TimelineEntry(opened + timedelta(minutes=50), "note", "U1", "written after resolving"))
    [found] = rank(NEW, match_labels(CRASH), [incident(1, "x", days_ago=2, labels=CRASH, notes=notes)])
    assert (found.resolution, found.resolution_kind) == ("restarted the pods", "note")
    [bare] = rank(NEW, match_labels(CRASH), [incident(1, "x", days_ago=2, labels=CRASH)])
    assert (bare.resolution, bare.resolution_kind) == (None, None)


# ---------------------------------------------------------------- rendering


def resemblance(**changes: Any) -> Resemblance:
    base = Resemblance(incident_id=12, title="api pods crash", status="resolved", created_at=NOW - timedelta(days=21),
                       resolved_at=NOW - timedelta(days=21) + timedelta(minutes=42), duration=timedelta(minutes=42),
                       ago=timedelta(days=21),
                       shared_labels=(("alertname", "KubePodCrashLooping"), ("namespace", "payments")),
                       resolution="rolled back api to v41", resolution_kind="resolution")
    return replace(base, **changes)


def test_line_says_when_how_long_what_matched_and_the_resolution() -> None:
    assert resembling_line(resemblance(), "en") == (
        "Looks like *#12* api pods crash (3 weeks ago, 42m): matched alertname `KubePodCrashLooping`, "
        "namespace `payments` — resolution: rolled back api to v41")


def test_line_in_chinese() -> None:
    line = resembling_line(resemblance(shared_words=("支付",), ago=timedelta(hours=5)), "zh-CN")
    assert line == ("类似 *#12* api pods crash（5 小时前，42m）：相同的alertname `KubePodCrashLooping`、"
                    "namespace `payments`、标题词 支付 — 解决方法：rolled back api to v41")


def test_line_for_a_mitigated_incident_with_only_a_last_note_and_words() -> None:
    line = resembling_line(resemblance(status="mitigated", resolved_at=None, shared_labels=(),
                                       shared_words=("checkout", "500s"), resolution="scaled up",
                                       resolution_kind="note", ago=timedelta(days=3)), "en")
    assert line == ("Looks like *#12* api pods crash (3 d ago, mitigated after 42m): matched title words "
                    "checkout, 500s — last note: scaled up")


def test_user_text_is_escaped_and_clipped() -> None:
    line = resembling_line(resemblance(title="<!channel> " + "x" * 200, resolution=None, resolution_kind=None), "en")
    assert "<!channel>" not in line and "&lt;!channel&gt;" in line
    assert "x" * 100 not in line and "…" in line
    assert line.endswith("— no resolution recorded")


def test_blocks_are_one_section_with_a_heading_or_nothing() -> None:
    assert resembling_blocks([], "en") == []
    [block] = resembling_blocks([resemblance(), resemblance(incident_id=7)], "en")
    text = block["text"]["text"]
    assert text.splitlines()[0] == ":mag: *Past incidents like this one*"
    assert "*#12*" in text and "*#7*" in text
