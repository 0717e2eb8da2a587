"""/gpu's joins, arithmetic and rendering on made-up readings: prices, idle at the threshold, owners and teams,
the Kubernetes cache, Slack's limits at 10,000 GPUs, escaping, both languages."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.clients import GpuCluster, GpuNode, GpuPod, GpuQuery, GpuReading
from bot.clients.demo import DemoKube, DemoPrometheus
from bot.clock import FrozenClock
from bot.config_types import parse_working_hours
from bot.gpu import render
from bot.gpu.model import Scope
from bot.gpu.pricing import price_per_hour
from bot.gpu.service import GpuService, NotFound
from bot.render.blocks import SECTION_LIMIT
from bot.settings import DEFAULT_GPU_PRICES, Config
from bot.store.db import make_engine, migrate, session_factory
from tests.support.slack_text import slack_text

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
H100, L4 = "NVIDIA H100 80GB HBM3", "NVIDIA L4"
CONFIG = Config.model_validate({"teams": [{"name": "ml", "channel": "CML", "namespaces": ["ml-train"]},
                                          {"name": "vision", "channel": "CVIS", "namespaces": ["vision"]}]})


@pytest.fixture(scope="module")
def sessions() -> sessionmaker[Session]:
    engine = make_engine("sqlite://")
    migrate(engine)
    return session_factory(engine)


def reading(host: str, gpu: str, util: float | None, pod: str | None = None, namespace: str = "ml-train",
            model: str = H100, **fields: object) -> GpuReading:
    return GpuReading(hostname=host, gpu=gpu, uuid=f"GPU-{host}-{gpu}", model=model, util_pct=util,
                      util_source="dev", namespace=namespace if pod else None, pod=pod, **fields)  # type: ignore[arg-type]


def cluster(*pods: GpuPod, nodes: tuple[GpuNode, ...] = (GpuNode("n1", 8, "NVIDIA-H100"),)) -> GpuCluster:
    return GpuCluster(nodes=nodes, pods=pods, pod_nodes={"dcgm-exporter-x1": "n1"})


def running(name: str, gpus: int = 1, namespace: str = "ml-train", node: str = "n1", **fields: object) -> GpuPod:
    return GpuPod(namespace=namespace, name=name, node=node, phase="Running", gpus=gpus, **fields)  # type: ignore[arg-type]


def service(readings: list[GpuReading], kube: GpuCluster, sessions: sessionmaker[Session],
            config: Config = CONFIG, clock: FrozenClock | None = None) -> GpuService:
    prom, k8s = DemoPrometheus(readings), DemoKube(kube)
    prom.demo = k8s.demo = False  # type: ignore[misc]
    return GpuService(prom, k8s, clock or FrozenClock(NOW), config, sessions)


# Prices ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("model", "usd"), [
    ("NVIDIA H100 80GB HBM3", 6.88), ("NVIDIA-H100-80GB-HBM3", 6.88), ("NVIDIA H200", 7.91),
    ("NVIDIA A100-SXM4-80GB", 2.75), ("NVIDIA L40S", 1.86), ("NVIDIA L4", 0.80), ("NVIDIA A10G", 1.01),
    ("Tesla T4", 0.53), ("Tesla V100-SXM2-16GB", 3.06), ("Quadro RTX 6000", 0.0)])
def test_each_model_gets_its_own_price_and_l4_is_not_l40s(model: str, usd: float) -> None:
    assert price_per_hour(model, None, DEFAULT_GPU_PRICES) == usd


def test_a_mig_slice_costs_its_share_of_the_gpu_and_configured_prices_win() -> None:
    assert price_per_hour("NVIDIA A100-SXM4-80GB", "3g.40gb", DEFAULT_GPU_PRICES) == pytest.approx(2.75 * 3 / 7)
    assert price_per_hour("NVIDIA A30", "2g.12gb", {"A30": 1.0}) == 0.5
    prices = Config.model_validate({"gpu": {"prices": {"h100": 4.1}}}).gpu.price_table()
    assert price_per_hour(H100, None, prices) == 4.1 and prices["L4"] == 0.80


# Idle, holders, owners ------------------------------------------------------------------------------------
def test_idle_means_held_and_under_the_threshold_and_free_gpus_are_never_idle(sessions) -> None:
    readings = [reading("n1", "0", 19.99, "a"), reading("n1", "1", 20.0, "b"), reading("n1", "2", 0.0),
                reading("n1", "3", None, "c")]
    fleet = service(readings, cluster(running("a"), running("b"), running("c")), sessions).look(Scope("cluster"))

    assert [(g.gpu, g.idle) for g in fleet.gpus] == [("0", True), ("1", False), ("2", False), ("3", False)]


def test_idle_since_is_the_last_busy_moment_but_never_before_the_pod_started(sessions) -> None:
    started = NOW - timedelta(hours=2)
    readings = [reading("n1", "0", 3.0, "old", busy_at=NOW - timedelta(hours=5)),
                reading("n1", "1", 3.0, "new", busy_at=NOW - timedelta(hours=5)),
                reading("n1", "2", 3.0, "never")]
    pods = cluster(running("old", created=NOW - timedelta(days=2)), running("new", created=started),
                   running("never", created=NOW - timedelta(days=3)))
    report = service(readings, pods, sessions).idle(Scope("cluster"))

    idle = {g.holder.pod: g.idle_for(NOW) for g in report.gpus if g.holder}
    assert idle == {"old": timedelta(hours=5), "new": timedelta(hours=2), "never": timedelta(hours=24)}
    by_pod = {g.holder.pod: g for g in report.gpus if g.holder}
    assert by_pod["old"].idle_cost(NOW) == pytest.approx(6.88 * 5)
    assert report.usd_per_day == pytest.approx(6.88 * 3 * 24)


def test_owner_comes_from_the_first_owner_label_and_team_from_a_team_label_else_the_namespace(sessions) -> None:
    pods = cluster(running("a", labels={"owner": "U1", "team": "vision"}), running("b", labels={"team": "nobody"}),
                   running("c", namespace="vision"))
    readings = [reading("n1", "0", 50, "a"), reading("n1", "1", 50, "b"), reading("n1", "2", 50, "c", "vision")]
    fleet = service(readings, pods, sessions).look(Scope("cluster"))

    holders = [(g.holder.pod, g.holder.owner, g.holder.team) for g in fleet.gpus if g.holder]
    assert holders == [("a", "U1", "vision"), ("b", "nobody", "ml"), ("c", None, "vision")]
    vision = service(readings, pods, sessions).look(Scope("team", "vision"))
    assert [g.holder.pod for g in vision.gpus if g.holder] == ["a", "c"]


def test_hostnames_resolve_through_the_node_label_or_the_exporter_pod(sessions) -> None:
    readings = [reading("dcgm-exporter-x1", "0", 50, "a"), reading("ip-10-1-2-3", "1", 50, node="n1"),
                reading("mystery", "2", 50)]
    fleet = service(readings, cluster(running("a")), sessions).look(Scope("cluster"))

    assert [g.node for g in fleet.gpus] == ["mystery", "n1", "n1"]


def test_a_pod_label_kubernetes_does_not_know_holds_nothing(sessions) -> None:
    fleet = service([reading("n1", "0", 1.0, "gone")], cluster(), sessions).look(Scope("cluster"))

    assert fleet.gpus[0].holder is None and not fleet.idle


def test_kubernetes_is_asked_once_per_cache_period(sessions) -> None:
    calls = []

    class Counting(DemoKube):
        def gpu_cluster(self, pool_labels: tuple[str, ...] = ()) -> GpuCluster:
            calls.append(pool_labels)
            return super().gpu_cluster(pool_labels)

    clock = FrozenClock(NOW)
    gpus = GpuService(DemoPrometheus([reading("n1", "0", 50, "a")]), Counting(cluster(running("a"))), clock,
                      CONFIG, sessions)
    gpus.look(Scope("cluster"))
    clock.advance(timedelta(seconds=29))
    gpus.look(Scope("cluster"))
    clock.advance(timedelta(seconds=2))
    gpus.look(Scope("cluster"))

    assert len(calls) == 2 and calls[0][0] == "karpenter.sh/nodepool"


def test_an_unknown_node_is_not_found_with_the_closest_names(sessions) -> None:
    nodes = (GpuNode("gpu-node-0001", 8), GpuNode("gpu-node-0002", 8), GpuNode("cpu-9", 1))
    gpus = service([], cluster(nodes=nodes), sessions)

    with pytest.raises(NotFound) as missing:
        gpus.look(Scope("node", "gpu-node-001"))

    assert missing.value.closest[:2] == ["gpu-node-0001", "gpu-node-0002"]


# Slack's limits, escaping, languages ----------------------------------------------------------------------
def big_fleet(sessions) -> GpuService:
    nodes = tuple(GpuNode(f"gpu-node-{n:04d}", 8, "NVIDIA-H100", pool=f"pool-{n % 10}") for n in range(1250))
    pods = [running(f"job-{n:04d}-{g}", 1, namespace=f"team-{n % 40:02d}", node=f"gpu-node-{n:04d}")
            for n in range(1250) for g in range(8)]
    readings = [reading(f"gpu-node-{n:04d}", str(g), 5.0 if g < 2 else 80.0, f"job-{n:04d}-{g}",
                        namespace=f"team-{n % 40:02d}", fb_used_mib=1000.0, fb_free_mib=79000.0,
                        busy_at=NOW - timedelta(hours=1)) for n in range(1250) for g in range(8)]
    return service(readings, cluster(*pods, nodes=nodes), sessions)


def check_limits(blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        text = block.get("text")
        if isinstance(text, dict):
            assert len(text["text"]) <= SECTION_LIMIT
    assert len(json.dumps(blocks)) < 40_000


def test_ten_thousand_gpus_stay_inside_slacks_limits_and_the_csv_has_every_row(sessions) -> None:
    gpus = big_fleet(sessions)

    summary = gpus.summary(Scope("cluster"))
    idle = gpus.idle(Scope("cluster"))
    check_limits(render.summary_blocks(summary, "en", "UTC", 10))
    check_limits(render.idle_blocks(idle, "zh-CN", "Asia/Shanghai", 10))
    check_limits(render.focus_blocks(gpus.summary(Scope("namespace", "team-07")), "en", "UTC", 10))
    check_limits(render.health_blocks(gpus.health(Scope("cluster")), "en", "UTC", 10))

    text = slack_text(render.idle_blocks(idle, "en", "UTC", 10))
    assert "*Idle GPUs: 2500* in *2500* pods" in text and "…and 2490 more pods (2490 GPUs)" in text
    assert "*10000* GPUs · *10000* allocated · *0* free" in slack_text(render.summary_blocks(summary, "en", "UTC", 10))
    rows = list(csv.DictReader(io.StringIO(render.gpus_csv(idle.gpus, NOW))))
    assert len(rows) == 2500 and rows[0]["idle"] == "yes" and float(rows[0]["idle_usd_so_far"]) == 6.88


def test_past_forty_nodes_the_chart_groups_by_node_pool(sessions) -> None:
    from bot.gpu.chart import utilization_bars, utilization_png

    fleet = big_fleet(sessions).look(Scope("cluster"))
    by_pool, bars = utilization_bars(fleet)

    assert by_pool and sorted(name for name, _ in bars) == [f"pool-{n}" for n in range(10)]
    assert all(util == pytest.approx(61.25) for _, util in bars)  # (2 × 5 + 6 × 80) / 8
    assert utilization_png(fleet, "en").startswith(b"\x89PNG")


def shown_text(value: object) -> list[str]:
    if isinstance(value, dict):
        return [t for key, item in value.items() if key != "value" for t in shown_text(item)]
    if isinstance(value, list):
        return [t for item in value for t in shown_text(item)]
    return [value] if isinstance(value, str) else []


def test_names_from_the_cluster_cannot_mention_or_break_markup(sessions) -> None:
    readings = [reading("<!channel>", "0", 1.0, "<!here>", namespace="<@U123>", model="<b>")]
    pods = cluster(running("<!here>", namespace="<@U123>", labels={"owner": "<!everyone>"}))
    gpus = service(readings, pods, sessions)

    for blocks in (render.summary_blocks(gpus.summary(Scope("cluster")), "en", "UTC", 10),
                   render.idle_blocks(gpus.idle(Scope("cluster")), "en", "UTC", 10)):
        raw = json.dumps(shown_text(blocks))  # button values are data, never shown
        assert "<!channel>" not in raw and "<!here>" not in raw and "<@U123>" not in raw and "<!everyone>" not in raw


def test_the_summary_speaks_chinese_with_its_numbers(sessions) -> None:
    gpus = service([reading("n1", "0", 5.0, "a"), reading("n1", "1", 90.0, "b")],
                   cluster(running("a"), running("b")), sessions)

    text = slack_text(render.summary_blocks(gpus.summary(Scope("cluster")), "zh-CN", "Asia/Shanghai", 10))

    assert "*8* 块 GPU · 已分配 *2* 块 · 空闲可用 *6* 块" in text and "*1 块 GPU 闲置*" in text
    assert "截至 10:00 Asia/Shanghai" in text  # 02:00 UTC on the reader's clock


def test_working_hours_parse_days_and_hours_and_refuse_nonsense() -> None:
    hours = parse_working_hours("mon-fri 09:00-18:00")
    assert hours.contains(datetime(2026, 11, 24, 9, 0)) and not hours.contains(datetime(2026, 11, 24, 18, 0))
    assert not hours.contains(datetime(2026, 11, 29, 10, 0))  # a Sunday
    assert parse_working_hours("sat,sun 10:00-12:00").days == frozenset({5, 6})
    for wrong in ("weekdays", "fri-mon 09:00-10:00", "mon 18:00-09:00", "mon 25:00-26:00"):
        with pytest.raises(ValueError, match="mon-fri 09:00-18:00"):
            parse_working_hours(wrong)


def test_the_query_asks_for_history_and_problems_only_where_a_view_needs_them(sessions) -> None:
    asked: list[GpuQuery] = []

    class Recording(DemoPrometheus):
        def gpu_readings(self, query: GpuQuery) -> list[GpuReading]:
            asked.append(query)
            return super().gpu_readings(query)

    gpus = GpuService(Recording([reading("n1", "0", 5.0, "a")]), DemoKube(cluster(running("a"))),
                      FrozenClock(NOW), CONFIG, sessions)
    gpus.summary(Scope("cluster"))
    gpus.idle(Scope("cluster"))
    gpus.health(Scope("cluster"))

    assert [(q.memory, q.problems, q.history) for q in asked] == [
        (True, True, None), (False, False, timedelta(hours=24)), (False, True, timedelta(hours=24))]
    assert all(q.at == NOW and q.window == timedelta(minutes=15) for q in asked)


def test_without_kubernetes_the_totals_count_what_dcgm_reports(sessions) -> None:
    from bot.retry import BackendError

    class Forbidden(DemoKube):
        def gpu_cluster(self, pool_labels: tuple[str, ...] = ()) -> GpuCluster:
            raise BackendError("kubernetes", code="kube_forbidden_cluster",
                               params={"verb": "list", "resource": "pods", "namespace": ""})

    gpus = GpuService(DemoPrometheus([reading("n1", "0", 5.0, "a"), reading("n1", "1", 50.0)]), Forbidden(),
                      FrozenClock(NOW), CONFIG, sessions)
    summary = gpus.summary(Scope("cluster"))

    assert (summary.totals.total, summary.totals.allocated) == (2, 1)
    assert summary.fleet.allocation_error is not None and [g.gpu for g in summary.fleet.idle] == ["0"]


def test_a_reading_key_tells_mig_slices_apart() -> None:
    whole = reading("n1", "0", 5.0)
    assert replace(whole, mig_instance="1").key != replace(whole, mig_instance="2").key != whole.key
