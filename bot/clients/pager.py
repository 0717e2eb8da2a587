"""PagerDuty Events API v2: trigger, acknowledge and resolve, keyed by incident (dedup_key).

Every failure comes back as a BackendError saying why in the reader's language: no connection, no answer within
`timeouts.pagerduty`, throttled (429, its Retry-After honoured), a server error, or the event refused (400: a
routing key PagerDuty does not know). Retries are bounded by the read timeout; the dedup_key makes a repeated
event harmless.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from bot.clients import Pager, PagerAction
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

BACKEND = "pagerduty"
PD_SEVERITY = {"sev1": "critical", "sev2": "error", "sev3": "warning", "sev4": "info"}
DEFAULT_TIMEOUT = Timeout(connect=3.0, read=5.0)
HINTS = {"connection": "check_setting", "bad_request": "check_setting"}


class PagerDuty:
    def __init__(self, routing_key: str, api_url: str = "https://events.pagerduty.com", timeout: Any = None) -> None:
        self.routing_key = routing_key
        self.url = api_url.rstrip("/") + "/v2/enqueue"
        self.timeout = DEFAULT_TIMEOUT if timeout is None else Timeout.of(timeout)
        self._where = where_of(self.url)

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
        call_with_retries(BACKEND, lambda: self._post(body), budget=self.timeout.read)

    def _post(self, body: dict[str, object]) -> None:
        try:
            response = requests.post(self.url, json=body, timeout=self.timeout.pair())
        except requests.RequestException as exc:
            raise self._diagnose(exc, setting="PAGERDUTY_API_URL") from exc
        if response.status_code == 202:
            return
        # A 400 is an event PagerDuty refuses, nearly always for its routing key; the rest say PagerDuty's trouble.
        setting = "PAGERDUTY_ROUTING_KEY" if response.status_code == 400 else "PAGERDUTY_API_URL"
        error = requests.HTTPError(f"HTTP {response.status_code} from the Events API: {response.text[:200]}",
                                   response=response)
        raise self._diagnose(error, response.status_code, response.headers.get("Retry-After"), setting)

    def _diagnose(self, exc: Exception, status: int | None = None, retry_after: str | None = None,
                  setting: str = "PAGERDUTY_API_URL") -> BackendError:
        return diagnose(BACKEND, exc, where=self._where, timeout=self.timeout, status=status, hints=HINTS,
                        retry_after=retry_after, setting=setting)


if TYPE_CHECKING:  # mypy proves that PagerDuty is what the domain may call
    _pager: type[Pager] = PagerDuty
