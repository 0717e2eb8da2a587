"""PagerDuty Events API v2: trigger, acknowledge and resolve, keyed by incident (dedup_key)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import requests

from bot.clients import Pager, PagerAction
from bot.retry import BackendError, call_with_retries

PD_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}


class PagerDuty:
    def __init__(self, routing_key: str, api_url: str = "https://events.pagerduty.com", timeout: float = 5) -> None:
        self.routing_key = routing_key
        self.url = api_url.rstrip("/") + "/v2/enqueue"
        self.timeout = timeout

    @staticmethod
    def dedup_key(incident_id: int) -> str:
        return f"emoji-ops-incident-{incident_id}"

    def send(self, action: PagerAction, incident_id: int, summary: str = "", severity: str = "sev2",
             source: str = "emoji-ops", link: str | None = None) -> None:
        body: dict[str, object] = {"routing_key": self.routing_key, "event_action": action,
                                   "dedup_key": self.dedup_key(incident_id)}
        if action == "trigger":
            body["payload"] = {"summary": summary[:1024] or f"Incident {incident_id}", "source": source,
                               "severity": PD_SEVERITY.get(severity, "error")}
            if link:
                body["links"] = [{"href": link, "text": "Slack"}]
        call_with_retries("pagerduty", lambda: self._post(body))

    def _post(self, body: dict[str, object]) -> None:
        response = requests.post(self.url, json=body, timeout=self.timeout)
        if response.status_code == 202:
            return
        transient = response.status_code == 429 or response.status_code >= 500
        raise BackendError("pagerduty", f"HTTP {response.status_code} from the Events API"
                           + ("" if transient else " (check PAGERDUTY_ROUTING_KEY)"), transient=transient)


if TYPE_CHECKING:  # mypy proves that PagerDuty is what the domain may call
    _pager: type[Pager] = PagerDuty
