"""Connects the incident domain to emoji actions, signals and alerts."""

from __future__ import annotations

from bot.services import Services


def register(services: Services) -> None:
    return None
