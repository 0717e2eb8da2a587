"""Alertmanager webhook payloads (version 4): validated into models, or BadPayload saying what is wrong.

Label and annotation values are cut to VALUE_LIMIT characters here, so a 40 KB annotation can neither
fill the database nor a Slack message; escaping happens where text is rendered. U+0000, which PostgreSQL text
can't hold, becomes U+FFFD in every string that is stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

ZERO_TIME = "0001-01-01T00:00:00Z"
VALUE_LIMIT = 2000
MAX_LABELS = 64


def _cut_values(value: Any) -> Any:
    """A label map with every value a string of at most VALUE_LIMIT characters (longer ones end in …)."""
    if not isinstance(value, dict):
        return value
    if len(value) > MAX_LABELS:
        raise ValueError(f"expected at most {MAX_LABELS} labels or annotations, got {len(value)}")
    return {_storable(str(k))[:200]: _cut(_storable(str(v))) for k, v in value.items() if v is not None}


def _cut(text: str) -> str:
    return text if len(text) <= VALUE_LIMIT else text[:VALUE_LIMIT - 1] + "…"


def _storable(value: Any) -> Any:
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


LabelMap = Annotated[dict[str, str], BeforeValidator(_cut_values)]
Text = Annotated[str, BeforeValidator(_storable)]


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    status: str = Field(pattern="^(firing|resolved)$")
    labels: LabelMap
    annotations: LabelMap = {}
    starts_at: datetime | None = Field(default=None, alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: Text = Field(default="", alias="generatorURL", max_length=4000)
    fingerprint: Text = Field(min_length=1, max_length=64)

    @property
    def ended_at(self) -> datetime | None:
        """When it resolved; Alertmanager sends the zero time (year 1) for an alert still firing."""
        return self.ends_at if self.ends_at and self.ends_at.year > 1 else None


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    version: str
    status: str = Field(pattern="^(firing|resolved)$")
    receiver: Text = Field(default="", max_length=255)
    group_key: Text = Field(alias="groupKey", min_length=1, max_length=8000)
    group_labels: LabelMap = Field(default={}, alias="groupLabels")
    common_labels: LabelMap = Field(default={}, alias="commonLabels")
    common_annotations: LabelMap = Field(default={}, alias="commonAnnotations")
    external_url: Text = Field(default="", alias="externalURL", max_length=500)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    alerts: list[Alert] = Field(min_length=1, max_length=1000)


class BadPayload(ValueError):
    """The body is not an Alertmanager v4 webhook; the message names the first field that is wrong."""


def parse(payload: Any) -> WebhookPayload:
    if isinstance(payload, dict) and "version" in payload and payload["version"] != "4":
        raise BadPayload(f"version: expected \"4\", got {str(payload['version'])[:40]!r}")
    try:
        return WebhookPayload.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise BadPayload(f"{where}: {first['msg']}") from exc
