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
    kind: str  # opened, paged, page_failed, acknowledged, escalated, severity, note, pinned, mitigated,
    #            resolved, cancelled, gap, exhausted
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
