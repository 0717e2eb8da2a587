"""AwsClient for the cost guards, through real boto3 against moto_server behind the AwsProxy (`aws` fixture):
Cost Explorer grouping, filters, pages and throttling, forecasts, EC2 instances and batched stops, snapshots,
the AMIs that use them, Recycle Bin rules, permission probes, and refusals that name the IAM action."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.clients import ActionResult, CostAnswer, CostQuery, CostRow, Forecast, ImageUse, PermissionProbe, RecycleRule
from bot.clients.aws import AwsClient
from bot.clients.demo import DemoAws
from bot.clock import FrozenClock
from bot.retry import BackendError, Timeout, backend_error_text
from tests.support import aws_seed as seed
from tests.support.aws_proxy import AwsProxy, recycle_rule

START, END = date(2026, 2, 27), date(2026, 3, 2)
EC2_COMPUTE = "Amazon Elastic Compute Cloud - Compute"


def client(clock: FrozenClock | None = None) -> AwsClient:
    """Endpoint from AWS_ENDPOINT_URL (the proxy), as in production; short timeouts keep retries fast."""
    return AwsClient("us-east-1", timeout=Timeout(1.0, 2.0), clock=clock)


METRIC = "UnblendedCost"


def amount(usd: str) -> dict[str, Any]:
    return {METRIC: {"Amount": usd, "Unit": "USD"}}


def period(day: date, groups: Sequence[tuple[str, str]] = (), total: str | None = None) -> dict[str, Any]:
    return {"TimePeriod": {"Start": day.isoformat(), "End": (day + timedelta(days=1)).isoformat()},
            "Total": amount(total) if total is not None else {},
            "Groups": [{"Keys": [key], "Metrics": amount(usd)} for key, usd in groups], "Estimated": False}


def moto_states(aws: AwsProxy, ids: list[str]) -> dict[str, str]:
    answer = aws.ec2.describe_instances(InstanceIds=ids)
    return {i["InstanceId"]: i["State"]["Name"] for r in answer["Reservations"] for i in r["Instances"]}


# ---------------------------------------------------------------------- Cost Explorer


def test_costs_by_service_filtered_to_teams_send_dimension_grouping_and_tag_filter(aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([{"ResultsByTime": [
        period(START, [(EC2_COMPUTE, "900.5"), ("Amazon SageMaker", "120")]),
        period(START + timedelta(days=1), [(EC2_COMPUTE, "1000")]),
    ]}])

    answer = client().costs(CostQuery(START, END, group_kind="DIMENSION", group_key="SERVICE",
                                      tag_key="team", tag_values=("ml", "platform")))

    assert answer == CostAnswer(rows=(
        CostRow(START, EC2_COMPUTE, 900.5), CostRow(START, "Amazon SageMaker", 120.0),
        CostRow(START + timedelta(days=1), EC2_COMPUTE, 1000.0)), requests=1)
    assert aws.params("GetCostAndUsage") == [{
        "TimePeriod": {"Start": "2026-02-27", "End": "2026-03-02"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        "Filter": {"Tags": {"Key": "team", "Values": ["ml", "platform"], "MatchOptions": ["EQUALS"]}},
    }]


def test_costs_without_grouping_come_from_each_days_total(aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([{"ResultsByTime": [period(START, total="4300.25"),
                                                    period(START + timedelta(days=1), total="4100")]}])

    answer = client().costs(CostQuery(START, END, group_kind=None))

    assert answer.rows == (CostRow(START, None, 4300.25), CostRow(START + timedelta(days=1), None, 4100.0))
    assert "GroupBy" not in aws.params("GetCostAndUsage")[0]
    assert "Filter" not in aws.params("GetCostAndUsage")[0]


def test_costs_by_project_tag_follow_every_page_and_sum_a_day_split_across_pages(aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([
        {"ResultsByTime": [period(START, [("project$llm", "10"), ("project$", "1.5")])], "NextPageToken": "p2"},
        {"ResultsByTime": [period(START, [("project$llm", "5")])], "NextPageToken": "p3"},
        {"ResultsByTime": [period(START, [("project$eval", "2")])]},
    ])

    answer = client().costs(CostQuery(START, END, group_key="project"))

    assert answer == CostAnswer(rows=(CostRow(START, None, 1.5), CostRow(START, "eval", 2.0),
                                      CostRow(START, "llm", 15.0)), requests=3)
    assert [p.get("NextPageToken") for p in aws.params("GetCostAndUsage")] == [None, "p2", "p3"]
    assert aws.params("GetCostAndUsage")[0]["GroupBy"] == [{"Type": "TAG", "Key": "project"}]


def test_a_tag_filter_without_values_asks_nothing(aws: AwsProxy) -> None:
    assert client().costs(CostQuery(START, END, tag_key="team")) == CostAnswer(rows=(), requests=0)
    assert aws.count("GetCostAndUsage") == 0


def test_throttling_is_retried_and_counts_as_one_request(aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([{"ResultsByTime": [period(START, [("team$ml", "7")])]}])
    aws.fail("GetCostAndUsage", "ThrottlingException", 400, times=2)

    answer = client().costs(CostQuery(START, END))

    assert answer == CostAnswer(rows=(CostRow(START, "ml", 7.0),), requests=1)
    assert aws.count("GetCostAndUsage") == 3  # two throttled, then the answer


def test_throttling_beyond_the_retries_is_a_transient_throttled_error(aws: AwsProxy) -> None:
    aws.fail("GetCostAndUsage", "ThrottlingException", 400)

    with pytest.raises(BackendError) as failure:
        client().costs(CostQuery(START, END))

    assert (failure.value.code, failure.value.transient) == ("throttled", True)
    assert failure.value.reason == "Cost Explorer is throttling requests (ThrottlingException)"
    assert aws.count("GetCostAndUsage") == 3


def test_forecast_reads_the_total_and_sends_the_tag_filter(aws: AwsProxy) -> None:
    aws.queue_forecast(12345.67)

    assert client().forecast(date(2026, 3, 2), date(2026, 4, 1), "team", ("ml",)) == Forecast(12345.67, 1)
    assert aws.params("GetCostForecast") == [{
        "TimePeriod": {"Start": "2026-03-02", "End": "2026-04-01"},
        "Metric": "UNBLENDED_COST",
        "Granularity": "MONTHLY",
        "Filter": {"Tags": {"Key": "team", "Values": ["ml"], "MatchOptions": ["EQUALS"]}},
    }]


def test_forecast_without_enough_history_is_none(aws: AwsProxy, caplog: pytest.LogCaptureFixture) -> None:
    aws.forecast_unavailable()

    with caplog.at_level(logging.INFO, logger="bot.clients.aws"):
        assert client().forecast(date(2026, 3, 2), date(2026, 4, 1)) == Forecast(None, 1)

    assert "DataUnavailableException" in caplog.text
    assert "Filter" not in aws.params("GetCostForecast")[0]


@pytest.mark.parametrize("code, status", [("AccessDeniedException", 400), ("ValidationException", 400)])
def test_a_refused_forecast_is_none_not_an_error(aws: AwsProxy, code: str, status: int) -> None:
    aws.fail("GetCostForecast", code, status)

    assert client().forecast(date(2026, 3, 2), date(2026, 4, 1)) == Forecast(None, 1)
    assert aws.count("GetCostForecast") == 1


def test_forecast_from_moto_which_lacks_it_is_none(aws: AwsProxy) -> None:
    assert client().forecast(date(2026, 3, 2), date(2026, 4, 1)) == Forecast(None, 1)
    assert aws.count("GetCostForecast") == 3  # moto's HTTP 500 is retried like any server error


# ---------------------------------------------------------------------- instances


def test_instances_filter_by_state_and_tag_on_the_server_and_by_family_here(aws: AwsProxy) -> None:
    p4d = seed.instance(aws.ec2, "p4d.24xlarge", {"team": "ml", "owner": "wei", "Name": "pretrain-1"})
    g5 = seed.instance(aws.ec2, "g5.12xlarge", {"team": "ml"})
    seed.instance(aws.ec2, "m6i.large", {"team": "ml"})  # not a wanted family
    seed.stopped(aws.ec2, "g5.12xlarge", {"team": "ml"})  # not running
    seed.instance(aws.ec2, "g5.12xlarge", {"team": "platform"})  # another team
    seed.instance(aws.ec2, "g5.12xlarge")  # untagged

    found = client().instances(("running",), {"team": ("ml",)}, families=("p4d", "g5"))

    assert sorted(i.id for i in found) == sorted([p4d, g5])
    pretrain = next(i for i in found if i.id == p4d)
    assert (pretrain.type, pretrain.state, pretrain.family, pretrain.name) == (
        "p4d.24xlarge", "running", "p4d", "pretrain-1")
    assert pretrain.tags == {"team": "ml", "owner": "wei", "Name": "pretrain-1"}
    assert pretrain.launched.tzinfo is not None and pretrain.launched.utcoffset() == timedelta(0)
    assert abs(pretrain.launched - datetime.now(UTC)) < timedelta(minutes=5)
    assert pretrain.private_dns and pretrain.private_dns.endswith(".internal")
    sent = aws.params("DescribeInstances")[0]
    assert {k: v for k, v in sent.items() if k.startswith(("Filter", "MaxResults"))} == {
        "Filter.1.Name": "instance-state-name", "Filter.1.Value.1": "running",
        "Filter.2.Name": "tag:team", "Filter.2.Value.1": "ml",
        "MaxResults": "1000",
    }


def test_instances_of_every_state_and_a_tag_with_any_value(aws: AwsProxy) -> None:
    running = seed.instance(aws.ec2, "g6e.xlarge", {"keep-running": "true"})
    stopped = seed.stopped(aws.ec2, "p4d.24xlarge", {"keep-running": "yes"})
    seed.instance(aws.ec2, "g6e.xlarge")

    found = client().instances(states=(), tags={"keep-running": ()})

    assert {i.id: i.state for i in found} == {running: "running", stopped: "stopped"}
    sent = aws.params("DescribeInstances")[0]
    assert (sent["Filter.1.Name"], sent["Filter.1.Value.1"]) == ("tag-key", "keep-running")
    assert "Filter.2.Name" not in sent


# ---------------------------------------------------------------------- stopping instances


def test_stop_sends_at_most_50_ids_per_call(aws: AwsProxy) -> None:
    ids = seed.instances(aws.ec2, 120, "g5.12xlarge", {"team": "ml"})

    results = client().stop_instances(ids)

    assert results == [ActionResult(i, ok=True) for i in ids]
    assert [sum(1 for k in p if k.startswith("InstanceId.")) for p in aws.params("StopInstances")] == [50, 50, 20]
    assert set(moto_states(aws, ids).values()) == {"stopped"}


def test_a_batch_aws_refuses_is_retried_per_id_so_only_the_refused_one_fails(aws: AwsProxy) -> None:
    ids = seed.instances(aws.ec2, 3, "p4d.24xlarge", {"team": "ml"})
    long_message = "You are not authorized to perform this operation.\nEncoded authorization failure message: " \
                   + "x" * 400
    aws.fail("StopInstances", "UnauthorizedOperation", 403, when=ids[1], message=long_message)

    results = client().stop_instances(ids)

    assert [(r.id, r.ok, r.error) for r in results] == [
        (ids[0], True, None), (ids[1], False, "UnauthorizedOperation"), (ids[2], True, None)]
    message = results[1].message or ""
    assert message.startswith("You are not authorized to perform this operation. Encoded")
    assert len(message) <= 200 and "\n" not in message
    assert aws.count("StopInstances") == 1 + 3
    assert moto_states(aws, ids) == {ids[0]: "stopped", ids[1]: "running", ids[2]: "stopped"}


def test_an_unknown_id_fails_alone_with_awss_own_error(aws: AwsProxy) -> None:
    real = seed.instance(aws.ec2, "g5.12xlarge")
    gone = "i-0123456789abcdef0"

    results = client().stop_instances([real, gone])

    assert results[0] == ActionResult(real, ok=True)
    assert (results[1].ok, results[1].error) == (False, "InvalidInstanceID.NotFound")
    assert gone in (results[1].message or "")


def test_throttling_beyond_the_retries_after_a_stopped_batch_reports_the_rest_without_trying_them(
    aws: AwsProxy,
) -> None:
    ids = seed.instances(aws.ec2, 120, "g5.12xlarge")
    aws.fail("StopInstances", "RequestLimitExceeded", 503, when=ids[60])

    results = client().stop_instances(ids)

    assert results[:50] == [ActionResult(i, ok=True) for i in ids[:50]]
    assert {(r.ok, r.error) for r in results[50:]} == {(False, "RequestLimitExceeded")}
    assert [r.id for r in results] == ids
    assert aws.count("StopInstances") == 1 + 3  # the first batch, then three throttled tries of the second


def test_throttling_of_the_first_batch_raises(aws: AwsProxy) -> None:
    ids = seed.instances(aws.ec2, 2, "g5.12xlarge")
    aws.fail("StopInstances", "RequestLimitExceeded", 503)

    with pytest.raises(BackendError) as failure:
        client().stop_instances(ids)

    assert failure.value.code == "throttled"
    assert set(moto_states(aws, ids).values()) == {"running"}


# ---------------------------------------------------------------------- snapshots and AMIs


def test_snapshots_of_this_account(aws: AwsProxy) -> None:
    first = seed.snapshot(aws.ec2, 500, {"created-by": "pipeline", "pipeline": "nightly-train"}, "nightly run 42")
    second = seed.snapshot(aws.ec2, 8)

    found = {s.id: s for s in client().snapshots()}

    assert set(found) == {first, second}
    nightly = found[first]
    assert (nightly.gib, nightly.description, nightly.state) == (500, "nightly run 42", "completed")
    assert nightly.tags == {"created-by": "pipeline", "pipeline": "nightly-train"}
    assert nightly.started.utcoffset() == timedelta(0)
    assert (found[second].description, found[second].tags) == ("", {})
    sent = aws.params("DescribeSnapshots")[0]
    assert (sent["Owner.1"], sent["MaxResults"]) == ("self", "1000")


def test_images_using_asks_for_disabled_and_deprecated_amis_and_finds_a_disabled_amis_snapshot(
    aws: AwsProxy,
) -> None:
    image, used = seed.image_using(aws.ec2, disabled=True)
    seed.snapshot(aws.ec2, 100)  # used by nothing

    uses = client().images_using()

    assert uses == {used: ImageUse(image_id=image, state="disabled", deprecated=False)}
    sent = aws.params("DescribeImages")[0]
    assert (sent["IncludeDisabled"], sent["IncludeDeprecated"], sent["Owner.1"]) == ("true", "true", "self")


def describe_images_xml(images: list[tuple[str, str, str, str | None]], next_token: str | None = None) -> str:
    """A DescribeImages answer as EC2 sends it: (image id, state, snapshot id, deprecation time) each."""
    items = "".join(
        f"<item><imageId>{image}</imageId><imageState>{state}</imageState>"
        f"<blockDeviceMapping><item><deviceName>/dev/xvda</deviceName><ebs><snapshotId>{snap}</snapshotId>"
        f"<volumeSize>8</volumeSize></ebs></item></blockDeviceMapping>"
        + (f"<deprecationTime>{deprecation}</deprecationTime>" if deprecation else "") + "</item>"
        for image, state, snap, deprecation in images)
    token = f"<nextToken>{next_token}</nextToken>" if next_token else ""
    return (f'<DescribeImagesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>'
            f"<imagesSet>{items}</imagesSet>{token}</DescribeImagesResponse>")


def test_images_using_follows_pages_and_tells_deprecated_amis_by_the_clock(aws: AwsProxy) -> None:
    # moto neither pages DescribeImages nor knows deprecation: EC2's own answers, queued on the proxy
    aws.answer("DescribeImages", describe_images_xml([
        ("ami-0000000000000old", "available", "snap-00000000000000001", "2026-01-01T00:00:00.000Z"),
        ("ami-00000000000000new", "available", "snap-00000000000000002", "2026-06-01T00:00:00.000Z")], "t2"))
    aws.answer("DescribeImages", describe_images_xml([
        ("ami-00000000000000dis", "disabled", "snap-00000000000000003", None),
        ("ami-00000000000000av2", "available", "snap-00000000000000003", None)]))

    uses = client(FrozenClock(datetime(2026, 3, 1, tzinfo=UTC))).images_using()

    assert uses == {
        "snap-00000000000000001": ImageUse("ami-0000000000000old", "available", deprecated=True),
        "snap-00000000000000002": ImageUse("ami-00000000000000new", "available", deprecated=False),
        "snap-00000000000000003": ImageUse("ami-00000000000000av2", "available"),  # an available AMI wins
    }
    assert [p.get("NextToken") for p in aws.params("DescribeImages")] == [None, "t2"]


def test_delete_snapshot(aws: AwsProxy) -> None:
    snap = seed.snapshot(aws.ec2, 100)

    assert client().delete_snapshot(snap) == ActionResult(snap, ok=True)
    assert aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] == []


def test_delete_snapshot_in_use_is_a_result_naming_awss_error(aws: AwsProxy) -> None:
    snap = seed.snapshot(aws.ec2, 100)
    other = seed.snapshot(aws.ec2, 100)
    aws.fail("DeleteSnapshot", "InvalidSnapshot.InUse", when=snap,
             message=f"The snapshot {snap} is currently in use by ami-0abc")

    assert client().delete_snapshot(snap) == ActionResult(
        snap, ok=False, error="InvalidSnapshot.InUse", message=f"The snapshot {snap} is currently in use by ami-0abc")
    assert client().delete_snapshot(other).ok
    assert [s["SnapshotId"] for s in aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]] == [snap]


def test_delete_snapshot_throttled_beyond_the_retries_raises(aws: AwsProxy) -> None:
    aws.fail("DeleteSnapshot", "RequestLimitExceeded", 503)

    with pytest.raises(BackendError) as failure:
        client().delete_snapshot("snap-0123456789abcdef0")

    assert failure.value.code == "throttled" and aws.count("DeleteSnapshot") == 3


# ---------------------------------------------------------------------- Recycle Bin


def test_recycle_rules_in_force_read_page_by_page_with_their_tags(aws: AwsProxy) -> None:
    aws.recycle_rules([
        recycle_rule("rule-all", 7),
        recycle_rule("rule-pipeline", 30, {"created-by": "pipeline"}),
        recycle_rule("rule-pending", 90, status="pending"),
        recycle_rule("rule-except-keep", 14, exclude={"keep": "true"}),
        recycle_rule("rule-amis", 5, resource_type="EC2_IMAGE"),
    ], page_size=2)

    rules = client().recycle_rules()

    assert rules == [RecycleRule("rule-all", 7, {}), RecycleRule("rule-pipeline", 30, {"created-by": "pipeline"})]
    assert [p.get("NextToken") for p in aws.params("ListRules")] == [None, "2"]
    assert {p["ResourceType"] for p in aws.params("ListRules")} == {"EBS_SNAPSHOT"}
    assert aws.count("GetRule") == 4  # the AMI rule is not listed for EBS_SNAPSHOT


def test_no_recycle_rules_is_an_empty_list(aws: AwsProxy) -> None:
    aws.recycle_rules([])

    assert client().recycle_rules() == []


def test_recycle_rules_denied_are_unknown(aws: AwsProxy, caplog: pytest.LogCaptureFixture) -> None:
    aws.recycle_rules(None)

    with caplog.at_level(logging.WARNING, logger="bot.clients.aws"):
        assert client().recycle_rules() is None

    assert "AccessDeniedException on rbin:ListRules" in caplog.text


def test_recycle_rules_from_an_endpoint_without_recycle_bin_are_unknown(aws: AwsProxy) -> None:
    assert client().recycle_rules() is None  # moto has no rbin: HTTP 500, retried like any server error
    assert aws.count("ListRules") == 3


# ---------------------------------------------------------------------- permissions


def test_permissions_by_dry_run_when_simulation_is_unavailable(aws: AwsProxy) -> None:
    running = seed.instance(aws.ec2, "g5.12xlarge")
    aws.fail("DeleteSnapshot", "UnauthorizedOperation", 403, message="You are not authorized to perform this "
             "operation. User: arn:aws:sts::123456789012:assumed-role/emoji-ops/bot is not authorized")
    actions = ("ec2:StopInstances", "ec2:DeleteSnapshot", "ec2:DescribeInstances", "ec2:DescribeSnapshots",
               "ec2:DescribeImages", "ce:GetCostAndUsage", "rbin:ListRules", "iam:SimulatePrincipalPolicy")

    probes = client().permissions(actions)

    assert [(p.action, p.allowed, p.how) for p in probes] == [
        ("ec2:StopInstances", True, "dry-run"),
        ("ec2:DeleteSnapshot", False, "dry-run"),
        ("ec2:DescribeInstances", True, "dry-run"),
        ("ec2:DescribeSnapshots", True, "dry-run"),  # moto answers instead of DryRunOperation: still allowed
        ("ec2:DescribeImages", True, "dry-run"),
        ("ce:GetCostAndUsage", None, "call"),
        ("rbin:ListRules", None, "call"),
        ("iam:SimulatePrincipalPolicy", None, "call"),  # moto answers it with an HTML error page
    ]
    assert probes[1].detail.startswith("UnauthorizedOperation: You are not authorized")
    assert probes[5].detail == "not checked without iam:SimulatePrincipalPolicy"
    assert probes[7].detail.startswith("the simulation failed: unexpected answer from IAM")
    assert aws.count("SimulatePrincipalPolicy") == 1
    stop = aws.params("StopInstances")
    assert [(p["InstanceId.1"], p["DryRun"]) for p in stop] == [(running, "true")]
    assert {p["DryRun"] for p in aws.params("DeleteSnapshot")} == {"true"}
    assert not any(seen.service == "ce" for seen in aws.requests)  # Cost Explorer bills every call
    assert moto_states(aws, [running]) == {running: "running"}


def test_the_dry_run_of_stop_uses_a_made_up_id_when_nothing_runs(aws: AwsProxy) -> None:
    probe = client().permissions(("ec2:StopInstances",))

    assert probe == [PermissionProbe("ec2:StopInstances", True, "dry-run", "DryRunOperation")]
    assert aws.params("StopInstances")[0]["InstanceId.1"] == "i-0123456789abcdef0"


CALLER = """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>
<Arn>arn:aws:sts::123456789012:assumed-role/emoji-ops-bot/i-0abc</Arn><UserId>AROAEXAMPLE:i-0abc</UserId>
<Account>123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r</RequestId>
</ResponseMetadata></GetCallerIdentityResponse>"""


def simulation_xml(decisions: dict[str, str]) -> str:
    members = "".join(f"<member><EvalActionName>{action}</EvalActionName><EvalResourceName>*</EvalResourceName>"
                      f"<EvalDecision>{decision}</EvalDecision></member>" for action, decision in decisions.items())
    return ('<SimulatePrincipalPolicyResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
            f"<SimulatePrincipalPolicyResult><IsTruncated>false</IsTruncated><EvaluationResults>{members}"
            "</EvaluationResults></SimulatePrincipalPolicyResult><ResponseMetadata><RequestId>r</RequestId>"
            "</ResponseMetadata></SimulatePrincipalPolicyResponse>")


def test_permissions_by_simulating_the_role_behind_an_assumed_role_session(aws: AwsProxy) -> None:
    aws.answer("GetCallerIdentity", CALLER)
    aws.answer("SimulatePrincipalPolicy", simulation_xml(
        {"ec2:StopInstances": "allowed", "ce:GetCostAndUsage": "allowed", "rbin:ListRules": "implicitDeny"}))

    probes = client().permissions(("ec2:StopInstances", "ce:GetCostAndUsage", "rbin:ListRules"))

    assert probes == [PermissionProbe("ec2:StopInstances", True, "simulate", "allowed"),
                      PermissionProbe("ce:GetCostAndUsage", True, "simulate", "allowed"),
                      PermissionProbe("rbin:ListRules", False, "simulate", "implicitDeny")]
    sent = aws.params("SimulatePrincipalPolicy")[0]
    assert sent["PolicySourceArn"] == "arn:aws:iam::123456789012:role/emoji-ops-bot"
    assert [sent[f"ActionNames.member.{n}"] for n in (1, 2, 3)] == [
        "ec2:StopInstances", "ce:GetCostAndUsage", "rbin:ListRules"]
    assert aws.count("StopInstances") == 0 and aws.count("GetCostAndUsage") == 0


def test_simulation_denied_says_so_and_falls_back_to_dry_runs(aws: AwsProxy) -> None:
    aws.fail("SimulatePrincipalPolicy", "AccessDenied", 403)

    probes = client().permissions(("iam:SimulatePrincipalPolicy", "ec2:DescribeImages"))

    assert [(p.action, p.allowed, p.how) for p in probes] == [
        ("iam:SimulatePrincipalPolicy", False, "call"), ("ec2:DescribeImages", True, "dry-run")]


# ---------------------------------------------------------------------- refusals name the IAM action


def test_a_refused_describe_names_the_iam_action_the_policy_lacks(aws: AwsProxy) -> None:
    aws.fail("DescribeInstances", "UnauthorizedOperation", 403,
             message="You are not authorized to perform this operation.")

    with pytest.raises(BackendError) as failure:
        client().instances()

    error = failure.value
    assert (error.code, error.transient, error.params["what"]) == ("forbidden", False, "ec2:DescribeInstances")
    assert backend_error_text(error, "en") == (
        ":warning: Couldn't get an answer from AWS: EC2 denied access (UnauthorizedOperation); the bot's IAM policy "
        "lacks ec2:DescribeInstances (see deploy/iam-policy.json). Try again in a minute, or ask whoever runs the "
        "bot to run `python -m bot check`.")
    assert "ec2:DescribeInstances" in error.explain("zh-CN")
    assert aws.count("DescribeInstances") == 1  # a refusal is not retried


def test_cost_explorer_access_denied_names_ce_get_cost_and_usage(aws: AwsProxy) -> None:
    aws.fail("GetCostAndUsage", "AccessDeniedException", 400)

    with pytest.raises(BackendError) as failure:
        client().costs(CostQuery(START, END))

    assert failure.value.explain("en") == (
        "Cost Explorer denied access (AccessDeniedException); "
        "the bot's IAM policy lacks ce:GetCostAndUsage (see deploy/iam-policy.json)")


def test_proxy_bodies_are_what_boto3_sent(aws: AwsProxy) -> None:
    """The proxy's record is the wire body: the assertions above on params are about real requests."""
    sent: list[bytes] = []
    aws_client = client()
    aws_client.ce.meta.events.register("before-send.ce.GetCostAndUsage",
                                       lambda request, **_: sent.append(request.body))
    aws_client.costs(CostQuery(START, END))

    assert [json.loads(body) for body in sent] == aws.params("GetCostAndUsage")


# ---------------------------------------------------------------------- the demo twin


def test_demo_costs_split_the_same_spend_by_team_service_and_project() -> None:
    demo = DemoAws()
    by = {kind: demo.costs(CostQuery(START, END, group_kind=kind, group_key=key))  # type: ignore[arg-type]
          for kind, key in (("TAG", "team"), ("DIMENSION", "SERVICE"), (None, "team"))}
    projects = demo.costs(CostQuery(START, END, group_key="project", tag_key="team", tag_values=("ml",)))
    ml = demo.costs(CostQuery(START, END, group_key="team", tag_key="team", tag_values=("ml",)))

    def per_day(answer: CostAnswer) -> dict[date, float]:
        days: dict[date, float] = {}
        for row in answer.rows:
            days[row.day] = days.get(row.day, 0) + row.usd
        return {day: round(usd) for day, usd in days.items()}

    assert per_day(by["TAG"]) == per_day(by["DIMENSION"]) == per_day(by[None])
    assert per_day(projects) == per_day(ml)
    assert {row.key for row in by["TAG"].rows} == {"ml", "platform", None}
    assert EC2_COMPUTE in {row.key for row in by["DIMENSION"].rows}
    assert demo.requests == 5 and demo.forecast(END, END + timedelta(days=30)).usd
    assert demo.requests == 6


def test_demo_stop_and_delete_change_only_the_demos_state() -> None:
    now = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    demo = DemoAws(clock=FrozenClock(now))
    gpus = demo.instances(families=("p4d", "g5", "g6e"))
    in_use = next(iter(demo.images_using()))
    old = min(demo.snapshots(), key=lambda s: s.started)

    assert any(i.tags.get("keep-running") == "true" for i in gpus)
    assert {i.tags.get("team") for i in gpus} == {"ml", "platform"}
    assert all(i.launched < now for i in gpus)
    assert 40 <= (now - old.started).days <= 200
    assert [r.ok for r in demo.stop_instances([gpus[0].id, "i-0123456789abcdef0"])] == [True, False]
    assert gpus[0].id not in {i.id for i in demo.instances()}
    assert demo.delete_snapshot(in_use).error == "InvalidSnapshot.InUse"
    assert demo.delete_snapshot(old.id).ok and old.id not in {s.id for s in demo.snapshots()}
    assert DemoAws(recycle_days=None).recycle_rules() == [] and DemoAws().recycle_rules() == [
        RecycleRule("rbin-demo-ebs-snapshots", 7, {})]
    assert DemoAws().instances() != demo.instances()  # another demo starts afresh
