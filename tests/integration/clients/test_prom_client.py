"""PrometheusClient against a real Prometheus scraping a fake DCGM exporter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.clients import GpuSample, NodeGpus, PodGpus
from bot.clients.demo import DemoKube
from bot.clients.prom import FB_FREE, FB_USED, UTIL, PrometheusClient
from bot.clock import FrozenClock
from bot.gpu.service import GpuService
from bot.retry import BackendError
from bot.settings import Team
from tests.support.fixture_http import FixtureServer, Response
from tests.support.servers import (
    FakeDcgmExporter,
    PrometheusServer,
    dcgm_line,
    free_port,
    prometheus_config_for,
)

pytestmark = pytest.mark.prometheus

H100 = "NVIDIA H100 80GB HBM3"
EXPORTER_POD = "nvidia-dcgm-exporter-x7k2p"
TRAINER = {"namespace": "ml-train", "pod": "train-1", "container": "trainer"}
LINES = [
    dcgm_line(UTIL, 87, gpu="0", hostname="node-1", **TRAINER),
    dcgm_line(FB_USED, 70000, gpu="0", hostname="node-1", **TRAINER),
    dcgm_line(FB_FREE, 11559, gpu="0", hostname="node-1", **TRAINER),
    dcgm_line(UTIL, 3, gpu="1", hostname="node-1"),
    dcgm_line(FB_USED, 0, gpu="1", hostname="node-1"),
    dcgm_line(FB_FREE, 81559, gpu="1", hostname="node-1"),
    # an exporter whose Hostname is its own pod name; Kubernetes SD moved DCGM's pod labels to exported_*
    dcgm_line(UTIL, 12, gpu="0", hostname=EXPORTER_POD, model="NVIDIA A100-SXM4-80GB",
              namespace="gpu-operator", pod=EXPORTER_POD,
              exported_namespace="ml-infer", exported_pod="vllm-0", exported_container="vllm"),
]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    with FakeDcgmExporter(LINES) as exporter:
        config = prometheus_config_for([exporter.target])
        with PrometheusServer(tmp_path_factory.mktemp("prom"), config) as server:
            server.wait_for_query(f"count({UTIL}) == 3", timeout=30)  # one scrape brings every line
            yield server


def by_key(samples: list[GpuSample]) -> dict[tuple[str, str], GpuSample]:
    return {(s.hostname, s.gpu): s for s in samples}


def test_gpu_samples_join_utilization_and_framebuffer_per_gpu(prometheus: PrometheusServer) -> None:
    samples = by_key(PrometheusClient(prometheus.url).gpu_samples())

    assert set(samples) == {("node-1", "0"), ("node-1", "1"), (EXPORTER_POD, "0")}
    busy = samples[("node-1", "0")]
    assert (busy.util_pct, busy.fb_used_mib, busy.fb_free_mib) == (87.0, 70000.0, 11559.0)
    assert (busy.namespace, busy.pod, busy.container) == ("ml-train", "train-1", "trainer")
    assert (busy.model, busy.uuid) == (H100, "GPU-node-1-0")


def test_idle_gpus_have_no_pod_labels(prometheus: PrometheusServer) -> None:
    idle = by_key(PrometheusClient(prometheus.url).gpu_samples())[("node-1", "1")]

    assert (idle.util_pct, idle.namespace, idle.pod, idle.container) == (3.0, None, None, None)


def test_exported_pod_labels_win_over_the_scrape_targets_own(prometheus: PrometheusServer) -> None:
    sample = by_key(PrometheusClient(prometheus.url).gpu_samples())[(EXPORTER_POD, "0")]

    assert (sample.namespace, sample.pod, sample.container) == ("ml-infer", "vllm-0", "vllm")


def test_gpu_service_maps_the_exporter_hostname_to_the_node_through_its_pod(
    prometheus: PrometheusServer,
) -> None:
    kube = DemoKube(nodes=[NodeGpus("node-1", 2), NodeGpus("a100-node", 1)],
                    pods=[PodGpus("ml-train", "train-1", "node-1", "Running", 1),
                          PodGpus("ml-infer", "vllm-0", "a100-node", "Running", 1)])
    kube.demo = False  # type: ignore[misc]
    service = GpuService(PrometheusClient(prometheus.url), kube, FrozenClock(datetime.now(UTC)), 20)

    summary = service.summary(Team(name="org"))

    assert [(r.node, r.gpus, r.allocated) for r in summary.nodes] == [("a100-node", 1, 1), ("node-1", 2, 1)]
    idle = {(g.node, g.gpu, g.allocated) for g in summary.idle}
    assert idle == {("a100-node", "0", True), ("node-1", "1", False)}
    assert not summary.demo


def test_probe_names_the_version_and_counts_gpu_series(prometheus: PrometheusServer) -> None:
    probe = PrometheusClient(prometheus.url).probe()

    assert probe.startswith("Prometheus 2.") and probe.endswith(", 3 GPU series")


def test_nothing_listening_is_a_transient_backend_error_naming_the_fix() -> None:
    client = PrometheusClient(f"http://127.0.0.1:{free_port()}", timeout=1)

    with pytest.raises(BackendError) as failure:
        client.gpu_samples()

    assert failure.value.backend == "prometheus" and failure.value.transient
    assert "PROMETHEUS_URL" in failure.value.reason


def test_a_transient_503_is_retried_and_then_succeeds() -> None:
    answers = iter([Response(503, {"status": "error"}),
                    {"status": "success", "data": {"resultType": "vector", "result": []}}])
    with FixtureServer({("GET", "/api/v1/query"): lambda _request: next(answers)}) as server:
        assert PrometheusClient(server.url).gpu_samples() == []
        assert len(server.requests("GET", "/api/v1/query")) == 2


def test_credentials_in_the_url_never_reach_the_reason() -> None:
    with FixtureServer({("GET", "/api/v1/query"): Response(401, {"status": "error"})}) as server:
        client = PrometheusClient(server.url.replace("http://", "http://admin:s3cret@"))

        with pytest.raises(BackendError) as failure:
            client.gpu_samples()

        assert "s3cret" not in str(failure.value) and "HTTP 401" in failure.value.reason
        assert not failure.value.transient
        assert len(server.requests()) == 1


def test_url_path_prefix_is_kept() -> None:
    vector = {"status": "success", "data": {"resultType": "vector", "result": []}}
    with FixtureServer({("GET", "/prometheus/api/v1/query"): vector}) as server:
        assert PrometheusClient(f"{server.url}/prometheus/").gpu_samples() == []
