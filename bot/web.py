"""HTTP routes: Slack (events, commands, interactivity), Alertmanager webhook, health and metrics."""

from __future__ import annotations

import hmac
import logging

from flask import Flask, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

from bot.i18n import t
from bot.services import Services
from bot.store.db import ping
from handlers import alerts

log = logging.getLogger(__name__)


def build_web(bolt: App, services: Services, alertmanager_token: str | None = None) -> Flask:
    web = Flask("emoji-ops")
    web.config["bolt"] = bolt
    slack = SlackRequestHandler(bolt)

    @web.post("/slack/events")
    def slack_events() -> Response:
        return slack.handle(request)

    @web.post("/alertmanager")
    def alertmanager() -> tuple[Response, int]:
        if alertmanager_token and not _bearer_matches(alertmanager_token):
            return jsonify(error="unauthorized"), 401
        try:
            payload = alerts.parse(request.get_json(force=True, silent=True))
        except alerts.BadPayload as exc:
            log.warning("rejected Alertmanager payload: %s", exc)
            return jsonify(error=t("core.alert_bad_payload", services.config.defaults.language,
                                   reason=str(exc))), 400
        stored = alerts.store(services.factory, payload, services.clock.now())
        for hook in services.alert_hooks:
            hook(payload, stored)
        return jsonify(stored=len(stored)), 200

    @web.get("/healthz")
    def healthz() -> tuple[Response, int]:
        try:
            ping(services.engine)
        except Exception as exc:
            log.error("health check failed: database unreachable: %s", type(exc).__name__)
            return jsonify(status="unhealthy", database=f"unreachable: {type(exc).__name__}"), 503
        return jsonify(status="ok", database="ok"), 200

    @web.get("/metrics")
    def metrics() -> Response:
        return Response(generate_latest(), mimetype=CONTENT_TYPE_LATEST)

    return web


def _bearer_matches(token: str) -> bool:
    supplied = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return hmac.compare_digest(supplied.encode(), token.encode())
