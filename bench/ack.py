"""Ack latency of slash commands under concurrency, and cold start, against a bare Bolt app.

    .venv/bin/python bench/ack.py [--n 50] [--rounds 3] [--sweep 10,25] [--starts 3] [--profile]

N concurrent signed `/gpu` commands hit `python -m bot serve`; the bot acks at once and asks
Prometheus in a lazy listener. PROMETHEUS_URL points at a loopback stand-in that waits 2 s before
answering every query with an empty vector (KUBECONFIG at the same stand-in, which answers the
node/pod lists at once with empty lists, so the lazy listener runs to its reply). Ack latency is
client-side: from sending the POST to its HTTP 200.

The baseline, measured in the same run, is bench/bare_app.py: a bare Bolt app with one
`/gpu` command (ack, plus a lazy `time.sleep(2)`) in the same waitress with the same threads.
The bare app gets one Bolt pool as wide as the bot's ack pool and lazy pool together. Rounds alternate
bot, bare, bot, bare, ... after one unrecorded warm-up round each; after each bot round the
script waits for its lazy listeners to reply, so rounds don't overlap. Smaller bursts (--sweep)
are measured the same way. "server CPU/request" is the server process's CPU time from the
release of a round to its last response, divided by N. --profile adds one cProfile'd round of
each (bench/profile_serve.py) and prints where the CPU went.

Cold start: spawn → /healthz 200 for the bot (median of --starts, a fresh SQLite db each), and
spawn → first 200 on a trivial GET route for the bare app.
"""

from __future__ import annotations

import argparse
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml
from common import (
    OUT,
    ROOT,
    LaunchedBot,
    TimedRecorder,
    ms,
    percentile,
    print_header,
    process_cpu_seconds,
    ratio,
    save,
    summary,
    table,
    verdict,
)

from tests.support.bot_process import BOT_TOKEN, SIGNING_SECRET, BotProcess
from tests.support.config import bot_config
from tests.support.loopback import LoopbackHTTPServer, QuietHandler, send_bytes
from tests.support.servers import free_port
from tests.support.signing import signed_headers, slash_command_body
from tests.support.waiting import wait_until

BACKEND_DELAY = 2.0
EMPTY_VECTOR = {"status": "success", "data": {"resultType": "vector", "result": []}}
TARGET_P99 = 0.100
TARGET_RATIO = 2.0
TARGET_START = 3.0


# --------------------------------------------------------------------------- the slow backend


class _BackendHandler(QuietHandler):
    def do_GET(self) -> None:
        owner: SlowBackend = self.server.owner  # type: ignore[attr-defined]
        path = self.path.split("?")[0]
        if path.startswith("/api/v1/query") or path.startswith("/api/v1/status"):
            owner.count("prometheus")
            time.sleep(owner.delay)
            body = EMPTY_VECTOR
        elif path == "/api/v1/nodes":
            owner.count("kube")
            body = {"kind": "NodeList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
        elif path == "/api/v1/pods" or path.startswith("/api/v1/namespaces/"):
            owner.count("kube")
            body = {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": []}
        else:
            send_bytes(self, 404, b"{}", "application/json")
            return
        send_bytes(self, 200, json.dumps(body).encode(), "application/json")

    do_POST = do_GET


class SlowBackend(LoopbackHTTPServer):
    """Prometheus that takes `delay` seconds per query; a Kubernetes API with no GPU nodes."""

    def __init__(self, delay: float) -> None:
        super().__init__(_BackendHandler)
        self.delay = delay
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, what: str) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + 1

    def kubeconfig(self, path: Path) -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "bench",
            "clusters": [{"name": "bench", "cluster": {"server": self.url}}],
            "users": [{"name": "bot", "user": {"token": "bench"}}],
            "contexts": [{"name": "bench", "context": {"cluster": "bench", "user": "bot"}}],
        }))
        return path


# --------------------------------------------------------------------------- the bare app


class BareApp:
    def __init__(self, workdir: Path, slack_api_url: str, threads: int, listener_threads: int,
                 launcher: list[str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.argv = [sys.executable, *(launcher or []), str(ROOT / "bench" / "bare_app.py"),
                     "--port", str(self.port), "--threads", str(threads),
                     "--listener-threads", str(listener_threads)]
        self.env = {"PATH": os.environ.get("PATH", ""), "HOME": str(workdir), "PYTHONPATH": str(ROOT),
                    "SLACK_API_URL": slack_api_url, "SLACK_BOT_TOKEN": BOT_TOKEN,
                    "SLACK_SIGNING_SECRET": SIGNING_SECRET}
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60) -> float:
        log = (self.workdir / "bare.log").open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(self.argv, cwd=self.workdir, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        wait_until(self._up, timeout, message=f"bare app on {self.url}")
        return time.perf_counter() - started

    def _up(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"bare app exited: {(self.workdir / 'bare.log').read_text()[-2000:]}")
        try:
            return requests.get(self.url + "/healthz", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


# --------------------------------------------------------------------------- measuring


@dataclass
class Server:
    name: str
    url: str
    pid: int
    replies: bool  # True: its lazy listeners answer via response_url (the bot), so we can wait for them
    latencies: dict[int, list[float]] = field(default_factory=dict)  # by concurrency
    cpu: dict[int, list[float]] = field(default_factory=dict)  # server CPU seconds per round, by concurrency
    failures: int = 0


def one_round(url: str, n: int, slack: TimedRecorder, tag: str,
              pid: int | None = None) -> tuple[list[float], list[int], float]:
    """N signed /gpu commands released together: seconds to each HTTP response, statuses, and
    the server's CPU seconds from the release to the last response."""
    prepared = []
    for i in range(n):
        body = slash_command_body("/gpu", "", user_id=f"UBENCH{i:03d}", channel_id="CTEAM",
                                  response_url=slack.response_url(f"{tag}-{i}"))
        prepared.append((body, signed_headers(SIGNING_SECRET, body)))
    barrier = threading.Barrier(n + 1)

    def send(item: tuple[bytes, dict[str, str]]) -> tuple[float, int]:
        body, headers = item
        barrier.wait()
        started = time.perf_counter()
        try:
            status = requests.post(url + "/slack/events", data=body, headers=headers, timeout=10).status_code
        except requests.RequestException:
            status = 0
        return time.perf_counter() - started, status

    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(send, item) for item in prepared]
        cpu_before = process_cpu_seconds(pid) if pid else 0.0
        barrier.wait()
        results = [f.result() for f in futures]
        cpu = process_cpu_seconds(pid) - cpu_before if pid else 0.0
    return [r[0] for r in results], [r[1] for r in results], cpu


def wait_replies(slack: TimedRecorder, expected: int) -> None:
    """Let the bot's lazy listeners (2 s backend, then Kubernetes, render, response_url) finish."""
    deadline = time.monotonic() + BACKEND_DELAY + 20
    while time.monotonic() < deadline and len(slack.calls("response_url")) < expected:
        time.sleep(0.05)
    time.sleep(0.2)


def measure(servers: list[Server], slack: TimedRecorder, sizes: list[int], rounds: int) -> int:
    """Warm-up round, then `rounds` rounds per size, alternating servers; returns the bot's replies."""
    expected = 0
    plan = [(sizes[-1], False)] + [(n, True) for n in sizes for _ in range(rounds)]
    for number, (n, recorded) in enumerate(plan):
        for server in servers:
            seconds, statuses, cpu = one_round(server.url, n, slack, f"{server.name}{number}", server.pid)
            if server.replies:
                expected += n
                wait_replies(slack, expected)
            # The bare app's lazy listeners only sleep: nothing to wait for before the next round.
            if recorded:
                server.latencies.setdefault(n, []).extend(seconds)
                server.cpu.setdefault(n, []).append(cpu)
                server.failures += sum(1 for s in statuses if s != 200)
    return expected


# --------------------------------------------------------------------------- profiling (--profile)


def profile_both(slack: TimedRecorder, base: Path, env: dict[str, str], n: int, threads: int,
                 listener_threads: int) -> None:
    """One warm-up round, then one profiled round of n, for the bot and the bare app."""
    print(f"\n   --profile: one round of {n} under cProfile (per-thread CPU time; proportions only)")
    rows = [["", "ack p50", "request thread", "ack listener", "lazy listener", "  of which lazy copy",
             "total"]]
    for name in ("bot", "bare"):
        out = OUT / f"ack-{name}.pstats"
        OUT.mkdir(parents=True, exist_ok=True)
        for stale in (out, Path(f"{out}.on")):
            stale.unlink(missing_ok=True)
        launcher = [str(ROOT / "bench" / "profile_serve.py"), str(out)]
        workdir = base / f"profile-{name}"
        workdir.mkdir()
        server: Any
        if name == "bot":
            server = LaunchedBot(launcher, workdir, slack.base_url, bot_config(), extra_env=env)
        else:
            server = BareApp(workdir, slack.base_url, threads, listener_threads, launcher=launcher)
        server.start()
        try:
            before = len(slack.calls("response_url"))
            one_round(server.url, n, slack, f"profile-{name}-warm")
            if name == "bot":
                wait_replies(slack, before + n)
            Path(f"{out}.on").touch()
            time.sleep(0.5)
            seconds, _statuses, _cpu = one_round(server.url, n, slack, f"profile-{name}")
            if name == "bot":
                wait_replies(slack, before + 2 * n)
            else:
                time.sleep(BACKEND_DELAY + 0.5)
        finally:
            server.stop()
            Path(f"{out}.on").unlink(missing_ok=True)
        stats = pstats.Stats(str(out))

        def cumulative(fragment: str, stats: pstats.Stats = stats) -> float:
            return sum(v[3] for k, v in stats.stats.items() if fragment in f"{k[0]}:{k[2]}")  # type: ignore[attr-defined]

        per = 1000 / n
        rows.append([name, ms(percentile(seconds, 50)),
                     f"{cumulative('waitress/task.py:service') * per:.1f} ms",
                     f"{cumulative('run_ack_function_asynchronously') * per:.1f} ms",
                     f"{cumulative('request_wired_func_wrapper') * per:.1f} ms",
                     f"{cumulative('_build_lazy_request') * per:.1f} ms",
                     f"{stats.total_tt * per:.1f} ms"])  # type: ignore[attr-defined]
        if name == "bot":
            bot_stats = stats
    print("   CPU per request, profiled:")
    print(table(rows))
    print("   bot: functions with the most own CPU time in that round")
    bot_stats.sort_stats("tottime")
    top = sorted(bot_stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:12]  # type: ignore[attr-defined]
    for (path, line, func), (_cc, calls, tottime, cumtime, _callers) in top:
        where = path.replace(str(ROOT) + "/", "").replace(".venv/lib/python3.11/site-packages/", "")
        print(f"     {tottime * 1000:7.1f} ms own {cumtime * 1000:8.1f} ms cum {calls:6d}x  {where}:{line}({func})")
    print(f"   full profiles: {OUT.relative_to(ROOT)}/ack-bot.pstats, ack-bare.pstats "
          "(.venv/bin/python -m pstats FILE)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=50, help="concurrent requests per round (default 50)")
    parser.add_argument("--rounds", type=int, default=3, help="recorded rounds per size and server (default 3)")
    parser.add_argument("--sweep", default="10,25", help="smaller sizes to measure too, comma-separated "
                        "(default 10,25; '' for none)")
    parser.add_argument("--starts", type=int, default=3, help="cold starts to take the median of (default 3)")
    parser.add_argument("--threads", type=int, default=32, help="waitress threads of the bare app (the bot "
                        "serves with its own default, 32)")
    parser.add_argument("--profile", action="store_true", help="also profile one round of each (slow)")
    args = parser.parse_args()
    sizes = sorted({int(x) for x in args.sweep.split(",") if x.strip()} | {args.n})

    from bot.app import LAZY_THREADS, LISTENER_THREADS

    bare_pool = LISTENER_THREADS + LAZY_THREADS  # the same threads the bot has for acks and lazy work

    print_header(f"ack latency: {args.n} concurrent /gpu x {args.rounds} rounds, "
                 f"backend {BACKEND_DELAY:.0f} s in a lazy listener")
    with TimedRecorder() as slack, SlowBackend(BACKEND_DELAY) as backend, \
            tempfile.TemporaryDirectory(prefix="bench-ack-") as tmp:
        base = Path(tmp)
        env = {"PROMETHEUS_URL": backend.url, "KUBECONFIG": str(backend.kubeconfig(base / "kubeconfig")),
               "LOG_LEVEL": "INFO"}

        # Cold starts: a fresh work dir (fresh SQLite database) each; the last of each stays up.
        bot_starts, bare_starts = [], []
        bot: BotProcess | None = None
        bare: BareApp | None = None
        for i in range(args.starts):
            (base / f"bot{i}").mkdir()
            if bot is not None:
                bot.stop()
            bot = BotProcess(base / f"bot{i}", slack.base_url, bot_config(), extra_env=env)
            bot_starts.append(bot.start())
        for i in range(args.starts):
            (base / f"bare{i}").mkdir()
            if bare is not None:
                bare.stop()
            bare = BareApp(base / f"bare{i}", slack.base_url, args.threads, bare_pool)
            bare_starts.append(bare.start())
        assert bot is not None and bare is not None and bot.process and bare.process

        servers = [Server("bot", bot.url, bot.process.pid, replies=True),
                   Server("bare", bare.url, bare.process.pid, replies=False)]
        try:
            expected = measure(servers, slack, sizes, args.rounds)
        finally:
            bot.stop()
            bare.stop()
        bot_log = bot.logs()
        report(args, servers, sizes, bot_starts, bare_starts, backend, slack, expected, bot_log,
               LISTENER_THREADS)
        if args.profile:
            profile_both(slack, base, env, args.n, args.threads, bare_pool)
    return 0


def report(args: argparse.Namespace, servers: list[Server], sizes: list[int], bot_starts: list[float],
           bare_starts: list[float], backend: SlowBackend, slack: TimedRecorder, expected: int, bot_log: str,
           listener_threads: int) -> None:
    replies = len(slack.calls("response_url"))
    figures: dict[str, Any] = {
        "n": args.n, "rounds": args.rounds, "sizes": sizes, "threads": args.threads,
        "listener_threads": listener_threads, "bot_starts": bot_starts, "bare_starts": bare_starts,
        "backend_counts": backend.counts, "replies": replies, "expected_replies": expected}
    print(f"\n   ack latency, client side (POST sent -> HTTP 200), {args.rounds} rounds per size after a "
          f"warm-up; waitress {args.threads} threads, Bolt listener pool {listener_threads} for both")
    rows = [["concurrent", "", "p50", "p99", "max", "server CPU/request"]]
    for n in sizes:
        by_name = {s.name: summary(s.latencies[n]) for s in servers}
        for server in servers:
            f = by_name[server.name]
            cpu = sum(server.cpu[n]) / (n * len(server.cpu[n]))
            rows.append([str(n), server.name, ms(f["p50"]), ms(f["p99"]), ms(f["max"]), ms(cpu)])
            figures[f"{server.name}_{n}"] = {**f, "cpu_per_request": cpu}
        b, r = by_name["bot"], by_name["bare"]
        rows.append(["", "bot/bare", ratio(b["p50"], r["p50"]), ratio(b["p99"], r["p99"]),
                     ratio(b["max"], r["max"]), ""])
    print(table(rows))
    bot_s, bare_s = figures[f"bot_{args.n}"], figures[f"bare_{args.n}"]
    p99_ok = bot_s["p99"] <= TARGET_P99
    ratio_ok = bot_s["p99"] <= TARGET_RATIO * bare_s["p99"] and bot_s["p50"] <= TARGET_RATIO * bare_s["p50"]
    print(f"   target p99 <= {TARGET_P99 * 1000:.0f} ms at {args.n} concurrent: {verdict(p99_ok)} "
          f"(bot {bot_s['p99'] * 1000:.0f} ms; bare Bolt {bare_s['p99'] * 1000:.0f} ms)")
    print(f"   target within {TARGET_RATIO:.0f}x of bare at {args.n}: {verdict(ratio_ok)} "
          f"(p50 {bot_s['p50'] / bare_s['p50']:.2f}x, p99 {bot_s['p99'] / bare_s['p99']:.2f}x)")
    failures = {s.name: s.failures for s in servers}
    pool_full = bot_log.count("Connection pool is full")
    print(f"   non-200 answers: bot {failures['bot']}, bare {failures['bare']}; lazy listeners: "
          f"{backend.counts.get('prometheus', 0)} Prometheus queries, {replies}/{expected} /gpu replies; "
          f"bot log: {pool_full} 'Connection pool is full' warnings")
    figures.update(failures=failures, pool_full_warnings=pool_full)

    bot_start, bare_start = statistics.median(bot_starts), statistics.median(bare_starts)
    print(f"\n   cold start, spawn -> first 200 (median of {args.starts}, fresh SQLite database each):")
    print(table([
        ["", "median", "each"],
        ["bot /healthz", f"{bot_start:6.2f} s", ", ".join(f"{s:.2f}" for s in bot_starts)],
        ["bare Bolt GET", f"{bare_start:6.2f} s", ", ".join(f"{s:.2f}" for s in bare_starts)],
        ["bot/bare", ratio(bot_start, bare_start), ""],
    ]))
    print(f"   target bot cold start <= {TARGET_START:.0f} s: {verdict(bot_start <= TARGET_START)} "
          f"({bot_start:.2f} s)")

    path = save("ack", figures)
    print(f"\n   raw figures: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
