"""HTTP routes: Slack (events, commands, interactivity), Alertmanager webhook, health and metrics.

Every error answer is JSON, whatever went wrong: load balancers, Slack and Alertmanager log the body.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from typing import Any

from flask import Flask, Response, abort, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler
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
        # Bolt's verifier calls int() on the timestamp and would answer 500 to anything else.
        timestamp = request.headers.get("X-Slack-Request-Timestamp")
        if timestamp is not None and not _TIMESTAMP.fullmatch(timestamp.strip()):
            return jsonify(error="invalid request"), 401
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


def _bearer_matches(token: str) -> bool:
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(supplied.encode(), token.encode())
