"""What /review reports: the pull requests waiting for review in a team's repositories, with their age."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.clients import PullRequest


@dataclass(frozen=True)
class PendingReview:
    pr: PullRequest
    age: timedelta

    @property
    def reviewers(self) -> tuple[str, ...]:
        """Requested users, then requested teams (by slug)."""
        return self.pr.requested_reviewers + self.pr.requested_teams


@dataclass(frozen=True)
class ReviewQueue:
    team: str
    repos: tuple[str, ...]
    items: list[PendingReview]
    demo: bool
    as_of: datetime
