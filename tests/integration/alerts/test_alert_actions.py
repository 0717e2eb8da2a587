"""What people do with alert messages and /alerts: open incidents (with Kubernetes evidence and resembling past
incidents), mark noise, quiet a team for maintenance, see what fires; and who may do it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.clock import FrozenClock
from tests.support.alert_payloads import alert, notification
from tests.support.config import bot_config, team
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.kube_api import (
    KubeApi,
    container,
    container_status,
    event,
    kubeconfig,
    node,
    pod,
    terminated,
    waiting,
)
from tests.support.signing import event_body, interactivity_body, slash_command_body
from tests.support.slack_recorder import Call, SlackRecorder
from tests.support.slack_text import slack_text

CONFIG = bot_config(teams=[team(namespaces=["payments"])], admins=["UADMIN"])


def crash(severity: str = "warning", pod_name: str = "api-7d9f8b6c4-x2x7k") -> dict[str, Any]:
    return alert("KubePodCrashLooping", starts_at=START, namespace="payments", severity=severity, pod=pod_name,
                 annotations={"summary": "api pods restart"})


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[tuple[KubeApi, str]]:
    with KubeApi() as api:
        api.put(node("node-1", ready="False"),
                pod("payments", "api-7d9f8b6c4-x2x7k", "node-1", [container("api")],
                    statuses=[container_status("api", ready=False, restarts=7, state=waiting("CrashLoopBackOff"),
                                               last=terminated("OOMKilled", 137))]),
                event("payments", "Pod", "api-7d9f8b6c4-x2x7k", "BackOff", "Back-off restarting failed container",
                      count=12, last=START - timedelta(minutes=3)))
        yield api, kubeconfig(tmp_path, api.url)


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, CONFIG, clock)


def fire(services, *alerts: dict[str, Any]) -> Call:  # type: ignore[no-untyped-def]
    services.alerts.receive(notification(list(alerts)))
    services.alerts.deliver()
    return services  # type: ignore[no-any-return]


def alert_post(slack: SlackRecorder) -> Call:
    return next(c for c in slack.calls("chat.postMessage", "CTEAM") if not c.params.get("thread_ts"))


def click(app, slack: SlackRecorder, action_id: str, post: Call, user: str = "UADMIN") -> str:  # type: ignore[no-untyped-def]
    value = next(e["value"] for b in _blocks(post) if b["type"] == "actions" for e in b["elements"]
                 if e["action_id"] == action_id)
    slack.clear()
    dispatch(app, interactivity_body({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": "CTEAM"}, "trigger_id": "trig-1",
        "message": {"ts": post.response["ts"]}, "container": {"message_ts": post.response["ts"]},
        "response_url": slack.response_url("click"), "actions": [{"action_id": action_id, "value": value}]}))
    return slack_text(slack.calls("response_url"))


def command(app, slack: SlackRecorder, text: str, user: str = "UADMIN") -> str:  # type: ignore[no-untyped-def]
    slack.clear()
    dispatch(app, slash_command_body("/alerts", text, user_id=user, channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    return slack_text(slack.calls("response_url"))


def _blocks(call: Call) -> list[dict[str, Any]]:
    blocks = call.params["blocks"]
    return json.loads(blocks) if isinstance(blocks, str) else blocks  # type: ignore[no-any-return]


def test_open_incident_button_takes_title_team_and_severity_from_the_alert(bot, slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    click(app, slack, "alerts_incident", alert_post(slack))
    incident = services.incidents.load(1)
    assert (incident.team, incident.severity) == ("ml-platform", "sev3")  # warning → sev3 in alerts.severities
    assert incident.title == "KubePodCrashLooping: api pods restart"
    attached = [e for e in incident.timeline if e.kind == "alert"]
    assert attached and attached[0].params["labels"]["namespace"] == "payments"


def test_an_incident_from_an_alert_arrives_with_kubernetes_evidence(tmp_path, slack: SlackRecorder,
                                                                    clock: FrozenClock,
                                                                    kube: tuple[KubeApi, str]) -> None:
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, CONFIG, clock, kubeconfig=kube[1])
    fire(services, crash(severity="critical"))
    incident = services.incidents.load(1)
    shown = slack_text(slack.calls("chat.postMessage", incident.channel_id))
    assert "api-7d9f8b6c4-x2x7k" in shown and "CrashLoopBackOff" in shown and "OOMKilled" in shown
    assert "BackOff" in shown and "12" in shown
    assert "node-1" in shown
    evidence = [e for e in incident.timeline if e.kind == "evidence"]
    assert evidence and "api-7d9f8b6c4-x2x7k" in evidence[0].params["markdown"]
    command(app, slack, "")  # the same alert is what /alerts lists as firing
    slack.clear()
    dispatch(app, slash_command_body("/incident", "resolve", user_id="UDRI1", channel_id=incident.channel_id,
                                     response_url=slack.response_url("r")))
    review = [c for c in slack.calls() if c.method in ("files.upload", "files.getUploadURLExternal",
                                                       "files.completeUploadExternal", "file_upload")]
    assert review, "the review draft is uploaded"
    uploaded = b"".join(c.body for c in slack.calls("file_upload")).decode(errors="replace")
    assert "Kubernetes evidence" in uploaded and "CrashLoopBackOff" in uploaded


def test_incident_context_takes_the_evidence_again_or_says_kubernetes_is_not_configured(
        tmp_path, slack: SlackRecorder, clock: FrozenClock, kube: tuple[KubeApi, str]) -> None:
    services, app = make_bot(f"sqlite:///{tmp_path / 'with.db'}", slack, CONFIG, clock, kubeconfig=kube[1])
    fire(services, crash(severity="critical"))
    channel = services.incidents.load(1).channel_id
    slack.clear()
    dispatch(app, slash_command_body("/incident", "context", user_id="UDRI1", channel_id=channel,
                                     response_url=slack.response_url("r")))
    assert "Kubernetes evidence for #1 posted" in slack_text(slack.calls("response_url"))
    assert "CrashLoopBackOff" in slack_text(slack.calls("chat.postMessage", channel))
    assert len([e for e in services.incidents.load(1).timeline if e.kind == "evidence"]) == 2

    services, app = make_bot(f"sqlite:///{tmp_path / 'without.db'}", slack, CONFIG, clock)
    fire(services, crash(severity="critical"))
    slack.clear()
    dispatch(app, slash_command_body("/incident", "context 1", user_id="UDRI1", channel_id="CTEAM",
                                     response_url=slack.response_url("r")))
    assert "set KUBECONFIG" in slack_text(slack.calls("response_url"))


def test_a_new_incident_shows_past_incidents_of_the_same_alert_with_their_resolution(bot, slack: SlackRecorder,
                                                                                     clock: FrozenClock) -> None:
    services, app = bot
    fire(services, crash(severity="critical"))
    first = services.incidents.load(1)
    dispatch(app, slash_command_body("/incident", "note resolution: rolled back api to v41", user_id="UDRI1",
                                     channel_id=first.channel_id, response_url=slack.response_url("r")))
    services.incidents.resolve(1, "UDRI1")
    services.alerts.receive(notification([{**crash(severity="critical"), "status": "resolved",
                                           "endsAt": clock.now().isoformat()}]))
    services.alerts.deliver()
    clock.advance(timedelta(days=2))
    slack.clear()
    fire(services, crash(severity="critical", pod_name="api-7d9f8b6c4-zzzzz"))
    second = services.incidents.load(2)
    shown = slack_text(slack.calls("chat.postMessage", second.channel_id))
    assert "#1" in shown and "rolled back api to v41" in shown and "KubePodCrashLooping" in shown


def test_fire_and_boom_on_an_alert_message_opens_an_incident_with_the_alert_attached(bot,
                                                                                    slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    post = alert_post(slack)
    slack.set_message("CTEAM", post.response["ts"], text="KubePodCrashLooping · 1 firing", user="UBOT")
    for user, name in (("UALICE", "fire"), ("UBOB", "boom")):
        dispatch(app, event_body({"type": "reaction_added", "user": user, "reaction": name, "item_user": "UBOT",
                                  "item": {"type": "message", "channel": "CTEAM", "ts": post.response["ts"]},
                                  "event_ts": "1.0"}))
    incident = services.incidents.load(1)
    assert any(e.kind == "alert" for e in incident.timeline)
    services.alerts.deliver()
    updates = [c for c in slack.calls("chat.update") if c.params["ts"] == post.response["ts"]]
    assert "incident #1" in slack_text(updates[-1])


def test_noisy_button_asks_why_then_the_report_ranks_the_alert(bot, slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    post = alert_post(slack)
    click(app, slack, "alerts_noisy", post, user="UALICE")
    [opened] = slack.calls("views.open")
    view = json.loads(opened.params["view"]) if isinstance(opened.params["view"], str) else opened.params["view"]
    assert view["callback_id"] == "alerts_noisy_reason" and "noisy" in slack_text(view).lower()
    dispatch(app, interactivity_body({
        "type": "view_submission", "user": {"id": "UALICE"}, "view": {
            "id": "V0NOISY", "type": "modal", "callback_id": "alerts_noisy_reason",
            "private_metadata": view["private_metadata"],
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input",
                                                       "value": "flaps during every deploy <!channel>"}}}}}}))
    assert "Noted" in slack_text(slack.calls("chat.postEphemeral"))
    shown = command(app, slack, "noisy 7d")
    assert "KubePodCrashLooping" in shown and "flaps during every deploy" in shown and "👎 1" in shown
    assert "<!channel>" not in shown
    assert slack.calls("files.getUploadURLExternal") or slack.calls("files.upload")  # the chart


def test_thumbs_down_on_an_alert_message_records_noise(bot, slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    post = alert_post(slack)
    dispatch(app, event_body({"type": "reaction_added", "user": "UBOB", "reaction": "-1", "item_user": "UBOT",
                              "item": {"type": "message", "channel": "CTEAM", "ts": post.response["ts"]},
                              "event_ts": "1.0"}))
    assert "👎 1" in command(app, slack, "noisy")


def test_silence_without_alertmanager_url_says_how_to_configure_it(bot, slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    assert "ALERTMANAGER_URL" in click(app, slack, "alerts_silence", alert_post(slack))


def test_only_the_team_may_silence_or_quiet_its_alerts(bot, slack: SlackRecorder) -> None:
    services, app = bot
    fire(services, crash())
    refused = click(app, slack, "alerts_silence", alert_post(slack), user="USTRANGER")
    assert "can't silence" in refused and "<@UDRI1>" in refused
    assert "can't hold the alerts of" in command(app, slack, "quiet ml-platform 1h", user="USTRANGER")


def test_quiet_window_holds_new_alerts_then_says_what_it_held_and_posts_what_still_fires(
        bot, slack: SlackRecorder, clock: FrozenClock) -> None:
    services, app = bot
    saved = command(app, slack, "quiet ml-platform 1h node upgrade")
    assert "Quiet window for `ml-platform`" in saved
    services.alerts.deliver()
    assert "Maintenance for `ml-platform`" in slack_text(slack.calls("chat.postMessage", "CTEAM"))
    slack.clear()
    fire(services, crash(), alert("DiskFull", namespace="payments"))
    fire(services, alert("NodeDown", namespace="payments", starts_at=START))
    services.alerts.receive(notification([{**alert("NodeDown", namespace="payments", starts_at=START),
                                           "status": "resolved", "endsAt": clock.now().isoformat()}]))
    assert slack.calls("chat.postMessage") == []  # held
    assert "🔧" in command(app, slack, "")  # /alerts still lists them, marked held
    clock.advance(timedelta(hours=1, minutes=1))
    slack.clear()
    services.alerts.deliver()
    said = slack_text(slack.calls("chat.postMessage", "CTEAM"))
    assert "ended: 3 alert(s) held, 2 still firing" in said
    assert "KubePodCrashLooping" in said and "NodeDown ·" not in said


def test_a_configured_recurring_window_holds_alerts_while_open(tmp_path, slack: SlackRecorder,
                                                              clock: FrozenClock) -> None:
    config = {**CONFIG, "alerts": {"maintenance": [{"team": "ml-platform", "cron": "0 10 * * 2", "duration": "2h",
                                                    "reason": "weekly upgrade"}]}}  # Tuesdays 10:00 Shanghai
    services, _app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, config, clock)
    clock.advance(timedelta(minutes=30))
    fire(services, crash())
    said = slack_text(slack.calls("chat.postMessage", "CTEAM"))
    assert "Maintenance for `ml-platform` until 12:00 (weekly upgrade)" in said
    assert "KubePodCrashLooping" not in said
    clock.advance(timedelta(hours=2))
    services.alerts.deliver()
    assert "KubePodCrashLooping" in slack_text(slack.calls("chat.postMessage", "CTEAM"))


def test_alerts_command_lists_what_fires_oldest_first_and_refuses_unknown_words(bot, slack: SlackRecorder,
                                                                               clock: FrozenClock) -> None:
    services, app = bot
    fire(services, alert("Older", namespace="payments", starts_at=START))
    clock.advance(timedelta(minutes=5))
    fire(services, alert("Newer", namespace="payments", starts_at=clock.now()))
    shown = command(app, slack, "ml-platform")
    assert shown.index("Older") < shown.index("Newer") and "2 group(s)" in shown
    assert "Unknown team" in command(app, slack, "nosuchteam") or "nosuchteam" in command(app, slack, "nosuchteam")
    assert "`/alerts" in command(app, slack, "quiet")  # the usage
