"""/review and the review digest on 500 open pull requests in 50 repositories: GitHub requests and wall time.

    .venv/bin/python bench/review.py [--prs 500] [--repos 50] [--seed 7] [--rounds 3] [--latency 0.1] [--scale]

The bot runs in this process: the real Bolt app as tests/support/inprocess.py builds it (InlineExecutor, SQLite in
a temp dir, an injected FrozenClock), its real GitHubClient (PyGithub's requester over HTTP), and the Slack
recorder. The GitHub GraphQL fixture (tests/support/github_graphql.py: it validates and executes every query with
graphql-core against GitHub's public schema) runs in a child process, so this process holds only the bot and the
bench, and the fixture's work neither takes the bot's GIL nor grows the heap the bot's garbage collector walks.

Data (seeded, so every run sees the same): 5 teams (`atlas` … `ember`, each with its channel and its own time zone:
Tokyo, Shanghai, Berlin, London, New York) × --repos/5 repositories `acme/<team>-NN`; --prs open pull requests
spread unevenly over them (repository weights 0.3-1.7); 30 GitHub logins `dev-00` … `dev-29`, six per team, each
mapped to a Slack user in `github.users`; a GitHub team `acme/<team>-reviewers` per team. Each pull request has 1-3
requested reviewers (mostly from its team), a team request for 20 %, requests made over the last 14 days, 8 % drafts,
a CI rollup (success, failure, pending, error, none), a size, 0-2 labels, a description of 0-1,500 characters, and
for 15 % an earlier review by one of its reviewers (re-requested since).

  0. Warm-up, not counted: one `/review team` and one `/review` (imports, the i18n catalog, the fixture's parse and
     validation of each query text, which it caches).
  1. Cold: per round, for each team, the clock steps `review.cache` + 1 s (the shared read has expired), then
     `/review team` from the team's channel by one of its members, through Bolt's `dispatch`; and once per round
     `/review` (my queue) for `dev-03` (atlas, in `acme/atlas-reviewers`). Counted: GitHub requests (the fixture's
     POSTs, before and after), time from sending the command to the response_url answer reaching the recorder, the
     fixture's time executing the queries (validation, node limits, graphql-core's execution: timed around its
     `_execute`), the bytes of GitHub's answers (measured after the timing), the reply's blocks, and the time this
     process's garbage collector stopped it (gc.callbacks), with the number of full collections. Requests per 100
     PRs: requests / (open PRs the read covers / 100); the bot's read covers every configured repository (one read
     shared by /review, /review team, nudges and digests).
  2. Warm: the same command again a second later, within `review.cache` (expected: 0 requests).
  3. Digests: `services.review_digests.post_digest(team)` with the clock at each team's working-day start on
     Wednesday and on Thursday (cold: the teams' mornings are hours apart, far more than `review.cache`), then on
     Friday right after `services.review.open_pulls()` at the same instant (warm). Timed: the call (read, queue,
     blocks, notice claim in the database, chat.postMessage to the recorder). Three posts per channel stay within
     the bot's per-channel burst of 3, so no pacing delay is in the figures.
  4. Baseline, same run, same fixture data: a naive per-PR integration builds each team's queue: one GraphQL query
     per repository of the team listing its open PR numbers (paged by 100), then one query per pull request for
     its review requests, reviews, timeline and CI (the bot's own `PULL` query and parser, so the data are the
     same), through PyGithub's requester (`requestJsonAndCheck("POST", requester.graphql_url, …)`, with PyGithub's
     pacing off as the bot has it: by default PyGithub spaces POSTs a second apart). The queue is then built by a
     `ReviewService` configured with that team only and rendered as /review team's blocks (no Slack call). The
     script checks that it equals the bot's queue at the same instant. Also measured like for like: the bot's read
     + queue + blocks in-process (the clock past `review.cache`, then `team_queue` and `team_queue_blocks`). Ratios:
     ours / naive, for requests and for time.
  5. On loopback the fixture's graphql-core execution is most of the bot's wall time. So the script also replays:
     the fixture answers each query with its recorded answer to the same query and variables (no graphql-core),
     and the cold /review team, the in-process read and the baseline run again: the clients' own work (HTTP, JSON,
     parsing, queue, blocks; for /review team also Bolt and the Slack answer).
  6. --latency (default 0.1 s; 0 skips it): the fixture waits that long before each answer, and atlas's cold
     /review team and naive queue are timed once more. A stand-in for GitHub's round trip, not a measurement of it.
Also printed: the size of the shared read's answer beside what the PR descriptions would add, and what `/review` shows
dev-03. --scale also runs it all (but --latency) with 5,000 pull requests, 1 round. Nothing is asserted; the
figures and ratios are printed and the raw data goes to bench/out/review-*.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import github
from common import ROOT, percentile, print_header, save, table, verdict

from bot.clients import OpenPulls, PullRequest
from bot.clients.github import PULL, _pull_request
from bot.clock import FrozenClock
from bot.review import render
from bot.review.model import TeamQueue
from bot.review.people import People
from bot.review.service import ReviewService
from bot.services import Services
from bot.settings import Config
from tests.support.config import bot_config, team
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import slash_command_body
from tests.support.slack_recorder import SlackRecorder

if TYPE_CHECKING:
    from tests.support.github_graphql import GitHubFixture

TOKEN = "ghp_fixture_token_0000000000000000"
ORG = "acme"
TEAMS = ("atlas", "borealis", "cirrus", "delta", "ember")
TZ = {"atlas": "Asia/Tokyo", "borealis": "Asia/Shanghai", "cirrus": "Europe/Berlin", "delta": "Europe/London",
      "ember": "America/New_York"}
CHANNEL = {name: f"C{name.upper()}" for name in TEAMS}
LOGINS = tuple(f"dev-{i:02d}" for i in range(30))
MEMBERS = {name: LOGINS[6 * i:6 * i + 6] for i, name in enumerate(TEAMS)}
ME = "dev-03"  # atlas, a member of acme/atlas-reviewers
TARGET_PER_100 = 1.0
CI_STATES = (("SUCCESS", 60), ("FAILURE", 15), ("PENDING", 15), ("ERROR", 3), (None, 7))
LABELS = ("bug", "infra", "training", "serving", "deps", "docs", "perf")
WORDS = ("retry", "checkpoint", "upload", "vLLM", "autoscale", "queue", "depth", "FSDP", "config", "shard",
         "tokenizer", "cache", "eval", "harness", "metrics", "exporter", "GPU", "node", "pool", "quota", "S3",
         "timeout", "flaky", "test", "bump", "schema", "migration", "batch", "size", "warmup")
LIST = """query Numbers($o: String!, $n: String!, $c: String) {
  repository(owner: $o, name: $n) {
    pullRequests(states: OPEN, first: 100, after: $c) { pageInfo { hasNextPage endCursor } nodes { number } }
  }
}"""
WEEK = (date(2026, 11, 25), date(2026, 11, 26), date(2026, 11, 27))  # Wed, Thu: cold digests; Fri: warm


def slack_id(login: str) -> str:
    return "U" + login.upper().replace("-", "")


def team_of_login(login: str) -> str:
    return next(name for name, members in MEMBERS.items() if login in members)


# --------------------------------------------------------------------------- data


def seed_fixture(fixture: GitHubFixture, prs: int, repos: int, seed: int) -> dict[str, Any]:
    """Users, teams, repositories and open pull requests; returns where they went (repo → team, counts)."""
    rng = random.Random(seed)
    per_team = max(1, repos // len(TEAMS))
    for login in LOGINS:
        fixture.user(login, email=f"{login}@example.com")
    for name in TEAMS:
        fixture.team(ORG, f"{name}-reviewers", MEMBERS[name])
    home = {f"{ORG}/{name}-{k:02d}": name for name in TEAMS for k in range(per_team)}
    for repo in home:
        fixture.repo(repo)
    names = list(home)
    weights = [rng.uniform(0.3, 1.7) for _ in names]
    numbers: Counter[str] = Counter()
    drafts = team_requests = reviewed = body_chars = 0
    for i in range(prs):
        repo = rng.choices(names, weights)[0]
        numbers[repo] += 1
        owner = home[repo]
        author = rng.choice(MEMBERS[owner]) if rng.random() < 0.9 else rng.choice(LOGINS)
        pool = [login for login in MEMBERS[owner] if login != author]
        pool += rng.sample([login for login in LOGINS if login not in MEMBERS[owner]], 2)
        asked = rng.sample(pool, rng.choices((1, 2, 3), (5, 3, 2))[0])
        requested = START - timedelta(minutes=rng.randrange(14 * 24 * 60))
        created = requested - timedelta(minutes=rng.randrange(1, 180))
        reviewers = [(login, requested + timedelta(minutes=rng.randrange(0, 30))) for login in asked]
        teams = [(f"{ORG}/{owner}-reviewers", requested)] if rng.random() < 0.2 else []
        reviews = [(asked[0], rng.choice(("CHANGES_REQUESTED", "COMMENTED")))] if rng.random() < 0.15 else []
        draft = rng.random() < 0.08
        additions = int(rng.lognormvariate(4.0, 1.3)) + 1
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(0, 220)))[:1500]
        fixture.pull(repo, numbers[repo], f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} #{i}", author,
                     created, body=body, draft=draft, reviewers=reviewers, teams=teams, additions=additions,
                     deletions=int(additions * rng.uniform(0, 0.6)), changed_files=max(1, additions // 40),
                     labels=rng.sample(LABELS, rng.choice((0, 0, 1, 2))),
                     ci=rng.choices([s for s, _ in CI_STATES], [w for _, w in CI_STATES])[0], reviews=reviews)
        drafts += draft
        body_chars += len(json.dumps(body))  # as it travels in the answer (bodyText, JSON-escaped)
        team_requests += bool(teams)
        reviewed += bool(reviews)
    return {"home": home, "per_repo": dict(numbers), "prs": prs, "repos": len(home), "drafts": drafts,
            "team_requests": team_requests, "reviewed": reviewed, "body_bytes": body_chars,
            "per_team": {name: sum(n for repo, n in numbers.items() if home[repo] == name) for name in TEAMS}}


def review_config(home: dict[str, str]) -> dict[str, Any]:
    return bot_config(teams=[team(name, CHANNEL[name], timezone=TZ[name],
                                  repos=[repo for repo, owner in home.items() if owner == name]) for name in TEAMS],
                      github={"users": {login: slack_id(login) for login in LOGINS}})


# --------------------------------------------------------------------------- the fixture, metered


class GcMeter:
    """Adds up the time the garbage collector stops this process (gc.callbacks), and counts full collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.full = 0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.full += info.get("generation") == 2


Key = tuple[str, str, str | None]
Mark = tuple[tuple[int, float, int], float, int]  # the fixture's (requests, seconds, answers), GC seconds, full GCs


class Meter:
    """Wraps the fixture's query execution: adds up its time, remembers each answer by (query, variables), and
    in replay mode answers from what it remembered instead of executing (no graphql-core)."""

    def __init__(self, fixture: GitHubFixture) -> None:
        self.fixture = fixture
        self._execute = fixture._execute
        fixture._execute = self  # type: ignore[method-assign]  # `_answer` calls self._execute
        self.replay = False
        self.memo: dict[Key, dict[str, Any]] = {}
        self._sizes: dict[Key, int] = {}
        self.seconds = 0.0
        self.keys: list[Key] = []

    def __call__(self, query: str, variables: dict[str, Any], operation: str | None) -> dict[str, Any]:
        key = (query, json.dumps(variables, sort_keys=True), operation)
        self.keys.append(key)
        if self.replay and key in self.memo:
            return self.memo[key]
        started = time.perf_counter()
        answer: dict[str, Any] = self._execute(query, variables, operation)
        self.seconds += time.perf_counter() - started
        self.memo[key] = answer
        return answer

    def mark(self) -> tuple[int, float, int]:
        return self.fixture.count, self.seconds, len(self.keys)

    def since(self, mark: tuple[int, float, int]) -> dict[str, Any]:
        """Requests, fixture seconds and answer bytes since `mark` (the bytes are measured after the timing)."""
        count, seconds, keys = mark
        return {"requests": self.fixture.count - count, "fixture_s": self.seconds - seconds,
                "answer_bytes": sum(self._size(key) for key in self.keys[keys:])}

    def _size(self, key: Key) -> int:
        if key not in self._sizes:
            self._sizes[key] = len(json.dumps(self.memo.get(key)))
        return self._sizes[key]


def serve(prs: int, repos: int, seed: int, conn: Connection) -> None:
    """The child process: the GitHub fixture, seeded and metered, answering the parent's questions on `conn`."""
    from tests.support.github_graphql import GitHubFixture  # here only: the bot's process does not load graphql-core

    started = time.perf_counter()
    fixture = GitHubFixture(token=TOKEN, limit=10_000_000)
    fixture.start()
    schema_s = time.perf_counter() - started
    started = time.perf_counter()
    data = seed_fixture(fixture, prs, repos, seed)
    seed_s = time.perf_counter() - started
    meter = Meter(fixture)
    gc.freeze()  # the schema and the data live as long as the process: full collections skip them
    conn.send({"url": fixture.url, "data": data, "schema_s": schema_s, "seed_s": seed_s})
    try:
        while True:
            verb, arg = conn.recv()
            if verb == "mark":
                conn.send(meter.mark())
            elif verb == "since":
                conn.send(meter.since(arg))
            elif verb == "replay":
                meter.replay = bool(arg)
                conn.send(None)
            elif verb == "slow":
                fixture.slow(float(arg))
                conn.send(None)
            else:
                break
    finally:
        fixture.stop()
        conn.send(None)


class FixtureProcess:
    """The GitHub fixture in a child process, so that this process holds only the bot (and the bench) and the
    fixture's graphql-core work neither takes this process's GIL nor grows the heap its garbage collector walks."""

    def __init__(self, prs: int, repos: int, seed: int) -> None:
        context = get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=serve, args=(prs, repos, seed, child), daemon=True)
        self._process.start()
        deadline = time.monotonic() + 300
        while not self._conn.poll(0.5):
            if not self._process.is_alive() or time.monotonic() > deadline:
                self._process.terminate()
                raise RuntimeError(f"the GitHub fixture process did not start (exit code {self._process.exitcode})")
        info = self._conn.recv()
        self.url: str = info["url"]
        self.data: dict[str, Any] = info["data"]
        self.schema_s: float = info["schema_s"]
        self.seed_s: float = info["seed_s"]

    def _ask(self, verb: str, arg: Any = None) -> Any:
        self._conn.send((verb, arg))
        return self._conn.recv()

    def mark(self) -> Mark:
        return self._ask("mark"), GC.seconds, GC.full

    def since(self, mark: Mark) -> dict[str, Any]:
        fixture, gc_s, full = mark
        return {**self._ask("since", fixture), "gc_s": GC.seconds - gc_s, "full_gcs": GC.full - full}

    def replay(self, on: bool) -> None:
        self._ask("replay", on)

    def slow(self, seconds: float) -> None:
        """Every answer waits `seconds` before it is worked out (GitHubFixture.slow)."""
        self._ask("slow", seconds)

    def stop(self) -> None:
        if self._process.is_alive():
            self._ask("stop")
            self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(30)


GC = GcMeter()


# --------------------------------------------------------------------------- the naive baseline


class NaiveSource:
    """What a per-PR integration does: list each repository's open PR numbers, then ask for each PR alone."""

    demo = False

    def __init__(self, url: str, token: str) -> None:
        gh = github.Github(base_url=url, auth=github.Auth.Token(token), retry=None, seconds_between_requests=None,
                           seconds_between_writes=None)
        self._requester = gh.requester
        self.requests = 0

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        self.requests += 1
        _, body = self._requester.requestJsonAndCheck("POST", self._requester.graphql_url,
                                                      input={"query": query, "variables": variables})
        if body.get("errors"):
            raise RuntimeError(f"naive query refused: {body['errors'][:1]}")
        data: dict[str, Any] = body["data"]
        return data

    def open_pulls(self, repos: Sequence[str]) -> OpenPulls:
        pulls: list[PullRequest] = []
        for repo in repos:
            owner, name = repo.split("/", 1)
            numbers: list[int] = []
            cursor = None
            while True:
                page = self._post(LIST, {"o": owner, "n": name, "c": cursor})["repository"]["pullRequests"]
                numbers += [node["number"] for node in page["nodes"]]
                if not page["pageInfo"]["hasNextPage"]:
                    break
                cursor = page["pageInfo"]["endCursor"]
            for number in numbers:
                node = self._post(PULL, {"owner": owner, "name": name, "number": number})["repository"]["pullRequest"]
                pulls.append(_pull_request(repo, node))
        pulls.sort(key=lambda p: (p.created_at, p.repo, p.number))
        return OpenPulls(tuple(pulls), ())

    def pull(self, repo: str, number: int) -> PullRequest | None:
        raise NotImplementedError

    def teams_of(self, login: str, orgs: Sequence[str]) -> tuple[str, ...]:
        raise NotImplementedError


def queue_key(queue: TeamQueue) -> tuple[Any, ...]:
    return (tuple((i.pr.repo, i.pr.number, i.reviewers, i.waited, i.stale) for i in queue.items), queue.load)


# --------------------------------------------------------------------------- the run


@dataclass
class Sample:
    kind: str  # team cold, team warm, mine cold, mine warm, digest cold, digest warm, naive, in-process
    team: str
    wall_s: float
    requests: int
    fixture_s: float
    answer_bytes: int
    prs_read: int
    extra: dict[str, Any] = field(default_factory=dict)


class Scenario:
    def __init__(self, prs: int, repos: int, seed: int, tmp: Path, slack: SlackRecorder) -> None:
        self.github = FixtureProcess(prs, repos, seed)
        self.data = self.github.data
        self.slack = slack
        for login in LOGINS:
            slack.set_user(slack_id(login), tz=TZ[team_of_login(login)], locale="en-US", email=f"{login}@example.com")
        self.clock = FrozenClock(START)
        self.config = review_config(self.data["home"])
        self.services: Services
        self.services, self.app = make_bot(f"sqlite:///{tmp / f'review-{prs}.db'}", slack, self.config, self.clock,
                                           github_token=TOKEN, github_api_url=self.github.url)
        self.step = self.services.config.review.cache + timedelta(seconds=1)
        self.samples: list[Sample] = []
        self.checks: dict[str, Any] = {}
        self.numbers = 0

    def stop(self) -> None:
        self.services.engine.dispose()
        self.github.stop()

    # one measurement each ------------------------------------------------------------------------------------
    def command(self, kind: str, text: str, user: str, name: str) -> Sample:
        self.numbers += 1
        calls = len(self.slack.calls())
        mark = self.github.mark()
        body = slash_command_body("/review", text, user_id=user, channel_id=CHANNEL[name],
                                  response_url=self.slack.response_url(f"review-{self.numbers}"))
        sent, started = time.time(), time.perf_counter()
        dispatch(self.app, body)
        dispatched = time.perf_counter() - started
        answers = [c for c in self.slack.calls()[calls:] if c.method == "response_url"]
        blocks = answers[-1].params.get("blocks") if answers else None
        if isinstance(blocks, str):
            blocks = json.loads(blocks)
        wall = answers[-1].received_at - sent if answers else float("nan")
        return self._keep(kind, name, wall, mark, self.data["prs"], {
            "dispatch_s": dispatched, "replies": len(answers), "blocks": len(blocks or []),
            "reply_bytes": len(json.dumps(blocks or [])), "text": json.dumps(blocks or [])[:160]})

    def digest(self, kind: str, name: str) -> Sample:
        posts = len(self.slack.calls("chat.postMessage", CHANNEL[name]))
        mark = self.github.mark()
        started = time.perf_counter()
        posted = self.services.review_digests.post_digest(self.services.config.team_named(name))
        wall = time.perf_counter() - started
        sent = self.slack.calls("chat.postMessage", CHANNEL[name])[posts:]
        return self._keep(kind, name, wall, mark, self.data["prs"], {
            "posted": posted, "posts": len(sent), "at": self.clock.now().isoformat()})

    def in_process(self, name: str) -> Sample:
        """The bot's read + queue + blocks, as /review team does them, without Bolt or Slack."""
        mark = self.github.mark()
        started = time.perf_counter()
        queue = self.services.review.team_queue(self.services.config.team_named(name))
        render.team_queue_blocks(queue, "en", TZ[name])
        wall = time.perf_counter() - started
        return self._keep("in-process", name, wall, mark, self.data["prs"], {"items": len(queue.items)})

    def naive(self, name: str) -> tuple[Sample, TeamQueue]:
        only = Config.model_validate(bot_config(teams=[t for t in self.config["teams"] if t["name"] == name],
                                                github=self.config["github"]))
        source = NaiveSource(self.github.url, TOKEN)
        service = ReviewService(source, only,  # type: ignore[arg-type]  # implements what team_queue uses
                                People(only, self.services.users, self.services.sessions, self.clock),
                                self.services.users, self.clock)
        mark = self.github.mark()
        started = time.perf_counter()
        queue = service.team_queue(only.teams[0])
        render.team_queue_blocks(queue, "en", TZ[name])
        wall = time.perf_counter() - started
        sample = self._keep("naive", name, wall, mark, self.data["per_team"][name],
                            {"client_requests": source.requests, "items": len(queue.items)})
        return sample, queue

    def _keep(self, kind: str, name: str, wall: float, mark: Mark, prs_read: int, extra: dict[str, Any]) -> Sample:
        got = self.github.since(mark)
        sample = Sample(kind, name, wall, got["requests"], got["fixture_s"], got["answer_bytes"], prs_read,
                        {**extra, "gc_s": got["gc_s"], "full_gcs": got["full_gcs"]})
        self.samples.append(sample)
        return sample

    # the phases -------------------------------------------------------------------------------------------
    def run(self, rounds: int, latency: float) -> None:
        # Warm-up, not counted: imports, the i18n catalog, the fixture's parse and validation of each query text.
        started = time.perf_counter()
        self.command("warm-up", "team", slack_id(MEMBERS["atlas"][0]), "atlas")
        self.command("warm-up", "", slack_id(ME), "atlas")
        self.warmup_s = time.perf_counter() - started
        started = time.perf_counter()
        gc.collect()
        self.heap = {"objects": len(gc.get_objects()), "full_gc_s": time.perf_counter() - started}
        for _ in range(rounds):
            for name in TEAMS:
                self.clock.advance(self.step)
                user = slack_id(MEMBERS[name][1])
                self.command("team cold", "team", user, name)
                ours = self.services.review.team_queue(self.services.config.team_named(name))  # same instant
                _, queue = self.naive(name)
                self.clock.advance(timedelta(seconds=1))
                self.command("team warm", "team", user, name)
                self.checks.setdefault("same_queue", []).append(queue_key(queue) == queue_key(ours))
                self.checks.setdefault("items", []).append(len(ours.items))
                self.clock.advance(self.step)
                self.in_process(name)
            self.clock.advance(self.step)
            self.command("mine cold", "", slack_id(ME), "atlas")
            self.clock.advance(timedelta(seconds=1))
            self.command("mine warm", "", slack_id(ME), "atlas")
        mine = self.services.review.my_queue(slack_id(ME))  # within the cache: what that /review showed
        self.checks["my_queue"] = {"login": mine.login, "teams": list(mine.teams), "to_review": len(mine.to_review),
                                   "own_in_to_review": sum(1 for i in mine.to_review if i.pr.author == mine.login),
                                   "mine": len(mine.mine)}
        calendars = {name: self.services.review.calendar(self.services.config.team_named(name)) for name in TEAMS}
        mornings = sorted((calendars[name].opening(day), day, name) for day in WEEK for name in TEAMS)
        for at, day, name in mornings:
            self.clock.set(at)
            if day == WEEK[-1]:
                self.services.review.open_pulls()  # within the cache window: the digest reads nothing
                self.digest("digest warm", name)
            else:
                self.digest("digest cold", name)
        # Replay: the fixture answers from its recorded answers, no graphql-core.
        self.github.replay(True)
        for _ in range(rounds):
            for name in TEAMS:
                self.clock.advance(self.step)
                self.command("replay team cold", "team", slack_id(MEMBERS[name][1]), name)
                self.clock.advance(self.step)
                self.in_process(name).kind = "replay in-process"
                self.naive(name)[0].kind = "replay naive"
        self.github.replay(False)
        if latency:  # a stand-in for GitHub's round trip: the fixture waits before each answer
            self.github.slow(latency)
            self.clock.advance(self.step)
            self.command("latency team cold", "team", slack_id(MEMBERS["atlas"][1]), "atlas")
            self.naive("atlas")[0].kind = "latency naive"
            self.github.slow(0)

    def pick(self, kind: str) -> list[Sample]:
        return [s for s in self.samples if s.kind == kind]


# --------------------------------------------------------------------------- report


def _ms(values: Sequence[float]) -> str:
    return f"{percentile(values, 50) * 1000:.1f} ms" if values else "-"


def summarise(scenario: Scenario) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in dict.fromkeys(s.kind for s in scenario.samples):
        got = scenario.pick(kind)
        walls = [s.wall_s for s in got]
        out[kind] = {"n": len(got), "p50_s": percentile(walls, 50), "p95_s": percentile(walls, 95),
                     "max_s": max(walls), "requests": [s.requests for s in got],
                     "requests_median": percentile([s.requests for s in got], 50),
                     "fixture_p50_s": percentile([s.fixture_s for s in got], 50),
                     "rest_p50_s": percentile([s.wall_s - s.fixture_s for s in got], 50),
                     "answer_bytes_p50": percentile([s.answer_bytes for s in got], 50),
                     "gc_total_s": sum(s.extra["gc_s"] for s in got), "full_gcs": sum(s.extra["full_gcs"] for s in got),
                     "prs_read": percentile([s.prs_read for s in got], 50)}
    return out


def report(scenario: Scenario, rounds: int, latency: float) -> list[list[str]]:
    data = scenario.data
    s = summarise(scenario)
    cache = scenario.services.config.review.cache
    largest = max(data["per_repo"].values())
    print(f"\n-- {data['prs']:,} open PRs in {data['repos']} repositories (largest {largest}), 5 teams "
          f"({', '.join(str(n) for n in data['per_team'].values())} PRs), {data['drafts']} drafts, "
          f"{data['team_requests']} with a team request, {data['reviewed']} reviewed and re-requested --")
    print(f"   fixture (child process): schema loaded in {scenario.github.schema_s:.1f} s, data seeded in "
          f"{scenario.github.seed_s:.2f} s; "
          f"review.cache {int(cache.total_seconds())} s, clock step before each cold command "
          f"{int(scenario.step.total_seconds())} s; {rounds} round(s); warm-up (2 commands, not counted) "
          f"{scenario.warmup_s:.2f} s; this process after it: {scenario.heap['objects']:,} objects, a full "
          f"garbage collection {scenario.heap['full_gc_s'] * 1000:.0f} ms")
    rows = [["", "n", "GitHub req", "per 100 PRs", "p50", "p95", "fixture p50", "rest p50", "GitHub answer",
             "GC (full)"]]

    def line(label: str, kind: str) -> None:
        if kind not in s:
            return
        k = s[kind]
        per100 = k["requests_median"] / (k["prs_read"] / 100) if k["prs_read"] else float("nan")
        spread = sorted(set(k["requests"]))
        shown = str(spread[0]) if len(spread) == 1 else f"{spread[0]}-{spread[-1]} (median {k['requests_median']})"
        rows.append([label, str(k["n"]), shown, f"{per100:.2f}", f"{k['p50_s'] * 1000:.1f} ms",
                     f"{k['p95_s'] * 1000:.1f} ms", f"{k['fixture_p50_s'] * 1000:.1f} ms",
                     f"{k['rest_p50_s'] * 1000:.1f} ms", f"{k['answer_bytes_p50'] / 1024:,.0f} KiB",
                     f"{k['gc_total_s'] * 1000:.0f} ms ({k['full_gcs']})"])

    line("/review team, cold (cache expired)", "team cold")
    line("/review team, warm (within review.cache)", "team warm")
    line("/review (my queue), cold", "mine cold")
    line("/review (my queue), warm", "mine warm")
    line("digest at the team's 09:00, cold", "digest cold")
    line("digest, warm (read shared)", "digest warm")
    line("bot in-process: read + queue + blocks", "in-process")
    line("baseline: naive per-PR, one team", "naive")
    print(table(rows))
    cold, naive = s["team cold"], s["naive"]
    worst = max(max(s[k]["requests"]) / (s[k]["prs_read"] / 100)
                for k in ("team cold", "mine cold", "digest cold"))
    print(f"   target <= {TARGET_PER_100:.0f} request per 100 PRs (cold /review team, /review, digest): worst "
          f"{worst:.2f}: {verdict(worst <= TARGET_PER_100)}; warm: "
          f"{sum(sum(s[k]['requests']) for k in ('team warm', 'mine warm', 'digest warm') if k in s)} requests")
    print(f"   cold /review asked {s['mine cold']['requests']}: the shared read ({cold['requests_median']}), plus one "
          "for the person's GitHub teams when its 1 h memory (TEAMS_TTL) has expired")
    print(f"   ours / naive, per team queue: requests {cold['requests_median']} / {naive['requests_median']} = "
          f"{cold['requests_median'] / naive['requests_median']:.4f}x "
          f"(per 100 PRs read: {cold['requests_median'] / (cold['prs_read'] / 100):.2f} vs "
          f"{naive['requests_median'] / (naive['prs_read'] / 100):.0f}); time p50 /review team "
          f"{cold['p50_s'] * 1000:.1f} / {naive['p50_s'] * 1000:.1f} ms = {cold['p50_s'] / naive['p50_s']:.2f}x; "
          f"like for like (in-process) {s['in-process']['p50_s'] * 1000:.1f} / {naive['p50_s'] * 1000:.1f} ms = "
          f"{s['in-process']['p50_s'] / naive['p50_s']:.2f}x")
    same = scenario.checks["same_queue"]
    print(f"   naive queue == bot's queue at the same instant: {sum(same)} of {len(same)} "
          f"(items per team queue: {sorted(set(scenario.checks['items']))})")
    replay = [["replayed answers (no graphql-core)", "n", "GitHub req", "p50", "p95", "vs naive p50"]]
    base = s.get("replay naive", {}).get("p50_s")
    for label, kind in (("/review team, cold", "replay team cold"), ("bot in-process: read + queue + blocks",
                                                                    "replay in-process"),
                        ("baseline: naive per-PR, one team", "replay naive")):
        if kind in s:
            k = s[kind]
            replay.append([label, str(k["n"]), str(k["requests_median"]), f"{k['p50_s'] * 1000:.1f} ms",
                           f"{k['p95_s'] * 1000:.1f} ms", f"{k['p50_s'] / base:.2f}x" if base else ""])
    print(table(replay))
    team_cold = scenario.pick("team cold")
    fixture_share = sum(x.fixture_s for x in team_cold) / sum(x.wall_s for x in team_cold)
    naive_share = sum(x.fixture_s for x in scenario.pick("naive")) / sum(x.wall_s for x in scenario.pick("naive"))
    print(f"   the fixture's query execution (graphql-core, in its child process) is {fixture_share:.0%} of cold "
          f"/review team's time and {naive_share:.0%} of the naive client's; the replayed rows are the clients' own "
          "work (HTTP, JSON, parsing, queue, blocks; for /review team also Bolt and Slack)")
    answer = s["team cold"]["answer_bytes_p50"]
    print(f"   the shared read's answer is {answer / 1024:,.0f} KiB; the PRs' descriptions, which it leaves out (only "
          f"/review nudge uses one, read with its PR), would add {data['body_bytes'] / 1024:,.0f} KiB")
    me = scenario.checks["my_queue"]
    print(f"   /review for {me['login']} (in {', '.join(me['teams'])}): {me['to_review']} waiting on them, of which "
          f"{me['own_in_to_review']} are their own PRs (asked of a team they are in); {me['mine']} of theirs wait")
    if "latency naive" in s:
        ours, theirs = s["latency team cold"], s["latency naive"]
        print(f"   with {latency * 1000:.0f} ms added before every GitHub answer (the fixture waits: a stand-in for "
              f"GitHub's round trip, not a measurement of it), atlas's queue: /review team {ours['p50_s']:.2f} s "
              f"({ours['requests_median']} request), naive {theirs['p50_s']:.2f} s ({theirs['requests_median']} "
              f"requests): {ours['p50_s'] / theirs['p50_s']:.3f}x")
    replies = {(x.extra["replies"], x.extra["blocks"], x.extra["reply_bytes"]) for x in team_cold}
    print(f"   /review team replies (answers, blocks, bytes): {sorted(replies)[:3]}; digests posted: "
          f"{sum(1 for x in scenario.samples if x.kind.startswith('digest') and x.extra['posted'])} of "
          f"{sum(1 for x in scenario.samples if x.kind.startswith('digest'))}")
    return rows + replay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prs", type=int, default=500, help="open pull requests in the fixture")
    parser.add_argument("--repos", type=int, default=50, help="repositories (5 teams, repos/5 each)")
    parser.add_argument("--seed", type=int, default=7, help="the data's random seed")
    parser.add_argument("--rounds", type=int, default=3, help="cold/warm rounds of the commands per team")
    parser.add_argument("--scale", action="store_true", help="also run 5,000 PRs (1 round, no --latency phase)")
    parser.add_argument("--latency", type=float, default=0.1, metavar="SECONDS",
                        help="also time one team's /review team and naive queue with the fixture waiting this long "
                             "before each answer (0: skip)")
    args = parser.parse_args()
    print_header(f"/review and the digest on {args.prs:,} open PRs in {args.repos} repositories"
                 + (", then 5,000" if args.scale else ""))
    started = time.perf_counter()
    runs: dict[str, Any] = {}
    tables: dict[str, Any] = {}
    plans = [(args.prs, args.rounds, args.latency)] + ([(5_000, 1, 0.0)] if args.scale else [])
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp, SlackRecorder() as slack:
        for prs, rounds, latency in plans:
            scenario = Scenario(prs, args.repos, args.seed, Path(tmp), slack)
            try:
                scenario.run(rounds, latency)
            finally:
                scenario.stop()
            tables[str(prs)] = report(scenario, rounds, latency)
            runs[str(prs)] = {"data": {k: v for k, v in scenario.data.items() if k != "home"},
                              "summary": summarise(scenario), "checks": scenario.checks, "heap": scenario.heap,
                              "schema_s": scenario.github.schema_s, "seed_s": scenario.github.seed_s,
                              "samples": [vars(x) for x in scenario.samples]}
            slack.clear()
    print(f"\n   whole run: {time.perf_counter() - started:.0f} s")
    path = save("review", {"args": vars(args), "runs": runs, "tables": tables})
    print(f"   saved {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
