"""AWS: Cost Explorer costs and forecasts, EC2 instances and EBS snapshots, Recycle Bin rules, IAM checks.

Every request goes through `call_with_retries`: throttling (and 5xx, connection trouble) is retried with
jitter within the read timeout; what is left becomes a `BackendError`. A refusal names the IAM action that
was missing (`params["what"] = "ec2:StopInstances"`), so the reply says what to add to the bot's policy.
Paged lists follow NextToken one page at a time, each page retried on its own (a botocore paginator's
generator cannot be resumed once a page raised).

Writes are few and explicit: `stop_instances` and `delete_snapshot`; they report per id instead of raising
when AWS refuses an id. Cost Explorer bills each request ($0.01), so `CostAnswer.requests` and
`Forecast.requests` say exactly how many were asked, and `permissions` never calls Cost Explorer.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
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
from botocore.parsers import ResponseParserError

from bot.clients import (
    ActionResult,
    AwsSource,
    CostAnswer,
    CostQuery,
    CostRow,
    Forecast,
    ImageUse,
    Instance,
    PermissionProbe,
    RecycleRule,
    Snapshot,
)
from bot.clock import Clock, SystemClock
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

if TYPE_CHECKING:  # stubs only (types-boto3[ce,ec2,iam,rbin,sts], in the test extra); never imported at run time
    from types_boto3_ce import CostExplorerClient
    from types_boto3_ce.type_defs import (
        ExpressionTypeDef,
        GetCostAndUsageRequestTypeDef,
        GetCostAndUsageResponseTypeDef,
        GetCostForecastRequestTypeDef,
    )
    from types_boto3_ec2 import EC2Client
    from types_boto3_ec2.type_defs import (
        DescribeImagesRequestTypeDef,
        DescribeImagesResultTypeDef,
        DescribeInstancesRequestTypeDef,
        DescribeInstancesResultTypeDef,
        DescribeSnapshotsRequestTypeDef,
        DescribeSnapshotsResultTypeDef,
        FilterTypeDef,
        ImageTypeDef,
        InstanceTypeDef,
        SnapshotTypeDef,
        TagTypeDef,
    )
    from types_boto3_iam import IAMClient
    from types_boto3_iam.type_defs import (
        SimulatePolicyResponseTypeDef,
        SimulatePrincipalPolicyRequestTypeDef,
    )
    from types_boto3_rbin import RecycleBinClient
    from types_boto3_rbin.type_defs import GetRuleResponseTypeDef, ListRulesRequestTypeDef, ListRulesResponseTypeDef
    from types_boto3_sts import STSClient

T = TypeVar("T")
log = logging.getLogger(__name__)

BACKEND = "aws"
METRIC = "UnblendedCost"
PAGE_SIZE = 1000  # the most DescribeInstances/DescribeSnapshots/DescribeImages return per page
STOP_BATCH = 50  # instance ids per StopInstances call
MESSAGE_CHARS = 200
MAX_PAGES = 10_000  # a server that keeps answering a NextToken is a bug, not a big account
# How users see each service; the key is also the IAM action prefix (ec2:StopInstances).
SERVICES = {"ce": "Cost Explorer", "ec2": "EC2", "rbin": "Recycle Bin", "iam": "IAM", "sts": "STS"}
THROTTLED = {"Throttling", "ThrottlingException", "RequestLimitExceeded", "LimitExceededException",
             "TooManyRequestsException", "ServiceUnavailable"}
AUTH_CODES = {"InvalidClientTokenId", "UnrecognizedClientException", "SignatureDoesNotMatch", "ExpiredToken",
              "ExpiredTokenException", "AuthFailure", "IncompleteSignature", "MissingAuthenticationToken"}
DENIED_CODES = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}
FORECAST_UNAVAILABLE = {"DataUnavailableException", "ValidationException"}
# Syntactically valid ids that exist nowhere: the dry run of an action needs some id when the account has none.
FAKE_INSTANCE = "i-0123456789abcdef0"
FAKE_SNAPSHOT = "snap-0123456789abcdef0"
NOT_SIMULATED = "not checked without iam:SimulatePrincipalPolicy"


def client_config(timeout: Timeout) -> Config:
    """Timeouts set explicitly (botocore's defaults are 60 s each) and botocore's own retries off, so that
    bot.retry alone decides: jittered, counted, and bounded by the read timeout."""
    return Config(connect_timeout=timeout.connect, read_timeout=timeout.read,
                  retries={"total_max_attempts": 1, "mode": "standard"})


@dataclass(frozen=True)
class Refusal:
    """What AWS answered when it refused a request: its error code and message (one line)."""

    code: str
    message: str


class AwsClient:
    """One boto3 client per service, made on first use; `endpoint_url` None lets boto3 read
    AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> itself."""

    demo = False

    def __init__(self, region: str, endpoint_url: str | None = None, timeout: Any = None,
                 clock: Clock | None = None) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.timeout = Timeout.of(timeout)
        self.clock = clock or SystemClock()  # only to tell whether an AMI's deprecation time has passed
        self._config = client_config(self.timeout)

    # ------------------------------------------------------------------ clients

    @cached_property
    def ce(self) -> CostExplorerClient:
        return self._call("ce", lambda: boto3.client(
            "ce", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    @cached_property
    def ec2(self) -> EC2Client:
        return self._call("ec2", lambda: boto3.client(
            "ec2", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    @cached_property
    def rbin(self) -> RecycleBinClient:
        return self._call("rbin", lambda: boto3.client(
            "rbin", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    @cached_property
    def iam(self) -> IAMClient:
        return self._call("iam", lambda: boto3.client(
            "iam", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    @cached_property
    def sts(self) -> STSClient:
        return self._call("sts", lambda: boto3.client(
            "sts", region_name=self.region, endpoint_url=self.endpoint_url, config=self._config))

    # ------------------------------------------------------------------ Cost Explorer

    def costs(self, query: CostQuery) -> CostAnswer:
        """Daily unblended cost in [start, end), summed per (day, key) and sorted by (day, key).

        A tag filter with no values matches nothing, so it asks nothing (requests=0)."""
        if query.tag_key and not query.tag_values:
            return CostAnswer(rows=(), requests=0)
        request = _cost_request(query)

        def page(token: str | None) -> GetCostAndUsageResponseTypeDef:
            if token:
                request["NextPageToken"] = token
            return self.ce.get_cost_and_usage(**request)

        totals: dict[tuple[date, str | None], float] = defaultdict(float)
        requests = 0
        for answer in self._pages("ce", page, lambda answer: answer.get("NextPageToken")):
            requests += 1
            for day, key, usd in _page_rows(answer, query.group_kind):
                totals[(day, key)] += usd
        rows = tuple(CostRow(day=day, key=key, usd=round(usd, 6)) for (day, key), usd in sorted(
            totals.items(), key=lambda item: (item[0][0], item[0][1] or "")))
        return CostAnswer(rows=rows, requests=requests)

    def forecast(self, start: date, end: date, tag_key: str | None = None,
                 tag_values: tuple[str, ...] = ()) -> Forecast:
        """Cost Explorer's unblended-cost forecast for [start, end); never raises: usd None when it cannot
        forecast (too little history, the period, no permission, or an endpoint without the API)."""
        if tag_key and not tag_values:
            return Forecast(usd=None, requests=0)
        request: GetCostForecastRequestTypeDef = {
            "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
        }
        if tag_key:
            request["Filter"] = _tag_filter(tag_key, tag_values)
        try:
            answer = self._call("ce", lambda: self.ce.get_cost_forecast(**request))
            return Forecast(usd=float(answer["Total"]["Amount"]), requests=1)
        except BackendError as exc:
            refusal = refusal_of(exc)
            level = logging.INFO if refusal and refusal.code in FORECAST_UNAVAILABLE else logging.WARNING
            log.log(level, "no Cost Explorer forecast for %s..%s: %s", start, end, exc.detail or exc.reason)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("no Cost Explorer forecast for %s..%s: unexpected answer (%r)", start, end, exc)
        return Forecast(usd=None, requests=1)

    # ------------------------------------------------------------------ EC2 instances

    def instances(self, states: tuple[str, ...] = ("running",), tags: Mapping[str, tuple[str, ...]] | None = None,
                  families: tuple[str, ...] = ()) -> list[Instance]:
        """Instances in any of `states` (none: every state) having, for each tag key, one of its values
        (no values: the tag with any value), of any of `families` (none: every family).

        EC2 filters states and tags; families are filtered here: EC2 accepts `instance-type` wildcards
        (`g5.*`) but moto matches them literally, and the family list is short."""
        filters: list[FilterTypeDef] = []
        if states:
            filters.append({"Name": "instance-state-name", "Values": list(states)})
        for key, values in (tags or {}).items():
            filters.append({"Name": f"tag:{key}", "Values": list(values)} if values
                           else {"Name": "tag-key", "Values": [key]})
        request: DescribeInstancesRequestTypeDef = {"MaxResults": PAGE_SIZE}
        if filters:
            request["Filters"] = filters

        def page(token: str | None) -> DescribeInstancesResultTypeDef:
            if token:
                request["NextToken"] = token
            return self.ec2.describe_instances(**request)

        found = []
        for answer in self._pages("ec2", page, lambda answer: answer.get("NextToken")):
            for reservation in answer.get("Reservations", []):
                found += [_instance(raw) for raw in reservation.get("Instances", [])]
        wanted = set(families)
        return [i for i in found if not wanted or i.family in wanted]

    def stop_instances(self, ids: list[str]) -> list[ActionResult]:
        """Stop `ids`, 50 per StopInstances call; one result per id, in order.

        When AWS refuses a batch (UnauthorizedOperation, IncorrectInstanceState, an unknown id…), each id of
        it is stopped on its own so that every refusal names its instance. A failure that is not about ids
        (throttling beyond the retries, no connection) raises if nothing was stopped yet; otherwise the ids of
        that batch and the later ones report that failure without being tried."""
        results: list[ActionResult] = []
        batches = [ids[i:i + STOP_BATCH] for i in range(0, len(ids), STOP_BATCH)]
        for number, batch in enumerate(batches):
            try:
                self._call("ec2", partial(self.ec2.stop_instances, InstanceIds=batch))
                results += [ActionResult(id=instance, ok=True) for instance in batch]
                continue
            except BackendError as exc:
                refusal = refusal_of(exc)
                if refusal is None or exc.transient or refusal.code in AUTH_CODES:
                    if number == 0:
                        raise
                    rest = [instance for later in batches[number:] for instance in later]
                    code = refusal.code if refusal else exc.code or "error"
                    results += [ActionResult(id=instance, ok=False, error=code, message=_one_line(exc.reason))
                                for instance in rest]
                    return results
            results += [self._stop_one(instance) for instance in batch]
        return results

    def _stop_one(self, instance: str) -> ActionResult:
        try:
            self._call("ec2", lambda: self.ec2.stop_instances(InstanceIds=[instance]))
            return ActionResult(id=instance, ok=True)
        except BackendError as exc:
            return _failed(instance, exc)

    # ------------------------------------------------------------------ EBS snapshots and AMIs

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot this account owns."""
        request: DescribeSnapshotsRequestTypeDef = {"OwnerIds": ["self"], "MaxResults": PAGE_SIZE}

        def page(token: str | None) -> DescribeSnapshotsResultTypeDef:
            if token:
                request["NextToken"] = token
            return self.ec2.describe_snapshots(**request)

        return [_snapshot(raw) for answer in self._pages("ec2", page, lambda answer: answer.get("NextToken"))
                for raw in answer.get("Snapshots", [])]

    def images_using(self) -> dict[str, ImageUse]:
        """The AMI using each snapshot, among this account's AMIs including disabled and deprecated ones (which
        DescribeImages hides unless asked, yet which still keep their snapshots from being deleted)."""
        request: DescribeImagesRequestTypeDef = {"Owners": ["self"], "IncludeDisabled": True,
                                                 "IncludeDeprecated": True, "MaxResults": PAGE_SIZE}

        def page(token: str | None) -> DescribeImagesResultTypeDef:
            if token:
                request["NextToken"] = token
            return self.ec2.describe_images(**request)

        images = [image for answer in self._pages("ec2", page, lambda answer: answer.get("NextToken"))
                  for image in answer.get("Images", [])]
        return image_uses(images, self.clock.now())

    def delete_snapshot(self, snapshot_id: str) -> ActionResult:
        """Delete one snapshot; AWS's refusal (InvalidSnapshot.InUse, UnauthorizedOperation…) is the result."""
        try:
            self._call("ec2", lambda: self.ec2.delete_snapshot(SnapshotId=snapshot_id))
        except BackendError as exc:
            if refusal_of(exc) is None or exc.transient:
                raise
            return _failed(snapshot_id, exc)
        return ActionResult(id=snapshot_id, ok=True)

    # ------------------------------------------------------------------ Recycle Bin

    def recycle_rules(self) -> list[RecycleRule] | None:
        """Recycle Bin retention rules for EBS snapshots that are in force; None when they cannot be read.

        ListRules answers no tags, so each rule is read with GetRule. A rule still `pending`, and a
        region-level rule with exclusion tags (RecycleRule cannot say which snapshots it skips), are left
        out: the domain then treats those deletes as final, never the other way round."""
        request: ListRulesRequestTypeDef = {"ResourceType": "EBS_SNAPSHOT"}

        def page(token: str | None) -> ListRulesResponseTypeDef:
            if token:
                request["NextToken"] = token
            return self.rbin.list_rules(**request)

        try:
            ids = [rule["Identifier"] for answer in self._pages("rbin", page, lambda answer: answer.get("NextToken"))
                   for rule in answer.get("Rules", []) if "Identifier" in rule]
            details = [self._call("rbin", partial(self.rbin.get_rule, Identifier=rule)) for rule in ids]
        except BackendError as exc:
            log.warning("cannot read the Recycle Bin rules, so deleted snapshots may or may not be recoverable: %s",
                        exc.detail or exc.reason)
            return None
        return [rule for rule in map(_recycle_rule, details) if rule is not None]

    # ------------------------------------------------------------------ permissions

    def permissions(self, actions: tuple[str, ...]) -> list[PermissionProbe]:
        """Whether this identity may do each IAM action: by iam:SimulatePrincipalPolicy when allowed, else by a
        DryRun call for the EC2 actions that take one. Never calls Cost Explorer (each call is billed)."""
        simulated, why = self._simulate(actions)
        if simulated is not None:
            return simulated
        return [self._probe_by_call(action, why) for action in actions]

    def _simulate(self, actions: tuple[str, ...]) -> tuple[list[PermissionProbe] | None, BackendError | None]:
        """Probes from SimulatePrincipalPolicy, or None and why it could not be used."""
        try:
            caller = self._call("sts", lambda: self.sts.get_caller_identity())
            request: SimulatePrincipalPolicyRequestTypeDef = {
                "PolicySourceArn": principal_arn(caller["Arn"]), "ActionNames": list(actions)}

            def page(marker: str | None) -> SimulatePolicyResponseTypeDef:
                if marker:
                    request["Marker"] = marker
                return self.iam.simulate_principal_policy(**request)

            decisions = {result["EvalActionName"]: result["EvalDecision"]
                         for answer in self._pages("iam", page,
                                                   lambda answer: answer.get("Marker") if answer.get("IsTruncated")
                                                   else None)
                         for result in answer.get("EvaluationResults", [])}
        except BackendError as exc:
            log.info("iam:SimulatePrincipalPolicy unavailable (%s); checking permissions by dry runs",
                     exc.detail or exc.reason)
            return None, exc
        return [PermissionProbe(action=action, allowed=decisions[action] == "allowed" if action in decisions else None,
                                how="simulate", detail=decisions.get(action, "not in the simulation's answer"))
                for action in actions], None

    def _probe_by_call(self, action: str, simulation: BackendError | None) -> PermissionProbe:
        if action == "iam:SimulatePrincipalPolicy" and simulation is not None:
            refusal = refusal_of(simulation)
            if refusal is not None and refusal.code in DENIED_CODES:
                return PermissionProbe(action, False, "call", f"{refusal.code}: {refusal.message}".rstrip(": "))
            return PermissionProbe(action, None, "call", f"the simulation failed: {_one_line(simulation.reason)}")
        if action == "sts:GetCallerIdentity":
            return PermissionProbe(action, True, "call", "every identity may call it")
        dry_run = self._dry_runs().get(action)
        if dry_run is None:
            return PermissionProbe(action, None, "call", NOT_SIMULATED)
        try:
            would = self._call("ec2", partial(_would_succeed, dry_run))
        except BackendError as exc:
            refusal = refusal_of(exc)
            if refusal is None:
                return PermissionProbe(action, None, "dry-run", _one_line(exc.reason))
            allowed = False if refusal.code in DENIED_CODES else None
            return PermissionProbe(action, allowed, "dry-run", f"{refusal.code}: {refusal.message}".rstrip(": "))
        if would:
            return PermissionProbe(action, True, "dry-run", "DryRunOperation")
        return PermissionProbe(action, True, "dry-run", "the call succeeded (the endpoint ignored DryRun)")

    def _dry_runs(self) -> dict[str, Callable[[], object]]:
        ec2 = self.ec2
        return {
            "ec2:StopInstances": lambda: ec2.stop_instances(InstanceIds=[self._some_instance()], DryRun=True),
            "ec2:DeleteSnapshot": lambda: ec2.delete_snapshot(SnapshotId=self._some_snapshot(), DryRun=True),
            "ec2:DescribeInstances": lambda: ec2.describe_instances(MaxResults=5, DryRun=True),
            "ec2:DescribeSnapshots": lambda: ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5, DryRun=True),
            "ec2:DescribeImages": lambda: ec2.describe_images(Owners=["self"], DryRun=True),
        }

    def _some_instance(self) -> str:
        """A running instance's id (a dry run with an unknown id may fail on the id, not the permission)."""
        try:
            answer = self._call("ec2", lambda: self.ec2.describe_instances(
                Filters=[{"Name": "instance-state-name", "Values": ["running"]}], MaxResults=5))
        except BackendError:
            return FAKE_INSTANCE
        found = [i["InstanceId"] for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
        return found[0] if found else FAKE_INSTANCE

    def _some_snapshot(self) -> str:
        try:
            answer = self._call("ec2", lambda: self.ec2.describe_snapshots(OwnerIds=["self"], MaxResults=5))
        except BackendError:
            return FAKE_SNAPSHOT
        found = [s["SnapshotId"] for s in answer.get("Snapshots", [])]
        return found[0] if found else FAKE_SNAPSHOT

    # ------------------------------------------------------------------ plumbing

    def probe(self) -> str:
        identity = self._call("sts", lambda: self.sts.get_caller_identity())
        return f"AWS account {identity.get('Account', '?')} in {self.region}"

    def _call(self, service: str, fn: Callable[[], T]) -> T:
        return call_with_retries(BACKEND, lambda: _translated(service, fn, self.timeout), budget=self.timeout.read)

    def _pages(self, service: str, page: Callable[[str | None], T], next_token: Callable[[T], str | None]) \
            -> Iterator[T]:
        """Each page of a NextToken-paged list, each fetched (and retried) on its own."""
        token: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES):
            answer = self._call(service, partial(page, token))
            yield answer
            token = next_token(answer)
            if not token:
                return
            if token in seen:
                raise BackendError(BACKEND, code="unexpected", params={"where": SERVICES[service],
                                                                       "detail": "a NextToken repeated"})
            seen.add(token)
        raise BackendError(BACKEND, code="unexpected", params={"where": SERVICES[service],
                                                               "detail": f"more than {MAX_PAGES} pages"})


# ---------------------------------------------------------------------- Cost Explorer answers


def _tag_filter(tag_key: str, tag_values: tuple[str, ...]) -> ExpressionTypeDef:
    return {"Tags": {"Key": tag_key, "Values": list(tag_values), "MatchOptions": ["EQUALS"]}}


def _cost_request(query: CostQuery) -> GetCostAndUsageRequestTypeDef:
    request: GetCostAndUsageRequestTypeDef = {
        "TimePeriod": {"Start": query.start.isoformat(), "End": query.end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": [METRIC],
    }
    if query.group_kind is not None:
        request["GroupBy"] = [{"Type": query.group_kind, "Key": query.group_key}]
    if query.tag_key:
        request["Filter"] = _tag_filter(query.tag_key, query.tag_values)
    return request


def _page_rows(page: GetCostAndUsageResponseTypeDef, group_kind: str | None) \
        -> list[tuple[date, str | None, float]]:
    rows: list[tuple[date, str | None, float]] = []
    for period in page.get("ResultsByTime", []):
        day = date.fromisoformat(period["TimePeriod"]["Start"])
        if group_kind is None:
            total = period.get("Total", {}).get(METRIC)
            if total is not None:
                rows.append((day, None, float(total["Amount"])))
            continue
        for group in period.get("Groups", []):
            amount = float(group["Metrics"][METRIC]["Amount"])
            key = group["Keys"][0]
            rows.append((day, tag_value_of(key) if group_kind == "TAG" else key, amount))
    return rows


def tag_value_of(key: str) -> str | None:
    """Cost Explorer's tag group keys read `team$ml`; `team$` means the resource has no such tag."""
    if "$" not in key:
        return key
    return key.partition("$")[2] or None


# ---------------------------------------------------------------------- EC2 answers


def _tags(raw: list[TagTypeDef] | None) -> dict[str, str]:
    return {tag["Key"]: tag.get("Value", "") for tag in raw or [] if "Key" in tag}


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _instance(raw: InstanceTypeDef) -> Instance:
    return Instance(id=raw["InstanceId"], type=raw["InstanceType"], state=raw["State"]["Name"],
                    launched=_utc(raw["LaunchTime"]), tags=_tags(raw.get("Tags")),
                    private_dns=raw.get("PrivateDnsName") or None)


def _snapshot(raw: SnapshotTypeDef) -> Snapshot:
    return Snapshot(id=raw["SnapshotId"], gib=int(raw.get("VolumeSize", 0)), started=_utc(raw["StartTime"]),
                    description=raw.get("Description") or "", tags=_tags(raw.get("Tags")),
                    state=raw.get("State", "completed"))


def image_uses(images: list[ImageTypeDef], now: datetime) -> dict[str, ImageUse]:
    """snapshot id → the AMI whose block devices use it (an available AMI wins over a disabled one)."""
    uses: dict[str, ImageUse] = {}
    for image in images:
        deprecation = image.get("DeprecationTime")
        use = ImageUse(image_id=image["ImageId"], state=image.get("State", "available"),
                       deprecated=bool(deprecation) and _utc(datetime.fromisoformat(str(deprecation))) <= now)
        for mapping in image.get("BlockDeviceMappings", []):
            snapshot = mapping.get("Ebs", {}).get("SnapshotId")
            if not snapshot:
                continue
            if snapshot not in uses or (use.state == "available" and uses[snapshot].state != "available"):
                uses[snapshot] = use
    return uses


def _recycle_rule(raw: GetRuleResponseTypeDef) -> RecycleRule | None:
    if raw.get("Status", "available") != "available":
        log.info("Recycle Bin rule %s is %s, not yet in force", raw.get("Identifier"), raw.get("Status"))
        return None
    if raw.get("ExcludeResourceTags"):
        log.info("Recycle Bin rule %s excludes tagged snapshots; counted as not protecting any", raw.get("Identifier"))
        return None
    period = raw["RetentionPeriod"]
    if period.get("RetentionPeriodUnit", "DAYS") != "DAYS":
        log.warning("Recycle Bin rule %s has a retention unit %s", raw.get("Identifier"),
                    period.get("RetentionPeriodUnit"))
        return None
    tags = {tag["ResourceTagKey"]: tag.get("ResourceTagValue", "") for tag in raw.get("ResourceTags", [])}
    return RecycleRule(id=raw["Identifier"], days=int(period["RetentionPeriodValue"]), tags=tags)


def principal_arn(caller: str) -> str:
    """The IAM principal to simulate for a caller ARN: an assumed role's session ARN
    (arn:aws:sts::ACC:assumed-role/ROLE/session) names its role (arn:aws:iam::ACC:role/ROLE)."""
    parts = caller.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller


# ---------------------------------------------------------------------- errors


def _would_succeed(dry_run: Callable[[], object]) -> bool:
    """True when AWS answers DryRunOperation ("would have succeeded"), an error only in name; False when the call
    went through (an endpoint that ignores DryRun); any other refusal raises as usual."""
    try:
        dry_run()
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
            return True
        raise
    return False


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MESSAGE_CHARS else line[:MESSAGE_CHARS - 1] + "…"


def refusal_of(exc: BackendError) -> Refusal | None:
    """AWS's error code and message, when the failure was an answer from AWS (not a connection problem)."""
    cause = exc.__cause__
    if not isinstance(cause, ClientError):
        return None
    error = cause.response.get("Error", {})
    return Refusal(code=str(error.get("Code") or "?"), message=_one_line(str(error.get("Message") or "")))


def _failed(resource: str, exc: BackendError) -> ActionResult:
    refusal = refusal_of(exc)
    if refusal is None:
        return ActionResult(id=resource, ok=False, error=exc.code or "error", message=_one_line(exc.reason))
    return ActionResult(id=resource, ok=False, error=refusal.code, message=refusal.message or None)


def _translated(service: str, fn: Callable[[], T], timeout: Timeout) -> T:
    what = SERVICES[service]
    try:
        return fn()
    except ClientError as exc:
        raise _client_error(service, exc) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise BackendError(BACKEND, code="aws_no_credentials", hint="aws_credentials",
                           detail=type(exc).__name__) from exc
    except NoRegionError as exc:
        raise BackendError(BACKEND, code="aws_no_region", hint="set_setting",
                           params={"setting": "AWS_DEFAULT_REGION"}, detail=type(exc).__name__) from exc
    except (BotoCoreError, ResponseParserError, KeyError, ValueError) as exc:  # a parser error is no BotoCoreError
        raise diagnose(BACKEND, exc, where=_where(what, exc), timeout=timeout) from exc


def _where(what: str, exc: BaseException) -> str:
    """"Cost Explorer (127.0.0.1:5000)": the service, and the endpoint when botocore names it."""
    endpoint = (getattr(exc, "kwargs", None) or {}).get("endpoint_url")
    return f"{what} ({where_of(endpoint)})" if endpoint else what


def _client_error(service: str, exc: ClientError) -> BackendError:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "?"))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    action = f"{service}:{exc.operation_name}"  # the IAM action is the service prefix and the API operation
    where = SERVICES[service]
    params = {"where": where, "status": code, "what": action, "action": action, "detail": code}
    detail = f"{code} on {action}"
    if code in THROTTLED:
        return BackendError(BACKEND, transient=True, code="throttled", params=params, detail=detail)
    if code in DENIED_CODES:
        return BackendError(BACKEND, code="forbidden", params=params, hint="aws_iam", detail=detail)
    if code in AUTH_CODES:
        return BackendError(BACKEND, code="auth", params=params, hint="aws_credentials", detail=detail)
    if code == "DataUnavailableException":
        return BackendError(BACKEND, code="aws_no_data", detail=detail)
    failure = diagnose(BACKEND, exc, where=where, status=status)
    failure.params["status"] = code  # AWS's error code says more than the HTTP status
    return BackendError(BACKEND, transient=failure.transient, code=failure.code, params=failure.params,
                        detail=detail)

if TYPE_CHECKING:  # mypy proves that AwsClient satisfies the Protocol the domain calls
    _source: type[AwsSource] = AwsClient
