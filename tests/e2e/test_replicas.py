"""Three `python -m bot serve` replicas on one PostgreSQL, started at the same moment behind a round-robin
proxy, behave as one bot: what Slack shows is what one bot would have done.

One set of replicas serves the whole test, because the nightly shutdown runs on the scheduler's 30 s tick and
everything else fits in the minute that takes; each invariant is its own helper with its own assertions:

- the leader is killed (SIGKILL) right after an incident's 1st-line page: the 2nd and 3rd lines are still
  paged on time and once, and leadership moves to another replica (the time it took is printed);
- one incident, one confirmation and one page per tier per 🔥💥 message, however the events reach the
  replicas: distinct messages through the proxy, one event delivered to all three replicas at once (Slack
  redelivering), the 🔥 and 💥 reactions of one message arriving on different replicas, in turn and together;
- one Slack message (and thread) per alert group, fired through a real Alertmanager whose webhook goes through
  the proxy, with its first answers lost on the way back (Alertmanager retries on another replica) and its
  repeats spread over the replicas;
- exactly one replica reports `bot_leader 1` at any time (sampled from each replica's /metrics all along),
  and the nightly shutdown warns once and stops each instance once.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
import requests

from tests.support.aws_proxy import AwsProxy
from tests.support.aws_seed import instance
from tests.support.bot_process import SIGNING_SECRET, BotProcess
from tests.support.config import bot_config, team
from tests.support.round_robin import RoundRobinProxy
from tests.support.servers import AlertmanagerServer, alertmanager_config_for
from tests.support.signing import event_body, interactivity_body, retry_headers, signed_headers
from tests.support.slack_recorder import Call, SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.threads import together
from tests.support.waiting import wait_until

REPLICAS = 3
SLA = 6  # seconds: sev1's ack_within, so the 2nd and 3rd lines are paged within the test
ON_TIME = 3.0  # a page counts as on time within this of its deadline (1 s escalation tick + the DM pacer)
HANDOVER_BOUND = 15.0  # generous: the lock is polled every 2 s
TIERS = ("UDRI1", "USENIOR2", "ULEAD3")
SHUTDOWN_ZONE = ZoneInfo("Asia/Kathmandu")  # UTC+05:45: the shutdown time is read in the team's own zone
SHUTDOWN_TICK = 30.0  # bot.jobs.SHUTDOWN_TICK
STARTED_WITHIN = (2.0, 11.0)  # seconds from spawn to the first election (a poll and bot.scheduler.SETTLE included)
SETUP = 1.0  # seconds from choosing the shutdown minute to spawning (writing the replicas' configs)
NUMBER = re.compile(r"[Ii]ncident #(\d+)")


# Slack as people see it ------------------------------------------------------------------------------------------
def incident_number(call: Call) -> int | None:
    found = NUMBER.search(slack_text(call))
    return int(found.group(1)) if found else None


def pages_to(slack: SlackRecorder, user: str) -> dict[int, list[Call]]:
    """The page DMs Slack accepted for `user`, by incident number."""
    found: dict[int, list[Call]] = {}
    for call in slack.calls("chat.postMessage", f"D{user}"):
        number = incident_number(call)
        if call.status == 200 and number is not None and "You are on call" in slack_text(call):
            found.setdefault(number, []).append(call)
    return found


def confirmations(slack: SlackRecorder) -> dict[int, list[Call]]:
    """The "Incident #N opened" confirmations in the team channel, by incident number."""
    found: dict[int, list[Call]] = {}
    for call in slack.calls("chat.postMessage", "CTEAM"):
        number = incident_number(call)
        if call.status == 200 and number is not None and f"Incident #{number} opened" in slack_text(call):
            found.setdefault(number, []).append(call)
    return found


def top_level(slack: SlackRecorder, channel: str, word: str) -> list[Call]:
    return [c for c in slack.calls("chat.postMessage", channel)
            if c.status == 200 and not c.params.get("thread_ts") and word in slack_text(c)]


def message(ts: str, text: str, user: str = "UALICE") -> dict[str, Any]:
    return {"type": "message", "channel": "CTEAM", "user": user, "text": text, "ts": ts, "channel_type": "channel"}


def reaction(user: str, name: str, ts: str) -> dict[str, Any]:
    return {"type": "reaction_added", "user": user, "reaction": name, "item_user": "UAUTHOR",
            "item": {"type": "message", "channel": "CTEAM", "ts": ts}, "event_ts": f"{time.time():.6f}"}


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    """A signed POST to /slack/events at `url` (a replica, or the proxy); its HTTP status."""
    signed = signed_headers(SIGNING_SECRET, body)
    return requests.post(url + "/slack/events", data=body, headers={**signed, **(headers or {})},
                         timeout=10).status_code


# Who leads -------------------------------------------------------------------------------------------------------
def leader_flag(bot: BotProcess) -> float | None:
    """`bot_leader` from the replica's /metrics; None when it does not answer (killed)."""
    try:
        return bot.metric("bot_leader")
    except requests.RequestException:
        return None


@dataclass
class LeaderWatch:
    """Samples `bot_leader` on every replica all along: (monotonic start, end, each replica's flag or None)."""

    bots: list[BotProcess]
    samples: list[tuple[float, float, tuple[float | None, ...]]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sample, name="leader-watch", daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            began = time.monotonic()
            flags = tuple(leader_flag(bot) for bot in self.bots)
            self.samples.append((began, time.monotonic(), flags))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def leaders(self) -> list[int]:
        """The replicas that say they lead, right now."""
        return [i for i, bot in enumerate(self.bots) if leader_flag(bot) == 1]


# The replicas and what stands around them ----------------------------------------------------------------------------
@dataclass
class Cluster:
    bots: list[BotProcess]
    proxy: RoundRobinProxy
    manager: AlertmanagerServer
    watch: LeaderWatch
    shutdown_at: datetime  # when tonight's shutdown acts (UTC)
    instances: dict[str, str]  # role → EC2 instance id


def shutdown_moment(earliest: datetime) -> tuple[datetime, datetime]:
    """(when to spawn the replicas, not before `earliest`; the minute the shutdown acts) such that the shutdown
    tick, which runs 30 s after the first election and every 30 s after that, warns once before that minute and
    runs once after it, for a first election within STARTED_WITHIN of the spawn (shutdown_at is whole minutes)."""
    fastest, slowest = STARTED_WITHIN
    margin = 2.0
    # spawned s seconds past a minute, the shutdown acts at the next minute, 60 - s ahead: the first tick
    # (s + e + 30) must come before it and the second (s + e + 60) after it, for every election delay e
    window = (margin - fastest, 60 - slowest - SHUTDOWN_TICK - margin)
    minute = earliest.replace(second=0, microsecond=0)
    second = (earliest - minute).total_seconds()
    if second < window[0]:
        spawn = minute + timedelta(seconds=window[0])
    elif second <= window[1]:
        spawn = earliest
    else:
        spawn = minute + timedelta(minutes=1, seconds=window[0])
    return spawn, spawn.replace(second=0, microsecond=0) + timedelta(minutes=1)


def config(shutdown_at: datetime) -> dict[str, Any]:
    local = shutdown_at.astimezone(SHUTDOWN_ZONE)
    digest_at = shutdown_at.astimezone(ZoneInfo("Asia/Shanghai"))  # the team's digest, due in the same minute
    return bot_config(
        teams=[team(namespaces=["payments"], digest=f"{digest_at.minute} {digest_at.hour} * * *"),
               team("ml", "CML", timezone=str(SHUTDOWN_ZONE), cost_tag="ml", shutdown_at=f"{local:%H:%M}")],
        incidents={"severities": {"sev1": {"ack_within": f"{SLA}s"}}, "default_severity": "sev1",
                   "degraded_severity": "sev1", "repeat_last_tier": 0, "storm_window": "0s"},
        cost_guards={"shutdown": {"enabled": True, "warn_before": "30m"}})


@pytest.fixture
def cluster(tmp_path: Path, pg_url: str, slack: SlackRecorder, aws: AwsProxy) -> Iterator[Cluster]:
    instances = {"train": instance(aws.ec2, "g5.xlarge", {"team": "ml", "owner": "wei"}),
                 "eval": instance(aws.ec2, "g5.xlarge", {"team": "ml", "owner": "lena"}),
                 "tagged": instance(aws.ec2, "g5.xlarge", {"team": "ml", "keep-running": "true"}),
                 "other": instance(aws.ec2, "g5.xlarge", {"team": "search"})}
    proxy = RoundRobinProxy().start()  # its replicas come below, once the shutdown minute is chosen
    manager = AlertmanagerServer(tmp_path / "am", alertmanager_config_for(
        proxy.url + "/alertmanager", group_interval="1s", repeat_interval="2s"))
    bots: list[BotProcess] = []
    watch = LeaderWatch(bots)
    try:
        manager.start()
        spawn_at, shutdown_at = shutdown_moment(datetime.now(UTC) + timedelta(seconds=SETUP))
        for index in range(REPLICAS):  # each its own bot.yaml and logs
            (tmp_path / f"replica{index}").mkdir()
            bots.append(BotProcess(tmp_path / f"replica{index}", slack.base_url, config(shutdown_at),
                                   database_url=pg_url, extra_env=aws.aws_env()))
        proxy.set_backends([bot.url for bot in bots])
        # the shutdown acts on a whole minute: spawn where the scheduler's 30 s ticks fall either side of it
        time.sleep(max(0.0, (spawn_at - datetime.now(UTC)).total_seconds()))
        late = (datetime.now(UTC) - spawn_at).total_seconds()
        assert late < 1, f"writing the configs took {SETUP + late:.1f}s, more than the shutdown timing allows for"
        failures = together(*(lambda b=bot: _started(b) for bot in bots))
        assert failures == [0] * REPLICAS, "every replica, started at the same moment, comes up"
        watch.start()
        yield Cluster(bots, proxy, manager, watch, shutdown_at, instances)
    finally:
        watch.stop()
        if bots:
            together(*(lambda b=bot: _stopped(b) for bot in bots))
        manager.stop()
        proxy.stop()


def _started(bot: BotProcess) -> int:
    """Start a replica and wait for /healthz: 0, or 1 with what went wrong printed (the test then fails)."""
    try:
        bot.start(timeout=60)
        return 0
    except Exception as exc:  # every replica gets its chance; the fixture then fails saying which did not
        print(f"replica on {bot.url} did not come up: {exc}")
        return 1


def _stopped(bot: BotProcess) -> int:
    bot.stop()
    return 0


# The test ----------------------------------------------------------------------------------------------------------
def test_three_replicas_started_together_behave_as_one_bot(cluster: Cluster, slack: SlackRecorder,
                                                           aws: AwsProxy) -> None:
    bots, watch = cluster.bots, cluster.watch
    assert all(bot.get("/healthz").status_code == 200 for bot in bots)  # all three migrated and came up
    [first_leader] = wait_until(lambda: watch.leaders() if len(watch.leaders()) == 1 else [], timeout=10,
                                message="exactly one replica to report bot_leader 1")
    elected = time.monotonic()

    killed_at, moved_at = kill_the_leader_after_a_first_page(cluster, slack, first_leader)
    opened = open_incidents_every_way(cluster, slack)
    first_incident_escalated_on_time(slack)
    alert_groups = fire_alerts_through_alertmanager(cluster, slack)
    wait_for_the_shutdown(cluster, slack, aws)
    one_digest_for_the_slot(slack)

    everything_paged_once(slack, incidents=1 + opened)
    one_post_per_alert_group(slack, alert_groups)
    one_leader_at_any_time(watch, elected, killed_at, moved_at)


def kill_the_leader_after_a_first_page(cluster: Cluster, slack: SlackRecorder, leader: int) -> tuple[float, float]:
    """Incident #1 through a follower; SIGKILL the leader once #1's 1st line is paged; another replica leads
    within the bound; the killed one is started again (as Kubernetes would) and comes back as a follower."""
    bots = cluster.bots
    follower = bots[(leader + 1) % REPLICAS]  # the leader must be idle when killed: nothing of #1 runs on it
    assert post(follower.url, event_body(message("1700000100.000100", "api down 🔥💥 kill-test"))) == 200
    wait_until(lambda: pages_to(slack, "UDRI1").get(1, []), timeout=10, message="incident #1's 1st-line page")
    killed_at = time.monotonic()
    bots[leader].kill()
    survivors = [bot for i, bot in enumerate(bots) if i != leader]
    wait_until(lambda: any(leader_flag(bot) == 1 for bot in survivors), timeout=HANDOVER_BOUND, interval=0.05,
               message="another replica to report bot_leader 1 after the leader was killed")
    moved_at = time.monotonic()
    print(f"leadership moved in {moved_at - killed_at:.1f}s")
    assert moved_at - killed_at < HANDOVER_BOUND
    bots[leader].start(timeout=60)
    assert leader_flag(bots[leader]) == 0  # back, and following
    return killed_at, moved_at


def first_incident_escalated_on_time(slack: SlackRecorder) -> None:
    """Incident #1's 2nd and 3rd lines, due while (or after) its leader was killed, paged on time."""
    [first] = pages_to(slack, "UDRI1")[1]
    second = wait_until(lambda: pages_to(slack, "USENIOR2").get(1, []), timeout=2 * SLA,
                        message="incident #1's 2nd-line page after the leader was killed")[0]
    third = wait_until(lambda: pages_to(slack, "ULEAD3").get(1, []), timeout=2 * SLA,
                       message="incident #1's 3rd-line page")[0]
    late_2nd = second.received_at - first.received_at - SLA
    late_3rd = third.received_at - second.received_at - SLA
    print(f"2nd line paged {late_2nd:+.1f}s from its deadline, 3rd line {late_3rd:+.1f}s")
    assert late_2nd < ON_TIME, f"the 2nd line was paged {late_2nd:.1f}s after its deadline"
    assert late_3rd < ON_TIME, f"the 3rd line was paged {late_3rd:.1f}s after its deadline"


def open_incidents_every_way(cluster: Cluster, slack: SlackRecorder) -> int:
    """🔥💥 messages reaching the replicas every way Slack can deliver them; the number of messages sent."""
    proxy, live = cluster.proxy, cluster.bots
    before = proxy.counts
    # distinct messages, at once, through the proxy: each lands on whichever replica is next
    statuses = together(*(lambda k=k: post(proxy.url, event_body(message(f"1700000200.00{k}100",
                                                                         f"checkout down 🔥💥 distinct-{k}")))
                          for k in range(4)))
    assert statuses == [200] * 4
    spread = [after - was for after, was in zip(proxy.counts, before, strict=True)]
    assert sum(1 for n in spread if n) >= 2, f"the proxy should have spread the messages, got {spread}"
    # one event, delivered to all three replicas at once (Slack's retries landing on other replicas)
    same = event_body(message("1700000300.000100", "payments down 🔥💥 redelivered"), event_id="EvREPLICASAME1")
    assert together(*(lambda b=bot, n=n: post(b.url, same, retry_headers(n) if n else None)
                      for n, bot in enumerate(live))) == [200] * REPLICAS
    # 🔥 then 💥 from two people on two replicas, 💥 redelivered to the other, a third person piles on
    slack.set_message("CTEAM", "1700000400.000100", text="search is down reactions-in-turn", user="UAUTHOR")
    boom = event_body(reaction("UBOB", "boom", "1700000400.000100"))
    assert post(live[0].url, event_body(reaction("UALICE", "fire", "1700000400.000100"))) == 200
    assert post(live[1].url, boom) == 200
    assert post(live[2].url, boom, retry_headers(1)) == 200
    assert post(live[2].url, event_body(reaction("UCAROL", "fire", "1700000400.000100"))) == 200
    # 🔥 and 💥 from two people at the same moment on two replicas: neither may miss the other
    slack.set_message("CTEAM", "1700000500.000100", text="login is down reactions-together", user="UAUTHOR")
    assert together(lambda: post(live[1].url, event_body(reaction("UALICE", "fire", "1700000500.000100"))),
                    lambda: post(live[2].url, event_body(reaction("UBOB", "boom", "1700000500.000100")))) == [200, 200]
    dropped = wait_until(lambda: sum(bot.metric("bot_duplicate_events_total") for bot in live) >= 3, timeout=5,
                         message="the three redeliveries to be dropped as duplicates")
    assert dropped and sum(bot.metric("bot_duplicate_events_total") for bot in live) == 3
    print(f"slack events per replica through the proxy: {spread}")
    return 4 + 1 + 1 + 1


def everything_paged_once(slack: SlackRecorder, incidents: int) -> None:
    """Every incident: one confirmation, each tier paged once; every message one incident of its own."""
    numbers = set(range(1, incidents + 1))
    wait_until(lambda: set(pages_to(slack, "ULEAD3")) >= numbers, timeout=3 * SLA + 10,
               message=lambda: f"every incident's 3rd-line page; have {sorted(pages_to(slack, 'ULEAD3'))}")
    shown = confirmations(slack)
    assert set(shown) == numbers, f"confirmations for incidents {sorted(shown)}, expected {sorted(numbers)}"
    assert {n: len(c) for n, c in shown.items() if len(c) != 1} == {}, "an incident was confirmed twice"
    for user in TIERS:
        paged = pages_to(slack, user)
        assert set(paged) == numbers, f"{user} paged for incidents {sorted(paged)}, expected {sorted(numbers)}"
        assert {n: len(c) for n, c in paged.items() if len(c) != 1} == {}, f"{user} paged twice for an incident"
    titles = [slack_text(c[0]) for c in shown.values()]
    first_pages = [slack_text(c[0]) for c in pages_to(slack, "UDRI1").values()]
    for tag in ("kill-test", *(f"distinct-{k}" for k in range(4)), "redelivered", "reactions-in-turn",
                "reactions-together"):
        assert sum(tag in title for title in titles) == 1, f"{tag!r} should be in exactly one confirmation"
        assert sum(tag in page for page in first_pages) == 1, f"{tag!r} should be in exactly one 1st-line page"
    assert len(slack.calls("conversations.create")) == incidents


# Alerts ----------------------------------------------------------------------------------------------------------
def am_alert(name: str, pod: str, ends: datetime | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"labels": {"alertname": name, "namespace": "payments", "pod": pod, "severity": "warning"},
                             "annotations": {"summary": f"{name} on {pod}"},
                             "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}
    if ends is not None:
        found["endsAt"] = ends.isoformat()
    return found


def last_update(slack: SlackRecorder, ts: str) -> str:
    updates = [c for c in slack.calls("chat.update", "CTEAM") if c.params.get("ts") == ts and c.status == 200]
    return slack_text(updates[-1]) if updates else ""


def fire_alerts_through_alertmanager(cluster: Cluster, slack: SlackRecorder) -> list[str]:
    """Three groups fire, one grows, one resolves; the first answers are lost so Alertmanager retries."""
    proxy, manager = cluster.proxy, cluster.manager
    groups = ["ReplicaDiskFull", "ReplicaCrashLoop", "ReplicaLatency"]
    proxy.lose_responses("/alertmanager", 2)  # delivered and stored, but Alertmanager hears 502 and retries
    manager.post_alerts([am_alert("ReplicaDiskFull", "db-0"), am_alert("ReplicaCrashLoop", "api-0"),
                         am_alert("ReplicaCrashLoop", "api-1"), am_alert("ReplicaLatency", "web-0")])
    posts: dict[str, Call] = {}
    for name in groups:
        def posted(n: str = name) -> list[Call]:
            return top_level(slack, "CTEAM", n)
        posts[name] = wait_until(posted, timeout=20, message=f"{name}'s message")[0]
    manager.post_alerts([am_alert("ReplicaDiskFull", "db-0"), am_alert("ReplicaDiskFull", "db-1")])
    disk = posts["ReplicaDiskFull"].response["ts"]
    wait_until(lambda: "2 firing" in last_update(slack, disk), timeout=20, message="ReplicaDiskFull's 2 firing")
    manager.post_alerts([am_alert("ReplicaLatency", "web-0", ends=datetime.now(UTC) - timedelta(seconds=1))])
    latency = posts["ReplicaLatency"].response["ts"]
    wait_until(lambda: any("recovered after" in slack_text(c) for c in slack.calls("chat.postMessage", "CTEAM")
                           if c.params.get("thread_ts") == latency), timeout=20, message="ReplicaLatency's recovery")
    webhooks = proxy.requests_to("/alertmanager")
    assert sum(1 for f in webhooks if f.lost) == 2, "two of Alertmanager's answers should have been lost"
    assert len({f.backend for f in webhooks}) >= 2, "Alertmanager's notifications should reach several replicas"
    print(f"alertmanager notifications per replica: {[sum(f.backend == i for f in webhooks) for i in range(REPLICAS)]}"
          " (2 answers lost, retried)")
    return groups


def one_post_per_alert_group(slack: SlackRecorder, groups: list[str]) -> None:
    digest = {c.response["ts"] for c in top_level(slack, "CTEAM", "Daily digest")}  # it names the noisy alerts too
    for name in groups:
        # one message per group, whichever replica got each notification
        [post] = [c for c in top_level(slack, "CTEAM", name) if c.response["ts"] not in digest]
        ts = post.response["ts"]
        thread = [c for c in slack.calls("chat.postMessage", "CTEAM")
                  if c.params.get("thread_ts") not in (None, *digest) and name in slack_text(c)]
        assert all(c.params["thread_ts"] == ts for c in thread), f"{name}'s replies are in one thread"
        updates = [c for c in slack.calls("chat.update", "CTEAM") if name in slack_text(c)]
        assert all(c.params.get("ts") == ts for c in updates), f"{name}'s updates edit its one message"
    recovered = [c for c in slack.calls("chat.postMessage", "CTEAM") if "recovered after" in slack_text(c)]
    assert len(recovered) == 1, "ReplicaLatency recovered once, and said so once"


# The leader, the digest and the nightly shutdown --------------------------------------------------------------------
def one_digest_for_the_slot(slack: SlackRecorder) -> None:
    """ml-platform's digest, due in the shutdown's minute: posted once by whichever replica leads, its details in
    its own thread."""
    [digest] = wait_until(lambda: top_level(slack, "CTEAM", "Daily digest"), timeout=SHUTDOWN_TICK + 10,
                          message="ml-platform's digest for its slot")
    assert "api down" in slack_text(digest)  # the open incidents, from the shared database
    time.sleep(1)  # a window for a second digest from another replica, which must not come
    assert len(top_level(slack, "CTEAM", "Daily digest")) == 1
    details = [c for c in slack.calls("chat.postMessage", "CTEAM") if c.params.get("thread_ts")
               == digest.response["ts"]]
    assert details, "the digest's details in its thread"



def wait_for_the_shutdown(cluster: Cluster, slack: SlackRecorder, aws: AwsProxy) -> None:
    """One 🛑 warning before the shutdown minute, one run after it, each instance stopped once."""
    ids = cluster.instances
    left = (cluster.shutdown_at - datetime.now(UTC)).total_seconds()
    [warning] = wait_until(lambda: top_level(slack, "CML", ids["train"]), timeout=max(1.0, left),
                           message="the 🛑 warning before the shutdown time")
    assert warning.received_at < cluster.shutdown_at.timestamp(), "the warning came after the shutdown time"
    assert ids["eval"] in slack_text(warning) and ids["other"] not in slack_text(warning)
    ts = warning.response["ts"]
    [result] = wait_until(lambda: [c for c in slack.calls("chat.postMessage", "CML")
                                   if c.params.get("thread_ts") == ts and c.status == 200],
                          timeout=left + SHUTDOWN_TICK + 10, message="the shutdown's result in the warning's thread")
    assert result.received_at >= cluster.shutdown_at.timestamp(), "the shutdown ran before its time"
    time.sleep(1)  # a window for a second run or warning from another replica, which must not come
    assert len([c for c in slack.calls("chat.postMessage", "CML") if c.status == 200]) == 2  # warning + result
    stops = aws.bodies("StopInstances")
    for role in ("train", "eval"):
        assert sum(ids[role] in body for body in stops) == 1, f"{role} should be stopped exactly once"
    for role in ("tagged", "other"):
        assert not any(ids[role] in body for body in stops), f"{role} should not be stopped"
    states = {i["InstanceId"]: i["State"]["Name"] for r in aws.ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert [states[ids[r]] for r in ("train", "eval", "tagged", "other")] == ["stopped", "stopped", "running",
                                                                               "running"]


def one_leader_at_any_time(watch: LeaderWatch, elected: float, killed_at: float, moved_at: float) -> None:
    watch.stop()
    samples = watch.samples
    assert len(samples) > 50, "the leader watch should have sampled all along"
    doubled = [(round(t - elected, 1), flags) for t, _, flags in samples if sum(f == 1 for f in flags) > 1]
    assert doubled == [], f"more than one leader at once (seconds after the first election): {doubled[:5]}"
    leaderless = [(round(t - elected, 1), flags) for t, end, flags in samples if t > elected
                  and sum(f == 1 for f in flags) == 0 and (end < killed_at or t > moved_at)]
    assert leaderless == [], f"no leader outside the handover (seconds after the first election): {leaderless[:5]}"


# A run cut short -----------------------------------------------------------------------------------------------------
def test_stop_now_cut_short_by_a_killed_replica_is_finished_after_the_lease(tmp_path: Path, pg_url: str,
                                                                           slack: SlackRecorder, aws: AwsProxy) -> None:
    """A shutdown whose replica dies mid-run is finished by another after bot.guard.LEASE: the `acting` plan is
    taken over (guards.start), and the instances the dead run had claimed `stopping` are claimed again and stopped;
    until then Stop now answers that it already runs."""
    from bot.guard import LEASE

    shutdown = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=3)  # tonight, not yet due
    local = shutdown.astimezone(SHUTDOWN_ZONE)
    night = local.date() - timedelta(days=1) if local.hour < 12 else local.date()  # a morning time ends last night
    ids = [instance(aws.ec2, "g5.xlarge", {"team": "ml"}) for _ in range(2)]
    ec2 = RoundRobinProxy([aws.url]).start()  # between the bot and AWS, to catch StopInstances in flight
    bots: list[BotProcess] = []
    try:
        config = bot_config(teams=[team("ml", "CML", timezone=str(SHUTDOWN_ZONE), cost_tag="ml",
                                        shutdown_at=f"{local:%H:%M}")],
                            cost_guards={"allowed": ["UBOSS"], "shutdown": {"enabled": True}})
        for index in range(2):
            (tmp_path / f"replica{index}").mkdir()
            bots.append(BotProcess(tmp_path / f"replica{index}", slack.base_url, config, database_url=pg_url,
                                   extra_env={**aws.aws_env(), "AWS_ENDPOINT_URL": ec2.url}))
        together(*(lambda b=bot: int(b.start(timeout=60)) for bot in bots))

        def stop_now(bot: BotProcess, answer: str) -> None:
            click = {"type": "block_actions", "user": {"id": "UBOSS"}, "team": {"id": "T1"},
                     "channel": {"id": "CML"}, "trigger_id": "t", "container": {"message_ts": "1.1"},
                     "response_url": slack.response_url(answer),
                     "actions": [{"action_id": "spend_stop_now", "block_id": "b",
                                  "value": json.dumps({"team": "ml", "night": night.isoformat()})}]}
            assert bot.post(interactivity_body(click)).status_code == 200

        ec2.hold(b"Action=StopInstances")
        stop_now(bots[0], "first")
        wait_until(lambda: ec2.held, timeout=15, message="the first Stop now's StopInstances, on its way to AWS")
        bots[0].kill()  # the replica dies with the plan `acting` and both instances claimed `stopping`
        ec2.release(forward=False)  # its StopInstances never reached AWS
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as db:
            # the lease runs out: move the dead run's claims back by it instead of waiting it out
            db.execute("update guard_plans set started_at = started_at - %s", (LEASE + timedelta(minutes=1),))
            db.execute("update guard_items set at = at - %s", (LEASE + timedelta(minutes=1),))

        stop_now(bots[1], "second")
        answer = slack_text(wait_until(lambda: [c for c in slack.calls("response_url") if c.path.endswith("/second")
                                                and "working on it" not in slack_text(c).lower()], timeout=20,
                                       message="the answer to the second Stop now")[-1])
        states = {i["InstanceId"]: i["State"]["Name"] for r in aws.ec2.describe_instances()["Reservations"]
                  for i in r["Instances"]}
        assert [states[i] for i in ids] == ["stopped", "stopped"], \
            f"the night's shutdown was never finished after its replica died; Stop now answered: {answer!r}"
        assert all(i in answer for i in ids)
    finally:
        for bot in bots:
            bot.stop()
        ec2.stop()


# The database drops the leader's session ------------------------------------------------------------------------------
def test_the_database_dropping_the_leaders_session_never_makes_two_leaders(tmp_path: Path, pg_url: str,
                                                                           slack: SlackRecorder) -> None:
    """When PostgreSQL ends the session that holds the leader lock (a failover, a network reset,
    pg_terminate_backend), the lock is free at once and a follower takes it at its next poll, while the old leader
    only notices at its own next check (`still_held`, every 2 s): the new leader holds the lock one poll before it
    acts (bot.scheduler.SETTLE), so two replicas never report bot_leader 1 or run the jobs at once."""
    from bot.scheduler import LOCK_KEY

    bots: list[BotProcess] = []
    try:
        for index in range(REPLICAS):  # one after the other: their 2 s election polls fall at different moments
            (tmp_path / f"replica{index}").mkdir()
            bots.append(BotProcess(tmp_path / f"replica{index}", slack.base_url, bot_config(), database_url=pg_url))
            bots[-1].start(timeout=60)
        watch = LeaderWatch(bots)
        wait_until(lambda: len(watch.leaders()) == 1, timeout=10, message="one leader")
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as db:
            def holder() -> tuple[Any, ...]:
                return db.execute("select a.pid, a.state_change from pg_locks l join pg_stat_activity a "
                                  "on a.pid = l.pid where l.locktype = 'advisory' and l.objid = %s and l.granted",
                                  (LOCK_KEY,)).fetchone() or ()

            for _ in range(3):
                before = wait_until(holder, timeout=10, message="the session that holds the leader lock")
                # right after the leader's own check, so it is the last to learn that its session is gone
                def checked_again(b: tuple[Any, ...] = before) -> bool:
                    return holder() != b

                wait_until(checked_again, timeout=5, interval=0.005, message="the leader's next check of its lock")
                db.execute("select pg_terminate_backend(%s)", (before[0],))
                ended = time.monotonic()
                seen: list[tuple[float, list[int]]] = []
                while time.monotonic() - ended < 2.5:  # a sample, not a wait: both leaders can only be seen live
                    seen.append((round(time.monotonic() - ended, 2), watch.leaders()))
                assert [s for s in seen if len(s[1]) > 1] == [], \
                    "two replicas report bot_leader 1 (seconds after the lock session ended, replicas)"
                wait_until(lambda: len(watch.leaders()) == 1, timeout=10, message="one leader again")
    finally:
        for bot in bots:
            bot.stop()
