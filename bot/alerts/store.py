"""Alerts in the database: the latest state of each alert, keyed by Alertmanager's fingerprint."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.parse import WebhookPayload
from bot.store.models import AlertRecord

log = logging.getLogger(__name__)


def save(factory: sessionmaker[Session], payload: WebhookPayload, now: datetime) -> int:
    """One row per alert fingerprint, updated in place as Alertmanager re-sends the group; the number saved."""
    saved = 0
    with factory.begin() as session:
        for alert in payload.alerts:
            ends_at = alert.ends_at if alert.ends_at and alert.ends_at.year > 1 else None
            record = AlertRecord(fingerprint=alert.fingerprint, status=alert.status,
                                 alertname=alert.labels.get("alertname", ""), labels=alert.labels,
                                 annotations=alert.annotations, starts_at=alert.starts_at, ends_at=ends_at,
                                 received_at=now, receiver=payload.receiver)
            session.merge(record)
            saved += 1
    log.info("stored %d alert(s) from receiver %s", saved, payload.receiver)
    return saved
