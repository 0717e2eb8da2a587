"""Escalation deadlines worked by the scheduler leader."""

from __future__ import annotations

from bot.services import Services


def work_due(services: Services) -> int:
    return 0
