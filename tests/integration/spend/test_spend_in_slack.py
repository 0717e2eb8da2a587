"""/spend as people use it: the real Bolt app, real boto3 against moto_server's Cost Explorer (queued answers)
behind the AWS proxy (forecasts, throttling, refusals), real SQLite. The figures a user reads, the data's age,
the chart, and what Cost Explorer is asked (and billed) for."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.clock import FrozenClock
from tests.support.aws_proxy import AwsProxy
from tests.support.config import bot_config, team
from tests.support.inprocess import dispatch
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

NOW = datetime(2026, 3, 10, 9, 12, tzinfo=UTC)
TODAY = NOW.date()
CONFIG = bot_config(teams=[team("ml", "CML", cost_tag="ml"), team("web", "CWEB", cost_tag="web", language="zh-CN")],
                    timeouts={"aws": {"read": "1s"}})
EC2, S3, SAGEMAKER = "Amazon Elastic Compute Cloud - Compute", "Amazon Simple Storage Service", "Amazon SageMaker"


def ago(days: int) -> date:
    return TODAY - timedelta(days=days)


def answer(days: dict[date, dict[str, float]], key: str = "SERVICE", token: str | None = None) -> dict[str, Any]:
    """A GetCostAndUsage response grouped by `key` (moto applies nothing: the test writes the groups)."""
    kind = "DIMENSION" if key == "SERVICE" else "TAG"
    results = [{"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()},
                "Total": {}, "Estimated": False,
                "Groups": [{"Keys": [name], "Metrics": {"UnblendedCost": {"Amount": str(usd), "Unit": "USD"}}}
                           for name, usd in groups.items()]} for d, groups in sorted(days.items())]
    body: dict[str, Any] = {"GroupDefinitions": [{"Type": kind, "Key": key}], "ResultsByTime": results}
    if token:
        body["NextPageToken"] = token
    return body


SERVICES = answer({ago(1): {EC2: 900.0, S3: 100.0}, ago(2): {EC2: 500.0, SAGEMAKER: 100.0}})


@pytest.fixture
def bot(slack: SlackRecorder, aws: AwsProxy, tmp_path: Any, new_bot: Callable[..., tuple[Any, Any]]) -> Any:
    slack.set_user("UWEI", locale="zh-CN", tz="Asia/Shanghai")
    return new_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, CONFIG, FrozenClock(NOW))[1]


def spend(app: Any, slack: SlackRecorder, text: str = "", channel: str = "CML", user: str = "UALICE") -> str:
    slack.clear()
    dispatch(app, slash_command_body("/spend", text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("spend")))
    return slack_text(slack.calls("response_url")[-1:])


def test_a_team_channel_gets_its_month_forecast_services_and_the_datas_age(bot, slack: SlackRecorder,
                                                                           aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([SERVICES])
    aws.queue_forecast(2000.0)

    text = spend(bot, slack)

    assert "1,600" in text  # month to date
    assert "1,000" in text  # yesterday
    assert "3,600" in text  # month to date + Cost Explorer's forecast of the rest
    assert text.index(EC2) < text.index(S3)
    assert "09:12" in text  # the data's age, in the reader's zone
    [filtered] = aws.params("GetCostAndUsage")
    assert filtered["Filter"] == {"Tags": {"Key": "team", "Values": ["ml"], "MatchOptions": ["EQUALS"]}}
    assert [c.params["filename"] for c in slack.calls("files.getUploadURLExternal")] == ["spend-daily.png"]


def test_the_same_question_within_the_ttl_is_not_asked_again(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([SERVICES])
    aws.queue_forecast(2000.0)

    first = spend(bot, slack)
    second = spend(bot, slack, user="UBOB")

    assert aws.count("GetCostAndUsage") == 1 and aws.count("GetCostForecast") == 1
    assert "3,600" in second and first.count("1,600") == second.count("1,600")


def test_the_whole_account_shows_untagged_spend_and_projects_without_a_forecast(bot, slack: SlackRecorder,
                                                                               aws: AwsProxy) -> None:
    by_team = answer({ago(1): {"team$ml": 700.0, "team$": 300.0}, ago(2): {"team$web": 600.0}}, key="team")
    aws.moto.queue_cost_results([SERVICES, by_team])
    aws.forecast_unavailable()

    text = spend(bot, slack, channel="CGENERAL")

    assert "300" in text  # untagged this month
    assert "Cost allocation tags" in text or "cost allocation tag" in text.lower()
    # no forecast: $1,600 over 9 days, 22 days to go
    assert f"{1600 + 1600 / 9 * 22:,.0f}" in text.replace(".00", "")


def test_every_page_is_followed_and_a_throttled_request_retried(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    page_1 = answer({ago(2): {"team$ml": 1200.0}}, key="team", token="page-2")
    page_2 = answer({ago(1): {"team$ml": 4800.0, "team$web": 48.0}}, key="team")
    aws.moto.queue_cost_results([page_1, page_2])
    aws.fail("GetCostAndUsage", "ThrottlingException", times=1)

    text = spend(bot, slack, "by team 30d", channel="CGENERAL")

    assert "6,000" in text and "48" in text
    assert "40 ☕/h" in text and "💸🔥" in text  # ml: $4,800 yesterday = $200/h = 40 cups, over 30
    assert aws.count("GetCostAndUsage") == 3
    assert [p.get("NextPageToken") for p in aws.params("GetCostAndUsage")][-2:] == [None, "page-2"]


def test_throttling_that_does_not_stop_says_try_again(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    aws.fail("GetCostAndUsage", "ThrottlingException")

    text = spend(bot, slack, "by service")

    assert "throttl" in text.lower() and "try again" in text.lower()


def test_a_refusal_names_the_missing_iam_action(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    aws.fail("GetCostAndUsage", "AccessDeniedException", 400)

    assert "ce:GetCostAndUsage" in spend(bot, slack, "by service")


def test_unknown_names_get_the_closest_ones(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    assert "`ml`" in spend(bot, slack, "team mll")
    assert "service" in spend(bot, slack, "by servce")
    assert "burn" in spend(bot, slack, "brun")
    assert aws.count("GetCostAndUsage") == 0


def test_chinese_readers_get_chinese(bot, slack: SlackRecorder, aws: AwsProxy) -> None:
    aws.moto.queue_cost_results([SERVICES])
    aws.queue_forecast(2000.0)

    text = spend(bot, slack, channel="CWEB", user="UWEI")

    assert "17:12" in text  # 09:12 UTC in Shanghai
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text)
