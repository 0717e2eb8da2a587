"""Three replicas on one PostgreSQL: how long leadership takes to move when the leader is killed (SIGKILL), and
how late the next escalation page is then, against the same page's lateness with no kill in the same run.

    .venv/bin/python bench/replicas.py [--rounds 3] [--sla 5]
    .venv/bin/python bench/replicas.py --postgres postgresql://USER@HOST:PORT/DB   (default: a throwaway cluster)

Three `python -m bot serve` replicas (`LOG_LEVEL=INFO`, each its own work dir) are started together on one fresh
PostgreSQL database, with tests/support/config.py `bot_config()`: 1st line UDRI1, 2nd USENIOR2, 3rd ULEAD3, one
severity `sev1` with `ack_within: --sla`, `repeat_last_tier: 0`, `storm_window: 0s`. The leader is the replica
whose /metrics says `bot_leader 1`; it runs the escalation tick (once a second).

Rounds alternate, so both kinds see the same machine: a baseline round, then a kill round, --rounds times each.
Every round opens one incident (a 🔥💥 message with a unique tag) on a follower, so the leader is idle; its 1st-line
page is sent by that follower. The deadline of the 2nd-line page is the 1st page's arrival + --sla.
  - baseline: nothing else happens; lateness = 2nd-line page arrival - deadline.
  - kill: as soon as the 1st page reaches the recorder, SIGKILL the leader; "new leader" is the time from the
    kill to the first /metrics of a surviving replica saying `bot_leader 1` (each polled every 20 ms); lateness
    as above. The killed replica is then started again (as Kubernetes would) before the next round.
Each round waits for the 3rd-line page and the "nobody acknowledged" post before the next one starts. Arrival
times are the recorder's (bench/common.py `TimedRecorder`, perf_counter). The ratio is the kill rounds' median
lateness to the baseline's median lateness.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import requests
from common import ROOT, TimedRecorder, call_text, is_dm, print_header, ratio, save, table
from page import Databases, post_event

from tests.support.bot_process import BotProcess
from tests.support.config import bot_config
from tests.support.signing import event_body
from tests.support.slack_recorder import Call
from tests.support.threads import together

REPLICAS = 3
POLL = 0.02  # seconds between /metrics reads while waiting for the new leader


def config(sla: float) -> dict[str, Any]:
    return bot_config(incidents={"severities": {"sev1": {"ack_within": f"{sla:g}s"}}, "default_severity": "sev1",
                                 "degraded_severity": "sev1", "repeat_last_tier": 0, "storm_window": "0s"})


def leader_flag(bot: BotProcess) -> float | None:
    """`bot_leader` on one replica; None when it does not answer."""
    try:
        return bot.metric("bot_leader")
    except requests.RequestException:
        return None


def the_leader(bots: list[BotProcess], timeout: float = 30.0) -> int:
    """Index of the one replica that says it leads (waiting until exactly one does)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leading = [i for i, bot in enumerate(bots) if leader_flag(bot) == 1]
        if len(leading) == 1:
            return leading[0]
        time.sleep(POLL)
    raise RuntimeError("no single leader among the replicas")


def page_to(user: str, tag: str) -> Callable[[Call], bool]:
    return lambda c: is_dm(c) and c.params.get("channel") == f"D{user}" and tag in call_text(c)


def exhausted(tag: str) -> Callable[[Call], bool]:
    return lambda c: (c.method == "chat.postMessage" and c.params.get("channel") == "CTEAM"
                      and "acknowledged" in call_text(c) and tag in call_text(c))


def one_round(bots: list[BotProcess], slack: TimedRecorder, number: int, sla: float, kill: bool) -> dict[str, Any]:
    """Open an incident on a follower; with `kill`, SIGKILL the leader after its 1st page; the figures."""
    tag = f"replicas-bench-{number}"
    leader = the_leader(bots)
    follower = bots[(leader + 1) % REPLICAS]
    body = event_body({"type": "message", "channel": "CTEAM", "user": "UALICE", "text": f"api down 🔥💥 {tag}",
                       "ts": f"1700001{number:03d}.000100", "channel_type": "channel"})
    figures: dict[str, Any] = {"round": number, "kill": kill, "tag": tag, "status": post_event(follower.url, body)}
    first = slack.wait_arrival(page_to("UDRI1", tag), 15.0)
    if first is None:
        return {**figures, "missing": "1st-line page"}
    if kill:
        killed = time.perf_counter()
        bots[leader].kill()
        survivors = [bot for i, bot in enumerate(bots) if i != leader]
        moved = None
        while moved is None and time.perf_counter() - killed < 30:
            if any(leader_flag(bot) == 1 for bot in survivors):
                moved = time.perf_counter()
            else:
                time.sleep(POLL)
        figures["new_leader_s"] = None if moved is None else moved - killed
    second = slack.wait_arrival(page_to("USENIOR2", tag), sla + 30)
    figures["late_2nd_s"] = None if second is None else second - first - sla
    if kill:
        figures["restart_s"] = bots[leader].start(timeout=60)
    third = slack.wait_arrival(page_to("ULEAD3", tag), 2 * sla + 30)
    figures["late_3rd_s"] = None if third is None or second is None else third - second - sla
    slack.wait_arrival(exhausted(tag), 3 * sla + 30)  # the chain is over: the next round starts on an idle leader
    time.sleep(0.5)  # a window for a repeated page before counting
    figures["pages"] = {user: len(slack.matching(page_to(user, tag))) for user in ("UDRI1", "USENIOR2", "ULEAD3")}
    return figures


def start_together(bots: list[BotProcess]) -> list[float]:
    """Start every replica at the same moment; seconds from spawn to healthy for each."""
    return together(*(lambda b=bot: b.start(timeout=60) for bot in bots))


def median_max(values: list[float]) -> tuple[str, str, str]:
    if not values:
        return "0", "n/a", "n/a"
    return str(len(values)), f"{statistics.median(values):6.2f} s", f"{max(values):6.2f} s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="kill rounds, and as many baseline rounds (default 3)")
    parser.add_argument("--sla", type=float, default=5.0, help="sev1 ack_within in seconds (default 5)")
    parser.add_argument("--postgres", metavar="URL", default="auto",
                        help="a PostgreSQL server URL (a fresh database is created if the user may), or 'auto' "
                             "(default) for a throwaway local cluster")
    args = parser.parse_args()

    print_header(f"replicas: {REPLICAS} replicas, the leader SIGKILLed after a 1st-line page "
                 f"({args.rounds} kill + {args.rounds} baseline rounds, ack_within {args.sla:g} s)")
    rounds: list[dict[str, Any]] = []
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-replicas-")))
        slack = stack.enter_context(TimedRecorder())
        dbs = Databases(stack, tmp, args.postgres)
        print(f"   database: {dbs.label}")
        url = dbs.fresh("replicas")
        bots = []
        for index in range(REPLICAS):
            (tmp / f"replica{index}").mkdir()
            bots.append(BotProcess(tmp / f"replica{index}", slack.base_url, config(args.sla), database_url=url,
                                   extra_env={"LOG_LEVEL": "INFO"}))
        for bot in bots:
            stack.callback(bot.stop)
        started = start_together(bots)
        print(f"   started together: healthy after {', '.join(f'{s:.2f}' for s in started)} s")
        for number in range(2 * args.rounds):
            kill = number % 2 == 1
            figures = one_round(bots, slack, number, args.sla, kill)
            rounds.append(figures)
            moved = figures.get("new_leader_s")
            late = figures.get("late_2nd_s")
            print(f"   round {number + 1}/{2 * args.rounds} ({'kill' if kill else 'baseline'}): "
                  + (f"new leader {moved:.2f} s, " if moved is not None else "")
                  + (f"2nd line {late:+.2f} s from its deadline" if late is not None else "2nd line missing")
                  + f", pages {figures.get('pages')}", flush=True)

    base = [r["late_2nd_s"] for r in rounds if not r["kill"] and r.get("late_2nd_s") is not None]
    killed = [r["late_2nd_s"] for r in rounds if r["kill"] and r.get("late_2nd_s") is not None]
    moved = [r["new_leader_s"] for r in rounds if r.get("new_leader_s") is not None]
    third_base = [r["late_3rd_s"] for r in rounds if not r["kill"] and r.get("late_3rd_s") is not None]
    third_killed = [r["late_3rd_s"] for r in rounds if r["kill"] and r.get("late_3rd_s") is not None]
    print(f"\n   ack_within {args.sla:g} s; lateness = page arrival - (previous page's arrival + ack_within)")
    print(table([
        ["", "n", "median", "max", "median vs baseline"],
        ["SIGKILL -> another replica reports bot_leader 1", *median_max(moved), ""],
        ["2nd-line page lateness, no kill (baseline)", *median_max(base), ""],
        ["2nd-line page lateness, leader killed after the 1st page", *median_max(killed),
         ratio(statistics.median(killed), statistics.median(base)) if killed and base else "  n/a"],
        ["3rd-line page lateness, no kill", *median_max(third_base), ""],
        ["3rd-line page lateness, after a kill", *median_max(third_killed), ""],
    ]))
    once = all(r.get("pages") == {"UDRI1": 1, "USENIOR2": 1, "ULEAD3": 1} for r in rounds)
    print(f"   every tier paged exactly once in every round: {'yes' if once else 'NO'}")
    path = save("replicas", {"sla_s": args.sla, "database": dbs.label, "started_s": started, "rounds": rounds,
                             "new_leader_s": moved, "late_2nd_baseline_s": base, "late_2nd_kill_s": killed,
                             "paged_once": once})
    print(f"\n   raw figures: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
