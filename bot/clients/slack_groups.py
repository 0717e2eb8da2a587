"""Who is in a Slack user group (by id `S…` or handle `@ml-oncall`), cached in the database for a while."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy.orm import Session, sessionmaker

from bot.clock import Clock
from bot.store import repo

log = logging.getLogger(__name__)
TTL = timedelta(minutes=10)


class UserGroups:
    def __init__(self, client: WebClient, factory: sessionmaker[Session], clock: Clock) -> None:
        self.client = client
        self.factory = factory
        self.clock = clock

    def members(self, group: str) -> frozenset[str]:
        """The user ids in `group`; empty when Slack can't say (the caller then falls back to other roles)."""
        key = f"slack-usergroup:{group}"
        cached = repo.cache_get(self.factory, key, self.clock.now())
        if isinstance(cached, list):
            return frozenset(cached)
        members = self._fetch(group)
        if members is not None:
            repo.cache_put(self.factory, key, sorted(members), self.clock.now(), TTL)
        return frozenset(members or ())

    def _fetch(self, group: str) -> set[str] | None:
        try:
            return self.read(group)
        except LookupError:
            log.warning("no Slack user group with handle %s (check teams[].user_group)", group)
            return set()
        except (SlackApiError, SlackClientError, OSError) as exc:
            log.warning("could not list the members of user group %s: %s", group, _reason(exc))
            return None

    def read(self, group: str) -> set[str]:
        """The members, uncached; raises LookupError for an unknown handle and Slack's errors as they come."""
        group_id = group if _is_group_id(group) else self._id_for_handle(group.lstrip("@"))
        if group_id is None:
            raise LookupError(group)
        return set(self.client.usergroups_users_list(usergroup=group_id).get("users") or [])

    def _id_for_handle(self, handle: str) -> str | None:
        groups = self.client.usergroups_list().get("usergroups") or []
        return next((g["id"] for g in groups if g.get("handle") == handle), None)


def _is_group_id(value: str) -> bool:
    return value[:1] == "S" and value.isalnum() and value.isupper()


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
