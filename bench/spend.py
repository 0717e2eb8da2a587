"""/spend under a busy hour, and the nightly shutdown over 2,000 instances: what AWS is asked, and how long it takes.

    .venv/bin/python bench/spend.py [--seed 7] [--instances 2000] [--postgres URL|auto]

Everything runs in this process: the real Bolt app (tests/support/inprocess.py, InlineExecutor, an injected
FrozenClock), real boto3 through tests/support/aws_proxy.py (which counts every request per action and answers
GetCostForecast) to moto_server (GetCostAndUsage answers queued with `queue_cost_results`), the Slack recorder,
and a fresh database per bot (SQLite in a temp dir; `--postgres` as in bench/page.py).

  1. /spend: 100 invocations within one simulated hour (the clock advances 36 s between them), 5 teams x 4 views
     x 5 each in a seeded random order, each from the team's channel: `/spend` (the team's overview: one
     GetCostAndUsage and one GetCostForecast), `/spend by service` (the team's 7 days), `/spend by team 30d`
     (the account, the same question from every channel) and `/spend burn` (the team's running instances: EC2
     DescribeInstances, not Cost Explorer). Counted per invocation from the proxy: Cost Explorer requests
     (GetCostAndUsage + GetCostForecast, $0.01 each) and DescribeInstances. Reply time: from the slash command
     sent to `dispatch` to its response_url answer reaching the recorder (the overview's chart is uploaded after
     the answer; `dispatch` returns after the upload, and that time is kept too). Cold: the invocation asked Cost
     Explorer (the first time one of its questions came up); warm: every answer came from the cache.
     Baseline, same run: the same 100 invocations on a fresh bot with `thresholds.cost_cache: 0s` (what a bot
     without the cache asks and waits for).
  2. The nightly shutdown: --instances running GPU instances for the 5 teams (one RunInstances call per team,
     seeded straight into moto), plus 10 keep-running ones and 10 CPU ones per team that it must leave running;
     `cost_guards.shutdown.enabled: true`, the clock at the teams' shutdown moment, one `NightlyShutdown.tick()`
     (all 5 teams' runs). Counted: StopInstances (expected ceil(n/50) per team) and DescribeInstances (moto
     ignores MaxResults and never pages, so each read is one request whatever the fleet; real EC2 pages by 1,000).
     Each instance id must appear in exactly one StopInstances request (from the proxy's request bodies) and
     moto must show it stopped; a second tick a minute later must stop nothing. Baseline, same run: the same
     instances started again (straight in moto, uncounted), then stopped by boto3 through the same proxy with one
     StopInstances call per instance, as a naive guard would; it is given the ids (no DescribeInstances).
     For scale, also printed: one DescribeInstances of the whole account straight to moto (before and after the
     tick), and one `/spend burn` on the big fleet before the shutdown.
Nothing is asserted; the figures and ratios are printed and the raw data goes to bench/out/spend-*.json.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from common import ROOT, percentile, print_header, save, table, verdict
from page import Databases

from bot.clock import FrozenClock
from tests.support import aws_seed
from tests.support.aws_proxy import AwsProxy
from tests.support.config import bot_config, team
from tests.support.inprocess import START, dispatch, make_app, make_services
from tests.support.servers import MotoServer
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

USD_PER_REQUEST = 0.01
TZ = "Asia/Shanghai"
TEAMS = ("atlas", "borealis", "cirrus", "delta", "ember")
CHANNEL = {name: f"C{name.upper()}" for name in TEAMS}
VIEWS = {"/spend": "", "/spend by service": "by service", "/spend by team 30d": "by team 30d", "/spend burn": "burn"}
REPEATS = 5
GAP = timedelta(seconds=36)
CE = ("GetCostAndUsage", "GetCostForecast")
GPU_TYPES = ("g5.12xlarge", "p4d.24xlarge", "g6.xlarge", "p5.48xlarge", "g4dn.xlarge")
SERVICES = {"Amazon Elastic Compute Cloud - Compute": 900.0, "Amazon SageMaker": 240.0,
            "Amazon Simple Storage Service": 120.0, "Amazon Relational Database Service": 60.0,
            "Amazon CloudWatch": 15.0}
STOP_BATCH = 50
KEPT_PER_TEAM = 10
CPU_PER_TEAM = 10


# --------------------------------------------------------------------------- Cost Explorer answers


def _days(today: date, back: int) -> list[date]:
    return [today - timedelta(days=n) for n in range(back, 0, -1)]


def service_answer(today: date, scale: float) -> dict[str, Any]:
    """A GetCostAndUsage answer grouped by SERVICE over the last 31 days (moto applies no grouping or filter)."""
    return {"GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}], "ResultsByTime": [
        {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
         "Estimated": False, "Groups": [{"Keys": [name], "Metrics": {"UnblendedCost": {
             "Amount": f"{usd * scale * (1 + 0.1 * ((d.toordinal() + i) % 3)):.2f}", "Unit": "USD"}}}
             for i, (name, usd) in enumerate(SERVICES.items())]} for d in _days(today, 31)]}


def team_answer(today: date) -> dict[str, Any]:
    """Grouped by the `team` tag: each team, and untagged spend (`team$`)."""
    return {"GroupDefinitions": [{"Type": "TAG", "Key": "team"}], "ResultsByTime": [
        {"TimePeriod": {"Start": d.isoformat(), "End": (d + timedelta(days=1)).isoformat()}, "Total": {},
         "Estimated": False, "Groups": [{"Keys": [f"team${name}"], "Metrics": {"UnblendedCost": {
             "Amount": f"{400.0 * (i + 1):.2f}", "Unit": "USD"}}} for i, name in enumerate((*TEAMS, ""))]}
        for d in _days(today, 31)]}


def questions(team_name: str, view: str) -> list[tuple[str, ...]]:
    """The distinct Cost Explorer questions an invocation implies (the cache key, in the order they are asked)."""
    if view == "/spend":
        return [("GetCostAndUsage", "overview", team_name), ("GetCostForecast", team_name)]
    if view == "/spend by service":
        return [("GetCostAndUsage", "service 7d", team_name)]
    if view == "/spend by team 30d":
        return [("GetCostAndUsage", "team 30d")]
    return []


# --------------------------------------------------------------------------- part 1: /spend


def invocations(seed: int) -> list[tuple[str, str, str]]:
    """(team, view, user): every team x view REPEATS times, shuffled."""
    rng = random.Random(seed)
    plan = [(name, view, f"U{name.upper()[:4]}{n}") for name in TEAMS for view in VIEWS for n in range(REPEATS)]
    rng.shuffle(plan)
    return plan


def spend_config(cache: str) -> dict[str, Any]:
    return bot_config(teams=[team(name, CHANNEL[name], timezone=TZ, cost_tag=name) for name in TEAMS],
                      thresholds={"cost_cache": cache})


def run_spend(label: str, cache: str, plan: list[tuple[str, str, str]], db_url: str, slack: SlackRecorder,
              proxy: AwsProxy) -> dict[str, Any]:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, spend_config(cache), clock)
    app = make_app(services)
    proxy.clear()
    rows = []
    started = time.perf_counter()
    for number, (name, view, user) in enumerate(plan):
        if number:
            clock.advance(GAP)
        seen, calls_before = len(proxy.requests), len(slack.calls())
        body = slash_command_body("/spend", VIEWS[view], user_id=user, channel_id=CHANNEL[name],
                                  response_url=slack.response_url(f"spend-{label.replace(' ', '-')}-{number}"))
        sent, t0 = time.time(), time.perf_counter()
        dispatch(app, body)
        dispatched = time.perf_counter() - t0
        answers = [c for c in slack.calls()[calls_before:] if c.method == "response_url"]
        asked = Counter(r.action for r in proxy.requests[seen:])
        text = slack_text(answers[-1].params.get("blocks") or []) or slack_text(answers[-1:]) if answers else ""
        rows.append({"team": name, "view": view, "user": user, "at": clock.now().isoformat(),
                     "reply_s": answers[-1].received_at - sent if answers else None, "dispatch_s": dispatched,
                     "ce": sum(asked[a] for a in CE), "cost_and_usage": asked["GetCostAndUsage"],
                     "forecast": asked["GetCostForecast"], "describe_instances": asked["DescribeInstances"],
                     "replies": len(answers), "figures": "$" in text,
                     "text": text.strip().splitlines()[0][:120] if text.strip() else ""})
    wall = time.perf_counter() - started
    bodies = proxy.bodies("GetCostAndUsage")
    return {"label": label, "cache": cache, "rows": rows, "wall_s": wall,
            "requests_today": services.spend.requests_today(),
            "distinct_cost_and_usage_bodies": len(set(bodies)),
            "distinct_forecast_bodies": len(set(proxy.bodies("GetCostForecast")))}


def spend_part(args: argparse.Namespace, dbs: Databases, tmp: Path, slack: SlackRecorder,
               proxy: AwsProxy) -> dict[str, Any]:
    plan = invocations(args.seed)
    today = START.date()
    order: list[tuple[str, ...]] = []
    for name, view, _ in plan:
        order += [q for q in questions(name, view) if q not in order]
    implied = len(order)
    # GetCostAndUsage answers in the order the distinct questions first come up; identical repeats get the same.
    scale = {name: 0.2 * (i + 1) for i, name in enumerate(TEAMS)}
    proxy.moto.queue_cost_results([team_answer(today) if q[1] == "team 30d" else service_answer(today, scale[q[2]])
                                   for q in order if q[0] == "GetCostAndUsage"])
    for _ in range(len(plan) * 2):  # one forecast per request, whatever either run asks
        proxy.queue_forecast(5_000.0)
    for i, name in enumerate(TEAMS):  # a small fleet for /spend burn
        aws_seed.instances(proxy.ec2, 20, GPU_TYPES[i], {"team": name, "owner": f"u{i}"})

    runs = {}
    for label, cache in (("cached", "6h"), ("no cache", "0s")):
        url = dbs.fresh(f"spend_{label.replace(' ', '_')}") or f"sqlite:///{tmp / f'spend-{label[:2]}.db'}"
        runs[label] = run_spend(label, cache, plan, url, slack, proxy)
    return {"implied_questions": implied, "implied_by_action": dict(Counter(q[0] for q in order)),
            "invocations": len(plan), "runs": runs}


def report_spend(part: dict[str, Any]) -> list[list[str]]:
    cached, bare = part["runs"]["cached"], part["runs"]["no cache"]
    print(f"\n-- 1. /spend: {part['invocations']} invocations, 5 teams x 4 views, one every {GAP.seconds} s "
          f"(one simulated hour) --")
    print(f"   distinct Cost Explorer questions the invocations imply: {part['implied_questions']} "
          f"({', '.join(f'{n} {a}' for a, n in part['implied_by_action'].items())})")
    for run in (cached, bare):
        rows = run["rows"]
        ce, gcu, gcf = (sum(r[k] for r in rows) for k in ("ce", "cost_and_usage", "forecast"))
        describe = sum(r["describe_instances"] for r in rows)
        print(f"   {run['label']:>8} (cost_cache {run['cache']}): {gcu} GetCostAndUsage + {gcf} GetCostForecast = "
              f"{ce} Cost Explorer requests (${ce * USD_PER_REQUEST:.2f}); {describe} DescribeInstances; "
              f"bot's own count today {run['requests_today']}; distinct request bodies "
              f"{run['distinct_cost_and_usage_bodies']} + {run['distinct_forecast_bodies']}; {len(rows)} invocations "
              f"in {run['wall_s']:.1f} s")
        missing = [r for r in rows if r["replies"] != 1 or not r["figures"]]
        if missing:
            print(f"      {len(missing)} invocation(s) got no reply, several, or one without a $ figure: "
                  + "; ".join(f"{r['view']} in {r['team']}: {r['replies']} reply, {r['text']!r}" for r in missing[:3]))
    ce_cached = sum(r["ce"] for r in cached["rows"])
    ce_bare = sum(r["ce"] for r in bare["rows"])
    print(f"   target one request per distinct question per TTL: {ce_cached} for {part['implied_questions']}: "
          f"{verdict(ce_cached <= part['implied_questions'])};  no cache / cache: "
          f"{ce_bare / ce_cached if ce_cached else float('nan'):.2f}x the requests (${ce_bare * USD_PER_REQUEST:.2f} "
          f"vs ${ce_cached * USD_PER_REQUEST:.2f} an hour)")

    def pick(run: dict[str, Any], view: str | None, ce: bool | None) -> list[float]:
        return [r["reply_s"] for r in run["rows"] if r["reply_s"] is not None
                and (view is None or r["view"] == view) and (ce is None or bool(r["ce"]) == ce)]

    cost_views = [v for v in VIEWS if v != "/spend burn"]
    cold = [t for v in cost_views for t in pick(cached, v, True)]
    warm = [t for v in cost_views for t in pick(cached, v, False)]
    uncached = [t for v in cost_views for t in pick(bare, v, None)]
    rows = [["reply time (to response_url)", "n", "p50", "p99", "vs warm p50"]]

    def line(name: str, values: list[float]) -> list[str]:
        p50 = percentile(values, 50)
        return [name, str(len(values)), f"{p50 * 1000:.1f} ms", f"{percentile(values, 99) * 1000:.1f} ms",
                f"{p50 / percentile(warm, 50):.2f}x" if values and warm else ""]

    rows += [line("cached: cold (asked Cost Explorer)", cold), line("cached: warm (every answer cached)", warm),
             line("no cache (cost_cache 0s), same views", uncached),
             line("/spend burn, cached run (EC2, live)", pick(cached, "/spend burn", None)),
             line("/spend burn, no-cache run", pick(bare, "/spend burn", None))]
    print(table(rows))
    per_view = [["view", "CE req cached", "CE req no cache", "cold p50", "warm p50", "no-cache p50",
                 "dispatch p50 (chart incl.)", "reads"]]
    for view in VIEWS:
        mine = [r for r in cached["rows"] if r["view"] == view]
        per_view.append([view, str(sum(r["ce"] for r in mine)),
                         str(sum(r["ce"] for r in bare["rows"] if r["view"] == view)),
                         _ms(pick(cached, view, True)), _ms(pick(cached, view, False)), _ms(pick(bare, view, None)),
                         _ms([r["dispatch_s"] for r in mine]), (mine[-1]["text"][:60] if mine else "")])
    print(table(per_view))
    return rows


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms" if values else "-"


# --------------------------------------------------------------------------- part 2: the nightly shutdown


def shutdown_part(args: argparse.Namespace, dbs: Databases, tmp: Path, slack: SlackRecorder,
                  proxy: AwsProxy) -> dict[str, Any]:
    proxy.moto.reset()
    per_team = args.instances // len(TEAMS)
    owner: dict[str, str] = {}
    kept: set[str] = set()
    cpu: set[str] = set()
    started = time.perf_counter()
    for i, name in enumerate(TEAMS):
        for instance in aws_seed.instances(proxy.ec2, per_team, GPU_TYPES[i], {"team": name, "owner": f"u{i}"}):
            owner[instance] = name
        kept |= set(aws_seed.instances(proxy.ec2, KEPT_PER_TEAM, GPU_TYPES[i], {"team": name,
                                                                                  "keep-running": "true"}))
        cpu |= set(aws_seed.instances(proxy.ec2, CPU_PER_TEAM, "m6i.large", {"team": name}))
    seeded = time.perf_counter() - started

    real = datetime.now(UTC).replace(second=0, microsecond=0)
    moment = real + timedelta(hours=3)
    at = f"{moment.astimezone(ZoneInfo(TZ)):%H:%M}"
    config = bot_config(teams=[team(name, CHANNEL[name], timezone=TZ, cost_tag=name, shutdown_at=at)
                               for name in TEAMS], cost_guards={"shutdown": {"enabled": True}})
    url = dbs.fresh("shutdown") or f"sqlite:///{tmp / 'shutdown.db'}"
    clock = FrozenClock(moment)
    services = make_services(url, slack, config, clock)
    reads = [_one_read(proxy)]
    burn = _burn_once(services, slack, proxy)
    timers = _timed(services.aws, ("instances", "stop_instances"))
    proxy.clear()
    calls_before = len(slack.calls())
    t0 = time.perf_counter()
    services.shutdown.tick()
    tick_s = time.perf_counter() - t0
    posts = [c for c in slack.calls()[calls_before:] if c.method.startswith("chat.")]
    stops = proxy.params("StopInstances")
    describes = proxy.count("DescribeInstances")
    asked: Counter[str] = Counter()
    calls_per_team: dict[str, int] = defaultdict(int)
    mixed = 0
    for request in stops:
        ids = [v for k, v in request.items() if k.startswith("InstanceId.")]
        asked.update(ids)
        teams = {owner.get(i, "?") for i in ids}
        mixed += len(teams) > 1
        for name in teams:
            calls_per_team[name] += 1
    state = _states(proxy)
    check = {name: {"instances": sum(1 for o in owner.values() if o == name),
                    "stop_calls": calls_per_team[name],
                    "expected_calls": math.ceil(sum(1 for o in owner.values() if o == name) / STOP_BATCH),
                    "asked_once": sum(1 for i, o in owner.items() if o == name and asked[i] == 1),
                    "asked_twice_or_more": sum(1 for i, o in owner.items() if o == name and asked[i] > 1),
                    "never_asked": sum(1 for i, o in owner.items() if o == name and asked[i] == 0),
                    "stopped_in_moto": sum(1 for i, o in owner.items() if o == name and state[i] == "stopped")}
             for name in TEAMS}
    wrongly = sum(asked[i] for i in kept | cpu)
    left_running = sum(1 for i in kept | cpu if state[i] == "running")

    clock.advance(timedelta(minutes=1))
    proxy.clear()
    t1 = time.perf_counter()
    services.shutdown.tick()
    second = {"s": time.perf_counter() - t1, "stop_calls": proxy.count("StopInstances"),
              "describe": proxy.count("DescribeInstances")}

    reads.append(_one_read(proxy))

    # Baseline: the same instances running again (straight in moto, uncounted), one StopInstances each.
    ids = list(owner)
    for first in range(0, len(ids), 500):
        proxy.ec2.start_instances(InstanceIds=ids[first:first + 500])
    naive = boto3.client("ec2", region_name="us-east-1")  # the environment points it at the proxy
    proxy.clear()
    t2 = time.perf_counter()
    for instance in ids:
        naive.stop_instances(InstanceIds=[instance])
    naive_s = time.perf_counter() - t2
    naive_calls = proxy.count("StopInstances")
    naive_state = _states(proxy)
    return {"per_team": per_team, "instances": len(owner), "kept_tagged": len(kept), "cpu": len(cpu),
            "seed_s": seeded, "one_read_s": reads, "burn": burn,
            "tick_s": tick_s, "stop_calls": len(stops), "describe_calls": describes,
            "mixed_batches": mixed, "timers": timers, "check": check, "kept_or_cpu_asked": wrongly,
            "kept_or_cpu_running": left_running, "slack_posts": len(posts), "second_tick": second,
            "baseline": {"calls": naive_calls, "wall_s": naive_s,
                         "stopped": sum(1 for i in ids if naive_state[i] == "stopped")}}


def _one_read(proxy: AwsProxy) -> float:
    """Seconds for one DescribeInstances of the whole account (every state), boto3 straight to moto."""
    started = time.perf_counter()
    proxy.ec2.describe_instances()
    return time.perf_counter() - started


def _burn_once(services: Any, slack: SlackRecorder, proxy: AwsProxy) -> dict[str, Any]:
    """One `/spend burn` in the first team's channel on the big fleet (before the shutdown)."""
    app = make_app(services)
    proxy.clear()
    before = len(slack.calls())
    body = slash_command_body("/spend", "burn", user_id="UBURN", channel_id=CHANNEL[TEAMS[0]],
                              response_url=slack.response_url("spend-burn-big"))
    sent = time.time()
    dispatch(app, body)
    answers = [c for c in slack.calls()[before:] if c.method == "response_url"]
    return {"reply_s": answers[-1].received_at - sent if answers else None,
            "describe": proxy.count("DescribeInstances")}


def _timed(target: Any, names: tuple[str, ...]) -> dict[str, dict[str, float]]:
    """Wrap methods of one object to add up their calls and wall time (the bot's code is unchanged)."""
    totals: dict[str, dict[str, float]] = {}
    for name in names:
        original = getattr(target, name)
        totals[name] = {"calls": 0, "s": 0.0}

        def wrapper(*a: Any, _original: Callable[..., Any] = original, _name: str = name, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return _original(*a, **kw)
            finally:
                totals[_name]["calls"] += 1
                totals[_name]["s"] += time.perf_counter() - t0

        setattr(target, name, wrapper)
    return totals


def _states(proxy: AwsProxy) -> dict[str, str]:
    """Every instance's state, straight from moto (not counted)."""
    found: dict[str, str] = {}
    for reservation in proxy.ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            found[instance["InstanceId"]] = instance["State"]["Name"]
    return found


def report_shutdown(part: dict[str, Any]) -> list[list[str]]:
    n, base, timers = part["instances"], part["baseline"], part["timers"]
    print(f"\n-- 2. nightly shutdown: {n:,} running GPU instances ({part['per_team']} per team) + "
          f"{part['kept_tagged']} keep-running + {part['cpu']} CPU (seeded in {part['seed_s']:.1f} s) --")
    rows = [["", "StopInstances", "DescribeInstances", "wall time", "vs baseline"]]
    rows.append(["bot: one tick, 5 teams' runs", str(part["stop_calls"]), str(part["describe_calls"]),
                 f"{part['tick_s']:.2f} s", f"{part['tick_s'] / base['wall_s']:.2f}x time, "
                 f"{part['stop_calls'] / base['calls']:.3f}x calls"])
    rows.append(["baseline: one StopInstances per instance", str(base["calls"]), "0 (given the ids)",
                 f"{base['wall_s']:.2f} s", ""])
    print(table(rows))
    inst, stop = timers["instances"], timers["stop_instances"]
    rest = part["tick_s"] - inst["s"] - stop["s"]
    print(f"   the tick's time: {inst['calls']:.0f} instance reads (AwsClient.instances) {inst['s']:.2f} s, "
          f"{stop['calls']:.0f} stop_instances calls (all batches) {stop['s']:.2f} s, the rest (plans, claims and "
          f"results in the database, Slack posts: {part['slack_posts']}) {rest:.2f} s")
    print(f"   for scale: one DescribeInstances of the whole account ({n + part['kept_tagged'] + part['cpu']:,} "
          f"instances), boto3 straight to moto, before the tick / after: "
          f"{' / '.join(f'{r:.2f}' for r in part['one_read_s'])} s; /spend burn on this fleet before the "
          f"shutdown: {part['burn']['describe']} DescribeInstances, answered in {part['burn']['reply_s']:.2f} s")
    expected = sum(c["expected_calls"] for c in part["check"].values())
    print(f"   StopInstances: {part['stop_calls']} (expected ceil(n/50) per team = {expected}); batches mixing teams: "
          f"{part['mixed_batches']}. DescribeInstances: {part['describe_calls']} (moto does not page: on EC2 at "
          f"1,000 per page each read would be {math.ceil((n + part['kept_tagged'] + part['cpu']) / 1000)} requests)")
    good = True
    for name, c in part["check"].items():
        ok = (c["asked_once"] == c["instances"] == c["stopped_in_moto"] and c["stop_calls"] == c["expected_calls"])
        good &= ok
        print(f"   check {name:9} {c['instances']} instances: in exactly one StopInstances {c['asked_once']}, twice "
              f"or more {c['asked_twice_or_more']}, never {c['never_asked']}; stopped in moto {c['stopped_in_moto']};"
              f" {c['stop_calls']} calls (expected {c['expected_calls']}): {'ok' if ok else 'WRONG'}")
    second = part["second_tick"]
    good &= part["kept_or_cpu_asked"] == 0 and second["stop_calls"] == 0
    print(f"   keep-running and CPU instances in a StopInstances: {part['kept_or_cpu_asked']}; still running: "
          f"{part['kept_or_cpu_running']} of {part['kept_tagged'] + part['cpu']}. Second tick a minute later: "
          f"{second['stop_calls']} StopInstances, {second['describe']} DescribeInstances, {second['s']:.2f} s")
    print(f"   every instance stopped exactly once, nothing else stopped: {verdict(good)}")
    print(f"   baseline stopped {base['stopped']} of {n} in moto")
    return rows


# --------------------------------------------------------------------------- main


def aws_environment(proxy: AwsProxy) -> None:
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL_")] + ["AWS_PROFILE", "PROMETHEUS_URL",
                                                                               "KUBECONFIG"]:
        os.environ.pop(name, None)
    os.environ.update(proxy.aws_env())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=7, help="the order of the 100 invocations")
    parser.add_argument("--instances", type=int, default=2000, help="GPU instances for the shutdown (5 teams)")
    parser.add_argument("--postgres", metavar="URL", help="a PostgreSQL server URL, or `auto` for a throwaway one")
    args = parser.parse_args()
    print_header(f"/spend x100 in an hour, and the nightly shutdown over {args.instances:,} instances")
    started = time.perf_counter()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-spend-")))
        dbs = Databases(stack, tmp, args.postgres)
        print(f"   database: {dbs.label}")
        moto = stack.enter_context(MotoServer(tmp / "moto"))
        proxy = stack.enter_context(AwsProxy(moto))
        slack = stack.enter_context(SlackRecorder())
        aws_environment(proxy)
        spend = spend_part(args, dbs, tmp, slack, proxy)
        spend_rows = report_spend(spend)
        shutdown = shutdown_part(args, dbs, tmp, slack, proxy)
        shutdown_rows = report_shutdown(shutdown)
        database = dbs.label
    print(f"\n   whole run: {time.perf_counter() - started:.0f} s")
    path = save("spend", {"database": database, "spend": spend, "shutdown": shutdown,
                          "tables": {"spend": spend_rows, "shutdown": shutdown_rows}})
    print(f"   saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
