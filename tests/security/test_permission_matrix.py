"""Every state-changing action × a denied and an allowed user, through the real handlers in process (the Bolt app
over the Slack recorder, real SQLite, moto behind the AWS proxy, a real Alertmanager, GitHub's GraphQL fixture, a
backfilled Prometheus and the Kubernetes fixture).

The contract (bot/permissions.py): the denied user is told, in their language, that they can't and who can;
nothing changes (state, and no backend call: no StopInstances, no DeleteSnapshot, no silence, no page); exactly
one `denied.<action>` audit row names them. Then the allowed user does it: it is done, with exactly one audit row
naming them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from bot.clock import FrozenClock
from bot.store.models import (
    AuditLog,
    GpuSnoozeRow,
    GuardItemRow,
    GuardPlanRow,
    IncidentEventRow,
    IncidentRow,
    MaintenanceRow,
    OncallOverride,
    ReviewNudgeRow,
)
from tests.integration.review import test_review_in_slack as review
from tests.integration.spend import test_nightly_shutdown as shutdown
from tests.integration.spend import test_snapshots_and_burn as snapshots
from tests.support.alert_payloads import alert, notification
from tests.support.aws_proxy import AwsProxy
from tests.support.aws_seed import instance, snapshot
from tests.support.config import bot_config, team
from tests.support.dcgm import FB_FREE, FB_USED, UTIL, BackfilledPrometheus, Gpu, constant
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.kube_api import KubeApi, container, kubeconfig, node, pod
from tests.support.servers import AlertmanagerServer, alertmanager_config_for, free_port
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

ADMIN, REPORTER, DRI, SECOND, STRANGER, ZH = "UADMIN", "UALICE", "UDRI1", "USENIOR2", "USTRANGER", "UZH"
Said = Callable[[str], str]  # the allowed or denied user acts; what they were told


@dataclass(frozen=True)
class Cell:
    """One row of the matrix: who is refused (and in which language they read it), who may, the audit rows."""

    denied: str
    allowed: str
    permission: str  # audited as denied.<permission>; named in the refusal as permissions.action_<permission>
    audit: str  # the allowed action's audit row
    refusal: str  # what the denied user reads, in their language


def audit_rows(services: Any, after: int) -> list[tuple[str, str]]:
    with services.sessions() as session:
        return [(row.actor, row.action) for row in
                session.scalars(select(AuditLog).where(AuditLog.id > after).order_by(AuditLog.id))]


def last_audit(services: Any) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.coalesce(func.max(AuditLog.id), 0))) or 0)


def check(services: Any, slack: SlackRecorder, cell: Cell, act: Said, state: Callable[[], object],
          backend: Callable[[], object] = lambda: None) -> None:
    """Denied first (nothing changes, one denied row), then allowed (done, one row naming the actor). `backend`
    counts calls a change would make (Slack's counted since the recorder was cleared, as each act clears it)."""
    slack.clear()
    before, calls, mark = state(), backend(), last_audit(services)

    said = act(cell.denied)

    assert cell.refusal in said, said
    assert (state(), backend()) == (before, calls)
    assert audit_rows(services, mark) == [(cell.denied, f"denied.{cell.permission}")]

    mark = last_audit(services)
    said = act(cell.allowed)

    assert cell.refusal not in said, said
    assert state() != before, said
    assert audit_rows(services, mark) == [(cell.allowed, cell.audit)]


def count(services: Any, model: Any, *where: Any) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def command(app: Any, slack: SlackRecorder, name: str, text: str, user: str, channel: str = "CTEAM") -> str:
    slack.clear()
    dispatch(app, slash_command_body(name, text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


def click(app: Any, slack: SlackRecorder, action_id: str, value: str, user: str, channel: str = "CTEAM",
          menu: bool = False) -> str:
    slack.clear()
    action: dict[str, Any] = {"type": "button", "action_id": action_id, "block_id": "b", "value": value}
    if menu:
        action = {"type": "static_select", "action_id": action_id, "block_id": "b",
                  "selected_option": {"value": value, "text": {"type": "plain_text", "text": value}}}
    dispatch(app, interactivity_body({"type": "block_actions", "user": {"id": user}, "channel": {"id": channel},
                                      "team": {"id": "T1"}, "trigger_id": "t", "container": {"message_ts": "1.1"},
                                      "response_url": slack.response_url("click"), "actions": [action]}))
    return slack_text(slack.calls("response_url")) + slack_text(slack.calls("chat.postEphemeral"))


@pytest.fixture
def zh(slack: SlackRecorder) -> SlackRecorder:
    slack.set_user(ZH, locale="zh-CN")
    return slack


# Incidents and on-call -----------------------------------------------------------------------------------------
INCIDENT_CELLS = {
    "acknowledge (button)": (Cell(STRANGER, DRI, "acknowledge", "incident.acknowledged", "You can't acknowledge"),
                             "incident_ack", "1"),
    "mitigate (button)": (Cell(ZH, DRI, "mitigate", "incident.mitigated", "你不能标记缓解"), "incident_mitigated", "1"),
    "resolve (button)": (Cell(STRANGER, SECOND, "resolve", "incident.resolved", "You can't resolve"),
                         "incident_resolve", "1"),
    "escalate (button)": (Cell(ZH, DRI, "escalate", "incident.escalate", "你不能升级"), "incident_escalate", "1"),
    "severity (menu)": (Cell(STRANGER, DRI, "severity", "incident.severity", "You can't change the severity of"),
                        "incident_severity", "1:sev1"),
    "undo (button)": (Cell(DRI, REPORTER, "undo", "incident.cancelled", "You can't undo"), "incident_undo", "1"),
}


@pytest.fixture
def incident(tmp_path: Path, zh: SlackRecorder) -> tuple[Any, Any]:
    """Incident #1, opened by UALICE's 🔥💥 in the team channel and paging UDRI1."""
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", zh, bot_config(admins=[ADMIN]), FrozenClock(START))
    dispatch(app, event_body({"type": "message", "channel": "CTEAM", "user": REPORTER, "text": "🔥💥 db down",
                              "ts": "1700000000.000100", "channel_type": "channel"}))
    assert count(services, IncidentRow) == 1
    yield services, app
    services.engine.dispose()


def incident_state(services: Any) -> tuple[str, str]:
    with services.sessions() as session:
        row = session.get(IncidentRow, 1)
        return row.status, row.severity


def pages_to(slack: SlackRecorder, user: str) -> Callable[[], int]:
    return lambda: len(slack.calls("chat.postMessage", f"D{user}"))


@pytest.mark.parametrize("name", list(INCIDENT_CELLS))
def test_incident_buttons(incident: tuple[Any, Any], slack: SlackRecorder, name: str) -> None:
    services, app = incident
    cell, action_id, value = INCIDENT_CELLS[name]

    def history() -> tuple[object, ...]:  # escalating changes no status: its timeline entry shows it
        return incident_state(services), count(services, IncidentEventRow, IncidentEventRow.kind == "escalated")

    check(services, slack, cell, lambda user: click(app, slack, action_id, value, user, menu=name.endswith("(menu)")),
          history, backend=pages_to(slack, SECOND))  # only escalating pages the 2nd line; a refusal never


def test_incident_command(incident: tuple[Any, Any], slack: SlackRecorder) -> None:
    services, app = incident
    cell = Cell(STRANGER, SECOND, "acknowledge", "incident.acknowledged", "You can't acknowledge")

    check(services, slack, cell, lambda user: command(app, slack, "/incident", "ack 1", user),
          lambda: incident_state(services))


def test_oncall_override(tmp_path: Path, zh: SlackRecorder) -> None:
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", zh, bot_config(admins=[ADMIN]), FrozenClock(START))
    cell = Cell(ZH, SECOND, "override", "oncall.override", "你不能覆盖值班")

    check(services, zh, cell, lambda user: command(app, zh, "/oncall", "override <@UCOVER> now +8h", user),
          lambda: count(services, OncallOverride))
    services.engine.dispose()


# Alerts: silence (Alertmanager) and quiet windows ----------------------------------------------------------------
@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlertmanagerServer]:
    config = alertmanager_config_for(f"http://127.0.0.1:{free_port()}/alertmanager")  # nothing listens: not needed
    with AlertmanagerServer(tmp_path_factory.mktemp("alertmanager"), config) as server:
        yield server


def silences(alertmanager: AlertmanagerServer) -> list[str]:
    answer = requests.get(f"{alertmanager.url}/api/v2/silences", timeout=10).json()
    return sorted(s["id"] for s in answer if s["status"]["state"] == "active")


@pytest.fixture
def alerting(tmp_path: Path, zh: SlackRecorder, alertmanager: AlertmanagerServer) -> Iterator[tuple[Any, Any, str]]:
    """A firing alert posted in the team channel; the value of its Silence button."""
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", zh,
                             bot_config(teams=[team(namespaces=["payments"])], admins=[ADMIN]),
                             FrozenClock(datetime.now(UTC)), alertmanager_url=alertmanager.url)  # silences end later
    services.alerts.receive(notification([alert(f"DiskFull{tmp_path.name[-6:]}", namespace="payments",
                                                starts_at=START)]))
    services.alerts.deliver()
    [post] = [c for c in zh.calls("chat.postMessage", "CTEAM") if not c.params.get("thread_ts")]
    [value] = [e["value"] for b in post.json_param("blocks") if b["type"] == "actions" for e in b["elements"]
               if e["action_id"] == "alerts_silence"]
    yield services, app, value
    services.engine.dispose()


@pytest.mark.prometheus
def test_alert_silence(alerting: tuple[Any, Any, str], slack: SlackRecorder,
                       alertmanager: AlertmanagerServer) -> None:
    services, app, value = alerting
    cell = Cell(STRANGER, DRI, "silence", "alerts.silence", "You can't silence")

    check(services, slack, cell, lambda user: click(app, slack, "alerts_silence", value, user),
          lambda: silences(alertmanager), backend=lambda: silences(alertmanager))


@pytest.mark.prometheus
def test_alert_quiet_window(alerting: tuple[Any, Any, str], slack: SlackRecorder) -> None:
    services, app, _ = alerting
    cell = Cell(ZH, DRI, "quiet", "alerts.quiet", "你不能暂缓以下对象的告警")

    check(services, slack, cell, lambda user: command(app, slack, "/alerts", "quiet ml-platform 1h upgrade", user),
          lambda: count(services, MaintenanceRow))


# Cost guards: the nightly shutdown's buttons, Stop now, snapshot deletion -----------------------------------------
@pytest.fixture
def guarded(tmp_path: Path, slack: SlackRecorder, aws: AwsProxy) -> Iterator[tuple[Any, Any, str]]:
    """Tonight's shutdown of ml (one GPU instance, enabled), 30 minutes before it runs; the instance's id."""
    slack.respond("usergroups.users.list", lambda call: {"ok": True, "users": [shutdown.MEMBER]})
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, shutdown.config(),
                             FrozenClock(shutdown.SHUTDOWN - timedelta(minutes=30)))
    instance_id = instance(aws.ec2, "g5.12xlarge", {"team": "ml", "owner": "lena"})
    services.shutdown.tick()  # the warning, and tonight's plan
    yield services, app, instance_id
    services.engine.dispose()


TONIGHT = {"team": "ml", "night": shutdown.NIGHT.isoformat()}


def plan_state(services: Any) -> list[tuple[object, ...]]:
    with services.sessions() as session:
        plans = [(p.state, p.acts_at) for p in session.scalars(select(GuardPlanRow))]
        return plans + [(i.item, i.state) for i in session.scalars(select(GuardItemRow))]


def test_shutdown_stop_now(guarded: tuple[Any, Any, str], slack: SlackRecorder, aws: AwsProxy) -> None:
    services, app, instance_id = guarded
    cell = Cell(shutdown.MEMBER, shutdown.ALLOWED, "stop_instances", "spend.stop", "You can't stop the instances of")

    check(services, slack, cell, lambda user: shutdown.click(app, slack, "spend_stop_now", TONIGHT, user),
          lambda: (shutdown.state(aws, instance_id), plan_state(services)),
          backend=lambda: aws.count("StopInstances"))
    assert shutdown.state(aws, instance_id) in ("stopping", "stopped")


def test_shutdown_postpone(guarded: tuple[Any, Any, str], slack: SlackRecorder) -> None:
    services, app, _ = guarded
    cell = Cell(shutdown.STRANGER, shutdown.MEMBER, "postpone_shutdown", "shutdown.postpone",
                "You can't postpone tonight's shutdown of")

    check(services, slack, cell, lambda user: shutdown.click(app, slack, "spend_postpone", TONIGHT, user),
          lambda: plan_state(services))


def test_shutdown_keep_running(guarded: tuple[Any, Any, str], slack: SlackRecorder) -> None:
    services, app, instance_id = guarded
    cell = Cell(shutdown.STRANGER, shutdown.MEMBER, "keep_instance", "spend.keep",
                "You can't keep this instance running tonight")

    check(services, slack, cell, lambda user: shutdown.keep(app, slack, instance_id, "eval finishing", user),
          lambda: plan_state(services))


def test_snapshot_deletion(tmp_path: Path, slack: SlackRecorder, aws: AwsProxy) -> None:
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, snapshots.CONFIG,
                             FrozenClock(snapshots.REAL))
    stale = snapshot(aws.ec2, 500, {**snapshots.PIPELINE, "pipeline": "nightly-train"}, "nightly run 17")
    aws.backdate(stale, snapshots.REAL - timedelta(days=200))
    aws.recycle_rules([])
    report = snapshots.command(app, slack, "snapshots")
    view = snapshots.delete_modal(app, slack, report, snapshots.STRANGER)
    cell = Cell(snapshots.STRANGER, snapshots.ALLOWED, "delete_snapshots", "spend.delete_snapshot",
                "You can't delete the stale snapshots of")

    check(services, slack, cell, lambda user: snapshots.confirm(app, slack, view, user),
          lambda: snapshots.existing(aws), backend=lambda: aws.count("DeleteSnapshot"))
    assert stale not in snapshots.existing(aws)
    services.engine.dispose()


# Review nudges: /review nudge and the reviewer's buttons -----------------------------------------------------------
@pytest.fixture
def reviews(tmp_path: Path, slack: SlackRecorder, github_api: Any) -> Iterator[tuple[Any, Any]]:
    for user, locale in ((review.LENA, "en-US"), (review.WEI, "en-US"), (review.MARIA, "en-US"), (ZH, "zh-CN")):
        slack.set_user(user, tz="Asia/Shanghai", locale=locale, email=f"{user.lower()}@example.com")
    slack.respond("usergroups.users.list", lambda call: {"ok": True, "users": [review.MARIA]})
    review.seed(github_api)
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, review.config(), FrozenClock(START),
                             github_token=review.TOKEN, github_api_url=github_api.url)
    yield services, app
    services.engine.dispose()


def test_review_nudge(reviews: tuple[Any, Any], slack: SlackRecorder) -> None:
    services, app = reviews
    cell = Cell(ZH, review.WEI, "review_nudge", "review.nudge", "你不能提醒以下拉取请求的评审人")

    check(services, slack, cell, lambda user: review.command(app, slack, f"nudge {review.PR_97}", user),
          lambda: count(services, ReviewNudgeRow), backend=lambda: len(slack.calls("chat.postMessage")))


@pytest.mark.parametrize(("action_id", "audit"), [("review_reviewing", "review.reviewing"),
                                                  ("review_cant", "review.cant"), ("review_snooze", "review.snooze")])
def test_review_nudge_buttons(reviews: tuple[Any, Any], slack: SlackRecorder, action_id: str, audit: str) -> None:
    services, app = reviews
    review.command(app, slack, f"nudge {review.PR_97}", review.WEI)
    [dm] = review.dms(slack, review.LENA)
    cell = Cell(review.MARIA, review.LENA, "review_answer", audit, "You can't answer the review nudge for")
    told = pages_to(slack, review.WEI)  # the author hears of an answer

    def answers() -> list[tuple[object, ...]]:
        with services.sessions() as session:
            rows = session.scalars(select(ReviewNudgeRow).order_by(ReviewNudgeRow.id))
            return [(n.kind, n.state, n.answer, n.due_at) for n in rows]

    check(services, slack, cell, lambda user: review.click(app, slack, action_id, dm, user), answers, backend=told)


# GPUs: Notify owner and Snooze ------------------------------------------------------------------------------------
END = datetime.now(UTC).replace(second=0, microsecond=0)
OWNER = "U0ALICE"


@pytest.fixture(scope="module")
def gpu_backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """One idle H100 held by ml-train/finetune (owner U0ALICE): Prometheus's URL and a kubeconfig."""
    gpus = [Gpu("node-a", "0", "NVIDIA H100 80GB HBM3", labels={"namespace": "ml-train", "pod": "finetune",
                                                                "container": "main"},
                metrics={UTIL: constant(0), FB_USED: constant(40000), FB_FREE: constant(41559)})]
    with BackfilledPrometheus(tmp_path_factory.mktemp("prom"), gpus, END) as prometheus, KubeApi() as kube:
        kube.put(node("node-a", 1, "NVIDIA-H100-80GB-HBM3"),
                 pod("ml-train", "finetune", "node-a", [container("main", 1)], created=END - timedelta(hours=3),
                     labels={"owner": OWNER}))
        yield prometheus.url, kubeconfig(tmp_path_factory.mktemp("kube"), kube.url)


@pytest.mark.prometheus
@pytest.mark.parametrize(("action_id", "cell"), [
    ("gpu_notify", Cell(STRANGER, ADMIN, "gpu_notify", "gpu.notify", "You can't notify the owner of")),
    ("gpu_snooze", Cell(ZH, OWNER, "gpu_snooze", "gpu.snooze", "你不能暂缓")),
])
def test_gpu_buttons(tmp_path: Path, zh: SlackRecorder, gpu_backends: tuple[str, str], action_id: str,
                     cell: Cell) -> None:
    prometheus_url, kube = gpu_backends
    config = bot_config(teams=[team("ml", "CML", namespaces=["ml-train"])], admins=[ADMIN])
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", zh, config, FrozenClock(END),
                             prometheus_url=prometheus_url, kubeconfig=kube)
    value = json.dumps({"pod": "ml-train/finetune"})
    told = pages_to(zh, OWNER)  # Notify owner DMs them

    check(services, zh, cell, lambda user: click(app, zh, action_id, value, user, channel="CGENERAL"),
          lambda: (count(services, GpuSnoozeRow), told()) if action_id == "gpu_snooze" else told(), backend=told)
    services.engine.dispose()
