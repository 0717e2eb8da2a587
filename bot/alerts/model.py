"""What the alerts domain hands out: alert groups as Slack shows them, firing streaks, quiet windows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class AlertView:
    """One alert of a group, as last reported."""

    fingerprint: str
    status: str  # firing | resolved
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None
    ends_at: datetime | None
    generator_url: str = ""


@dataclass(frozen=True)
class AlertGroup:
    """An Alertmanager alert group (one `groupKey`) and the Slack message that shows it."""

    id: int
    group_key: str
    alertname: str
    team: str | None
    channel: str | None
    status: str  # firing | resolved
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    message_ts: str | None
    held: bool
    silenced_by: str | None
    silenced_until: datetime | None
    alerts: tuple[AlertView, ...] = ()
    streak: Streak | None = None

    @property
    def firing(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def resolved(self) -> list[AlertView]:
        return [a for a in self.alerts if a.status == "resolved"]

    @property
    def severity(self) -> str:
        """The group's `severity` label: the common one, else the first firing alert's."""
        found = self.common_labels.get("severity")
        if found:
            return found
        return next((a.labels["severity"] for a in self.firing or list(self.alerts) if "severity" in a.labels), "")

    @property
    def namespace(self) -> str | None:
        return self.common_labels.get("namespace") or next(
            (a.labels["namespace"] for a in self.alerts if "namespace" in a.labels), None)


@dataclass(frozen=True)
class Streak:
    """One firing streak of a group: first firing notification to resolve."""

    id: int
    started_at: datetime
    resolved_at: datetime | None
    incident_id: int | None
    number_today: int = 1  # this is the group's Nth streak today, in the team's time zone


@dataclass(frozen=True)
class Route:
    """Where a group goes: the team that owns it (None: no team) and its channel (None: nowhere to post)."""

    team: str | None
    channel: str | None
    why: str  # team_label | namespace | default_channel | nowhere


@dataclass(frozen=True)
class Window:
    """A maintenance window: alerts of `team` or in `namespace` are held while it is open."""

    id: int
    team: str | None
    namespace: str | None
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_by: str

    def covers(self, team: str | None, namespaces: set[str]) -> bool:
        return bool(self.team and self.team == team) or bool(self.namespace and self.namespace in namespaces)


@dataclass(frozen=True)
class HeldSummary:
    """What a window held, said when it ends."""

    alerts: int
    still_firing: int
