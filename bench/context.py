"""Kubernetes evidence for an incident: how long `EvidenceCollector.collect()` takes on a big namespace.

    .venv/bin/python bench/context.py [--pods 2000] [--events 5000] [--rounds 7]

A loopback API server (tests/support/kube_api.py `KubeApi`, complete objects as the real API sends them,
lists paged by 500) holds one namespace `payments` with --pods pods (5 % of them crash-looping,
OOMKilled, failing to pull or evicted) spread over 40 nodes (2 NotReady, 1 under memory pressure),
--events Warning events (200 distinct reason/object/message, the rest repeats, all within 30 minutes),
60 Deployments with 3 ReplicaSets each (6 rolled out 20 minutes ago), and 10 StatefulSets with
2 ControllerRevisions each. The real `kubernetes` client reads it through `bot.clients.kube.KubeClient`.

  1. snapshot: `collect()` with a 30 s budget (so nothing is skipped), one warm-up, then --rounds rounds;
     median and p95 (nearest rank). Target: median ≤ 2 s.
  2. baseline, same run, same client: the --pods pods fetched one by one (`read_namespaced_pod`),
     the way a naive "look at every pod" would; one round.
The ratio is baseline / snapshot median. Nothing here is asserted; machines are shared and noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from common import percentile, print_header, save, verdict
from kubernetes import client

from bot.clients.kube import KubeClient
from bot.clock import FrozenClock
from bot.evidence.model import Targets
from bot.evidence.service import EvidenceCollector
from tests.support.kube_api import (
    KubeApi,
    container,
    container_status,
    controller_revision,
    deployment,
    event,
    kubeconfig,
    node,
    pod,
    replica_set,
    stateful_set,
    terminated,
    waiting,
)

NS = "payments"
NOW = datetime.now(UTC).replace(microsecond=0)
TARGET_S = 2.0


def populate(api: KubeApi, pods: int, events: int) -> None:
    nodes = [f"node-{i}" for i in range(40)]
    api.put(*[node(name, ready="Unknown" if i < 2 else "True", pressures=("MemoryPressure",) if i == 2 else ())
              for i, name in enumerate(nodes)])
    objects = []
    for i in range(pods):
        name, host = f"api-{i // 50}-{i:05d}", nodes[i % len(nodes)]
        kind = i % 80
        if kind == 0:
            status = container_status("api", ready=False, restarts=9, state=waiting("CrashLoopBackOff", "back-off"),
                                      last=terminated("Error", 1))
        elif kind == 1:
            status = container_status("api", restarts=3, last=terminated("OOMKilled", 137))
        elif kind == 2:
            status = container_status("api", ready=False, state=waiting("ImagePullBackOff", "pull failed"))
        else:
            status = container_status("api")
        if kind == 3:
            objects.append(pod(NS, name, host, [container("api")], phase="Failed", reason="Evicted",
                               message="The node was low on resource: memory."))
        else:
            objects.append(pod(NS, name, host, [container("api")], statuses=[status]))
    for i in range(events):
        target = f"api-{(i % 200) // 50}-{i % 200:05d}"
        objects.append(event(NS, "Pod", target, "BackOff" if i % 2 else "Unhealthy",
                             f"probe or back-off #{i % 200}", count=1 + i % 3,
                             first=NOW - timedelta(minutes=29), last=NOW - timedelta(minutes=i % 29),
                             uid=f"ev-{i}"))
    for d in range(60):
        name = f"svc-{d}"
        recent = d < 6
        objects.append(deployment(NS, name, f"registry.example.com/{name}:3", 3))
        for rev in (1, 2, 3):
            created = NOW - (timedelta(minutes=20) if recent and rev == 3 else timedelta(days=10 - rev))
            objects.append(replica_set(NS, name, f"h{rev}", f"registry.example.com/{name}:{rev}", rev, created))
    for s in range(10):
        name = f"db-{s}"
        objects.append(stateful_set(NS, name, "postgres:15.5", current=f"{name}-r2", update=f"{name}-r2"))
        objects += [controller_revision(NS, name, f"r{rev}", f"postgres:15.{3 + rev}", rev,
                                        NOW - timedelta(days=5 - rev)) for rev in (1, 2)]
    api.put(*objects)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=2000)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()

    print_header(f"Kubernetes evidence snapshot: {args.pods} pods, {args.events} events, {args.rounds} rounds")
    with KubeApi() as api, tempfile.TemporaryDirectory(prefix="bench-context-") as tmp:
        populate(api, args.pods, args.events)
        kube = KubeClient(kubeconfig(Path(tmp), api.url), timeout=30)
        collector = EvidenceCollector(kube, FrozenClock(NOW), budget=30)
        targets = Targets(namespaces=(NS,))

        first = collector.collect(targets)  # warm-up: the client's configuration, connections, catalogs
        print(f"   snapshot: {len(first.pods)} unhealthy pods of {first.pods_seen}, {len(first.events)} event kinds "
              f"({sum(e.count for e in first.events)} in all), {len(first.rollouts)} rollouts, "
              f"{len(first.nodes)} nodes in trouble, skipped {len(first.skipped)}")
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            snapshot = collector.collect(targets)
            times.append(time.perf_counter() - started)
            assert not snapshot.partial, snapshot.skipped

        core = client.CoreV1Api(kube._api())  # the same ApiClient (configuration, pool) the snapshot used
        names = [p["metadata"]["name"] for p in api.objects[("pods", NS)]]
        started = time.perf_counter()
        for name in names:
            core.read_namespaced_pod(name, NS, _request_timeout=(3, 30))
        baseline = time.perf_counter() - started

    median, p95 = statistics.median(times), percentile(times, 95)
    print(f"   collect():         median {median:6.3f} s   p95 {p95:6.3f} s   "
          f"(rounds: {', '.join(f'{t:.3f}' for t in times)})")
    print(f"   baseline, {len(names)} x read_namespaced_pod: {baseline:6.3f} s")
    print(f"   baseline / snapshot median: {baseline / median:5.1f}x")
    print(f"   target: median <= {TARGET_S:g} s: {verdict(median <= TARGET_S)}")
    path = save("context", {"pods": args.pods, "events": args.events, "rounds": times, "median_s": median,
                            "p95_s": p95, "baseline_s": baseline})
    print(f"   saved {path.relative_to(Path(__file__).resolve().parents[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
