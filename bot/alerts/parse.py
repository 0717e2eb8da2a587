"""Alertmanager webhook payloads (version 4): validated into models, or BadPayload saying what is wrong."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

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
    """The body is not an Alertmanager v4 webhook; the message names the first field that is wrong."""


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
