"""The AwsProxy test helper itself: it forwards to moto unchanged, names and counts actions of every protocol,
injects errors that botocore parses as AWS's own, and answers what moto lacks (forecast, Recycle Bin)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import aws_seed as seed
from tests.support.aws_proxy import AwsProxy, recycle_rule
from tests.support.servers import MotoServer

NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=5)
PERIOD = {"Start": "2026-03-01", "End": "2026-04-01"}


def through(aws: AwsProxy, service: str) -> Any:
    """A boto3 client of `service` that reaches the proxy through AWS_ENDPOINT_URL, without botocore retries."""
    return boto3.client(service, region_name="us-east-1", config=NO_RETRIES)  # type: ignore[call-overload]


def error_of(call: Any, **params: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as failure:
        call(**params)
    response = failure.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_requests_go_to_moto_unchanged_and_are_recorded(aws: AwsProxy) -> None:
    ids = seed.instances(aws.ec2, 2, "g5.12xlarge", {"team": "ml"})
    ec2 = through(aws, "ec2")
    sent: list[bytes] = []

    def record(request: Any, **_: Any) -> None:
        sent.append(request.body if isinstance(request.body, bytes) else request.body.encode())

    ec2.meta.events.register("before-send.ec2.DescribeInstances", record)

    answer = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": ["ml"]}])

    assert sorted(i["InstanceId"] for r in answer["Reservations"] for i in r["Instances"]) == sorted(ids)
    assert [seen.body.encode() for seen in aws.requests] == sent
    assert [(seen.action, seen.service) for seen in aws.requests] == [("DescribeInstances", "ec2")]


def test_the_same_request_through_the_proxy_and_straight_to_moto_gets_the_same_answer(aws: AwsProxy) -> None:
    form = {"Action": "DescribeRegions", "Version": "2016-11-15"}
    headers = {"Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260301/us-east-1/ec2/aws4_request, "
                                "SignedHeaders=host, Signature=0"}

    direct = requests.post(aws.moto.url + "/", data=form, headers=headers, timeout=10)
    proxied = requests.post(aws.url + "/", data=form, headers=headers, timeout=10)

    assert (proxied.status_code, proxied.content) == (direct.status_code, direct.content)
    assert proxied.headers["Content-Type"] == direct.headers["Content-Type"]
    assert aws.count("DescribeRegions") == 1


def test_actions_are_named_for_every_protocol(aws: AwsProxy) -> None:
    aws.recycle_rules([recycle_rule("r-1", 7)])
    through(aws, "sts").get_caller_identity()  # query
    through(aws, "ce").get_cost_and_usage(TimePeriod=PERIOD, Granularity="DAILY", Metrics=["UnblendedCost"])  # json
    through(aws, "rbin").list_rules(ResourceType="EBS_SNAPSHOT")  # rest-json, literal path
    through(aws, "rbin").get_rule(Identifier="r-1")  # rest-json, path with a parameter

    assert [(seen.service, seen.action) for seen in aws.requests] == [
        ("sts", "GetCallerIdentity"), ("ce", "GetCostAndUsage"), ("rbin", "ListRules"), ("rbin", "GetRule")]
    assert aws.params("GetCostAndUsage")[0]["Granularity"] == "DAILY"


def test_injected_errors_parse_as_aws_errors_of_each_protocol(aws: AwsProxy) -> None:
    aws.fail("DescribeSnapshots", "RequestLimitExceeded", 503)
    aws.fail("GetCallerIdentity", "ExpiredToken", 403)
    aws.fail("GetCostAndUsage", "LimitExceededException", 400)
    aws.fail("ListRules", "AccessDeniedException", 403)

    assert error_of(through(aws, "ec2").describe_snapshots) == ("RequestLimitExceeded", 503)
    assert error_of(through(aws, "sts").get_caller_identity) == ("ExpiredToken", 403)
    assert error_of(through(aws, "ce").get_cost_and_usage, TimePeriod=PERIOD, Granularity="DAILY",
                    Metrics=["UnblendedCost"]) == ("LimitExceededException", 400)
    assert error_of(through(aws, "rbin").list_rules, ResourceType="EBS_SNAPSHOT") == ("AccessDeniedException", 403)


def test_a_fault_applies_only_to_bodies_containing_when_and_only_times_times(aws: AwsProxy) -> None:
    first, second = seed.instances(aws.ec2, 2)
    ec2 = through(aws, "ec2")
    aws.fail("StopInstances", "UnauthorizedOperation", 403, when=first, times=1, message="no\nway")

    with pytest.raises(ClientError) as refused:
        ec2.stop_instances(InstanceIds=[first])
    ec2.stop_instances(InstanceIds=[second])  # not matching: goes to moto
    ec2.stop_instances(InstanceIds=[first])  # the fault was used up

    assert refused.value.response["Error"]["Message"] == "no\nway"
    assert aws.count("StopInstances") == 3
    assert {i["State"]["Name"] for r in aws.ec2.describe_instances()["Reservations"] for i in r["Instances"]} == {
        "stopped"}


def test_heal_forgets_faults(aws: AwsProxy) -> None:
    aws.fail("DescribeImages", "UnauthorizedOperation", 403)
    aws.heal()

    assert through(aws, "ec2").describe_images(Owners=["self"])["Images"] == []


def test_forecasts_are_answered_from_the_queue_then_by_moto(aws: AwsProxy) -> None:
    ce = through(aws, "ce")
    aws.queue_forecast(1234.5)
    aws.forecast_unavailable()

    first = ce.get_cost_forecast(TimePeriod=PERIOD, Metric="UNBLENDED_COST", Granularity="MONTHLY")
    assert first["Total"] == {"Amount": "1234.5", "Unit": "USD"}
    assert error_of(ce.get_cost_forecast, TimePeriod=PERIOD, Metric="UNBLENDED_COST",
                    Granularity="MONTHLY") == ("DataUnavailableException", 400)
    assert error_of(ce.get_cost_forecast, TimePeriod=PERIOD, Metric="UNBLENDED_COST",
                    Granularity="MONTHLY")[1] == 500  # moto does not implement it
    assert aws.count("GetCostForecast") == 3


def test_recycle_bin_lists_summaries_by_page_and_gets_each_rule(aws: AwsProxy) -> None:
    aws.recycle_rules([recycle_rule("r-1", 7), recycle_rule("r-2", 30, {"created-by": "pipeline"})], page_size=1)
    rbin = through(aws, "rbin")

    first = rbin.list_rules(ResourceType="EBS_SNAPSHOT")
    second = rbin.list_rules(ResourceType="EBS_SNAPSHOT", NextToken=first["NextToken"])
    rule = rbin.get_rule(Identifier="r-2")

    assert [r["Identifier"] for r in first["Rules"] + second["Rules"]] == ["r-1", "r-2"]
    assert "NextToken" not in second and "ResourceTags" not in second["Rules"][0]  # as ListRules answers
    assert rule["ResourceTags"] == [{"ResourceTagKey": "created-by", "ResourceTagValue": "pipeline"}]
    assert rule["RetentionPeriod"] == {"RetentionPeriodValue": 30, "RetentionPeriodUnit": "DAYS"}
    assert error_of(rbin.get_rule, Identifier="r-9") == ("ResourceNotFoundException", 404)
    assert rbin.list_rules(ResourceType="EC2_IMAGE")["Rules"] == []


def test_recycle_bin_denied_and_not_set_up(aws: AwsProxy) -> None:
    rbin = through(aws, "rbin")
    assert error_of(rbin.list_rules, ResourceType="EBS_SNAPSHOT")[1] == 500  # like moto, which lacks rbin

    aws.recycle_rules(None)

    assert error_of(rbin.list_rules, ResourceType="EBS_SNAPSHOT") == ("AccessDeniedException", 403)


def test_canned_answers_are_used_once_each(aws: AwsProxy) -> None:
    aws.answer("GetCallerIdentity", """<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<GetCallerIdentityResult><Arn>arn:aws:sts::210987654321:assumed-role/bot/s</Arn><UserId>AROA:s</UserId>
<Account>210987654321</Account></GetCallerIdentityResult></GetCallerIdentityResponse>""")
    sts = through(aws, "sts")

    assert sts.get_caller_identity()["Account"] == "210987654321"
    assert sts.get_caller_identity()["Account"] == "123456789012"  # moto's


def test_seeding_through_aws_ec2_is_not_counted(aws: AwsProxy, moto_clean: MotoServer) -> None:
    image, used = seed.image_using(aws.ec2, disabled=True)
    snap = seed.snapshot(aws.ec2, 42, {"pipeline": "nightly"}, "nightly")

    assert aws.requests == []
    described = aws.ec2.describe_images(ImageIds=[image])["Images"][0]
    assert described["State"] == "disabled"
    assert {s["SnapshotId"] for s in aws.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]} == {used, snap}
    assert aws.moto is moto_clean


def test_backdated_snapshots_and_instances_say_so_and_no_other(aws: AwsProxy) -> None:
    old, new = seed.snapshot(aws.ec2, 10, {"x": "1"}), seed.snapshot(aws.ec2, 20)
    kept, launched = seed.instance(aws.ec2, "p4d.24xlarge"), seed.instance(aws.ec2, "g5.xlarge")
    aws.backdate(old, datetime(2026, 1, 2, 3, 4, tzinfo=UTC))
    aws.backdate(launched, datetime(2025, 5, 6, tzinfo=UTC))
    ec2 = boto3.client("ec2", endpoint_url=aws.url, region_name="us-east-1")

    started = {s["SnapshotId"]: s["StartTime"] for s in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]}
    launch = {i["InstanceId"]: i["LaunchTime"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}

    assert started[old] == datetime(2026, 1, 2, 3, 4, tzinfo=UTC) and started[new].year >= 2026
    assert started[new] != started[old]
    assert launch[launched] == datetime(2025, 5, 6, tzinfo=UTC) and launch[kept] != launch[launched]
