"""Who can make the running bot act over HTTP: only Slack, by a fresh signature over the exact body, once; only
Alertmanager, by its bearer token. Driven over real HTTP against `python -m bot serve` (and `socket`).

For each Slack entry point (an event whose message is "🔥💥 db down", a slash command, a button click, the URL
verification) every forgery is answered 401 and nothing is acted on: no Slack call, no incident, no audit row, no
replay row. Then the genuine request is acted on exactly once, and the same signed request sent again is refused
(commands and clicks) or dropped as a redelivery (events, by their event id).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from bot.web import build_web, replay_key
from tests.security.conftest import ADMIN, Served
from tests.support.alert_payloads import alert, notification
from tests.support.bot_process import SECRET_VALUES, SECRETS, SIGNING_SECRET, BotProcess
from tests.support.config import bot_config
from tests.support.inprocess import make_app, make_services
from tests.support.signing import event_body, interactivity_body, signed_headers, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.socket_mode import SocketModeSlack
from tests.support.waiting import wait_until

Headers = dict[str, str]
Forgery = Callable[[bytes, bytes], tuple[bytes, Headers]]  # (genuine body, altered body) → what is sent


def _without(name: str) -> Forgery:
    def forge(body: bytes, _altered: bytes) -> tuple[bytes, Headers]:
        return body, {k: v for k, v in signed_headers(SIGNING_SECRET, body).items() if k != name}
    return forge


FORGERIES: dict[str, Forgery] = {
    "bad signature": lambda body, _: (body, signed_headers("not-the-signing-secret", body)),
    "no signature header": _without("X-Slack-Signature"),
    "no timestamp header": _without("X-Slack-Request-Timestamp"),
    "no Slack headers": lambda body, _: (body, {"Content-Type": signed_headers(SIGNING_SECRET, body)["Content-Type"]}),
    "stale timestamp (6 min old)": lambda body, _: (body, signed_headers(SIGNING_SECRET, body,
                                                                         ts=int(time.time()) - 6 * 60)),
    "timestamp 6 min ahead": lambda body, _: (body, signed_headers(SIGNING_SECRET, body, ts=int(time.time()) + 6 * 60)),
    "body altered after signing": lambda body, altered: (altered, signed_headers(SIGNING_SECRET, body)),
    "signature not ASCII": lambda body, _: (body, {**signed_headers(SIGNING_SECRET, body),
                                                   "X-Slack-Signature": "v0=" + "é" * 64}),
}


def post(served: Served, body: bytes, headers: Headers, path: str = "/slack/events") -> requests.Response:
    return requests.post(served.bot.url + path, data=body, headers=headers, timeout=10)


@dataclass
class Baseline:
    """What the bot has done so far, to tell that a forgery changed none of it."""

    incidents: int
    audit: int
    replay_rows: int

    @classmethod
    def of(cls, served: Served) -> Baseline:
        return cls(served.count("incidents"), served.count("audit_log"),
                   served.count("seen_events", "event_id like 'sig:%'"))


def refuse_every_forgery(served: Served, body: bytes, altered: bytes) -> None:
    before = Baseline.of(served)
    for name, forge in FORGERIES.items():
        response = post(served, *forge(body, altered))
        assert response.status_code == 401 and response.json()["error"], name
        assert "challenge" not in response.text, name
    assert Baseline.of(served) == before  # no incident, no audit row, and no signature recorded for a forgery


def message(text: str) -> dict[str, str]:
    return {"type": "message", "channel": "CTEAM", "user": "UALICE", "text": text,
            "ts": f"{time.time():.6f}", "channel_type": "channel"}


def opened(slack: SlackRecorder) -> list:
    return slack.calls("conversations.create")


def test_an_event_is_acted_on_only_when_signed_and_a_replay_is_dropped_by_its_event_id(secured: Served) -> None:
    body = event_body(message("🔥💥 db down"))
    incidents = secured.count("incidents")

    refuse_every_forgery(secured, body, body.replace(b"db down", b"db gone"))
    assert not opened(secured.slack) and not secured.slack.calls("chat.postMessage")

    assert post(secured, body, signed_headers(SIGNING_SECRET, body)).status_code == 200
    wait_until(lambda: opened(secured.slack), timeout=15, message="the incident channel")
    duplicates = secured.bot.metric("bot_duplicate_events_total")
    assert post(secured, body, signed_headers(SIGNING_SECRET, body)).status_code == 200  # Slack retries get a 200
    assert secured.bot.metric("bot_duplicate_events_total") == duplicates + 1
    assert secured.count("incidents") == incidents + 1
    assert len(opened(secured.slack)) == 1 and "db-down" in opened(secured.slack)[0].params["name"]


def override(secured: Served, cover: str) -> bytes:
    return slash_command_body("/oncall", f"override <@{cover}> now +8h", user_id=ADMIN, channel_id="CTEAM",
                              response_url=secured.slack.response_url(f"override-{uuid.uuid4().hex[:8]}"))


def overrides(secured: Served) -> int:
    return secured.count("audit_log", "action = 'oncall.override'")


def test_a_slash_command_is_acted_on_only_when_signed_and_only_once(secured: Served) -> None:
    body = override(secured, "UCOVER")

    refuse_every_forgery(secured, body, body.replace(b"UCOVER", b"UMALLORY"))  # a man in the middle covers it
    assert not secured.slack.calls("response_url")

    signed = signed_headers(SIGNING_SECRET, body)
    assert post(secured, body, signed).status_code == 200
    answer = slack_text(secured.slack.wait_for("response_url")[0])
    assert "Override saved" in answer and "UCOVER" in answer
    replayed = post(secured, body, signed)

    assert replayed.status_code == 401 and replayed.json() == {"error": "request already received"}
    assert overrides(secured) == 1
    assert secured.count("seen_events", "event_id = ?", replay_key(signed["X-Slack-Signature"])) == 1
    assert len(secured.slack.calls("response_url")) == 1


def escalate_click(secured: Served, incident: int) -> bytes:
    return interactivity_body({
        "type": "block_actions", "user": {"id": ADMIN}, "team": {"id": "T1"}, "channel": {"id": "CTEAM"},
        "trigger_id": "t", "response_url": secured.slack.response_url(f"click-{incident}"),
        "container": {"type": "message", "message_ts": "1.1", "channel_id": "CTEAM"},
        "actions": [{"type": "button", "action_id": "incident_escalate", "value": str(incident), "block_id": "b"}]})


def second_line_pages(slack: SlackRecorder) -> list:
    return slack.calls("chat.postMessage", "DUSENIOR2")


def test_a_click_is_acted_on_only_when_signed_and_only_once(secured: Served) -> None:
    body = event_body(message("🔥💥 payments down"))
    post(secured, body, signed_headers(SIGNING_SECRET, body))
    # the 1st line's page (whoever covers it now: the slash command test may have put UCOVER there)
    secured.slack.wait_for("chat.postMessage", lambda c: str(c.params.get("channel")).startswith("D"), timeout=15)
    incident = secured.count("incidents")  # numbered from 1: the newest is the count
    click = escalate_click(secured, incident)
    escalations = f"action = 'incident.escalate' and target = 'incident:{incident}'"

    refuse_every_forgery(secured, click, click.replace(b"incident_escalate", b"incident_resolve"))
    assert not second_line_pages(secured.slack)
    assert secured.count("audit_log", escalations) == 0

    signed = signed_headers(SIGNING_SECRET, click)
    assert post(secured, click, signed).status_code == 200
    wait_until(lambda: second_line_pages(secured.slack), timeout=15, message="the page to the 2nd line")
    assert post(secured, click, signed).status_code == 401

    assert secured.count("audit_log", escalations) == 1
    assert len(second_line_pages(secured.slack)) == 1


def test_url_verification_answers_the_challenge_only_when_signed(secured: Served) -> None:
    body = json.dumps({"token": "verification-token", "challenge": "c-3f9a", "type": "url_verification"}).encode()

    refuse_every_forgery(secured, body, body.replace(b"c-3f9a", b"c-evil"))

    response = post(secured, body, signed_headers(SIGNING_SECRET, body))
    assert (response.status_code, response.json()) == (200, {"challenge": "c-3f9a"})


def test_a_replay_to_another_replica_is_refused_too(tmp_path: Path, slack: SlackRecorder) -> None:
    """Two replicas on one database (here two apps in process): the signature claimed by one is refused by the
    other."""
    database = f"sqlite:///{tmp_path / 'bot.db'}"
    made = [make_services(database, slack, bot_config(), slack_signing_secret=SIGNING_SECRET) for _ in range(2)]
    replicas = [build_web(make_app(services), services).test_client() for services in made]
    body = slash_command_body("/oncall", "", channel_id="CTEAM", response_url=slack.response_url("oncall"))
    signed = signed_headers(SIGNING_SECRET, body)
    try:
        assert replicas[0].post("/slack/events", data=body, headers=signed).status_code == 200
        assert replicas[1].post("/slack/events", data=body, headers=signed).status_code == 401
    finally:
        for services in made:
            services.engine.dispose()
    assert "1st line" in slack_text(slack.calls("response_url"))
    assert len(slack.calls("response_url")) == 1


def test_socket_mode_does_not_act_on_unsigned_http_requests(tmp_path: Path, slack: SlackRecorder) -> None:
    """Socket Mode turns Bolt's signature check off (its requests come over the WebSocket), yet the HTTP port still
    serves /slack/events: an unsigned request there must not be a way in."""
    with SocketModeSlack() as socket_slack:
        slack.respond("apps.connections.open", {"ok": True, "url": socket_slack.url})
        bot = BotProcess(tmp_path, slack.base_url, bot_config(admins=[ADMIN]), mode="socket")
        bot.start()
        try:
            socket_slack.wait_for_connections(1)
            body = slash_command_body("/oncall", "override <@UMALLORY> now +8h", user_id=ADMIN, channel_id="CTEAM",
                                      response_url=slack.response_url("unsigned"))
            response = requests.post(bot.url + "/slack/events", data=body, timeout=10,
                                     headers={"Content-Type": "application/x-www-form-urlencoded"})
            assert response.status_code == 401
            assert not slack.calls("response_url")
            assert Served(bot, slack).count("audit_log") == 0
        finally:
            bot.stop()


# The Alertmanager webhook ---------------------------------------------------------------------------------------
TOKEN = SECRETS["ALERTMANAGER_TOKEN"]


def webhook(served: Served, authorization: str | None) -> requests.Response:
    payload = notification([alert(f"DiskFull{uuid.uuid4().hex[:6]}", namespace="payments")])
    headers = {"Authorization": authorization} if authorization is not None else {}
    return requests.post(served.bot.url + "/alertmanager", json=payload, headers=headers, timeout=10)


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer not-the-token", TOKEN, f"Basic {TOKEN}",
                                           f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
                         ids=["none", "empty", "no credentials", "wrong token", "token without scheme",
                              "basic scheme", "token with a suffix", "token cut short"])
def test_the_alertmanager_webhook_refuses_posts_without_its_bearer_token(secured: Served,
                                                                         authorization: str | None) -> None:
    alerts = secured.count("alerts")

    response = webhook(secured, authorization)

    assert (response.status_code, response.json()) == (401, {"error": "unauthorized"})
    assert secured.count("alerts") == alerts


@pytest.mark.parametrize("scheme", ["Bearer", "bearer"])
def test_the_alertmanager_webhook_stores_alerts_posted_with_its_token(secured: Served, scheme: str) -> None:
    alerts = secured.count("alerts")

    response = webhook(secured, f"{scheme} {TOKEN}")

    assert (response.status_code, response.json()) == (200, {"stored": 1})
    assert secured.count("alerts") == alerts + 1


def test_metrics_and_healthz_show_no_secret(secured: Served) -> None:
    health = secured.bot.get("/healthz")
    metrics = secured.bot.get("/metrics")

    assert health.json() == {"status": "ok", "database": "ok"}
    assert metrics.status_code == 200 and "# HELP bot_duplicate_events_total" in metrics.text
    assert [s for s in SECRET_VALUES if s in health.text + metrics.text] == []
