"""The bot's own Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HANDLER_SECONDS = Histogram(
    "bot_handler_seconds", "Time to handle one Slack request, by kind and name", ["kind", "name"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
ACKS = Counter("bot_acks_total", "Slack requests acknowledged", ["kind"])
ERRORS = Counter("bot_errors_total", "Errors by backend (slack, prometheus, kubernetes, aws, github, ...)",
                 ["backend"])
RETRIES = Counter("bot_retries_total", "Retries of transient backend errors", ["backend"])
DUPLICATES = Counter("bot_duplicate_events_total", "Slack events dropped as redeliveries")
EVENTS_REPLAYED = Counter("bot_events_replayed_total",
                          "Slack events whose work a killed process left unfinished, by outcome (replayed, given_up)",
                          ["outcome"])
ACTIONS_FIRED = Counter("bot_emoji_actions_total", "Emoji combos that fired an action", ["action"])
ALERT_OUTBOX = Counter("bot_alert_outbox_total", "Alert outbox rows finished or retried, by kind and outcome",
                       ["kind", "outcome"])
ALERTS_RECEIVED = Counter("bot_alert_notifications_total", "Alertmanager notifications, by result", ["result"])
ALERT_OUTBOX_DEPTH = Gauge("bot_alert_outbox_depth", "Alert outbox rows waiting to be sent (read at scrape)")
ALERT_OUTBOX_AGE = Gauge("bot_alert_outbox_oldest_seconds", "Age of the oldest alert outbox row waiting (at scrape)")
COST_EXPLORER_REQUESTS = Counter("bot_cost_explorer_requests_total",
                                 "Cost Explorer requests made (each page; AWS bills $0.01 per request)")
INSTANCES_STOPPED = Counter("bot_instances_stopped_total", "EC2 instances the cost guards stopped, by outcome",
                            ["outcome"])
SNAPSHOTS_DELETED = Counter("bot_snapshots_deleted_total", "EBS snapshots the cost guards deleted, by outcome",
                            ["outcome"])
PAGES = Counter("bot_pages_total", "Pages to on-call people, by outcome (sent, retrying, failed)", ["outcome"])
ESCALATIONS_OVERDUE = Gauge("bot_escalation_overdue_seconds",
                            "How late the most overdue scheduled page is; 0 when none is late (read at scrape)")
LEADER = Gauge("bot_leader", "1 on the replica that runs the scheduled jobs, 0 on the others")
DIGESTS = Counter("bot_digests_total", "Team digests, by outcome (posted, late, empty, refused)", ["outcome"])
