"""AWS: daily cost per team tag from Cost Explorer (read-only calls only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from functools import cached_property, partial
from typing import TYPE_CHECKING, Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)

from bot.clients import CostRow, CostSource
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

if TYPE_CHECKING:  # stub-only packages (types-boto3[ce,sts], in the test extra); never imported at run time
    from types_boto3_ce import CostExplorerClient
    from types_boto3_ce.type_defs import GetCostAndUsageRequestTypeDef, GetCostAndUsageResponseTypeDef
    from types_boto3_sts import STSClient

T = TypeVar("T")
BACKEND = "aws"
METRIC = "UnblendedCost"
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException",
             "ServiceUnavailable"}
AUTH_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
              "ExpiredTokenException", "AuthFailure", "IncompleteSignature", "MissingAuthenticationToken"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}


def client_config(timeout: Timeout) -> Config:
    """Timeouts set explicitly (botocore's defaults are 60 s each) and botocore's own retries off, so that
    bot.retry alone decides: jittered, counted, and bounded by the read timeout."""
    return Config(connect_timeout=timeout.connect, read_timeout=timeout.read,
                  retries={"total_max_attempts": 1, "mode": "standard"})


class AwsClient:
    demo = False

    def __init__(self, region: str, endpoint_url: str | None = None, timeout: Any = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url  # None: boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CE itself
        self.timeout = Timeout.of(timeout)
        self._config = client_config(self.timeout)

    @cached_property
    def ce(self) -> CostExplorerClient:
        return self._call("ce", lambda: boto3.client(
            "ce", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

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
        identity = self._call("STS", lambda: self._sts().get_caller_identity())
        return f"AWS account {identity.get('Account', '?')} in {self.region}"

    def _sts(self) -> STSClient:
        return self._call("sts", lambda: boto3.client(
            "sts", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        return call_with_retries(BACKEND, lambda: _translated(what, fn, self.timeout), budget=self.timeout.read)


def _cost_request(start: date, end: date, tag_key: str, token: str | None) -> GetCostAndUsageRequestTypeDef:
    request: GetCostAndUsageRequestTypeDef = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
        "GroupBy": [{"Type": "TAG", "Key": tag_key}],
    }
    if token:
        request["NextPageToken"] = token
    return request


def _page_rows(page: GetCostAndUsageResponseTypeDef) -> list[tuple[date, str | None, float]]:
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


def _translated(what: str, fn: Callable[[], T], timeout: Timeout) -> T:
    try:
        return fn()
    except ClientError as exc:
        raise _client_error(what, exc) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise BackendError(BACKEND, code="aws_no_credentials", hint="aws_credentials",
                           detail=type(exc).__name__) from exc
    except NoRegionError as exc:
        raise BackendError(BACKEND, code="aws_no_region", hint="set_setting",
                           params={"setting": "AWS_DEFAULT_REGION"}, detail=type(exc).__name__) from exc
    except (BotoCoreError, KeyError, ValueError) as exc:
        raise diagnose(BACKEND, exc, where=_where(what, exc), timeout=timeout) from exc


def _where(what: str, exc: BaseException) -> str:
    """"Cost Explorer (127.0.0.1:5000)": the service, and the endpoint when botocore names it."""
    endpoint = (getattr(exc, "kwargs", None) or {}).get("endpoint_url")
    return f"{what} ({where_of(endpoint)})" if endpoint else what


def _client_error(what: str, exc: ClientError) -> BackendError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "?"))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    params = {"where": what, "status": code, "what": what, "detail": code}
    if code in THROTTLED:
        return BackendError(BACKEND, transient=True, code="throttled", params=params, detail=code)
    if code in DENIED_CODES:
        return BackendError(BACKEND, code="forbidden", params=params, hint="aws_iam", detail=code)
    if code in AUTH_CODES:
        return BackendError(BACKEND, code="auth", params=params, hint="aws_credentials", detail=code)
    if code == "DataUnavailableException":
        return BackendError(BACKEND, code="aws_no_data", detail=code)
    failure = diagnose(BACKEND, exc, where=what, status=status)
    failure.params["status"] = code  # AWS's error code says more than the HTTP status
    return BackendError(BACKEND, transient=failure.transient, code=failure.code, params=failure.params,
                        detail=code)


if TYPE_CHECKING:  # mypy proves that AwsClient satisfies the Protocol the domain calls
    _source: type[CostSource] = AwsClient
