"""The weekday review digest in each team's channel at the start of its working day, and the personal morning DM
of one's review queue (`/review remind on`); each claimed in a row before it is sent."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import ChatSender
from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.notices import NoticeBoard
from bot.permissions import Audience, Permissions
from bot.retry import BackendError
from bot.review import render, store
from bot.review.hours import Calendar
from bot.review.service import ReviewService
from bot.settings import Team
from bot.store import notices as notice_store

log = logging.getLogger(__name__)
KIND = "review-digest"
MORNING = timedelta(hours=2)  # a digest or reminder not sent by two hours into the working day waits for tomorrow


class ReviewDigests:
    def __init__(self, reviews: ReviewService, notices: NoticeBoard, users: UserDirectory, chat: ChatSender,
                 permissions: Permissions, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._reviews = reviews
        self._notices = notices
        self._users = users
        self._chat = chat
        self._permissions = permissions
        self._sessions = sessions
        self._clock = clock

    def tick(self) -> None:
        if self._reviews.config.review.digest:
            for team in self._reviews.config.teams:
                if team.repos and team.channel:
                    self.post_digest(team)
        self.send_reminders()

    def post_digest(self, team: Team) -> bool:
        """Post the team's review digest once on each working day, in its working hours; True if it went out."""
        now = self._clock.now()
        calendar = self._reviews.calendar(team)
        if not _morning(calendar, now) or team.channel is None:
            return False
        day = calendar.day_of(now).isoformat()
        if self._notices.find(KIND, team.name, day):
            return False
        queue = self._reviews.team_queue(team)
        if not queue.items:  # nothing waits: say nothing, but remember the day so the queue is not read again
            notice_store.claim_notice(self._sessions, KIND, team.name, day, now, channel=team.channel)
            return False
        blocks = render.digest_blocks(queue, team.language, team.timezone)
        return self._notices.open(KIND, team.name, team.channel, blocks, period=day) is not None

    # Personal reminders -----------------------------------------------------------------------------------------
    def remind(self, user: str, team: Team, on: bool, lang: str) -> None:
        self._permissions.require(user, "review_remind", user, Audience(people=frozenset({user})), lang)
        store.set_reminder(self._sessions, user, team.name, on, self._clock.now())

    def send_reminders(self) -> int:
        sent = 0
        for reminder in store.reminders(self._sessions):
            team = self._reviews.config.team_named(reminder.team) or self._reviews.config.organisation()
            calendar = self._reviews.person_calendar(team, reminder.slack_user)
            now = self._clock.now()
            if not _morning(calendar, now):
                continue
            if store.claim_reminder(self._sessions, reminder, calendar.day_of(now).isoformat()):
                sent += self._remind(reminder, team, calendar.tz.key)
        return sent

    def _remind(self, reminder: store.Reminder, team: Team, tz: str) -> int:
        try:
            queue = self._reviews.my_queue(reminder.slack_user)
            if not queue.to_review:  # an empty queue needs no morning message
                return 0
            lang = self._users.language(reminder.slack_user, team.language)
            self._chat.dm(reminder.slack_user, render.reminder_blocks(queue, lang, tz))
        except BackendError as exc:
            store.release_reminder(self._sessions, reminder)
            log.warning("review reminder for %s not sent (next tick tries again): %s", reminder.slack_user, exc)
            return 0
        return 1


def _morning(calendar: Calendar, now: datetime) -> bool:
    """Within the first hours of a working day, on the calendar's clock."""
    return calendar.is_open(now) and now - calendar.opening(calendar.day_of(now)) < MORNING
