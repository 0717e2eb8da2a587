"""A real Alertmanager calls the running bot; Slack (the recorder) sees one message per group, updated in place,
with its thread replies; Silence creates a real silence; 429s and kill -9 lose nothing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.bot_process import BotProcess
from tests.support.config import bot_config, team
from tests.support.servers import AlertmanagerServer, alertmanager_config_for
from tests.support.signing import interactivity_body
from tests.support.slack_recorder import Call, SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until

CONFIG = bot_config(teams=[team(namespaces=["payments"])], admins=["UADMIN"])


def am_alert(name: str, pod: str, ends: datetime | None = None, **labels: str) -> dict[str, Any]:
    found: dict[str, Any] = {"labels": {"alertname": name, "namespace": "payments", "pod": pod, "severity": "warning",
                                        **labels},
                             "annotations": {"summary": f"{name} on {pod}"},
                             "startsAt": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
                             "generatorURL": "http://prometheus.example.com/graph?g0.expr=up"}
    if ends is not None:
        found["endsAt"] = ends.isoformat()
    return found


def top_level(slack: SlackRecorder, ok: bool = True) -> list[Call]:
    return [c for c in slack.calls("chat.postMessage", "CTEAM")
            if not c.params.get("thread_ts") and (c.status == 200) == ok]


def replies(slack: SlackRecorder) -> list[Call]:
    return [c for c in slack.calls("chat.postMessage", "CTEAM") if c.params.get("thread_ts") and c.status == 200]


def last_shown(slack: SlackRecorder, ts: str) -> str:
    updates = [c for c in slack.calls("chat.update") if c.params.get("ts") == ts and c.status == 200]
    return slack_text(updates[-1]) if updates else ""


@pytest.fixture
def manager_for(tmp_path: Path) -> Iterator[Callable[[BotProcess], AlertmanagerServer]]:
    started: list[AlertmanagerServer] = []

    def start(bot: BotProcess) -> AlertmanagerServer:
        server = AlertmanagerServer(tmp_path / f"am{len(started)}", alertmanager_config_for(bot.url + "/alertmanager"))
        server.__enter__()
        started.append(server)
        return server

    yield start
    for server in started:
        server.__exit__(None, None, None)


def test_real_alertmanager_group_lifecycle_in_one_thread(start_bot: Callable[..., BotProcess], slack: SlackRecorder,
                                                         manager_for: Callable[[BotProcess], AlertmanagerServer]
                                                         ) -> None:
    bot = start_bot(CONFIG)
    manager = manager_for(bot)
    manager.post_alerts([am_alert("KubePodCrashLooping", "api-1")])
    [post] = wait_until(lambda: top_level(slack), timeout=15, message="the group's message")
    ts = post.response["ts"]
    assert "KubePodCrashLooping · 1 firing, 0 resolved" in slack_text(post)

    manager.post_alerts([am_alert("KubePodCrashLooping", "api-1"), am_alert("KubePodCrashLooping", "api-2")])
    wait_until(lambda: "2 firing, 0 resolved" in last_shown(slack, ts), timeout=15, message="the update to 2 firing")

    gone = datetime.now(UTC) - timedelta(seconds=1)
    manager.post_alerts([am_alert("KubePodCrashLooping", "api-1", ends=gone),
                         am_alert("KubePodCrashLooping", "api-2", ends=gone)])
    wait_until(lambda: "0 firing, 2 resolved" in last_shown(slack, ts), timeout=15, message="the resolved state")
    wait_until(lambda: any("recovered after" in slack_text(c) for c in replies(slack)), timeout=15,
               message="the recovery reply")

    manager.post_alerts([am_alert("KubePodCrashLooping", "api-1")])
    wait_until(lambda: any("firing again (2nd time today)" in slack_text(c) for c in replies(slack)), timeout=15,
               message="the firing-again reply")
    assert len(top_level(slack)) == 1  # one message for the group all along
    assert {c.params["thread_ts"] for c in replies(slack)} == {ts}
    # the reply can land while the message's own update still waits its turn in the channel: the outbox empties
    wait_until(lambda: bot.metric("bot_alert_outbox_depth") == 0, timeout=10, message="the outbox to empty")


def test_silence_button_creates_a_real_alertmanager_silence(start_bot: Callable[..., BotProcess], tmp_path: Path,
                                                            slack: SlackRecorder,
                                                            manager_for: Callable[[BotProcess], AlertmanagerServer]
                                                            ) -> None:
    manager = AlertmanagerServer(tmp_path / "am-silence", alertmanager_config_for("http://127.0.0.1:9/none"))
    with manager:
        bot = start_bot(CONFIG, extra_env={"ALERTMANAGER_URL": manager.url})
        payload = {"version": "4", "groupKey": '{}:{alertname="DiskFull"}', "status": "firing", "receiver": "r",
                   "groupLabels": {"alertname": "DiskFull"},
                   "commonLabels": {"alertname": "DiskFull", "namespace": "payments"}, "commonAnnotations": {},
                   "externalURL": manager.url, "alerts": [{
                       "status": "firing", "labels": {"alertname": "DiskFull", "namespace": "payments"},
                       "annotations": {}, "startsAt": datetime.now(UTC).isoformat(), "fingerprint": "f1"}]}
        assert requests.post(bot.url + "/alertmanager", json=payload, timeout=10).status_code == 200
        [post] = wait_until(lambda: top_level(slack), timeout=15, message="the group's message")
        click = {"type": "block_actions", "user": {"id": "UADMIN"}, "channel": {"id": "CTEAM"},
                 "message": {"ts": post.response["ts"]}, "container": {"message_ts": post.response["ts"]},
                 "response_url": slack.response_url("silence"), "trigger_id": "t1",
                 "actions": [{"action_id": "alerts_silence", "value": _button_value(post, "alerts_silence")}]}
        assert bot.post(interactivity_body(click)).status_code == 200
        silences = wait_until(lambda: [s for s in requests.get(manager.url + "/api/v2/silences", timeout=5).json()
                                       if s["status"]["state"] == "active"], timeout=15, message="the silence")
        assert silences[0]["createdBy"] == "UADMIN"
        assert {(m["name"], m["value"]) for m in silences[0]["matchers"]} == {("alertname", "DiskFull"),
                                                                              ("namespace", "payments")}
        wait_until(lambda: "silenced by <@UADMIN>" in last_shown(slack, post.response["ts"]), timeout=15,
                   message="the message to say who silenced it")


def test_slack_answering_429_on_every_other_call_loses_nothing(start_bot: Callable[..., BotProcess],
                                                               slack: SlackRecorder) -> None:
    bot = start_bot(CONFIG)
    slack.rate_limit_every(("chat.postMessage", "chat.update"), every=2, retry_after=1)
    groups = 12
    for n in range(groups):
        body = _notification(f"Burst{n}")
        assert requests.post(bot.url + "/alertmanager", json=body, timeout=10).status_code == 200
    wait_until(lambda: len(top_level(slack)) >= groups, timeout=60, interval=0.2, message="every group posted")
    names = sorted(slack_text(c).split(" · ")[0].removeprefix("🔥 ") for c in top_level(slack))
    assert names == sorted(f"Burst{n}" for n in range(groups))  # each exactly once
    assert top_level(slack, ok=False)  # the 429s really happened


def test_kill_9_between_webhook_and_post_posts_once_after_restart(start_bot: Callable[..., BotProcess],
                                                                  slack: SlackRecorder, tmp_path: Path) -> None:
    bot = start_bot(CONFIG)
    slack.outage(("chat.postMessage",), seconds=600)
    assert requests.post(bot.url + "/alertmanager", json=_notification("Survivor"), timeout=10).status_code == 200
    wait_until(lambda: _outbox_rows(tmp_path / "bot.db", "status = 'pending' and attempts >= 1"), timeout=30,
               message="the post to have failed once and wait for its retry")
    assert bot.metric("bot_alert_outbox_depth") == 2  # the post and its incident link wait, /metrics says so
    wait_until(lambda: bot.metric("bot_alert_outbox_oldest_seconds") >= 1, timeout=10, message="the row's age")
    bot.kill()  # a row claimed mid-send is taken over after the lease: test_outbox_lease_takeover covers that
    slack.outage(("chat.postMessage",), seconds=0)
    slack.clear()
    bot.start()
    wait_until(lambda: top_level(slack), timeout=60, interval=0.2, message="the post after the restart")
    wait_until(lambda: _outbox_done(tmp_path / "bot.db"), timeout=30, message="the outbox to drain")
    assert len(top_level(slack)) == 1 and "Survivor" in slack_text(top_level(slack)[0])


def _outbox_done(database: Path) -> bool:
    return _outbox_rows(database, "status in ('pending', 'sending')") == 0


def _outbox_rows(database: Path, where: str) -> int:
    with sqlite3.connect(database) as db:
        return int(db.execute(f"select count(*) from alert_outbox where {where}").fetchone()[0])


def _notification(name: str) -> dict[str, Any]:
    return {"version": "4", "groupKey": f'{{}}:{{alertname="{name}"}}', "status": "firing", "receiver": "r",
            "groupLabels": {"alertname": name}, "commonLabels": {"alertname": name, "namespace": "payments"},
            "commonAnnotations": {"summary": f"{name} fired"}, "externalURL": "http://am:9093",
            "alerts": [{"status": "firing", "labels": {"alertname": name, "namespace": "payments"},
                        "annotations": {"summary": f"{name} fired"}, "startsAt": datetime.now(UTC).isoformat(),
                        "fingerprint": f"fp-{name}"}]}


def _button_value(post: Call, action_id: str) -> str:
    blocks = post.params["blocks"]
    blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    return next(e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
                if e["action_id"] == action_id)


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json {", "body"),
    (json.dumps({**_notification("X"), "version": "3"}).encode(), 'expected "4"'),
    (json.dumps({**_notification("X"), "groupKey": None}).encode(), "groupKey"),
    (json.dumps({**_notification("X"), "alerts": []}).encode(), "alerts"),
    (json.dumps({**_notification("X"), "alerts": [{"status": "exploded", "labels": {}, "fingerprint": "f"}]}).encode(),
     "status"),
])
def test_a_bad_webhook_body_is_a_400_with_the_reason_and_nothing_is_kept(bot: BotProcess, slack: SlackRecorder,
                                                                          tmp_path: Path, body: bytes,
                                                                          reason: str) -> None:
    response = requests.post(bot.url + "/alertmanager", data=body, timeout=10,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and reason in response.json()["error"]
    with sqlite3.connect(tmp_path / "bot.db") as db:
        assert db.execute("select count(*) from alerts").fetchone()[0] == 0
        assert db.execute("select count(*) from alert_outbox").fetchone()[0] == 0
    assert slack.calls("chat.postMessage") == []
