"""Alertmanager notifications become one Slack message per alert group, updated in place, with thread replies.

In-process: the real services and Bolt app over a Slack recorder and a real database; the outbox worker is run
by hand (`deliver`) where the leader's scheduler would run it every second.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.alerts.outbox import LEASE
from bot.clock import FrozenClock
from bot.store.models import AlertOutboxRow
from tests.support.alert_payloads import alert, notification
from tests.support.config import bot_config, team
from tests.support.inprocess import START, make_bot
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.threads import all_at_once

CRASH = "KubePodCrashLooping"
FIRED = START - timedelta(minutes=2)


def crash(pod: str = "api-1", status: str = "firing", severity: str = "warning", **labels: str) -> dict[str, Any]:
    ends = START + timedelta(minutes=12) if status == "resolved" else None
    return alert(CRASH, status=status, starts_at=FIRED, ends_at=ends, namespace="payments", severity=severity,
                 pod=pod, annotations={"summary": "api pods restart", "runbook_url": "https://runbooks.example.com/crash"},
                 **labels)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def bot(tmp_path, slack: SlackRecorder, clock: FrozenClock):  # type: ignore[no-untyped-def]
    config = bot_config(teams=[team(namespaces=["payments"])], alerts={"default_channel": "CALERTS"})
    return make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, config, clock)


def deliver(services) -> None:  # type: ignore[no-untyped-def]
    services.alerts.deliver()


def posts(slack: SlackRecorder, channel: str = "CTEAM") -> list[Any]:
    return [c for c in slack.calls("chat.postMessage", channel) if not c.params.get("thread_ts")]


def test_a_group_is_one_message_updated_in_place_then_resolved_and_reopened(bot, slack: SlackRecorder,
                                                                          clock: FrozenClock) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash()]))
    deliver(services)
    [post] = posts(slack)
    shown = slack_text(post)
    assert f"🔥 {CRASH} · 1 firing, 0 resolved" in shown
    assert "api pods restart" in shown and "`payments`" in shown
    assert "<https://runbooks.example.com/crash|Runbook>" in shown
    assert "<http://alertmanager:9093|Alertmanager>" in shown
    ts = post.response["ts"]

    slack.clear()
    services.alerts.receive(notification([crash()]))  # Alertmanager's repeat: nothing changed
    deliver(services)
    assert slack.calls("chat.postMessage") == [] and slack.calls("chat.update") == []

    services.alerts.receive(notification([crash(), crash("api-2")]))
    deliver(services)
    [update] = slack.calls("chat.update")
    assert update.params["ts"] == ts and f"{CRASH} · 2 firing, 0 resolved" in slack_text(update)
    assert "pod=`api-2`" in slack_text(update)  # what tells the alerts apart; not the shared labels
    assert "namespace=`payments`" not in slack_text(update)

    slack.clear()
    clock.advance(timedelta(minutes=12))
    services.alerts.receive(notification([crash(status="resolved"), crash("api-2", status="resolved")]))
    deliver(services)
    [update] = slack.calls("chat.update")
    assert f"✅ {CRASH} · 0 firing, 2 resolved" in slack_text(update)
    assert "resolved after 14 min" in slack_text(update)
    [reply] = slack.calls("chat.postMessage")
    assert reply.params["thread_ts"] == ts and "recovered after 14 min" in slack_text(reply)

    slack.clear()
    clock.advance(timedelta(minutes=20))
    services.alerts.receive(notification([crash()]))
    deliver(services)
    assert posts(slack) == []  # the same message and thread, not a new one
    [update] = slack.calls("chat.update")
    assert update.params["ts"] == ts and "🔥" in slack_text(update) and "2nd time today" in slack_text(update)
    [reply] = slack.calls("chat.postMessage")
    assert reply.params["thread_ts"] == ts and "firing again (2nd time today)" in slack_text(reply)


def test_a_group_firing_again_after_the_reopen_window_gets_a_new_message(bot, slack: SlackRecorder,
                                                                         clock: FrozenClock) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash()]))
    deliver(services)
    clock.advance(timedelta(minutes=12))
    services.alerts.receive(notification([crash(status="resolved")]))
    deliver(services)
    clock.advance(timedelta(hours=2))
    slack.clear()
    services.alerts.receive(notification([crash()]))
    deliver(services)
    assert len(posts(slack)) == 1 and slack.calls("chat.update") == []


def test_updates_queued_before_the_worker_runs_collapse_into_the_latest_state(bot, slack: SlackRecorder) -> None:
    services, _app = bot
    for count in range(1, 6):
        services.alerts.receive(notification([crash(f"api-{n}") for n in range(count)]))
    deliver(services)
    [post] = posts(slack)
    assert "5 firing" in slack_text(post)
    assert slack.calls("chat.update") == []


@pytest.mark.parametrize(("labels", "channel"), [
    ({"team": "ml-platform", "namespace": "elsewhere"}, "CTEAM"),  # the team label wins
    ({"namespace": "payments"}, "CTEAM"),  # a namespace the team lists
    ({"team": "no-such-team", "namespace": "unknown"}, "CALERTS"),  # neither: alerts.default_channel
])
def test_groups_are_routed_by_team_label_then_namespace_then_default(bot, slack: SlackRecorder,
                                                                    labels: dict[str, str], channel: str) -> None:
    services, _app = bot
    services.alerts.receive(notification([alert("DiskFull", **labels)]))
    deliver(services)
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == [channel]


def test_without_any_channel_alerts_are_kept_and_listed_but_not_posted(tmp_path, slack: SlackRecorder,
                                                                      clock: FrozenClock) -> None:
    services, _app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config(teams=[]), clock)
    assert services.alerts.receive(notification([alert("DiskFull", namespace="x")])) == 1
    deliver(services)
    assert slack.calls("chat.postMessage") == []
    assert [g.alertname for g in services.alerts.firing(None)] == ["DiskFull"]


def test_slack_rate_limits_delay_posts_but_lose_none(bot, slack: SlackRecorder, clock: FrozenClock) -> None:
    services, _app = bot
    slack.fail_next("chat.postMessage", status=429, retry_after=0, times=30)  # past the client's own retries
    services.alerts.receive(notification([crash()]))
    deliver(services)
    assert posts(slack) and all(c.status == 429 for c in posts(slack))
    for _ in range(10):
        clock.advance(timedelta(minutes=1))
        deliver(services)
    delivered = [c for c in posts(slack) if c.status == 200]
    assert len(delivered) == 1 and "1 firing" in slack_text(delivered[0])


def test_a_critical_alert_opens_one_incident_and_pages_once_per_firing_streak(bot, slack: SlackRecorder,
                                                                               clock: FrozenClock) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash(severity="critical")]))
    deliver(services)
    services.alerts.receive(notification([crash(severity="critical"), crash("api-2", severity="critical")]))
    deliver(services)
    pages = slack.calls("chat.postMessage", "DUDRI1")
    assert len(pages) == 1 and "sev1" in slack_text(pages[0]).lower()
    incident = services.incidents.load(1)
    assert incident.severity == "sev1" and incident.team == "ml-platform"
    assert CRASH in incident.title and "api pods restart" in incident.title
    assert any(e.kind == "alert" for e in incident.timeline)
    [message] = posts(slack)
    latest = [c for c in slack.calls("chat.update") if c.params["ts"] == message.response["ts"]][-1]
    assert "incident #1" in slack_text(latest)


def test_a_new_alert_for_a_team_with_an_open_incident_is_linked_into_it(bot, slack: SlackRecorder) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash(severity="critical")]))
    deliver(services)
    incident_channel = services.incidents.load(1).channel_id
    slack.clear()
    services.alerts.receive(notification([alert("HighLatency", namespace="payments", severity="warning")]))
    deliver(services)
    [linked] = [c for c in slack.calls("chat.postMessage", incident_channel)]
    assert "correlated" in slack_text(linked) and "payments" in slack_text(linked)


def test_label_values_with_slack_markup_or_40kb_are_escaped_and_cut(bot, slack: SlackRecorder) -> None:
    services, _app = bot
    mojibake = "部署失败 <!subteam^S1|@oncall> payments down".encode().decode("latin-1")  # UTF-8 read as Latin-1
    hostile = alert("Evil", namespace="payments", pod="<!channel> <@U123|boss>",
                    annotations={"summary": "<!here> " + "x" * 40_000, "description": mojibake + "y" * 40_000,
                                 "runbook_url": "javascript:alert(1)"})
    services.alerts.receive(notification([hostile]))
    deliver(services)
    [post] = posts(slack)
    shown = slack_text(post)
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown and "<!here>" not in shown
    assert "&lt;!subteam^S1|@oncall&gt;" in shown and "<!subteam" not in shown
    assert mojibake[:6] in shown  # shown as it came, cut
    assert "javascript:" not in shown
    assert len(shown) < 10_000


def test_a_new_day_counts_firings_again_from_one(bot, slack: SlackRecorder, clock: FrozenClock) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash()]))
    deliver(services)
    clock.set(datetime(2026, 11, 24, 15, 50, tzinfo=UTC))  # 23:50 in Shanghai
    resolved = {**crash(), "status": "resolved", "endsAt": clock.now().isoformat()}
    services.alerts.receive(notification([resolved]))
    deliver(services)
    clock.set(datetime(2026, 11, 24, 16, 10, tzinfo=UTC))  # 00:10 the next day, within the reopen window
    slack.clear()
    services.alerts.receive(notification([crash()]))
    deliver(services)
    [reply] = slack.calls("chat.postMessage")
    assert "1st time today" in slack_text(reply)


def test_two_replicas_delivering_at_once_post_each_group_once(db_url: str, slack: SlackRecorder,
                                                              clock: FrozenClock) -> None:
    config = bot_config(teams=[team(namespaces=["payments"])])
    first, _ = make_bot(db_url, slack, config, clock)
    second, _ = make_bot(db_url, slack, config, clock)
    for n in range(6):
        (first if n % 2 else second).alerts.receive(notification([alert(f"Group{n}", namespace="payments")]))
    replicas = iter([first, second, first, second])
    all_at_once(lambda: next(replicas).alerts.deliver(), threads=4)
    names = sorted(slack_text(c).split(" · ")[0] for c in posts(slack))
    assert names == [f"🔥 Group{n}" for n in range(6)]


def test_a_row_left_sending_by_a_killed_process_is_taken_over_after_the_lease(bot, slack: SlackRecorder,
                                                                               clock: FrozenClock) -> None:
    services, _app = bot
    services.alerts.receive(notification([crash()]))
    with services.sessions.begin() as session:  # what a process killed mid-send leaves behind
        session.execute(update(AlertOutboxRow).where(AlertOutboxRow.kind == "post").values(
            status="sending", claimed_at=clock.now()))
    deliver(services)
    assert posts(slack) == []  # another process may still be sending it
    clock.advance(LEASE + timedelta(seconds=1))
    deliver(services)
    assert len(posts(slack)) == 1
