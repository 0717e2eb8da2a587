"""Alertmanager API v2: create and expire silences, and the server's status for `python -m bot check`."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import requests
from urllib3.util.retry import Retry

from bot.clients import SilenceSource
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, is_transient, where_of

BACKEND = "alertmanager"
SETTING = "ALERTMANAGER_URL"  # credentials, if any, live in the URL too: every fix the user can make is there
HINTS = {"connection": "check_setting", "auth": "check_setting", "forbidden": "check_setting",
         "http_status": "check_setting"}
# Alertmanager answers 400 for a silence it cannot use (bad matcher, end before start) and 422 for a body its
# API schema refuses (no matchers at all); both carry the reason, which the user needs to see.
REJECTED = frozenset({400, 422})
ERROR_TEXT_LIMIT = 300
# Failures that prove a POST never reached Alertmanager: nothing was sent (no connection, no address) or a
# proxy in front said it did not pass the request on (429, 503).
NOT_SENT_CODES = frozenset({"refused", "connect_timeout", "dns"})
NOT_PASSED_ON = frozenset({"HTTP 429", "HTTP 503"})


class AlertmanagerClient:
    demo = False

    def __init__(self, url: str, timeout: Any = None) -> None:
        self._url = url.rstrip("/")
        self._where = where_of(self._url)
        self._timeout = Timeout.of(timeout)
        self._session = requests.Session()
        # No retries inside urllib3: bot.retry decides, with jitter and metrics, and knows which calls may repeat.
        self._session.mount(self._url, requests.adapters.HTTPAdapter(max_retries=Retry(total=0, raise_on_status=False)))

    def create_silence(self, matchers: Mapping[str, str], ends_at: datetime, created_by: str, comment: str,
                       starts_at: datetime | None = None) -> str:
        """A silence for alerts whose labels equal `matchers`, from `starts_at` (now) to `ends_at`; its id."""
        body = {
            "matchers": [{"name": name, "value": value, "isRegex": False, "isEqual": True}
                         for name, value in matchers.items()],
            "startsAt": _timestamp(starts_at or datetime.now(UTC)),
            "endsAt": _timestamp(ends_at),
            "createdBy": created_by,
            "comment": comment,
        }
        # Creating a silence is not idempotent: a POST without an id makes a new one each time. A retry after a
        # read timeout or a dropped connection could leave a second silence nobody knows about (and the bot
        # would show only one to expire), so the POST is repeated only when the failure proves it was never
        # applied: no connection was made, or a proxy answered 429/503 without passing it on.
        answer = self._request("POST", "/api/v2/silences", body=body, may_repeat=_never_applied)
        silence_id = answer.get("silenceID") if isinstance(answer, dict) else None
        if not isinstance(silence_id, str) or not silence_id:
            raise self._unexpected(f"no silenceID in {str(answer)[:100]!r}")
        return silence_id

    def expire_silence(self, silence_id: str) -> None:
        """Expire the silence now. Expiring one already expired succeeds (Alertmanager answers 200), so a retry
        after a lost answer is harmless: this call repeats like any read."""
        self._request("DELETE", f"/api/v2/silence/{silence_id}", silence_id=silence_id)

    def probe(self) -> str:
        status = self._request("GET", "/api/v2/status")
        if not isinstance(status, dict):
            raise self._unexpected(f"status answered {type(status).__name__}, not an object")
        version = (status.get("versionInfo") or {}).get("version", "?")
        cluster = status.get("cluster") or {}
        peers = len(cluster.get("peers") or [])
        members = f" ({peers} peers)" if peers else ""
        return f"Alertmanager {version} at {self._where}, cluster {cluster.get('status', '?')}{members}"

    def _request(self, method: str, path: str, *, body: object = None, silence_id: str | None = None,
                 may_repeat: Callable[[BaseException], bool] = is_transient) -> Any:
        def attempt() -> Any:
            try:
                response = self._session.request(method, f"{self._url}{path}", json=body,
                                                 timeout=self._timeout.pair())
            except requests.RequestException as exc:
                raise self._diagnose(exc) from exc
            if response.status_code >= 400:
                raise self._answer_error(response, silence_id)
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError as exc:
                raise self._diagnose(exc, response.status_code) from exc

        return call_with_retries(BACKEND, attempt, budget=self._timeout.read, transient=may_repeat)

    def _answer_error(self, response: requests.Response, silence_id: str | None) -> BackendError:
        status = response.status_code
        text = _error_text(response)
        params = {"where": self._where, "status": f"HTTP {status}", "error": text}
        # Alertmanager 0.25 answers 500 "silence not found" for an id it does not know; no retry can change it.
        if silence_id is not None and (status == 404 or "not found" in text.lower()):
            return BackendError(BACKEND, code="alertmanager_silence_not_found", params={**params, "id": silence_id},
                                detail=f"HTTP {status}: {text}")
        if status in REJECTED:
            return BackendError(BACKEND, code="alertmanager_rejected", params=params, detail=f"HTTP {status}: {text}")
        return self._diagnose(requests.HTTPError(f"HTTP {status}: {text}", response=response), status,
                              response.headers.get("Retry-After"))

    def _diagnose(self, exc: Exception, status: int | None = None, retry_after: str | None = None) -> BackendError:
        return diagnose(BACKEND, exc, where=self._where, timeout=self._timeout, status=status, hints=HINTS,
                        setting=SETTING, retry_after=retry_after)

    def _unexpected(self, detail: str) -> BackendError:
        return self._diagnose(ValueError(detail), 0)


def _never_applied(exc: BaseException) -> bool:
    return (isinstance(exc, BackendError)
            and (exc.code in NOT_SENT_CODES or exc.params.get("status") in NOT_PASSED_ON))


def _timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime; Alertmanager needs aware times")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _error_text(response: requests.Response) -> str:
    """Alertmanager's reason: a JSON string ("silence invalid: …"), or {"code": …, "message": "…"} from its
    API schema; anything else as the raw text. Cut short: a proxy may answer a whole HTML page."""
    try:
        data = response.json()
    except ValueError:
        data = response.text
    if isinstance(data, dict):
        data = data.get("message") or json.dumps(data)
    text = " ".join(str(data).split())
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"


if TYPE_CHECKING:  # mypy proves that AlertmanagerClient satisfies the Protocol the domain calls
    _source: type[SilenceSource] = AlertmanagerClient
