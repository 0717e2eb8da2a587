"""Daily digests for 50 teams in one slot: what one `Digests.tick()` asks every backend, how long it takes, and
whether every team gets its digest once under Slack's rate limits; against 50 digests composed one by one.

    .venv/bin/python bench/digest.py [--teams 50] [--weekly-teams 10] [--no-weekly]     # ~4 min at 50 teams

Everything runs in this process but Prometheus and moto: the bot as tests/support/inprocess.py builds it (SQLite in
a temp dir, a FrozenClock at now rounded down to the minute), with its real clients against real backends:

- Prometheus backfilled by promtool (tests/support/dcgm.py): per team one 4-GPU H100 node `gpu-<team>`, GPU 0 held
  by pod `finetune` at 2 % (idle), GPUs 1-3 by pod `train` at 90-95 %, GPU 3 with XID 79 for the last 20 minutes;
- the Kubernetes API fixture (tests/support/kube_api.py) with those nodes and pods, a Pending pod `sweep` per team
  asking 4 GPUs (Unschedulable) and its FailedScheduling event; it counts requests per path;
- moto behind tests/support/aws_proxy.py (which counts every request by action): per team two running GPU instances
  tagged with its cost_tag (p4d.24xlarge, g5.12xlarge), one pipeline snapshot 200 days old (stale) and one of today,
  no Recycle Bin rule; Cost Explorer's month to date by team tag queued (23 days), and for the weekly run a
  GetCostAndUsage answer and a forecast per team;
- the GitHub GraphQL fixture (tests/support/github_graphql.py): two repositories per team, 3 open pull requests per
  team waiting for review, the logins mapped to Slack users in `github.users`;
- the database: per team a 2-person rotation, one open incident (2 h old), three resolved ones (2, 5 and 10 days
  ago), two alert names firing in streaks over the last 3 days with three 👎. Seeded once, through the bot's own
  services (incidents opened without their `opened` hooks: evidence, resembling incidents; nothing the digest reads)
  into a template database that every run starts from a copy of.
- Slack: the alerts.py recorder (`AnsweringRecorder`, 1 chat.postMessage/chat.update per second per channel, else
  429 with Retry-After: 1).

Each team: its channel, its namespace, cost_tag, repos, budget, time zone (5 zones), every 10th in zh-CN, and its
`digest` crontab at the clock's minute in its zone (weekly "off"), so every team is due in the same slot.

  1. One `services.digests.tick()`, timed. Counted per digest section (by wrapping `Digests._incidents`, `_oncall`,
     `_spend`, `_gpu`, `_review`, `_noise`, `_guards` on the instance and reading in-process counters around each):
     PromQL queries (the bot's PrometheusClient `_query` wrapped; Prometheus's own prometheus_http_requests_total as
     a check), Kubernetes requests (the fixture's counts, by path), AWS requests by action (the proxy), Cost
     Explorer requests (the proxy, and bot_cost_explorer_requests_total), GitHub GraphQL requests (the fixture), and
     database statements (an SQLAlchemy cursor event). Slack calls by method and status (posts, thread replies,
     uploads, 429s), and bot_retries_total{backend="slack"}. Time split into composing (Digests.compose) and the
     rest (posting: the per-channel pacer, 429s honoured, the notices rows).
     Checks: every team has exactly one successful top-level post in its channel and, in its thread, every message
     `render.detail_messages` makes of its digest (and, weekly, every chart): "lost" counts what is missing. A
     second tick 30 s later must post nothing and ask no backend.
  2. Baseline, same run, same backends, a fresh bot on a copy of the same database: the same digests composed one
     team at a time with `digests.compose(team, "daily")` (each makes its own `Shared`: what 50 `/digest` commands
     cost), then posted naively: a slack_sdk WebClient with its default retries (connection errors only, no 429
     handler, no pacing), the digest then its thread, to a fresh recorder with the same limits; a 429 loses that
     message. The same counters; ratios shared / unshared per backend, and of time.
  3. One weekly tick (3 charts uploaded per team) on a fresh bot, for --weekly-teams teams (the others off).
Process-wide caches apply in both runs as they would in production: the Kubernetes lists for `gpu.cache` (30 s),
GitHub's read for `review.cache` (5 min), Cost Explorer answers in the database for `thresholds.cost_cache` (6 h);
the clock is frozen, so none of them expires during a tick. Nothing is asserted; raw figures go to
bench/out/digest-*.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from alerts import LIMITED, AnsweringRecorder  # the recorder that rate-limits like Slack (reused, not copied)
from common import ROOT, commit, print_header, save, table
from gpu import prom_counts
from prometheus_client import REGISTRY
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import event

from bot.clock import FrozenClock
from bot.digest import render
from bot.digest.model import SECTIONS, Digest, GpuPart, IncidentsPart, SpendPart, Unavailable
from bot.incidents.desk import OpenRequest
from bot.render.text import notification_text
from bot.services import Services
from bot.store import notices as notice_store
from tests.support.alert_payloads import alert, notification
from tests.support.aws_proxy import AwsProxy
from tests.support.aws_seed import instance, snapshot
from tests.support.bot_process import BOT_TOKEN
from tests.support.config import bot_config, layer, team
from tests.support.dcgm import FB_FREE, FB_USED, TEMP, UTIL, XID, BackfilledPrometheus, Gpu, constant, steps
from tests.support.github_graphql import GitHubFixture
from tests.support.inprocess import make_services
from tests.support.kube_api import KubeApi, container, failed_scheduling, kubeconfig, node, pod
from tests.support.servers import MotoServer
from tests.support.slack_text import slack_text

TOKEN = "ghp_fixture_token_0000000000000000"
ZONES = ("Europe/Berlin", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "UTC")
MEM = {FB_USED: constant(40000), FB_FREE: constant(41559), TEMP: constant(55)}
WAITING = "0/{n} nodes are available: {n} Insufficient nvidia.com/gpu."
BACKENDS = ("prometheus", "kubernetes", "aws", "cost explorer", "github", "database", "slack")
CE = ("GetCostAndUsage", "GetCostForecast")
SECOND_TICK_AFTER = timedelta(seconds=30)  # the leader ticks every 30 s


# --------------------------------------------------------------------------- the teams and their data


@dataclass(frozen=True)
class Spec:
    name: str
    channel: str
    zone: str
    language: str
    namespace: str
    repos: tuple[str, str]
    members: tuple[str, str]  # Slack users on the rotation
    logins: tuple[str, str]  # their GitHub logins


def specs(count: int) -> list[Spec]:
    found = []
    for i in range(count):
        name = f"team-{i:02d}"
        found.append(Spec(name, f"CTEAM{i:02d}", ZONES[i % len(ZONES)], "zh-CN" if i % 10 == 9 else "en", name,
                          (f"acme/{name}-api", f"acme/{name}-trainer"), (f"U{i:02d}A", f"U{i:02d}B"),
                          (f"dev-{i:02d}-a", f"dev-{i:02d}-b")))
    return found


def crontab_at(moment: datetime, zone: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local.minute} {local.hour} * * *"


def config(teams: list[Spec], end: datetime, kind: str, due: int | None = None) -> dict[str, Any]:
    """Every team due at `end` for `kind` (the first `due` teams only, the others off)."""
    entries = []
    for i, spec in enumerate(teams):
        slot = crontab_at(end, spec.zone) if due is None or i < due else "off"
        entries.append(team(spec.name, spec.channel, timezone=spec.zone, language=spec.language,
                            namespaces=[spec.namespace], cost_tag=spec.name, repos=list(spec.repos),
                            budget_usd_month=5000, digest=slot if kind == "daily" else "off",
                            weekly_digest=slot if kind == "weekly" else "off"))
    rotations = {spec.name: {"tiers": [{"name": "1st line", "layers": [
        layer(*spec.members, timezone=spec.zone, rotate_every="1w", handoff="09:00")]}]} for spec in teams}
    return bot_config(teams=entries, oncall=rotations, incidents={"storm_window": "0s"},
                      cost_guards={"shutdown": {"at": "23:30"}},
                      github={"users": {login: member for spec in teams
                                        for login, member in zip(spec.logins, spec.members, strict=True)}})


def gpus_of(spec: Spec) -> list[Gpu]:
    def held(pod_name: str) -> dict[str, str]:
        return {"namespace": spec.namespace, "pod": pod_name, "container": "main"}

    host = f"gpu-{spec.name}"
    return [Gpu(host, "0", labels=held("finetune"), metrics={UTIL: constant(2), **MEM}),  # idle
            Gpu(host, "1", labels=held("train"), metrics={UTIL: constant(95), **MEM}),
            Gpu(host, "2", labels=held("train"), metrics={UTIL: constant(92), **MEM}),
            Gpu(host, "3", labels=held("train"), metrics={UTIL: constant(90), XID: steps((3600, 0), (1200, 79)),
                                                          **MEM})]  # fell off the bus 20 minutes ago


def seed_kube(api: KubeApi, teams: list[Spec], end: datetime) -> None:
    for spec in teams:
        host = f"gpu-{spec.name}"
        api.put(node(host, 4, "NVIDIA-H100-80GB-HBM3"),
                pod(spec.namespace, "finetune", host, [container("main", 1)], created=end - timedelta(hours=3)),
                pod(spec.namespace, "train", host, [container("main", 3)], created=end - timedelta(hours=5)),
                pod(spec.namespace, "sweep", None, [container("main", 4)], phase="Pending",
                    created=end - timedelta(hours=2), unschedulable=WAITING.format(n=len(teams))),
                failed_scheduling(spec.namespace, "sweep", WAITING.format(n=len(teams)),
                                  event_time=end - timedelta(hours=2), count=12,
                                  last_observed=end - timedelta(minutes=1)))


def seed_github(github: GitHubFixture, teams: list[Spec], end: datetime) -> None:
    for spec in teams:
        for login in spec.logins:
            github.user(login)
        for repo in spec.repos:
            github.repo(repo)
        a, b = spec.logins
        github.pull(spec.repos[0], 11, f"Retry checkpoint uploads ({spec.name})", a, end - timedelta(days=4),
                    reviewers=[(b, end - timedelta(days=4))])
        github.pull(spec.repos[0], 12, "Bump the CUDA base image", b, end - timedelta(days=2),
                    reviewers=[(a, end - timedelta(days=2))])
        github.pull(spec.repos[1], 7, "Shard the eval harness", a, end - timedelta(hours=20),
                    reviewers=[(b, end - timedelta(hours=20))])


def month_answer(teams: list[Spec], end: datetime) -> dict[str, Any]:
    """GetCostAndUsage grouped by the team tag, each day of the month so far (Cost Explorer's `team$<value>`)."""
    first = end.date().replace(day=1)
    days = [first + timedelta(days=n) for n in range((end.date() - first).days)]
    return {"GroupDefinitions": [{"Type": "TAG", "Key": "team"}], "ResultsByTime": [
        {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
         "Estimated": False, "Groups": [{"Keys": [f"team${spec.name}"], "Metrics": {"UnblendedCost": {
             "Amount": f"{100.0 + 10 * i:.2f}", "Unit": "USD"}}} for i, spec in enumerate(teams)]} for d in days]}


def service_answer(end: datetime) -> dict[str, Any]:
    """GetCostAndUsage grouped by SERVICE over the last 31 days (a team's overview; moto applies no filter)."""
    days = [end.date() - timedelta(days=n) for n in range(31, 0, -1)]
    return {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}], "ResultsByTime": [
        {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
         "Estimated": False, "Groups": [{"Keys": [name], "Metrics": {"UnblendedCost": {
             "Amount": f"{usd:.2f}", "Unit": "USD"}}} for name, usd in
             (("Amazon Elastic Compute Cloud - Compute", 90.0), ("Amazon SageMaker", 20.0),
              ("Amazon Simple Storage Service", 6.0))]} for d in days]}


def seed_aws(proxy: AwsProxy, teams: list[Spec], end: datetime) -> None:
    for spec in teams:
        instance(proxy.ec2, "p4d.24xlarge", {"team": spec.name, "owner": spec.members[0]})
        instance(proxy.ec2, "g5.12xlarge", {"team": spec.name, "owner": spec.members[1]})
        tags = {"created-by": "pipeline", "team": spec.name, "pipeline": "nightly"}
        old = snapshot(proxy.ec2, 500, tags, f"nightly run of {spec.name}")
        proxy.backdate(old, end - timedelta(days=200))
        snapshot(proxy.ec2, 500, tags, f"tonight's run of {spec.name}")  # fresh: not stale
    proxy.recycle_rules([])
    if end.day > 1:
        proxy.moto.queue_cost_results([month_answer(teams, end)])


def seed_database(services: Services, slack: AnsweringRecorder, teams: list[Spec], clock: FrozenClock,
                  end: datetime) -> None:
    """Incidents (one open, three resolved) and noisy alerts per team; Slack is not rate-limited yet."""
    desk, alerts = services.incidents, services.alerts
    services.chat.pacer.wait = lambda channel: None  # type: ignore[attr-defined]  # seeding: no pacing
    services.incidents.opened.clear()  # evidence, alert attach, resembling incidents: nothing the digest reads
    number = 0

    def opened(spec: Spec, at: datetime, title: str) -> int:
        nonlocal number
        number += 1
        ts = f"1700000000.{number:06d}"
        slack.set_message(spec.channel, ts, text=title, user=spec.members[1])
        clock.set(at)
        incident, _ = desk.open(OpenRequest(reporter=spec.members[1], source="reaction", channel=spec.channel,
                                            message_ts=ts, severity="sev2", emoji="🔥💥", team=spec.name))
        return incident.id

    for spec in teams:
        for days_ago, minutes in ((10, 95), (5, 40), (2, 25)):
            at = end - timedelta(days=days_ago)
            found = opened(spec, at, f"{spec.name}: trainer OOM on {days_ago} days ago")
            clock.set(at + timedelta(minutes=4))
            desk.acknowledge(found, spec.members[1], "bench")
            clock.set(at + timedelta(minutes=minutes))
            desk.resolve(found, spec.members[1])
        opened(spec, end - timedelta(hours=2), f"{spec.name}: checkpoint uploads failing")
        labels = {"team": spec.name, "namespace": spec.namespace, "severity": "warning"}
        streaks = {"GPUTempHigh": ((3, 60), (1, 30), (0, None)), "NodeDiskPressure": ((2, 20), (0, None))}
        for name, spans in streaks.items():
            for days_ago, lasted in spans:
                start = end - timedelta(days=days_ago, hours=2)
                clock.set(start)
                firing = alert(name, starts_at=start, gpu="3", **labels)
                alerts.receive(notification([firing], group_by=("alertname", "team")))
                if lasted is not None:
                    clock.set(start + timedelta(minutes=lasted))
                    ended = alert(name, status="resolved", starts_at=start, ends_at=clock.now(), gpu="3", **labels)
                    alerts.receive(notification([ended], group_by=("alertname", "team")))
        clock.set(end)
        for group in alerts.firing(spec.name):
            voters = spec.members if group.alertname == "GPUTempHigh" else spec.members[:1]
            for voter in voters:
                alerts.mark_noisy(group.id, voter, "fires every night")
    clock.set(end)


# --------------------------------------------------------------------------- the backends


@dataclass
class Backends:
    prometheus: BackfilledPrometheus
    kube: KubeApi
    kubeconfig: str
    aws: AwsProxy
    github: GitHubFixture
    timings: dict[str, float] = field(default_factory=dict)

    def env(self) -> dict[str, Any]:
        return {"prometheus_url": self.prometheus.url, "kubeconfig": self.kubeconfig, "github_token": TOKEN,
                "github_api_url": self.github.url}


def start_backends(stack: ExitStack, tmp: Path, teams: list[Spec], end: datetime) -> Backends:
    timings = {}
    started = time.perf_counter()
    prometheus = stack.enter_context(BackfilledPrometheus(tmp / "prom", [g for s in teams for g in gpus_of(s)], end))
    timings["prometheus"] = time.perf_counter() - started
    started = time.perf_counter()
    kube = stack.enter_context(KubeApi(keep_requests=False))
    seed_kube(kube, teams, end)
    timings["kubernetes"] = time.perf_counter() - started
    started = time.perf_counter()
    moto = stack.enter_context(MotoServer(tmp / "moto"))
    proxy = stack.enter_context(AwsProxy(moto))
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")] + ["AWS_PROFILE"]:
        os.environ.pop(name, None)
    os.environ.update(proxy.aws_env())
    seed_aws(proxy, teams, end)
    timings["aws"] = time.perf_counter() - started
    started = time.perf_counter()
    github = stack.enter_context(GitHubFixture(token=TOKEN, limit=1_000_000))
    seed_github(github, teams, end)
    timings["github"] = time.perf_counter() - started
    return Backends(prometheus, kube, kubeconfig(tmp, kube.url), proxy, github, timings)


# --------------------------------------------------------------------------- counting


class Meter:
    """Backend calls, read from in-process counters: the proxy's, the fixtures', the bot's PrometheusClient (its
    `_query` wrapped), database statements (a cursor event) and the Slack recorder's calls."""

    def __init__(self, services: Services, backends: Backends, slack: AnsweringRecorder) -> None:
        self.backends, self.slack = backends, slack
        self._lock = threading.Lock()
        self.promql = 0
        self.promql_s = 0.0
        self.distinct_promql: set[str] = set()
        self.statements = 0
        prom = services.prom
        for name in ("_query", "dcgm_targets"):
            setattr(prom, name, self._counting(getattr(prom, name)))
        event.listen(services.engine, "before_cursor_execute", self._statement)

    def _counting(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.promql += 1
                    self.promql_s += time.perf_counter() - started
                    self.distinct_promql.add(repr(args))
        return counted

    def _statement(self, *_args: Any) -> None:
        with self._lock:
            self.statements += 1

    def read(self) -> Counter[str]:
        found: Counter[str] = Counter()
        found["prometheus"] = self.promql
        for (_method, path), count in self.backends.kube.request_counts().items():
            found["kubernetes"] += count
            found[f"kubernetes {path}"] += count
        for seen in self.backends.aws.requests:
            found["aws"] += 1
            found[f"aws {seen.action}"] += 1
            found["cost explorer"] += seen.action in CE
        found["github"] = self.backends.github.count
        found["database"] = self.statements
        found["slack"] = len(self.slack.snapshot())
        return found


def metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def process_metrics() -> dict[str, float]:
    return {"slack_retries": metric("bot_retries_total", {"backend": "slack"}),
            "cost_explorer": metric("bot_cost_explorer_requests_total")}


@dataclass
class Run:
    """One run's figures: backend calls by section and in all, time, Slack calls, and what reached the channels."""

    label: str
    teams: int
    wall_s: float = 0.0
    compose_s: float = 0.0
    pacer_s: float = 0.0
    charts_s: float = 0.0
    sections: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    section_s: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    total: Counter[str] = field(default_factory=Counter)
    prometheus_server: dict[str, int] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    slack: dict[str, Any] = field(default_factory=dict)
    delivery: dict[str, Any] = field(default_factory=dict)
    digests: dict[str, Digest] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"label": self.label, "teams": self.teams, "wall_s": self.wall_s, "compose_s": self.compose_s,
                "pacer_s": self.pacer_s, "charts_s": self.charts_s,
                "sections": {k: dict(v) for k, v in self.sections.items()},
                "section_s": dict(self.section_s), "total": dict(self.total),
                "prometheus_server": self.prometheus_server, "metrics": self.metrics, "slack": self.slack,
                "delivery": self.delivery, "extra": self.extra}


def instrument(services: Services, meter: Meter, run: Run) -> None:
    """Wrap the digest's section readers and `compose` on this instance (the bot's code is unchanged)."""
    digests = services.digests
    for name in SECTIONS:
        original = getattr(digests, f"_{name}")

        def section(*args: Any, _original: Callable[..., Any] = original, _name: str = name, **kwargs: Any) -> Any:
            before, started = meter.read(), time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                run.section_s[_name] += time.perf_counter() - started
                run.sections[_name].update(meter.read() - before)

        setattr(digests, f"_{name}", section)
    compose = digests.compose

    def timed_compose(team: Any, *args: Any, **kwargs: Any) -> Digest:
        started = time.perf_counter()
        made = compose(team, *args, **kwargs)
        run.compose_s += time.perf_counter() - started
        run.digests[team.name] = made
        return made

    digests.compose = timed_compose  # type: ignore[method-assign]
    pacer = services.chat.pacer  # type: ignore[attr-defined]
    wait = pacer.wait

    def timed_wait(channel: str) -> None:
        started = time.perf_counter()
        wait(channel)
        run.pacer_s += time.perf_counter() - started

    pacer.wait = timed_wait


@contextmanager
def timed_charts(run: Run) -> Iterator[None]:
    """`render.chart_files` (the weekly PNGs, drawn while the thread is posted) timed for this run."""
    original = render.chart_files

    def charts(digest: Digest) -> list[tuple[str, bytes, str]]:
        started = time.perf_counter()
        try:
            return original(digest)
        finally:
            run.charts_s += time.perf_counter() - started

    render.chart_files = charts
    try:
        yield
    finally:
        render.chart_files = original


def composed(run: Run, meter: Meter, calls: list[Any], teams: list[Spec]) -> dict[str, Any]:
    """What the digests held (every section shown? any unavailable?), the PromQL asked, and one digest's text."""
    shown = [len(d.sections()) for d in run.digests.values()]
    unavailable = Counter(name for d in run.digests.values() for name, part in d.sections()
                          if isinstance(part, Unavailable))
    first = next((item.call for item in calls if item.call.method == "chat.postMessage" and item.call.status == 200
                  and item.call.params.get("channel") == teams[0].channel and not item.call.params.get("thread_ts")),
                 None)
    return {"digests": len(shown), "with_all_sections": sum(1 for n in shown if n == len(SECTIONS)),
            "unavailable": dict(unavailable), "promql_s_summed": meter.promql_s,
            "distinct_promql": len(meter.distinct_promql), "sample": slack_text(first) if first else ""}


# --------------------------------------------------------------------------- Slack: what reached each channel


def slack_figures(calls: list[Any]) -> dict[str, Any]:
    methods: Counter[str] = Counter()
    for item in calls:
        methods[f"{item.call.method} {item.call.status}"] += 1
    ok = [item.call for item in calls if item.call.status == 200 and item.call.response.get("ok", True)]
    posts = [c for c in ok if c.method == "chat.postMessage"]
    return {"methods": dict(methods), "calls": len(calls),
            "main_posts": sum(1 for c in posts if not c.params.get("thread_ts")),
            "thread_replies": sum(1 for c in posts if c.params.get("thread_ts")),
            "uploads": sum(1 for c in ok if c.method == "files.completeUploadExternal"),
            "limited_429": sum(1 for item in calls if item.call.status == 429),
            "other_failed": sum(1 for item in calls if item.call.status not in (200, 429)
                                or (item.call.status == 200 and item.call.response.get("ok") is False))}


def charted(digest: Digest) -> int:
    """How many charts `render.chart_files` makes of a digest (counted, not drawn)."""
    if digest.kind != "weekly":
        return 0
    return sum(1 for _, part in digest.sections() if isinstance(part, IncidentsPart | GpuPart)
               or (isinstance(part, SpendPart) and part.overview is not None))


def delivery(calls: list[Any], teams: list[Spec], digests: dict[str, Digest], top: int, since: float) -> dict[str, Any]:
    """Per team: exactly one top-level post, and its thread holding every detail message and chart; what is lost."""
    ok = [item for item in calls if item.call.status == 200 and item.call.response.get("ok", True)]
    by_channel: dict[str, list[Any]] = defaultdict(list)
    for item in ok:
        channel = item.call.params.get("channel") or item.call.params.get("channel_id")
        by_channel[str(channel)].append(item)
    lost = {"main": 0, "thread": 0, "charts": 0}
    duplicates, wrong_team, last_main, per_team = 0, 0, 0.0, {}
    for spec in teams:
        mine = by_channel.get(spec.channel, [])
        mains = [i for i in mine if i.call.method == "chat.postMessage" and not i.call.params.get("thread_ts")]
        digest = digests.get(spec.name)
        want_thread = len(render.detail_messages(digest, top)) if digest else 0
        want_charts = charted(digest) if digest else 0
        if not mains:
            lost["main"] += 1
            lost["thread"] += want_thread
            lost["charts"] += want_charts
            per_team[spec.name] = {"main": 0}
            continue
        duplicates += len(mains) > 1
        main = mains[0]
        wrong_team += spec.name not in slack_text(main.call)
        ts = str(main.call.response.get("ts"))
        replies = [i for i in mine if i.call.method == "chat.postMessage" and i.call.params.get("thread_ts") == ts]
        charts = [i for i in mine if i.call.method == "files.completeUploadExternal"
                  and i.call.params.get("thread_ts") == ts]
        lost["thread"] += max(0, want_thread - len(replies))
        lost["charts"] += max(0, want_charts - len(charts))
        last_main = max(last_main, main.at - since)
        done = max(i.at for i in [main, *replies, *charts]) - since
        per_team[spec.name] = {"main": len(mains), "thread": len(replies), "thread_expected": want_thread,
                               "charts": len(charts), "charts_expected": want_charts,
                               "main_at_s": main.at - since, "done_at_s": done}
    done_at = [t["done_at_s"] for t in per_team.values() if "done_at_s" in t]
    most = max((1 + t.get("thread_expected", 0) for t in per_team.values()), default=1)
    return {"lost": lost, "lost_total": sum(lost.values()), "duplicates": duplicates, "without_team_name": wrong_team,
            "last_main_at_s": last_main, "last_done_at_s": max(done_at, default=0.0),
            "first_main_at_s": min((t["main_at_s"] for t in per_team.values() if "main_at_s" in t), default=0.0),
            "thread_expected": sum(t.get("thread_expected", 0) for t in per_team.values()),
            "charts_expected": sum(t.get("charts_expected", 0) for t in per_team.values()),
            "most_messages_in_a_channel": most, "per_team": per_team}


# --------------------------------------------------------------------------- the runs


class Bench:
    def __init__(self, tmp: Path, teams: list[Spec], end: datetime, backends: Backends, template: Path) -> None:
        self.tmp, self.teams, self.end, self.backends, self.template = tmp, teams, end, backends, template
        self.made: list[Services] = []

    def bot(self, name: str, slack: AnsweringRecorder, bot_config: dict[str, Any]) -> tuple[Services, FrozenClock]:
        database = self.tmp / f"{name}.db"
        shutil.copyfile(self.template, database)  # the seeded incidents and alerts, the same for every run
        clock = FrozenClock(self.end)
        services = make_services(f"sqlite:///{database}", slack, bot_config, clock, **self.backends.env())
        self.made.append(services)
        return services, clock

    def close(self) -> None:
        for services in self.made:
            services.engine.dispose()

    def tick(self, label: str, kind: str, due: int | None = None) -> Run:
        teams = self.teams if due is None else self.teams[:due]
        run = Run(label, len(teams))
        with AnsweringRecorder() as slack:
            slack.rate_limit_per_channel(LIMITED, per_second=1.0, retry_after=1)
            services, clock = self.bot(label.replace(" ", "-"), slack, config(self.teams, self.end, kind, due))
            meter = Meter(services, self.backends, slack)
            instrument(services, meter, run)
            before, metrics, server = meter.read(), process_metrics(), prom_counts(self.backends.prometheus.url)
            with timed_charts(run):
                started = time.perf_counter()
                posted = services.digests.tick()
                run.wall_s = time.perf_counter() - started
            run.total = meter.read() - before
            run.prometheus_server = _difference(prom_counts(self.backends.prometheus.url), server)
            run.metrics = {k: v - metrics[k] for k, v in process_metrics().items()}
            calls = slack.snapshot()
            run.slack = slack_figures(calls)
            run.delivery = delivery(calls, teams, run.digests, services.config.gpu.top, started)
            run.extra["tick_returned"] = posted
            run.extra["composed"] = composed(run, meter, calls, teams)
            run.extra["notices_posted"] = sum(
                1 for spec in teams if (found := notice_store.latest_notice(services.sessions, "digest", spec.name))
                and found.ts)
            # The leader ticks again 30 s later: the slot is claimed, nothing may be posted or asked.
            clock.advance(SECOND_TICK_AFTER)
            before, seen = meter.read(), len(slack.snapshot())
            started = time.perf_counter()
            again = services.digests.tick()
            asked = meter.read() - before
            run.extra["second_tick"] = {"returned": again, "s": time.perf_counter() - started,
                                        "slack_calls": len(slack.snapshot()) - seen,
                                        "backend_calls": {k: v for k, v in asked.items()
                                                          if k in BACKENDS and k not in ("database", "slack")},
                                        "database": asked["database"]}
        return run

    def baseline(self) -> Run:
        """The same digests, one `compose` per team (no Shared between them), posted by a plain WebClient."""
        run = Run("baseline", len(self.teams))
        with AnsweringRecorder() as slack:
            slack.rate_limit_per_channel(LIMITED, per_second=1.0, retry_after=1)
            services, _ = self.bot("baseline", slack, config(self.teams, self.end, "daily"))
            meter = Meter(services, self.backends, slack)
            instrument(services, meter, run)
            naive = WebClient(token=BOT_TOKEN, base_url=slack.base_url)  # default retries: connection errors only
            refused = 0
            before, metrics, server = meter.read(), process_metrics(), prom_counts(self.backends.prometheus.url)
            top, gpu_top = services.config.digest.top, services.config.gpu.top
            started = time.perf_counter()
            for spec in self.teams:
                made = services.digests.compose(services.config.team_named(spec.name), "daily")
                try:
                    blocks = render.digest_blocks(made, top)
                    answer = naive.chat_postMessage(channel=spec.channel, blocks=blocks,
                                                    text=notification_text(blocks), unfurl_links=False)
                except (SlackApiError, SlackClientError):
                    refused += 1 + len(render.detail_messages(made, gpu_top))
                    continue
                for message in render.detail_messages(made, gpu_top):
                    try:
                        naive.chat_postMessage(channel=spec.channel, blocks=message, text=notification_text(message),
                                               thread_ts=answer["ts"], unfurl_links=False)
                    except (SlackApiError, SlackClientError):
                        refused += 1
            run.wall_s = time.perf_counter() - started
            run.total = meter.read() - before
            run.prometheus_server = _difference(prom_counts(self.backends.prometheus.url), server)
            run.metrics = {k: v - metrics[k] for k, v in process_metrics().items()}
            calls = slack.snapshot()
            run.slack = slack_figures(calls)
            run.delivery = delivery(calls, self.teams, run.digests, gpu_top, started)
            run.extra["refused_messages"] = refused
            run.extra["composed"] = composed(run, meter, calls, self.teams)
        return run


def _difference(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: value - before.get(key, 0) for key, value in after.items()}


# --------------------------------------------------------------------------- report


def _n(counter: Counter[str] | dict[str, int], key: str) -> int:
    return int(counter.get(key, 0))


def ratio(a: float, b: float) -> str:
    if not b:
        return "0 / 0" if not a else "n/a"
    return f"{a / b:.3f}x"


def backend_table(shared: Run, baseline: Run) -> list[list[str]]:
    rows = [["backend calls, all teams", "shared tick", "unshared baseline", "shared / unshared", "shared per team"]]
    for name in BACKENDS:
        a, b = _n(shared.total, name), _n(baseline.total, name)
        rows.append([name, str(a), str(b), ratio(a, b), f"{a / shared.teams:.2f}"])
    actions = sorted({k for run in (shared, baseline) for k in run.total if k.startswith(("aws ", "kubernetes /"))})
    for key in actions:
        a, b = _n(shared.total, key), _n(baseline.total, key)
        rows.append([f"  {key}", str(a), str(b), ratio(a, b), f"{a / shared.teams:.2f}"])
    return rows


def section_table(run: Run) -> list[list[str]]:
    rows = [[f"{run.label}, by section", "time", "PromQL", "kube", "AWS", "of which CE", "GitHub", "DB stmts",
             "Slack"]]
    for name in SECTIONS:
        got = run.sections.get(name, Counter())
        rows.append([name, f"{run.section_s.get(name, 0.0):.2f} s", *(str(_n(got, key)) for key in BACKENDS)])
    return rows


def time_table(shared: Run, baseline: Run, weekly: Run | None) -> list[list[str]]:
    rows = [["time", "wall", "composing", "charts", "posting, the rest", "429s", "1st / last digest at",
             "all threads done"]]
    for run in (shared, baseline, *([weekly] if weekly else [])):
        d = run.delivery
        rows.append([f"{run.label} ({run.teams} teams)", f"{run.wall_s:.2f} s", f"{run.compose_s:.2f} s",
                     f"{run.charts_s:.2f} s", f"{run.wall_s - run.compose_s - run.charts_s:.2f} s",
                     str(run.slack["limited_429"]), f"{d['first_main_at_s']:.2f} / {d['last_main_at_s']:.2f} s",
                     f"{d['last_done_at_s']:.2f} s"])
    rows.append(["shared / unshared", ratio(shared.wall_s, baseline.wall_s),
                 ratio(shared.compose_s, baseline.compose_s), "", "", "", "", ""])
    return rows


def slack_table(shared: Run, baseline: Run, weekly: Run | None) -> list[list[str]]:
    rows = [["Slack", "calls", "top-level posts", "thread replies", "uploads", "429s", "retries", "other failures",
             "lost (main / thread / charts)", "duplicates"]]
    for run in (shared, baseline, *([weekly] if weekly else [])):
        s, d = run.slack, run.delivery
        lost = d["lost"]
        rows.append([run.label, str(s["calls"]), str(s["main_posts"]),
                     f"{s['thread_replies']} of {d['thread_expected']}", f"{s['uploads']} of {d['charts_expected']}",
                     str(s["limited_429"]), f"{run.metrics.get('slack_retries', 0):.0f}", str(s["other_failed"]),
                     f"{lost['main']} / {lost['thread']} / {lost['charts']}", str(d["duplicates"])])
    return rows


def report(shared: Run, baseline: Run, weekly: Run | None, args: argparse.Namespace) -> dict[str, Any]:
    made, d = shared.extra["composed"], shared.delivery
    print(f"\n-- one tick, {shared.teams} teams due in the same slot (daily digest, every section) --")
    print(f"   digests composed: {made['digests']}, with all {len(SECTIONS)} sections: {made['with_all_sections']}, "
          f"sections unavailable: {made['unavailable'] or 0}")
    print(table(backend_table(shared, baseline)))
    print(f"   PromQL: {_n(shared.total, 'prometheus')} queries, {made['distinct_promql']} distinct (query, time) "
          f"(baseline {baseline.extra['composed']['distinct_promql']}), {made['promql_s_summed']:.2f} s summed over the"
          f" client's threads; Prometheus's own count (prometheus_http_requests_total) shared / unshared: "
          f"{shared.prometheus_server} / {baseline.prometheus_server}")
    print(f"   bot_cost_explorer_requests_total shared / unshared: {shared.metrics['cost_explorer']:.0f} / "
          f"{baseline.metrics['cost_explorer']:.0f}")
    print()
    print(table(section_table(shared)))
    print()
    print(table(section_table(baseline)))
    print()
    print(table(time_table(shared, baseline, weekly)))
    floor = shared.compose_s + d["most_messages_in_a_channel"] - 1
    print(f"   composing per team: shared {shared.compose_s / shared.teams * 1000:.0f} ms, unshared "
          f"{baseline.compose_s / baseline.teams * 1000:.0f} ms; posting per team in the tick: "
          f"{(shared.wall_s - shared.compose_s) / shared.teams:.2f} s; floor at 1 message/s/channel with the "
          f"channels posted side by side: composing + ({d['most_messages_in_a_channel']} messages - 1) s = "
          f"{floor:.1f} s (tick / floor {shared.wall_s / floor:.1f}x)")
    print()
    print(table(slack_table(shared, baseline, weekly)))
    print(f"   shared tick, Slack calls by method and status: {dict(sorted(shared.slack['methods'].items()))}; "
          f"pacer waits {shared.pacer_s:.2f} s")
    print(f"   baseline, Slack calls by method and status: {dict(sorted(baseline.slack['methods'].items()))}")
    second = shared.extra["second_tick"]
    print(f"   tick returned {shared.extra['tick_returned']}; digest notices with a ts: "
          f"{shared.extra['notices_posted']} of {shared.teams}; top-level posts without their team's name: "
          f"{d['without_team_name']}")
    print(f"   lost: {d['lost_total']}  (main {d['lost']['main']}, thread {d['lost']['thread']} of "
          f"{d['thread_expected']}); duplicates: {d['duplicates']}; second tick 30 s later: returned "
          f"{second['returned']}, {second['slack_calls']} Slack calls, backend calls {second['backend_calls'] or 0}, "
          f"{second['database']} database statements, {second['s'] * 1000:.0f} ms")
    print(f"   baseline (naive poster, no 429 handling): lost {baseline.delivery['lost_total']} messages "
          f"(main {baseline.delivery['lost']['main']}, thread {baseline.delivery['lost']['thread']})")
    if weekly:
        w, of = weekly.delivery, "" if weekly.teams == shared.teams else f" of {shared.teams}"
        print(f"   weekly tick ({weekly.teams} teams due{of}): {weekly.wall_s:.2f} s, composing "
              f"{weekly.compose_s:.2f} s, drawing {w['charts_expected']} charts {weekly.charts_s:.2f} s; lost "
              f"{w['lost_total']} (main {w['lost']['main']}, thread {w['lost']['thread']}, charts "
              f"{w['lost']['charts']}); Cost Explorer requests {_n(weekly.total, 'cost explorer')}; PromQL "
              f"{_n(weekly.total, 'prometheus')}; second tick: {weekly.extra['second_tick']['slack_calls']} Slack "
              f"calls")
    return {"shared": shared.as_json(), "baseline": baseline.as_json(),
            "weekly": weekly.as_json() if weekly else None, "args": vars(args),
            "tables": {"backends": backend_table(shared, baseline), "sections": section_table(shared),
                       "sections_baseline": section_table(baseline), "time": time_table(shared, baseline, weekly),
                       "slack": slack_table(shared, baseline, weekly)}}


class WarningCount(logging.Handler):
    """Counts the bot's warnings and keeps the first few, so the run's output stays a table."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count: Counter[str] = Counter()
        self.first: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count[record.name] += 1
        if len(self.first) < 8:
            self.first.append(f"{record.levelname} {record.name}: {record.getMessage()[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teams", type=int, default=50, help="teams, all due in the same slot (default 50)")
    parser.add_argument("--weekly-teams", type=int, default=None,
                        help="teams due in the weekly tick (default: all when --teams <= 10, else 10)")
    parser.add_argument("--no-weekly", action="store_true", help="skip the weekly tick")
    args = parser.parse_args()
    weekly_teams = args.weekly_teams if args.weekly_teams is not None else min(args.teams, 10)
    print_header(f"digests: {args.teams} teams due in one slot, every section, Slack at 1 call/s/channel")
    warnings = WarningCount()
    logging.getLogger().addHandler(warnings)
    logging.getLogger().setLevel(logging.WARNING)
    begun = time.perf_counter()
    teams = specs(args.teams)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-digest-")))
        backends = start_backends(stack, tmp, teams, end)
        t = backends.timings
        print(f"   backends: Prometheus backfilled and ready {t['prometheus']:.1f} s ({backends.prometheus.samples:,} "
              f"samples, {4 * len(teams)} GPUs), Kubernetes fixture {t['kubernetes']:.1f} s, moto seeded "
              f"{t['aws']:.1f} s, GitHub fixture {t['github']:.1f} s")
        started = time.perf_counter()
        template = tmp / "template.db"
        with AnsweringRecorder() as seeding:
            clock = FrozenClock(end)
            seeder = make_services(f"sqlite:///{template}", seeding, config(teams, end, "daily"), clock,
                                   **backends.env())
            seed_database(seeder, seeding, teams, clock, end)
            seeder.engine.dispose()
        print(f"   database seeded in {time.perf_counter() - started:.1f} s: {4 * len(teams)} incidents "
              f"({len(teams)} open), {2 * len(teams)} alert names in {5 * len(teams)} firing streaks, "
              f"{3 * len(teams)} 👎")
        bench = Bench(tmp, teams, end, backends, template)
        try:
            print("   shared: one tick ...", flush=True)
            shared = bench.tick("shared tick", "daily")
            print(f"      {shared.wall_s:.1f} s", flush=True)
            print("   baseline: compose per team, naive posts ...", flush=True)
            baseline = bench.baseline()
            print(f"      {baseline.wall_s:.1f} s", flush=True)
            weekly = None
            if not args.no_weekly:
                print(f"   weekly: one tick, {weekly_teams} teams due ...", flush=True)
                backends.aws.moto.queue_cost_results([service_answer(end) for _ in range(weekly_teams)])
                for _ in range(weekly_teams):
                    backends.aws.queue_forecast(4200.0)
                weekly = bench.tick("weekly tick", "weekly", due=weekly_teams)
                print(f"      {weekly.wall_s:.1f} s", flush=True)
        finally:
            bench.close()
    data = report(shared, baseline, weekly, args)
    if warnings.count:
        print(f"   the bot logged {sum(warnings.count.values())} warnings: {dict(warnings.count)}")
        for line in warnings.first:
            print(f"     {line}")
    print(f"\n   whole run: {time.perf_counter() - begun:.0f} s")
    data["warnings"] = {"count": dict(warnings.count), "first": warnings.first}
    data["end"] = end.isoformat()
    data["commit"] = commit()
    path = save("digest", data)
    print(f"   saved {path.relative_to(ROOT)}")
    return 0



if __name__ == "__main__":
    sys.exit(main())
