"""🛑 The nightly shutdown as a team lives it: the real Bolt app, moto_server behind the AWS proxy, real SQLite and
PostgreSQL, an injected clock. The warning 30 min before, Keep running tonight (with why), Postpone, Stop now for
permitted people only, dry-run by default, tagged and busy instances kept, errors named, and no instance stopped
twice by a second run or a second replica."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import FrozenClock
from bot.store.models import AuditLog
from tests.support.aws_proxy import AwsProxy
from tests.support.aws_seed import instance
from tests.support.config import bot_config, team
from tests.support.inprocess import dispatch
from tests.support.signing import interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

SHANGHAI = ZoneInfo("Asia/Shanghai")
REAL = datetime.now(UTC).replace(second=0, microsecond=0)  # moto stamps launch times with the real time
SHUTDOWN = REAL + timedelta(hours=3)
LOCAL = SHUTDOWN.astimezone(SHANGHAI)
NIGHT = LOCAL.date() - timedelta(days=1) if LOCAL.hour < 12 else LOCAL.date()  # a morning time ends last night
ALLOWED, MEMBER, STRANGER = "UBOSS", "UALICE", "UMALLORY"


def config(enabled: bool = True, **shutdown: Any) -> dict[str, Any]:
    return bot_config(
        teams=[team("ml", "CML", cost_tag="ml", user_group="S0ML",
                    shutdown_at=f"{SHUTDOWN.astimezone(SHANGHAI):%H:%M}")],
        admins=["UADMIN"],
        cost_guards={"allowed": [ALLOWED], "shutdown": {"enabled": enabled, **shutdown}})


def fleet(aws: AwsProxy) -> dict[str, str]:
    """ml's GPU instances (one tagged keep-running), a CPU instance the selector leaves alone, another team's."""
    return {
        "train": instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "wei", "Name": "train-7b"}),
        "eval": instance(aws.ec2, "g5.12xlarge", {"team": "ml", "owner": "lena"}),
        "tagged": instance(aws.ec2, "p5.48xlarge", {"team": "ml", "keep-running": "true"}),
        "cpu": instance(aws.ec2, "m6i.large", {"team": "ml"}),
        "other": instance(aws.ec2, "p4d.24xlarge", {"team": "search"}),
    }


def state(aws: AwsProxy, instance_id: str) -> str:
    found = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    return str(found["State"]["Name"])


@pytest.fixture
def guarded(db_url: str, slack: SlackRecorder, aws: AwsProxy,
            new_bot: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any, FrozenClock]]:
    slack.respond("usergroups.users.list", lambda call: {"ok": True, "users": [MEMBER]})

    def make(**overrides: Any) -> tuple[Any, Any, FrozenClock]:
        clock = FrozenClock(SHUTDOWN - timedelta(minutes=30))
        services, app = new_bot(db_url, slack, config(**overrides), clock)
        return services, app, clock
    return make


def click(app: Any, slack: SlackRecorder, action_id: str, value: dict[str, Any], user: str) -> str:
    slack.clear()
    dispatch(app, interactivity_body({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": "CML"}, "trigger_id": "t",
        "container": {"message_ts": "1.1"}, "response_url": slack.response_url("click"),
        "actions": [{"action_id": action_id, "value": json.dumps(value)}]}))
    return slack_text(slack.calls("response_url")) + slack_text(slack.calls("chat.postEphemeral"))


def keep(app: Any, slack: SlackRecorder, instance_id: str, why: str, user: str = MEMBER) -> str:
    click(app, slack, "spend_keep", {"team": "ml", "night": NIGHT.isoformat(), "instance": instance_id}, user)
    [opened] = slack.calls("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["callback_id"] == "spend_keep_why" and instance_id in slack_text(view)
    slack.clear()
    dispatch(app, interactivity_body({
        "type": "view_submission", "user": {"id": user}, "view": {
            "id": "V1", "type": "modal", "callback_id": "spend_keep_why", "private_metadata": view["private_metadata"],
            "state": {"values": {"why": {"why": {"type": "plain_text_input", "value": why}}}}}}))
    return slack_text(slack.calls("chat.postEphemeral"))


def warning(slack: SlackRecorder) -> Any:
    [post] = [c for c in slack.calls("chat.postMessage", "CML") if not c.params.get("thread_ts")]
    return post


def thread(slack: SlackRecorder, post: Any) -> str:
    return slack_text([c for c in slack.calls("chat.postMessage", "CML")
                       if c.params.get("thread_ts") == post.response["ts"]])


# The warning and the run -------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_the_warning_lists_the_plan_and_the_run_stops_only_what_it_said(guarded, slack: SlackRecorder,
                                                                        aws: AwsProxy) -> None:
    services, _, clock = guarded()
    ids = fleet(aws)

    services.shutdown.tick()
    post = warning(slack)
    shown = slack_text([post])
    assert ids["train"] in shown and ids["eval"] in shown and "train-7b" in shown and "wei" in shown
    assert "$32.77" in shown  # p4d.24xlarge on demand
    assert ids["tagged"] in shown  # listed as kept by its tag
    assert ids["cpu"] not in shown and ids["other"] not in shown
    services.shutdown.tick()  # a second tick within the warning window says nothing more
    assert len([c for c in slack.calls("chat.postMessage", "CML") if not c.params.get("thread_ts")]) == 1

    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()

    assert [state(aws, ids[k]) for k in ("train", "eval", "tagged", "cpu", "other")] == \
        ["stopped", "stopped", "running", "running", "running"]
    assert aws.count("StopInstances") == 1  # one batch
    result = thread(slack, post)
    assert ids["train"] in result and ids["eval"] in result
    with services.sessions() as session:
        audited = {(a.action, a.target) for a in session.scalars(select(AuditLog))}
    assert {("spend.stop", ids["train"]), ("spend.stop", ids["eval"])} <= audited


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_a_second_run_or_a_second_replica_stops_nothing_twice(guarded, slack: SlackRecorder, aws: AwsProxy) -> None:
    services, _, clock = guarded()
    replica, _, replica_clock = guarded()
    ids = fleet(aws)
    services.shutdown.tick()
    clock.advance(timedelta(minutes=30))
    replica_clock.advance(timedelta(minutes=30))

    services.shutdown.tick()
    replica.shutdown.tick()
    services.shutdown.tick()
    aws.ec2.start_instances(InstanceIds=[ids["train"]])  # someone starts it again after the shutdown
    clock.advance(timedelta(minutes=10))
    services.shutdown.tick()
    replica.shutdown.tick()

    assert aws.count("StopInstances") == 1
    assert state(aws, ids["train"]) == "running"
    assert len(slack.calls("chat.postMessage", "CML")) == 2  # the warning and one result


def test_dry_run_is_the_default_plans_and_posts_but_stops_nothing(guarded, slack: SlackRecorder,
                                                                  aws: AwsProxy) -> None:
    services, _, clock = guarded(enabled=False)
    ids = fleet(aws)

    services.shutdown.tick()
    assert "dry" in slack_text([warning(slack)]).lower()
    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()

    assert aws.count("StopInstances") == 0
    assert state(aws, ids["train"]) == "running"
    assert ids["train"] in thread(slack, warning(slack))
    with services.sessions() as session:
        assert session.scalars(select(AuditLog.action).where(AuditLog.action == "spend.shutdown_dry_run")).first()


# The buttons ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_keep_running_tonight_records_who_and_why_and_the_run_leaves_it(guarded, slack: SlackRecorder,
                                                                        aws: AwsProxy) -> None:
    services, app, clock = guarded()
    ids = fleet(aws)
    services.shutdown.tick()
    post = warning(slack)

    answer = keep(app, slack, ids["train"], "eval run finishing at 3am <!channel>")
    assert ids["train"] in answer
    said = thread(slack, post)
    assert "eval run finishing at 3am" in said and "<!channel>" not in said
    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()

    assert state(aws, ids["train"]) == "running" and state(aws, ids["eval"]) == "stopped"
    assert "eval run finishing at 3am" in thread(slack, post)
    assert ids["train"] not in aws.bodies("StopInstances")[0]


def test_keep_is_refused_to_people_outside_the_team_and_too_late_after_the_stop(guarded, slack: SlackRecorder,
                                                                                  aws: AwsProxy) -> None:
    services, app, clock = guarded()
    ids = fleet(aws)
    services.shutdown.tick()

    refused = keep(app, slack, ids["train"], "mine", user=STRANGER)
    assert "S0ML" in refused and f"<@{ALLOWED}>" in refused
    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()
    assert state(aws, ids["train"]) == "stopped"
    late = keep(app, slack, ids["eval"], "too late?")
    assert "already" in late.lower()


def test_postpone_moves_tonight_two_hours_later(guarded, slack: SlackRecorder, aws: AwsProxy) -> None:
    services, app, clock = guarded()
    ids = fleet(aws)
    services.shutdown.tick()
    post = warning(slack)

    answer = click(app, slack, "spend_postpone", {"team": "ml", "night": NIGHT.isoformat()}, MEMBER)
    later = SHUTDOWN + timedelta(hours=2)
    assert f"{later:%H:%M}" in answer  # in the clicker's zone (UTC)
    assert f"{later.astimezone(SHANGHAI):%H:%M}" in thread(slack, post)  # in the team's
    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()
    assert state(aws, ids["train"]) == "running"
    clock.advance(timedelta(hours=2))
    services.shutdown.tick()
    assert state(aws, ids["train"]) == "stopped"


def test_stop_now_is_for_the_allowed_people_only(guarded, slack: SlackRecorder, aws: AwsProxy) -> None:
    services, app, _ = guarded()
    ids = fleet(aws)
    value = {"team": "ml", "night": NIGHT.isoformat()}

    refused = click(app, slack, "spend_stop_now", value, MEMBER)
    assert f"<@{ALLOWED}>" in refused and state(aws, ids["train"]) == "running"
    done = click(app, slack, "spend_stop_now", value, ALLOWED)
    assert ids["train"] in done and state(aws, ids["train"]) == "stopped"
    again = click(app, slack, "spend_stop_now", value, ALLOWED)
    assert "already" in again.lower() and aws.count("StopInstances") == 1
    with services.sessions() as session:
        assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "spend.stop")).first() == ALLOWED
        assert session.scalars(select(AuditLog.actor).where(AuditLog.action == "denied.stop_instances")).first() \
            == MEMBER


def test_an_instance_aws_refuses_is_named_with_its_error_and_the_rest_still_stop(guarded, slack: SlackRecorder,
                                                                                  aws: AwsProxy) -> None:
    services, _, clock = guarded()
    ids = fleet(aws)
    aws.fail("StopInstances", "UnauthorizedOperation", 403, when=ids["train"])
    services.shutdown.tick()
    clock.advance(timedelta(minutes=30))
    services.shutdown.tick()

    said = thread(slack, warning(slack))
    assert "UnauthorizedOperation" in said and ids["train"] in said
    assert state(aws, ids["eval"]) == "stopped" and state(aws, ids["train"]) == "running"


def test_slash_shutdown_shows_tonights_plan_and_stop_now_only_to_the_allowed(guarded, slack: SlackRecorder,
                                                                            aws: AwsProxy) -> None:
    _, app, _ = guarded()
    ids = fleet(aws)

    def spend(user: str) -> Any:
        slack.clear()
        dispatch(app, slash_command_body("/spend", "shutdown", user_id=user, channel_id="CML",
                                         response_url=slack.response_url("spend")))
        return slack.calls("response_url")

    member = spend(MEMBER)
    assert ids["train"] in slack_text(member) and "spend_stop_now" not in json.dumps(member[-1].params)
    boss = spend(ALLOWED)
    assert "spend_stop_now" in json.dumps(boss[-1].params)


# Busy GPUs ---------------------------------------------------------------------------------------------------
@pytest.mark.prometheus
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_instances_busy_on_their_gpus_are_kept_and_listed_as_busy(db_url: str, slack: SlackRecorder, aws: AwsProxy,
                                                                   tmp_path: Any,
                                                                   new_bot: Callable[..., tuple[Any, Any]]) -> None:
    """The instance is a Kubernetes node (its private DNS name), and DCGM says how busy its GPUs are."""
    from tests.support.dcgm import UTIL, BackfilledPrometheus, Gpu, constant
    from tests.support.kube_api import KubeApi, kubeconfig, node

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    busy = instance(aws.ec2, "p4d.24xlarge", {"team": "ml"})
    idle = instance(aws.ec2, "p4d.24xlarge", {"team": "ml"})
    dns = {i["InstanceId"]: i["PrivateDnsName"] for r in aws.ec2.describe_instances()["Reservations"]
           for i in r["Instances"]}
    gpus = [Gpu(dns[busy], str(n), metrics={UTIL: constant(91)}) for n in range(8)] + \
        [Gpu(dns[idle], str(n), metrics={UTIL: constant(3)}) for n in range(8)]
    settings = bot_config(teams=[team("ml", "CML", cost_tag="ml", shutdown_at=f"{end.astimezone(SHANGHAI):%H:%M}")],
                          cost_guards={"shutdown": {"enabled": True, "busy_gpu_pct": 50}})
    with BackfilledPrometheus(tmp_path / "prom", gpus, end) as prometheus, KubeApi() as kube:
        kube.put(node(dns[busy], 8, "NVIDIA-A100-SXM4-40GB"), node(dns[idle], 8, "NVIDIA-A100-SXM4-40GB"))
        services, _ = new_bot(db_url, slack, settings, FrozenClock(end), prometheus_url=prometheus.url,
                              kubeconfig=kubeconfig(tmp_path, kube.url))
        services.shutdown.tick()

    assert state(aws, busy) == "running" and state(aws, idle) == "stopped"
    said = slack_text(slack.calls("chat.postMessage", "CML"))
    assert busy in said and "91%" in said
