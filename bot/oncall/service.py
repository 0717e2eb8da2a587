"""/oncall: who is on call now and next, and `/oncall override @user <from> <to> [team] [tier]`, checked and saved.

Plain Python over the config, the database, the user directory, the permission check and the clock: a
request either comes back as the saved override or is refused with a domain error (an i18n key and its
parameters, `WhenError` for the times, `Denied` from the permission check, `NoRotation`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.i18n import t
from bot.oncall.roster import add_override, rotation_for, who_is_on_call
from bot.oncall.rotation import TierOnCall
from bot.oncall.when import override_window
from bot.permissions import Audience, Permissions
from bot.settings import Config, Team

MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


class OverrideRefused(Exception):
    """An override request the rules refuse: a catalog key and what to fill it with."""

    def __init__(self, key: str, **params: str | int) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class NoRotation(Exception):
    """The team has no on-call rotation, so there is nothing to override."""

    def __init__(self, team: str) -> None:
        super().__init__(team)
        self.team = team


@dataclass(frozen=True)
class OverrideRequest:
    """The words of `/oncall override`, read but not yet checked against config or permissions."""

    user: str  # Slack user id of the person who covers
    start: str  # as typed, see bot.oncall.when.parse_when
    end: str
    team: str | None  # as typed; None: the team of the channel
    tier: str | None  # as typed; None: the first tier


@dataclass(frozen=True)
class SavedOverride:
    user: str
    team: str
    tier: str
    start: datetime  # UTC
    end: datetime  # UTC
    tz: str  # the zone the times were read in (the requester's, else the team's)


def override_request(args: Sequence[str]) -> OverrideRequest:
    """`@user <from> <to> [team] [tier…]`; anything without a mention first is refused."""
    match = MENTION.match(args[0]) if len(args) >= 3 else None
    if match is None:
        raise OverrideRefused("oncall.override_bad_user")
    return OverrideRequest(user=match.group(1), start=args[1], end=args[2], team=args[3] if len(args) > 3 else None,
                           tier=" ".join(args[4:]) if len(args) > 4 else None)


class OncallService:
    def __init__(self, config: Config, factory: sessionmaker[Session], users: UserDirectory,
                 permissions: Permissions, clock: Clock) -> None:
        self._config = config
        self._factory = factory
        self._users = users
        self._permissions = permissions
        self._clock = clock

    def on_call(self, team: str) -> list[TierOnCall]:
        """Who is on call now and who is next, per tier; raises NoRotation when the team has none."""
        if rotation_for(self._config, team) is None:
            raise NoRotation(team)
        return who_is_on_call(self._config, self._factory, team, self._clock.now())

    def teams_with_rotations(self) -> list[str]:
        return sorted(self._config.oncall)

    def save(self, request: OverrideRequest, team: Team, by: str, lang: str) -> SavedOverride:
        """Check the tier, `by`'s permission and the times (in that order), then save and audit the override.

        Raises NoRotation, OverrideRefused, bot.permissions.Denied or bot.oncall.when.WhenError."""
        rotation = rotation_for(self._config, team.name)
        if rotation is None:
            raise NoRotation(team.name)
        tiers = [tier.name for tier in rotation.tiers]
        tier = request.tier if request.tier is not None else tiers[0]
        if tier not in tiers:
            raise OverrideRefused("oncall.override_unknown_tier", team=team.name, tier=tier, tiers=", ".join(tiers))
        self._permissions.require(by, "override", f"{team.name} / {tier}", self.audience(team.name, lang), lang)
        tz = self._users.get(by).tz or team.timezone
        now = self._clock.now()
        start, end = override_window(request.start, request.end, tz, now)
        add_override(self._factory, team.name, tier, request.user, start, end, by, now)
        return SavedOverride(user=request.user, team=team.name, tier=tier, start=start, end=end, tz=tz)

    def audience(self, team: str, lang: str) -> Audience:
        """The team's rotation members and its user group (and always the admins): who may override on-call,
        silence or quiet the team's alerts."""
        rotation = rotation_for(self._config, team)
        tiers = rotation.tiers if rotation else []
        members = {m for each in tiers for layer in each.layers for m in layer.members}
        people = frozenset(u.id for u in map(self._users.resolve, sorted(members)) if u.found)
        return Audience(people=people, teams=(team,), description=t("permissions.rotation_members", lang))
