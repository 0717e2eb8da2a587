"""/gpu as people use it: the real Bolt app over a real Prometheus (DCGM history backfilled with promtool) and
the real `kubernetes` client against the Kubernetes fixture server; the numbers a user reads."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.support.config import bot_config, team
from tests.support.dcgm import (
    FB_FREE,
    FB_USED,
    PROF,
    TEMP,
    THROTTLE,
    UTIL,
    XID,
    BackfilledPrometheus,
    Gpu,
    constant,
    steps,
)
from tests.support.inprocess import dispatch
from tests.support.kube_api import KubeApi, container, failed_scheduling, kubeconfig, node, pod
from tests.support.signing import interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

pytestmark = pytest.mark.prometheus

END = datetime.now(UTC).replace(second=0, microsecond=0)  # the data ends now: queries at END see all of it
H100, A100, L4 = "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4"
EXPORTER = "nvidia-dcgm-exporter-b7x9q"
MEM = {FB_USED: constant(40000), FB_FREE: constant(41559), TEMP: constant(55)}


def held(namespace: str, name: str, container_name: str = "main") -> dict[str, str]:
    return {"namespace": namespace, "pod": name, "container": container_name}


def through_sd(namespace: str, name: str) -> dict[str, str]:
    """Scraped through Kubernetes service discovery: the exporter's own labels, DCGM's as exported_*."""
    return {"namespace": "gpu-operator", "pod": EXPORTER, "exported_namespace": namespace, "exported_pod": name,
            "exported_container": "main"}


GPUS = [
    # node-a: 8 H100. train-big (0-3) busy, and its PROF (90 %) disagrees with DEV (12 %); finetune (4-5) busy
    # until 40 minutes ago; 6 free; 7 free and logging XID 79 for the last 30 minutes.
    *[Gpu("node-a", str(i), H100, labels=held("ml-train", "train-big"),
          metrics={PROF: constant(0.9), UTIL: constant(12), **MEM}) for i in range(4)],
    *[Gpu("node-a", str(i), H100, labels=held("ml-train", "finetune"),
          metrics={UTIL: steps((3600, 90), (2400, 3)), **MEM}) for i in (4, 5)],
    Gpu("node-a", "6", H100, metrics={UTIL: constant(0), **MEM}),
    Gpu("node-a", "7", H100, metrics={UTIL: constant(0), XID: steps((3600, 0), (1800, 79)), **MEM}),
    # node-b: 4 A100 whose Hostname is the exporter pod's name; vllm-0 (0-1) idle all along, 2-3 free.
    *[Gpu(EXPORTER, str(i), A100, labels=through_sd("ml-infer", "vllm-0"), metrics={UTIL: constant(5), **MEM})
      for i in (0, 1)],
    *[Gpu(EXPORTER, str(i), A100, labels={"namespace": "gpu-operator", "pod": EXPORTER},
          metrics={UTIL: constant(0), **MEM}) for i in (2, 3)],
    # node-c: 2 L4 behind a Hostname that names neither, with a kubernetes_node label. detector sits exactly at
    # the idle threshold (not idle) and throttles for heat; seg is just under it (idle).
    Gpu("ip-10-0-3-7", "0", L4, labels={**held("vision", "detector"), "kubernetes_node": "node-c"},
        metrics={UTIL: constant(20), THROTTLE: constant(0x40), **MEM}),
    Gpu("ip-10-0-3-7", "1", L4, labels={**held("vision", "seg"), "kubernetes_node": "node-c"},
        metrics={UTIL: constant(19), **MEM}),
    # node-m: one A100 split into two 3g.40gb MIG slices: PROF on slice 1 (5 %: idle), DEV only on slice 2 (reads 0).
    Gpu("node-m", "0", A100, uuid="GPU-mig", labels={**held("ml-infer", "mig-small"), "GPU_I_ID": "1",
                                                    "GPU_I_PROFILE": "3g.40gb"}, metrics={PROF: constant(0.05)}),
    Gpu("node-m", "0", A100, uuid="GPU-mig", labels={**held("ml-infer", "mig-other"), "GPU_I_ID": "2",
                                                    "GPU_I_PROFILE": "3g.40gb"}, metrics={UTIL: constant(0)}),
]


def gpu_pod(namespace: str, name: str, node_name: str | None, gpus: int, **fields: Any) -> dict[str, Any]:
    return pod(namespace, name, node_name, [container("main", gpus)], **fields)


def cluster_objects() -> list[dict[str, Any]]:
    ago = lambda **kw: END - timedelta(**kw)  # noqa: E731
    waiting = "0/5 nodes are available: 5 Insufficient nvidia.com/gpu. preemption: 0/5 nodes are available."
    return [
        node("node-a", 8, "NVIDIA-H100-80GB-HBM3"), node("node-b", 4, "NVIDIA-A100-SXM4-80GB"),
        node("node-c", 2, "NVIDIA-L4"), node("node-m", 2, "NVIDIA-A100-SXM4-80GB"),
        node("node-e", 4, "NVIDIA-H100-80GB-HBM3"), node("cpu-1"),
        gpu_pod("ml-train", "train-big", "node-a", 4, created=ago(hours=5)),
        gpu_pod("ml-train", "finetune", "node-a", 2, created=ago(hours=3), labels={"owner": "U0ALICE"}),
        gpu_pod("ml-infer", "vllm-0", "node-b", 2, created=ago(hours=2)),
        gpu_pod("vision", "detector", "node-c", 1, created=ago(hours=6)),
        gpu_pod("vision", "seg", "node-c", 1, created=ago(hours=6), labels={"owner": "bob@example.com"}),
        gpu_pod("ml-infer", "mig-small", "node-m", 1, created=ago(hours=4)),
        gpu_pod("ml-infer", "mig-other", "node-m", 1, created=ago(hours=4)),
        pod("gpu-operator", EXPORTER, "node-b", [container("exporter")]),
        gpu_pod("ml-train", "sweep-1", None, 4, phase="Pending", priority_class="batch", created=ago(hours=2),
                unschedulable=waiting),
        gpu_pod("vision", "big-train", None, 8, phase="Pending", priority_class="high", created=ago(minutes=30),
                unschedulable=waiting),
        gpu_pod("ml-train", "done", "node-a", 2, phase="Succeeded"),
        failed_scheduling("ml-train", "sweep-1", waiting, event_time=ago(minutes=1), count=17),
    ]


CONFIG = bot_config(teams=[team("ml", "CML", namespaces=["ml-train", "ml-infer"]),
                           team("vision", "CVISION", namespaces=["vision"], language="zh-CN")],
                    admins=["UADMIN"], gpu={"platform_channel": "CPLATFORM"})


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    with BackfilledPrometheus(tmp_path_factory.mktemp("prom"), GPUS, END) as server:
        yield server


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KubeApi, str]]:
    with KubeApi() as api:
        api.put(*cluster_objects())
        yield api, kubeconfig(tmp_path_factory.mktemp("kube"), api.url)


@pytest.fixture
def bot(db_url: str, slack: SlackRecorder, prometheus: BackfilledPrometheus, kube: tuple[KubeApi, str],
        new_bot: Callable[..., tuple[Any, Any]]) -> tuple[Any, Any]:
    from bot.clock import FrozenClock

    slack.set_user("UBOB", email="bob@example.com", locale="zh-CN")
    return new_bot(db_url, slack, CONFIG, FrozenClock(END), prometheus_url=prometheus.url, kubeconfig=kube[1])


def gpu(bot: tuple[Any, Any], slack: SlackRecorder, text: str = "", channel: str = "CGENERAL",
        user: str = "UADMIN") -> str:
    slack.clear()
    dispatch(bot[1], slash_command_body("/gpu", text, user_id=user, channel_id=channel,
                                        response_url=slack.response_url("gpu")))
    return slack_text(slack.calls("response_url"))


def click(bot: tuple[Any, Any], slack: SlackRecorder, action_id: str, pod_key: str, user: str = "UADMIN") -> str:
    slack.clear()
    dispatch(bot[1], interactivity_body({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": "CGENERAL"}, "trigger_id": "t",
        "container": {"message_ts": "1.1"}, "response_url": slack.response_url("click"),
        "actions": [{"action_id": action_id, "value": f'{{"pod": "{pod_key}"}}'}]}))
    return slack_text(slack.calls("response_url"))


# The summary -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_cluster_summary_counts_allocation_idle_cost_health_and_the_queue(bot, slack: SlackRecorder) -> None:
    text = gpu(bot, slack)

    assert "*20* GPUs · *12* allocated · *8* free" in text  # node-e's 4 count though DCGM misses them
    # idle: finetune 2 × H100, vllm-0 2 × A100, seg 1 × L4, the 3g.40gb slice (3/7 of an A100)
    assert "*Idle GPUs: 6*" in text and "about *$510/day*" in text
    assert "*Unhealthy GPUs: 2*" in text and "XID 79" in text and "thermal throttling" in text
    assert "*Pods waiting for GPUs: 2* (12 GPUs asked for)" in text
    assert "• ml: 10 GPUs" in text and "• vision: 2 GPUs" in text
    assert "DCGM_FI_PROF_GR_ENGINE_ACTIVE (5 GPUs)" in text and "DCGM_FI_DEV_GPU_UTIL (11 GPUs)" in text
    [asked] = slack.calls("files.getUploadURLExternal")
    [upload] = slack.calls("files.completeUploadExternal")
    assert asked.params["filename"] == "gpu-utilization.png" and upload.params["channel_id"] == "CGENERAL"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_team_channel_shows_what_the_team_holds(bot, slack: SlackRecorder) -> None:
    text = gpu(bot, slack, channel="CML")

    assert text.startswith("GPUs · team ml")
    assert "*10* GPUs held" in text
    assert "vision" not in text.split("*Namespaces by GPUs held*")[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_prof_wins_over_dev_hostnames_resolve_to_nodes_and_mig_slices_are_reported_one_by_one(
        bot, slack: SlackRecorder) -> None:
    node_a = gpu(bot, slack, "node node-a")
    assert "`node-a/0` H100 80GB HBM3 · `ml-train/train-big` (main) · 90%" in node_a  # PROF, not DEV's 12 %

    node_b = gpu(bot, slack, "node node-b")  # DCGM's Hostname is the exporter pod's name
    assert "`node-b/0` A100-SXM4-80GB · `ml-infer/vllm-0` (main) · 5%" in node_b and EXPORTER not in node_b
    assert "`node-b/2` A100-SXM4-80GB · free" in node_b  # the exporter's own pod labels hold nothing

    node_c = gpu(bot, slack, "node node-c")  # through the kubernetes_node label
    assert "`node-c/1` L4 · `vision/seg` (main) · 19%" in node_c and "💤 idle" in node_c.split("node-c/1")[1]
    assert "💤" not in node_c.split("node-c/1")[0]  # detector, at exactly 20 %, is not idle

    node_m = gpu(bot, slack, "node node-m")
    assert "`node-m/0 (3g.40gb)` A100-SXM4-80GB · `ml-infer/mig-small` (main) · 5%" in node_m
    assert "`ml-infer/mig-other` (main) · no data" in node_m  # DCGM_FI_DEV_GPU_UTIL reads 0 on MIG: not idle


# /gpu idle -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_idle_lists_owner_how_long_and_cost(bot, slack: SlackRecorder) -> None:
    text = gpu(bot, slack, "idle")

    assert "*Idle GPUs: 6* in *4* pods" in text
    finetune = _entry(text, "ml-train/finetune")
    assert "owner <@U0ALICE> · team ml" in finetune and "2 × H100 80GB HBM3 on `node-a` (GPU 4, 5)" in finetune
    minutes = int(re.search(r"idle for \*(\d+)m\*", finetune).group(1))  # type: ignore[union-attr]
    assert 40 <= minutes <= 46  # busy until 40 minutes ago, seen through a 5-minute subquery step
    assert f"*${6.88 * 2 * minutes / 60:.2f}*"[:4] in finetune and "$330/day" in finetune
    vllm = _entry(text, "ml-infer/vllm-0")  # never busy in the data: idle since its pod started, 2 h ago
    assert "idle for *2h*" in vllm and "*$11* so far" in vllm and "$132/day" in vllm
    assert "owner unknown · team ml" in vllm
    assert "vision/detector" not in text and "owner `bob@example.com` · team vision" in _entry(text, "vision/seg")


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_notify_owner_sends_one_kind_dm_per_pod_per_day(bot, slack: SlackRecorder) -> None:
    answer = click(bot, slack, "gpu_notify", "ml-train/finetune")

    assert "Notified <@U0ALICE> about `ml-train/finetune`." in answer
    [dm] = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DU0ALICE"]
    assert "Your pod `ml-train/finetune` holds 2 × H100 80GB HBM3 on `node-a`" in slack_text([dm])
    assert "$330/day" in slack_text([dm]) and "Snooze 24 h" in slack_text([dm])

    again = click(bot, slack, "gpu_notify", "ml-train/finetune")
    assert "<@UADMIN> already notified the owner of `ml-train/finetune` today" in again
    assert not slack.calls("chat.postMessage")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_notify_reaches_an_owner_by_email_in_their_language_or_else_the_team_channel(bot, slack) -> None:
    assert "Notified <@UBOB> about `vision/seg`." in click(bot, slack, "gpu_notify", "vision/seg")
    [dm] = [c for c in slack.calls("chat.postMessage") if c.params["channel"] == "DUBOB"]
    assert "你好！你的 Pod `vision/seg`" in slack_text([dm])

    assert "Notified <#CML> about `ml-infer/vllm-0`." in click(bot, slack, "gpu_notify", "ml-infer/vllm-0")
    assert slack.calls("chat.postMessage", "CML")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_only_the_pods_team_owner_or_admins_may_notify(bot, slack: SlackRecorder) -> None:
    answer = click(bot, slack, "gpu_notify", "ml-train/finetune", user="UOUTSIDER")

    assert "You can't notify the owner of ml-train/finetune" in answer
    assert not slack.calls("chat.postMessage")


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_snooze_hides_a_pod_from_idle_lists_for_a_day(bot, slack: SlackRecorder) -> None:
    answer = click(bot, slack, "gpu_snooze", "ml-train/finetune", user="U0ALICE")  # the owner may

    assert answer.startswith("`ml-train/finetune` is snoozed until")
    text = gpu(bot, slack, "idle")
    assert "ml-train/finetune" not in text and "1 snoozed pods hidden." in text
    assert "*Idle GPUs: 4* in *3* pods" in text


# Queue, health, focus, mistakes --------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_queue_shows_who_waits_how_long_by_namespace_and_priority(bot, slack: SlackRecorder) -> None:
    text = gpu(bot, slack, "queue")

    assert "*2 pods* are waiting for *12 GPUs*" in text
    assert "*vision* · priority `high` · pods: 1, GPUs: 8\n• `vision/big-train` asks for 8 GPUs · waiting 30m" in text
    assert "• `ml-train/sweep-1` asks for 4 GPUs · waiting 2h · 17 scheduling attempts" in text
    assert "Scheduler: 0/5 nodes are available: 5 Insufficient nvidia.com/gpu." in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_health_names_xid_throttling_and_gpus_missing_from_dcgm(bot, slack: SlackRecorder) -> None:
    text = gpu(bot, slack, "health")

    xid = re.search(r"`node-a/7` \(free\): XID 79 since (\S+ \S+)", text)
    assert xid is not None
    assert "`node-c/0` (vision/detector): thermal throttling" in text
    assert "• `node-e`: Kubernetes 4 GPUs, DCGM reports 0" in text
    assert "node-m" not in text  # its two MIG slices are the two GPUs Kubernetes counts


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_unknown_names_get_the_closest_ones(bot, slack: SlackRecorder) -> None:
    assert gpu(bot, slack, "node nod-a") .startswith("I know no node called `nod-a`. Did you mean `node-a`")
    assert "Did you mean `ml-train`" in gpu(bot, slack, "ns ml-trian")
    assert "I know no team called `visoin`. Did you mean `vision`?" in gpu(bot, slack, "team visoin")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_garbage_gets_the_usage_in_the_users_language(bot, slack: SlackRecorder) -> None:
    assert "`/gpu idle` · `/gpu queue`" in gpu(bot, slack, "idle please")
    assert "我没看懂 `please`" in gpu(bot, slack, "queue please", user="UBOB")


def _entry(text: str, pod_key: str) -> str:
    start = text.index(f"*`{pod_key}`*")
    return text[start:text.find("\n*`", start + 1) if "\n*`" in text[start + 1:] else len(text)]


# What goes wrong -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_forbidden_pods_still_show_utilization_and_name_the_missing_permission(
        new_bot: Callable[..., tuple[Any, Any]],
        db_url: str, slack: SlackRecorder, prometheus: BackfilledPrometheus, tmp_path: Path) -> None:
    from bot.clock import FrozenClock

    with KubeApi() as api:
        api.put(*cluster_objects())
        api.forbid("pods")
        bot = new_bot(db_url, slack, CONFIG, FrozenClock(END), prometheus_url=prometheus.url,
                       kubeconfig=kubeconfig(tmp_path, api.url))
        text = gpu(bot, slack)

    assert "Allocation unavailable, showing utilization only" in text and "list" in text and "pods" in text
    assert "*15* GPUs reporting · *11* with a pod · utilization *28%*" in text  # a MIG GPU counts once
    assert "gpu-operator" not in text and "*Idle GPUs: 6*" in text  # the exporter's own labels hold nothing
    assert "waiting for GPUs" not in text  # unknown without pods, not "nobody"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_prometheus_without_dcgm_metrics_says_the_exporter_is_not_scraped(
        new_bot: Callable[..., tuple[Any, Any]],
        db_url: str, slack: SlackRecorder, kube: tuple[KubeApi, str], tmp_path: Path) -> None:
    from bot.clock import FrozenClock
    from tests.support.servers import PrometheusServer, free_port, prometheus_config_for

    with PrometheusServer(tmp_path / "empty", prometheus_config_for([f"127.0.0.1:{free_port()}"])) as empty:
        empty.wait_for_query('up{job="dcgm"} == 0')
        bot = new_bot(db_url, slack, CONFIG, FrozenClock(datetime.now(UTC)), prometheus_url=empty.url,
                       kubeconfig=kube[1])
        text = gpu(bot, slack)

    assert "Prometheus has no DCGM metrics: dcgm-exporter is not being scraped (0 of 1 scrape targets" in text
    assert 'up{job=~".*dcgm.*"}' in text
    assert "*20* GPUs · *12* allocated · *8* free" in text  # Kubernetes still answers


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_prometheus_down_is_named_with_its_url_and_what_to_check(
        new_bot: Callable[..., tuple[Any, Any]], db_url: str, slack: SlackRecorder,
                                                                 kube: tuple[KubeApi, str]) -> None:
    from tests.support.servers import free_port

    url = f"http://127.0.0.1:{free_port()}"
    bot = new_bot(db_url, slack, CONFIG, prometheus_url=url, kubeconfig=kube[1])

    text = gpu(bot, slack)

    assert "Prometheus" in text and f"127.0.0.1:{url.rsplit(':', 1)[1]}" in text and "PROMETHEUS_URL" in text


# The scheduled checks ----------------------------------------------------------------------------------
def checks_bot(new_bot: Callable[..., tuple[Any, Any]], db_url: str, slack: SlackRecorder,
               prometheus: BackfilledPrometheus, kube: tuple[KubeApi, str],
               hours: str = "mon-sun 00:00-23:59") -> tuple[Any, Any]:
    from bot.clock import FrozenClock

    config = {**CONFIG, "gpu": {**CONFIG["gpu"], "working_hours": hours,
                                "idle_check": {"window": "4h", "gpu_hours": 8}}}
    return new_bot(db_url, slack, config, FrozenClock(END), prometheus_url=prometheus.url, kubeconfig=kube[1])


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_the_idle_check_posts_once_per_team_and_replies_when_back_to_work(
        new_bot: Callable[..., tuple[Any, Any]],
        db_url: str, slack: SlackRecorder, prometheus: BackfilledPrometheus, kube: tuple[KubeApi, str]) -> None:
    services, app = checks_bot(new_bot, db_url, slack, prometheus, kube)

    services.gpu_watch.check_idle()
    services.gpu_watch.check_idle()  # nothing new: no second post

    [post] = slack.calls("chat.postMessage")
    assert post.params["channel"] == "CML"  # vision's 4 idle GPU-hours stay under 8
    text = slack_text([post])
    assert "Team ml: 9." in text and "GPU-hours idle" in text and "ml-train/finetune" in text
    assert "ml-infer/vllm-0" in text and "$491/day" in text  # 330.24 + 132 + 28.29 (3/7 of an A100)

    for pod_key in ("ml-infer/vllm-0", "ml-infer/mig-small"):
        click((services, app), slack, "gpu_snooze", pod_key)
    slack.clear()
    services.gpu_watch.check_idle()

    [reply] = slack.calls("chat.postMessage")
    assert reply.params["channel"] == "CML" and reply.params["thread_ts"] == post.response["ts"]
    assert "Back to work" in slack_text([reply])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_idle_check_keeps_quiet_outside_working_hours(
        new_bot: Callable[..., tuple[Any, Any]],
        db_url: str, slack: SlackRecorder, prometheus: BackfilledPrometheus, kube: tuple[KubeApi, str]) -> None:
    shanghai_day = END.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%a").lower()  # the teams' time zone
    other_days = ",".join(day for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun") if day != shanghai_day)
    services, _app = checks_bot(new_bot, db_url, slack, prometheus, kube, hours=f"{other_days} 00:00-23:59")

    services.gpu_watch.check_idle()

    assert not slack.calls("chat.postMessage")


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_the_health_check_posts_each_problem_once_where_it_belongs(
        new_bot: Callable[..., tuple[Any, Any]],
        db_url: str, slack: SlackRecorder, prometheus: BackfilledPrometheus, kube: tuple[KubeApi, str]) -> None:
    services, _app = checks_bot(new_bot, db_url, slack, prometheus, kube)

    services.gpu_watch.check_health()
    services.gpu_watch.check_health()

    platform = slack_text(slack.calls("chat.postMessage", "CPLATFORM"))
    assert "`node-a/7` (free): XID 79" in platform and "`node-e`: 4 GPUs Kubernetes counts are missing" in platform
    [vision] = slack.calls("chat.postMessage", "CVISION")  # the team holding the GPU, in its language
    said = slack_text([vision])
    assert "有 GPU 出现异常" in said and "`node-c/0`（vision/detector）：过热降频" in said
    assert len(slack.calls("chat.postMessage")) == 3
