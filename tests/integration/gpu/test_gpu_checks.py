"""The scheduled GPU checks across changes: a problem that clears gets "healthy again" in its thread, a post Slack
refused is tried again at the next check, a nudge Slack refused can be sent again, and a restart repeats nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.clients import GpuCluster, GpuNode, GpuPod, GpuProblem, GpuReading
from bot.clients.chat import Chat
from bot.clients.demo import DemoKube, DemoPrometheus
from bot.clients.slack import make_web_client
from bot.clients.slack_groups import UserGroups
from bot.clients.slack_users import UserDirectory
from bot.clock import FrozenClock
from bot.gpu.checks import GpuWatch
from bot.gpu.owners import OwnerNudges
from bot.gpu.service import GpuService
from bot.notify import Notifier
from bot.permissions import Permissions
from bot.retry import BackendError
from bot.settings import Config
from bot.store.db import make_engine, migrate, session_factory
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday
CONFIG = Config.model_validate({
    "teams": [{"name": "ml", "channel": "CML", "namespaces": ["ml-train"], "timezone": "Asia/Shanghai"}],
    "admins": ["UADMIN"], "gpu": {"platform_channel": "CPLATFORM", "idle_check": {"gpu_hours": 2}}})
CLUSTER = GpuCluster(nodes=(GpuNode("n1", 2),), pods=(
    GpuPod("ml-train", "train", "n1", "Running", 2, labels={"owner": "UOWNER"}, created=NOW.replace(hour=0)),))


def xid(gpu: str) -> GpuReading:
    return GpuReading("n1", gpu, f"GPU-{gpu}", "NVIDIA H100", 90.0, "dev", namespace="ml-train", pod="train",
                      problems=(GpuProblem("xid", 79.0),))


class Parts:
    def __init__(self, db_url: str, slack: SlackRecorder) -> None:
        self.engine = engine = make_engine(db_url)
        migrate(engine)
        self.sessions = session_factory(engine)
        self.clock = FrozenClock(NOW)
        self.prom = DemoPrometheus([xid("0")])
        web = make_web_client("xoxb-test", slack.base_url)
        self.notifier = Notifier(Chat(web))
        self.gpus = GpuService(self.prom, DemoKube(CLUSTER), self.clock, CONFIG, self.sessions)
        users = UserDirectory(web, self.sessions, self.clock)
        permissions = Permissions(CONFIG, self.sessions, users, UserGroups(web, self.sessions, self.clock), self.clock)
        self.owners = OwnerNudges(self.gpus, self.notifier, users, permissions, self.sessions, self.clock, CONFIG)

    def watch(self) -> GpuWatch:
        """A fresh watcher each time: what a restarted leader has is the database."""
        return GpuWatch(self.gpus, self.notifier, self.sessions, self.clock, CONFIG)


@pytest.fixture
def parts(db_url: str, slack: SlackRecorder) -> Iterator[Parts]:
    made = Parts(db_url, slack)
    yield made
    made.engine.dispose()


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_a_cleared_problem_gets_healthy_again_in_its_thread_once(parts: Parts, slack: SlackRecorder) -> None:
    parts.watch().check_health()
    [post] = slack.calls("chat.postMessage", "CML")
    assert "`n1/0` (ml-train/train): XID 79" in slack_text([post])

    parts.prom.readings = [xid("1")]  # GPU 0 recovered, GPU 1 broke
    parts.watch().check_health()
    parts.watch().check_health()

    replies = [c for c in slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert [c.params["thread_ts"] for c in replies] == [post.response["ts"]]
    assert "✅ Healthy again." in slack_text(replies)
    assert len([c for c in slack.calls("chat.postMessage", "CML") if not c.params.get("thread_ts")]) == 2


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_post_slack_refused_is_tried_again_at_the_next_check(parts: Parts, slack: SlackRecorder) -> None:
    slack.fail_method("chat.postMessage", "channel_not_found")
    parts.watch().check_health()
    assert slack.calls("chat.postMessage")  # tried

    slack.fail_method("chat.postMessage", None)
    slack.clear()
    parts.watch().check_health()

    assert len(slack.calls("chat.postMessage", "CML")) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_idle_check_counts_idle_gpu_hours_over_its_window(parts: Parts, slack: SlackRecorder) -> None:
    parts.prom.readings = [GpuReading("n1", g, f"GPU-{g}", "NVIDIA H100", 2.0, "dev", namespace="ml-train",
                                      pod="train", busy_at=NOW.replace(hour=1, minute=30)) for g in ("0", "1")]
    parts.watch().check_idle()
    assert not slack.calls("chat.postMessage")  # 2 GPUs × 30 min = 1 GPU-hour, under 2

    parts.clock.advance(NOW.replace(hour=2, minute=45) - NOW)  # 2 × 1 h 15 min = 2.5 GPU-hours
    parts.watch().check_idle()
    [post] = slack.calls("chat.postMessage", "CML")
    assert "Team ml: 2.5 GPU-hours idle" in slack_text([post])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_nudge_slack_refused_can_be_sent_again(parts: Parts, slack: SlackRecorder) -> None:
    parts.prom.readings = [GpuReading("n1", "0", "GPU-0", "NVIDIA H100", 2.0, "dev", namespace="ml-train",
                                      pod="train")]
    slack.fail_method("conversations.open", "user_not_found")

    with pytest.raises(BackendError):
        parts.owners.notify("ml-train/train", "UADMIN", "en")
    slack.fail_method("conversations.open", None)

    assert parts.owners.notify("ml-train/train", "UADMIN", "en").outcome == "sent"
    assert parts.owners.notify("ml-train/train", "UADMIN", "en").outcome == "already"
    assert len(slack.calls("chat.postMessage", "DUOWNER")) == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_gpu_checks_are_scheduled_only_with_prometheus(db_url: str, slack: SlackRecorder) -> None:
    from bot.jobs import job_specs
    from tests.support.inprocess import make_services

    config = {"gpu": {"idle_check": {"every": "30m"}, "health_every": "2m"}}
    without = make_services(db_url, slack, config)
    with_prometheus = make_services(db_url, slack, config, prometheus_url="http://127.0.0.1:9090")

    assert not [s for s in job_specs(without) if s.id.startswith("gpu-")]
    gpu = {s.id: s.trigger.interval.total_seconds() for s in job_specs(with_prometheus) if s.id.startswith("gpu-")}
    without.engine.dispose()
    with_prometheus.engine.dispose()
    assert gpu == {"gpu-idle-check": 1800, "gpu-health-check": 120}
