"""Review queues: every configured repository's open pull requests in one cached read, seen per team (by working
time waited) and per person (what waits on me, what I wait on)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clients import GitHubSource, OpenPulls, PullRequest
from bot.clients.slack_users import UserDirectory
from bot.clock import Clock
from bot.review.hours import Calendar
from bot.review.model import MyQueue, QueueItem, TeamQueue
from bot.review.people import People
from bot.settings import Config, Team

TEAMS_TTL = timedelta(hours=1)


def waiting_for_review(pr: PullRequest) -> bool:
    return pr.state == "OPEN" and not pr.draft and bool(pr.requests)


class ReviewService:
    def __init__(self, github: GitHubSource, config: Config, people: People, users: UserDirectory,
                 clock: Clock) -> None:
        self.github = github
        self.config = config
        self.people = people
        self._users = users
        self._clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[datetime, OpenPulls] | None = None
        self._teams: dict[str, tuple[datetime, tuple[str, ...]]] = {}

    # Reading ------------------------------------------------------------------------------------------------
    def repos(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(repo for team in self.config.teams for repo in team.repos))

    def open_pulls(self) -> OpenPulls:
        """Every configured repository's open pull requests: one GitHub read per 50 repositories and page of 100,
        kept for `review.cache` so that /review, /review team, nudges and digests share it (a full read of 50
        repositories costs about 250 of GitHub's 5,000 points an hour)."""
        with self._lock:
            now = self._clock.now()
            if self._cached and now - self._cached[0] < self.config.review.cache:
                return self._cached[1]
            pulls = self.github.open_pulls(self.repos()) if self.repos() else OpenPulls(pulls=())
            self._cached = (now, pulls)
            return pulls

    def current(self, repo: str, number: int) -> PullRequest | None:
        """One pull request as it is now, in any state (one small query, not a re-read of every repository)."""
        return self.github.pull(repo, number)

    def team_of(self, repo: str) -> Team | None:
        return next((team for team in self.config.teams if repo in team.repos), None)

    # Calendars ----------------------------------------------------------------------------------------------
    def calendar(self, team: Team, tz: str | None = None) -> Calendar:
        hours = team.working_hours or self.config.review.working_hours
        return Calendar(hours, ZoneInfo(tz or team.timezone), frozenset(team.holidays))

    def person_calendar(self, team: Team, slack_user: str | None) -> Calendar:
        """The team's hours and holidays on the person's own clock (their Slack time zone, else the team's)."""
        tz = self._users.get(slack_user).tz if slack_user else None
        return self.calendar(team, tz if tz and _known_zone(tz) else None)

    # Queues -------------------------------------------------------------------------------------------------
    def team_queue(self, team: Team) -> TeamQueue:
        now = self._clock.now()
        read = self.open_pulls() if team.repos else OpenPulls(pulls=())
        pulls = [pr for pr in read.pulls if pr.repo in team.repos and waiting_for_review(pr)]
        items = sorted(self._items(pulls, now), key=lambda item: (-item.waited, item.pr.created_at))
        load = Counter(reviewer for item in items for reviewer in item.reviewers)
        return TeamQueue(team=team.name, repos=tuple(team.repos), items=tuple(items),
                         load=tuple(sorted(load.items(), key=lambda pair: (-pair[1], pair[0]))),
                         stale_after=self.config.review.stale_after, as_of=now,
                         missing=tuple(repo for repo in read.missing if repo in team.repos), demo=self.github.demo)

    def my_queue(self, slack_user: str) -> MyQueue:
        now = self._clock.now()
        read = self.open_pulls()
        login = self.people.login_of(slack_user, dict(email for pr in read.pulls for email in pr.emails))
        if login is None:
            return MyQueue(login=None, to_review=(), mine=(), teams=(), as_of=now, demo=self.github.demo)
        teams = self.teams_of(login)
        waiting = [pr for pr in read.pulls if waiting_for_review(pr)]
        mine = [pr for pr in waiting if pr.author.lower() == login.lower()]
        to_review = [pr for pr in waiting if _asks(pr, login, teams) and pr.author.lower() != login.lower()]
        return MyQueue(login=login, to_review=_oldest_first(self._items(to_review, now)),
                       mine=_oldest_first(self._items(mine, now)), teams=teams, as_of=now, demo=self.github.demo)

    def teams_of(self, login: str) -> tuple[str, ...]:
        now = self._clock.now()
        remembered = self._teams.get(login.lower())
        if remembered and now - remembered[0] < TEAMS_TTL:
            return remembered[1]
        orgs = tuple(dict.fromkeys(repo.split("/", 1)[0] for repo in self.repos()))
        teams = self.github.teams_of(login, orgs) if orgs else ()
        self._teams[login.lower()] = (now, teams)
        return teams

    def waiting_on(self, login: str) -> int:
        """Pull requests waiting on this reviewer across every configured repository."""
        return sum(1 for pr in self.open_pulls().pulls
                   if waiting_for_review(pr) and login.lower() in {r.lower() for r in pr.requested_reviewers})

    def load(self, logins: Iterable[str]) -> dict[str, int]:
        return {login: self.waiting_on(login) for login in logins}

    def _items(self, pulls: list[PullRequest], now: datetime) -> list[QueueItem]:
        items = []
        for pr in pulls:
            team = self.team_of(pr.repo) or self.config.organisation()
            since = min(pr.waiting_since(request) for request in pr.requests)
            waited = self.calendar(team).working_time(since, now)
            items.append(QueueItem(pr=pr, reviewers=tuple(r.reviewer for r in pr.requests), waited=waited,
                                   stale=waited > self.config.review.stale_after))
        return items


def _oldest_first(items: list[QueueItem]) -> tuple[QueueItem, ...]:
    return tuple(sorted(items, key=lambda item: (item.pr.created_at, item.pr.repo, item.pr.number)))


def _asks(pr: PullRequest, login: str, teams: tuple[str, ...]) -> bool:
    wanted = {login.lower(), *(team.lower() for team in teams)}
    return any(request.reviewer.lower() in wanted for request in pr.requests)


def _known_zone(tz: str) -> bool:
    try:
        ZoneInfo(tz)
    except (ValueError, KeyError, OSError):
        return False
    return True
