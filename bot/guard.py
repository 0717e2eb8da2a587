"""The one path of every destructive action: plan (a dry run people see) → confirmation → permission → act → audit.

A plan is a `guard_plans` row with one `guard_items` row per target. Acting claims each item with one write
before touching it, and records AWS's answer with an audit row in the same transaction, so a second run (a
redelivered click, a restart, another replica) never acts twice on a target, and a kept one never at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import ActionResult
from bot.clock import Clock
from bot.i18n import t
from bot.permissions import Audience, Permissions
from bot.settings import CostGuards
from bot.store import guards as store
from bot.store.guards import Plan

LEASE = timedelta(minutes=5)  # a plan left `acting` this long by a killed process is taken over
Act = Callable[[list[str]], list[ActionResult]]


class Guard:
    def __init__(self, permissions: Permissions, sessions: sessionmaker[Session], clock: Clock,
                 config: CostGuards) -> None:
        self._permissions = permissions
        self._sessions = sessions
        self._clock = clock
        self._config = config

    def audience(self, lang: str) -> Audience:
        """`cost_guards.allowed`: users (U…, W…) and user groups (S…); the admins always."""
        people = frozenset(a for a in self._config.allowed if not a.startswith("S"))
        groups = tuple(a for a in self._config.allowed if a.startswith("S"))
        return Audience(people=people, groups=groups, description=t("spend.allowed_people", lang))

    def allows(self, user: str, lang: str = "en") -> bool:
        return self._permissions.allows(user, self.audience(lang))

    def require(self, user: str, action: str, target: str, lang: str) -> None:
        """Raise Denied (audited, naming who can) unless `user` may do this destructive `action`."""
        self._permissions.require(user, action, target, self.audience(lang), lang)

    def start(self, plan: Plan, by: str) -> bool:
        """True for the one caller that acts on this plan."""
        return store.start(self._sessions, plan.id, by, self._clock.now(), LEASE)

    def act(self, plan: Plan, targets: Sequence[str], by: str, claim_as: str, action: str, do: Act,
            batch: int = 1) -> dict[str, ActionResult]:
        """Claim each target (`claim_as`: stopping, deleting) and act on those won, `batch` at a time; every
        result is recorded with an audit row `action` (or `<action>_failed`). Targets not won are left out."""
        results: dict[str, ActionResult] = {}
        for first in range(0, len(targets), batch):
            now = self._clock.now()
            won = [t_ for t_ in targets[first:first + batch]
                   if store.move_item(self._sessions, plan.id, t_, claim_as, by, now, retake_before=now - LEASE)]
            if not won:
                continue
            for result in _answers(won, do(won)):
                store.finish_item(self._sessions, plan.id, result.id, None if result.ok else result.error or "error",
                                  by, self._clock.now(), action, plan=plan.key)
                results[result.id] = result
        return results

    def finish(self, plan: Plan, **detail: object) -> None:
        store.finish(self._sessions, plan.id, self._clock.now(), **detail)


def _answers(asked: list[str], answered: list[ActionResult]) -> list[ActionResult]:
    """One result per target asked: a target the backend said nothing about failed, it did not vanish."""
    by_id = {r.id: r for r in answered}
    return [by_id.get(target) or ActionResult(target, ok=False, error="no_answer") for target in asked]
