"""The test infrastructure works against the real servers (and the loopback stand-ins)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import sqlalchemy as sa
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from tests.support.fixture_http import FixtureServer, Request
from tests.support.servers import (
    AlertmanagerServer,
    FakeDcgmExporter,
    MotoServer,
    PostgresServer,
    PrometheusServer,
    alertmanager_config_for,
    dcgm_line,
    prometheus_config_for,
    require_binary,
)
from tests.support.signing import event_body, signed_headers, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.waiting import wait_until

GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"


# --------------------------------------------------------------------------- PostgreSQL


@pytest.mark.postgres
def test_postgres_answers_a_query(pg_url: str) -> None:
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("select 1")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_fresh_databases_are_isolated(postgres: PostgresServer, pg_url: str) -> None:
    other_url = postgres.create_database("smoke_other")
    first, other = sa.create_engine(pg_url), sa.create_engine(other_url)
    try:
        with first.begin() as conn:
            conn.execute(sa.text("create table only_here (id int)"))
        assert sa.inspect(first).has_table("only_here")
        assert not sa.inspect(other).has_table("only_here")
    finally:
        first.dispose()
        other.dispose()
        postgres.drop_database("smoke_other")


# --------------------------------------------------------------------------- Prometheus


def _avg_util(prometheus: PrometheusServer) -> float | None:
    result = prometheus.query(f"avg({GPU_UTIL})")
    return float(result[0]["value"][1]) if result else None


@pytest.mark.prometheus
def test_prometheus_scrapes_the_fake_dcgm_exporter(tmp_path: Path, fake_dcgm: FakeDcgmExporter) -> None:
    fake_dcgm.set_lines([dcgm_line(GPU_UTIL, 80, gpu="0"), dcgm_line(GPU_UTIL, 90, gpu="1", pod="train-1")])
    config = prometheus_config_for([fake_dcgm.target])
    with PrometheusServer(tmp_path, config) as prometheus:
        [sample] = prometheus.wait_for_query(f"avg({GPU_UTIL})", timeout=20)
        assert float(sample["value"][1]) == 85.0

        fake_dcgm.set_lines([dcgm_line(GPU_UTIL, 10, gpu="0"), dcgm_line(GPU_UTIL, 20, gpu="1")])
        wait_until(lambda: _avg_util(prometheus) == 15.0, 10, message="avg after the exporter changed")


# --------------------------------------------------------------------------- Alertmanager


def _alert(ends_at: datetime | None = None) -> dict[str, Any]:
    now = datetime.now(UTC)
    alert: dict[str, Any] = {
        "labels": {"alertname": "GPUIdle", "severity": "warning", "Hostname": "node-1"},
        "annotations": {"summary": "GPU idle"},
        "startsAt": (now - timedelta(minutes=1)).isoformat(),
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


@pytest.mark.prometheus
def test_alertmanager_delivers_firing_then_resolved(tmp_path: Path, http_fixtures: FixtureServer) -> None:
    http_fixtures.add("POST", "/alerts", {"status": "ok"})
    config = alertmanager_config_for(f"{http_fixtures.url}/alerts")
    with AlertmanagerServer(tmp_path, config) as alertmanager:
        alertmanager.post_alerts([_alert()])
        [firing] = http_fixtures.wait_for("POST", "/alerts", timeout=10)
        _assert_webhook(firing, "firing")

        alertmanager.post_alerts([_alert(ends_at=datetime.now(UTC) - timedelta(seconds=1))])
        resolved = http_fixtures.wait_for("POST", "/alerts", count=2, timeout=10)[-1]
        _assert_webhook(resolved, "resolved")


def _assert_webhook(request: Request, status: str) -> None:
    payload = request.json()
    assert payload["version"] == "4"
    assert payload["status"] == status
    assert payload["alerts"][0]["labels"]["alertname"] == "GPUIdle"


# --------------------------------------------------------------------------- moto (AWS)


def test_moto_lists_an_instance_created_through_boto3(moto_clean: MotoServer) -> None:
    ec2 = boto3.client("ec2", endpoint_url=moto_clean.url)  # credentials and region from moto_clean's env
    ec2.run_instances(
        ImageId="ami-12345678",
        MinCount=1,
        MaxCount=1,
        InstanceType="p4d.24xlarge",
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "ml"}]}],
    )
    reservations = ec2.describe_instances(Filters=[{"Name": "tag:team", "Values": ["ml"]}])["Reservations"]
    [instance] = [i for r in reservations for i in r["Instances"]]
    assert instance["InstanceType"] == "p4d.24xlarge"


def test_moto_serves_queued_cost_explorer_answers(moto_clean: MotoServer) -> None:
    group = {"Keys": ["team$ml"], "Metrics": {"UnblendedCost": {"Amount": "42.5", "Unit": "USD"}}}
    period = {"Start": "2024-01-01", "End": "2024-01-02"}
    moto_clean.queue_cost_results([{"ResultsByTime": [{"TimePeriod": period, "Groups": [group]}]}])
    ce = moto_clean.boto3_client("ce")
    answer = ce.get_cost_and_usage(TimePeriod=period, Granularity="DAILY", Metrics=["UnblendedCost"])
    assert answer["ResultsByTime"][0]["Groups"][0]["Keys"] == ["team$ml"]


# --------------------------------------------------------------------------- Slack


def test_slack_recorder_records_a_post_message(slack: SlackRecorder) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    response = client.chat_postMessage(channel="C1", text="hello 🔥")
    [call] = slack.calls("chat.postMessage")
    assert call.params["text"] == "hello 🔥"
    assert call.token == "xoxb-test"
    assert response["ts"] == call.response["ts"]
    assert client.auth_test()["user_id"] == "UBOT"


def test_slack_client_retries_after_a_429(slack: SlackRecorder) -> None:
    slack.fail_next("chat.postMessage", status=429, retry_after=1)
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    assert client.chat_postMessage(channel="C1", text="again")["ok"]
    first, second = slack.wait_for("chat.postMessage", count=2)
    assert (first.status, first.response["error"]) == (429, "ratelimited")
    assert second.status == 200


def test_slack_recorder_serves_file_uploads(slack: SlackRecorder) -> None:
    client = WebClient(token="xoxb-test", base_url=slack.base_url)
    response = client.files_upload_v2(
        channel="C1", content="gpu report", filename="report.txt", title="Report"
    )
    assert response["file"]["title"] == "Report"
    [upload] = slack.calls("file_upload")
    assert upload.body == b"gpu report"


def test_signed_requests_verify(slack: SlackRecorder) -> None:
    verifier = SignatureVerifier("secret")
    command = slash_command_body("/gpu", "status", response_url=slack.response_url("x"))
    event = event_body({"type": "reaction_added", "reaction": "fire"})
    assert verifier.is_valid_request(command, signed_headers("secret", command))
    assert verifier.is_valid_request(event, signed_headers("secret", event))
    assert signed_headers("secret", event)["Content-Type"] == "application/json"
    assert not verifier.is_valid_request(event, signed_headers("other", event))
    assert json.loads(event)["type"] == "event_callback"


# --------------------------------------------------------------------------- missing binaries


def test_missing_binary_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y nothing"):
        require_binary("no-such-binary-here", "apt-get install -y nothing")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="no-such-binary-here"):
        require_binary("no-such-binary-here", "apt-get install -y nothing")
