"""PrometheusClient against a real Prometheus: one scraping a DCGM exporter stand-in, one backfilled with an hour of
DCGM history (tests/support/dcgm.py), and loopback fixtures for the failures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from bot.clients import GpuProblem, GpuQuery, GpuReading
from bot.clients.prom import PrometheusClient
from bot.retry import BackendError
from tests.support.dcgm import (
    ECC_DBE,
    FB_FREE,
    FB_USED,
    PROF,
    TEMP,
    THROTTLE,
    THROTTLE_HW_POWER_BRAKE,
    THROTTLE_HW_THERMAL,
    UTIL,
    XID,
    BackfilledPrometheus,
    Gpu,
    Series,
    backfilled_prometheus,
    constant,
    steps,
)
from tests.support.fixture_http import FixtureServer, Request, Response
from tests.support.servers import (
    FakeDcgmExporter,
    PrometheusServer,
    dcgm_line,
    free_port,
    prometheus_config_for,
)

pytestmark = pytest.mark.prometheus

H100 = "NVIDIA H100 80GB HBM3"
A100 = "NVIDIA A100-SXM4-80GB"
WINDOW = timedelta(minutes=15)
THRESHOLD = 20.0
STEP = GpuQuery.step  # the history subquery's resolution (5 minutes)


def readings_by_key(readings: list[GpuReading]) -> dict[str, GpuReading]:
    return {reading.key: reading for reading in readings}


# --------------------------------------------------------------------------- a Prometheus scraping an exporter

EXPORTER_POD = "nvidia-dcgm-exporter-x7k2p"
TRAINER = {"namespace": "ml-train", "pod": "train-1", "container": "trainer"}
ON_NODE_1 = {"gpu": "0", "hostname": "node-1", "node": "gpu-node-1"}
FREE_ON_NODE_1 = {"gpu": "1", "hostname": "node-1", "node": "gpu-node-1"}
# Scraped through Kubernetes service discovery: the target's own namespace/pod/container (the exporter's) win and
# DCGM's become exported_*; this exporter's Hostname is its own pod name and the scrape adds `kubernetes_node`.
THROUGH_SD = {"gpu": "0", "hostname": EXPORTER_POD, "model": A100, "namespace": "gpu-operator", "pod": EXPORTER_POD,
              "container": "nvidia-dcgm-exporter", "exported_namespace": "ml-infer", "exported_pod": "vllm-0",
              "exported_container": "vllm", "kubernetes_node": "gpu-node-2"}
# Two MIG slices of one A100 (same gpu and UUID); DCGM_FI_DEV_GPU_UTIL reads 0 on MIG, only slice 1 has PROF.
MIG = {"gpu": "1", "hostname": "node-3", "model": A100, "GPU_I_PROFILE": "3g.40gb", "node": "mig-node",
       "kubernetes_node": "mig-node-k8s"}
NOTEBOOK = {"namespace": "research", "pod": "notebook-7", "container": "jupyter"}
LINES = [
    dcgm_line(PROF, 0.9, **ON_NODE_1, **TRAINER),  # they disagree: PROF says 90 %, DEV says 12 %
    dcgm_line(UTIL, 12, **ON_NODE_1, **TRAINER),
    dcgm_line(FB_USED, 70000, **ON_NODE_1, **TRAINER),
    dcgm_line(FB_FREE, 11559, **ON_NODE_1, **TRAINER),
    dcgm_line(TEMP, 71, **ON_NODE_1, **TRAINER),
    dcgm_line(UTIL, 3, **FREE_ON_NODE_1),  # no PROF (an older GPU), no pod
    dcgm_line(FB_USED, 0, **FREE_ON_NODE_1),
    dcgm_line(FB_FREE, 81559, **FREE_ON_NODE_1),
    dcgm_line(TEMP, 34, **FREE_ON_NODE_1),
    dcgm_line(UTIL, 55, **THROUGH_SD),
    dcgm_line(PROF, 0.4, GPU_I_ID="1", **MIG, **NOTEBOOK),
    dcgm_line(UTIL, 0, GPU_I_ID="1", **MIG, **NOTEBOOK),
    dcgm_line(UTIL, 0, GPU_I_ID="2", **MIG),
]
BUSY, FREE, SD, SLICE_1, SLICE_2 = ("GPU-node-1-0", "GPU-node-1-1", f"GPU-{EXPORTER_POD}-0", "GPU-node-3-1/1",
                                    "GPU-node-3-1/2")


@pytest.fixture(scope="module")
def scraping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """A real Prometheus scraping a DCGM exporter stand-in every second (job `dcgm`)."""
    with FakeDcgmExporter(LINES) as exporter:
        config = prometheus_config_for([exporter.target])
        with PrometheusServer(tmp_path_factory.mktemp("prom"), config) as server:
            server.wait_for_query(f"count({UTIL}) == 5", timeout=30)  # one scrape brings every line
            yield server


def now_query(**options: Any) -> GpuQuery:
    return GpuQuery(at=datetime.now(UTC), window=WINDOW, threshold_pct=THRESHOLD, **options)


@pytest.fixture(scope="module")
def scraped(scraping: PrometheusServer) -> dict[str, GpuReading]:
    return readings_by_key(PrometheusClient(scraping.url).gpu_readings(now_query(temperature=True)))


def test_every_gpu_and_mig_slice_is_one_reading(scraped: dict[str, GpuReading]) -> None:
    assert set(scraped) == {BUSY, FREE, SD, SLICE_1, SLICE_2}


def test_utilization_memory_and_temperature_are_joined_per_gpu(scraped: dict[str, GpuReading]) -> None:
    busy, free = scraped[BUSY], scraped[FREE]

    assert (busy.hostname, busy.gpu, busy.model) == ("node-1", "0", H100)
    assert (busy.fb_used_mib, busy.fb_free_mib, busy.temp_c) == (70000.0, 11559.0, 71.0)
    assert (busy.namespace, busy.pod, busy.container) == ("ml-train", "train-1", "trainer")
    assert (free.util_pct, free.fb_used_mib, free.fb_free_mib, free.temp_c) == (3.0, 0.0, 81559.0, 34.0)


def test_temperature_is_asked_only_when_wanted(scraping: PrometheusServer) -> None:
    readings = PrometheusClient(scraping.url).gpu_readings(now_query())

    assert {r.temp_c for r in readings} == {None} and {r.fb_used_mib for r in readings} != {None}


def test_engine_activity_wins_over_dev_util_where_a_gpu_exports_both(scraped: dict[str, GpuReading]) -> None:
    busy = scraped[BUSY]

    assert (busy.util_pct, busy.util_source) == (pytest.approx(90.0), "prof")  # not DEV's 12


def test_a_gpu_with_only_dev_util_reports_it(scraped: dict[str, GpuReading]) -> None:
    assert (scraped[FREE].util_pct, scraped[FREE].util_source) == (3.0, "dev")


def test_a_gpu_without_pod_labels_has_no_pod(scraped: dict[str, GpuReading]) -> None:
    free = scraped[FREE]

    assert (free.namespace, free.pod, free.container) == (None, None, None)


def test_exported_pod_labels_win_over_the_scrape_targets_own(scraped: dict[str, GpuReading]) -> None:
    reading = scraped[SD]

    assert (reading.namespace, reading.pod, reading.container) == ("ml-infer", "vllm-0", "vllm")
    assert (reading.hostname, reading.model, reading.util_pct) == (EXPORTER_POD, A100, 55.0)


def test_mig_slices_are_read_per_slice_and_dev_util_on_a_slice_is_no_reading(scraped: dict[str, GpuReading]) -> None:
    first, second = scraped[SLICE_1], scraped[SLICE_2]

    assert (first.mig_instance, first.mig_profile, first.uuid) == ("1", "3g.40gb", "GPU-node-3-1")
    assert (first.util_pct, first.util_source) == (pytest.approx(40.0), "prof")
    assert (first.namespace, first.pod) == ("research", "notebook-7")
    assert (second.mig_instance, second.mig_profile, second.uuid) == ("2", "3g.40gb", "GPU-node-3-1")
    assert (second.util_pct, second.util_source, second.pod) == (None, "dev", None)  # DEV reads 0 on MIG


def test_the_node_comes_from_the_first_configured_node_label(scraping: PrometheusServer,
                                                              scraped: dict[str, GpuReading]) -> None:
    assert {key: reading.node for key, reading in scraped.items()} == {
        BUSY: "gpu-node-1", FREE: "gpu-node-1", SD: "gpu-node-2", SLICE_1: "mig-node", SLICE_2: "mig-node"}

    other_order = readings_by_key(PrometheusClient(scraping.url).gpu_readings(
        now_query(node_labels=("kubernetes_node", "node"))))
    assert {key: reading.node for key, reading in other_order.items()} == {
        BUSY: "gpu-node-1", FREE: "gpu-node-1", SD: "gpu-node-2", SLICE_1: "mig-node-k8s", SLICE_2: "mig-node-k8s"}
    unlabelled = PrometheusClient(scraping.url).gpu_readings(now_query(node_labels=("topology.kubernetes.io/zone",)))
    assert {reading.node for reading in unlabelled} == {None}


def test_dcgm_targets_counts_the_scraped_exporter(scraping: PrometheusServer) -> None:
    assert PrometheusClient(scraping.url).dcgm_targets() == (1, 1)


def test_probe_names_the_version_and_counts_gpu_series(scraping: PrometheusServer) -> None:
    probe = PrometheusClient(scraping.url).probe()

    assert probe.startswith("Prometheus 2.") and probe.endswith(", 5 GPU series")  # PROF and DEV of a GPU: one


def test_without_dcgm_metrics_there_are_no_readings_and_the_dead_exporter_target_shows(tmp_path: Path) -> None:
    config = prometheus_config_for([f"127.0.0.1:{free_port()}"])  # job `dcgm`, nothing listening
    with PrometheusServer(tmp_path, config) as server:
        server.wait_for_query('up{job="dcgm"}', timeout=30)
        client = PrometheusClient(server.url)

        assert client.gpu_readings(now_query(problems=True, history=timedelta(hours=1))) == []
        assert client.dcgm_targets() == (0, 1)


# --------------------------------------------------------------------------- an hour of backfilled history

END = datetime.now(UTC).replace(second=0, microsecond=0)
HOUR = timedelta(hours=1)
OWNED = {"namespace": "ml", "container": "trainer"}
SW_POWER_CAP = 0x4  # clock throttle reason: the GPU holds its power limit


def alternating(at_even: float, at_odd: float) -> Series:
    """`at_even` at ages of an even number of minutes, `at_odd` at odd ones."""
    return lambda age: at_odd if int(age // 60) % 2 else at_even


HISTORY = [
    Gpu("node-h", "0", labels={**OWNED, "pod": "cooled"}, metrics={UTIL: steps((3600, 90), (2400, 3))}),
    Gpu("node-h", "1", labels={**OWNED, "pod": "never"}, metrics={UTIL: constant(3)}),
    # window averages: 16 samples in [END-15m, END] (both ends included), half at each value
    Gpu("node-h", "2", metrics={UTIL: alternating(10, 30)}),
    Gpu("node-h", "3", metrics={UTIL: alternating(10, 29.8)}),
    Gpu("node-h", "4", metrics={UTIL: constant(THRESHOLD)}),
    Gpu("node-h", "5", metrics={UTIL: constant(19.9)}),
    # stopped reporting 10 minutes ago (the node left): samples in the window, none now
    Gpu("node-h", "6", metrics={UTIL: steps((3600, 40), (600, None))}),
    # one GPU, two pods: "before" (busy) ended 10 minutes ago, "after" started 9 minutes ago
    Gpu("node-h", "7", labels={**OWNED, "pod": "before"},
        metrics={UTIL: steps((3600, 90), (600, None)), FB_USED: steps((3600, 70000), (600, None))}),
    Gpu("node-h", "7", labels={**OWNED, "pod": "after"}, metrics={UTIL: steps((540, 5)), FB_USED: steps((540, 2000))}),
    # problems
    Gpu("node-p", "0", metrics={UTIL: constant(50), XID: steps((3600, 0), (1800, 79))}),
    Gpu("node-p", "1", metrics={UTIL: constant(50), ECC_DBE: steps((3600, 0), (600, 2))}),
    # at its software power cap (0x4, normal under load) for an hour, thermal slowdown on top for 10 minutes
    Gpu("node-p", "2", metrics={UTIL: constant(50), THROTTLE: steps((3600, SW_POWER_CAP),
                                                                    (600, SW_POWER_CAP | THROTTLE_HW_THERMAL))}),
    Gpu("node-p", "3", metrics={UTIL: constant(50), THROTTLE: constant(THROTTLE_HW_POWER_BRAKE)}),
    Gpu("node-p", "4", metrics={UTIL: constant(50), THROTTLE: constant(SW_POWER_CAP)}),
    Gpu("node-p", "5", metrics={UTIL: constant(50), XID: constant(0), ECC_DBE: constant(0), THROTTLE: constant(0)}),
]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    with backfilled_prometheus(tmp_path_factory.mktemp("history"), HISTORY, END, duration=HOUR) as server:
        yield server


def within_a_step_after(moment: datetime | None, start: datetime) -> bool:
    """History is evaluated on a grid of STEPs (aligned to the epoch, not to `at`): what starts at `start` first
    shows at the next point of the grid."""
    return moment is not None and start <= moment < start + STEP


def history_query() -> GpuQuery:
    return GpuQuery(at=END, window=WINDOW, threshold_pct=THRESHOLD, problems=True, history=HOUR)


@pytest.fixture(scope="module")
def history(backfilled: BackfilledPrometheus) -> dict[str, GpuReading]:
    return readings_by_key(PrometheusClient(backfilled.url).gpu_readings(history_query()))


def test_a_gpu_busy_until_40_minutes_ago_was_last_busy_then_within_one_step(history: dict[str, GpuReading]) -> None:
    cooled = history["GPU-node-h-0"]

    assert cooled.pod == "cooled" and cooled.util_pct == 3.0
    assert cooled.busy_at is not None
    assert END - timedelta(minutes=40) - STEP <= cooled.busy_at < END - timedelta(minutes=40)


def test_a_gpu_never_busy_in_the_history_has_no_busy_time(history: dict[str, GpuReading]) -> None:
    never = history["GPU-node-h-1"]

    assert (never.pod, never.util_pct, never.busy_at) == ("never", 3.0, None)


def test_window_averages_at_the_threshold_boundary(history: dict[str, GpuReading]) -> None:
    assert history["GPU-node-h-2"].util_pct == THRESHOLD  # exactly: 8 x 10 and 8 x 30
    assert history["GPU-node-h-3"].util_pct == pytest.approx(19.9)  # just under
    assert history["GPU-node-h-3"].util_pct < THRESHOLD
    assert (history["GPU-node-h-4"].util_pct, history["GPU-node-h-5"].util_pct) == (THRESHOLD, 19.9)


def test_history_is_asked_only_for_gpus_idle_now(history: dict[str, GpuReading]) -> None:
    at_threshold, under = history["GPU-node-h-4"], history["GPU-node-h-5"]

    assert at_threshold.busy_at is None  # busy now (at the threshold is not under it): no idle time to date
    assert under.busy_at is None  # idle now and never at the threshold within the history


def test_a_gpu_that_stopped_reporting_within_the_window_is_not_read(history: dict[str, GpuReading]) -> None:
    assert "GPU-node-h-6" not in history


def test_a_gpu_whose_pod_changed_within_the_window_is_read_for_its_new_pod_only(
        history: dict[str, GpuReading]) -> None:
    changed = history["GPU-node-h-7"]

    assert (changed.pod, changed.util_pct, changed.fb_used_mib) == ("after", 5.0, 2000.0)
    assert changed.busy_at is None  # the previous pod's busy minutes are not the new pod's


def test_an_xid_error_is_a_problem_since_it_first_showed(history: dict[str, GpuReading]) -> None:
    [problem] = history["GPU-node-p-0"].problems

    assert (problem.kind, problem.value) == ("xid", 79.0)
    assert within_a_step_after(problem.since, END - timedelta(minutes=30))


def test_uncorrectable_ecc_errors_are_a_problem(history: dict[str, GpuReading]) -> None:
    [problem] = history["GPU-node-p-1"].problems

    assert (problem.kind, problem.value) == ("ecc", 2.0)
    assert within_a_step_after(problem.since, END - timedelta(minutes=10))


def test_thermal_and_power_throttling_are_problems_but_a_sw_power_cap_is_not(history: dict[str, GpuReading]) -> None:
    thermal, power = history["GPU-node-p-2"].problems, history["GPU-node-p-3"].problems

    assert [(p.kind, p.value) for p in thermal] == [("thermal", float(SW_POWER_CAP | THROTTLE_HW_THERMAL))]
    assert within_a_step_after(thermal[0].since, END - timedelta(minutes=10))  # not since the power cap began
    assert [(p.kind, p.value) for p in power] == [("power", float(THROTTLE_HW_POWER_BRAKE))]
    assert power[0].since is not None and power[0].since < END - HOUR + STEP  # throttled all along
    assert history["GPU-node-p-4"].problems == ()
    assert history["GPU-node-p-5"].problems == ()  # zero counters and no throttling


def test_without_problems_or_history_only_the_readings_come_back(backfilled: BackfilledPrometheus) -> None:
    plain = readings_by_key(PrometheusClient(backfilled.url).gpu_readings(
        GpuQuery(at=END, window=WINDOW, threshold_pct=THRESHOLD)))

    assert set(plain) == {f"GPU-node-{host}-{i}" for host in "hp" for i in range(6)} | {"GPU-node-h-7"}
    assert plain["GPU-node-p-0"].problems == () and plain["GPU-node-h-0"].busy_at is None
    assert plain["GPU-node-p-0"].util_pct == 50.0


def test_problems_without_history_have_no_start(backfilled: BackfilledPrometheus) -> None:
    found = readings_by_key(PrometheusClient(backfilled.url).gpu_readings(
        GpuQuery(at=END, window=WINDOW, threshold_pct=THRESHOLD, problems=True)))

    assert found["GPU-node-p-0"].problems == (GpuProblem("xid", 79.0),)


# --------------------------------------------------------------------------- the query budget


def forwarding_to(target: str) -> Callable[[Request], Response]:
    def forward(request: Request) -> Response:
        answer = requests.get(target + request.path, params=request.query, timeout=30)
        return Response(answer.status_code, raw=answer.content,
                        content_type=answer.headers.get("Content-Type", "application/json"))
    return forward


def queries_served(prometheus: PrometheusServer) -> float:
    """prometheus_http_requests_total for /api/v1/query, from Prometheus' own /metrics."""
    text = requests.get(f"{prometheus.url}/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("prometheus_http_requests_total{") and 'handler="/api/v1/query"' in line)


def test_one_look_with_problems_and_history_costs_at_most_four_queries_at_the_given_time(
        backfilled: BackfilledPrometheus) -> None:
    before = queries_served(backfilled)
    with FixtureServer({("GET", "/api/v1/.*"): forwarding_to(backfilled.url)}) as proxy:
        found = readings_by_key(PrometheusClient(proxy.url).gpu_readings(history_query()))

        sent = proxy.requests()
    served = queries_served(backfilled) - before

    assert found["GPU-node-p-0"].problems and found["GPU-node-h-0"].busy_at  # every part was asked for
    assert len(sent) <= 4 and served == len(sent)
    assert {request.path for request in sent} == {"/api/v1/query"}
    assert [request.param("time") for request in sent] == [f"{END.timestamp():.3f}"] * len(sent)


# --------------------------------------------------------------------------- failures


def test_nothing_listening_is_a_transient_backend_error_naming_the_fix() -> None:
    client = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=1)

    with pytest.raises(BackendError) as failure:
        client.gpu_readings(now_query())

    assert failure.value.backend == "prometheus" and failure.value.transient
    assert "PROMETHEUS_URL" in failure.value.reason


def test_a_transient_503_is_retried_and_then_succeeds() -> None:
    answers = iter([Response(503, {"status": "error"}),
                    {"status": "success", "data": {"resultType": "vector", "result": []}}])
    with FixtureServer({("GET", "/api/v1/query"): lambda _request: next(answers)}) as server:
        assert PrometheusClient(server.url).gpu_readings(now_query(memory=False)) == []
        assert len(server.requests("GET", "/api/v1/query")) == 2


def test_credentials_in_the_url_never_reach_the_reason() -> None:
    with FixtureServer({("GET", "/api/v1/query"): Response(401, {"status": "error"})}) as server:
        client = PrometheusClient(server.url.replace("http://", "http://admin:s3cret@"))

        with pytest.raises(BackendError) as failure:
            client.gpu_readings(now_query(memory=False))

        assert "s3cret" not in str(failure.value) and "HTTP 401" in failure.value.reason
        assert not failure.value.transient
        assert len(server.requests()) == 1


def test_url_path_prefix_is_kept() -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    with FixtureServer({("GET", "/prometheus/api/v1/query"): vector}) as server:
        assert PrometheusClient(f"{server.url}/prometheus/").gpu_readings(now_query(memory=False)) == []
        assert len(server.requests("GET", "/prometheus/api/v1/query")) == 1
