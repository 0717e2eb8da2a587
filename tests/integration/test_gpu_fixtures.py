"""The /gpu fixtures: DCGM history backfilled into a real Prometheus, and the cluster-wide Kubernetes API fixture."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.support.dcgm import (
    FB_USED,
    PROF,
    UTIL,
    BackfilledPrometheus,
    Gpu,
    backfilled_prometheus,
    constant,
    steps,
    write_openmetrics,
)
from tests.support.kube_api import KubeApi, container, event, failed_scheduling, kubeconfig, node, pod

pytestmark = pytest.mark.prometheus

END = datetime.now(UTC).replace(second=0, microsecond=0)
TRAINER = {"namespace": "ml", "pod": "train-1", "container": "trainer"}
EXPORTER = "nvidia-dcgm-exporter-x7k2p"
MIG = {"GPU_I_ID": "3", "GPU_I_PROFILE": "1g.10gb", "namespace": "gpu-operator", "pod": EXPORTER,
       "exported_namespace": "ml-infer", "exported_pod": "vllm-0", "exported_container": 'odd "name" \\ here',
       "node": "gpu-node-2"}
GPUS = [
    Gpu("gpu-node-1", "0", labels=TRAINER, metrics={UTIL: steps((3600, 90), (2400, 3)), PROF: constant(0.02),
                                                    FB_USED: constant(70000)}),
    Gpu("gpu-node-1", "1", metrics={UTIL: steps((3600, 40), (1200, None))}),  # stopped reporting 20 min ago
    Gpu(EXPORTER, "0", model="NVIDIA A100-SXM4-80GB", labels=MIG, metrics={UTIL: constant(55)}),
]
UNSCHEDULABLE = ("0/12 nodes are available: 12 Insufficient nvidia.com/gpu. preemption: 0/12 nodes are available: "
                 "12 No preemption victims found for incoming pod.")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom"), GPUS, END) as server:
        yield server


def values(series: dict) -> list[float]:  # type: ignore[type-arg]
    return [float(value) for _stamp, value in series["values"]]


def test_avg_over_time_at_end_sees_the_newest_step(prometheus: BackfilledPrometheus) -> None:
    [trainer] = prometheus.query(f'avg_over_time({UTIL}{{pod="train-1"}}[15m])')

    assert float(trainer["value"][1]) == 3.0
    assert trainer["value"][0] == END.timestamp()
    [prof] = prometheus.query(PROF)
    assert float(prof["value"][1]) == pytest.approx(0.02)


def test_a_range_query_shows_the_step_change(prometheus: BackfilledPrometheus) -> None:
    [trainer] = prometheus.query_range(f'{UTIL}{{pod="train-1"}}', END - timedelta(minutes=60),
                                       step=timedelta(minutes=10))

    assert values(trainer) == [90, 90, 3, 3, 3, 3, 3]  # 60, 50, 40 (the change), 30, 20, 10, 0 min ago


def test_a_series_that_stopped_is_absent_at_the_end_but_there_before(prometheus: BackfilledPrometheus) -> None:
    selector = f'{UTIL}{{Hostname="gpu-node-1",gpu="1"}}'

    assert prometheus.query(selector) == []
    [earlier] = prometheus.query(selector, at=END - timedelta(minutes=30))
    assert float(earlier["value"][1]) == 40.0


def test_mig_and_exported_labels_survive(prometheus: BackfilledPrometheus) -> None:
    [mig] = prometheus.query(f'{UTIL}{{Hostname="{EXPORTER}"}}')

    labels = mig["metric"]
    assert {name: labels[name] for name in MIG} == MIG
    assert (labels["modelName"], labels["UUID"], labels["gpu"]) == ("NVIDIA A100-SXM4-80GB", f"GPU-{EXPORTER}-0", "0")


def test_prometheus_reports_how_long_the_backfill_took(prometheus: BackfilledPrometheus) -> None:
    assert set(prometheus.timings) == {"write", "promtool", "ready"}
    assert prometheus.samples == 61 * 4 + 40  # four full series, one without samples from 20 minutes ago on


def test_openmetrics_groups_families_orders_samples_and_ends_with_eof(tmp_path: Path) -> None:
    path = tmp_path / "dcgm.txt"

    write_openmetrics(path, GPUS, END, timedelta(minutes=2), timedelta(minutes=1))

    lines = path.read_text().splitlines()
    assert lines[0] == f"# TYPE {UTIL} gauge" and lines[-1] == "# EOF"
    assert [line for line in lines if line.startswith("#")] == [f"# TYPE {UTIL} gauge", f"# TYPE {PROF} gauge",
                                                              f"# TYPE {FB_USED} gauge", "# EOF"]
    first = [line for line in lines if 'pod="train-1"' in line and line.startswith(UTIL)]
    assert [line.rsplit(" ", 2)[1:] for line in first] == [
        ["3", str(int(END.timestamp()) - 120)], ["3", str(int(END.timestamp()) - 60)], ["3", str(int(END.timestamp()))]]
    assert 'exported_container="odd \\"name\\" \\\\ here"' in path.read_text()


# --------------------------------------------------------------------------- Kubernetes, cluster-wide


@pytest.fixture
def kube_api() -> Iterator[KubeApi]:
    with KubeApi() as api:
        yield api


@pytest.fixture
def core(kube_api: KubeApi, tmp_path: Path) -> client.CoreV1Api:
    configuration = client.Configuration()
    config.load_kube_config(config_file=kubeconfig(tmp_path, kube_api.url),  # type: ignore[no-untyped-call]
                            client_configuration=configuration, persist_config=False)
    return client.CoreV1Api(client.ApiClient(configuration))


def cluster(api: KubeApi) -> None:
    api.put(node("gpu-node-1", 8, "NVIDIA-H100-80GB-HBM3"), node("gpu-node-2", 8))
    for i in range(7):
        api.put(pod(f"team-{i % 3:02d}", f"train-{i}", "gpu-node-1", [container("trainer", 1)],
                    labels={"team": f"team-{i % 3:02d}"}))
    api.put(pod("team-00", "done-0", "gpu-node-2", [container("eval", 1)], phase="Succeeded"),
            pod("team-01", "evicted-0", "gpu-node-2", [container("eval", 1)], phase="Failed", reason="Evicted"),
            pod("team-02", "queued-0", None, [container("trainer", 4)], labels={"owner": "U123"},
                priority_class="research-low", priority=100, created=END - timedelta(hours=2),
                unschedulable=UNSCHEDULABLE))


def test_cluster_wide_active_pods_are_paged_through_the_real_client(kube_api: KubeApi,
                                                                    core: client.CoreV1Api) -> None:
    cluster(kube_api)
    names, token, pages = [], None, 0
    while True:
        answer = core.list_pod_for_all_namespaces(field_selector="status.phase!=Succeeded,status.phase!=Failed",
                                                  limit=3, _continue=token)
        names += [(p.metadata.namespace, p.metadata.name) for p in answer.items]
        pages, token = pages + 1, answer.metadata._continue
        if not token:
            break

    assert pages == 3 and len(names) == 8
    assert {name for _ns, name in names} == {*(f"train-{i}" for i in range(7)), "queued-0"}
    assert [ns for ns, _name in names] == sorted(ns for ns, _name in names)  # all of a namespace together
    assert kube_api.request_count("GET", "/api/v1/pods") == 3


def test_an_unschedulable_pod_is_pending_unbound_with_the_schedulers_condition(kube_api: KubeApi,
                                                                               core: client.CoreV1Api) -> None:
    cluster(kube_api)

    [queued] = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=").items

    assert queued.metadata.name == "queued-0" and queued.status.phase == "Pending" and not queued.spec.node_name
    [condition] = queued.status.conditions
    assert (condition.type, condition.status, condition.reason) == ("PodScheduled", "False", "Unschedulable")
    assert condition.message == UNSCHEDULABLE
    assert (queued.spec.priority_class_name, queued.spec.priority) == ("research-low", 100)
    assert queued.metadata.creation_timestamp == END - timedelta(hours=2)
    assert queued.metadata.labels == {"owner": "U123"}


def test_node_name_selector_finds_a_nodes_pods(kube_api: KubeApi, core: client.CoreV1Api) -> None:
    cluster(kube_api)

    on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=gpu-node-2,status.phase!=Failed")

    assert [p.metadata.name for p in on_node.items] == ["done-0"]


def test_failed_scheduling_events_across_namespaces_deserialize(kube_api: KubeApi, core: client.CoreV1Api) -> None:
    first = END - timedelta(minutes=30)
    kube_api.put(failed_scheduling("team-02", "queued-0", UNSCHEDULABLE, event_time=first, count=14,
                                   last_observed=END - timedelta(minutes=1)),
                 failed_scheduling("team-01", "queued-1", UNSCHEDULABLE, event_time=first),
                 event("team-00", "Pod", "train-0", "BackOff", "Back-off restarting failed container", last=END))

    answer = core.list_event_for_all_namespaces(field_selector="reason=FailedScheduling")

    assert [(e.metadata.namespace, e.involved_object.name) for e in answer.items] == [
        ("team-01", "queued-1"), ("team-02", "queued-0")]
    repeated = answer.items[1]
    assert (repeated.type, repeated.reporting_component, repeated.count) == ("Warning", "default-scheduler", None)
    assert (repeated.first_timestamp, repeated.last_timestamp) == (None, None)
    assert repeated.event_time == first
    assert (repeated.series.count, repeated.series.last_observed_time) == (14, END - timedelta(minutes=1))
    assert answer.items[0].series is None
    [kubelet] = core.list_event_for_all_namespaces(field_selector="involvedObject.kind=Pod,reason!=FailedScheduling,"
                                                                  "type==Warning").items
    assert kubelet.reason == "BackOff"


def test_forbidden_cluster_wide_pods_answer_403(kube_api: KubeApi, core: client.CoreV1Api) -> None:
    cluster(kube_api)
    kube_api.forbid("pods")
    kube_api.forbid("nodes")

    for call in (core.list_pod_for_all_namespaces, core.list_node):
        with pytest.raises(client.ApiException) as denied:
            call()
        assert denied.value.status == 403
    assert "at the cluster scope" in str(denied.value.body)
    assert core.list_namespaced_pod("team-00").items  # one namespace is still allowed


def test_request_counts_survive_when_requests_are_not_kept(tmp_path: Path) -> None:
    with KubeApi(keep_requests=False) as api:
        cluster(api)
        configuration = client.Configuration()
        config.load_kube_config(config_file=kubeconfig(tmp_path, api.url),  # type: ignore[no-untyped-call]
                                client_configuration=configuration, persist_config=False)
        core = client.CoreV1Api(client.ApiClient(configuration))
        for name in ("gpu-node-1", "gpu-node-2"):
            core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}")

        assert api.requests() == []
        assert api.request_counts() == {("GET", "/api/v1/pods"): 2}
