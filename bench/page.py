"""From the reaction that completes 🔥+💥 to the on-call page, and a reaction storm on one message.

    .venv/bin/python bench/page.py [--incidents 200] [--isolated 12] [--back-to-back 6]
    .venv/bin/python bench/page.py --postgres postgresql://USER@HOST:PORT/DB   (or --postgres auto)

Every incident is its own message in channel CTEAM (tests/e2e `bot_config()`: 1st line UDRI1; the storm
guard is off, `storm_window: 0s`, since a fresh 🔥💥 in the same channel would otherwise ask "same as #N?"),
its text set with `slack.set_message`. The 🔥 reactions are sent first (untimed); the clock starts
when the completing 💥 event is sent and stops when the page DM (`chat.postMessage` to a `D…`
channel, naming the incident) reaches the Slack recorder. One incident at a time.

Runs, each against a fresh database:
  1. baseline: a bare slack_sdk WebClient `chat.postMessage` round trip to the same recorder.
  2. bot's own work: --incidents incidents back to back, with the bot's per-channel post pacer
     switched off (bench/unpaced_bot.py), so the figure is processing, not deliberate waiting.
  3. as shipped (`python -m bot serve`):
     - isolated: --isolated incidents, each after the channel's pacer has refilled (2.2 s apart),
       i.e. the latency of an incident in a quiet channel;
     - back to back: --back-to-back incidents, each sent as soon as the previous page arrived;
     - storm: 100 🔥/💥 reaction events from 80 users on ONE message within 2 s, 20 of them
       redeliveries (same event_id, X-Slack-Retry-Num), all sent concurrently. Expected: one
       incident (one conversations.create, one confirmation) and one page.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests
from common import (
    ROOT,
    LaunchedBot,
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
from slack_sdk import WebClient

from tests.support.bot_process import BOT_TOKEN, SIGNING_SECRET, BotProcess
from tests.support.config import bot_config
from tests.support.signing import event_body, retry_headers, signed_headers

TARGET_P99 = 0.500
CHANNEL = "CTEAM"
STORM_GUARD_OFF = bot_config(incidents={"storm_window": "0s"})
ONCALL_DM = "DUDRI1"
PAGE_TIMEOUT = 15.0
PACER_REFILL_GAP = 2.2  # two posts in the team channel per incident; the pacer refills one a second


def reaction(user: str, name: str, ts: str) -> dict[str, Any]:
    return {"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
            "item": {"type": "message", "channel": CHANNEL, "ts": ts}, "event_ts": f"{time.time():.6f}"}


def post_event(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    signed = signed_headers(SIGNING_SECRET, body)
    try:
        return requests.post(url + "/slack/events", data=body, headers={**signed, **(headers or {})},
                             timeout=10).status_code
    except requests.RequestException:
        return 0


# --------------------------------------------------------------------------- databases


class Databases:
    """Fresh databases: a SQLite file per bot, or a new database per bot on a PostgreSQL server."""

    def __init__(self, stack: ExitStack, tmp: Path, postgres: str | None) -> None:
        self.tmp = tmp
        self.server_url: str | None = None
        self.created: list[str] = []
        self.label = "SQLite (fresh file per run)"
        if postgres == "auto":
            from tests.support.servers import PostgresServer

            server = stack.enter_context(PostgresServer(tmp / "postgres"))
            self.server_url = server.url
            self.label = "PostgreSQL (throwaway local cluster, fresh database per run)"
        elif postgres:
            from bot.store.db import normalise_url

            self.server_url = normalise_url(postgres)
            self.label = "PostgreSQL (fresh database per run)"
        stack.callback(self.drop_all)

    def fresh(self, name: str) -> str | None:
        """A database URL for a new bot process (None: BotProcess's default SQLite file in its work dir)."""
        if self.server_url is None:
            return None
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.server_url)
        database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        try:
            with psycopg.connect(self._conninfo(url), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{database}"')
        except psycopg.Error as exc:
            print(f"   note: cannot CREATE DATABASE ({type(exc).__name__}); using {url.database} as it is")
            return self.server_url
        self.created.append(database)
        return url.set(database=database).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        if self.server_url is None or not self.created:
            return
        import psycopg
        from sqlalchemy.engine import make_url

        with psycopg.connect(self._conninfo(make_url(self.server_url)), autocommit=True) as conn:
            for database in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    @staticmethod
    def _conninfo(url: Any) -> str:
        parts = {"host": url.host, "port": url.port, "user": url.username, "password": url.password,
                 "dbname": url.database or "postgres"}
        return " ".join(f"{key}={value}" for key, value in parts.items() if value is not None)


# --------------------------------------------------------------------------- incidents


class Incidents:
    """Messages in CTEAM with a unique tag each, pre-reacted with 🔥, waiting for their 💥."""

    def __init__(self, slack: TimedRecorder, prefix: str) -> None:
        self.slack = slack
        self.prefix = prefix
        self.base = int(time.time())  # message timestamps unique across runs (a reused database)
        self.count = 0
        self.sent_at: dict[str, float] = {}  # tag -> when its 💥 was sent (perf_counter)

    def prepare(self, url: str, n: int) -> list[tuple[str, str]]:
        """n messages with a 🔥 each from UALICE; returns (ts, tag) pairs."""
        prepared = []
        for _ in range(n):
            self.count += 1
            tag = f"{self.prefix}{self.count:04d}"
            ts = f"{self.base}.{self.count:06d}"
            self.slack.set_message(CHANNEL, ts, text=f"{tag} checkout returns 502 after the deploy",
                                   user="UAUTHOR")
            prepared.append((ts, tag))
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = list(pool.map(lambda item: post_event(url, event_body(reaction("UALICE", "fire",
                                                                                        item[0]))), prepared))
        if any(s != 200 for s in statuses):
            raise RuntimeError(f"🔥 events not acked: {statuses}")
        time.sleep(0.5)  # let the listeners record the 🔥 before any 💥 arrives
        return prepared

    def settle(self, quiet: float = 0.05, limit: float = 1.0) -> None:
        """Wait until the recorder saw no call for `quiet` seconds (the incident's work after its page)."""
        deadline = time.perf_counter() + limit
        while time.perf_counter() < deadline:
            if time.perf_counter() - self.slack.last_arrival() >= quiet:
                return
            time.sleep(quiet / 2)

    def page(self, url: str, ts: str, tag: str) -> float | None:
        """Send the completing 💥; seconds until the page DM naming `tag` reached the recorder."""
        started = self.sent_at[tag] = time.perf_counter()
        status = post_event(url, event_body(reaction("UBOB", "boom", ts)))
        if status != 200:
            return None
        arrived = self.slack.wait_arrival(lambda c: is_dm(c) and tag in call_text(c), PAGE_TIMEOUT)
        return None if arrived is None else arrived - started


def run_incidents(url: str, incidents: Incidents, n: int, gap: float = 0.0,
                  settle: bool = True) -> dict[str, float | None]:
    """n incidents one at a time; the page latency by tag, None where no page came.

    Each next 💥 goes `gap` seconds after the previous one if given, else once the previous
    incident's Slack calls have stopped (settle) or right when its page arrived (settle=False)."""
    prepared = incidents.prepare(url, n)
    if gap:
        time.sleep(gap)
    latencies: dict[str, float | None] = {}
    for ts, tag in prepared:
        started = time.perf_counter()
        latencies[tag] = incidents.page(url, ts, tag)
        if gap:
            time.sleep(max(0.0, gap - (time.perf_counter() - started)))
        elif settle:
            incidents.settle()
    return latencies


def found(latencies: dict[str, float | None]) -> list[float]:
    return [v for v in latencies.values() if v is not None]


def missing(latencies: dict[str, float | None]) -> int:
    return sum(1 for v in latencies.values() if v is None)


def call_sequence(slack: TimedRecorder, tag: str, sent_at: float) -> list[tuple[float, str]]:
    """The Slack calls between sending incident `tag`'s 💥 and its page: (ms after sending, method)."""
    calls = [(stamp, call) for stamp, call in slack.matching(lambda c: True) if stamp >= sent_at]
    page_at = next((s for s, c in calls if is_dm(c) and tag in call_text(c)), None)
    if page_at is None:
        return []
    return [((s - sent_at) * 1000, c.method + (f" {c.params.get('channel')}" if c.params.get("channel") else ""))
            for s, c in calls if s <= page_at]


# --------------------------------------------------------------------------- the storm


def storm(url: str, slack: TimedRecorder, bot: BotProcess) -> dict[str, Any]:
    rng = random.Random(20261123)
    ts = f"{int(time.time())}.999999"
    slack.set_message(CHANNEL, ts, text="storm0001 payments API is down for everyone", user="UAUTHOR")
    originals = []
    for k in range(80):
        event = reaction(f"USTORM{k:03d}", rng.choice(["fire", "boom", "collision"]), ts)
        body = event_body(event, event_id=f"EvSTORM{uuid.uuid4().hex[:10].upper()}")
        originals.append((rng.uniform(0, 1.6), body, {}))
    redeliveries = [(offset + rng.uniform(0.05, 0.4), body, retry_headers(rng.choice([1, 1, 2])))
                    for offset, body, _ in rng.sample(originals, 20)]
    plan = sorted(originals + redeliveries, key=lambda item: item[0])
    duplicates_before = bot.metric("bot_duplicate_events_total")
    barrier = threading.Barrier(len(plan))

    def send(item: tuple[float, bytes, dict[str, str]]) -> tuple[float, float, int]:
        offset, body, headers = item
        barrier.wait()
        release = time.perf_counter()
        time.sleep(offset)
        started = time.perf_counter()
        status = post_event(url, body, headers)
        return started - release, time.perf_counter() - started, status

    slack.forget_arrivals()
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        results = list(pool.map(send, plan))
    sent_within = max(r[0] for r in results)
    # Wait until the bot has been quiet for 3 s (paced posts of a second incident would show by then).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if time.perf_counter() - slack.last_arrival(began) > 3.0:
            break
        time.sleep(0.2)
    calls = [c for s, c in slack.matching(lambda c: True) if s >= began]
    confirmations = [c for c in calls if c.method == "chat.postMessage" and c.params.get("channel") == CHANNEL
                     and "incident_undo" in call_text(c)]
    pages = [c for c in calls if is_dm(c)]
    first_page = slack.wait_arrival(is_dm, 0)
    return {
        "events": len(plan), "redeliveries": len(redeliveries), "distinct_users": 80,
        "sent_within_s": sent_within, "non_200": sum(1 for r in results if r[2] != 200),
        "ack_p99_s": summary([r[1] for r in results])["p99"],
        "conversations_create": sum(1 for c in calls if c.method == "conversations.create"),
        "confirmations": len({c.response.get("ts") for c in confirmations}),
        "pages": len(pages),
        "first_page_after_s": None if first_page is None else first_page - began,
        "duplicates_dropped": bot.metric("bot_duplicate_events_total") - duplicates_before,
    }


# --------------------------------------------------------------------------- baseline


def baseline(slack: TimedRecorder, n: int) -> dict[str, list[float]]:
    client = WebClient(token=BOT_TOKEN, base_url=slack.base_url)
    round_trips, one_way = [], []
    for i in range(n + 20):
        started = time.perf_counter()
        client.chat_postMessage(channel=ONCALL_DM, text=f"baseline {i}")
        finished = time.perf_counter()
        arrived = slack.wait_arrival(lambda c, i=i: c.params.get("text") == f"baseline {i}", 5)
        if i >= 20:  # the first 20 are warm-up
            round_trips.append(finished - started)
            one_way.append((arrived or finished) - started)
    return {"round_trip": round_trips, "one_way": one_way}


# --------------------------------------------------------------------------- main


@contextmanager
def running(bot: BotProcess) -> Iterator[BotProcess]:
    bot.start(timeout=60)
    try:
        yield bot
    finally:
        bot.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--incidents", type=int, default=200,
                        help="incidents for the bot's-own-work run, pacer off (default 200)")
    parser.add_argument("--isolated", type=int, default=12,
                        help="as-shipped incidents in a quiet channel, 2.2 s apart (default 12)")
    parser.add_argument("--back-to-back", type=int, default=6,
                        help="as-shipped incidents one right after the other's page (default 6)")
    parser.add_argument("--postgres", metavar="URL",
                        help="run against PostgreSQL: a server URL (a fresh database is created per run "
                             "if the user may), or 'auto' for a throwaway local cluster")
    parser.add_argument("--no-storm", action="store_true", help="skip the storm")
    args = parser.parse_args()

    print_header(f"page latency: completing reaction -> page DM at the recorder ({args.incidents} incidents)")
    env = {"LOG_LEVEL": "INFO"}
    figures: dict[str, Any] = {}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-page-")))
        slack = stack.enter_context(TimedRecorder())
        dbs = Databases(stack, tmp, args.postgres)
        print(f"   database: {dbs.label}")

        base = baseline(slack, args.incidents)

        # 2. The bot's own work: pacer off, incidents back to back.
        (tmp / "unpaced").mkdir()
        unpaced_bot = LaunchedBot([str(ROOT / "bench" / "unpaced_bot.py")], tmp / "unpaced", slack.base_url,
                                  STORM_GUARD_OFF, database_url=dbs.fresh("unpaced"), extra_env=env)
        with running(unpaced_bot) as bot:
            incidents = Incidents(slack, "unpaced")
            run_incidents(bot.url, incidents, 5)  # warm-up
            unpaced = run_incidents(bot.url, incidents, args.incidents)
        ranked = sorted((v, tag) for tag, v in unpaced.items() if v is not None)
        median_tag = ranked[len(ranked) // 2][1] if ranked else ""
        sequence = call_sequence(slack, median_tag, incidents.sent_at[median_tag]) if ranked else []

        # 3. As shipped.
        (tmp / "shipped").mkdir()
        shipped_bot = BotProcess(tmp / "shipped", slack.base_url, STORM_GUARD_OFF,
                                 database_url=dbs.fresh("shipped"), extra_env=env)
        with running(shipped_bot) as bot:
            incidents = Incidents(slack, "shipped")
            run_incidents(bot.url, incidents, 3)  # warm-up
            isolated = run_incidents(bot.url, incidents, args.isolated, gap=PACER_REFILL_GAP)
            time.sleep(PACER_REFILL_GAP)
            back = run_incidents(bot.url, incidents, args.back_to_back, settle=False)
            time.sleep(PACER_REFILL_GAP)
            storm_figures = None if args.no_storm else storm(bot.url, slack, bot)

    rt, ow = summary(base["round_trip"]), summary(base["one_way"])
    un, iso, b2b = summary(found(unpaced)), summary(found(isolated)), summary(found(back))
    unpaced_missing, isolated_missing, back_missing = missing(unpaced), missing(isolated), missing(back)
    print("\n   latency, 💥 event sent -> page DM reaches the recorder (one incident at a time, after warm-up)")
    rows = [["", "n", "p50", "p99", "max", "p50 vs baseline", "pages missing"],
            ["baseline: WebClient chat.postMessage round trip", str(rt["n"]), ms(rt["p50"]), ms(rt["p99"]),
             ms(rt["max"]), "", ""],
            ["bot's own work (pacer off)", str(un["n"]), ms(un["p50"]), ms(un["p99"]), ms(un["max"]),
             ratio(un["p50"], rt["p50"]), str(unpaced_missing)],
            ["as shipped, quiet channel (2.2 s apart)", str(iso["n"]), ms(iso["p50"]), ms(iso["p99"]),
             ms(iso["max"]), ratio(iso["p50"], rt["p50"]), str(isolated_missing)],
            ["as shipped, back to back in one channel", str(b2b["n"]), ms(b2b["p50"]), ms(b2b["p99"]),
             ms(b2b["max"]), ratio(b2b["p50"], rt["p50"]), str(back_missing)]]
    print(table(rows))
    print(f"   (baseline one way, call -> recorder: p50 {ow['p50'] * 1000:.1f} ms, p99 {ow['p99'] * 1000:.1f} ms)")
    print(f"   target p99 <= {TARGET_P99 * 1000:.0f} ms: bot's own work {verdict(un['p99'] <= TARGET_P99)} "
          f"({un['p99'] * 1000:.0f} ms over {un['n']}); quiet channel {verdict(iso['p99'] <= TARGET_P99)} "
          f"({iso['p99'] * 1000:.0f} ms); back to back {verdict(b2b['p99'] <= TARGET_P99)} "
          f"({b2b['p99'] * 1000:.0f} ms)")
    if sequence:
        print("   Slack calls of the median incident (pacer off), ms after its 💥 event was sent:")
        print("     " + ", ".join(f"{method} +{at:.0f}" for at, method in sequence))
    figures.update(baseline_round_trip=rt, baseline_one_way=ow, unpaced=un, isolated=iso, back_to_back=b2b,
                   missing={"unpaced": unpaced_missing, "isolated": isolated_missing, "back_to_back": back_missing},
                   database=dbs.label, median_sequence=sequence)

    if storm_figures:
        s = storm_figures
        ok = s["conversations_create"] == 1 and s["confirmations"] == 1 and s["pages"] == 1
        print(f"\n   storm: {s['events']} reaction events on one message from {s['distinct_users']} users, "
              f"{s['redeliveries']} of them redeliveries, sent within {s['sent_within_s']:.2f} s")
        print(table([
            ["incidents opened (conversations.create)", str(s["conversations_create"]), "expected 1"],
            ["incident confirmations in the channel", str(s["confirmations"]), "expected 1"],
            ["pages sent (DMs)", str(s["pages"]), "expected 1"],
            ["redeliveries dropped (bot_duplicate_events_total)", f"{s['duplicates_dropped']:.0f}",
             f"expected {s['redeliveries']}"],
            ["non-200 answers", str(s["non_200"]), "expected 0"],
            ["ack p99 during the storm", ms(s["ack_p99_s"]).strip(), ""],
            ["first page after the storm began",
             "-" if s["first_page_after_s"] is None else f"{s['first_page_after_s'] * 1000:.0f} ms", ""],
        ]))
        print(f"   storm: {verdict(ok)} (exactly one incident and one page)")
        figures["storm"] = s

    path = save("page", figures)
    print(f"\n   raw figures: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
