"""Alertmanager notifications → Slack under Slack's rate limits: the bot's outbox against a naive receiver.

    .venv/bin/python bench/alerts.py [--seconds 60] [--groups 200] [--notifications 2000] [--teams 10]

One bot as shipped (`python -m bot serve`, SQLite) with --teams teams, each with its own channel and
namespace. Alert groups are routed by their `team` label, round-robin over the teams. Every group gets
notifications/groups notifications, as Alertmanager would send them: the first fire (one alert), identical
repeats, a second alert joining the group, identical repeats again, and a final resolve (both alerts
resolved). Each group's notifications are spread evenly over the whole window, with a random phase per group
and a little jitter (--seed), so the groups interleave and the --notifications POSTs to /alertmanager
arrive at a steady overall rate over --seconds, from --clients threads (one keep-alive session each).

The Slack recorder limits chat.postMessage and chat.update like Slack does: more than 1 call per second
per channel (and per method) is answered 429 with Retry-After: 1.

Measured:
- webhook latency at the client (p50, p99, max) and the schedule lag of the senders;
- from the last notification's answer, the time until every group's Slack state is right: its latest
  successful (HTTP 200) top-level chat.postMessage or chat.update shows it resolved, and its thread has a
  recovery reply. Each call is matched to its group by the alertname in its text (a reply by its thread);
- Slack calls per group: successful top-level posts (target 1), updates, thread replies (target 1), and
  429 answers separately;
- posts lost (groups with no successful top-level post, target 0) and duplicates (more than one);
- bot_alert_outbox_depth from /metrics at the end.

Baseline, the same run: what Alertmanager's own slack_config effectively does, a receiver that posts one
chat.postMessage per notification, with no coalescing and no retry queue. It is a tiny HTTP server in this
script, fed the same notification sequence at the same rate, that calls a fresh recorder with the same
rate limits through a slack_sdk WebClient with its default retries (connection errors only, no 429
handler), so a 429 loses that post.

Raw figures go to bench/out/alerts-*.json; the bot's work dir (its log and database) stays in
bench/out/alerts-work-*/.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from common import OUT, ROOT, TimedRecorder, commit, print_header, save, summary, table
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from tests.support.alert_payloads import alert, notification
from tests.support.bot_process import BOT_TOKEN, BotProcess
from tests.support.config import bot_config, team
from tests.support.loopback import LoopbackHTTPServer, QuietHandler, read_body, send_bytes
from tests.support.slack_recorder import Call
from tests.support.slack_text import slack_text

LIMITED = ("chat.postMessage", "chat.update")
NAME = "BenchGroup{:04d}"
NAME_RE = re.compile(r"BenchGroup(\d{4})(?!\d)")


# --------------------------------------------------------------------------- the notification plan


@dataclass(frozen=True)
class Group:
    index: int
    name: str
    team: str
    namespace: str
    channel: str


@dataclass(frozen=True)
class Notification:
    at: float  # seconds after the start of sending
    group: int
    kind: str  # fire | repeat | join | resolve
    body: bytes


def teams_of(n: int, prefix: str) -> list[tuple[str, str, str]]:
    """(team, namespace, channel) for n teams."""
    return [(f"bench-team-{i:02d}", f"bench-ns-{i:02d}", f"{prefix}{i:02d}") for i in range(n)]


def plan(groups: int, notifications: int, seconds: float, teams: list[tuple[str, str, str]], rng: random.Random
         ) -> tuple[list[Group], list[Notification]]:
    """Each group: fire, repeats, an alert joins, repeats, resolve; groups interleaved at a steady rate."""
    per_group = [notifications // groups + (1 if g < notifications % groups else 0) for g in range(groups)]
    if min(per_group) < 3:
        raise SystemExit("need at least 3 notifications per group (fire, join, resolve)")
    began = datetime.now(UTC) - timedelta(minutes=2)
    ended = began + timedelta(minutes=2, seconds=seconds)
    made: list[Group] = []
    steps: list[list[tuple[str, bytes]]] = []
    for g in range(groups):
        team_name, namespace, channel = teams[g % len(teams)]
        group = Group(g, NAME.format(g), team_name, namespace, channel)
        made.append(group)
        labels = {"namespace": namespace, "severity": "warning", "team": team_name}
        first = alert(group.name, pod=f"{group.name.lower()}-a", starts_at=began, **labels)
        second = alert(group.name, pod=f"{group.name.lower()}-b", starts_at=began + timedelta(minutes=1), **labels)
        resolved = [alert(group.name, status="resolved", pod=f"{group.name.lower()}-{p}", starts_at=start,
                          ends_at=ended, **labels)
                    for p, start in (("a", began), ("b", began + timedelta(minutes=1)))]
        bodies = {"fire": [first], "join": [first, second], "resolve": resolved}
        n = per_group[g]
        join_at = max(1, n // 3)
        kinds = ["fire", *["repeat"] * (join_at - 1), "join", *["repeat"] * (n - join_at - 2), "resolve"]
        current = "fire"
        sequence = []
        for kind in kinds:
            current = current if kind == "repeat" else kind
            sequence.append((kind, json.dumps(notification(bodies[current])).encode()))
        steps.append(sequence)
    # Group g's k-th notification goes at k*D + its own phase (0..D) + a little jitter (D: the window over the
    # most notifications any group gets), as each group's own Alertmanager timers would send them: the
    # groups interleave at a steady overall rate, and each group's notifications stay in order.
    step = seconds / max(per_group)
    timed = []
    for g, sequence in enumerate(steps):
        phase = rng.uniform(0, step)
        for k, (kind, body) in enumerate(sequence):
            at = min(seconds, max(0.0, k * step + phase + rng.uniform(-0.1, 0.1) * step))
            timed.append(Notification(at, g, kind, body))
    return made, sorted(timed, key=lambda n: n.at)


def reply_floor(groups: list[Group], notifications: list[Notification]) -> float:
    """A lower bound for `last notification -> every group right` under 1 call/s/channel: each resolve needs a
    recovery reply (a chat.postMessage in the group's channel), sent no earlier than the resolve arrives and
    one second after the channel's previous reply. Posts, updates and their 429s are left out."""
    resolves: dict[str, list[float]] = {}
    for item in notifications:
        if item.kind == "resolve":
            resolves.setdefault(groups[item.group].channel, []).append(item.at)
    last = 0.0
    for times in resolves.values():
        sent = -1.0
        for at in sorted(times):
            sent = max(at, sent + 1.0)
        last = max(last, sent)
    return max(0.0, last - max(n.at for n in notifications))


@dataclass
class Sent:
    latency: list[float] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)  # how late each POST left against its schedule
    statuses: dict[int, int] = field(default_factory=dict)
    first_sent: float = 0.0
    last_answered: float = 0.0


def send_all(url: str, notifications: list[Notification], clients: int) -> Sent:
    """POST every notification at its planned time from `clients` threads (one keep-alive session each)."""
    sent = Sent()
    lock = threading.Lock()
    cursor = iter(range(len(notifications)))
    start = time.perf_counter() + 0.2
    sent.first_sent = start

    def worker() -> None:
        session = requests.Session()
        while True:
            with lock:
                index = next(cursor, None)
            if index is None:
                return
            item = notifications[index]
            due = start + item.at
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            began = time.perf_counter()
            try:
                status = session.post(url, data=item.body, headers={"Content-Type": "application/json"},
                                      timeout=30).status_code
            except requests.RequestException:
                status = 0
            finished = time.perf_counter()
            with lock:
                sent.latency.append(finished - began)
                sent.lag.append(began - due)
                sent.statuses[status] = sent.statuses.get(status, 0) + 1
                sent.last_answered = max(sent.last_answered, finished)

    threads = [threading.Thread(target=worker, name=f"am-client-{i}") for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sent


# --------------------------------------------------------------------------- the recorder and its calls


@dataclass(frozen=True)
class Answered:
    at: float  # perf_counter when the call arrived
    call: Call  # as recorded: with its status and response
    group: int | None  # the group whose alertname its text carries


def name_in(call: Call) -> int | None:
    found = NAME_RE.search(slack_text(call))
    return int(found.group(1)) if found else None


class AnsweringRecorder(TimedRecorder):
    """A TimedRecorder that also keeps each call as answered (status, response) with its arrival time."""

    def __init__(self) -> None:
        super().__init__()
        self.answered: list[Answered] = []
        self._answered_lock = threading.Lock()

    def answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        arrived = time.perf_counter()
        status, payload, headers = super().answer(call)
        recorded = Call(call.method, call.params, call.headers, call.path, call.body, status, payload)
        answered = Answered(arrived, recorded, name_in(recorded))
        with self._answered_lock:
            self.answered.append(answered)
        return status, payload, headers

    def snapshot(self) -> list[Answered]:
        with self._answered_lock:
            return list(self.answered)


def group_of(item: Answered) -> int | None:
    return item.group


@dataclass
class GroupCalls:
    posts: list[Answered] = field(default_factory=list)  # top-level chat.postMessage, status 200
    updates: list[Answered] = field(default_factory=list)  # chat.update, status 200
    replies: list[Answered] = field(default_factory=list)  # thread replies, status 200
    limited: int = 0  # 429 answers to any of the above
    other_failed: int = 0


@dataclass
class Tally:
    by_group: dict[int, GroupCalls]
    unmatched: int
    methods: dict[str, int]


def tally(calls: list[Answered], groups: int) -> Tally:
    by_group = {g: GroupCalls() for g in range(groups)}
    thread_of: dict[str, int] = {}
    unmatched = 0
    methods: dict[str, int] = {}
    pending_replies: list[Answered] = []
    for item in calls:
        call = item.call
        methods[f"{call.method} {call.status}"] = methods.get(f"{call.method} {call.status}", 0) + 1
        if call.method == "chat.postMessage" and call.params.get("thread_ts"):
            pending_replies.append(item)
            continue
        if call.method not in LIMITED:
            continue
        g = group_of(item)
        if g is None or g not in by_group:
            unmatched += 1
            continue
        calls_of = by_group[g]
        if call.status == 429:
            calls_of.limited += 1
        elif call.status != 200 or not call.response.get("ok"):
            calls_of.other_failed += 1
        elif call.method == "chat.postMessage":
            calls_of.posts.append(item)
            thread_of[str(call.response.get("ts"))] = g
        else:
            calls_of.updates.append(item)
    for item in pending_replies:
        g = thread_of.get(str(item.call.params.get("thread_ts")))
        if g is None:
            unmatched += 1
            continue
        if item.call.status == 429:
            by_group[g].limited += 1
        elif item.call.status == 200 and item.call.response.get("ok"):
            by_group[g].replies.append(item)
        else:
            by_group[g].other_failed += 1
    return Tally(by_group, unmatched, methods)


def bot_group_correct(name: str, calls: GroupCalls) -> float | None:
    """When the group's Slack state became right (perf_counter), or None while it is not."""
    shown = sorted(calls.posts + calls.updates, key=lambda a: a.at)
    if not shown or f"✅ {name} · 0 firing" not in slack_text(shown[-1].call):
        return None
    recovered = [r for r in calls.replies if "recovered" in slack_text(r.call)]
    if not recovered:
        return None
    return max(shown[-1].at, recovered[0].at)


def wait_correct(slack: AnsweringRecorder, groups: list[Group], timeout: float,
                 correct: Callable[[str, GroupCalls], float | None]) -> tuple[float | None, int]:
    """(perf_counter when the last group became right, or None) and how many groups are wrong at the end."""
    deadline = time.perf_counter() + timeout
    while True:
        found = tally(slack.snapshot(), len(groups))
        times = [correct(g.name, found.by_group[g.index]) for g in groups]
        wrong = sum(1 for t in times if t is None)
        if wrong == 0:
            return max(t for t in times if t is not None), 0
        if time.perf_counter() >= deadline:
            return None, wrong
        time.sleep(0.25)


def dump_calls(calls: list[Answered], since: float, path: Path) -> None:
    """Every Slack call, one JSON line each (seconds after sending began, method, status, group, where, first
    line of its text), for reading what happened to one group."""
    with path.open("w") as out:
        for item in calls:
            call = item.call
            text = slack_text(call).split("\n", 1)[0][:120]
            out.write(json.dumps({"t": round(item.at - since, 3), "method": call.method, "status": call.status,
                                  "group": group_of(item), "channel": call.params.get("channel"),
                                  "ts": call.params.get("ts") or call.response.get("ts"),
                                  "thread_ts": call.params.get("thread_ts"), "text": text},
                                 ensure_ascii=False) + "\n")


# --------------------------------------------------------------------------- the naive receiver


class _NaiveHandler(QuietHandler):
    def do_POST(self) -> None:
        receiver: NaiveReceiver = self.server.owner  # type: ignore[attr-defined]
        body = json.loads(read_body(self))
        receiver.deliver(body)
        send_bytes(self, 200, b'{"ok": true}', "application/json")


class NaiveReceiver(LoopbackHTTPServer):
    """Alertmanager's slack_config in effect: one chat.postMessage per notification, default retries only."""

    def __init__(self, slack_base_url: str, channels: dict[str, str]) -> None:
        super().__init__(_NaiveHandler)
        self.client = WebClient(token=BOT_TOKEN, base_url=slack_base_url)  # default: connection-error retry only
        self.channels = channels
        self.lost = 0
        self.lock = threading.Lock()

    def deliver(self, body: dict[str, Any]) -> None:
        labels = body.get("commonLabels", {})
        status = str(body.get("status", "firing"))
        firing = sum(1 for a in body.get("alerts", []) if a.get("status") == "firing")
        title = f"[{status.upper()}{f':{firing}' if status == 'firing' else ''}] {labels.get('alertname', '')}"
        text = "\n".join([title, *(f"- {a['annotations'].get('summary', '')} ({a['labels'].get('pod', '')})"
                                   for a in body.get("alerts", []))])
        try:
            self.client.chat_postMessage(channel=self.channels[labels.get("team", "")], text=text)
        except (SlackApiError, SlackClientError):
            with self.lock:
                self.lost += 1


def naive_group_correct(name: str, calls: GroupCalls) -> float | None:
    if not calls.posts:
        return None
    last = max(calls.posts, key=lambda a: a.at)
    return last.at if slack_text(last.call).startswith(f"[RESOLVED] {name}") else None


# --------------------------------------------------------------------------- reporting helpers


def per_group(values: list[int]) -> str:
    if not values:
        return "-"
    mean = sum(values) / len(values)
    return f"{mean:.2f} (min {min(values)}, max {max(values)})"


def group_figures(found: Tally, groups: list[Group]) -> dict[str, Any]:
    each = [found.by_group[g.index] for g in groups]
    posts = [len(c.posts) for c in each]
    updates = [len(c.updates) for c in each]
    replies = [len(c.replies) for c in each]
    limited = [c.limited for c in each]
    return {
        "posts": posts, "updates": updates, "replies": replies, "limited": limited,
        "other_failed": sum(c.other_failed for c in each),
        "successful_per_group": [p + u + r for p, u, r in zip(posts, updates, replies, strict=True)],
        "lost": sum(1 for p in posts if p == 0), "duplicates": sum(1 for p in posts if p > 1),
        "unmatched": found.unmatched, "methods": found.methods,
    }


def mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def log_excerpt(log: Path, patterns: tuple[str, ...], limit: int = 12) -> list[str]:
    if not log.exists():
        return []
    lines = [line for line in log.read_text(errors="replace").splitlines() if any(p in line for p in patterns)]
    if len(lines) <= limit:
        return lines
    return [*lines[:limit // 2], f"… ({len(lines) - limit} more)", *lines[-(limit // 2):]]


# --------------------------------------------------------------------------- the runs


def run_naive(groups: list[Group], notifications: list[Notification], teams: list[tuple[str, str, str]],
              clients: int, timeout: float) -> dict[str, Any]:
    with AnsweringRecorder() as slack:
        slack.rate_limit_per_channel(LIMITED, per_second=1.0, retry_after=1)
        with NaiveReceiver(slack.base_url, {name: channel for name, _ns, channel in teams}) as receiver:
            sent = send_all(receiver.url + "/alertmanager", notifications, clients)
            settled, wrong = wait_correct(slack, groups, 2.0, naive_group_correct)
            found = tally(slack.snapshot(), len(groups))
            lost = receiver.lost
    figures = group_figures(found, groups)
    figures.update(webhook=summary(sent.latency), lag=summary(sent.lag), statuses=sent.statuses,
                   posts_lost_to_429=lost, attempts=len(notifications), wrong_final_state=wrong,
                   time_to_correct=None if settled is None else settled - sent.last_answered)
    return figures


def run_bot(workdir: Path, groups: list[Group], notifications: list[Notification],
            teams: list[tuple[str, str, str]], clients: int, timeout: float) -> dict[str, Any]:
    config = bot_config(teams=[team(name=name, channel=channel, timezone="UTC", namespaces=[ns])
                               for name, ns, channel in teams], oncall={})
    with AnsweringRecorder() as slack:
        slack.rate_limit_per_channel(LIMITED, per_second=1.0, retry_after=1)
        bot = BotProcess(workdir, slack.base_url, config, extra_env={"LOG_LEVEL": "INFO"})
        bot.start(timeout=60)
        try:
            sent = send_all(bot.url + "/alertmanager", notifications, clients)
            depth_after_sending = bot.metric("bot_alert_outbox_depth")
            settled, wrong = wait_correct(slack, groups, timeout, bot_group_correct)
            drained_at = None
            deadline = time.perf_counter() + (10.0 if settled is not None else 1.0)
            while time.perf_counter() < deadline:
                if bot.metric("bot_alert_outbox_depth") == 0:
                    drained_at = time.perf_counter()
                    break
                time.sleep(0.25)
            time.sleep(3.0)  # anything late (a duplicate, a stray update) shows by now
            depth_end = bot.metric("bot_alert_outbox_depth")
            oldest_end = bot.metric("bot_alert_outbox_oldest_seconds")
            retries = bot.metric("bot_retries_total")
            outbox_metrics = {line.split(" ")[0]: float(line.rsplit(" ", 1)[1])
                              for line in bot.get("/metrics").text.splitlines()
                              if line.startswith("bot_alert_outbox_total{")}
            found = tally(slack.snapshot(), len(groups))
            dump_calls(slack.snapshot(), sent.first_sent, workdir / "slack-calls.jsonl")
        finally:
            bot.stop()
    figures = group_figures(found, groups)
    figures.update(webhook=summary(sent.latency), lag=summary(sent.lag), statuses=sent.statuses,
                   wrong_final_state=wrong,
                   time_to_correct=None if settled is None else settled - sent.last_answered,
                   outbox_drained_after=None if drained_at is None else drained_at - sent.last_answered,
                   outbox_depth_after_sending=depth_after_sending, outbox_depth_end=depth_end,
                   outbox_oldest_end_s=oldest_end, slack_retries=retries, outbox_rows=outbox_metrics,
                   log=str(bot.log_path))
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="sending window (default 60)")
    parser.add_argument("--groups", type=int, default=200, help="alert groups (default 200)")
    parser.add_argument("--notifications", type=int, default=2000, help="webhook notifications (default 2000)")
    parser.add_argument("--teams", type=int, default=10, help="teams, one channel each (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="sending threads (default 4)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="how long to wait for the right final state after the last notification (default 120)")
    parser.add_argument("--seed", type=int, default=20261124, help="for the schedule's phases and jitter")
    parser.add_argument("--no-baseline", action="store_true", help="skip the naive receiver")
    args = parser.parse_args()

    print_header(f"alerts: {args.notifications} Alertmanager notifications for {args.groups} groups in "
                 f"{args.seconds:.0f} s, Slack limited to 1 call/s/channel")
    bot_teams = teams_of(args.teams, "CALERTS")
    groups, notifications = plan(args.groups, args.notifications, args.seconds, bot_teams, random.Random(args.seed))
    kinds: dict[str, int] = {}
    for item in notifications:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    print(f"   {args.teams} teams (one channel each), {args.clients} client threads; notifications: "
          + ", ".join(f"{k} {v}" for k, v in kinds.items()))
    measured = commit()
    workdir = OUT / f"alerts-work-{time.strftime('%Y%m%d-%H%M%S')}"
    workdir.mkdir(parents=True)

    naive = None
    if not args.no_baseline:
        print("   baseline: naive receiver (one chat.postMessage per notification) ...", flush=True)
        naive = run_naive(groups, notifications, teams_of(args.teams, "CNAIVE"), args.clients, args.timeout)
    print("   bot (python -m bot serve) ...", flush=True)
    bot = run_bot(workdir, groups, notifications, bot_teams, args.clients, args.timeout)
    bot["reply_floor"] = reply_floor(groups, notifications)

    print_results(args, bot, naive)
    oddities = []
    if bot["lost"] or bot["duplicates"] or bot["wrong_final_state"] or bot["outbox_depth_end"]:
        log = Path(bot["log"])
        oddities = log_excerpt(log, ("WARNING", "ERROR", "Traceback", "failed for good", "unexpectedly"))
        if oddities:
            print(f"\n   bot log ({log.relative_to(ROOT)}), warnings and errors:")
            for line in oddities:
                print("     " + line[:200])
    path = save("alerts", {"commit": measured, "args": vars(args), "kinds": kinds, "bot": bot, "naive": naive,
                           "log_excerpt": oddities})
    print(f"\n   raw figures: {path.relative_to(ROOT)}; bot work dir: {workdir.relative_to(ROOT)}")
    return 0



def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"


def _ms(value: float) -> str:
    return f"{value * 1000:.1f} ms"


def print_results(args: argparse.Namespace, bot: dict[str, Any], naive: dict[str, Any] | None) -> None:
    groups = args.groups

    def col(figures: dict[str, Any] | None, fn: Callable[[dict[str, Any]], str]) -> str:
        return "-" if figures is None else fn(figures)

    def calls_per_group(f: dict[str, Any]) -> float:
        return mean(f["successful_per_group"])

    def ratio_of(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else ("0 / 0" if not a else "n/a (baseline 0)")

    rows = [
        ["", "bot", "naive receiver", "bot / naive", "target"],
        ["webhook p50 / p99 / max",
         f"{_ms(bot['webhook']['p50'])} / {_ms(bot['webhook']['p99'])} / {_ms(bot['webhook']['max'])}",
         col(naive, lambda f: f"{_ms(f['webhook']['p50'])} / {_ms(f['webhook']['p99'])} / {_ms(f['webhook']['max'])}"),
         col(naive, lambda f: ratio_of(bot["webhook"]["p99"], f["webhook"]["p99"]) + " (p99)"), ""],
        ["webhook answers", json.dumps(bot["statuses"]), col(naive, lambda f: json.dumps(f["statuses"])), "",
         "all 200"],
        ["sender lag behind schedule p99 / max", f"{_ms(bot['lag']['p99'])} / {_ms(bot['lag']['max'])}",
         col(naive, lambda f: f"{_ms(f['lag']['p99'])} / {_ms(f['lag']['max'])}"), "", ""],
        ["successful Slack calls per group", f"{calls_per_group(bot):.2f}",
         col(naive, lambda f: f"{calls_per_group(f):.2f}"),
         col(naive, lambda f: ratio_of(calls_per_group(bot), calls_per_group(f))), "1 post + updates + 1 reply"],
        ["  top-level posts per group", per_group(bot["posts"]), col(naive, lambda f: per_group(f["posts"])), "", "1"],
        ["  updates per group", per_group(bot["updates"]), col(naive, lambda f: per_group(f["updates"])), "",
         "coalesced"],
        ["  thread replies per group", per_group(bot["replies"]), col(naive, lambda f: per_group(f["replies"])), "",
         "1 (recovery)"],
        ["429 answers per group", per_group(bot["limited"]), col(naive, lambda f: per_group(f["limited"])),
         col(naive, lambda f: ratio_of(mean(bot["limited"]), mean(f["limited"]))), ""],
        ["posts lost (bot: groups never posted; naive: posts refused 429)", f"{bot['lost']} / {groups}",
         col(naive, lambda f: f"{f['posts_lost_to_429']} / {f['attempts']}"),
         col(naive, lambda f: ratio_of(bot["lost"], f["posts_lost_to_429"])), "0"],
        ["groups with no successful post", f"{bot['lost']} / {groups}",
         col(naive, lambda f: f"{f['lost']} / {groups}"), "", "0"],
        ["groups with more than one top-level post", str(bot["duplicates"]),
         col(naive, lambda f: f"{f['duplicates']} (by design)"), "", "0"],
        ["groups whose final state is wrong", f"{bot['wrong_final_state']} / {groups}",
         col(naive, lambda f: f"{f['wrong_final_state']} / {groups}"), "", "0"],
        ["last notification -> every group right", _seconds(bot["time_to_correct"]),
         col(naive, lambda f: _seconds(f["time_to_correct"])), "",
         f"floor {bot['reply_floor']:.1f} s (replies at 1/s/channel)"],
        ["last notification -> outbox empty", _seconds(bot["outbox_drained_after"]), "", "", ""],
        ["bot_alert_outbox_depth after sending / at the end",
         f"{bot['outbox_depth_after_sending']:.0f} / {bot['outbox_depth_end']:.0f}", "", "", "0 at the end"],
    ]
    print()
    print(table(rows))
    print(f"   bot Slack calls by method and status: {json.dumps(bot['methods'], sort_keys=True)}")
    print(f"   bot outbox rows: {json.dumps(bot['outbox_rows'], sort_keys=True)}; "
          f"bot_retries_total {bot['slack_retries']:.0f}; calls matched to no group: {bot['unmatched']}")
    if naive:
        print(f"   naive Slack calls by method and status: {json.dumps(naive['methods'], sort_keys=True)}")
    ok = (bot["lost"] == 0 and bot["duplicates"] == 0 and bot["wrong_final_state"] == 0 and bot["outbox_depth_end"] == 0
          and all(p == 1 for p in bot["posts"]) and all(r == 1 for r in bot["replies"]))
    print(f"   targets (1 post and 1 recovery reply per group, 0 lost, 0 duplicates, right final state, outbox "
          f"drained): {'MET' if ok else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
