"""Engine creation and migrations for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import URL, CursorResult, Engine, Result, create_engine, event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from bot.settings import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x656D6F6D  # "emom": held while one process upgrades; the leader lock is another key


def normalise_url(url: str) -> str:
    """Accept the URLs people paste (postgres://, postgresql://) and use psycopg 3 for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def make_engine(url: str) -> Engine:
    """An engine for DATABASE_URL, or ConfigError when the URL or its driver cannot be used."""
    try:
        return _create(normalise_url(url))
    except (ArgumentError, ImportError) as exc:  # ImportError: a driver such as +psycopg2 that is not installed
        raise ConfigError(f"DATABASE_URL: cannot use this database URL ({exc}); expected sqlite:///path/to/file.db "
                          "or postgresql://user:password@host:5432/database") from None


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                         connect_args={"connect_timeout": 5})


@contextmanager
def explain_connection_errors(engine: Engine) -> Iterator[None]:
    """At start: a database that cannot be reached becomes a ConfigError naming where, why and what to check."""
    try:
        yield
    except OperationalError as exc:
        raise ConfigError(describe_connection_error(engine.url, exc)) from None


def describe_connection_error(url: URL, exc: OperationalError) -> str:
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
    reason = reason.rsplit(" failed: ", 1)[-1].removeprefix("connection failed: ")  # psycopg repeats where
    if url.password:
        reason = reason.replace(str(url.password), "***")
    if url.get_backend_name() == "sqlite":
        return (f"DATABASE_URL: cannot open the SQLite database {url.database or ':memory:'} ({reason}): "
                "check DATABASE_URL and that its directory exists and is writable")
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    return (f"DATABASE_URL: cannot connect to the database at {where} ({reason[:1].lower()}{reason[1:]}): "
            "check DATABASE_URL and that the server is running")


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def migrate(engine: Engine) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Replicas start together: the first upgrades, the others wait for its lock, then find nothing to do.
    with _sqlite_file_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("select pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """SQLite runs DDL outside its write lock, so processes upgrading one file take a lock file beside it."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    lock = Path(database + ".migrate.lock")
    if not lock.parent.is_dir():  # opening the database will say clearly what is wrong
        yield
        return
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ping(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("select 1"))


def rows_matched(result: Result[*tuple[Any, ...]]) -> int:
    """How many rows an UPDATE or DELETE matched.

    Session.execute() is typed to return a plain Result, but for DML it returns a CursorResult, the only
    kind that has `rowcount`; anything else here means the statement was not an UPDATE or DELETE.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"{type(result).__name__} has no rowcount: not the result of an UPDATE or DELETE")
    return result.rowcount or 0


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
