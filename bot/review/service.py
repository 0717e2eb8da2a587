"""Pull requests waiting for review in a team's repositories, oldest first."""

from __future__ import annotations

from bot.clients import GitHubSource, PullRequest
from bot.clock import Clock, elapsed
from bot.review.model import PendingReview, ReviewQueue
from bot.settings import Team


def waiting_for_review(pr: PullRequest) -> bool:
    return not pr.draft and bool(pr.requested_reviewers or pr.requested_teams)


class ReviewService:
    def __init__(self, github: GitHubSource, clock: Clock) -> None:
        self._github = github
        self._clock = clock

    def pending(self, team: Team) -> ReviewQueue:
        now = self._clock.now()
        pulls = [pr for repo in team.repos for pr in self._github.open_pull_requests(repo)]
        waiting = sorted(filter(waiting_for_review, pulls), key=lambda pr: (pr.created_at, pr.number))
        items = [PendingReview(pr=pr, age=elapsed(pr.created_at, now)) for pr in waiting]
        return ReviewQueue(team=team.name, repos=tuple(team.repos), items=items,
                           demo=bool(self._github.demo), as_of=now)
