"""Who a Slack user is (name, locale, time zone), cached in the database for a day."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.i18n import normalise_language
from bot.store import repo

log = logging.getLogger(__name__)
TTL = timedelta(days=1)
MEMORY_TTL = timedelta(minutes=10)


def is_user_id(text: str) -> bool:
    """A Slack user id (`U…`/`W…`, upper-case letters and digits), not an email or a name still to resolve."""
    return text[:1] in {"U", "W"} and text.isalnum() and text.isupper()


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    locale: str | None = None
    tz: str | None = None
    email: str | None = None
    found: bool = True


class UserDirectory:
    def __init__(self, client: WebClient, factory: sessionmaker[Session], clock: Clock) -> None:
        self.client = client
        self.factory = factory
        self.clock = clock
        self.memory: dict[str, tuple[SlackUser, datetime]] = {}  # in front of the database cache
        self._database_down = False
        self._dnd_unavailable = False

    def get(self, user_id: str) -> SlackUser:
        remembered = self.memory.get(user_id)
        if remembered and remembered[1] > self.clock.now():
            return remembered[0]
        user = self._from_store_or_slack(user_id)
        if user.found:
            self.memory[user_id] = (user, self.clock.now() + MEMORY_TTL)
        return user

    def language(self, user_id: str | None, fallback: str) -> str:
        """The language a user reads: their Slack locale when it is one we speak, else `fallback`."""
        if not user_id or user_id.startswith("?"):  # "?name": a rotation member that is no Slack user
            return fallback
        return normalise_language(self.get(user_id).locale) or fallback

    def _from_store_or_slack(self, user_id: str) -> SlackUser:
        cached = self._cached(user_id)
        if isinstance(cached, dict):
            return SlackUser(**cached)
        user = self._fetch(user_id)
        if user.found:
            self._store(user)
        return user

    # The cache is an optimisation: with the database down, ask Slack (or fall back to the team's
    # language) so that the command can still answer, and say what is wrong.
    def _cached(self, user_id: str) -> object | None:
        try:
            cached = repo.cache_get(self.factory, f"slack-user:{user_id}", self.clock.now())
        except SQLAlchemyError as exc:
            self._database_failed(exc)
            return None
        self._database_down = False
        return cached

    def _store(self, user: SlackUser) -> None:
        try:
            repo.cache_put(self.factory, f"slack-user:{user.id}", vars(user), self.clock.now(), TTL)
        except SQLAlchemyError as exc:
            self._database_failed(exc)

    def _database_failed(self, exc: SQLAlchemyError) -> None:
        if not self._database_down:  # once per outage, not once per lookup
            log.warning("user cache unavailable, asking Slack directly: %s", type(exc).__name__)
        self._database_down = True

    def _fetch(self, user_id: str) -> SlackUser:
        try:
            data = self.client.users_info(user=user_id, include_locale=True)["user"]
        except SlackApiError as exc:
            log.info("users.info failed for %s: %s", user_id, exc.response.get("error"))
            return SlackUser(id=user_id, name=user_id, found=False)
        except Exception as exc:  # Slack unreachable: answer with what we have rather than fail the caller
            log.warning("users.info for %s failed: %s", user_id, type(exc).__name__)
            return SlackUser(id=user_id, name=user_id, found=False)
        return _user_from(user_id, data)

    def dnd_until(self, user_id: str, now: datetime) -> datetime | None:
        """When the user's Do Not Disturb (or snooze) ends, if it is on now; None when off or unknown (the app
        lacks the `dnd:read` scope, or Slack did not answer: a nudge then goes in working hours alone)."""
        if self._dnd_unavailable:
            return None
        try:
            data = self.client.dnd_info(user=user_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("missing_scope", "not_allowed_token_type", "no_permission"):
                log.info("dnd.info not allowed (%s): nudges follow working hours only", error)
                self._dnd_unavailable = True
            return None
        except Exception as exc:
            log.warning("dnd.info for %s failed: %s", user_id, type(exc).__name__)
            return None
        return dnd_end(data.data if isinstance(data.data, dict) else {}, now)

    def resolve(self, member: str) -> SlackUser:
        """A rotation member written as a user id, an email or @name → the Slack user."""
        if is_user_id(member):
            return self.get(member)
        if "@" in member.strip("@"):
            try:
                data = self.client.users_lookupByEmail(email=member)["user"]
                return self.get(data["id"])
            except Exception:
                return SlackUser(id=member, name=member, found=False)
        return SlackUser(id=member, name=member.lstrip("@"), found=False)


def dnd_end(data: Mapping[str, Any], now: datetime) -> datetime | None:
    """The end of a snooze or of the scheduled Do Not Disturb window that `dnd.info` says is on at `now`."""
    stamp = now.timestamp()
    if data.get("snooze_enabled") and float(data.get("snooze_endtime") or 0) > stamp:
        return datetime.fromtimestamp(float(data["snooze_endtime"]), UTC)
    start, end = float(data.get("next_dnd_start_ts") or 0), float(data.get("next_dnd_end_ts") or 0)
    if data.get("dnd_enabled") and start <= stamp < end:
        return datetime.fromtimestamp(end, UTC)
    return None


def _user_from(user_id: str, data: Any) -> SlackUser:
    """users.info's `user` object → a SlackUser; anything else Slack might answer reads as an unknown user (the
    team's language and zone), never as an exception in front of whoever asked."""
    profile = data.get("profile") if isinstance(data, dict) else None
    profile = profile if isinstance(profile, dict) else {}
    if not isinstance(data, dict):
        log.warning("users.info for %s answered no user object (%s)", user_id, type(data).__name__)
        return SlackUser(id=user_id, name=user_id, found=False)

    def text(value: Any) -> str | None:
        return value if isinstance(value, str) and value else None

    name = text(profile.get("display_name")) or text(data.get("real_name")) or text(data.get("name")) or user_id
    return SlackUser(id=user_id, name=name, locale=text(data.get("locale")), tz=text(data.get("tz")),
                     email=text(profile.get("email")))
