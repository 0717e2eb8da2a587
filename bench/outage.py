"""An incident opened while Slack is down: how soon after Slack's return the 1st line is paged, and only once.

    .venv/bin/python bench/outage.py [--baseline 8] [--incidents 6] [--outage 6]
    .venv/bin/python bench/outage.py --postgres postgresql://USER@HOST:PORT/DB   (or --postgres auto)

One bot as shipped (`python -m bot serve`, tests/support/config.py `bot_config()` with `storm_window: 0s`:
1st line UDRI1, 2nd USENIOR2, 3rd ULEAD3; `LOG_LEVEL=INFO`) on a fresh database, SQLite by default. Every incident is
its own message in CTEAM with a unique tag in its text (`slack.set_message`), 🔥 from UALICE (untimed), then
the completing 💥 from UBOB. A page is a `chat.postMessage` to DUDRI1 naming the tag that Slack answered
with 200; its time is when it reached the recorder (bench/common.py `TimedRecorder`, which stamps only
the calls it answers, never the outage's 503s).

  1. baseline, Slack up: --baseline incidents 2.5 s apart (the per-channel pacer refills), after two
     warm-up incidents; 💥 event sent -> page DM.
  2. Slack down: --incidents incidents one at a time. Each starts
     `slack.outage(("conversations.open", "chat.postMessage"), --outage)` (both answer an HTML 503
     page, as Slack's edge does), sends its 🔥 and 0.5 s later its 💥, and measures
       - after return: page DM arrival - the outage's end;
       - total: page DM arrival - 💥 sent.
     3 s after the page it counts the incident's delivered pages to DUDRI1 (expected 1) and every DM to
     the other tiers, DUSENIOR2 / DULEAD3, tried or delivered (expected 0: no tier burnt through), and
     the growth of `bot_retries_total{backend="page"}` (the page's re-attempts).

The bot retries an undeliverable page with jittered exponential backoff capped at
`incidents.page_retry_max` (10 s as shipped), so the expectation is a page within that cap (+ 1 s for
the leader's once-a-second escalation tick) of Slack's return. No page within --outage + 20 s of the 💥
counts as missing. The ratio is "after return" p50 to the same-run baseline p50.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from common import (
    ROOT,
    TimedRecorder,
    call_text,
    is_dm,
    ms,
    print_header,
    ratio,
    save,
    summary,
    table,
    verdict,
)
from page import ONCALL_DM, Databases, Incidents, found, missing, post_event, reaction, run_incidents, running

from bot.settings import IncidentConfig
from tests.support.bot_process import BotProcess
from tests.support.config import bot_config
from tests.support.signing import event_body
from tests.support.slack_recorder import Call

SLACK_DOWN = ("conversations.open", "chat.postMessage")
STORM_GUARD_OFF = bot_config(incidents={"storm_window": "0s"})
ONCALL = "UDRI1"
OTHER_TIERS = ("USENIOR2", "ULEAD3")
OTHER_DMS = tuple(f"D{user}" for user in OTHER_TIERS)
GAP = 2.5  # between baseline incidents: the per-channel pacer refills one post a second
AFTER_PAGE = 3.0  # watch this long after a page for a second page or another tier's
MISSING_AFTER = 20.0  # no page within --outage + this of the 💥: missing
PAGE_RETRIES = 'bot_retries_total{backend="page"}'
PAGE_RETRY_MAX = IncidentConfig.model_fields["page_retry_max"].default.total_seconds()  # shipped default
TICK = 1.0  # the leader works due escalation steps once a second


def is_page(tag: str) -> Callable[[Call], bool]:
    """The page DM to the 1st line naming incident `tag`."""
    return lambda c: is_dm(c) and c.params.get("channel") == ONCALL_DM and tag in call_text(c)


def outage_incident(bot: BotProcess, slack: TimedRecorder, incidents: Incidents, outage: float) -> dict[str, Any]:
    """One incident opened during a Slack outage of `outage` seconds; its figures (None where no page came)."""
    retries_before = bot.metric(PAGE_RETRIES)
    wall_start = time.time()
    began = time.perf_counter()
    slack.outage(SLACK_DOWN, outage)
    back = began + outage  # perf_counter time of Slack's return
    ts, tag = incidents.prepare(bot.url, 1)[0]  # 🔥 during the outage, untimed (0.5 s for it to be recorded)
    sent = incidents.sent_at[tag] = time.perf_counter()
    status = post_event(bot.url, event_body(reaction("UBOB", "boom", ts)))
    arrived = None
    if status == 200:
        arrived = slack.wait_arrival(is_page(tag), max(0.0, sent + outage + MISSING_AFTER - time.perf_counter()))
    if arrived is not None:
        time.sleep(max(0.0, arrived + AFTER_PAGE - time.perf_counter()))
    calls = [c for c in slack.calls() if c.received_at >= wall_start]
    pages = [c for c in calls if c.method == "chat.postMessage" and is_page(tag)(c)]
    delivered = [c for c in pages if c.status == 200 and c.response.get("ok")]
    refused = [c for c in pages if c.status >= 500] + [
        c for c in calls if c.method == "conversations.open" and c.params.get("users") == ONCALL and c.status >= 500]
    others_tried = [c for c in calls if (c.method == "chat.postMessage" and c.params.get("channel") in OTHER_DMS)
                    or (c.method == "conversations.open" and c.params.get("users") in OTHER_TIERS)]
    others_delivered = [c for c in others_tried if c.method == "chat.postMessage" and c.status == 200]
    incidents.settle(quiet=0.5, limit=3.0)  # the late confirmation and notes in CTEAM, before the next outage
    return {
        "tag": tag, "event_status": status,
        "after_return_s": None if arrived is None else arrived - back,
        "total_s": None if arrived is None else arrived - sent,
        "pages_delivered": len(delivered), "page_calls_refused": len(refused),
        "other_tiers_tried": len(others_tried), "other_tiers_delivered": len(others_delivered),
        "reattempts": bot.metric(PAGE_RETRIES) - retries_before,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=int, default=8,
                        help="incidents with Slack up, 2.5 s apart (default 8)")
    parser.add_argument("--incidents", type=int, default=6,
                        help="incidents each opened during its own Slack outage (default 6)")
    parser.add_argument("--outage", type=float, default=6.0,
                        help="seconds conversations.open and chat.postMessage answer HTML 503 (default 6)")
    parser.add_argument("--postgres", metavar="URL",
                        help="run against PostgreSQL: a server URL (a fresh database is created if the user "
                             "may), or 'auto' for a throwaway local cluster")
    args = parser.parse_args()

    print_header(f"outage: incident opened while Slack is down -> 1st-line page after Slack's return "
                 f"({args.incidents} x {args.outage:g} s)")
    figures: dict[str, Any] = {"outage_s": args.outage, "page_retry_max_s": PAGE_RETRY_MAX}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-outage-")))
        slack = stack.enter_context(TimedRecorder())
        dbs = Databases(stack, tmp, args.postgres)
        print(f"   database: {dbs.label}")
        print(f"   Slack down: {' + '.join(SLACK_DOWN)} answer an HTML 503 page for {args.outage:g} s, "
              "starting just before each incident's 🔥💥")
        shipped = BotProcess(tmp, slack.base_url, STORM_GUARD_OFF, database_url=dbs.fresh("outage"),
                             extra_env={"LOG_LEVEL": "INFO"})
        with running(shipped) as bot:
            incidents = Incidents(slack, "outage")
            run_incidents(bot.url, incidents, 2)  # warm-up
            time.sleep(GAP)
            base = run_incidents(bot.url, incidents, args.baseline, gap=GAP)
            time.sleep(GAP)
            runs = []
            for k in range(args.incidents):
                run = outage_incident(bot, slack, incidents, args.outage)
                runs.append(run)
                after = run["after_return_s"]
                print(f"   outage {k + 1}/{args.incidents}: "
                      + ("no page (missing)" if after is None else f"page {after:.2f} s after Slack's return")
                      + f", {run['pages_delivered']} page(s), {run['reattempts']:.0f} re-attempt(s)", flush=True)

    b = summary(found(base))
    after_return = [r["after_return_s"] for r in runs if r["after_return_s"] is not None]
    totals = [r["total_s"] for r in runs if r["total_s"] is not None]
    a, t = summary(after_return), summary(totals)
    lost = sum(1 for r in runs if r["after_return_s"] is None)
    print(f"\n   latency to the page DM at the recorder (one incident at a time; Slack down {args.outage:g} s)")
    print(table([
        ["", "n", "p50", "p99", "max", "p50 vs baseline", "pages missing"],
        ["baseline, Slack up: 💥 sent -> page", str(b["n"]), ms(b["p50"]), ms(b["p99"]), ms(b["max"]), "",
         str(missing(base))],
        ["Slack down: 💥 sent -> page (total)", str(t["n"]), ms(t["p50"]), ms(t["p99"]), ms(t["max"]),
         ratio(t["p50"], b["p50"]), str(lost)],
        ["Slack down: Slack's return -> page", str(a["n"]), ms(a["p50"]), ms(a["p99"]), ms(a["max"]),
         ratio(a["p50"], b["p50"]), str(lost)],
    ]))
    limit = PAGE_RETRY_MAX + TICK
    in_time = lost == 0 and bool(after_return) and a["max"] <= limit
    print(f"   page_retry_max (the retry cap, shipped default): {PAGE_RETRY_MAX:g} s")
    print(f"   page within page_retry_max + 1 s of Slack's return: {verdict(in_time)} "
          f"(max {a['max']:.2f} s over {a['n']}, {lost} missing, limit {limit:g} s)")

    pages = [r["pages_delivered"] for r in runs]
    tried = sum(r["other_tiers_tried"] for r in runs)
    others = sum(r["other_tiers_delivered"] for r in runs)
    reattempts = [r["reattempts"] for r in runs]
    refused = [r["page_calls_refused"] for r in runs]
    print(f"\n   per incident opened during the outage ({AFTER_PAGE:g} s after its page)")
    print(table([
        ["pages delivered to DUDRI1", " ".join(map(str, pages)), "expected 1 each"],
        [f"other tiers paged ({' / '.join(OTHER_DMS)}), delivered / tried", f"{others} / {tried}", "expected 0 / 0"],
        ["page re-attempts (bot_retries_total{backend=\"page\"})", " ".join(f"{x:.0f}" for x in reattempts),
         f"mean {sum(reattempts) / max(1, len(reattempts)):.1f}"],
        ["page calls Slack answered 503 (conversations.open + DM)", " ".join(map(str, refused)), ""],
    ]))
    once = all(p == 1 for p in pages) and tried == 0
    print(f"   paged exactly once, no other tier: {verdict(once)}")
    print(f"   'after return' p50 vs baseline p50: {ratio(a['p50'], b['p50']).strip()}")

    figures.update(database=dbs.label, baseline=b, baseline_raw_s=found(base), baseline_missing=missing(base),
                   after_return=a, total=t, missing=lost, runs=runs, page_within_cap=in_time, paged_once=once,
                   ratio_after_return_p50_to_baseline_p50=a["p50"] / b["p50"] if b["p50"] > 0 else None)
    path = save("outage", figures)
    print(f"\n   raw figures: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
