"""The backend fault matrix of issue #13, as a user sees it: each backend (behind its FaultProxy, or the AwsProxy's
own AWS errors) down, slow past its timeout, throttled with Retry-After, in a burst of 5xx, refusing the
credentials; asked through the real handlers of one in-process bot that is never restarted.

For every cell: the answer names the backend and says what to do, in the asker's language (each backend is asked
by a zh-CN user at least once); no error id, no traceback; each call is tried at most ATTEMPTS times, a slow
backend once; a retry after a 429 comes no sooner than its Retry-After; each retry and each call that failed for
good is counted (bot_retries_total, bot_errors_total by backend); and once the fault clears, the same request
answers normally. Cells that mean nothing for a backend say why in NOT_APPLICABLE instead of being faked.
Slack's own faults are in test_backend_slack.py (side effects exactly once), the database's in
test_postgres_restart.py and tests/e2e/test_slow_and_failing_backends.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from bot.incidents.desk import OpenRequest
from bot.incidents.model import Incident
from bot.incidents.pages import PAGERDUTY_STEP
from bot.store.models import EscalationStep
from tests.faults.conftest import AWS_SECONDS, READ_SECONDS, ZH_CHANNEL, ZH_TEAM, Rig
from tests.support.alert_payloads import alert, notification
from tests.support.config import TEAM
from tests.support.fault_proxy import Arrival
from tests.support.inprocess import dispatch
from tests.support.signing import interactivity_body, slash_command_body
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until

ATTEMPTS = 3  # call_with_retries' default: every client's bound
RETRY_AFTER = 1
EN, ZH = "UWEI", "UCHEN"  # Chen's Slack locale is zh-CN (set in `asked`)
BACKENDS = ("aws-ce", "aws-ec2", "github", "alertmanager", "pagerduty", "prometheus", "kubernetes", "database")
FAULTS = ("down", "slow", "throttled", "burst", "auth")
_serial = itertools.count(1)


# The requests ------------------------------------------------------------------------------------------------
def command(rig: Rig, name: str, text: str, user: str, channel: str = "CTEAM") -> str:
    rig.slack.clear()
    dispatch(rig.app, slash_command_body(name, text, user_id=user, channel_id=channel,
                                         response_url=rig.slack.response_url(name.strip("/"))))
    return slack_text(rig.slack.calls("response_url"))


def silence_button(rig: Rig, user: str) -> Callable[[], str]:
    """A new alert in the team channel; pressing its Silence button asks Alertmanager for a silence."""
    name = f"GpuXidErrors{next(_serial)}"
    rig.services.alerts.receive(notification([alert(name, namespace="ml-train", severity="warning")]))
    rig.services.alerts.deliver()
    post = next(c for c in reversed(rig.slack.calls("chat.postMessage", "CTEAM")) if name in slack_text(c))
    value = next(e["value"] for b in post.json_param("blocks") if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == "alerts_silence")

    def press() -> str:
        rig.slack.clear()
        dispatch(rig.app, interactivity_body({
            "type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"}, "trigger_id": "t",
            "message": {"ts": post.response["ts"]}, "container": {"message_ts": post.response["ts"]},
            "response_url": rig.slack.response_url("silence"),
            "actions": [{"action_id": "alerts_silence", "value": value}]}))
        return slack_text(rig.slack.calls("response_url"))
    return press


def acknowledge(rig: Rig, user: str) -> Callable[[], str]:
    """A new incident, PagerDuty triggered while it works; `/incident ack` then tells PagerDuty. What the user
    reads: the command's answer and what is posted where the incident runs."""
    team = ZH_TEAM if user == ZH else TEAM
    incident = open_paged(rig, team)
    wait_until(lambda: triggered(rig, incident.id), timeout=5, message="PagerDuty's trigger")
    rig.heal()

    def ack() -> str:
        answer = command(rig, "/incident", f"ack {incident.number}", user, ZH_CHANNEL if team == ZH_TEAM else "CTEAM")
        return answer + slack_text(rig.slack.calls("chat.postMessage", incident.origin_channel))
    return ack


def open_paged(rig: Rig, team: str) -> Incident:
    """An incident of `team` (which pages), opened from a channel of its own (so its posts are easy to find)."""
    incident, _ = rig.services.incidents.open(OpenRequest(reporter="UREPORTER", source="command", team=team,
                                                          channel=f"CPD{next(_serial)}", title="trainer OOM",
                                                          severity="sev2"))
    return incident


def triggered(rig: Rig, incident_id: int) -> bool:
    return any(r.json().get("event_action") == "trigger" and r.json().get("dedup_key", "").endswith(f"-{incident_id}")
               for r in rig.pagerduty.requests("POST"))


def asking(command_name: str, text: str = "") -> Callable[[Rig, str], Callable[[], str]]:
    return lambda rig, user: lambda: command(rig, command_name, text, user)


def gpu(rig: Rig, user: str) -> Callable[[], str]:
    """/gpu: Prometheus' DCGM readings joined with Kubernetes' nodes and pods."""
    rig.scraped()
    return lambda: command(rig, "/gpu", "", user)


def spend(rig: Rig, user: str) -> Callable[[], str]:
    """/spend: Cost Explorer's month (moto) and forecast (which moto lacks: the AwsProxy answers it)."""
    def ask() -> str:
        rig.aws.queue_forecast(1200.0)
        return command(rig, "/spend", "", user)
    return ask


@dataclass(frozen=True)
class Backend:
    name: str  # the proxy and the metric label
    shown: dict[str, str]  # its name in the answer, by language
    request: Callable[[Rig, str], Callable[[], str]]  # (rig, user) → the request, prepared (asked when called)
    normal: dict[str, str]  # a phrase of the normal answer, by language
    setting: str  # what a connection or credentials failure tells the user to check ("": AWS's own endpoint)
    auth_setting: str = ""  # when refused credentials point elsewhere
    timeout: float = READ_SECONDS  # its read timeout, as the client applies it
    what_to_do: tuple[str, str] = ("Try again in a minute, or ask", "请稍后重试，或请运维")  # (en, zh-CN)

    @property
    def label(self) -> str:
        return self.name.split("-")[0]


def named(name: str, zh: str | None = None) -> dict[str, str]:
    return {"en": name, "zh-CN": zh or name}


SUBJECTS = {backend.name: backend for backend in (
    Backend("aws-ce", named("AWS"), spend, named("Month to date", "本月至今"), "",
            auth_setting="AWS_ACCESS_KEY_ID", timeout=AWS_SECONDS),
    Backend("aws-ec2", named("AWS"), asking("/spend", "burn"),
            named("No team has running instances", "没有任何团队有运行中的实例"), "",
            auth_setting="AWS_ACCESS_KEY_ID", timeout=AWS_SECONDS),
    Backend("github", named("GitHub"), asking("/review", "team"),
            named("Nothing is waiting for review", "没有等待评审的 pull request"), "GITHUB_API_URL",
            auth_setting="GITHUB_TOKEN", timeout=math.ceil(READ_SECONDS)),  # PyGithub takes whole seconds
    Backend("alertmanager", named("Alertmanager"), silence_button, named("Silenced", "静默"), "ALERTMANAGER_URL"),
    Backend("pagerduty", named("PagerDuty"), acknowledge, named("acknowledged incident", "确认了事故"),
            "PAGERDUTY_API_URL", auth_setting="PAGERDUTY_ROUTING_KEY",
            what_to_do=("acknowledge it in PagerDuty too", "请也在 PagerDuty 中确认")),
    Backend("prometheus", named("Prometheus"), gpu, named("93%"), "PROMETHEUS_URL"),
    Backend("kubernetes", named("Kubernetes"), gpu, named("8 GPUs held", "占用 8 块 GPU"), "KUBECONFIG",
            auth_setting="kubeconfig"),
)}


# The faults -------------------------------------------------------------------------------------------------
AWS_ERRORS = {  # (action, fault) → (AWS error code, status): what Cost Explorer and EC2 really answer
    ("GetCostAndUsage", "throttled"): ("ThrottlingException", 400),
    ("GetCostAndUsage", "burst"): ("InternalServerException", 500),
    ("GetCostAndUsage", "auth"): ("UnrecognizedClientException", 403),
    ("DescribeInstances", "throttled"): ("RequestLimitExceeded", 503),
    ("DescribeInstances", "burst"): ("InternalError", 500),
    ("DescribeInstances", "auth"): ("AuthFailure", 401),
}


def arm(rig: Rig, backend: Backend, fault: str) -> None:
    proxy = rig.proxies[backend.label]
    if backend.label == "aws" and fault in ("throttled", "burst", "auth"):  # AWS's own errors, from the AwsProxy
        action = "GetCostAndUsage" if backend.name == "aws-ce" else "DescribeInstances"
        code, status = AWS_ERRORS[(action, fault)]
        rig.aws.fail(action, code, status, times=2 if fault == "burst" else None)
        return
    {"down": proxy.down, "slow": lambda: proxy.slow(backend.timeout + 0.5), "auth": lambda: proxy.auth(401),
     "throttled": lambda: proxy.throttled(RETRY_AFTER), "burst": lambda: proxy.burst(2, 503)}[fault]()


# The table: what the user reads in each cell (besides the backend's name), and in which language -------------
@dataclass(frozen=True)
class Cell:
    backend: str
    fault: str
    language: str
    says: tuple[str, ...]  # () : the normal answer (the retries absorbed the fault)

    def __str__(self) -> str:
        return f"{self.backend}-{self.fault}-{self.language}"


def cells() -> list[Cell]:
    down = {"en": ("cannot connect to",), "zh-CN": ("无法连接到",)}
    throttled = {"en": ("is throttling requests", f"try again in {RETRY_AFTER}s"),
                 "zh-CN": ("正在限流", f"请 {RETRY_AFTER} 秒后重试")}
    auth = {"en": ("rejected the credentials",), "zh-CN": ("拒绝了凭据",)}
    table = []
    for name, backend in SUBJECTS.items():
        slow = {"en": (f"but got no answer within {backend.timeout:g}s",),
                "zh-CN": (f"{backend.timeout:g} 秒内没有应答",)}
        for fault, says in (("down", down), ("slow", slow), ("throttled", throttled), ("auth", auth)):
            language = "zh-CN" if fault in ("down", "auth") else "en"
            table.append(Cell(name, fault, language, says[language]))
        table.append(Cell(name, "burst", "en", ()))
    return [EXCEPTIONS.get((cell.backend, cell.fault, cell.language), cell) for cell in table]


# Where a backend says it differently (and rightly so).
EXCEPTIONS = {(cell.backend, cell.fault, cell.language): cell for cell in (
    Cell("github", "throttled", "en", ("is throttling requests (rate limit)", "try again after")),  # not retried
    Cell("aws-ce", "throttled", "en", ("is throttling requests",)),  # AWS sends no Retry-After
    Cell("aws-ec2", "throttled", "en", ("is throttling requests",)),
    Cell("pagerduty", "auth", "zh-CN", ("拒绝了请求",)),  # the Events API refuses a routing key with a 400
)}

NOT_APPLICABLE = {
    ("database", "down"): "tests/faults/test_postgres_restart.py: PostgreSQL stopped and started again under a "
                          "serving `python -m bot serve` (and tests/e2e/test_slow_and_failing_backends.py)",
    ("database", "slow"): "the bot sets no statement or lock timeout on the database (only connect_timeout=5 s): "
                          "a query held by a lock waits without bound; reported, not faked",
    ("database", "throttled"): "PostgreSQL has no 429 nor Retry-After: a server that refuses connections "
                               "(too many clients) fails like one that is down",
    ("database", "burst"): "no HTTP status between the bot and PostgreSQL: a burst of failures is a restart",
    ("database", "auth"): "credentials are checked when the bot starts (python -m bot check, the e2e config "
                          "tests); a password changed under a running bot fails on connect like a stopped server",
}


def test_every_backend_and_fault_is_a_cell_or_says_why_not() -> None:
    tested = {(cell.backend, cell.fault) for cell in cells()}
    assert tested.isdisjoint(NOT_APPLICABLE)
    assert tested | set(NOT_APPLICABLE) == set(itertools.product(BACKENDS, FAULTS))
    asked_in_chinese = {cell.backend for cell in cells() if cell.language == "zh-CN"}
    assert asked_in_chinese == set(SUBJECTS)


# The checks ----------------------------------------------------------------------------------------------------
def metric(name: str, backend: str) -> float:
    return REGISTRY.get_sample_value(name, {"backend": backend}) or 0.0


def counted(rig: Rig, backend: Backend, retries: float, errors: float) -> bool:
    """bot_retries_total grew by the retries the proxy saw, bot_errors_total by the calls that failed for good."""
    calls = list(rig.proxies[backend.label].calls().values())
    seen_retries = sum(len(tries) - 1 for tries in calls)
    failed = sum(1 for tries in calls if not tries[-1].ok)
    return (metric("bot_retries_total", backend.label) - retries == seen_retries
            and metric("bot_errors_total", backend.label) - errors == failed)


def retried_properly(calls: list[list[Arrival]], fault: str) -> None:
    for tries in calls:
        assert len(tries) <= (1 if fault == "slow" else ATTEMPTS), tries
        for before, after in itertools.pairwise(tries):
            if before.answer == "429":
                assert after.at - before.at >= RETRY_AFTER, (before, after)


@pytest.mark.parametrize("cell", cells(), ids=str)
def test_a_backend_fault_as_the_user_sees_it(healed: Rig, cell: Cell) -> None:
    rig, backend = healed, SUBJECTS[cell.backend]
    user = ZH if cell.language == "zh-CN" else EN
    ask = backend.request(rig, user)
    retries, errors = metric("bot_retries_total", backend.label), metric("bot_errors_total", backend.label)
    arm(rig, backend, cell.fault)

    answer = ask()

    if cell.says:
        assert backend.shown[cell.language] in answer and all(phrase in answer for phrase in cell.says), answer
        assert backend.what_to_do[cell.language == "zh-CN"] in answer, answer
        if cell.fault != "throttled":
            setting = backend.auth_setting if cell.fault == "auth" and backend.auth_setting else backend.setting
            assert setting in answer, answer
    else:
        assert backend.normal[cell.language] in answer and ":warning:" not in answer, answer
    assert "error id" not in answer and "错误编号" not in answer and "Traceback" not in answer
    wait_until(lambda: counted(rig, backend, retries, errors), timeout=backend.timeout + 3,
               message=lambda: f"retries and errors counted as the proxy saw: {rig.proxies[backend.label].calls()}")
    retried_properly(list(rig.proxies[backend.label].calls().values()), cell.fault)

    rig.heal()
    again = backend.request(rig, user)()
    assert backend.normal[cell.language] in again and ":warning:" not in again, again


@pytest.mark.parametrize(("team", "says"), [(TEAM, "PagerDuty refused to page its on-call"),
                                           (ZH_TEAM, "PagerDuty 拒绝为事故")], ids=["en", "zh-CN"])
def test_a_pagerduty_trigger_it_refuses_is_told_to_the_incident(healed: Rig, team: str, says: str) -> None:
    """Once, in the incident's language, saying what to check; the Slack pages go on."""
    rig = healed
    rig.proxies["pagerduty"].auth()
    incident = open_paged(rig, team)
    wait_until(lambda: pagerduty_step(rig, incident.id) == "failed", timeout=5,
               message="the refused trigger told in the incident, then its step failed")
    rig.services.escalation.work_due()

    [said] = [slack_text(c) for c in rig.slack.calls("chat.postMessage", incident.origin_channel)
              if "PagerDuty" in slack_text(c)]
    assert says in said and "PAGERDUTY_ROUTING_KEY" in said, said
    assert rig.slack.calls("chat.postMessage", "DUDRI1"), "the first line was still paged in Slack"
    assert any(e.kind == "page_failed" for e in rig.services.incidents.load(incident.id).timeline)


def pagerduty_step(rig: Rig, incident_id: int) -> str | None:
    """The status of the incident's PagerDuty trigger step."""
    with rig.services.sessions() as session:
        return session.scalar(select(EscalationStep.status).where(EscalationStep.incident_id == incident_id,
                                                                  EscalationStep.step == PAGERDUTY_STEP))
