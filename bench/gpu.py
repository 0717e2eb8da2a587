"""/gpu on a 10,000-GPU fleet: `/gpu`, `/gpu idle` and `/gpu team` end to end through the handler.

    .venv/bin/python bench/gpu.py [--gpus 10000] [--nodes 1250] [--pods 5000] [--rounds 5] [--small]

The cluster (bench/gpu_data.py, seeded): --nodes nodes `gpu-node-0000…` of --gpus/--nodes GPUs each (H100,
A100, L40S, L4; ~10 `karpenter.sh/nodepool` pools); a third of them report DCGM `Hostname` as their exporter
pod's name, with `namespace`/`pod` the exporter's and the workload in `exported_*`. --pods running pods in 40
namespaces `team-00…` hold 1, 2 or 4 GPUs each; 15 % of them idle (< 10 %) for the last 20-60 minutes; free
GPUs idle with no pod labels; ~10 GPUs with an XID, an uncorrectable ECC error or thermal throttling; 3 % more
pods Pending (Unschedulable, with FailedScheduling events). The DCGM history (UTIL, PROF on H100/A100, FB_USED,
FB_FREE, TEMP; 1 h at 60 s ending at now rounded down to the minute) is written as OpenMetrics, turned into
blocks by `promtool tsdb create-blocks-from openmetrics`, and served by a real Prometheus; the Kubernetes
objects by the API fixture (tests/support/kube_api.py). Both run in a child process, so the bot's process
holds only the bot (its peak RSS is the bot's) and the fixture's JSON work does not take the bot's GIL.

The bot runs in-process as tests/support/inprocess.py builds it (SQLite, the Slack recorder, the real clock,
40 teams each mapping its namespace). Each command is a slash-command form body through Bolt's `dispatch`;
listeners run inline. The time of a round is from sending the command to the answer arriving at the Slack
recorder (the `response_url`), what the user waits for; the PNG and CSV files are uploaded after the answer,
and the time until they are done is printed too.

  1. per command: one cold round (fresh services: new clients, empty caches, new database), then --rounds
     warm rounds; time to the answer cold, median and p95 (nearest rank); target median <= 1 s. Per round, PromQL
     requests (Prometheus's own `prometheus_http_requests_total` for /api/v1/query and /query_range),
     Kubernetes requests (counted by the fixture), reply size (bytes of the reply's blocks JSON, and blocks),
     files uploaded, and "working on it" notices.
  2. baseline, same run: the naive loop, per node one PromQL instant query
     `avg_over_time(DCGM_FI_DEV_GPU_UTIL{Hostname="<node>"}[15m])` (prometheus_api_client) and one
     `list_pod_for_all_namespaces(field_selector="spec.nodeName=<node>")` (kubernetes client); one round.
The ratio is baseline / warm median. Nothing is asserted; machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import gpu_data
import requests
from common import ROOT, percentile, print_header, save, table, verdict
from kubernetes import client as kube_client
from kubernetes import config as kube_config
from prometheus_api_client import PrometheusConnect

from bot.clock import SystemClock
from tests.support.inprocess import dispatch, make_app, make_services
from tests.support.kube_api import kubeconfig
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import Call, SlackRecorder
from tests.support.slack_text import slack_text

TARGET_S = 1.0
LOOKBACK_S = 300  # Prometheus's instant-query lookback: older than this after `end`, "now" finds no sample
COMMANDS = ("", "idle", "team team-07")
CHANNEL = "CPLATFORM"  # no team's channel: `/gpu` answers for the whole organisation
REPLIES = ("response_url", "chat.postEphemeral", "chat.postMessage")  # the answer is the last of these
_REQUESTS = re.compile(r'^prometheus_http_requests_total\{(?P<labels>[^}]*)\} (?P<value>\S+)$', re.M)


@dataclass
class Round:
    wall_s: float  # from sending the command to the answer reaching Slack (what the user waits for)
    total_s: float  # until the handler finished, files (PNG, CSV) uploaded after the answer included
    cpu_s: float  # this process's CPU time (the bot, and the Slack recorder's few requests)
    promql: dict[str, int]
    kube: dict[str, int]
    reply_bytes: int = 0
    blocks: int = 0
    replies: int = 0
    files: list[tuple[str, int]] = field(default_factory=list)
    text: str = ""


class Fixtures:
    """The child process serving the cluster: Prometheus and the Kubernetes API fixture."""

    def __init__(self, sizes: dict[str, int], end: datetime, base_dir: str) -> None:
        context = get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=gpu_data.serve, args=(sizes, end, base_dir, child), daemon=True)
        self._process.start()
        if not self._conn.poll(900):
            raise RuntimeError("the fixture process did not report within 15 minutes")
        self.info: dict[str, Any] = self._conn.recv()

    def kube_counts(self) -> dict[tuple[str, str], int]:
        self._conn.send("counts")
        counts: dict[tuple[str, str], int] = self._conn.recv()
        return counts

    def stop(self) -> None:
        if self._process.is_alive():
            self._conn.send("stop")
            self._process.join(60)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(30)


def prom_counts(url: str) -> dict[str, int]:
    """Prometheus's own count of API requests per handler (query, query_range), from its /metrics."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    found: Counter[str] = Counter()
    for match in _REQUESTS.finditer(text):
        handler = re.search(r'handler="([^"]*)"', match.group("labels"))
        if handler and handler.group(1) in ("/api/v1/query", "/api/v1/query_range"):
            found[handler.group(1).rsplit("/", 1)[1]] += int(float(match.group("value")))
    return {"query": found["query"], "query_range": found["query_range"]}


def difference(after: dict[Any, int], before: dict[Any, int]) -> dict[Any, int]:
    return {key: value - before.get(key, 0) for key, value in after.items() if value - before.get(key, 0)}


def config(teams: int = 40) -> dict[str, Any]:
    return {"teams": [{"name": f"team-{i:02d}", "channel": f"CTEAM{i:02d}", "namespaces": [f"team-{i:02d}"]}
                      for i in range(teams)]}


class Bot:
    """Fresh services and Bolt app (new database, new clients) on the shared Slack recorder."""

    def __init__(self, slack: SlackRecorder, urls: dict[str, str], work: Path, name: str) -> None:
        self.slack = slack
        database = f"sqlite:///{work / f'{name}.db'}"
        self.services = make_services(database, slack, config(), SystemClock(),  # type: ignore[arg-type]
                                      prometheus_url=urls["prometheus"], kubeconfig=urls["kubeconfig"])
        self.app = make_app(self.services)

    def run(self, text: str, fixtures: Fixtures, prometheus: str) -> Round:
        promql, kube, seen = prom_counts(prometheus), fixtures.kube_counts(), len(self.slack.calls())
        body = slash_command_body("/gpu", text, channel_id=CHANNEL, response_url=self.slack.response_url("gpu"))
        sent, started, cpu = time.time(), time.perf_counter(), time.process_time()
        dispatch(self.app, body)
        total, cpu = time.perf_counter() - started, time.process_time() - cpu
        calls = self.slack.calls()[seen:]
        answers = [c.received_at for c in calls if c.method in REPLIES]
        wall = answers[-1] - sent if answers else total
        kube_delta = difference(fixtures.kube_counts(), kube)
        found = Round(wall, total, cpu, difference(prom_counts(prometheus), promql),
                      {f"{method} {path}": count for (method, path), count in kube_delta.items()})
        return described(found, calls)


def described(found: Round, calls: list[Call]) -> Round:
    replies = [c for c in calls if c.method in REPLIES]
    found.replies = len(replies)
    if replies:
        blocks = replies[-1].json_param("blocks") or []
        found.reply_bytes = len(json.dumps(blocks, ensure_ascii=False).encode())
        found.blocks = len(blocks)
        found.text = slack_text(blocks) or slack_text(replies[-1])
    names = {str(c.response.get("file_id", "")): str(c.params.get("filename", "")) for c in calls
             if c.method == "files.getUploadURLExternal"}
    for c in (c for c in calls if c.method == "file_upload"):
        found.files.append((names.get(c.path.rsplit("/", 1)[-1], c.path), len(c.body)))
    return found


def measure(text: str, rounds: int, slack: SlackRecorder, urls: dict[str, str], fixtures: Fixtures,
            work: Path) -> list[Round]:
    """One cold round on fresh services, then `rounds` warm ones on the same services."""
    bot = Bot(slack, urls, work, f"bot-{text.replace(' ', '-') or 'all'}")
    return [bot.run(text, fixtures, urls["prometheus"]) for _ in range(rounds + 1)]


def usage_text(slack: SlackRecorder, urls: dict[str, str], work: Path) -> str:
    """What `/gpu help` answers: a reply containing it means the subcommand is not there (yet)."""
    bot = Bot(slack, urls, work, "bot-help")
    seen = len(slack.calls())
    dispatch(bot.app, slash_command_body("/gpu", "help", channel_id=CHANNEL, response_url=slack.response_url("h")))
    replies = [c for c in slack.calls()[seen:] if c.method == "response_url"]
    return slack_text(replies[-1].params.get("blocks") or []) if replies else ""


def baseline(urls: dict[str, str], nodes: list[str]) -> dict[str, Any]:
    """The naive loop: per node one PromQL instant query and one pod list filtered by spec.nodeName."""
    prom = PrometheusConnect(url=urls["prometheus"], disable_ssl=True)
    configuration = kube_client.Configuration()
    kube_config.load_kube_config(config_file=urls["kubeconfig"], client_configuration=configuration,  # type: ignore[no-untyped-call]
                                 persist_config=False)
    core = kube_client.CoreV1Api(kube_client.ApiClient(configuration))
    without_series, pods = 0, 0
    started = time.perf_counter()
    for name in nodes:
        series = prom.custom_query(f'avg_over_time(DCGM_FI_DEV_GPU_UTIL{{Hostname="{name}"}}[15m])')
        without_series += not series
        pods += len(core.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={name}",
                                                     _request_timeout=(3, 30)).items)
    return {"wall_s": time.perf_counter() - started, "nodes": len(nodes), "nodes_without_series": without_series,
            "pods_seen": pods}


def rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def report_command(text: str, rounds: list[Round], usage: str) -> dict[str, Any]:
    cold, warm = rounds[0], [r.wall_s for r in rounds[1:]]
    median, p95 = statistics.median(warm), percentile(warm, 95)
    last, name = rounds[-1], f"/gpu {text}".strip()
    answered_usage = bool(usage) and usage in last.text
    judged = "n/a: answered with the usage text" if answered_usage else verdict(median <= TARGET_S)
    print(f"\n   {name}: cold {cold.wall_s:6.3f} s   warm median {median:6.3f} s   p95 {p95:6.3f} s   "
          f"target median <= {TARGET_S:g} s: {judged}")
    print(f"      warm rounds (to the answer): {', '.join(f'{t:.3f}' for t in warm)} s; with the files uploaded "
          f"after it: {statistics.median(r.total_s for r in rounds[1:]):.3f} s median; CPU in the bot's process: "
          f"{statistics.median(r.cpu_s for r in rounds[1:]):.3f} s median")
    print(f"      PromQL per command: {last.promql.get('query', 0)} query, {last.promql.get('query_range', 0)} "
          f"query_range (cold: {cold.promql.get('query', 0)} / {cold.promql.get('query_range', 0)})")
    print(f"      Kubernetes requests per command: {sum(last.kube.values())}"
          + "".join(f"\n         {count:4d}  {path}" for path, count in sorted(last.kube.items())))
    print(f"      reply: {last.reply_bytes:,} bytes of blocks JSON, {last.blocks} blocks, {last.replies} "
          f"post(s) (cold: {cold.replies}; 2: \"working on it\" went first); files: {last.files or 'none'}")
    first_line = last.text.strip().splitlines()[0][:110] if last.text.strip() else "(no reply)"
    print(f"      reads: {first_line!r}")
    return {"command": name, "cold_s": cold.wall_s, "warm_median_s": median, "warm_p95_s": p95,
            "answered_usage": answered_usage, "rounds": [asdict(r) for r in rounds]}


def sizes_from(args: argparse.Namespace) -> dict[str, int]:
    if args.small:
        return {"gpus": 800, "nodes": 100, "pods": 400}
    return {"gpus": args.gpus, "nodes": args.nodes, "pods": args.pods}


def print_dataset(info: dict[str, Any], sizes: dict[str, int]) -> None:
    s, timings = info["summary"], info["timings"]
    print(f"   cluster: {s['nodes']} nodes, {s['gpus']} GPUs ({s['gpus_held']} held, {s['gpus_held_idle']} of them "
          f"idle), {s['running_gpu_pods']} running GPU pods (asked {sizes['pods']}) + {s['nodes']} exporter pods, "
          f"{s['pending_pods']} Pending; {s['namespaces']} namespaces, {s['pools']} node pools, "
          f"{s['exporter_hostname_nodes']} nodes report the exporter pod as Hostname; {s['faulty_gpus']} faulty GPUs")
    print(f"   models: {', '.join(f'{m} x{n}' for m, n in s['models'].items())}")
    print(f"   build: dataset {timings['dataset']:.1f} s, OpenMetrics write {timings['write']:.1f} s "
          f"({info['samples']:,} samples, {info['openmetrics_bytes'] / 2**20:,.0f} MiB), promtool "
          f"{timings['promtool']:.1f} s, Prometheus ready {timings['ready']:.1f} s")


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sizes = sizes_from(args)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    started = time.perf_counter()
    fixtures = Fixtures(sizes, end, str(work))
    try:
        info = fixtures.info
        print_dataset(info, sizes)
        urls = {"prometheus": info["prometheus"], "kubeconfig": kubeconfig(work, info["kube"])}
        with SlackRecorder() as slack:
            usage = usage_text(slack, urls, work)
            rss_before = rss_kib()
            results = [report_command(text, measure(text, args.rounds, slack, urls, fixtures, work), usage)
                       for text in COMMANDS]
            rss_after = rss_kib()
        stale = (datetime.now(UTC) - end).total_seconds()
        print(f"\n   peak RSS of the bot's process: {rss_after / 1024:,.0f} MiB "
              f"({rss_before / 1024:,.0f} MiB before the first /gpu)")
        print(f"   data age at the last command: {stale:.0f} s" +
              ("  (past the 5 min lookback: instant queries at now miss samples)" if stale > LOOKBACK_S else ""))
        naive = baseline(urls, info["nodes"])
    finally:
        fixtures.stop()
    print(f"\n   baseline, naive per-node loop ({naive['nodes']} PromQL queries + {naive['nodes']} pod lists): "
          f"{naive['wall_s']:.3f} s; {naive['nodes_without_series']} nodes had no series under their own name, "
          f"{naive['pods_seen']} pods seen")
    for r in results:
        r["baseline_ratio"] = None if r["answered_usage"] else naive["wall_s"] / r["warm_median_s"]
        shown = "n/a (usage text)" if r["baseline_ratio"] is None else f"{r['baseline_ratio']:6.1f}x"
        print(f"   baseline / {r['command']} warm median: {shown}")
    print(f"   whole run: {time.perf_counter() - started:.0f} s")
    return {"sizes": sizes, "end": end.isoformat(), "dataset": {k: v for k, v in info.items() if k != "nodes"},
            "commands": results, "baseline": naive, "peak_rss_kib": rss_after, "rss_before_kib": rss_before}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpus", type=int, default=10_000)
    parser.add_argument("--nodes", type=int, default=1_250)
    parser.add_argument("--pods", type=int, default=5_000)
    parser.add_argument("--rounds", type=int, default=5, help="warm rounds per command, after one cold round")
    parser.add_argument("--small", action="store_true", help="800 GPUs, 100 nodes, 400 pods: for debugging")
    args = parser.parse_args()
    sizes = sizes_from(args)
    print_header(f"/gpu on {sizes['gpus']:,} GPUs, {sizes['nodes']:,} nodes, {sizes['pods']:,} pods; "
                 f"1 cold + {args.rounds} warm rounds per command")
    with tempfile.TemporaryDirectory(prefix="bench-gpu-") as tmp:
        data = run(args, Path(tmp))
    path = save("gpu", data)
    print(f"   saved {path.relative_to(ROOT)}")
    rows = [["command", "cold", "warm median", "p95", "PromQL", "kube req", "reply bytes", "blocks"]]
    rows += [[r["command"], f"{r['cold_s']:.3f} s", f"{r['warm_median_s']:.3f} s", f"{r['warm_p95_s']:.3f} s",
              str(sum(r["rounds"][-1]["promql"].values())), str(sum(r["rounds"][-1]["kube"].values())),
              f"{r['rounds'][-1]['reply_bytes']:,}", str(r["rounds"][-1]["blocks"])] for r in data["commands"]]
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
