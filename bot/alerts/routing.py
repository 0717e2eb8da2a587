"""Which team and channel an alert group belongs to: its `team` label, else its namespace, else the default."""

from __future__ import annotations

from collections.abc import Mapping

from bot.alerts.model import Route
from bot.settings import Config


def route(labels: Mapping[str, str], config: Config) -> Route:
    """`team` label naming a configured team → that team; else a `namespace` one team lists → that team;
    else `alerts.default_channel` (no team); else nowhere (the alerts are kept, not posted)."""
    named = config.team_named(labels.get("team", ""))
    if named is not None:
        return Route(named.name, _channel(named.channel) or config.alerts.default_channel, "team_label")
    namespace = labels.get("namespace")
    if namespace:
        owner = next((team for team in config.teams if namespace in team.namespaces), None)
        if owner is not None:
            return Route(owner.name, _channel(owner.channel) or config.alerts.default_channel, "namespace")
    if config.alerts.default_channel:
        return Route(None, config.alerts.default_channel, "default_channel")
    return Route(None, None, "nowhere")


def _channel(configured: str | None) -> str | None:
    return configured.lstrip("#") if configured else None
