"""AwsProxy: a loopback HTTP server between boto3 and moto_server that counts, answers and breaks requests.

Every request is forwarded byte for byte to moto and moto's answer comes back unchanged, except:

- Cost Explorer `GetCostForecast` (moto does not implement it): answered from `queue_forecast(amount)` /
  `forecast_unavailable()`, one queued answer per request; with none queued it goes to moto (HTTP 500).
- Recycle Bin (`rbin`, which moto lacks): `ListRules` and `GetRule` answered from `recycle_rules([...])`
  (`[]`: no rules; `None`: AccessDeniedException). Before `recycle_rules` is called they go to moto (HTTP 500),
  like an endpoint without the service.
- `answer(action, body)`: a canned answer for any other action (e.g. `SimulatePrincipalPolicy`).
- `fail(action, code, status=400, when=None, times=None)`: an AWS error in the shape of the service's protocol
  (EC2 `<Response><Errors>…`, IAM/STS `<ErrorResponse>…`, JSON `{"__type": …}` with `x-amzn-ErrorType`),
  only for requests whose body (or path) contains `when`, and only `times` times (None: always).

Faults are checked first, then canned answers. Every request is recorded, whoever answered it:
`count(action)`, `bodies(action)`, `params(action)` (the form or JSON parameters) and `requests`.
The action is the EC2/IAM/STS query `Action=`, the `X-Amz-Target` suffix (JSON protocols) or, for REST
protocols, the operation whose method and URI template match (botocore's service model).

    with AwsProxy(moto) as proxy:            # or the `aws` fixture, which also points AWS_ENDPOINT_URL here
        proxy.fail("StopInstances", "UnauthorizedOperation", 403, when="i-0abc")
        AwsClient("us-east-1").stop_instances([...])
        assert proxy.count("StopInstances") == 3

`proxy.moto` is the MotoServer behind it and `proxy.ec2` a boto3 EC2 client talking to moto directly, so that
seeding (tests/support/aws_seed.py) is neither counted nor broken by faults.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body, send_bytes
from tests.support.servers import MotoServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "proxy-connection",
              "te", "trailer", "upgrade"}
NOT_FORWARDED_BACK = HOP_BY_HOP | {"server", "date"}
JSON_11 = "application/x-amz-json-1.1"


class Seen(NamedTuple):
    """One request that went through the proxy."""

    action: str
    body: str
    service: str = ""  # the signing name: ec2, ce, rbin, iam, sts…
    path: str = "/"


@dataclass
class Fault:
    action: str
    code: str
    status: int = 400
    when: str | None = None
    times: int | None = None
    message: str = ""

    def matches(self, seen: Seen) -> bool:
        return seen.action == self.action and (self.when is None or self.when in seen.body or self.when in seen.path)


@dataclass
class Canned:
    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)


def recycle_rule(identifier: str, days: int, tags: Mapping[str, str] | None = None, *, status: str = "available",
                 exclude: Mapping[str, str] | None = None, resource_type: str = "EBS_SNAPSHOT") -> dict[str, Any]:
    """A Recycle Bin rule as GetRule answers it (ListRules answers the same without tags and status)."""
    rule: dict[str, Any] = {
        "Identifier": identifier,
        "Description": f"keep deleted snapshots {days} days",
        "ResourceType": resource_type,
        "RetentionPeriod": {"RetentionPeriodValue": days, "RetentionPeriodUnit": "DAYS"},
        "ResourceTags": [{"ResourceTagKey": k, "ResourceTagValue": v} for k, v in (tags or {}).items()],
        "Status": status,
        "RuleArn": f"arn:aws:rbin:us-east-1:123456789012:rule/{identifier}",
    }
    if exclude:
        rule["ExcludeResourceTags"] = [{"ResourceTagKey": k, "ResourceTagValue": v} for k, v in exclude.items()]
    return rule


# Describe answers whose resources can be backdated: (the id element, the time element that follows it).
BACKDATED = {"DescribeSnapshots": ("snapshotId", "startTime"), "DescribeInstances": ("instanceId", "launchTime")}


class AwsProxy(LoopbackHTTPServer):
    def __init__(self, moto: MotoServer) -> None:
        super().__init__(_ProxyHandler)
        self.moto = moto
        self.ec2: Any = moto.boto3_client("ec2")  # straight to moto: seeding is not counted
        self._lock = threading.Lock()
        self._requests: list[Seen] = []
        self._faults: list[Fault] = []
        self._canned: dict[str, deque[Canned]] = {}
        self._rules: list[dict[str, Any]] | None = None
        self._rules_set = False
        self._rules_page: int | None = None
        self._backdated: dict[str, str] = {}

    # ------------------------------------------------------------------ what tests set up

    def aws_env(self) -> dict[str, str]:
        """moto's dummy credentials with every service's endpoint at this proxy."""
        return {**self.moto.aws_env(), "AWS_ENDPOINT_URL": self.url}

    def queue_forecast(self, amount: float, unit: str = "USD") -> None:
        """The next GetCostForecast answers this total."""
        body = {"Total": {"Amount": f"{amount:.10g}", "Unit": unit}, "ForecastResultsByTime": []}
        self._queue("GetCostForecast", Canned(200, json.dumps(body).encode(), JSON_11))

    def forecast_unavailable(self, message: str = "Insufficient amount of historical data to generate forecast.") \
            -> None:
        """The next GetCostForecast is refused as Cost Explorer refuses a forecast without enough history."""
        self._queue("GetCostForecast", _json_error("DataUnavailableException", message, 400))

    def recycle_rules(self, rules: list[dict[str, Any]] | None, page_size: int | None = None) -> None:
        """Recycle Bin rules (see `recycle_rule`), or None for AccessDeniedException; ListRules pages by
        `page_size` when given."""
        with self._lock:
            self._rules = None if rules is None else list(rules)
            self._rules_set = True
            self._rules_page = page_size

    def answer(self, action: str, body: Mapping[str, Any] | str | bytes, status: int = 200,
               content_type: str | None = None) -> None:
        """Queue a raw answer for the next request of `action` (a dict is sent as JSON, text as XML)."""
        if isinstance(body, Mapping):
            raw, kind = json.dumps(body).encode(), content_type or JSON_11
        else:
            raw, kind = (body.encode() if isinstance(body, str) else body), content_type or "text/xml"
        self._queue(action, Canned(status, raw, kind))

    def fail(self, action: str, code: str, status: int = 400, when: str | None = None, times: int | None = None,
             message: str | None = None) -> Fault:
        """Answer `action` with AWS error `code` (for bodies/paths containing `when`; `times` times)."""
        fault = Fault(action, code, status, when, times, message or f"{code} (injected by AwsProxy)")
        with self._lock:
            self._faults.append(fault)
        return fault

    def backdate(self, resource_id: str, when: datetime) -> None:
        """Make DescribeSnapshots / DescribeInstances say `resource_id` started (or launched) at `when`: moto stamps
        both with the time of the request and offers no way to change them."""
        with self._lock:
            self._backdated[resource_id] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")

    def heal(self) -> None:
        """Forget every fault."""
        with self._lock:
            self._faults.clear()

    # ------------------------------------------------------------------ what tests read

    @property
    def requests(self) -> list[Seen]:
        with self._lock:
            return list(self._requests)

    def count(self, action: str) -> int:
        return sum(1 for seen in self.requests if seen.action == action)

    def bodies(self, action: str) -> list[str]:
        return [seen.body for seen in self.requests if seen.action == action]

    def params(self, action: str) -> list[dict[str, Any]]:
        """Each request's parameters: query-protocol forms as {name: value} (last value wins), JSON as sent."""
        return [_parameters(seen.body) for seen in self.requests if seen.action == action]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    # ------------------------------------------------------------------ serving

    def _queue(self, action: str, canned: Canned) -> None:
        with self._lock:
            self._canned.setdefault(action, deque()).append(canned)

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Canned:
        service = _service_of(headers)
        seen = Seen(_action_of(service, method, path, headers, body), body.decode("utf-8", "replace"), service,
                    path)
        with self._lock:
            self._requests.append(seen)
            fault = next((f for f in self._faults if f.matches(seen)), None)
            if fault is not None and fault.times is not None:
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
            queued = self._canned.get(seen.action)
            canned = queued.popleft() if queued and fault is None else None
        if fault is not None:
            return _error(service, fault.code, fault.message, fault.status)
        if canned is not None:
            return canned
        if service == "rbin" and self._rules_set:
            return self._recycle_bin(seen)
        answer = self._forward(method, path, headers, body)
        if seen.action in BACKDATED and self._backdated:
            answer = Canned(answer.status, self._rewrite_times(seen.action, answer.body), answer.content_type,
                            answer.headers)
        return answer

    def _rewrite_times(self, action: str, xml: bytes) -> bytes:
        """Each backdated resource's <startTime>/<launchTime> in a describe answer (EC2's XML, one item per id)."""
        id_tag, time_tag = BACKDATED[action]
        text = xml.decode("utf-8")
        with self._lock:
            backdated = dict(self._backdated)
        for resource_id, when in backdated.items():
            text = re.sub(rf"(<{id_tag}>{re.escape(resource_id)}</{id_tag}>.*?<{time_tag}>)[^<]*(</{time_tag}>)",
                          rf"\g<1>{when}\g<2>", text, count=1, flags=re.DOTALL)
        return text.encode("utf-8")

    def _recycle_bin(self, seen: Seen) -> Canned:
        with self._lock:
            rules, page_size = self._rules, self._rules_page
        if rules is None:
            return _json_error("AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/emoji-ops/bot "
                               f"is not authorized to perform: rbin:{seen.action}", 403, rest=True)
        if seen.action == "ListRules":
            request = json.loads(seen.body or "{}")
            matching = [r for r in rules if r.get("ResourceType", "EBS_SNAPSHOT") == request.get("ResourceType")]
            start = int(request.get("NextToken") or 0)
            end = len(matching) if page_size is None else start + page_size
            summaries = [{k: r[k] for k in ("Identifier", "Description", "RetentionPeriod", "RuleArn") if k in r}
                         for r in matching[start:end]]
            answer: dict[str, Any] = {"Rules": summaries}
            if end < len(matching):
                answer["NextToken"] = str(end)
            return Canned(200, json.dumps(answer).encode(), "application/json")
        if seen.action == "GetRule":
            identifier = seen.path.rstrip("/").rsplit("/", 1)[-1]
            rule = next((r for r in rules if r["Identifier"] == identifier), None)
            if rule is None:
                return _json_error("ResourceNotFoundException", f"rule {identifier} not found", 404, rest=True)
            return Canned(200, json.dumps(rule).encode(), "application/json")
        return _json_error("ValidationException", f"AwsProxy does not model rbin:{seen.action}", 400, rest=True)

    def _forward(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Canned:
        connection = http.client.HTTPConnection("127.0.0.1", self.moto.port, timeout=30)
        try:
            connection.request(method, path, body=body,
                               headers={k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP})
            response = connection.getresponse()
            data = response.read()
            passed = {k: v for k, v in response.getheaders() if k.lower() not in NOT_FORWARDED_BACK}
        finally:
            connection.close()
        content_type = passed.pop("Content-Type", passed.pop("content-type", "application/octet-stream"))
        return Canned(response.status, data, content_type, passed)


class _ProxyHandler(QuietHandler):
    def _serve(self) -> None:
        owner: AwsProxy = self.server.owner  # type: ignore[attr-defined]
        body = read_body(self)
        try:
            answer = owner.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception as exc:  # a broken proxy should show up in the test, not hang it
            answer = Canned(502, f"AwsProxy failed: {exc!r}".encode(), "text/plain")
        send_bytes(self, answer.status, answer.body, answer.content_type, answer.headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve


# ---------------------------------------------------------------------- recognising requests


def _service_of(headers: Mapping[str, str]) -> str:
    """The signing name in the SigV4 credential scope: Credential=AKID/20261124/us-east-1/ec2/aws4_request."""
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
    found = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", authorization)
    return found.group(1) if found else ""


def _action_of(service: str, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
    lowered = {k.lower(): v for k, v in headers.items()}
    if "x-amz-target" in lowered:
        return lowered["x-amz-target"].rsplit(".", 1)[-1]
    if "x-www-form-urlencoded" in lowered.get("content-type", ""):
        action = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if action:
            return action[0]
    for operation, http_method, pattern in _rest_routes(service):
        if http_method == method and pattern.fullmatch(urlsplit(path).path):
            return operation
    return f"{method} {urlsplit(path).path}"


@cache
def _rest_routes(service: str) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(operation, method, URI regex) of a REST service, from botocore's model; literal paths first."""
    import botocore.session

    try:
        model = botocore.session.get_session().get_service_model(service)
    except Exception:
        return ()
    routes = []
    for name in model.operation_names:
        http = model.operation_model(name).http
        template = http.get("requestUri", "/").split("?")[0]
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        routes.append((name, http.get("method", "POST"), re.compile(regex), "{" in template))
    routes.sort(key=lambda route: route[3])
    return tuple((name, method, regex) for name, method, regex, _ in routes)


@cache
def _protocol(service: str) -> str:
    import botocore.session

    try:
        return str(botocore.session.get_session().get_service_model(service).protocol)
    except Exception:
        return "json"


def _parameters(body: str) -> dict[str, Any]:
    stripped = body.strip()
    if stripped.startswith("{"):
        loaded = json.loads(stripped)
        return loaded if isinstance(loaded, dict) else {"": loaded}
    return {name: values[-1] for name, values in parse_qs(body, keep_blank_values=True).items()}


# ---------------------------------------------------------------------- error shapes


def _error(service: str, code: str, message: str, status: int) -> Canned:
    protocol = _protocol(service)
    request_id = str(uuid.uuid4())
    if protocol == "ec2":
        xml = (f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>{escape(code)}</Code>"
               f"<Message>{escape(message)}</Message></Error></Errors><RequestID>{request_id}</RequestID></Response>")
        return Canned(status, xml.encode(), "text/xml;charset=UTF-8")
    if protocol == "query":
        xml = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
               f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>")
        return Canned(status, xml.encode(), "text/xml", {"x-amzn-RequestId": request_id})
    return _json_error(code, message, status, rest=protocol.startswith("rest"))


def _json_error(code: str, message: str, status: int, rest: bool = False) -> Canned:
    body = {"__type": code, "message": message} if not rest else {"message": message, "Message": message}
    return Canned(status, json.dumps(body).encode(), "application/json" if rest else JSON_11,
                  {"x-amzn-ErrorType": code, "x-amzn-RequestId": str(uuid.uuid4())})
