"""Nudges to reviewers: stored first, sent once in the reviewer's working hours and language, followed up once at
the proposed time, and answered with Reviewing now / Can't this week / Snooze 1 day."""

from __future__ import annotations

import logging
import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.orm import Session, sessionmaker

from bot.clients import ChatSender, PullRequest
from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.i18n import t
from bot.metrics import ERRORS, RETRIES
from bot.permissions import Audience, Permissions
from bot.render.blocks import Block
from bot.retry import BackendError
from bot.review import render, store
from bot.review.hours import Calendar
from bot.review.model import Alternative, Nudge, NudgeOutcome, NudgeReport
from bot.review.parse import NudgeRequest, parse_time
from bot.review.service import ReviewService, waiting_for_review
from bot.settings import Team
from bot.store.repo import audit

log = logging.getLogger(__name__)
REASON_CHARS = 300
RETRY_BASE = timedelta(minutes=1)
FOLLOW_UP_GAP = timedelta(hours=2)  # a follow-up never lands right behind a nudge that was held past its time
Answer = Literal["reviewing", "cant", "snooze"]


class NotOpen(Exception):
    """The pull request is merged or closed (`state`), or does not exist (None)."""

    def __init__(self, state: str | None) -> None:
        super().__init__(state or "missing")
        self.state = state


class UnknownRepo(Exception):
    """The repository is in no team's `repos`."""


class NoReviewers(Exception):
    """Nobody is requested to review the pull request."""


class NudgeRefused(Exception):
    """A button the clicker may not press, or one already answered; the message says which, in their language."""


class Nudges:
    def __init__(self, reviews: ReviewService, users: UserDirectory, chat: ChatSender, permissions: Permissions,
                 sessions: sessionmaker[Session], clock: Clock) -> None:
        self._reviews = reviews
        self._people = reviews.people
        self._users = users
        self._chat = chat
        self._permissions = permissions
        self._sessions = sessions
        self._clock = clock

    # /review nudge ----------------------------------------------------------------------------------------------
    def nudge(self, requester: str, request: NudgeRequest, lang: str) -> NudgeReport:
        """Nudge every requested reviewer of an open pull request once today (or at their next working morning)."""
        team = self._reviews.team_of(request.repo)
        if team is None:
            raise UnknownRepo(request.repo)
        pr = self._reviews.current(request.repo, request.number)
        if pr is None or pr.state != "OPEN":
            raise NotOpen(pr.state if pr else None)
        if not pr.requests:
            raise NoReviewers()
        emails = dict(pr.emails)
        author_slack = self._people.slack_of(pr.author, emails.get(pr.author))
        self._permissions.require(requester, "review_nudge", f"{pr.repo}#{pr.number}",
                                  Audience(people=frozenset({author_slack} if author_slack else ()), teams=(team.name,),
                                           description=t("permissions.review_audience", lang)), lang)
        reason = (request.because or _first_line(pr.body))[:REASON_CHARS]
        outcomes = [self._nudge_one(pr, team, login, emails.get(login), author_slack, requester, request, reason)
                    if not is_team else NudgeOutcome(reviewer=login, status="team")
                    for login, is_team in ((r.reviewer, r.team) for r in pr.requests)]
        report = NudgeReport(pr=pr, outcomes=tuple(outcomes))
        with self._sessions.begin() as session:
            audit(session, self._clock.now(), requester, "review.nudge", f"{pr.repo}#{pr.number}",
                  outcomes={outcome.reviewer: outcome.status for outcome in outcomes})
        unmapped = tuple(outcome for outcome in outcomes if outcome.status == "unmapped")
        if unmapped and author_slack and author_slack != requester:  # the author can fix the mapping
            self._tell(author_slack, lambda lang_: render.nudge_report_blocks(replace(report, outcomes=unmapped),
                                                                             lang_), team)
        return report

    def _nudge_one(self, pr: PullRequest, team: Team, login: str, email: str | None, author_slack: str | None,
                   requester: str, request: NudgeRequest, reason: str) -> NudgeOutcome:
        slack = self._people.slack_of(login, email)
        if slack is None:
            return NudgeOutcome(reviewer=login, status="unmapped")
        calendar = self._reviews.person_calendar(team, slack)
        tz = calendar.tz.key
        now = self._clock.now()
        due = calendar.next_open(now)
        day = calendar.day_of(due)
        if store.exists(self._sessions, pr.repo, pr.number, login, day.isoformat()):
            return NudgeOutcome(reviewer=login, status="already", slack_user=slack, tz=tz,
                                at=calendar.next_working_day_start(day))
        propose = self._proposed(request, calendar, now, due)
        new = store.NewNudge(repo=pr.repo, number=pr.number, reviewer=login, work_day=day.isoformat(), slack_user=slack,
                             author_slack=author_slack, requested_by=requester, tz=tz, due_at=due, propose_at=propose,
                             detail={"reason": reason, "pr": _snapshot(pr), "queue": self._reviews.waiting_on(login)})
        if not store.add(self._sessions, new, "nudge", now):  # a second click or replica got there first
            return NudgeOutcome(reviewer=login, status="already", slack_user=slack, tz=tz,
                                at=calendar.next_working_day_start(day))
        if self._reviews.config.review.follow_up:
            store.add(self._sessions, new, "follow_up", now)
        if due > now:
            return NudgeOutcome(reviewer=login, status="held", slack_user=slack, at=due, propose_at=propose, tz=tz)
        delivered = self.deliver_due(only=(pr.repo, pr.number, login), pulls=[pr])
        return NudgeOutcome(reviewer=login, status="sent" if delivered else "failed", slack_user=slack,
                            propose_at=propose, tz=tz)

    def _proposed(self, request: NudgeRequest, calendar: Calendar, now: datetime, due: datetime) -> datetime:
        """The time asked for (`by …`, on the reviewer's clock), else the next working morning after delivery; never
        before the nudge arrives."""
        if request.by:
            asked = parse_time(request.by, now, calendar.tz, calendar.hours.start)
            if asked > due:
                return asked
        return calendar.next_morning(due)

    # Delivery (the review tick, and at once for a nudge inside working hours) -------------------------------
    def deliver_due(self, only: tuple[str, int, str] | None = None, pulls: list[PullRequest] | None = None) -> int:
        """Send every nudge and follow-up whose time has come; how many went out."""
        sent = 0
        for record in store.due(self._sessions, self._clock.now(), only):
            if store.take(self._sessions, record, self._clock.now()):
                sent += self._deliver(record, pulls)
        return sent

    def _deliver(self, record: store.NudgeRecord, pulls: list[PullRequest] | None) -> int:
        now = self._clock.now()
        team = self._reviews.team_of(record.repo) or self._reviews.config.organisation()
        calendar = self._reviews.calendar(team, record.tz)
        later = self._not_now(record, calendar, now)
        if later:
            store.hold(self._sessions, record.id, later)
            return 0
        try:
            pr = self._current(record, pulls)
            if pr is None or record.reviewer.lower() not in {r.lower() for r in pr.requested_reviewers} or \
                    self._nudge_failed(record):
                store.finish(self._sessions, record.id, "done")  # reviewed, merged, closed or re-assigned
                return 0
            nudge = self._nudge_of(record, pr, self._reviews.waiting_on(record.reviewer))
            lang = self._lang(record.slack_user, team)
            channel, ts = self._chat.dm(record.slack_user, render.nudge_blocks(nudge, lang))
        except BackendError as exc:
            return self._retry(record, now, exc)
        store.sent(self._sessions, record.id, channel, ts, now)
        if nudge.follow_up and nudge.author_slack:
            self._tell(nudge.author_slack, lambda lang: render.author_follow_up_blocks(nudge, lang), team)
        return 1

    def _not_now(self, record: store.NudgeRecord, calendar: Calendar, now: datetime) -> datetime | None:
        """When to try instead: outside the reviewer's working hours, while their Do Not Disturb is on, or (a
        follow-up) before its nudge went out."""
        if not calendar.is_open(now):
            return calendar.next_open(now)
        if record.kind == "follow_up":
            nudge = store.nudge_of(self._sessions, record)
            if nudge and nudge.state in ("due", "sending"):
                return calendar.next_open(max(nudge.due_at, now) + FOLLOW_UP_GAP)
        dnd_end = self._users.dnd_until(record.slack_user, now)
        return calendar.next_open(dnd_end) if dnd_end else None

    def _nudge_failed(self, record: store.NudgeRecord) -> bool:
        """A follow-up whose nudge never reached the reviewer has nothing to follow."""
        nudge = store.nudge_of(self._sessions, record) if record.kind == "follow_up" else None
        return nudge is not None and nudge.state == "failed"

    def _current(self, record: store.NudgeRecord, pulls: list[PullRequest] | None) -> PullRequest | None:
        """The pull request as it is now, if it is still open and waiting for review."""
        source = pulls if pulls is not None else list(self._reviews.open_pulls().pulls)
        found = next((pr for pr in source if pr.repo == record.repo and pr.number == record.number), None)
        return found if found and waiting_for_review(found) else None

    def _retry(self, record: store.NudgeRecord, now: datetime, exc: BackendError) -> int:
        delay = RETRY_BASE * (2 ** record.attempts) * random.uniform(0.5, 1.5)
        RETRIES.labels(backend=exc.backend).inc()
        if store.failed_attempt(self._sessions, record.id, now + delay):
            ERRORS.labels(exc.backend).inc()
            log.error("review %s to %s for %s#%s failed for good after %d attempts: %s", record.kind,
                      record.slack_user, record.repo, record.number, record.attempts + 1, exc)
        else:
            log.warning("review %s to %s failed (%s); trying again in %s", record.kind, record.slack_user, exc,
                        delay)
        return 0

    # Buttons ----------------------------------------------------------------------------------------------------
    def answer(self, nudge_id: int, choice: Answer, user: str, lang: str) -> list[Block]:
        """The reviewer's answer: the author is told, the follow-up moves or stops; the blocks that replace the DM."""
        record = store.get(self._sessions, nudge_id)
        if record is None:
            raise NudgeRefused(t("review.gone", lang))
        self._permissions.require(user, "review_answer", f"{record.repo}#{record.number}",
                                  Audience(people=frozenset({record.slack_user})), lang)
        if not store.answer(self._sessions, record.id, choice, user, self._clock.now()):
            raise NudgeRefused(t("review.already_answered", lang))
        nudge = self._nudge_of(record, None, record.detail.get("queue", 1))
        team = self._reviews.team_of(record.repo) or self._reviews.config.organisation()
        until = None
        if choice == "reviewing" and nudge.author_slack:
            self._tell(nudge.author_slack, lambda lang_: render.reviewing_blocks(nudge, lang_), team)
        elif choice == "cant":
            self._stop_follow_up(record)
            if nudge.author_slack:
                alternative = self.alternative(record, team)
                self._tell(nudge.author_slack, lambda lang_: render.cant_blocks(nudge, alternative, lang_), team)
        elif choice == "snooze":
            until = self._snooze(record, team)
        return render.answered_blocks(choice, nudge, lang, until)

    def alternative(self, record: store.NudgeRecord, team: Team) -> Alternative | None:
        """The least-loaded other reviewer of the team: `teams[].reviewers`, else whoever its queue shows."""
        author = str(record.detail.get("pr", {}).get("author", ""))
        pool = team.reviewers or sorted({login for pr in self._reviews.open_pulls().pulls if pr.repo in team.repos
                                         for login in (pr.author, *pr.requested_reviewers)})
        others = [login for login in pool if login.lower() not in {record.reviewer.lower(), author.lower()}
                  and not login.endswith("[bot]")]
        if not others:
            return None
        load = self._reviews.load(others)
        login = min(others, key=lambda name: (load[name], name))
        return Alternative(login=login, slack_user=self._people.slack_of(login), waiting=load[login])

    def _stop_follow_up(self, record: store.NudgeRecord) -> None:
        follow_up = store.follow_up(self._sessions, record)
        if follow_up and follow_up.state == "due":
            store.finish(self._sessions, follow_up.id, "cancelled")

    def _snooze(self, record: store.NudgeRecord, team: Team) -> datetime:
        until = self._reviews.calendar(team, record.tz).one_working_day_later(self._clock.now())
        follow_up = store.follow_up(self._sessions, record)
        if follow_up is None:
            store.add(self._sessions, _new_from(record, until), "follow_up", self._clock.now())
        else:
            store.reschedule(self._sessions, follow_up.id, until)
        return until

    # Helpers ----------------------------------------------------------------------------------------------------
    def _nudge_of(self, record: store.NudgeRecord, pr: PullRequest | None, queue: int) -> Nudge:
        return Nudge(id=record.id, pr=pr or _from_snapshot(record), reviewer=record.reviewer,
                     reviewer_slack=record.slack_user, author_slack=record.author_slack,
                     requested_by=record.requested_by, reason=str(record.detail.get("reason") or ""),
                     queue=max(1, queue), propose_at=record.propose_at, tz=record.tz,
                     follow_up=record.kind == "follow_up")

    def _lang(self, user: str, team: Team) -> str:
        return self._users.language(user, team.language)

    def _tell(self, user: str, blocks: Any, team: Team) -> None:
        """A DM that follows an action already recorded: best effort, logged when Slack refuses."""
        try:
            self._chat.dm(user, blocks(self._lang(user, team)))
        except BackendError as exc:
            log.warning("could not tell %s about a review answer: %s", user, exc)


def _first_line(body: str) -> str:
    return next((line.strip() for line in body.splitlines() if line.strip()), "")


def _snapshot(pr: PullRequest) -> dict[str, Any]:
    return {"title": pr.title, "url": pr.url, "author": pr.author, "created_at": pr.created_at.isoformat(),
            "additions": pr.additions, "deletions": pr.deletions, "changed_files": pr.changed_files,
            "ci": pr.ci, "labels": list(pr.labels)}


def _from_snapshot(record: store.NudgeRecord) -> PullRequest:
    seen = record.detail.get("pr") or {}
    return PullRequest(repo=record.repo, number=record.number, title=str(seen.get("title", "")),
                       url=str(seen.get("url", "")), author=str(seen.get("author", "")),
                       created_at=datetime.fromisoformat(seen.get("created_at") or record.due_at.isoformat()),
                       additions=int(seen.get("additions") or 0), deletions=int(seen.get("deletions") or 0),
                       changed_files=int(seen.get("changed_files") or 0), ci=seen.get("ci"),
                       labels=tuple(seen.get("labels") or ()))


def _new_from(record: store.NudgeRecord, at: datetime) -> store.NewNudge:
    return store.NewNudge(repo=record.repo, number=record.number, reviewer=record.reviewer, work_day=record.work_day,
                          slack_user=record.slack_user, author_slack=record.author_slack,
                          requested_by=record.requested_by, tz=record.tz, due_at=at, propose_at=at,
                          detail=record.detail)

