"""Tables. Every side effect has a unique key here so exactly one process performs it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any  # at runtime too: SQLAlchemy evaluates the Mapped[...] annotations

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both SQLite (which forgets the zone) and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime stored; use aware UTC datetimes")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class SeenEvent(Base):
    """Slack event ids already handled, so redeliveries do nothing."""

    __tablename__ = "seen_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class InboxEvent(Base):
    """A Slack event the bot answered 200 to, written before the answer: the leader replays one whose work a killed
    process never finished (`done_at` unset, its claim older than the inbox lease)."""

    __tablename__ = "inbox_events"
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(32))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MessageReaction(Base):
    """Who reacted with which canonical emoji on which message, and when (for combos)."""

    __tablename__ = "message_reactions"
    __table_args__ = (UniqueConstraint("channel", "message_ts", "emoji", "user_id"),
                      Index("ix_message_reactions_message", "channel", "message_ts"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    emoji: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ComboFire(Base):
    """A combo fired on a message. The unique key makes it fire at most once, ever."""

    __tablename__ = "combo_fires"
    __table_args__ = (UniqueConstraint("channel", "message_ts", "combo"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(32))
    message_ts: Mapped[str] = mapped_column(String(32))
    combo: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(32))
    fired_at: Mapped[datetime] = mapped_column(UtcDateTime())
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # its replay may run the action again


class AlertRecord(Base):
    """An alert as Alertmanager last reported it (one row per fingerprint)."""

    __tablename__ = "alerts"
    fingerprint: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    alertname: Mapped[str] = mapped_column(String(255), default="")
    labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    starts_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    receiver: Mapped[str] = mapped_column(String(255), default="")
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


class SchedulerJob(Base):
    """APScheduler's SQLAlchemyJobStore table, created by our migrations so every table has one owner."""

    __tablename__ = "apscheduler_jobs"
    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float(25), index=True, nullable=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


class KeyValue(Base):
    """Small cached values with an expiry (e.g. Slack user locales, Cost Explorer answers)."""

    __tablename__ = "cache"
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class IncidentRow(Base):
    """One incident. The unique origin message makes a second incident for it impossible."""

    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("origin_channel", "origin_ts", name="uq_incident_origin"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(8))
    team: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    reporter: Mapped[str] = mapped_column(String(32))
    commander: Mapped[str | None] = mapped_column(String(32), nullable=True)
    language: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    origin_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    origin_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    origin_link: Mapped[str | None] = mapped_column(String(512), nullable=True)
    channel_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)
    thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    summary_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    confirmation_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    chain: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    mitigated_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    # The announcement (channel, page, confirmation, summary) is resumable: whoever holds the claim finishes it.
    origin_thread_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    channel_name: Mapped[str | None] = mapped_column(String(80), nullable=True)  # asked of Slack, maybe created
    announce_claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)


class IncidentEventRow(Base):
    """The incident timeline: status changes, pages, acks, escalations, notes, pinned messages."""

    __tablename__ = "incident_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer, index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(32), nullable=True)
    text: Mapped[str] = mapped_column(Text, default="")
    key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # for rendering in the reader's language


class EscalationStep(Base):
    """A page to send at `due_at`. The scheduler leader claims a step with one conditional UPDATE."""

    __tablename__ = "escalation_steps"
    __table_args__ = (UniqueConstraint("incident_id", "step"),
                      Index("ix_escalation_due", "status", "due_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[int] = mapped_column(Integer)
    step: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # page | exhausted | pagerduty
    tier: Mapped[str] = mapped_column(String(64), default="")
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))  # scheduled | sending | sent | failed | cancelled
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    dm_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dm_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed deliveries so far
    escalated_by: Mapped[str | None] = mapped_column(String(32), nullable=True)  # moved up by hand
    sending_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # the first send began


class OncallOverride(Base):
    __tablename__ = "oncall_overrides"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    team: Mapped[str] = mapped_column(String(64), index=True)
    tier: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertGroupRow(Base):
    """One Alertmanager alert group (its `groupKey`), where it is routed and the Slack message showing it."""

    __tablename__ = "alert_groups"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 of group_key, which can be long
    group_key: Mapped[str] = mapped_column(Text)
    alertname: Mapped[str] = mapped_column(String(255), default="", index=True)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    channel: Mapped[str | None] = mapped_column(String(32), nullable=True)
    status: Mapped[str] = mapped_column(String(16))  # firing | resolved
    common_labels: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    common_annotations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_url: Mapped[str] = mapped_column(String(512), default="")
    message_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the group's message, once posted
    shown: Mapped[str] = mapped_column(String(64), default="")  # digest of the state last queued for Slack
    held: Mapped[bool] = mapped_column(Boolean, default=False)  # a maintenance window holds its post
    silence_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    silenced_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    silenced_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class AlertFiringRow(Base):
    """One firing streak of a group: from its first firing notification to the resolve (the alert-quality facts)."""

    __tablename__ = "alert_firings"
    __table_args__ = (Index("ix_alert_firings_group", "group_id", "started_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    notifications: Mapped[int] = mapped_column(Integer, default=0)
    incident_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # set once: the streak's incident
    paged: Mapped[bool] = mapped_column(Boolean, default=False)  # the incident was opened by page_on and paged


class AlertOutboxRow(Base):
    """A Slack side effect of an alert, written before it is sent; the worker claims it with one UPDATE."""

    __tablename__ = "alert_outbox"
    __table_args__ = (Index("ix_alert_outbox_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # post | update | reply | notice
    channel: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # {"blocks": [...]} and kind's extras
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | superseded | failed
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sending_since: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # the first send began


class AlertFeedbackRow(Base):
    """Someone said an alert group is noisy (👎 or the Noisy button), once per person per group."""

    __tablename__ = "alert_feedback"
    __table_args__ = (UniqueConstraint("group_id", "user_id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(Integer)
    alertname: Mapped[str] = mapped_column(String(255), default="", index=True)
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)


class MaintenanceRow(Base):
    """A quiet window (from /alerts quiet, or one occurrence of a configured recurring window)."""

    __tablename__ = "maintenance_windows"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # config occurrences: one row per opening
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    namespace: Mapped[str | None] = mapped_column(String(255), nullable=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(32))
    start_announced: Mapped[bool] = mapped_column(Boolean, default=False)
    end_announced: Mapped[bool] = mapped_column(Boolean, default=False)


class GpuSnoozeRow(Base):
    """An idle pod hidden from idle lists and checks until `until` (the Snooze button)."""

    __tablename__ = "gpu_snoozes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    pod: Mapped[str] = mapped_column(String(320), index=True)  # namespace/name
    until: Mapped[datetime] = mapped_column(UtcDateTime())
    by: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UtcDateTime())


class NoticeRow(Base):
    """Something the bot told people on its own, claimed before it is said: a GPU owner nudge (once per pod per
    local day), a team's idle-GPU or 💸🔥 post and a GPU's health post (each open until it clears), tonight's 🛑
    shutdown warning."""

    __tablename__ = "notices"
    __table_args__ = (UniqueConstraint("kind", "subject", "period"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # owner | idle | health | burn | shutdown
    subject: Mapped[str] = mapped_column(String(320))  # namespace/pod, a team, a GPU's uuid/problem
    period: Mapped[str] = mapped_column(String(64))  # the local day of a nudge or a night; when a post opened
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True, index=True)


class GuardPlanRow(Base):
    """A destructive action planned before it acts (tonight's shutdown of a team, a snapshot clean-up): the
    dry run people see, confirm and act on. One row per plan; `state` moves planned → acting → done once."""

    __tablename__ = "guard_plans"
    __table_args__ = (UniqueConstraint("kind", "key"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # shutdown | snapshots
    key: Mapped[str] = mapped_column(String(128))  # team/night, or a random id for a snapshot clean-up
    team: Mapped[str | None] = mapped_column(String(64), nullable=True)
    state: Mapped[str] = mapped_column(String(16), default="planned")  # planned | acting | done
    acts_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # a shutdown's time
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acted_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)  # when acting began
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class GuardItemRow(Base):
    """One instance or snapshot of a plan. Its one row decides its fate: whoever's write sets `stopping` or
    `deleting` acts on it; a `kept` row can never be stopped; `done`/`failed` are never acted on again."""

    __tablename__ = "guard_items"
    __table_args__ = (UniqueConstraint("plan_id", "item"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[int] = mapped_column(Integer, index=True)
    item: Mapped[str] = mapped_column(String(64))  # i-…, snap-…
    state: Mapped[str] = mapped_column(String(16))  # planned | kept | stopping | deleting | done | failed
    by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    why: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(String(128), nullable=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CostExplorerUsage(Base):
    """Cost Explorer requests made per UTC day ($0.01 each), across every replica."""

    __tablename__ = "cost_explorer_usage"
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # 2026-11-24
    requests: Mapped[int] = mapped_column(Integer, default=0)


class Counter(Base):
    """A number handed out without gaps: incremented in the transaction that uses it, so a rolled-back insert
    gives its number back (a PostgreSQL sequence would not, and a race for one message made "incident #2" the
    first incident)."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class ReviewNudgeRow(Base):
    """A nudge to one reviewer of one pull request, or its one follow-up, stored before it is sent. The unique key
    makes it one nudge per reviewer per pull request per working day; `state` moves due → sending → sent once
    (a lease expired in `sending` is due again), or to done/cancelled/failed."""

    __tablename__ = "review_nudges"
    __table_args__ = (UniqueConstraint("repo", "number", "reviewer", "kind", "work_day"),
                      Index("ix_review_nudges_due", "state", "due_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    repo: Mapped[str] = mapped_column(String(200))  # owner/name
    number: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(64))  # GitHub login
    kind: Mapped[str] = mapped_column(String(16))  # nudge | follow_up
    work_day: Mapped[str] = mapped_column(String(10))  # reviewer-local day of the nudge (or of its follow-up's nudge)
    slack_user: Mapped[str] = mapped_column(String(32))
    author_slack: Mapped[str | None] = mapped_column(String(32), nullable=True)
    requested_by: Mapped[str] = mapped_column(String(32))
    tz: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    propose_at: Mapped[datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(16), default="due")  # due | sending | sent | done | cancelled | failed
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    channel: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the DM, once sent
    ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    answer: Mapped[str | None] = mapped_column(String(16), nullable=True)  # reviewing | cant | snooze
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason, and the PR as it was asked about


class ReviewReminderRow(Base):
    """A person's opt-in to a morning DM of their review queue; `last_day` is claimed before each one is sent."""

    __tablename__ = "review_reminders"
    slack_user: Mapped[str] = mapped_column(String(32), primary_key=True)
    team: Mapped[str] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    last_day: Mapped[str | None] = mapped_column(String(10), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
