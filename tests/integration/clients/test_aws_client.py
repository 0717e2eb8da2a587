"""AwsClient against a real moto_server answering queued Cost Explorer results."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from bot.clients import CostAnswer, CostQuery, CostRow
from bot.clients.aws import AwsClient
from bot.retry import BackendError
from tests.support.servers import MotoServer, free_port

START, END = date(2026, 2, 27), date(2026, 3, 2)


def group(team_key: str, usd: str) -> dict[str, Any]:
    return {"Keys": [team_key], "Metrics": {"UnblendedCost": {"Amount": usd, "Unit": "USD"}}}


def day(start: date, *groups: dict[str, Any]) -> dict[str, Any]:
    period = {"Start": start.isoformat(), "End": (start + timedelta(days=1)).isoformat()}
    return {"TimePeriod": period, "Total": {}, "Groups": list(groups), "Estimated": False}


PAGE_1 = {
    "GroupDefinitions": [{"Type": "TAG", "Key": "team"}],
    "ResultsByTime": [day(date(2026, 2, 27), group("team$ml", "1200.50"), group("team$", "80.25")),
                      day(date(2026, 2, 28), group("team$ml", "1300"))],
    "NextPageToken": "page-2",
}
PAGE_2 = {
    "GroupDefinitions": [{"Type": "TAG", "Key": "team"}],
    "ResultsByTime": [day(date(2026, 2, 28), group("team$platform", "240"), group("team$", "19.75")),
                      day(date(2026, 3, 1), group("team$ml", "3840"), group("team$platform", "240"))],
}


@pytest.fixture
def sent(moto_clean: MotoServer) -> list[dict[str, Any]]:
    """Queue the two pages; the list collects every GetCostAndUsage request body sent."""
    moto_clean.queue_cost_results([PAGE_1, PAGE_2])
    return []


def counting(client: AwsClient, sent: list[dict[str, Any]]) -> AwsClient:
    def record(request: Any, **_: Any) -> None:
        sent.append(json.loads(request.body))

    client.ce.meta.events.register("before-send.ce.GetCostAndUsage", record)
    return client


def test_costs_per_team_and_day_follow_every_page(sent: list[dict[str, Any]]) -> None:
    aws = counting(AwsClient("us-east-1"), sent)  # endpoint from AWS_ENDPOINT_URL, as in production

    answer = aws.costs(CostQuery(START, END))

    assert answer == CostAnswer(rows=(
        CostRow(date(2026, 2, 27), None, 80.25), CostRow(date(2026, 2, 27), "ml", 1200.5),
        CostRow(date(2026, 2, 28), None, 19.75), CostRow(date(2026, 2, 28), "ml", 1300.0),
        CostRow(date(2026, 2, 28), "platform", 240.0),
        CostRow(date(2026, 3, 1), "ml", 3840.0), CostRow(date(2026, 3, 1), "platform", 240.0),
    ), requests=2)
    assert [body.get("NextPageToken") for body in sent] == [None, "page-2"]


def test_request_asks_for_daily_unblended_cost_grouped_by_the_team_tag(sent: list[dict[str, Any]]) -> None:
    counting(AwsClient("us-east-1"), sent).costs(CostQuery(START, END, group_key="cost-center"))

    assert sent[0] == {
        "TimePeriod": {"Start": "2026-02-27", "End": "2026-03-02"},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "GroupBy": [{"Type": "TAG", "Key": "cost-center"}],
    }


def test_explicit_endpoint_url_is_used(moto_clean: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    moto_clean.queue_cost_results([{"ResultsByTime": [day(START, group("team$ml", "1"))]}])

    assert AwsClient("us-east-1", endpoint_url=moto_clean.url).costs(CostQuery(START, END)).rows == (
        CostRow(START, "ml", 1.0),)


def test_probe_names_the_account(moto_clean: MotoServer) -> None:
    assert AwsClient("us-east-1").probe() == "AWS account 123456789012 in us-east-1"


def test_unreachable_endpoint_is_a_transient_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")
    port = free_port()
    aws = AwsClient("us-east-1", endpoint_url=f"http://127.0.0.1:{port}")

    with pytest.raises(BackendError) as failure:
        aws.costs(CostQuery(START, END))

    assert failure.value.backend == "aws" and failure.value.transient
    assert failure.value.reason == f"connection refused by Cost Explorer (127.0.0.1:{port})"
    assert "very-secret-value" not in str(failure.value)

