"""Alertmanager webhook bodies (payload version 4) as Alertmanager builds them, for tests and benchmarks.

    alert("KubePodCrashLooping", pod="api-1", namespace="payments", severity="warning")
    notification([alert(...), alert(..., status="resolved")], group_key=GROUP)
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

ZERO = "0001-01-01T00:00:00Z"


def alert(alertname: str, status: str = "firing", starts_at: datetime | None = None, ends_at: datetime | None = None,
          annotations: dict[str, str] | None = None, generator_url: str = "http://prometheus:9090/graph?g0.expr=up",
          **labels: str) -> dict[str, Any]:
    every = {"alertname": alertname, **labels}
    fingerprint = hashlib.sha256(repr(sorted(every.items())).encode()).hexdigest()[:16]
    return {"status": status, "labels": every, "annotations": annotations or {"summary": f"{alertname} is firing"},
            "startsAt": (starts_at or datetime(2026, 11, 24, 1, 50, tzinfo=UTC)).isoformat(),
            "endsAt": ends_at.isoformat() if ends_at else ZERO, "generatorURL": generator_url,
            "fingerprint": fingerprint}


def notification(alerts: list[dict[str, Any]], group_key: str | None = None, receiver: str = "emoji-ops",
                 group_by: tuple[str, ...] = ("alertname",),
                 external_url: str = "http://alertmanager:9093") -> dict[str, Any]:
    """What Alertmanager POSTs: status is firing while any alert fires; common labels are those all alerts share."""
    common = dict(alerts[0]["labels"])
    for each in alerts[1:]:
        common = {k: v for k, v in common.items() if each["labels"].get(k) == v}
    annotations = dict(alerts[0]["annotations"])
    for each in alerts[1:]:
        annotations = {k: v for k, v in annotations.items() if each["annotations"].get(k) == v}
    group_labels = {k: common[k] for k in group_by if k in common}
    key = group_key or "{}:{" + ",".join(f'{k}="{v}"' for k, v in group_labels.items()) + "}"
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": key, "truncatedAlerts": 0, "status": status, "receiver": receiver,
            "groupLabels": group_labels, "commonLabels": common, "commonAnnotations": annotations,
            "externalURL": external_url, "alerts": alerts}
