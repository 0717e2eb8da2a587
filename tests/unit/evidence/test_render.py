"""The evidence snapshot as a reader sees it: Block Kit, plain text and Markdown, in English and Chinese."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from bot.clients import ContainerState, KubeEvent, PodState
from bot.evidence.model import (
    EventCount,
    FiringAlert,
    NodeProblem,
    PodProblem,
    RolloutChange,
    Skipped,
    Snapshot,
    Targets,
)
from bot.evidence.render import snapshot_blocks, snapshot_fits, snapshot_markdown, snapshot_text
from bot.evidence.service import pod_problems, warning_counts
from bot.render.blocks import SECTION_LIMIT

NOW = datetime(2026, 11, 24, 6, 0, tzinfo=UTC)
TARGETS = Targets(namespaces=("payments",))


def snapshot(**parts: object) -> Snapshot:
    return Snapshot(targets=TARGETS, taken_at=NOW, budget_s=5.0, pods_seen=10, **parts)  # type: ignore[arg-type]


CRASH = PodProblem("payments", "api-1", "CrashLoopBackOff", "node-1", "api", "Error", 1, 7)
ROLLOUT = RolloutChange("Deployment", "payments", "api", 4, ("api:1.4",), ("api:1.5",), NOW - timedelta(minutes=20),
                        "deploy <!channel> now")
EVENT = EventCount("payments", "Pod", "api-1", "BackOff", "Back-off <@U123> restarting", 14, NOW, NOW)
NODE = NodeProblem("node-1", True, ("DiskPressure",), False, 3)
ALERT = FiringAlert("ErrorRate", "payments", "critical", NOW - timedelta(hours=2), "<!here> 5xx & worse")
SKIP = Skipped("events", "payments", True, (("en", "timed out after 5s"), ("zh-CN", "5 秒后超时")))


def sections(blocks: list[dict[str, object]]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]  # type: ignore[index]


def test_worst_first_in_english_with_slack_markup_escaped() -> None:
    blocks = snapshot_blocks(snapshot(pods=(CRASH,), rollouts=(ROLLOUT,), events=(EVENT,), nodes=(NODE,),
                                      alerts=(ALERT,), skipped=(SKIP,)), "en")

    assert blocks[0]["text"]["text"] == "Cluster evidence: payments"
    texts = sections(blocks)
    assert [s.split("\n")[0] for s in texts] == [
        ":warning: *Partial snapshot*: some parts did not arrive within 5s or failed",
        "*Firing alerts* (1)", "*Unhealthy pods* (1 of 10)", "*Nodes in trouble* (1)",
        "*Rollouts in the last 2 h* (1)", "*Warning events, last 30 min* (1 kinds, 14 in all)"]
    assert "• Warning events in `payments`: timed out after 5s" in texts[0]
    assert "[critical] *ErrorRate* in `payments` for 2 h: &lt;!here&gt; 5xx &amp; worse" in texts[1]
    assert "“deploy &lt;!channel&gt; now”" in texts[4]
    assert "Back-off &lt;@U123&gt; restarting" in texts[5]
    assert "<!" not in json.dumps(blocks) and "<@" not in json.dumps(blocks)
    assert "`node-1` *NotReady, DiskPressure* · hosts 3 of these pods" in texts[3]


def test_chinese_readers_get_chinese() -> None:
    blocks = snapshot_blocks(snapshot(pods=(CRASH,), rollouts=(ROLLOUT,), events=(EVENT,)), "zh-CN")
    texts = sections(blocks)

    assert blocks[0]["text"]["text"] == "集群现场：payments"
    assert texts[0].startswith("*异常 Pod*（10 个中有 1 个）")
    assert "重启 7 次" in texts[0]
    assert "第 4 版，20 分钟前：`api:1.4` → `api:1.5`" in texts[1]
    assert "最近一次在 不到 1 分钟前" in texts[2]


def test_a_snapshot_of_40_kb_is_cut_to_block_kit_limits_and_says_how_much_more() -> None:
    long = "x" * 4_000
    pods = tuple(PodProblem("payments", f"api-{i}", "OOMKilled", "node-1", "api", message=long) for i in range(60))
    events = tuple(EventCount("payments", "Pod", f"api-{i}", "BackOff", long, 1, NOW, NOW) for i in range(60))
    big = snapshot(pods=pods, events=events)
    assert len(snapshot_text(big, "en")) > 30_000

    blocks = snapshot_blocks(big, "en")

    assert len(blocks) <= 50 and len(json.dumps(blocks)) < 40_000
    assert all(len(text) <= SECTION_LIMIT for text in sections(blocks))
    assert "…and " in sections(blocks)[0] and "more (full list in the attached file)" in sections(blocks)[0]
    assert not snapshot_fits(big, "en")
    assert snapshot_fits(snapshot(pods=(CRASH,)), "en")


def test_plain_text_and_markdown_carry_everything_without_slack_markup() -> None:
    full = snapshot(pods=(CRASH,), rollouts=(ROLLOUT,), alerts=(ALERT,))

    text = snapshot_text(full, "en")
    markdown = snapshot_markdown(full, "zh-CN")

    assert text.startswith("Kubernetes evidence for payments\n")
    assert "  - `payments/api-1` CrashLoopBackOff · container `api` · last terminated: Error" in text
    assert "*" not in text
    assert markdown.startswith("## payments 的 Kubernetes 现场证据\n")
    assert "### 异常 Pod（10 个中有 1 个）" in markdown
    assert "- `payments/api-1` **CrashLoopBackOff**" in markdown


def test_nothing_wrong_and_no_namespace() -> None:
    assert "Nothing unusual in payments" in sections(snapshot_blocks(snapshot(), "en"))[0]
    empty = Snapshot(targets=Targets(namespaces=()), taken_at=NOW, budget_s=5.0)
    assert "No namespace to look at" in sections(snapshot_blocks(empty, "en"))[0]


def test_events_are_counted_once_per_reason_object_and_message_whatever_time_field_they_carry() -> None:
    same = "Back-off restarting failed container"
    events = [KubeEvent("p", "Pod", "a", "BackOff", same, 3, NOW - timedelta(minutes=20), NOW - timedelta(minutes=5)),
              KubeEvent("p", "Pod", "a", "BackOff", same, 4, None, NOW - timedelta(minutes=1)),  # eventTime only
              KubeEvent("p", "Pod", "b", "BackOff", same, 1, NOW, NOW),
              KubeEvent("p", "Pod", "a", "BackOff", same, 9, NOW - timedelta(hours=2), NOW - timedelta(minutes=45)),
              KubeEvent("p", "Pod", "c", "Failed", "no time at all", 1, None, None)]

    counted = warning_counts(events, NOW)

    assert [(e.name, e.count) for e in counted] == [("a", 7), ("b", 1)]
    assert counted[0].first_seen == NOW - timedelta(minutes=20)


def test_pod_problems_rank_named_pods_then_the_worst() -> None:
    def running(name: str, *containers: ContainerState, ready: bool = True) -> PodState:
        return PodState("p", name, "n1", "Running", ready, containers=containers)

    pods = [running("ok-1", ContainerState("c", True, 0)),
            running("slow-1", ContainerState("c", False, 0), ready=False),
            running("oom-1", ContainerState("c", True, 2, last_reason="OOMKilled", last_exit_code=137)),
            running("api-7d9f-x", ContainerState("c", False, 1, waiting="ErrImagePull"), ready=False),
            running("crash-1", ContainerState("c", False, 9, waiting="CrashLoopBackOff")),
            PodState("p", "done-1", "n1", "Succeeded", False)]

    found = pod_problems(pods, Targets(namespaces=("p",), deployments=("api",)))

    assert [(p.pod, p.problem, p.named) for p in found] == [
        ("api-7d9f-x", "ErrImagePull", True), ("crash-1", "CrashLoopBackOff", False),
        ("oom-1", "OOMKilled", False), ("slow-1", "NotReady", False)]
