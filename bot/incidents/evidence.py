"""Kubernetes evidence for an incident: taken when it opens (and by `/incident context`), posted as a message of
the incident, kept in its timeline (so it outlives the pods) and in the post-incident review draft."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.evidence.model import FiringAlert, Snapshot
from bot.evidence.render import snapshot_blocks, snapshot_fits, snapshot_markdown, snapshot_text
from bot.evidence.service import EvidenceCollector, targets_from
from bot.i18n import t
from bot.incidents import store
from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.notices import IncidentNotices
from bot.notify import Notifier
from bot.settings import Config

log = logging.getLogger(__name__)
Labels = Callable[[Incident], dict[str, str]]
Firing = Callable[[list[str]], list[FiringAlert]]


class IncidentEvidence:
    def __init__(self, config: Config, factory: sessionmaker[Session], notifier: Notifier, notices: IncidentNotices,
                 collector: EvidenceCollector, labels: Labels, firing: Firing, now: Callable[[], datetime]) -> None:
        self.config = config
        self.factory = factory
        self.notifier = notifier
        self.notices = notices
        self.collector = collector
        self.labels = labels  # the labels of the alert an incident came from ({} for none)
        self.firing = firing  # firing alerts in some namespaces
        self.now = now

    def on_open(self, incident: Incident, request: object) -> None:
        """The `opened` hook: evidence as the incident's first message after its summary."""
        self.take(incident, getattr(request, "text", None) or "")

    def take(self, incident: Incident, text: str = "") -> Snapshot:
        """Collect within the budget, post it where the incident runs, and keep it in the timeline."""
        team = self.config.team_named(incident.team)
        targets = targets_from(f"{incident.title}\n{text}", self.labels(incident), team.namespaces if team else ())
        snapshot = self.collector.collect(targets, self.firing)
        lang = incident.language
        self.notices.blocks_in_incident(incident, snapshot_blocks(snapshot, lang))
        if not snapshot_fits(snapshot, lang):
            self.notifier.upload(incident.channel_id or incident.origin_channel or "",
                                 f"incident-{incident.number}-evidence.txt", snapshot_text(snapshot, lang),
                                 title=t("incident.evidence_file_title", lang, number=incident.number),
                                 thread_ts=incident.thread_ts)
        store.log_event(self.factory, incident.id, TimelineEntry(
            self.now(), "evidence", None, f"Kubernetes evidence: {len(snapshot.pods)} pods, {len(snapshot.events)} "
                                          f"warnings, {len(snapshot.rollouts)} rollouts",
            {"pods": len(snapshot.pods), "events": len(snapshot.events), "rollouts": len(snapshot.rollouts),
             "nodes": len(snapshot.nodes), "skipped": len(snapshot.skipped),
             "markdown": snapshot_markdown(snapshot, lang)}))
        return snapshot
