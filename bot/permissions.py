"""Who may change what: one check for every state-changing action, and an audit row for every refusal.

An action names its audience: explicit people (an incident's responders, a rotation's members), the
teams whose Slack user group (`teams[].user_group`) may act, and always the `admins` from config.
Allowed actions leave their own audit row where they change state; refusals leave one here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from bot.clients.slack_groups import UserGroups
from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.escape import Markup
from bot.i18n import t
from bot.settings import Config
from bot.store.repo import audit

log = logging.getLogger(__name__)
MAX_NAMED = 5


class Denied(Exception):
    """The user may not do this; the message (in their language) says who can."""


@dataclass(frozen=True)
class Audience:
    """Who may act on one target besides the admins."""

    people: frozenset[str] = frozenset()
    teams: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # Slack user group ids (S…) named directly, e.g. cost_guards.allowed
    description: str = ""  # e.g. "the incident's responders"; from the catalog, in the reader's language
    extra: dict[str, str] = field(default_factory=dict)


class Permissions:
    def __init__(self, config: Config, factory: sessionmaker[Session], users: UserDirectory, groups: UserGroups,
                 clock: Clock) -> None:
        self.config = config
        self.factory = factory
        self.users = users
        self.groups = groups
        self.clock = clock

    def allows(self, user: str, audience: Audience) -> bool:
        if not user:
            return False
        return user in audience.people or self.is_admin(user) or \
            any(user in self.groups.members(group) for group in self._groups(audience))

    def require(self, user: str, action: str, target: str, audience: Audience, lang: str) -> None:
        """Raise Denied (and audit the refusal) unless `user` may do `action` on `target`."""
        if self.allows(user, audience):
            return
        with self.factory.begin() as session:
            audit(session, self.clock.now(), user or "unknown", f"denied.{action}", target)
        log.info("refused %s on %s for %s", action, target, user)
        raise Denied(t("permissions.denied", lang, action=t(f"permissions.action_{action}", lang), target=target,
                       who=Markup(self.who_can(audience, lang))))

    def is_admin(self, user: str) -> bool:
        admins = self.config.admins
        if user in admins:
            return True
        emails = [a for a in admins if "@" in a.strip("@")]
        return bool(emails) and (self.users.get(user).email or "").lower() in {e.lower() for e in emails}

    def who_can(self, audience: Audience, lang: str) -> str:
        parts = []
        people = sorted(audience.people)
        if people:
            named = ", ".join(f"<@{p}>" for p in people[:MAX_NAMED]) + (" …" if len(people) > MAX_NAMED else "")
            parts.append(f"{audience.description} ({named})" if audience.description else named)
        groups = self._groups(audience)
        if groups:
            parts.append(t("permissions.members_of", lang, groups=", ".join(f"`{g}`" for g in groups)))
        parts.append(t("permissions.the_admins", lang) if self.config.admins else t("permissions.no_admins", lang))
        return t("permissions.list_separator", lang).join(parts)

    def _groups(self, audience: Audience) -> list[str]:
        found = (self.config.team_named(name) for name in audience.teams)
        named = [team.user_group for team in found if team and team.user_group]
        return list(dict.fromkeys([*named, *audience.groups]))
