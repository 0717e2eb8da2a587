"""The alert outbox: every Slack side effect of an alert is a row first, then sent by the leader's worker.

A row is claimed with one conditional UPDATE (pending → sending), so replicas and restarts neither lose nor
repeat it; a claim left `sending` by a killed process is taken over after LEASE. A group's rows go out in
the order they were written; a group's message is rendered from its state when sent, so several queued
updates collapse into one (the latest state wins). Slack trouble puts a row back with a jittered delay;
only a permanent refusal (channel not found, not in channel) fails it, logged and counted.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.clients import Once
from bot.clock import Clock, aware
from bot.metrics import ALERT_OUTBOX
from bot.retry import BackendError
from bot.store.db import rows_matched
from bot.store.models import AlertOutboxRow

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=60)
GIVE_UP_AFTER = timedelta(hours=24)  # a row Slack keeps refusing as "try later" for a day is failed
MAX_DELAY = 60.0
BATCH = 500
CHANNEL_WORKERS = 32  # channels drained at once (each mostly waits on Slack)
GROUP_KINDS = ("post", "update", "reply", "incident", "correlate")


@dataclass(frozen=True)
class Item:
    id: int
    group_id: int | None
    kind: str  # post | update | reply | notice | incident | correlate
    channel: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    earlier_send: datetime | None = None  # when an earlier send of it began (a killed or unanswered one)

    def once(self) -> Once:
        """Its message goes to Slack once, even when an earlier send may have landed."""
        return Once(f"alert-outbox:{self.id}", self.earlier_send)


class Outcome:
    """What a sender says about an item: done, or wait (its group's message is not posted yet)."""

    SENT = "sent"
    WAIT = "wait"
    SKIP = "superseded"


Sender = Callable[[Item], str]


def enqueue(session: Session, kind: str, channel: str, now: datetime, group_id: int | None = None,
            payload: dict[str, Any] | None = None) -> None:
    """Queue a side effect inside the caller's transaction; an update already queued for the group is enough."""
    if kind == "update" and group_id is not None and session.scalar(select(AlertOutboxRow.id).where(
            AlertOutboxRow.group_id == group_id, AlertOutboxRow.kind.in_(("post", "update")),
            AlertOutboxRow.status == "pending").limit(1)) is not None:
        return  # the queued post or update renders the group as it is when sent
    session.add(AlertOutboxRow(group_id=group_id, kind=kind, channel=channel, payload=payload or {},
                               status="pending", due_at=now, attempts=0, created_at=now))


def depth(factory: sessionmaker[Session], now: datetime) -> tuple[int, float]:
    """(rows waiting, age in seconds of the oldest) for /metrics."""
    with factory() as session:
        count, oldest = session.execute(select(func.count(), func.min(AlertOutboxRow.created_at)).where(
            AlertOutboxRow.status.in_(("pending", "sending")))).one()
    if not count or oldest is None:
        return 0, 0.0
    return int(count), max(0.0, (now - aware(oldest)).total_seconds())


class OutboxWorker:
    """Sends due rows, one thread per channel: a channel held back by Slack's rate limit never delays another.

    `work(wait=False)` (the scheduler's tick) starts a drain for each channel with due rows that has none
    running and returns at once; the drain sends that channel's rows until none is due. `work()` waits for the
    drains it started (tests, the shell).
    """

    def __init__(self, factory: sessionmaker[Session], clock: Clock, sender: Sender) -> None:
        self.factory = factory
        self.clock = clock
        self.sender = sender
        self._pool = ThreadPoolExecutor(max_workers=CHANNEL_WORKERS, thread_name_prefix="alert-outbox")
        self._draining: set[str] = set()
        self._lock = threading.Lock()

    def work(self, wait: bool = True) -> int:
        """Start draining every channel with rows due; with `wait`, the number of rows finished."""
        started = []
        for channel in self._due_channels():
            with self._lock:
                if channel in self._draining:
                    continue
                self._draining.add(channel)
            started.append(self._pool.submit(self._drain, channel))
        return sum(future.result() for future in started) if wait else 0

    def _drain(self, channel: str) -> int:
        done = 0
        try:
            while True:
                items = self._due(channel)
                finished = self._work_channel(items) if items else 0
                done += finished
                if not finished:  # nothing due, or all of it waiting for a retry or its group's post
                    return done
        except Exception:  # a database outage: logged; the next tick tries again
            log.exception("alert outbox: draining %s failed", channel or "(no channel)")
            return done
        finally:
            with self._lock:
                self._draining.discard(channel)

    def _due_channels(self) -> list[str]:
        with self.factory() as session:
            return list(session.scalars(select(AlertOutboxRow.channel).where(self._is_due(self.clock.now()))
                                        .distinct()))

    def _due(self, channel: str) -> list[Item]:
        with self.factory() as session:
            rows = session.scalars(select(AlertOutboxRow).where(AlertOutboxRow.channel == channel,
                                                                self._is_due(self.clock.now()))
                                   .order_by(AlertOutboxRow.id).limit(BATCH)).all()
            return [Item(r.id, r.group_id, r.kind, r.channel, dict(r.payload or {}), r.attempts, r.created_at,
                         aware(r.sending_since) if r.sending_since else None) for r in rows]

    @staticmethod
    def _is_due(now: datetime) -> ColumnElement[bool]:
        return or_((AlertOutboxRow.status == "pending") & (AlertOutboxRow.due_at <= now),
                   (AlertOutboxRow.status == "sending") & (AlertOutboxRow.claimed_at < now - LEASE))

    def _work_channel(self, items: Iterable[Item]) -> int:
        done = 0
        blocked: set[int] = set()  # groups with an earlier row still waiting: keep their order
        for item in items:
            if item.group_id is not None and item.group_id in blocked:
                continue
            finished = self._one(item)
            done += finished
            if not finished and item.group_id is not None:
                blocked.add(item.group_id)
        return done

    def _one(self, item: Item) -> bool:
        now = self.clock.now()
        if not self._claim(item.id, now):
            return False
        try:
            outcome = self.sender(item)
        except BackendError as exc:
            return self._failed(item, exc)
        except Exception:
            log.exception("alert outbox row %s (%s) failed unexpectedly", item.id, item.kind)
            return self._failed(item, BackendError("slack", "internal error", transient=True))
        if outcome == Outcome.WAIT:
            self._back(item, delay=1.0, count=False)
            return False
        self._finish(item.id, outcome)
        ALERT_OUTBOX.labels(item.kind, outcome).inc()
        return True

    def _claim(self, row_id: int, now: datetime) -> bool:
        with self.factory.begin() as session:
            return rows_matched(session.execute(update(AlertOutboxRow).where(
                AlertOutboxRow.id == row_id,
                or_(AlertOutboxRow.status == "pending",
                    (AlertOutboxRow.status == "sending") & (AlertOutboxRow.claimed_at < now - LEASE)))
                .values(status="sending", claimed_at=now,
                        sending_since=func.coalesce(AlertOutboxRow.sending_since, now)))) == 1

    def _finish(self, row_id: int, status: str, error: str | None = None) -> None:
        with self.factory.begin() as session:
            session.execute(update(AlertOutboxRow).where(AlertOutboxRow.id == row_id).values(
                status=status, sent_at=self.clock.now(), error=error))

    def _failed(self, item: Item, exc: BackendError) -> bool:
        too_old = self.clock.now() - aware(item.created_at) > GIVE_UP_AFTER
        if exc.transient and not too_old:
            log.info("alert outbox row %s (%s) will be retried: %s", item.id, item.kind, exc.reason)
            self._back(item, delay=min(MAX_DELAY, 2.0 ** min(item.attempts, 6)) * random.uniform(0.5, 1.0))
            ALERT_OUTBOX.labels(item.kind, "retried").inc()
            return False
        log.warning("alert outbox row %s (%s to %s) failed for good: %s", item.id, item.kind, item.channel,
                    exc.reason)
        self._finish(item.id, "failed", exc.reason[:255])
        ALERT_OUTBOX.labels(item.kind, "failed").inc()
        return True

    def _back(self, item: Item, delay: float, count: bool = True) -> None:
        with self.factory.begin() as session:
            session.execute(update(AlertOutboxRow).where(AlertOutboxRow.id == item.id).values(
                status="pending", claimed_at=None, due_at=self.clock.now() + timedelta(seconds=delay),
                attempts=AlertOutboxRow.attempts + (1 if count else 0),
                **({} if count else {"sending_since": None})))  # a row that waited sent nothing


def waiting(factory: sessionmaker[Session], group_id: int, kind: str) -> bool:
    """Whether a `kind` row of the group is still to be sent (its later rows wait for it)."""
    with factory() as session:
        return session.scalar(select(AlertOutboxRow.id).where(
            AlertOutboxRow.group_id == group_id, AlertOutboxRow.kind == kind,
            AlertOutboxRow.status.in_(("pending", "sending"))).limit(1)) is not None
