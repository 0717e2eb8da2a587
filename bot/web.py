"""HTTP routes: Slack (events, commands, interactivity), Alertmanager webhook, health and metrics.

Every Slack request is checked here before Bolt sees it, whatever Bolt was told (Socket Mode turns Bolt's own
check off, yet this route still answers): a valid v0 signature less than five minutes old, else 401. A signed
form (a slash command, a click, a modal) is then accepted once: its signature is claimed as a `seen_events` row,
shared by every replica, and the same signed request again is refused with 401. Events (JSON) are de-duplicated
by their event id instead (handlers/middleware.py), which also lets Slack's redeliveries through to be dropped.

Every error answer is JSON, whatever went wrong: load balancers, Slack and Alertmanager log the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
from slack_sdk.signature import SignatureVerifier
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.wrappers import Response as WerkzeugResponse

from bot.alerts import outbox as alert_outbox
from bot.alerts.parse import BadPayload
from bot.health import HealthCheck
from bot.i18n import t
from bot.incidents import pages
from bot.metrics import ALERT_OUTBOX_AGE, ALERT_OUTBOX_DEPTH, ESCALATIONS_OVERDUE
from bot.retry import DATABASE_ERRORS
from bot.services import Services
from bot.store import repo

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024  # Slack's payloads are far smaller; Alertmanager's too, even for big groups
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def build_web(bolt: App, services: Services, alertmanager_token: str | None = None) -> Flask:
    web = Flask("emoji-ops")
    web.config["bolt"] = bolt
    web.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # Werkzeug enforces it on bodies of unknown length too
    _answer_errors_in_json(web)
    slack = SlackRequestHandler(bolt)
    health = HealthCheck(services.engine)
    secret = services.env.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret and secret.get_secret_value() else None

    def bad_alert_payload(reason: str, **extra: object) -> tuple[Response, int]:
        log.warning("rejected Alertmanager payload: %s", reason)
        return jsonify(error=t("core.alert_bad_payload", services.config.defaults.language, reason=reason),
                       **extra), 400

    @web.before_request
    def refuse_large_bodies() -> tuple[Response, int] | None:
        if (request.content_length or 0) > MAX_BODY_BYTES:
            if request.path == "/alertmanager":  # Alertmanager logs the body: say why, like any bad payload
                return bad_alert_payload(f"body: larger than {MAX_BODY_BYTES} bytes", max_bytes=MAX_BODY_BYTES)
            abort(413)
        return None

    @web.post("/slack/events")
    def slack_events() -> Response | tuple[Response, int]:
        if not _signed(verifier):
            log.info("refused a Slack request: missing, stale or bad signature")
            return jsonify(error="invalid request"), 401
        if not _first_time(services):
            log.warning("refused a Slack request sent again with the same signature (a replay)")
            return jsonify(error="request already received"), 401
        try:
            return slack.handle(request)
        except RecursionError:  # Bolt parses the body before verifying it; absurd nesting is not a request
            return jsonify(error="invalid request body"), 400

    @web.post("/alertmanager")
    def alertmanager() -> tuple[Response, int]:
        if alertmanager_token and not _bearer_matches(alertmanager_token):
            return jsonify(error="unauthorized"), 401
        try:
            stored = services.alerts.receive(_json_body())
        except BadPayload as exc:
            return bad_alert_payload(str(exc))
        except RequestEntityTooLarge:  # a chunked body of unknown length that turned out too large
            return bad_alert_payload(f"body: larger than {MAX_BODY_BYTES} bytes", max_bytes=MAX_BODY_BYTES)
        return jsonify(stored=stored), 200

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        found = health.check()
        return jsonify(found.as_json()), 200 if found.ok else 503

    @web.get("/metrics")
    def metrics() -> Response:
        try:
            now = services.clock.now()
            waiting, oldest = alert_outbox.depth(services.sessions, now)
            ALERT_OUTBOX_DEPTH.set(waiting)
            ALERT_OUTBOX_AGE.set(oldest)
            ESCALATIONS_OVERDUE.set(pages.most_overdue(services.sessions, now))
        except DATABASE_ERRORS as exc:  # the metrics still answer; the gauges keep their last values
            log.warning("could not read the outbox or the pages for /metrics: %s", type(exc).__name__)
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return web


def _answer_errors_in_json(web: Flask) -> None:
    @web.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> WerkzeugResponse:
        response = exc.get_response()  # keeps headers such as Allow on a 405
        body: dict[str, Any] = {"error": (exc.name or "error").lower()}
        if exc.code == 413:
            body["max_bytes"] = MAX_BODY_BYTES
        response.set_data(json.dumps(body))
        response.mimetype = "application/json"
        return response

    @web.errorhandler(Exception)
    def crash(exc: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return jsonify(error="internal error"), 500


def _json_body() -> Any:
    """The request body as JSON, or None when it is not JSON (or nested too deep to parse)."""
    try:
        return json.loads(request.get_data())
    except (ValueError, RecursionError):
        return None


def _signed(verifier: SignatureVerifier | None) -> bool:
    """A v0 signature by our signing secret over this body, dated within five minutes of now."""
    timestamp = request.headers.get("X-Slack-Request-Timestamp")
    signature = request.headers.get("X-Slack-Signature")
    if verifier is None or timestamp is None or signature is None:
        return False
    if not _TIMESTAMP.fullmatch(timestamp.strip()) or not signature.isascii():  # int() and compare_digest would raise
        return False
    return verifier.is_valid(body=request.get_data(), timestamp=timestamp, signature=signature)


def _first_time(services: Services) -> bool:
    """False for a signed form seen before (by any replica); events are de-duplicated by event id instead.
    Only called once the signature is valid, so a forger cannot fill the table. With the database down the request
    goes through: the user is then told the database is down, and a replay could change nothing without it."""
    if request.get_data().lstrip().startswith(b"{"):
        return True
    try:
        return repo.first_sighting(services.sessions, replay_key(request.headers["X-Slack-Signature"]),
                                   services.clock.now())
    except DATABASE_ERRORS as exc:
        log.warning("could not record a Slack request's signature against replays: %s", type(exc).__name__)
        return True


def replay_key(signature: str) -> str:
    """The `seen_events` key of a signed request (String(64)); "sig:" keeps it apart from Slack's event ids."""
    return "sig:" + hashlib.sha256(signature.encode()).hexdigest()[:40]


def _bearer_matches(token: str) -> bool:
    scheme, _, supplied = request.headers.get("Authorization", "").strip().partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode())
