"""A digest with every section, read from real backends by the same domain calls the commands make: a real
Prometheus (DCGM history backfilled) and the real `kubernetes` client against the fixture API server, real boto3
against moto (EC2, snapshots, Cost Explorer), the real GitHub client against the GraphQL fixture, incidents,
rotation and alert noise in the database. Posted by the scheduler in the team's language and zone, shown by
/digest in the reader's; a failing backend costs its section only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.clock import FrozenClock
from bot.incidents.desk import OpenRequest
from tests.integration.spend.test_spend_in_slack import answer
from tests.support.alert_payloads import alert, notification
from tests.support.aws_proxy import AwsProxy
from tests.support.aws_seed import instance, snapshot
from tests.support.config import bot_config, team
from tests.support.dcgm import FB_FREE, FB_USED, TEMP, UTIL, XID, BackfilledPrometheus, Gpu, constant, steps
from tests.support.github_graphql import GitHubFixture
from tests.support.inprocess import dispatch
from tests.support.kube_api import KubeApi, container, kubeconfig, node, pod
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

pytestmark = pytest.mark.prometheus
END = datetime.now(UTC).replace(second=0, microsecond=0)  # Prometheus' data ends now
BERLIN = ZoneInfo("Europe/Berlin")
MEM = {FB_USED: constant(40000), FB_FREE: constant(41559), TEMP: constant(55)}
TOKEN = "ghp_fixture_token_0000000000000000"
UWEI = "UWEI"  # reads Chinese, in Shanghai


def held(namespace: str, name: str) -> dict[str, str]:
    return {"namespace": namespace, "pod": name, "container": "main"}


GPUS = [Gpu("node-a", "0", labels=held("ml-train", "finetune"), metrics={UTIL: constant(2), **MEM}),  # idle
        Gpu("node-a", "1", labels=held("ml-train", "train"), metrics={UTIL: constant(95), **MEM}),
        Gpu("node-a", "2", labels=held("ml-train", "train"),
            metrics={UTIL: constant(90), XID: steps((3600, 0), (1200, 79)), **MEM})]  # fell off the bus


def every_minute_now() -> str:
    """A crontab that fires at END's minute on the team's clock."""
    local = END.astimezone(BERLIN)
    return f"{local.minute} {local.hour} * * *"


def config(**fields: Any) -> dict[str, Any]:
    return bot_config(teams=[team("ml", "CML", timezone="Europe/Berlin", namespaces=["ml-train"], cost_tag="ml",
                                  repos=["acme/trainer"], budget_usd_month=3000, **fields)],
                      oncall={"ml": {"tiers": [{"name": "1st line", "layers": [
                          {"members": ["UDRI1"], "rotate_every": "1w", "handoff": "09:00", "start": "2026-01-05",
                           "timezone": "Europe/Berlin"}]}]}},
                      cost_guards={"shutdown": {"at": "23:30"}}, schedules={"weekly_digest": "off"})


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfilledPrometheus]:
    with BackfilledPrometheus(tmp_path_factory.mktemp("prom"), GPUS, END) as server:
        yield server


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    waiting = "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."
    with KubeApi() as api:
        api.put(node("node-a", 3, "NVIDIA-H100-80GB-HBM3"),
                pod("ml-train", "finetune", "node-a", [container("main", 1)], created=END - timedelta(hours=3)),
                pod("ml-train", "train", "node-a", [container("main", 2)], created=END - timedelta(hours=5)),
                pod("ml-train", "sweep-7", None, [container("main", 4)], phase="Pending",
                    created=END - timedelta(hours=2), unschedulable=waiting))
        yield kubeconfig(tmp_path_factory.mktemp("kube"), api.url)


def seed_github(github: GitHubFixture) -> None:
    github.user("lena-k")
    github.user("wei-zhang")
    github.repo("acme/trainer")
    github.pull("acme/trainer", 97, "Retry checkpoint uploads to S3", "wei-zhang", END - timedelta(days=3),
                reviewers=[("lena-k", END - timedelta(days=3))])


def seed_aws(aws: AwsProxy) -> None:
    instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "lena"})  # $32.77/h
    old = snapshot(aws.ec2, 500, {"created-by": "pipeline", "team": "ml", "pipeline": "nightly"}, "nightly run 9")
    aws.backdate(old, END - timedelta(days=200))
    month_start = END.date().replace(day=1)
    days = {month_start + timedelta(days=i): {"ml": 100.0} for i in range((END.date() - month_start).days)}
    if days:
        aws.moto.queue_cost_results([answer(days, key="team")])


def seed_incidents_and_noise(services: Any, slack: SlackRecorder, clock: FrozenClock) -> None:
    slack.set_message("CML", "1700000000.000100", text="checkpoint uploads failing", user="UAUTHOR")
    clock.set(END - timedelta(hours=2))
    services.incidents.open(OpenRequest(reporter="UREPORTER", source="reaction", channel="CML",
                                        message_ts="1700000000.000100", severity="sev2", emoji="🔥💥", team="ml"))
    services.alerts.receive(notification([alert("GPUTempHigh", team="ml", severity="warning", gpu="2")]))
    [group] = services.alerts.firing("ml")
    services.alerts.mark_noisy(group.id, "UALICE", "fires every night")
    clock.set(END)


@pytest.fixture
def bot(slack: SlackRecorder, prometheus: BackfilledPrometheus, kube: str, aws: AwsProxy, github_api: GitHubFixture,
        tmp_path: Path, new_bot: Callable[..., tuple[Any, Any]]) -> tuple[Any, Any, FrozenClock]:
    seed_github(github_api)
    seed_aws(aws)
    slack.set_user(UWEI, locale="zh-CN", tz="Asia/Shanghai")
    clock = FrozenClock(END)
    services, app = new_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, config(digest=every_minute_now()), clock,
                            prometheus_url=prometheus.url, kubeconfig=kube, github_token=TOKEN,
                            github_api_url=github_api.url)
    seed_incidents_and_noise(services, slack, clock)
    return services, app, clock


def digest_command(app: Any, slack: SlackRecorder, text: str = "", user: str = "UALICE", channel: str = "CML") -> str:
    slack.clear()
    dispatch(app, slash_command_body("/digest", text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("digest")))
    return slack_text(slack.calls("response_url")[-1:])


def test_the_scheduled_digest_has_every_section_from_the_real_backends_and_details_in_its_thread(
        bot: tuple[Any, Any, FrozenClock], slack: SlackRecorder) -> None:
    services, _, _ = bot
    slack.clear()
    assert services.digests.tick() == 1
    posts = [c for c in slack.calls("chat.postMessage", "CML") if c.response.get("ok")]
    main = slack_text(posts[0])
    assert "Daily digest · ml" in main
    assert "checkpoint uploads failing" in main  # the open incident
    assert "<@UDRI1>" in main  # on call
    assert "3,000" in main and "32.77" in main  # the budget, the live burn of the p4d
    assert "$2,300.00 of the $3,000.00 budget (77%)" in main  # Cost Explorer's month to date, 23 days of $100
    assert "Idle GPUs: 1" in main and "ml-train/finetune" in main  # GPU 0 of finetune, at 2 %
    assert "1 pods asking for 4 GPUs" in main and "Unhealthy GPUs: 1 (`node-a/2`)" in main  # sweep-7; XID 79
    assert "acme/trainer#97" in main  # the review queue
    assert "GPUTempHigh" in main and "👎 1" in main  # the noisiest alert and its thumbs-down
    assert "23:30" in main  # tonight's shutdown, on the team's clock
    thread = " ".join(slack_text(c) for c in posts[1:])
    assert all(c.params["thread_ts"] == posts[0].response["ts"] for c in posts[1:])
    assert "Retry checkpoint uploads to S3" in thread and "p4d.24xlarge" in thread  # the commands' own views


def test_digest_shows_it_now_in_the_readers_language_and_zone(bot: tuple[Any, Any, FrozenClock],
                                                             slack: SlackRecorder) -> None:
    _, app, _ = bot
    english = digest_command(app, slack)
    chinese = digest_command(app, slack, user=UWEI)
    assert "Daily digest · ml" in english and "每日摘要 · ml" in chinese
    assert "acme/trainer#97" in chinese and "GPUTempHigh" in chinese
    assert not slack.calls("chat.postMessage", "CML")  # only the reader saw it


def test_a_failing_backend_makes_its_section_say_why_while_the_others_post(
        bot: tuple[Any, Any, FrozenClock], slack: SlackRecorder, github_api: GitHubFixture) -> None:
    services, _, _ = bot
    github_api.fail(502)
    slack.clear()
    assert services.digests.tick() == 1
    main = slack_text(next(c for c in slack.calls("chat.postMessage", "CML") if c.response.get("ok")))
    assert "Reviews: unavailable (GitHub): " in main and "HTTP 502" in main
    assert "checkpoint uploads failing" in main and "GPUTempHigh" in main and "32.77" in main


def test_the_preview_names_the_schedule_and_the_weekly_one_attaches_charts(
        bot: tuple[Any, Any, FrozenClock], slack: SlackRecorder, tmp_path: Path,
        new_bot: Callable[..., tuple[Any, Any]], prometheus: BackfilledPrometheus, kube: str, aws: AwsProxy,
        github_api: GitHubFixture) -> None:
    _, app, _ = bot
    preview = digest_command(app, slack, "preview ml weekly")
    assert "Weekly digest · ml" in preview and "Europe/Berlin" in preview and every_minute_now() in preview
    assert "Cannot" not in preview
    wrong = digest_command(app, slack, "preview mll weekly")
    assert "mll" in wrong and "`ml`" in wrong  # the known teams
    weekly, _ = new_bot(f"sqlite:///{tmp_path / 'weekly.db'}", slack,
                        config(digest="off", weekly_digest=every_minute_now()), FrozenClock(END),
                        prometheus_url=prometheus.url, kubeconfig=kube, github_token=TOKEN,
                        github_api_url=github_api.url)
    seed_incidents_and_noise(weekly, slack, weekly.clock)
    aws.queue_forecast(3500.0)
    slack.clear()
    assert weekly.digests.tick() == 1
    uploads = [c.params["filename"] for c in slack.calls("files.getUploadURLExternal")]
    assert "digest-ml-incidents.png" in uploads and "digest-ml-gpu.png" in uploads
