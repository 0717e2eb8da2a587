"""Signed Slack requests: bodies shaped like Slack's and the headers that sign them.

Example::

    body = slash_command_body("/gpu", "status")
    requests.post(url, data=body, headers=signed_headers(SECRET, body))
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from slack_sdk.signature import SignatureVerifier

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
API_APP_ID = "A1"
BOT_USER_ID = "UBOT"


def signed_headers(
    secret: str,
    body: bytes,
    ts: int | str | None = None,
    content_type: str | None = None,
) -> dict[str, str]:
    """Content-Type plus Slack's v0 signature over `v0:{ts}:{body}` (ts defaults to now).

    Without `content_type`, a body starting with `{` is JSON, anything else a form.
    """
    timestamp = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body)
    if content_type is None:
        content_type = JSON if body.lstrip().startswith(b"{") else FORM
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": str(signature),
    }


def retry_headers(retry_num: int, reason: str = "http_timeout") -> dict[str, str]:
    """Headers Slack adds when it redelivers an event."""
    return {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}


def slash_command_body(
    command: str,
    text: str,
    user_id: str = "U1",
    channel_id: str = "C1",
    response_url: str = "https://hooks.slack.com/commands/T1/1/test",
    **extra: str,
) -> bytes:
    """Form body of a slash command; `extra` adds or overrides fields."""
    fields = {
        "token": "verification-token",
        "team_id": "T1",
        "team_domain": "test",
        "channel_id": channel_id,
        "channel_name": f"channel-{channel_id.lower()}",
        "user_id": user_id,
        "user_name": f"user-{user_id.lower()}",
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": f"{int(time.time())}.1.{uuid.uuid4().hex[:16]}",
        **extra,
    }
    return urlencode(fields).encode()


def event_body(event: dict[str, Any], event_id: str | None = None, team_id: str = "T1") -> bytes:
    """JSON `event_callback` envelope around `event` (a reaction_added, message, ...)."""
    envelope = {
        "token": "verification-token",
        "team_id": team_id,
        "api_app_id": API_APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }
    return json.dumps(envelope).encode()


def interactivity_body(payload: dict[str, Any]) -> bytes:
    """Form body `payload=<json>` of a block action, view submission or shortcut."""
    return urlencode({"payload": json.dumps(payload)}).encode()
