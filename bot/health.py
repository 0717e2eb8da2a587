"""The bot's own health, for `/healthz`: the database answers, and it still accepts a write.

Answering is not enough: a SQLite file made immutable or deleted under the running process, or a
PostgreSQL switched to read-only, still answers `select 1` while every incident would fail to save.
So every check opens a fresh connection (a pooled one keeps an unlinked file open, and a new pooled one
would create an empty file in its place), and at most every few seconds it also upserts a row; that
outcome is reused in between.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.store.db import ping
from bot.store.repo import kv_upsert

log = logging.getLogger(__name__)
WRITE_CHECK_EVERY = 5.0  # seconds a write check's outcome is reused
HEALTH_KEY = "healthz"


@dataclass(frozen=True)
class Problem:
    read_only: bool  # else unreachable
    detail: str

    @property
    def database(self) -> str:
        return f"{'read-only' if self.read_only else 'unreachable'}: {self.detail}"

    @property
    def reason(self) -> str:
        return f"database {'is read-only' if self.read_only else 'unreachable'}: {self.detail}"


@dataclass(frozen=True)
class Health:
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None

    def as_json(self) -> dict[str, str]:
        if self.problem is None:
            return {"status": "ok", "database": "ok"}
        return {"status": "unhealthy", "database": self.problem.database, "reason": self.problem.reason}


class HealthCheck:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = _fresh_connections(engine)
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._write_problem: Problem | None = None

    def check(self) -> Health:
        return Health(self._reachable() or self._writable())

    def _reachable(self) -> Problem | None:
        missing = _missing_sqlite_file(self._engine)
        problem = Problem(False, f"the file {missing} no longer exists (deleted while the bot was running?)") \
            if missing else None
        if problem is None:
            try:
                ping(self._writer)
            except SQLAlchemyError as exc:
                problem = _describe(exc, self._engine)
        if problem:
            log.error("health check failed: %s", problem.reason)
        return problem

    def _writable(self) -> Problem | None:
        with self._lock:  # one write at a time; concurrent probes reuse its outcome
            if time.monotonic() - self._checked_at >= WRITE_CHECK_EVERY:
                self._write_problem = self._upsert()
                self._checked_at = time.monotonic()
            if self._write_problem:
                log.error("health check failed: %s", self._write_problem.reason)
            return self._write_problem

    def _upsert(self) -> Problem | None:
        now = datetime.now(UTC)
        try:
            with self._writer.begin() as connection:
                connection.execute(_upsert_statement(self._writer, now))
        except SQLAlchemyError as exc:
            return _describe(exc, self._engine)
        return None


def _fresh_connections(engine: Engine) -> Engine:
    """An engine that opens a new connection per check, refusing to create a missing SQLite file."""
    url = engine.url
    if url.get_backend_name() != "sqlite":
        return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    if not url.database or url.database == ":memory:":
        return engine  # nothing on disk to lose; the one connection is the database
    uri = f"sqlite:///file:{quote(url.database)}?mode=rw&uri=true"
    return create_engine(uri, poolclass=NullPool, connect_args={"timeout": 3, "check_same_thread": False})


def _missing_sqlite_file(engine: Engine) -> str | None:
    database = engine.url.database
    if engine.url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if Path(database).exists() else database


def _upsert_statement(engine: Engine, now: datetime) -> postgresql.Insert | sqlite.Insert:
    return kv_upsert(engine.dialect.name, HEALTH_KEY, json.dumps(now.isoformat()), now + timedelta(minutes=1))


def _describe(exc: SQLAlchemyError, engine: Engine) -> Problem:
    original = getattr(exc, "orig", None) or exc
    text = (str(original).strip().splitlines() or [type(original).__name__])[0][:200]
    if engine.url.password:
        text = text.replace(str(engine.url.password), "***")
    return Problem("read-only" in text.lower() or "readonly" in text.lower(), text)
