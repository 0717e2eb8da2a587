"""What happens when Alertmanager calls: parse the body, store its alerts, say how many."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from bot.alerts import parse, store
from bot.clock import Clock


class AlertReceiver:
    def __init__(self, factory: sessionmaker[Session], clock: Clock) -> None:
        self.factory = factory
        self.clock = clock

    def receive(self, body: Any) -> int:
        """The number of alerts stored; raises `parse.BadPayload` for a body that is not a v4 webhook."""
        return store.save(self.factory, parse.parse(body), self.clock.now())
