"""Soak: minutes of mixed Slack and Alertmanager traffic against `python -m bot serve` on PostgreSQL, watching the
acks, the errors and the process (RSS, open files, threads, database connections) over time, then checking that
everything happened exactly once.

    .venv/bin/python bench/soak.py                        # ~13 min: 10 min at 5 requests/s, the drain, the checks
    .venv/bin/python bench/soak.py --minutes 1            # ~2.5 min, for debugging
    .venv/bin/python bench/soak.py --rate 10 --senders 12
    .venv/bin/python bench/soak.py --minutes 6 --no-charts                       # the same mix, no PNG drawn
    .venv/bin/python bench/soak.py --tracemalloc DIR --bot-env MEMORY_SERVE_TRACE=0   # the bot's own counts in DIR

Everything is started here on 127.0.0.1 and stopped at the end by PID (also on Ctrl-C or an error); the temp dir
goes too:
- a throwaway PostgreSQL cluster (tests/support/servers.py `PostgresServer`, via bench/page.py `Databases`) with a
  fresh database;
- the Slack recorder (bench/alerts.py `AnsweringRecorder`, which keeps every answered call), here with an index of
  the bot's posts: incident numbers by tag, and the buttons each post carries;
- the backends of bench/digest.py for --teams teams (default 3): Prometheus backfilled with DCGM series up to past
  the end of the run, the Kubernetes API fixture, moto behind tests/support/aws_proxy.py, the GitHub GraphQL fixture;
- the bot: `python -m bot serve` (tests/support/bot_process.py, LOG_LEVEL=INFO) with those teams, each with a
  two-tier rotation (1st line U<nn>A, 2nd line U<nn>B), sev2 `ack_within: 2m`, `repeat_last_tier: 0`,
  `storm_window: 0s`; team-00's daily digest every minute, team-01's weekly digest (with charts) every 3 minutes,
  the other teams' daily digest every 2 minutes.

Traffic: --rate requests a second, open loop (each request leaves at its planned time whatever the earlier answers),
from --senders threads, each request on a new connection as Slack's are. At each tick the dispatcher sends a due
follow-up if there is one, else a new action drawn from this mix:
- slash commands (/oncall, /incident status|stats, /gpu [idle|queue], /spend [burn|shutdown], /review [team],
  /digest, /alerts [noisy]) in a team channel, each with its own response_url;
- chatter: message events that fire nothing;
- incidents (tag `soak<nnnnn>` in the title): a message with 🔥💥 typed, a message that gets 🔥 and 1-3 s later 💥
  from someone else, or `/incident declare`. 5-30 s after the page the 1st line acknowledges by 👀 on the page DM,
  the page's Ack button or the summary's Ack button (action ids and values read from the blocks the bot posted),
  15 % of them a second time another way; 10-60 s later by ✅ on the summary or its Resolve button (10 % twice).
  10 % of incidents are never acknowledged and are resolved 150-200 s after opening: they escalate to the 2nd line;
- Alertmanager v4 webhooks (tests/support/alert_payloads.py) for groups `BenchGroup<nnnn>` (severity warning,
  routed by their team label): firing, a repeat 10-20 s later, a second alert joining at 25-45 s, both resolved at
  60-120 s;
- and on their own, the scheduled digests.
New incidents and alert groups stop --quiet-tail seconds before the end; follow-ups still waiting then are sent at
the same rate with their delays cut to 5 %. Every delay scales with --minutes below 10.

Measured: each request's status and ack latency (POST sent -> answer) at the client; every 5 s the bot's RSS
(/proc/PID/status VmRSS), open file descriptors (/proc/PID/fd), threads and CPU time, and its database connections
(pg_stat_activity); ERROR lines in its log; error replies it posted ("Something went wrong", "Couldn't get an
answer", a digest section "unavailable"). A line every 30 s, and at the end:
- acks over 3 s (target 0); p50/p99/max under load against an idle baseline measured first in the same run
  (--idle commands one at a time, 0.5 s apart);
- RSS, fds, threads and connections per minute; the last minute against the first (drift ratio), the RSS slope over
  the second half, the peak (target: flat, at most 200 MB);
- after a drain (the alert outbox empty and Slack quiet for 3 s, at most --drain s), the invariants, PASS or FAIL
  each (exit status 1 on a FAIL): every 🔥💥 gave one incident, one confirmation and one 1st-line page; no tier
  paged twice; each acknowledgement and each resolve took effect once; each alert group one Slack message, shown
  resolved, with one recovery reply; each digest slot posted once and every slot due posted; correlation notes
  ("🔗 correlated: …") in the incident's channel, never in a team channel; no duplicate posts; every command
  answered; every follow-up found its page or summary; the outbox drained and no page stuck.
Also printed: the bot's open file descriptors by kind (sockets, pipes, the directories of open files) at the start and
the end of the load, and how long it took to stop on SIGTERM. Raw figures go to bench/out/soak-*.json; the bot's
WARNING and ERROR lines to bench/out/soak-*-log.txt.

To tell where memory goes: --no-charts leaves out every command that draws a PNG (and the weekly digest);
--bot-env NAME=VALUE sets the bot's environment (MALLOC_ARENA_MAX=2, ...); --tracemalloc DIR starts the bot through
bench/memory_serve.py, which writes heap snapshots and counts (gc objects, matplotlib figures and cached fonts, open
fds) into DIR (MEMORY_SERVE_EVERY, MEMORY_SERVE_TRACE: see there).
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import requests
from alerts import NAME, AnsweringRecorder, bot_group_correct, tally
from common import OUT, ROOT, LaunchedBot, commit, ms, percentile, print_header, process_cpu_seconds, ratio, save, table
from digest import TOKEN, Spec, specs, start_backends
from page import Databases
from sqlalchemy.engine import make_url

from tests.support.alert_payloads import alert, notification
from tests.support.bot_process import SIGNING_SECRET, BotProcess
from tests.support.config import bot_config, layer, rotation, team
from tests.support.signing import event_body, interactivity_body, signed_headers, slash_command_body
from tests.support.slack_recorder import Call
from tests.support.slack_text import slack_text

ACK_LIMIT = 3.0  # Slack gives up on an ack after 3 s and sends the request again
RSS_TARGET_MB = 200.0
SAMPLE_EVERY = 5.0
PRINT_EVERY = 30.0
ACK_WITHIN = timedelta(minutes=2)  # sev2: unacknowledged this long, the 2nd line is paged
FORECASTS = 10  # Cost Explorer forecasts queued per team (each distinct one is cached in the database for 6 h)
MAX_TRIES = 40  # a follow-up waits up to this many seconds for its page or summary
FLUSH_COMPRESS = 0.05  # at the end, waiting follow-ups keep their order with 5 % of their delays
FLUSH_LIMIT = 60.0
QUIET = 3.0  # the drain ends when Slack saw no call this long (and the outbox is empty)
TAG = "soak{:05d}"
TAG_RE = re.compile(r"\bsoak\d{5}\b")
TIER_RE = re.compile(r"You are on call \(([^)]+)\) for")
ACKED_RE = re.compile(r"acknowledged incident #(\d+) after")
RESOLVED_RE = re.compile(r"resolved incident #(\d+)\. Time to resolve")
DIGEST_RE = re.compile(r"📋 (?:Daily|Weekly) digest · ")
CORRELATED = "🔗 correlated:"  # an alert group's note in an incident opened while it fires
ERROR_TEXTS = {"error id": "Something went wrong on our side", "backend": "Couldn't get an answer from",
               "digest section unavailable": ": unavailable ("}
USERS = ("UALICE", "UBOB", "UCAROL", "UDAVE")
PHRASES = ("checkout returns 502 after the deploy", "trainer OOM on every node", "API p99 over 2 s",
           "queue consumers stuck", "login page is blank")
CHATTER = ("deploy of api v2.3 done", "lunch at noon?", "🔥 that demo was great", "who has the GPU quota sheet?",
           "👀 looking at the flaky test")
COMMANDS = (("/oncall", ""), ("/incident", "status"), ("/incident", "stats 7d"), ("/gpu", ""), ("/gpu", "idle"),
            ("/gpu", "queue"), ("/spend", ""), ("/spend", "burn"), ("/spend", "shutdown"), ("/review", ""),
            ("/review", "team"), ("/digest", ""), ("/alerts", ""), ("/alerts", "noisy"))
CHARTS = (("/incident", "stats 7d"), ("/alerts", "noisy"), ("/gpu", ""), ("/spend", ""))  # those that draw a PNG
MIX = {"command": 50, "chatter": 14, "incident_message": 2, "incident_reaction": 2, "incident_declare": 1,
       "alert_group": 6}
OPENING = frozenset({"incident_message", "incident_reaction", "incident_declare", "alert_group"})
ACK_WAYS = {"👀 on the page DM": 0.4, "Ack on the page DM": 0.3, "Ack on the summary": 0.3}
RESOLVE_WAYS = {"✅ on the summary": 0.5, "Resolve on the summary": 0.5}
NO_ACK, TWICE_ACK, TWICE_RESOLVE = 0.10, 0.15, 0.10


# --------------------------------------------------------------------------- the bot's config


def schedules(index: int, charts: bool) -> dict[str, str]:
    """team-00: a daily digest every minute; team-01: a weekly one (charts; without `charts` a daily one) every 3
    minutes; the others a daily one every 2."""
    if index == 0:
        return {"digest": "* * * * *", "weekly_digest": "off"}
    if index == 1:
        return {"digest": "off", "weekly_digest": "*/3 * * * *"} if charts else \
            {"digest": "*/3 * * * *", "weekly_digest": "off"}
    return {"digest": "*/2 * * * *", "weekly_digest": "off"}


def every_minutes(index: int) -> int:
    return (1, 3)[index] if index < 2 else 2


def config(teams: list[Spec], charts: bool = True) -> dict[str, Any]:
    entries = [team(s.name, s.channel, timezone=s.zone, language=s.language, namespaces=[s.namespace],
                    cost_tag=s.name, repos=list(s.repos), budget_usd_month=5000, **schedules(i, charts))
               for i, s in enumerate(teams)]
    oncall = {s.name: rotation(layer(s.members[0], timezone=s.zone), layer(s.members[1], timezone=s.zone))
              for s in teams}
    severities = {"sev1": {"ack_within": "5m"}, "sev2": {"ack_within": f"{ACK_WITHIN.seconds}s"},
                  "sev3": {"ack_within": "60m"}, "sev4": {"ack_within": None, "page": False}}
    return bot_config(teams=entries, oncall=oncall,
                      incidents={"storm_window": "0s", "repeat_last_tier": 0, "severities": severities},
                      github={"users": {login: member for s in teams
                                        for login, member in zip(s.logins, s.members, strict=True)}})


# --------------------------------------------------------------------------- Slack: the recorder and its index


@dataclass(frozen=True)
class Posted:
    """A button in a message the bot posted."""

    channel: str
    ts: str
    block_id: str
    element: dict[str, Any]


def buttons_of(call: Call) -> list[tuple[str, dict[str, Any]]]:
    """(block_id, element) of every interactive element in a posted message's blocks."""
    blocks = call.json_param("blocks") or []
    return [(str(block.get("block_id", "")), element) for block in blocks if block.get("type") == "actions"
            for element in block.get("elements", []) if "action_id" in element]


class SoakRecorder(AnsweringRecorder):
    """An AnsweringRecorder that indexes what the bot said: incident numbers by tag (from the confirmation, the post
    with the Undo button), every button by (action_id, value), answers by response_url id, and error replies."""

    def __init__(self) -> None:
        super().__init__()
        self._index = threading.Lock()
        self.numbers: dict[str, int] = {}
        self.buttons: dict[tuple[str, str], list[Posted]] = defaultdict(list)
        self.answered_ids: Counter[str] = Counter()
        self.error_replies: list[tuple[str, str, str]] = []  # (method, kind, text)

    def answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, payload, headers = super().answer(call)
        if status == 200 and payload.get("ok", True):
            self._note(call, payload)
        return status, payload, headers

    def _note(self, call: Call, payload: dict[str, Any]) -> None:
        text = slack_text(call)
        with self._index:
            self.error_replies += [(call.method, kind, text[:300]) for kind, marker in ERROR_TEXTS.items()
                                   if marker in text]
            if call.method == "response_url":
                self.answered_ids[call.path.rsplit("/", 1)[1]] += 1
            if call.method != "chat.postMessage":
                return
            channel, ts = str(call.params.get("channel", "")), str(payload.get("ts", ""))
            for block_id, element in buttons_of(call):
                self.buttons[(element["action_id"], str(element.get("value")))].append(
                    Posted(channel, ts, block_id, element))
                tag = TAG_RE.search(text)
                if element["action_id"] == "incident_undo" and tag:
                    self.numbers.setdefault(tag.group(0), int(element["value"]))

    def number_of(self, tag: str) -> int | None:
        with self._index:
            return self.numbers.get(tag)

    def known_numbers(self) -> list[int]:
        with self._index:
            return list(self.numbers.values())

    def carrying(self, action_id: str, value: int, dm: bool) -> Posted | None:
        """The first post (a DM, or not) with the button `action_id` whose value is `value`."""
        with self._index:
            found = self.buttons.get((action_id, str(value)), [])
            return next((p for p in found if p.channel.startswith("D") == dm), None)

    def errors(self) -> list[tuple[str, str, str]]:
        with self._index:
            return list(self.error_replies)


# --------------------------------------------------------------------------- traffic


@dataclass(frozen=True)
class Request:
    kind: str
    body: bytes
    path: str = "/slack/events"

    @property
    def slack(self) -> bool:
        return self.path == "/slack/events"


@dataclass(frozen=True)
class Sent:
    kind: str
    slack: bool
    at: float  # planned, seconds after the load began
    lag: float  # how late it left against its plan
    latency: float
    status: int


@dataclass
class Incident:
    tag: str
    team: Spec
    how: str  # message | reaction | declare
    ts: str | None  # the origin message
    number: int | None = None
    acks: list[str] = field(default_factory=list)
    resolves: list[str] = field(default_factory=list)

    @property
    def actor(self) -> str:
        """The team's 1st line: paged, and a responder for every change."""
        return self.team.members[0]


@dataclass
class AlertGroup:
    index: int
    name: str
    team: str
    sent: list[str] = field(default_factory=list)


@dataclass(order=True)
class Step:
    due: float
    seq: int
    what: str = field(compare=False)
    make: Callable[[], Request | None] = field(compare=False)  # None: not possible yet (its page not posted...)
    tries: int = field(default=0, compare=False)


def message(channel: str, user: str, text: str, ts: str) -> dict[str, Any]:
    return {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "channel_type": "channel"}


def reaction(user: str, name: str, channel: str, ts: str) -> dict[str, Any]:
    return {"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
            "item": {"type": "message", "channel": channel, "ts": ts}, "event_ts": f"{time.time():.6f}"}


def click(user: str, posted: Posted, response_url: str) -> bytes:
    """A block_actions payload for the button `posted`, as Slack sends it."""
    element = posted.element
    return interactivity_body({
        "type": "block_actions", "user": {"id": user}, "team": {"id": "T1"}, "channel": {"id": posted.channel},
        "trigger_id": f"{time.time():.0f}.1.soak", "response_url": response_url,
        "container": {"type": "message", "message_ts": posted.ts, "channel_id": posted.channel},
        "message": {"ts": posted.ts, "text": ""},
        "actions": [{"type": element.get("type", "button"), "action_id": element["action_id"],
                     "value": element.get("value"), "block_id": posted.block_id, "action_ts": f"{time.time():.6f}"}]})


class Traffic:
    """Makes the requests (new actions and their follow-ups) and sends them; the heap is the dispatcher's alone."""

    def __init__(self, url: str, slack: SoakRecorder, teams: list[Spec], rng: random.Random, scale: float,
                 charts: bool = True) -> None:
        self.url, self.slack, self.teams, self.rng, self.scale = url, slack, teams, rng, scale
        self.commands_drawn = [c for c in COMMANDS if charts or c not in CHARTS]
        self.heap: list[Step] = []
        self.seq = itertools.count()
        self.ids = itertools.count(1)
        self.base = int(time.time())
        self.incidents: list[Incident] = []
        self.groups: list[AlertGroup] = []
        self.commands: dict[str, str] = {}  # response_url id -> the command
        self.missing: list[str] = []  # follow-ups that never found their page or summary
        self.records: list[Sent] = []
        self.lock = threading.Lock()
        self.began = time.perf_counter()

    # ----------------------------------------------------------------- scheduling

    def later(self, low: float, high: float, what: str, make: Callable[[], Request | None]) -> None:
        delay = max(0.5, self.rng.uniform(low, high) * self.scale)
        heapq.heappush(self.heap, Step(time.perf_counter() + delay, next(self.seq), what, make))

    def due(self, now: float) -> Request | None:
        """The next due follow-up that can be made now; one that cannot yet is tried again a second later."""
        while self.heap and self.heap[0].due <= now:
            step = heapq.heappop(self.heap)
            request = step.make()
            if request is not None:
                return request
            step.tries += 1
            if step.tries >= MAX_TRIES:
                self.missing.append(step.what)
            else:
                step.due = now + 1.0
                heapq.heappush(self.heap, step)
        return None

    def compress(self, now: float) -> None:
        """The end of the load: every waiting follow-up keeps its order, with FLUSH_COMPRESS of its delay."""
        for step in self.heap:
            step.due = now + max(0.0, step.due - now) * FLUSH_COMPRESS
        heapq.heapify(self.heap)

    def new(self, opening: bool) -> Request:
        kinds = [kind for kind in MIX if opening or kind not in OPENING]
        kind = self.rng.choices(kinds, [MIX[k] for k in kinds])[0]
        made: Request = getattr(self, kind)()
        return made

    # ----------------------------------------------------------------- new actions

    def response_url(self, what: str) -> str:
        rid = f"r{next(self.ids)}"
        self.commands[rid] = what
        return self.slack.response_url(rid)

    def command(self) -> Request:
        name, text = self.rng.choice(self.commands_drawn)
        spec = self.rng.choice(self.teams)
        if text == "status":
            known = self.slack.known_numbers()
            text = f"status {self.rng.choice(known)}" if known else "stats 7d"
        words = f"{name} {text}".strip()
        body = slash_command_body(name, text, user_id=self.rng.choice((*spec.members, *USERS)),
                                  channel_id=spec.channel, response_url=self.response_url(words))
        return Request(f"command {' '.join(words.split()[:2])}", body)

    def chatter(self) -> Request:
        spec = self.rng.choice(self.teams)
        event = message(spec.channel, self.rng.choice(USERS), self.rng.choice(CHATTER), self.next_ts())
        return Request("event message", event_body(event))

    def next_ts(self) -> str:
        return f"{self.base}.{next(self.ids):06d}"

    def opened(self, how: str, ts: str | None) -> tuple[Incident, str]:
        incident = Incident(TAG.format(len(self.incidents) + 1), self.rng.choice(self.teams), how, ts)
        self.incidents.append(incident)
        if self.rng.random() < NO_ACK:
            self.later(150, 200, f"resolve {incident.tag}", lambda: self.resolve(incident))
        else:
            self.later(5, 30, f"acknowledge {incident.tag}", lambda: self.acknowledge(incident))
        return incident, f"{incident.tag} {self.rng.choice(PHRASES)}"

    def incident_message(self) -> Request:
        incident, title = self.opened("message", self.next_ts())
        assert incident.ts is not None
        event = message(incident.team.channel, self.rng.choice(USERS), f"{title} 🔥💥", incident.ts)
        return Request("event message 🔥💥", event_body(event))

    def incident_reaction(self) -> Request:
        incident, title = self.opened("reaction", self.next_ts())
        channel, ts = incident.team.channel, str(incident.ts)
        self.slack.set_message(channel, ts, text=title, user="UAUTHOR")
        first, second = self.rng.sample(USERS, 2)
        self.later(1, 3, f"💥 on {incident.tag}",
                   lambda: Request("event reaction 💥", event_body(reaction(second, "boom", channel, ts))))
        return Request("event reaction 🔥", event_body(reaction(first, "fire", channel, ts)))

    def incident_declare(self) -> Request:
        incident, title = self.opened("declare", None)
        body = slash_command_body("/incident", f"declare {title}", user_id=self.rng.choice(USERS),
                                  channel_id=incident.team.channel,
                                  response_url=self.response_url("/incident declare"))
        return Request("command /incident declare", body)

    def alert_group(self) -> Request:
        spec = self.rng.choice(self.teams)
        group = AlertGroup(len(self.groups), NAME.format(len(self.groups)), spec.name)
        self.groups.append(group)
        labels = {"namespace": spec.namespace, "severity": "warning", "team": spec.name}
        began = datetime.now(UTC) - timedelta(minutes=1)
        pods = {"a": began, "b": began + timedelta(seconds=30)}
        firing = {p: alert(group.name, pod=f"{group.name.lower()}-{p}", starts_at=at, **labels)
                  for p, at in pods.items()}

        def resolved() -> list[dict[str, Any]]:
            return [alert(group.name, status="resolved", pod=f"{group.name.lower()}-{p}", starts_at=at,
                          ends_at=datetime.now(UTC), **labels) for p, at in pods.items()]

        self.later(10, 20, f"repeat {group.name}", lambda: self.webhook(group, "repeat", [firing["a"]]))
        self.later(25, 45, f"join {group.name}", lambda: self.webhook(group, "join", list(firing.values())))
        self.later(60, 120, f"resolve {group.name}", lambda: self.webhook(group, "resolve", resolved()))
        return self.webhook(group, "fire", [firing["a"]])

    @staticmethod
    def webhook(group: AlertGroup, kind: str, alerts: list[dict[str, Any]]) -> Request:
        group.sent.append(kind)
        return Request(f"webhook {kind}", json.dumps(notification(alerts)).encode(), "/alertmanager")

    # ----------------------------------------------------------------- follow-ups

    def acknowledge(self, incident: Incident) -> Request | None:
        number = incident.number = incident.number or self.slack.number_of(incident.tag)
        page = self.slack.carrying("incident_ack", number, dm=True) if number else None
        if number is None or page is None:
            return None
        ways = [w for w in ACK_WAYS if w not in incident.acks]
        way = self.rng.choices(ways, [ACK_WAYS[w] for w in ways])[0]
        if way == "👀 on the page DM":
            request = Request("event reaction 👀", event_body(reaction(incident.actor, "eyes", page.channel, page.ts)))
        else:
            where = page if way == "Ack on the page DM" else self.slack.carrying("incident_ack", number, dm=False)
            if where is None:
                return None
            request = Request("button incident_ack", click(incident.actor, where, self.response_url("incident_ack")))
        if not incident.acks:
            if self.rng.random() < TWICE_ACK:
                self.later(1, 4, f"acknowledge {incident.tag} again", lambda: self.acknowledge(incident))
            self.later(10, 60, f"resolve {incident.tag}", lambda: self.resolve(incident))
        incident.acks.append(way)
        return request

    def resolve(self, incident: Incident) -> Request | None:
        number = incident.number = incident.number or self.slack.number_of(incident.tag)
        summary = self.slack.carrying("incident_resolve", number, dm=False) if number else None
        if summary is None:
            return None
        ways = [w for w in RESOLVE_WAYS if w not in incident.resolves]
        way = self.rng.choices(ways, [RESOLVE_WAYS[w] for w in ways])[0]
        if not incident.resolves and self.rng.random() < TWICE_RESOLVE:
            self.later(1, 4, f"resolve {incident.tag} again", lambda: self.resolve(incident))
        incident.resolves.append(way)
        if way == "✅ on the summary":
            return Request("event reaction ✅", event_body(reaction(incident.actor, "white_check_mark",
                                                                    summary.channel, summary.ts)))
        return Request("button incident_resolve",
                       click(incident.actor, summary, self.response_url("incident_resolve")))

    # ----------------------------------------------------------------- sending

    def send(self, request: Request, planned: float) -> Sent:
        headers = signed_headers(SIGNING_SECRET, request.body) if request.slack else \
            {"Content-Type": "application/json"}
        started = time.perf_counter()
        try:  # a new connection each time, as Slack's
            status = requests.post(self.url + request.path, data=request.body, headers=headers,
                                   timeout=30).status_code
        except requests.RequestException:
            status = 0
        sent = Sent(request.kind, request.slack, planned - self.began, started - planned,
                    time.perf_counter() - started, status)
        with self.lock:
            self.records.append(sent)
        return sent

    def snapshot(self) -> list[Sent]:
        with self.lock:
            return list(self.records)


def run_load(traffic: Traffic, rate: float, seconds: float, quiet_tail: float, senders: int) -> dict[str, float]:
    """Send at `rate` for `seconds`, then the waiting follow-ups (at most FLUSH_LIMIT s); the phases' lengths."""
    interval = 1.0 / rate
    traffic.began = start = time.perf_counter()
    flushing = False
    with ThreadPoolExecutor(max_workers=senders, thread_name_prefix="sender") as pool:
        try:
            for tick in itertools.count():
                planned = start + tick * interval
                time.sleep(max(0.0, planned - time.perf_counter()))
                elapsed = planned - start
                if elapsed < seconds:
                    request = traffic.due(planned) or traffic.new(opening=elapsed < seconds - quiet_tail)
                elif traffic.heap and elapsed < seconds + FLUSH_LIMIT:
                    if not flushing:
                        flushing = True
                        traffic.compress(planned)
                    follow_up = traffic.due(planned)
                    if follow_up is None:
                        continue
                    request = follow_up
                else:
                    break
                pool.submit(traffic.send, request, planned)
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return {"load_s": seconds, "flush_s": max(0.0, time.perf_counter() - start - seconds)}


def idle_baseline(traffic: Traffic, count: int) -> list[Sent]:
    """`count` commands one at a time, 0.5 s apart, before any load."""
    found = []
    for _ in range(count):
        found.append(traffic.send(traffic.command(), time.perf_counter()))
        time.sleep(0.5)
    with traffic.lock:
        traffic.records.clear()
    return found


# --------------------------------------------------------------------------- the bot process, watched


@dataclass(frozen=True)
class Sample:
    t: float  # seconds after the load began
    rss_mb: float
    fds: int
    threads: int
    db: int
    cpu_s: float


class LogWatch:
    """ERROR (and CRITICAL, tracebacks) and WARNING lines of the bot's JSON log, read as it grows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self.offset)
            data = log.read()
        complete = data.rfind(b"\n") + 1
        self.offset += complete
        for line in data[:complete].decode("utf-8", "replace").splitlines():
            if any(f'"levelname": "{level}"' in line for level in ("ERROR", "CRITICAL")) or \
                    line.startswith("Traceback"):
                self.errors.append(line)
            elif '"levelname": "WARNING"' in line:
                self.warnings.append(line)


def fd_kinds(pid: int) -> Counter[str]:
    """The process's open file descriptors by kind: socket, pipe, anon_inode:…, or the file's directory."""
    kinds: Counter[str] = Counter()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:  # closed while listed
            continue
        kinds[target.split(":", 1)[0] if ":[" in target else target.rsplit("/", 1)[0] + "/"] += 1
    return kinds


def proc_status(pid: int) -> tuple[float, int]:
    """(VmRSS in MB, threads) from /proc/PID/status."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["Threads"])


class Watch(threading.Thread):
    """Samples the bot every SAMPLE_EVERY s and prints a line every PRINT_EVERY s."""

    def __init__(self, bot: BotProcess, conninfo: str, database: str, traffic: Traffic, slack: SoakRecorder,
                 log: LogWatch) -> None:
        super().__init__(name="watch", daemon=True)
        assert bot.process is not None
        self.bot, self.pid, self.traffic, self.slack, self.log = bot, bot.process.pid, traffic, slack, log
        self.conninfo, self.database = conninfo, database
        self.samples: list[Sample] = []
        self.fds_at_start = fd_kinds(self.pid)
        self.stopping = threading.Event()
        self.printed = 0.0
        self.window = 0  # records already summed into a printed line

    def run(self) -> None:
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            while True:
                self.samples.append(self.sample(conn))
                now = time.perf_counter() - self.traffic.began
                if now - self.printed >= PRINT_EVERY:
                    self.printed = now
                    self.log.read()
                    print(self.line(now), flush=True)
                if self.stopping.wait(SAMPLE_EVERY):
                    return

    def sample(self, conn: psycopg.Connection[Any]) -> Sample:
        rss, threads = proc_status(self.pid)
        fds = len(list(Path(f"/proc/{self.pid}/fd").iterdir()))
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                           (self.database,)).fetchone()
        return Sample(time.perf_counter() - self.traffic.began, rss, fds, threads, int(row[0]) if row else 0,
                      process_cpu_seconds(self.pid))

    def line(self, now: float) -> str:
        records = self.traffic.snapshot()
        window = [r.latency for r in records[self.window:] if r.slack]
        self.window = len(records)
        slow = sum(1 for r in records if r.slack and r.latency > ACK_LIMIT)
        failed = sum(1 for r in records if not 200 <= r.status < 300)
        try:
            outbox = f"{self.bot.metric('bot_alert_outbox_depth'):.0f}"
        except requests.RequestException:
            outbox = "?"
        last = self.samples[-1]
        return (f"   {now:5.0f} s  sent {len(records):5d}  acks>3s {slow}  last {PRINT_EVERY:.0f} s: "
                f"p50 {ms(percentile(window, 50)).strip()} p99 {ms(percentile(window, 99)).strip()}  "
                f"non-2xx {failed}  ERROR lines {len(self.log.errors)}  error replies {len(self.slack.errors())}  "
                f"RSS {last.rss_mb:.1f} MB  fds {last.fds}  threads {last.threads}  db conns {last.db}  "
                f"outbox {outbox}")


def drain(bot: BotProcess, slack: SoakRecorder, limit: float) -> float:
    """Seconds until the alert outbox is empty and Slack was quiet for QUIET s (at most `limit`)."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        quiet = time.perf_counter() - slack.last_arrival() >= QUIET
        if quiet and bot.metric("bot_alert_outbox_depth") == 0:
            break
        time.sleep(0.5)
    return time.perf_counter() - started


# --------------------------------------------------------------------------- figures


def latencies(records: list[Sent], keep: Callable[[Sent], bool]) -> list[float]:
    return [r.latency for r in records if keep(r)]


def stats_row(label: str, values: list[float], base_p99: float | None = None) -> list[str]:
    p99 = percentile(values, 99)
    return [label, str(len(values)), ms(percentile(values, 50)), ms(p99), ms(max(values) if values else 0.0),
            str(sum(1 for v in values if v > ACK_LIMIT)), ratio(p99, base_p99) if base_p99 else ""]


def per_minute(samples: list[Sample]) -> list[dict[str, float]]:
    """Mean RSS, fds, threads, connections and CPU share for each whole minute of samples."""
    minutes: dict[int, list[Sample]] = defaultdict(list)
    for sample in samples:
        minutes[int(sample.t // 60)].append(sample)
    rows = []
    for minute, group in sorted(minutes.items()):
        spent = (group[-1].cpu_s - group[0].cpu_s) / max(1e-9, group[-1].t - group[0].t) if len(group) > 1 else 0.0
        rows.append({"minute": minute, "rss_mb": sum(s.rss_mb for s in group) / len(group),
                     "rss_max_mb": max(s.rss_mb for s in group), "fds": sum(s.fds for s in group) / len(group),
                     "fds_max": max(s.fds for s in group), "threads": max(s.threads for s in group),
                     "db": max(s.db for s in group), "cpu_pct": 100 * spent})
    return rows


def slope_per_minute(samples: list[Sample], value: Callable[[Sample], float]) -> float:
    """Least-squares slope over the second half of the samples, per minute."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return 0.0
    xs, ys = [s.t / 60 for s in half], [value(s) for s in half]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    spread = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / spread if spread else 0.0


# --------------------------------------------------------------------------- the invariants


@dataclass
class SlackFacts:
    confirmations: Counter[int] = field(default_factory=Counter)
    pages: Counter[tuple[int, str]] = field(default_factory=Counter)  # (incident, tier)
    acked: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))  # incident -> channel
    resolved: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    digests: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # channel -> ts
    posts: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # (channel, thread, text)
    correlated: list[tuple[str, str, str]] = field(default_factory=list)  # (channel, thread, text)


def slack_facts(calls: list[Call]) -> SlackFacts:
    facts = SlackFacts()
    for call in calls:
        if call.method != "chat.postMessage" or call.status != 200 or not call.response.get("ok"):
            continue
        text, channel, thread = slack_text(call), str(call.params.get("channel", "")), call.params.get("thread_ts")
        facts.posts[(channel, str(thread or ""), text)] += 1
        for _block, element in buttons_of(call):
            if element["action_id"] == "incident_undo":
                facts.confirmations[int(element["value"])] += 1
            elif element["action_id"] == "incident_ack" and channel.startswith("D"):
                tier = TIER_RE.search(text)
                facts.pages[(int(element["value"]), tier.group(1) if tier else "?")] += 1
        for number in set(ACKED_RE.findall(text)):
            facts.acked[int(number)][channel] += 1
        for number in set(RESOLVED_RE.findall(text)):
            facts.resolved[int(number)][channel] += 1
        if CORRELATED in text:
            facts.correlated.append((channel, str(thread or ""), text))
        if not thread and DIGEST_RE.search(text):
            facts.digests[channel].append(str(call.response.get("ts")))
    return facts


@dataclass
class DbFacts:
    incidents: list[tuple[int, str, str | None, str | None, str]]  # id, title, origin channel, origin ts, status
    events: Counter[tuple[int, str]]  # (incident, kind)
    steps: list[tuple[int, str, str, str, datetime]]  # incident, kind, tier, status, due_at
    outbox: dict[str, int]
    digests: list[tuple[str, str, str | None, dict[str, Any]]]  # team, period, ts, detail


def db_facts(conninfo: str) -> DbFacts:
    with psycopg.connect(conninfo) as conn:
        incidents = conn.execute("SELECT id, title, origin_channel, origin_ts, status FROM incidents").fetchall()
        events = conn.execute("SELECT incident_id, kind, count(*) FROM incident_events GROUP BY 1, 2").fetchall()
        steps = conn.execute("SELECT incident_id, kind, tier, status, due_at FROM escalation_steps").fetchall()
        outbox = conn.execute("SELECT status, count(*) FROM alert_outbox GROUP BY 1").fetchall()
        digests = conn.execute("SELECT subject, period, ts, detail FROM notices WHERE kind = 'digest'").fetchall()
    return DbFacts(incidents, Counter({(i, k): n for i, k, n in events}), steps, dict(outbox),
                   [(s, p, ts, d if isinstance(d, dict) else json.loads(d or "{}")) for s, p, ts, d in digests])


@dataclass
class Verdict:
    name: str
    ok: bool
    detail: str
    examples: list[str] = field(default_factory=list)


def check_incidents(traffic: Traffic, db: DbFacts, slack: SlackFacts) -> list[Verdict]:
    for inc in traffic.incidents:
        inc.number = inc.number or traffic.slack.number_of(inc.tag)
    by_origin = Counter((row[2], row[3]) for row in db.incidents if row[3])
    by_tag = Counter(tag.group(0) for row in db.incidents if (tag := TAG_RE.search(row[1])))
    opened_bad, ack_bad, resolve_bad = [], [], []
    for inc in traffic.incidents:
        rows = by_origin[(inc.team.channel, inc.ts)] if inc.ts else by_tag[inc.tag]
        n = inc.number
        if n is None or rows != 1 or slack.confirmations[n] != 1 or slack.pages[(n, "1st line")] != 1:
            opened_bad.append(f"{inc.tag} ({inc.how}): incident #{n}, {rows} row(s), "
                              f"{slack.confirmations[n] if n else 0} confirmation(s), "
                              f"{slack.pages[(n, '1st line')] if n else 0} 1st-line page(s)")
        if n is None:
            continue
        acked, posts = db.events[(n, "acknowledged")], slack.acked.get(n, Counter())
        if (inc.acks and (acked != 1 or not posts or max(posts.values()) != 1)) or (not inc.acks and acked):
            ack_bad.append(f"#{n} {inc.tag}: sent {inc.acks}, {acked} 'acknowledged' event(s), posts {dict(posts)}")
        status = next((row[4] for row in db.incidents if row[0] == n), None)
        done, posts = db.events[(n, "resolved")], slack.resolved.get(n, Counter())
        if inc.resolves and (status != "resolved" or done != 1 or not posts or max(posts.values()) != 1):
            resolve_bad.append(f"#{n} {inc.tag}: sent {inc.resolves}, status {status}, {done} 'resolved' event(s), "
                               f"posts {dict(posts)}")
    total = len(traffic.incidents)
    twice = [k for k, v in slack.pages.items() if v > 1]
    escalated = sum(1 for (_n, tier), _v in slack.pages.items() if tier == "2nd line")
    acks, resolves = [i for i in traffic.incidents if i.acks], [i for i in traffic.incidents if i.resolves]
    return [
        Verdict("every 🔥💥 gave exactly one incident, one confirmation and one 1st-line page", not opened_bad,
                f"{total - len(opened_bad)} of {total} ({Counter(i.how for i in traffic.incidents)})", opened_bad),
        Verdict("no tier paged twice", not twice, f"{len(twice)} (incident, tier) paged twice; "
                f"{escalated} escalated to the 2nd line", [str(k) for k in twice]),
        Verdict("each acknowledgement took effect once", not ack_bad,
                f"{len(acks) - len(ack_bad)} of {len(acks)} acknowledged "
                f"({sum(1 for i in acks if len(i.acks) > 1)} twice); {total - len(acks)} never", ack_bad),
        Verdict("each resolve took effect once", not resolve_bad,
                f"{len(resolves) - len(resolve_bad)} of {len(resolves)} "
                f"({sum(1 for i in resolves if len(i.resolves) > 1)} twice)", resolve_bad),
    ]


def check_alerts(traffic: Traffic, calls: list[Any]) -> Verdict:
    """Counted by bench/alerts.py `tally` over the team channels' calls, less the digests and the correlation notes
    (which name firing alerts, as the evidence in incident channels does)."""
    channels = {spec.channel for spec in traffic.teams}
    alerts = [a for a in calls if a.call.params.get("channel") in channels
              and not DIGEST_RE.search(text := slack_text(a.call)) and CORRELATED not in text]
    found = tally(alerts, len(traffic.groups))
    bad = []
    for group in traffic.groups:
        mine = found.by_group[group.index]
        recovered = [r for r in mine.replies if "recovered" in slack_text(r.call)]
        if len(mine.posts) != 1 or len(recovered) != 1 or bot_group_correct(group.name, mine) is None:
            posts = " | ".join(f"{a.call.params.get('channel')}: {slack_text(a.call)[:80]!r}" for a in mine.posts)
            bad.append(f"{group.name} ({' '.join(group.sent)}): {len(mine.posts)} post(s), {len(mine.updates)} "
                       f"update(s), {len(recovered)} recovery repl(ies); posts {posts}")
    total = len(traffic.groups)
    return Verdict("each alert group: one Slack message, shown resolved, one recovery reply", not bad,
                   f"{total - len(bad)} of {total}", bad)


def expected_slots(index: int, since: datetime, until: datetime) -> set[str]:
    """The slot periods (UTC minutes) of team `index` due after `since` and by `until` (every zone's offset is whole
    hours or half hours, so a */2 or */3 minute is the same minute in UTC)."""
    every = every_minutes(index)
    minute = since.replace(second=0, microsecond=0) + timedelta(minutes=1)
    found = set()
    while minute <= until:
        if minute.minute % every == 0:
            found.add(minute.isoformat(timespec="minutes"))
        minute += timedelta(minutes=1)
    return found


def check_digests(teams: list[Spec], db: DbFacts, slack: SlackFacts, since: datetime, until: datetime) -> Verdict:
    bad, parts = [], []
    for index, spec in enumerate(teams):
        rows = [(period, ts, detail) for subject, period, ts, detail in db.digests if subject == spec.name]
        posted = {period: ts for period, ts, detail in rows if ts and not detail.get("skipped")}
        skipped = [period for period, _ts, detail in rows if detail.get("skipped")]
        in_slack = slack.digests.get(spec.channel, [])
        due = expected_slots(index, since, until)
        missing = sorted(due - set(posted))
        twice = len(in_slack) - len(set(in_slack))
        if missing or twice or sorted(in_slack) != sorted(posted.values()):
            bad.append(f"{spec.name}: due {len(due)}, missing {missing}, rows posted {len(posted)}, "
                       f"posts in Slack {len(in_slack)}, skipped {skipped}")
        parts.append(f"{spec.name} {len(posted)} posted ({len(due)} due, {len(skipped)} skipped)")
    return Verdict("each digest slot posted once, every slot due posted", not bad, "; ".join(parts), bad)


def check_rest(traffic: Traffic, db: DbFacts, slack: SlackFacts, recorder: SoakRecorder) -> list[Verdict]:
    dupes = [f"{n}× in {channel}{' thread ' + thread if thread else ''}: {text[:100]!r}"
             for (channel, thread, text), n in slack.posts.items() if n > 1]
    unanswered = [f"{rid}: {what}" for rid, what in traffic.commands.items()
                  if what.startswith("/") and recorder.answered_ids[rid] == 0]
    commands = sum(1 for what in traffic.commands.values() if what.startswith("/"))
    now = datetime.now(UTC)
    stuck = [f"#{i} {kind} {tier}: {status} (due {due:%H:%M:%S})" for i, kind, tier, status, due in db.steps
             if status == "sending" or (status == "scheduled" and due < now)]
    waiting = [f"{n} outbox row(s) {status}" for status, n in db.outbox.items() if status in ("pending", "sending")]
    teams = {spec.channel for spec in traffic.teams}
    stray = [f"{channel}{' thread ' + thread if thread else ' (top level)'}: {text[:120]!r}"
             for channel, thread, text in slack.correlated if channel in teams]
    return [
        Verdict("correlation notes land in the incident's channel", not stray,
                f"{len(slack.correlated) - len(stray)} of {len(slack.correlated)}", stray),
        Verdict("no duplicate posts", not dupes, f"{len(dupes)} repeated of {sum(slack.posts.values())} posts",
                dupes),
        Verdict("every command answered (response_url)", not unanswered,
                f"{commands - len(unanswered)} of {commands}", unanswered),
        Verdict("every follow-up found its page or summary", not traffic.missing,
                f"{len(traffic.missing)} gave up after {MAX_TRIES} s", traffic.missing),
        Verdict("the alert outbox drained, no page stuck", not waiting and not stuck,
                f"outbox {db.outbox}; pages stuck {len(stuck)}", waiting + stuck),
    ]


# --------------------------------------------------------------------------- the run


def start_bot(stack: ExitStack, tmp: Path, slack: SoakRecorder, teams: list[Spec], database_url: str,
              end: datetime, args: argparse.Namespace) -> BotProcess:
    backends = start_backends(stack, tmp, teams, end)
    for _ in range(FORECASTS * len(teams)):  # moto has no GetCostForecast: the proxy answers it from a queue
        backends.aws.queue_forecast(4200.0)
    print("   backends up: " + ", ".join(f"{k} {v:.1f} s" for k, v in backends.timings.items()), flush=True)
    env = {"LOG_LEVEL": "INFO", "PROMETHEUS_URL": backends.prometheus.url, "KUBECONFIG": backends.kubeconfig,
           "GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": backends.github.url, **backends.aws.aws_env()}
    env.update(pair.split("=", 1) for pair in args.bot_env)
    (tmp / "bot").mkdir()
    parts = (tmp / "bot", slack.base_url, config(teams, charts=not args.no_charts))
    bot = BotProcess(*parts, database_url=database_url, extra_env=env) if args.tracemalloc is None else \
        LaunchedBot([str(ROOT / "bench" / "memory_serve.py"), str(args.tracemalloc.resolve())], *parts,
                    database_url=database_url, extra_env=env)
    stack.callback(stop_quietly, bot)
    print(f"   bot healthy after {bot.start(timeout=60):.2f} s (pid {bot.process.pid if bot.process else '?'})",
          flush=True)
    return bot


def stop_quietly(bot: BotProcess) -> None:
    try:
        bot.stop()
    except subprocess.TimeoutExpired:
        bot.kill()


def conninfo_of(url: str) -> tuple[str, str]:
    parsed = make_url(url)
    parts = {"host": parsed.host, "port": parsed.port, "user": parsed.username, "dbname": parsed.database}
    return " ".join(f"{k}={v}" for k, v in parts.items() if v is not None), str(parsed.database)


def report_acks(idle: list[Sent], records: list[Sent]) -> dict[str, Any]:
    base = [r.latency for r in idle]
    base_p99 = percentile(base, 99)
    commands = latencies(records, lambda r: r.kind.startswith("command"))
    print("\n   acks (client: POST sent -> answer)")
    print(table([
        ["", "n", "p50", "p99", "max", f"> {ACK_LIMIT:g} s", "p99 vs idle"],
        stats_row("idle baseline: commands one at a time", base),
        stats_row("under load: every Slack request", latencies(records, lambda r: r.slack), base_p99),
        stats_row("under load: slash commands", commands, base_p99),
        stats_row("under load: events", latencies(records, lambda r: r.kind.startswith("event")), base_p99),
        stats_row("under load: button clicks", latencies(records, lambda r: r.kind.startswith("button")), base_p99),
        stats_row("under load: Alertmanager webhooks", latencies(records, lambda r: not r.slack)),
    ]))
    slow = sorted((r for r in records if r.slack and r.latency > ACK_LIMIT), key=lambda r: -r.latency)
    for r in slow[:10]:
        print(f"     slow: {r.kind} at {r.at:.1f} s: {r.latency:.2f} s")
    lags = [r.lag for r in records]
    print(f"   client lag behind plan: p99 {ms(percentile(lags, 99)).strip()}, max {ms(max(lags, default=0)).strip()}")
    load = latencies(records, lambda r: r.slack)
    return {"idle": base, "idle_p99": base_p99, "load_p50": percentile(load, 50), "load_p99": percentile(load, 99),
            "load_max": max(load, default=0.0), "over_3s": len(slow), "lag_p99": percentile(lags, 99),
            "p99_ratio": percentile(load, 99) / base_p99 if base_p99 else None}


def report_errors(records: list[Sent], log: LogWatch, slack: SoakRecorder) -> dict[str, Any]:
    failed = Counter((r.kind, r.status) for r in records if not 200 <= r.status < 300)
    replies = Counter(kind for _method, kind, _text in slack.errors())
    print("\n   errors")
    print(table([
        ["non-2xx answers (kind, status: count)", ", ".join(f"{k} {s}: {n}" for (k, s), n in failed.items()) or "0"],
        ["ERROR lines in the bot's log", str(len(log.errors))],
        ["error replies the bot posted", ", ".join(f"{k}: {n}" for k, n in replies.items()) or "0"],
        ["WARNING lines in the bot's log", str(len(log.warnings))],
    ]))
    for line in log.errors[:5]:
        print(f"     {line[:220]}")
    for _method, kind, text in slack.errors()[:5]:
        print(f"     {kind}: {text[:200]!r}")
    return {"non_2xx": sum(failed.values()), "non_2xx_by_kind": {f"{k} {s}": n for (k, s), n in failed.items()},
            "error_lines": len(log.errors), "warning_lines": len(log.warnings), "error_replies": dict(replies)}


def report_process(samples: list[Sample], load_s: float) -> dict[str, Any]:
    """Per minute of the load (then the follow-ups and the drain, on a row of their own); drift and slope over the
    load's whole minutes only."""
    loaded = [s for s in samples if s.t < load_s]
    rows = per_minute(loaded) + [{**row, "minute": -1} for row in per_minute([s for s in samples if s.t >= load_s])]
    print("\n   the bot process per minute of the run (mean RSS and fds, max of the rest)")
    print(table([["minute", "RSS MB", "RSS max", "fds", "fds max", "threads", "db conns", "CPU %"]] + [
        [str(r["minute"] + 1) if r["minute"] >= 0 else "after", f"{r['rss_mb']:.1f}", f"{r['rss_max_mb']:.1f}",
         f"{r['fds']:.0f}", f"{r['fds_max']:.0f}", f"{r['threads']:.0f}", f"{r['db']:.0f}", f"{r['cpu_pct']:.0f}"]
        for r in rows]))
    first, last = rows[0], [r for r in rows if r["minute"] >= 0][-1]
    peak = max(s.rss_mb for s in samples)
    figures = {"per_minute": rows, "rss_peak_mb": peak, "rss_drift": last["rss_mb"] / first["rss_mb"],
               "fds_drift": last["fds"] / first["fds"], "rss_slope_mb_per_min": slope_per_minute(loaded, _rss),
               "fds_slope_per_min": slope_per_minute(loaded, _fds), "threads_max": max(s.threads for s in samples),
               "db_max": max(s.db for s in samples)}
    print(f"   last minute of the load vs the first: RSS {figures['rss_drift']:.2f}x ({first['rss_mb']:.1f} -> "
          f"{last['rss_mb']:.1f} MB), fds {figures['fds_drift']:.2f}x ({first['fds']:.0f} -> {last['fds']:.0f}); "
          f"second half: RSS {figures['rss_slope_mb_per_min']:+.2f} MB/min, fds {figures['fds_slope_per_min']:+.2f}"
          f"/min; peak RSS {peak:.1f} MB (target <= {RSS_TARGET_MB:.0f} MB: "
          f"{'met' if peak <= RSS_TARGET_MB else 'MISSED'})")
    return figures


def _rss(sample: Sample) -> float:
    return sample.rss_mb


def _fds(sample: Sample) -> float:
    return float(sample.fds)


def report_invariants(verdicts: list[Verdict]) -> bool:
    print("\n   invariants")
    for v in verdicts:
        print(f"   {'PASS' if v.ok else 'FAIL'}  {v.name}: {v.detail}")
        for example in v.examples[:5] if not v.ok else []:
            print(f"           {example}")
    return all(v.ok for v in verdicts)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the load (default 10)")
    parser.add_argument("--rate", type=float, default=5.0, help="requests per second (default 5)")
    parser.add_argument("--senders", type=int, default=8, help="sending threads (default 8)")
    parser.add_argument("--teams", type=int, default=3, help="teams, one channel each (default 3)")
    parser.add_argument("--idle", type=int, default=40, help="commands in the idle baseline (default 40)")
    parser.add_argument("--quiet-tail", type=float, default=60.0,
                        help="seconds before the end when new incidents and alert groups stop (default 60)")
    parser.add_argument("--drain", type=float, default=90.0, help="longest wait for the bot to settle (default 90)")
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--no-charts", action="store_true",
                        help="no PNG drawn: no /incident stats, /alerts noisy, /gpu or /spend (overview); team-01's "
                             "digest daily, not weekly")
    parser.add_argument("--bot-env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the bot, e.g. MALLOC_ARENA_MAX=2 (repeatable)")
    parser.add_argument("--tracemalloc", type=Path, metavar="DIR",
                        help="start the bot through bench/memory_serve.py (heap snapshots and counts in DIR)")
    return parser.parse_args()


@dataclass
class Ran:
    """What a soak leaves to report on, once the bot has stopped."""

    traffic: Traffic
    watch: Watch
    log: LogWatch
    idle: list[Sent]
    phases: dict[str, float]
    bot_started: datetime
    until: datetime  # digest slots due by then must have been posted
    exit_status: int | None


def soak(stack: ExitStack, args: argparse.Namespace, teams: list[Spec], slack: SoakRecorder, url: str) -> Ran:
    """Start the backends and the bot, warm up, measure the idle baseline, run the load, drain, stop the bot."""
    seconds = args.minutes * 60
    tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-")))
    end = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(seconds=seconds + 900)
    bot = start_bot(stack, tmp, slack, teams, url, end, args)
    bot_started = datetime.now(UTC)
    traffic = Traffic(bot.url, slack, teams, random.Random(args.seed), min(1.0, args.minutes / 10),
                      charts=not args.no_charts)
    for _ in range(5):  # warm-up, unrecorded: the first of each path imports and connects
        traffic.send(traffic.command(), time.perf_counter())
    idle = idle_baseline(traffic, args.idle)
    print(f"   idle baseline: {len(idle)} commands, p99 {ms(percentile([r.latency for r in idle], 99)).strip()}; "
          f"load for {seconds:.0f} s at {args.rate:g}/s", flush=True)
    traffic.began = time.perf_counter()
    conninfo, database = conninfo_of(url)
    watch = Watch(bot, conninfo, database, traffic, slack, LogWatch(bot.log_path))
    watch.start()
    stack.callback(watch.stopping.set)
    phases = run_load(traffic, args.rate, seconds, min(args.quiet_tail, 0.2 * seconds), args.senders)
    phases["drain_s"] = drain(bot, slack, args.drain)
    watch.stopping.set()
    watch.join(timeout=15)
    print(f"   open fds by kind, load start -> end: {dict(watch.fds_at_start)} -> {dict(fd_kinds(watch.pid))}")
    until = datetime.now(UTC) - timedelta(seconds=45)  # a slot's tick comes within 30 s, its post a little later
    stopping = time.perf_counter()
    stop_quietly(bot)  # first: the database and Slack stop changing while they are read
    phases["stop_s"] = time.perf_counter() - stopping
    watch.log.read()
    return Ran(traffic, watch, watch.log, idle, phases, bot_started, until,
               bot.process.returncode if bot.process else None)


def report(ran: Ran, slack: SoakRecorder, conninfo: str, teams: list[Spec]) -> tuple[dict[str, Any], bool]:
    """Print the figures and the invariants; (the figures to save, whether every invariant held)."""
    records, phases = ran.traffic.snapshot(), ran.phases
    print(f"\n   sent {len(records)} requests in {phases['load_s']:.0f} s + {phases['flush_s']:.0f} s of "
          f"follow-ups; drained in {phases['drain_s']:.1f} s; the bot stopped (SIGTERM) in "
          f"{phases['stop_s']:.2f} s, exit status {ran.exit_status}; by kind: "
          + ", ".join(f"{k} {n}" for k, n in sorted(Counter(r.kind for r in records).items())))
    acks = report_acks(ran.idle, records)
    errors = report_errors(records, ran.log, slack)
    process = report_process(ran.watch.samples, phases["load_s"])
    calls = slack.snapshot()
    db, seen = db_facts(conninfo), slack_facts([a.call for a in calls])
    verdicts = [*check_incidents(ran.traffic, db, seen), check_alerts(ran.traffic, calls),
                check_digests(teams, db, seen, ran.bot_started, ran.until), *check_rest(ran.traffic, db, seen, slack)]
    passed = report_invariants(verdicts)
    return {"phases": phases, "acks": acks, "errors": errors, "process": process,
            "samples": [asdict(s) for s in ran.watch.samples], "invariants": [asdict(v) for v in verdicts],
            "slack_calls": len(calls), "kinds": Counter(r.kind for r in records), "bot_exit": ran.exit_status}, passed


def main() -> int:
    args = arguments()
    print_header(f"soak: {args.minutes:g} min of mixed traffic at {args.rate:g} requests/s against "
                 f"python -m bot serve on PostgreSQL")
    measured = commit()
    print(f"   commit {measured}; {args.teams} teams; {args.senders} senders", flush=True)
    teams = specs(args.teams)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with ExitStack() as stack:
        slack = stack.enter_context(SoakRecorder())
        dbs = Databases(stack, Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-soak-pg-"))),
                        "auto")
        url = dbs.fresh("soak")
        assert url is not None
        ran = soak(stack, args, teams, slack, url)
        figures, passed = report(ran, slack, conninfo_of(url)[0], teams)
    OUT.mkdir(parents=True, exist_ok=True)
    log_path = OUT / f"soak-{stamp}-log.txt"
    log_path.write_text("\n".join(ran.log.errors + ran.log.warnings) + "\n")
    path = save("soak", {"commit": measured, "args": vars(args), **figures})
    print(f"\n   raw figures: {path.relative_to(ROOT)}; log lines: {log_path.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
