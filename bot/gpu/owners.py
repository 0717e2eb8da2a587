"""Nudging the owner of an idle pod (once per pod per local day) and snoozing it for a day."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.gpu import store
from bot.gpu.model import Gpu, Holder
from bot.gpu.render import nudge_blocks
from bot.gpu.service import GpuService
from bot.i18n import t
from bot.notify import Notifier
from bot.permissions import Audience, Permissions
from bot.retry import BackendError
from bot.settings import Config, Team
from bot.store import notices
from bot.store.notices import Notice
from bot.store.repo import audit

log = logging.getLogger(__name__)
SNOOZE = timedelta(hours=24)


@dataclass(frozen=True)
class Nudge:
    """What the Notify owner button did: `sent` to a person (`user`) or a team channel (`channel`), `already`
    sent today (`earlier`), `no_owner` to send to, or `not_idle` any more."""

    outcome: Literal["sent", "already", "no_owner", "not_idle"]
    pod: str
    user: str | None = None
    channel: str | None = None
    owner: str | None = None  # the label value that named nobody
    earlier: Notice | None = None


class OwnerNudges:
    def __init__(self, gpus: GpuService, notifier: Notifier, users: UserDirectory, permissions: Permissions,
                 sessions: sessionmaker[Session], clock: Clock, config: Config) -> None:
        self._gpus = gpus
        self._notifier = notifier
        self._users = users
        self._permissions = permissions
        self._sessions = sessions
        self._clock = clock
        self._config = config

    def notify(self, pod: str, by: str, lang: str) -> Nudge:
        idle = self._gpus.idle_gpus_of(pod)
        if not idle or idle[0].holder is None:
            return Nudge("not_idle", pod)
        holder, team = idle[0].holder, self._team(idle[0].holder)
        user = self._owner_id(holder)
        self._permissions.require(by, "gpu_notify", pod, self._audience(holder, user, lang), lang)
        channel = None if user else (team.channel if team else None)
        if not user and not channel:
            return Nudge("no_owner", pod, owner=holder.owner)
        day = self._clock.now().astimezone(ZoneInfo(team.timezone if team else self._config.defaults.timezone))
        if not notices.claim_notice(self._sessions, "owner", pod, day.date().isoformat(), self._clock.now(), by=by):
            return Nudge("already", pod, earlier=notices.notice(self._sessions, "owner", pod, day.date().isoformat()))
        try:
            self._send(idle, user, channel, team)
        except BackendError:
            notices.release_notice(self._sessions, "owner", pod, day.date().isoformat())
            raise
        with self._sessions.begin() as session:
            audit(session, self._clock.now(), by, "gpu.notify", pod, user=user or "", channel=channel or "")
        return Nudge("sent", pod, user=user, channel=channel)

    def snooze(self, pod: str, by: str, lang: str) -> datetime:
        """Hide the pod from idle lists and checks for 24 h; returns until when."""
        holder = Holder(namespace=pod.split("/", 1)[0], pod=pod.split("/", 1)[-1], container=None, owner=None,
                        team=None)
        idle = self._gpus.idle_gpus_of(pod)
        if idle and idle[0].holder:
            holder = idle[0].holder
        self._permissions.require(by, "gpu_snooze", pod, self._audience(holder, self._owner_id(holder), lang), lang)
        until = self._clock.now() + SNOOZE
        store.snooze(self._sessions, pod, until, by, self._clock.now())
        return until

    def _send(self, idle: list[Gpu], user: str | None, channel: str | None, team: Team | None) -> None:
        now = self._clock.now()
        if user:
            lang = self._users.language(user, team.language if team else self._config.defaults.language)
            self._notifier.dm(user, nudge_blocks(idle, now, lang, mention=None))
        elif channel:
            lang = team.language if team else self._config.defaults.language
            self._notifier.chat.post(channel, nudge_blocks(idle, now, lang, mention=None))  # raises, unlike post()

    def _owner_id(self, holder: Holder) -> str | None:
        if not holder.owner or holder.owner == holder.team:
            return None
        user = self._users.resolve(holder.owner)
        return user.id if user.found else None

    def _team(self, holder: Holder) -> Team | None:
        return self._config.team_named(holder.team) if holder.team else None

    def _audience(self, holder: Holder, owner: str | None, lang: str) -> Audience:
        return Audience(people=frozenset({owner} if owner else ()), teams=(holder.team,) if holder.team else (),
                        description=t("gpu.pod_owner", lang))
