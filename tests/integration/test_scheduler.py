"""Scheduled jobs live in the database and only one leader runs them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.scheduler import BotScheduler, FileLeaderLock, PostgresLeaderLock, leader_lock_for
from bot.store.db import make_engine, migrate
from tests.support.waiting import wait_until

RUNS: list[str] = []


def record_run() -> None:
    RUNS.append("ran")


def test_only_one_of_two_replicas_becomes_leader_and_the_other_takes_over(pg_url: str) -> None:
    engine_a, engine_b = make_engine(pg_url), make_engine(pg_url)
    migrate(engine_a)
    a = BotScheduler(engine_a, leader_lock_for(engine_a), lambda: [], poll_seconds=0.1)
    b = BotScheduler(engine_b, leader_lock_for(engine_b), lambda: [], poll_seconds=0.1)
    assert isinstance(a.lock, PostgresLeaderLock)
    a.start()
    wait_until(lambda: a.leader, timeout=10, message="replica a to become leader")
    b.start()
    time.sleep(0.5)  # time for b to try for the lock, which it must not get
    assert not b.leader
    a.shutdown()  # the leader goes away: its advisory lock is released
    wait_until(lambda: b.leader, timeout=10, message="replica b to take over as leader")
    b.shutdown()


def test_sqlite_leader_lock_is_exclusive_per_database_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    first, second = leader_lock_for(engine), leader_lock_for(engine)
    assert isinstance(first, FileLeaderLock)
    assert first.try_acquire() and not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_job_stored_before_a_restart_still_runs_after_it(database: str, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    url = request.getfixturevalue("pg_url") if database == "postgres" else f"sqlite:///{tmp_path / 'bot.db'}"
    engine = make_engine(url)
    migrate(engine)
    first = BotScheduler(engine, leader_lock_for(engine), lambda: [], poll_seconds=0.1)
    first.start()
    wait_until(lambda: first.leader, timeout=10, message="the first scheduler to become leader")
    first.scheduler.add_job("tests.integration.test_scheduler:record_run", DateTrigger(
        datetime.now(UTC) + timedelta(seconds=1.5)), id="one-off")
    first.shutdown()  # the process goes away before the job is due
    RUNS.clear()
    engine = make_engine(url)
    second = BotScheduler(engine, leader_lock_for(engine), lambda: [], poll_seconds=0.1)
    second.start()
    wait_until(lambda: RUNS == ["ran"], timeout=10, message="the stored one-off job to run once after the restart")
    second.shutdown()


def test_configured_jobs_are_registered_once_and_run_by_the_leader(tmp_path: Path) -> None:
    from bot.scheduler import JobSpec

    engine = make_engine(f"sqlite:///{tmp_path / 'bot.db'}")
    migrate(engine)
    RUNS.clear()
    specs = [JobSpec("tick", "tests.integration.test_scheduler:record_run", IntervalTrigger(seconds=0.3))]
    scheduler = BotScheduler(engine, leader_lock_for(engine), lambda: specs, poll_seconds=0.1)
    scheduler.start()
    wait_until(lambda: len(RUNS) >= 2, timeout=10, message="the interval job to run twice")
    assert [job.id for job in scheduler.scheduler.get_jobs()] == ["tick"]
    scheduler.shutdown()
