"""Alertmanager webhook (payload version 4): validate, store one row per alert fingerprint."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session, sessionmaker

from bot.store.models import AlertRecord

log = logging.getLogger(__name__)
ZERO_TIME = "0001-01-01T00:00:00Z"


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    status: str = Field(pattern="^(firing|resolved)$")
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    fingerprint: str = Field(min_length=1, max_length=64)


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    version: str
    status: str
    receiver: str = ""
    alerts: list[Alert]


class BadPayload(ValueError):
    pass


def parse(payload: Any) -> WebhookPayload:
    try:
        parsed = WebhookPayload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadPayload(f"{where}: {first['msg']}") from exc
    if parsed.version != "4":
        raise BadPayload(f"version: expected \"4\", got {parsed.version!r}")
    return parsed


def store(factory: sessionmaker[Session], payload: WebhookPayload, now: datetime) -> list[AlertRecord]:
    records = []
    with factory.begin() as session:
        for alert in payload.alerts:
            ends_at = alert.ends_at if alert.ends_at and alert.ends_at.year > 1 else None
            record = AlertRecord(fingerprint=alert.fingerprint, status=alert.status,
                                 alertname=alert.labels.get("alertname", ""), labels=alert.labels,
                                 annotations=alert.annotations, starts_at=alert.starts_at, ends_at=ends_at,
                                 received_at=now, receiver=payload.receiver)
            records.append(session.merge(record))
    log.info("stored %d alert(s) from receiver %s", len(records), payload.receiver)
    return records
