"""Turns reactions and typed emoji into combo firings: recorded in the database, once per message, ever."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.emoji.dialect import ActionRegistry, Combo, ComboContext, Dialect
from bot.metrics import ACTIONS_FIRED
from bot.store import repo

log = logging.getLogger(__name__)


@dataclass
class ComboEngine:
    factory: sessionmaker[Session]
    dialect: Dialect
    actions: ActionRegistry
    clock: Clock

    def reaction_added(self, channel: str, ts: str, reaction: str, user: str,
                       thread_ts: str | None = None, event_id: str | None = None) -> list[ComboContext]:
        canonical = self.dialect.canonical(reaction)
        if canonical is None or not self.dialect.involved(canonical):
            return []
        now = self.clock.now()
        repo.record_reaction(self.factory, channel, ts, canonical, user, now)
        present = repo.recent_reactions(self.factory, channel, ts, now - self.dialect.config.window)
        return self._fire(self.dialect.completed(present), channel, ts, user, "reaction", thread_ts, None, event_id)

    def reaction_removed(self, channel: str, ts: str, reaction: str, user: str) -> None:
        canonical = self.dialect.canonical(reaction)
        if canonical is not None:
            repo.remove_reaction(self.factory, channel, ts, canonical, user)

    def message(self, channel: str, ts: str, text: str, user: str,
                thread_ts: str | None = None, event_id: str | None = None) -> list[ComboContext]:
        """Typed emoji fire a combo only when they stand together ("🔥💥"), not scattered through a sentence."""
        combos = self.dialect.typed_combos(text)
        return self._fire(combos, channel, ts, user, "text", thread_ts, text, event_id)

    def _fire(self, combos: list[Combo], channel: str, ts: str, user: str, source: str,
              thread_ts: str | None, text: str | None, event_id: str | None) -> list[ComboContext]:
        """Each combo fires once per message, ever; the replay of the event that fired it (its first run was
        killed) fires it again, and the action is one that does nothing twice (an incident per message)."""
        fired = []
        for combo in combos:
            if not repo.claim_combo(self.factory, channel, ts, combo.key, user, self.clock.now(), event_id):
                continue
            ACTIONS_FIRED.labels(combo.action).inc()
            context = ComboContext(action=combo.action, combo=combo.key, emoji=tuple(combo.emoji),
                                   channel=channel, message_ts=ts, user=user, source=source,
                                   thread_ts=thread_ts, text=text)
            log.info("combo %s fired on %s/%s by %s via %s", combo.key, channel, ts, user, source)
            fired.append(context)
        return fired

    def run(self, context: ComboContext) -> bool:
        """Run the registered action; False when no domain module handles it."""
        handler = self.actions.get(context.action)
        if handler is None:
            log.warning("combo %s fired but no handler is registered for action %s",
                        context.combo, context.action)
            return False
        handler(context)
        return True
