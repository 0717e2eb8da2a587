"""AWS: daily cost per team tag from Cost Explorer (read-only calls only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from functools import cached_property, partial
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from bot.clients import CostRow
from bot.retry import TRANSIENT_HTTP_STATUS, BackendError, call_with_retries

T = TypeVar("T")
BACKEND = "aws"
METRIC = "UnblendedCost"
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException",
             "ServiceUnavailable"}
# botocore's own retries are off so that bot.retry alone decides (jittered, counted, bounded).
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20,
                       retries={"total_max_attempts": 1, "mode": "standard"})


class AwsClient:
    demo = False

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url  # None: boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CE itself

    @cached_property
    def ce(self) -> Any:
        return self._client("ce")

    def cost_by_team(self, start: date, end: date, tag_key: str = "team") -> list[CostRow]:
        """Daily unblended cost per value of the `tag_key` tag, for days in [start, end)."""
        totals: dict[tuple[date, str | None], float] = defaultdict(float)
        token: str | None = None
        while True:
            request = _cost_request(start, end, tag_key, token)
            page = self._call("Cost Explorer", partial(self.ce.get_cost_and_usage, **request))
            for day, team, usd in _page_rows(page):
                totals[(day, team)] += usd
            token = page.get("NextPageToken")
            if not token:
                break
        return [CostRow(day=day, team=team, usd=round(usd, 6)) for (day, team), usd in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or ""))]

    def probe(self) -> str:
        identity = self._call("STS", lambda: self._client("sts").get_caller_identity())
        return f"AWS account {identity.get('Account', '?')} in {self.region}"

    def _client(self, service: str) -> Any:
        return self._call(service, lambda: boto3.client(
            service, region_name=self.region, endpoint_url=self.endpoint_url, config=CLIENT_CONFIG))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return call_with_retries(BACKEND, lambda: _translated(what, fn))


def _cost_request(start: date, end: date, tag_key: str, token: str | None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
    }
    if token:
        request["NextPageToken"] = token
    return request


def _page_rows(page: dict[str, Any]) -> list[tuple[date, str | None, float]]:
    rows = []
    for period in page.get("ResultsByTime", []):
        day = date.fromisoformat(period["TimePeriod"]["Start"])
        for group in period.get("Groups", []):
            amount = float(group["Metrics"][METRIC]["Amount"])
            rows.append((day, team_of(group["Keys"][0]), amount))
    return rows


def team_of(key: str) -> str | None:
    """Cost Explorer tag keys come back as `team$ml`; `team$` means the resource has no such tag."""
    _, _, value = key.partition("$")
    return value or None


def _translated(what: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except ClientError as exc:
        raise _client_error(what, exc) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise BackendError(BACKEND, "no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY "
                           "or give the bot an IAM role") from exc
    except NoRegionError as exc:
        raise BackendError(BACKEND, "no region: set AWS_DEFAULT_REGION") from exc
    except ReadTimeoutError as exc:
        raise BackendError(BACKEND, f"{what} did not answer in time", transient=True) from exc
    except ConnectionError as exc:
        raise BackendError(BACKEND, f"cannot connect to {what}", transient=True) from exc
    except (BotoCoreError, KeyError, ValueError) as exc:
        raise BackendError(BACKEND, f"{what} failed ({type(exc).__name__})") from exc


def _client_error(what: str, exc: ClientError) -> BackendError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "?"))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in THROTTLED:
        return BackendError(BACKEND, f"{what} is throttling requests ({code})", transient=True)
    if code in {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}:
        return BackendError(BACKEND, f"access denied to {what} ({code}): the bot's IAM policy needs "
                            "read access to it (see deploy/)")
    if code in {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch",
                "ExpiredToken", "ExpiredTokenException"}:
        return BackendError(BACKEND, f"AWS rejected the credentials ({code}): check them")
    if code == "DataUnavailableException":
        return BackendError(BACKEND, "Cost Explorer has no data yet for this account (enable it in the "
                            "Billing console; data appears within 24 h)")
    return BackendError(BACKEND, f"{what} failed ({code})", status in TRANSIENT_HTTP_STATUS)
