"""/gpu: utilization, allocation and idle GPUs from DCGM samples and Kubernetes, rendered for Slack."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from bot.clients import GpuSample, NodeGpus, PodGpus
from bot.clients.demo import A100_EXPORTER_POD, DemoKube, DemoPrometheus, demo_samples
from bot.clock import FrozenClock
from bot.gpu.render import gpu_blocks
from bot.gpu.service import GpuService
from bot.i18n import catalog
from bot.render.blocks import SECTION_LIMIT
from bot.retry import BackendError
from bot.settings import Team
from tests.support.slack_text import slack_text

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ORG = Team(name="organisation")
INFER = Team(name="infer", namespaces=["ml-infer"])


def service(prom: DemoPrometheus | None = None, kube: DemoKube | None = None,
            threshold: float = 20) -> GpuService:
    return GpuService(prom or DemoPrometheus(), kube or DemoKube(), FrozenClock(NOW), threshold)


def test_organisation_summary_counts_every_gpu_allocation_and_idle_gpu() -> None:
    summary = service().summary(ORG)

    assert (summary.total_gpus, summary.allocated_gpus, summary.idle_gpus) == (24, 21, 7)
    assert summary.allocated_idle_gpus == 4
    assert summary.avg_util_pct == pytest.approx(sum(s.util_pct or 0 for s in demo_samples()) / 24)
    assert [row.node for row in summary.nodes] == ["gpu-a100-1", "gpu-h100-1", "gpu-h100-2"]
    assert (summary.team, summary.demo, summary.as_of) == (None, True, NOW)


def test_allocated_but_idle_gpus_come_first_and_name_their_pod() -> None:
    idle = service().summary(ORG).idle

    held = [(g.node, g.gpu, g.namespace, g.pod) for g in idle if g.allocated]
    assert held == [
        ("gpu-a100-1", "0", "ml-infer", "vllm-llama-70b-0"),
        ("gpu-a100-1", "1", "ml-infer", "vllm-llama-70b-0"),
        ("gpu-h100-2", "0", "ml-train", "finetune-lora-7b"),
        ("gpu-h100-2", "1", "ml-train", "finetune-lora-7b"),
    ]
    assert idle[: len(held)] == [g for g in idle if g.allocated]
    assert {(g.node, g.gpu) for g in idle if not g.allocated} == {("gpu-a100-1", "6"), ("gpu-a100-1", "7"),
                                                                  ("gpu-h100-2", "7")}


def test_exporter_pod_hostname_is_matched_to_its_node_through_a_pod_it_reports() -> None:
    assert any(s.hostname == A100_EXPORTER_POD for s in demo_samples())

    summary = service().summary(ORG)

    assert A100_EXPORTER_POD not in {row.node for row in summary.nodes}
    [a100] = [row for row in summary.nodes if row.node == "gpu-a100-1"]
    assert (a100.gpus, a100.allocated, a100.avg_util_pct) == (8, 6, pytest.approx(31.25))


def test_hostname_matching_no_node_is_shown_as_is() -> None:
    stray = GpuSample(hostname="dcgm-exporter-abcde", gpu="0", uuid="GPU-x", model="NVIDIA L4", util_pct=3.0)

    summary = service(prom=DemoPrometheus([*demo_samples(), stray])).summary(ORG)

    [row] = [row for row in summary.nodes if row.node == "dcgm-exporter-abcde"]
    assert (row.gpus, row.allocated, row.model) == (1, 0, "NVIDIA L4")
    assert summary.total_gpus == 25
    assert ("dcgm-exporter-abcde", "0") in {(g.node, g.gpu) for g in summary.idle}


def test_a_node_label_on_the_sample_matches_the_node() -> None:
    sample = GpuSample(hostname="exporter-1", gpu="0", uuid="GPU-1", model="NVIDIA L4", util_pct=50.0,
                       node="l4-node")
    kube = DemoKube(nodes=[NodeGpus("l4-node", 1)], pods=[])

    summary = service(prom=DemoPrometheus([sample]), kube=kube).summary(ORG)

    assert [(r.node, r.gpus, r.avg_util_pct) for r in summary.nodes] == [("l4-node", 1, 50.0)]


def test_team_summary_is_limited_to_its_namespaces() -> None:
    summary = service().summary(INFER)

    assert (summary.team, summary.namespaces) == ("infer", ("ml-infer",))
    assert (summary.total_gpus, summary.allocated_gpus, summary.idle_gpus) == (5, 5, 2)
    assert {g.namespace for g in summary.idle} == {"ml-infer"}
    assert [(r.node, r.gpus, r.allocated) for r in summary.nodes] == [("gpu-a100-1", 8, 4),
                                                                      ("gpu-h100-2", 8, 1)]
    assert summary.avg_util_pct == pytest.approx((14 + 17 + 38 + 41 + 64) / 5)


def test_finished_pods_do_not_hold_gpus() -> None:
    [h100_2] = [r for r in service().summary(ORG).nodes if r.node == "gpu-h100-2"]

    assert h100_2.allocated == 7  # the Succeeded nightly-eval pod's GPU is free again


def test_pod_labels_of_pods_kubernetes_does_not_know_count_as_unallocated() -> None:
    sample = GpuSample(hostname="n1", gpu="0", uuid="GPU-1", model="NVIDIA L4", util_pct=0.0,
                       namespace="gpu-operator", pod="nvidia-dcgm-exporter-x")
    kube = DemoKube(nodes=[NodeGpus("n1", 1)], pods=[])

    [idle] = service(prom=DemoPrometheus([sample]), kube=kube).summary(ORG).idle

    assert not idle.allocated


def test_threshold_decides_what_is_idle_and_missing_readings_are_never_idle() -> None:
    samples = [replace(s, util_pct=None) if s.hostname == "gpu-h100-1" else s for s in demo_samples()]

    summary = service(prom=DemoPrometheus(samples), threshold=50).summary(ORG)

    assert summary.idle_gpus == 9  # 7 under 20 % plus the vLLM GPUs at 38 and 41 %
    assert "gpu-h100-1" not in {g.node for g in summary.idle}
    [h100_1] = [r for r in summary.nodes if r.node == "gpu-h100-1"]
    assert h100_1.avg_util_pct is None


def test_backend_failure_propagates() -> None:
    class BrokenPrometheus(DemoPrometheus):
        def gpu_samples(self) -> list[GpuSample]:
            raise BackendError("prometheus", "cannot connect")

    with pytest.raises(BackendError, match="prometheus"):
        service(prom=BrokenPrometheus()).summary(ORG)


def test_blocks_show_totals_nodes_idle_gpus_and_the_demo_notice() -> None:
    blocks = gpu_blocks(service().summary(ORG), "en")

    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "GPUs across the organisation"
    text = slack_text(blocks)
    assert "*24* GPUs · *21* allocated · *7* idle" in text
    assert "`gpu-a100-1` · A100-SXM4-80GB · 6/8 allocated · 31%" in text
    assert "held by `ml-infer/vllm-llama-70b-0`: allocated but idle" in text
    assert "2026-03-02 09:30 UTC" in text
    assert blocks[-1]["type"] == "context"
    assert "Demo data — connect Prometheus/Kubernetes (see README)" in blocks[-1]["elements"][0]["text"]


def test_blocks_in_chinese_come_from_the_zh_catalog() -> None:
    text = slack_text(gpu_blocks(service().summary(INFER), "zh-CN"))

    assert "infer 团队的 GPU" in text
    assert "已分配但空闲" in text
    assert "演示数据" in text


def test_real_data_has_no_demo_notice() -> None:
    prom, kube = DemoPrometheus(), DemoKube()
    prom.demo = kube.demo = False  # type: ignore[misc]

    assert "Demo data" not in slack_text(gpu_blocks(service(prom, kube).summary(ORG), "en"))


def test_external_text_is_escaped() -> None:
    sample = GpuSample(hostname="<!channel>", gpu="0", uuid="GPU-1", model="<@U123> & co", util_pct=1.0,
                       namespace="ml", pod="<!here>")
    kube = DemoKube(nodes=[], pods=[PodGpus("ml", "<!here>", None, "Running", 1)])

    blocks = gpu_blocks(service(DemoPrometheus([sample]), kube).summary(ORG), "en")

    payload = json.dumps(blocks, ensure_ascii=False)  # nowhere in what reaches Slack, shown or not
    assert "<!channel>" not in payload and "<@U123>" not in payload and "<!here>" not in payload
    assert "&lt;!channel&gt;" in slack_text(blocks) and "&lt;@U123&gt; &amp; co" in slack_text(blocks)


def test_nothing_found_says_so() -> None:
    empty = service(DemoPrometheus([]), DemoKube(nodes=[], pods=[]))

    assert "No GPUs found" in slack_text(gpu_blocks(empty.summary(ORG), "en"))
    assert "holds no GPUs in namespaces `ml-infer`" in slack_text(gpu_blocks(empty.summary(INFER), "en"))


def test_large_clusters_stay_within_slack_limits() -> None:
    samples = [GpuSample(hostname=f"gpu-node-{n:04d}", gpu=str(g), uuid=f"GPU-{n}-{g}", model="NVIDIA H100",
                         util_pct=0.0) for n in range(600) for g in range(8)]
    summary = service(DemoPrometheus(samples), DemoKube(nodes=[], pods=[])).summary(ORG)

    blocks = gpu_blocks(summary, "en")

    assert len(blocks) <= 50
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    assert all(len(text) <= SECTION_LIMIT for text in sections)
    assert any("…and " in text and " more" in text for text in sections)
    assert summary.idle_gpus == 4800


@pytest.mark.parametrize("domain", ["gpu", "spend", "review"])
def test_both_languages_have_the_same_catalog_keys(domain: str) -> None:
    english = {key for key in catalog("en") if key.startswith(f"{domain}.")}
    chinese = {key for key in catalog("zh-CN") if key.startswith(f"{domain}.")}

    assert english and english == chinese
