"""GitHub login ↔ Slack user: `github.users` in config, else the GitHub public e-mail matched to a Slack sign-in
e-mail, remembered in the database."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from bot.clients.slack_users import UserDirectory, is_user_id
from bot.clock import Clock
from bot.settings import Config
from bot.store import repo

log = logging.getLogger(__name__)
FOUND_TTL = timedelta(days=30)
NOT_FOUND_TTL = timedelta(days=1)  # someone may add the e-mail to their profile tomorrow


class People:
    def __init__(self, config: Config, users: UserDirectory, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._configured = config.github.users
        self._users = users
        self._sessions = sessions
        self._clock = clock

    def slack_of(self, login: str, email: str | None = None) -> str | None:
        """The Slack user id of a GitHub login, or None when neither config nor e-mail tells."""
        configured = self._configured.get(login)
        if configured:
            return self._resolve(configured)
        cached = self._cache_get(f"github-login:{login.lower()}")
        if isinstance(cached, dict):
            return cached.get("slack")
        found = self._resolve(email) if email else None
        self._cache_put(f"github-login:{login.lower()}", {"slack": found}, FOUND_TTL if found else NOT_FOUND_TTL)
        if found:
            self._cache_put(f"github-user-of:{found}", {"login": login}, FOUND_TTL)
        return found

    def login_of(self, slack_user: str, seen: Mapping[str, str]) -> str | None:
        """The GitHub login of a Slack user: config, then what we matched before, then their Slack e-mail among
        the public e-mails of `seen` (login → e-mail, from the pull requests at hand)."""
        email = (self._users.get(slack_user).email or "").lower()
        for login, value in self._configured.items():
            if value == slack_user or (email and value.lower() == email):
                return login
        cached = self._cache_get(f"github-user-of:{slack_user}")
        if isinstance(cached, dict) and cached.get("login"):
            return str(cached["login"])
        match = next((login for login, address in seen.items() if email and address.lower() == email), None)
        if match:
            self._cache_put(f"github-user-of:{slack_user}", {"login": match}, FOUND_TTL)
        return match

    def _resolve(self, member: str) -> str | None:
        if is_user_id(member):
            return member
        user = self._users.resolve(member)
        return user.id if user.found else None

    # The cache only saves Slack look-ups: with the database down the answer is worked out again.
    def _cache_get(self, key: str) -> object | None:
        try:
            return repo.cache_get(self._sessions, key, self._clock.now())
        except SQLAlchemyError as exc:
            log.warning("GitHub↔Slack cache unavailable: %s", type(exc).__name__)
            return None

    def _cache_put(self, key: str, value: object, ttl: timedelta) -> None:
        try:
            repo.cache_put(self._sessions, key, value, self._clock.now(), ttl)
        except SQLAlchemyError as exc:
            log.warning("GitHub↔Slack cache unavailable: %s", type(exc).__name__)
