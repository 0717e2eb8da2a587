"""The metrics the bot's own alerts and dashboard read (deploy/k8s/prometheus-rule.yaml, deploy/grafana/):
who leads and pages by outcome (the overdue gauge: tests/integration/incidents/test_pages_overdue.py)."""

from __future__ import annotations

from tests.support.bot_process import BotProcess
from tests.support.signing import event_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.waiting import wait_until


def test_leader_pages_and_overdue_escalation_show_in_metrics(bot: BotProcess, slack: SlackRecorder) -> None:
    wait_until(lambda: bot.metric("bot_leader") == 1, timeout=10, message="the only replica never became leader")
    assert bot.metric("bot_escalation_overdue_seconds") == 0
    slack.outage(("conversations.open", "chat.postMessage"), 8.0)  # Slack down: the 1st-line page waits
    bot.post(event_body({"type": "message", "channel": "CTEAM", "user": "UALICE", "text": "api down 🔥💥",
                         "ts": "1700000100.000100", "channel_type": "channel"}))
    wait_until(lambda: bot.metric('bot_pages_total{outcome="retrying"}') >= 1, timeout=10,
               message="a page Slack refused was never counted as retrying")
    slack.wait_for("chat.postMessage", lambda c: c.params.get("channel") == "DUDRI1" and c.status == 200,
                   timeout=25)
    wait_until(lambda: bot.metric('bot_pages_total{outcome="sent"}') == 1, timeout=5)
    assert bot.metric("bot_escalation_overdue_seconds") == 0  # retried pages are rescheduled, not overdue
