"""Stale pipeline snapshots and the 💸🔥 burn rate through the real Bolt app, real boto3 against moto_server behind
the AWS proxy (Recycle Bin rules, refusals, backdated snapshots), real SQLite and PostgreSQL, and `check`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.check import WARN, _cost_guards
from bot.clock import FrozenClock
from bot.store.models import AuditLog
from tests.support.aws_proxy import AwsProxy, recycle_rule
from tests.support.aws_seed import disable, image_using, instance, snapshot, tag
from tests.support.config import bot_config, team
from tests.support.inprocess import dispatch
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

REAL = datetime.now(UTC).replace(microsecond=0)
ALLOWED, STRANGER = "UBOSS", "UMALLORY"
PIPELINE = {"created-by": "pipeline", "team": "ml"}
CONFIG = bot_config(teams=[team("ml", "CML", cost_tag="ml", burn_cups_per_hour=5),
                           team("web", "CWEB", cost_tag="web", language="zh-CN")],
                    admins=["UADMIN"], cost_guards={"allowed": [ALLOWED]})


@pytest.fixture
def bot(db_url: str, slack: SlackRecorder, aws: AwsProxy, new_bot: Callable[..., tuple[Any, Any]]) -> Any:
    return new_bot(db_url, slack, CONFIG, FrozenClock(REAL))


def command(app: Any, slack: SlackRecorder, text: str, channel: str = "CML", user: str = "UALICE") -> Any:
    slack.clear()
    dispatch(app, slash_command_body("/spend", text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("spend")))
    return slack.calls("response_url")[-1]


def stale(aws: AwsProxy) -> dict[str, str]:
    made = {
        "old": snapshot(aws.ec2, 500, {**PIPELINE, "pipeline": "nightly-train"}, "nightly run 17"),
        "older": snapshot(aws.ec2, 100, {**PIPELINE, "pipeline": "nightly-train"}, "nightly run 3"),
        "ci": snapshot(aws.ec2, 50, {"team": "ml"}, "Created by CI for build 1142"),
        "young": snapshot(aws.ec2, 300, PIPELINE, "yesterday's run"),
        "manual": snapshot(aws.ec2, 1000, {"team": "ml"}, "before the migration"),
        "web": snapshot(aws.ec2, 70, {"created-by": "pipeline", "team": "web"}),
    }
    ami, used = image_using(aws.ec2, "pipeline-ami-v3")
    tag(aws.ec2, used, PIPELINE)
    disable(aws.ec2, ami)  # real EC2 hides it unless asked IncludeDisabled: Cloud Custodian's miss
    made["ami"] = used
    for key, days in {"old": 200, "older": 45, "ci": 60, "manual": 90, "web": 40, "ami": 120}.items():
        aws.backdate(made[key], REAL - timedelta(days=days))
    return made


def delete_modal(app: Any, slack: SlackRecorder, report: Any, user: str) -> dict[str, Any]:
    [button] = [e for b in report.params["blocks"] if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == "spend_snapshots_delete"]
    slack.clear()
    dispatch(app, interactivity_body({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": "CML"}, "trigger_id": "t",
        "container": {"message_ts": "1700000000.000100"}, "response_url": slack.response_url("click"),
        "actions": [{"action_id": "spend_snapshots_delete", "value": button["value"]}]}))
    [opened] = slack.calls("views.open")
    view = opened.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def confirm(app: Any, slack: SlackRecorder, view: dict[str, Any], user: str) -> str:
    slack.clear()
    dispatch(app, interactivity_body({"type": "view_submission", "user": {"id": user}, "view": {
        "id": "V2", "type": "modal", "callback_id": view["callback_id"], "private_metadata": view["private_metadata"],
        "state": {"values": {}}}}))
    return slack_text(slack.calls("chat.postEphemeral"))


def existing(aws: AwsProxy) -> set[str]:
    return {s["SnapshotId"] for s in aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}


# Snapshots -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_report_counts_old_unused_pipeline_snapshots_only(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    made = stale(aws)
    aws.recycle_rules([recycle_rule("keep-7", 7)])

    report = command(bot[1], slack, "snapshots")
    text = slack_text([report])

    assert all(made[k] in text for k in ("old", "older", "ci"))
    assert all(made[k] not in text for k in ("young", "manual", "web", "ami"))
    assert "650" in text and "$32.50" in text  # GiB and $/month at $0.05
    assert "nightly-train" in text and "7" in text  # grouped by pipeline; Recycle Bin keeps them 7 days
    [images] = aws.params("DescribeImages")
    assert images.get("IncludeDisabled") == "true" and images.get("IncludeDeprecated") == "true"
    assert '"PolicyType"' in text or "PolicyType" in text  # the DLM policy that would have prevented it


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_delete_asks_checks_permission_then_deletes_one_by_one_and_never_twice(bot, slack: SlackRecorder,
                                                                                aws: AwsProxy) -> None:
    services, app = bot
    made = stale(aws)
    aws.recycle_rules([])
    report = command(app, slack, "snapshots")

    view = delete_modal(app, slack, report, STRANGER)
    listed = slack_text(view)
    assert all(made[k] in listed for k in ("old", "older", "ci")) and "final" in listed.lower()
    refused = confirm(app, slack, view, STRANGER)
    assert f"<@{ALLOWED}>" in refused and aws.count("DeleteSnapshot") == 0

    aws.fail("DeleteSnapshot", "IncorrectState", when=made["older"])
    done = confirm(app, slack, view, ALLOWED)

    told = slack_text([c for c in slack.calls("chat.postMessage", "CML") if c.params.get("thread_ts")])
    assert f"<@{ALLOWED}>" in told and "$27.50" in told  # the team sees it in the report's thread
    assert made["older"] in done and "IncorrectState" in done
    assert "$27.50" in done  # (500 + 50) GiB × $0.05 a month
    assert existing(aws) & {made["old"], made["ci"]} == set() and made["older"] in existing(aws)
    assert made["ami"] in existing(aws) and made["young"] in existing(aws)
    assert confirm(app, slack, view, ALLOWED) and aws.count("DeleteSnapshot") == 3  # a second submit: nothing
    with services.sessions() as session:
        audited = [(a.action, a.target, a.actor) for a in session.scalars(select(AuditLog).order_by(AuditLog.id))]
    assert ("spend.delete_snapshot", made["old"], ALLOWED) in audited
    assert ("spend.delete_snapshot_failed", made["older"], ALLOWED) in audited
    assert ("denied.delete_snapshots", audited[0][1], STRANGER) == audited[0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_weekly_report_posts_once_a_week_with_its_own_delete_button(bot, slack: SlackRecorder,
                                                                        aws: AwsProxy) -> None:
    services, _ = bot
    stale(aws)

    services.snapshots.weekly()
    services.snapshots.weekly()

    [post] = slack.calls("chat.postMessage", "CML")
    assert "spend_snapshots_delete" in json.dumps(post.params["blocks"])
    [web] = slack.calls("chat.postMessage", "CWEB")  # each team gets its own, in its language
    assert any("\u4e00" <= ch <= "\u9fff" for ch in slack_text([web]))


# Burn rate -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
def test_burn_posts_once_per_crossing_says_back_under_and_waits_out_the_cooldown(bot, slack: SlackRecorder,
                                                                                aws: AwsProxy) -> None:
    services, _ = bot
    clock: FrozenClock = services.clock
    gpu = instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "wei", "Name": "train-7b"})
    instance(aws.ec2, "g5.xlarge", {"team": "web"})

    services.burn.check()
    services.burn.check()
    [post] = slack.calls("chat.postMessage", "CML")
    text = slack_text([post])
    assert "💸🔥" in text and "$32.77" in text and "6.6" in text and gpu in text and "wei" in text
    assert not slack.calls("chat.postMessage", "CWEB")

    aws.ec2.stop_instances(InstanceIds=[gpu])
    services.burn.check()
    [reply] = [c for c in slack.calls("chat.postMessage", "CML") if c.params.get("thread_ts")]
    assert reply.params["thread_ts"] == post.response["ts"]

    aws.ec2.start_instances(InstanceIds=[gpu])
    clock.advance(timedelta(minutes=30))
    services.burn.check()
    assert len(slack.calls("chat.postMessage", "CML")) == 2  # inside the 2 h cooldown
    clock.advance(timedelta(hours=2))
    services.burn.check()
    assert len(slack.calls("chat.postMessage", "CML")) == 3


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_burn_on_demand_by_command_and_by_money_and_fire(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    _, app = bot
    gpu = instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "wei"})

    shown = slack_text([command(app, slack, "burn")])
    assert gpu in shown and "$32.77" in shown and "💸🔥" in shown

    slack.clear()
    for name in ("money_with_wings", "fire"):
        dispatch(app, event_body({"type": "reaction_added", "user": "UALICE", "reaction": name, "item_user": "U0",
                                  "item": {"type": "message", "channel": "CML", "ts": "1700000000.000200"},
                                  "event_ts": "1.0"}))
    [answer] = slack.calls("chat.postMessage", "CML")
    assert answer.params["thread_ts"] == "1700000000.000200" and gpu in slack_text([answer])


# check -------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_check_reports_denied_actions_and_selectors_matching_nothing(bot, aws: AwsProxy) -> None:
    services, _ = bot
    instance(aws.ec2, "p4d.24xlarge", {"team": "ml"})
    aws.fail("DeleteSnapshot", "UnauthorizedOperation", 403)

    rows = {row.name: row for row in _cost_guards(services)}

    assert rows["aws permissions"].status == WARN and "ec2:DeleteSnapshot" in rows["aws permissions"].detail
    assert "ec2:StopInstances" not in rows["aws permissions"].detail
    assert rows["shutdown selectors"].status == WARN and "web" in rows["shutdown selectors"].detail
    assert "0 request(s) today" in rows["cost explorer"].detail
    assert aws.count("GetCostAndUsage") == 0  # check never spends money on Cost Explorer
