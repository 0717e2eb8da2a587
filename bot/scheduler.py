"""APScheduler with its jobs in the bot's database; only the elected leader runs them.

Leader election: a PostgreSQL session advisory lock (held by one connection for the life of the
leader), or on SQLite an exclusive file lock next to the database (SQLite means one host).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Connection, Engine, text

from bot.metrics import LEADER

log = logging.getLogger(__name__)
LOCK_KEY = 0x656D6F6A  # "emoj": one advisory lock id for the whole bot
SETTLE = 0.5  # seconds beyond one poll that a new leader holds the lock before it acts


class LeaderLock(Protocol):
    def try_acquire(self) -> bool: ...
    def still_held(self) -> bool: ...
    def release(self) -> None: ...


class PostgresLeaderLock:
    def __init__(self, engine: Engine, key: int = LOCK_KEY) -> None:
        self.engine = engine
        self.key = key
        self.connection: Connection | None = None

    def try_acquire(self) -> bool:
        connection = self.engine.connect()
        got = bool(connection.execute(text("select pg_try_advisory_lock(:k)"), {"k": self.key}).scalar())
        connection.commit()
        if got:
            self.connection = connection
        else:
            connection.close()
        return got

    def still_held(self) -> bool:
        if self.connection is None:
            return False
        try:
            self.connection.execute(text("select 1"))
            self.connection.commit()
            return True
        except Exception:
            log.warning("lost the database connection that holds the leader lock")
            self.connection = None
            return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.execute(text("select pg_advisory_unlock(:k)"), {"k": self.key})
                self.connection.close()
            finally:
                self.connection = None


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.handle: Any = None

    def try_acquire(self) -> bool:
        handle = self.path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def still_held(self) -> bool:
        return self.handle is not None

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None


def leader_lock_for(engine: Engine) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    database = engine.url.database
    path = Path(database + ".leader") if database and database != ":memory:" else Path(".leader.lock")
    return FileLeaderLock(path)


@dataclass(frozen=True)
class JobSpec:
    """A job the leader keeps scheduled: `func` must be importable (module:function) to persist."""

    id: str
    func: str
    trigger: Any


class BotScheduler:
    def __init__(self, engine: Engine, lock: LeaderLock, jobs: Callable[[], list[JobSpec]],
                 poll_seconds: float = 2.0) -> None:
        self.scheduler = BackgroundScheduler(
            jobstores={"default": SQLAlchemyJobStore(engine=engine)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
            timezone="UTC",
        )
        self.lock = lock
        self.jobs = jobs
        self.poll_seconds = poll_seconds
        self.leader = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._campaign, name="leader-election", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _campaign(self) -> None:
        while not self._stop.is_set():
            try:
                self._step()
            except Exception:
                log.exception("leader election step failed; will try again")
            self._stop.wait(self.poll_seconds)

    def _step(self) -> None:
        if self.leader and not self.lock.still_held():
            log.warning("no longer the leader; pausing scheduled jobs")
            self.scheduler.pause()
            self.leader = False
            LEADER.set(0)
        if not self.leader and self.lock.try_acquire():
            # A leader whose session the database ended (a failover, pg_terminate_backend) learns it at its next
            # check, up to one poll from now: wait that long before acting, so two never run the jobs at once.
            if self._stop.wait(self.poll_seconds + SETTLE) or not self.lock.still_held():
                return
            self.leader = True
            LEADER.set(1)
            self._run_jobs()

    def _run_jobs(self) -> None:
        if not self.scheduler.running:
            self.scheduler.start(paused=True)
        for job in self.jobs():
            existing = self.scheduler.get_job(job.id)
            # Keep a stored job as it is, so a run missed while no leader was up still happens once.
            if existing is None or existing.func_ref != job.func or str(existing.trigger) != str(job.trigger):
                self.scheduler.add_job(job.func, job.trigger, id=job.id, replace_existing=True)
        self.scheduler.resume()
        log.info("elected leader; running %d scheduled job(s)", len(self.scheduler.get_jobs()))

    def shutdown(self) -> None:
        self._stop.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.lock.release()
