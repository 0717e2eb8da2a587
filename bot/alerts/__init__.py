"""Alertmanager alerts: parse the webhook, store each alert, (next) thread them in Slack."""
