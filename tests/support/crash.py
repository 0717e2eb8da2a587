"""kill -9 at a chosen point of the bot's work, then a restart: the harness of tests/faults/test_kill_*.py.

A *life* is the list of `Step`s the outside world performs: a Slack event, a click, an Alertmanager notification, or
time passing while the leader's jobs run (every TICK). `crash_and_restart` forks a child process that builds the real
bot (services and Bolt app on the test's database, with a frozen clock), performs the steps, and SIGKILLs it at a
`KillPoint`:
- `slack-before` n: the n-th Slack call never reaches Slack (the process dies while sending it);
- `slack-after` n: Slack acts on the n-th call, and the process dies before it reads the answer;
- `commit` n: the process dies as its n-th database transaction commits (the transaction is lost).
Then it forks a second child, the restarted process, at the moment of the kill plus a few seconds: it redoes what
the outside world redoes (Slack redelivers an event it got no ack for; a person whose click did nothing clicks
again; Alertmanager retries a notification until it gets its 200), lets the leader's jobs run, past every lease, and
goes on with the rest of the life. What the two processes
did is then in the database and the Slack recorder, where the test checks its invariants.

Forking (not spawning `python -m bot`) keeps an iteration under a second, so hundreds of seeded kill points fit in
CI; the kill is still a real SIGKILL of a process in the middle of its work.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.web import build_web
from tests.support.inprocess import START, dispatch, make_app, make_services
from tests.support.slack_recorder import Call, SlackRecorder

RESTART_AFTER = timedelta(seconds=3)
ITERATIONS = 100  # kill points per life and database in CI: 200 per life over SQLite and PostgreSQL
# Long enough for every lease a killed process can leave behind (pages, outbox rows, events) to lapse.
RECOVERY = timedelta(minutes=2)
# How often the leader's jobs run as the harness moves time on (the scheduler's own ticks are 1-10 s; a minute keeps
# an iteration short and still finds every page, escalation and retry at its time).
TICK = timedelta(minutes=1)
KINDS = ("slack-before", "slack-after", "commit")


@dataclass(frozen=True)
class Step:
    """Something the outside world does at `at` (from START): `event` and `click` build a request body from
    what Slack has seen so far; `jobs` lets the leader's jobs run."""

    at: timedelta
    kind: str  # "event" | "click" | "alert" | "jobs"
    body: Callable[[SlackRecorder], bytes] | None = None
    event_id: str | None = None  # an event's id: Slack redelivers it with the same id


@dataclass(frozen=True)
class KillPoint:
    kind: str  # one of KINDS
    n: int

    def __str__(self) -> str:
        return f"{self.kind} #{self.n}"


@dataclass
class Run:
    """What one crash-and-restart did: where the first process died and what the restart redid."""

    point: KillPoint | None
    killed: bool = False
    died_in_step: int | None = None  # the step it was doing, or moving time towards
    step_begun: bool = False  # whether that step itself had begun (else it died in the jobs before it)
    died_at: datetime | None = None  # the bot's clock when it died
    redone: list[str] = field(default_factory=list)


def leader_jobs(services: Any) -> None:
    """One round of the jobs that carry an incident's and an alert's life, run to completion (the scheduler's own
    job functions hand the same work to worker threads): unfinished work taken over, pages, alert posts."""
    from bot.jobs import finish_unfinished_work

    finish_unfinished_work(services)
    services.escalation.work_due()
    services.alerts.deliver(wait=True)


class KillingRecorder(SlackRecorder):
    """The Slack recorder, able to SIGKILL the process that makes its n-th call, before or after Slack acts."""

    def __init__(self) -> None:
        super().__init__()
        self.victim: int | None = None
        self._point: KillPoint | None = None
        self._seen = 0

    def arm(self, pid: int, point: KillPoint | None) -> None:
        self.victim, self._seen = pid, 0
        self._point = point if point and point.kind.startswith("slack") else None

    def answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        point, victim = self._point, self.victim
        if point is None or victim is None:
            return super().answer(call)
        self._seen += 1
        if self._seen != point.n:
            return super().answer(call)
        if point.kind == "slack-before":
            self._kill(victim)
            return 500, {"ok": False, "error": "the caller was killed"}, {}
        answered = super().answer(call)
        self._kill(victim)
        return answered

    def _kill(self, pid: int) -> None:
        self._point = None
        os.kill(pid, signal.SIGKILL)


def pick_points(seed: int, count: int, slack_calls: int, commits: int) -> list[KillPoint]:
    """`count` seeded kill points spread over a clean run's `slack_calls` Slack calls and `commits` commits."""
    rng = random.Random(seed)
    points = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        points.append(KillPoint(kind, rng.randint(1, commits if kind == "commit" else slack_calls)))
    return points


class Life:
    """Runs a life's steps in forked bot processes over one database and one Slack recorder."""

    def __init__(self, slack: KillingRecorder, config: dict[str, Any], steps: Sequence[Step], workdir: Path,
                 acked: Callable[[Any, Step], bool]) -> None:
        """`acked(services, step)`: whether Slack got its answer to an event (so it will not redeliver it)."""
        self.slack, self.config, self.steps, self.workdir, self.acked = slack, config, list(steps), workdir, acked

    def clean_run(self, db_url: str) -> tuple[int, int]:
        """The life without a kill: (Slack calls, commits) it made, the range kill points are drawn from."""
        self._warm_up()
        counts = self.workdir / "commits"
        before = len(self.slack.calls())
        self._fork(db_url, lambda services, app: self._perform(services, app, 0, commits_to=counts), None)
        return len(self.slack.calls()) - before, int(counts.read_text())

    def _warm_up(self) -> None:
        """Build the bot once here, on a scratch database and with no thread started, so every forked child starts
        with the imports, catalogs and caches loaded (a child then builds its bot in milliseconds)."""
        services = make_services(f"sqlite:///{self.workdir / 'warm-up.db'}", self.slack, self.config, _clock())
        build_web(make_app(services), services)
        services.engine.dispose()

    def crash_and_restart(self, db_url: str, point: KillPoint) -> Run:
        run = Run(point)
        progress = self.workdir / "progress"
        progress.write_text("")
        status = self._fork(db_url, lambda services, app: self._perform(services, app, 0, progress=progress), point)
        run.killed = os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        lines = progress.read_text().split()
        if run.killed and lines:
            what, index, epoch = lines[-3:]
            run.died_in_step, run.step_begun = int(index), what == "step"
            run.died_at = datetime.fromtimestamp(float(epoch), UTC)
        self._fork(db_url, lambda services, app: self._restart(services, app, run), None)
        return run

    # ------------------------------------------------------------------ inside the children

    def _perform(self, services: Any, app: Any, first: int, progress: Path | None = None,
                 commits_to: Path | None = None) -> None:
        commits = _count_commits(services.engine)
        def note(what: str, index: int) -> None:  # where the process is, for the restart to pick up from
            if progress is not None:
                with progress.open("a") as file:
                    file.write(f"{what} {index} {services.clock.now().timestamp()}\n")

        for index in range(first, len(self.steps)):
            step = self.steps[index]
            _tick_until(services, START + step.at, lambda: note("tick", index))  # noqa: B023 (called at once)
            note("step", index)
            self._do(services, app, step)
        if commits_to is not None:
            commits_to.write_text(str(commits()))

    def _restart(self, services: Any, app: Any, run: Run) -> None:
        if run.died_in_step is None:
            return
        step = self.steps[run.died_in_step]
        assert run.died_at is not None
        _set_clock(services, run.died_at + RESTART_AFTER)
        next_step = run.died_in_step
        if run.step_begun:
            next_step += 1
            if step.kind in ("click", "alert") or (step.kind == "event" and not self.acked(services, step)):
                run.redone.append(step.kind)
                self._do(services, app, step)
        leader_jobs(services)
        self._perform(services, app, next_step)
        _tick_until(services, services.clock.now() + RECOVERY)
        leader_jobs(services)

    def _do(self, services: Any, app: Any, step: Step) -> None:
        if step.kind == "jobs":
            leader_jobs(services)
            return
        assert step.body is not None
        if step.kind == "alert":  # Alertmanager's POST, through the bot's own web app
            answer = build_web(app, services).test_client().post(
                "/alertmanager", data=step.body(self.slack), content_type="application/json")
            assert answer.status_code == 200, answer.get_data(as_text=True)
        else:
            dispatch(app, step.body(self.slack))

    def _fork(self, db_url: str, work: Callable[[Any, Any], None], point: KillPoint | None) -> int:
        errors = self.workdir / "child-error"
        errors.unlink(missing_ok=True)
        pid = os.fork()
        if pid == 0:  # the child: build the bot, work, and leave without running the parent's clean-up
            code = 0
            # What the child logs stays in its own memory and is gone with it (the suite's log scan never sees it).
            logging.disable(logging.INFO)
            try:
                services = make_services(db_url, self.slack, self.config, _clock())
                services.chat.pacer.burst = 1_000_000  # Slack's pacing is tested elsewhere; here it only sleeps
                if point is not None and point.kind == "commit":
                    _kill_at_commit(services.engine, point.n)
                work(services, make_app(services))
            except BaseException:
                errors.write_text(traceback.format_exc())
                code = 3
            os._exit(code)
        self.slack.arm(pid, point)
        _, status = os.waitpid(pid, 0)
        self.slack.arm(0, None)
        if os.WIFEXITED(status) and os.WEXITSTATUS(status) != 0:
            raise AssertionError(f"bot process failed (kill point {point}):\n{errors.read_text()}")
        return status


def _clock() -> Any:
    from bot.clock import FrozenClock

    return FrozenClock(START)


def _set_clock(services: Any, moment: Any) -> None:
    services.clock.set(moment)


def _tick_until(services: Any, moment: Any, before_each: Callable[[], None] = lambda: None) -> None:
    """Time passes to `moment`, the leader's jobs running every TICK on the way, as its scheduler runs them."""
    now = services.clock.now()
    while now + TICK < moment:
        now += TICK
        _set_clock(services, now)
        before_each()
        leader_jobs(services)
    _set_clock(services, max(services.clock.now(), moment))


def _count_commits(engine: Any) -> Callable[[], int]:
    from sqlalchemy import event

    seen = [0]

    def count(_connection: Any) -> None:
        seen[0] += 1

    event.listen(engine, "commit", count)
    return lambda: seen[0]


def _kill_at_commit(engine: Any, n: int) -> None:
    from sqlalchemy import event

    seen = [0]

    def maybe_die(_connection: Any) -> None:
        seen[0] += 1
        if seen[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)

    event.listen(engine, "commit", maybe_die)


def broken_lives(life: Life, databases: Any, invariants: Callable[[str, KillingRecorder], list[str]], seed: int,
                 iterations: int) -> list[str]:
    """Run `life` clean once, then killed at `iterations` seeded points, each on a fresh database from
    `databases` (tests/faults/databases.py); what went wrong in each broken one, as people would notice it."""
    slack = life.slack
    slack_calls, commits = life.clean_run(databases.fresh())
    assert not invariants(databases.last, slack), "the life itself is wrong, before any kill"
    failures = []
    for point in pick_points(seed, iterations, slack_calls, commits):
        slack.clear()
        slack.forget_workspace()
        db_url = databases.fresh()
        run = life.crash_and_restart(db_url, point)
        problems = invariants(db_url, slack)
        if problems:
            failures.append(f"kill at {point} (in step {run.died_in_step}, redone {run.redone}): "
                            + "; ".join(problems))
    return failures


def iterations() -> int:
    """Kill points per life and database: ITERATIONS, or KILL_ITERATIONS from the environment (a longer hunt)."""
    return int(os.environ.get("KILL_ITERATIONS", ITERATIONS))
