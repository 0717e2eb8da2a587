"""The incident as the rest of the bot sees it: plain dataclasses, no database or Slack types."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

STATUSES = ("open", "acknowledged", "mitigated", "resolved", "cancelled")
SEVERITIES = ("sev1", "sev2", "sev3", "sev4")


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # opened, paged, page_failed, acknowledged, escalated, severity, note, resolution, pinned,
    #            mitigated, resolved, cancelled, gap, exhausted, alert (params: {"labels": {…}, "group": id})
    actor: str | None  # Slack user id, or None for the bot
    text: str  # English, for logs and old rows; readers see `incident.timeline_<kind>` filled with `params`
    params: dict[str, Any] | None = None


@dataclass(frozen=True)
class Incident:
    id: int
    title: str
    severity: str
    team: str
    status: str
    reporter: str
    commander: str | None
    language: str
    created_at: datetime
    source: str = "command"  # reaction | text | command | shortcut
    origin_channel: str | None = None
    origin_ts: str | None = None
    origin_link: str | None = None
    origin_thread_ts: str | None = None  # the thread the origin message is in, if it is a reply
    channel_id: str | None = None
    thread_ts: str | None = None
    summary_ts: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    cancelled_at: datetime | None = None
    responders: tuple[str, ...] = ()
    timeline: tuple[TimelineEntry, ...] = field(default_factory=tuple)

    @property
    def number(self) -> int:
        return self.id

    @property
    def closed(self) -> bool:
        return self.status in {"resolved", "cancelled"}

    def time_to(self, moment: datetime | None) -> timedelta | None:
        return moment - self.created_at if moment else None

    @property
    def resolution(self) -> TimelineEntry | None:
        """How it was resolved: the last note marked as the resolution (kind "resolution"), else the last plain
        note written before it was resolved (kind "note"), else None. The entry's kind tells which."""
        marked = [e for e in self.timeline if e.kind == "resolution" and e.text.strip()]
        if marked:
            return marked[-1]
        end = self.resolved_at
        notes = [e for e in self.timeline
                 if e.kind == "note" and e.text.strip() and (end is None or e.at <= end)]
        return notes[-1] if notes else None


@dataclass(frozen=True)
class ChainMember:
    tier: str
    user: str  # a Slack user id, or "?<member>" for a rotation member that names no Slack user

    @property
    def resolved(self) -> bool:
        return not self.user.startswith("?")


@dataclass(frozen=True)
class ChainSnapshot:
    """Everything escalation needs, frozen when the incident opens: later config edits don't change it."""

    configured: bool = False  # the team has a rotation at all
    steps: tuple[ChainMember, ...] = ()
    gaps: tuple[str, ...] = ()  # tiers nobody covers right now
    sla_seconds: dict[str, float | None] = field(default_factory=dict)  # severity -> ack window
    page: dict[str, bool] = field(default_factory=dict)  # severity -> whether it pages at all
    repeat: int = 0  # extra rounds of the last tier

    def pages(self, severity: str) -> bool:
        return bool(self.steps) and self.page.get(severity, True)

    def sla_for(self, severity: str) -> timedelta | None:
        seconds = self.sla_seconds.get(severity)
        return timedelta(seconds=seconds) if seconds else None

    @property
    def people(self) -> set[str]:
        return {step.user for step in self.steps if step.resolved}

    def to_json(self) -> dict[str, Any]:
        return {"configured": self.configured, "steps": [{"tier": s.tier, "user": s.user} for s in self.steps],
                "gaps": list(self.gaps), "sla": dict(self.sla_seconds), "page": dict(self.page),
                "repeat": self.repeat}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ChainSnapshot:
        data = data or {}
        return cls(configured=bool(data.get("configured")),
                   steps=tuple(ChainMember(str(s["tier"]), str(s["user"])) for s in data.get("steps", [])),
                   gaps=tuple(data.get("gaps", [])), sla_seconds=dict(data.get("sla", {})),
                   page=dict(data.get("page", {})), repeat=int(data.get("repeat", 0)))


@dataclass(frozen=True)
class Page:
    """One step of an incident's escalation as the desk and handlers see it (never the database row)."""

    id: int
    incident_id: int
    step: int  # -1: the PagerDuty trigger; 0, 1, …: Slack pages down the chain; the last: "exhausted"
    kind: str  # page | exhausted | pagerduty
    tier: str
    user: str
    status: str  # scheduled | sending | sent | failed | cancelled
    due_at: datetime
    attempts: int = 0
    error: str | None = None
    escalated_by: str | None = None
    sent_at: datetime | None = None
    dm_channel: str | None = None
    dm_ts: str | None = None
    earlier_send: datetime | None = None  # when an earlier send began (killed, or unanswered): Slack is read first


@dataclass(frozen=True)
class Resemblance:
    """A past incident of the same team that looks like a new one, with why, so the reader can judge the match.

    `shared_labels` are (label, value) pairs in the order alertname, namespace, deployment; `shared_words` the
    title tokens both titles have (CJK as character pairs), in the new title's order. `resolution` is the
    note marked as the resolution (`resolution_kind` "resolution") or the last note before it was resolved
    ("note"); None when nobody wrote either. `duration` runs from opening to resolving (to mitigating when it
    was only mitigated); `ago` from its opening to the new incident's.
    """

    incident_id: int
    title: str
    status: str  # resolved | mitigated
    created_at: datetime
    resolved_at: datetime | None
    duration: timedelta | None
    ago: timedelta
    shared_labels: tuple[tuple[str, str], ...] = ()
    shared_words: tuple[str, ...] = ()
    title_overlap: float = 0.0  # Jaccard overlap of the title tokens, 0…1
    resolution: str | None = None
    resolution_kind: str | None = None  # resolution | note | None
    channel_id: str | None = None

    @property
    def number(self) -> int:
        return self.incident_id
