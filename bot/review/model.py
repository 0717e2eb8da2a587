"""What /review reports and sends: queues of pull requests waiting for review, and the nudges to reviewers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from bot.clients import PullRequest

SMALL_LINES = 100  # a pull request of at most this many lines changed is "small" in a nudge
LARGE_LINES = 800


def size_class(pr: PullRequest) -> Literal["small", "medium", "large"]:
    if pr.size <= SMALL_LINES:
        return "small"
    return "large" if pr.size > LARGE_LINES else "medium"


@dataclass(frozen=True)
class QueueItem:
    """One pull request waiting for review, with the reviewers it waits on (logins, and teams as `org/slug`)."""

    pr: PullRequest
    reviewers: tuple[str, ...]
    waited: timedelta  # working time since its oldest open request, on the team's calendar
    stale: bool  # waited longer than review.stale_after


@dataclass(frozen=True)
class TeamQueue:
    team: str
    repos: tuple[str, ...]
    items: tuple[QueueItem, ...]  # longest waiting first
    load: tuple[tuple[str, int], ...]  # (reviewer, pull requests waiting on them), most first
    stale_after: timedelta
    as_of: datetime
    missing: tuple[str, ...] = ()  # repositories GitHub did not show (not found, or the token cannot see them)
    demo: bool = False

    @property
    def stale(self) -> tuple[QueueItem, ...]:
        return tuple(item for item in self.items if item.stale)


@dataclass(frozen=True)
class MyQueue:
    """`/review` for one Slack user: what waits on them (or their GitHub teams), and their own pull requests."""

    login: str | None  # None: their GitHub login is unknown, see `hint`
    to_review: tuple[QueueItem, ...]  # oldest first
    mine: tuple[QueueItem, ...]  # their pull requests waiting on others, oldest first
    teams: tuple[str, ...]  # their GitHub teams (`org/slug`) counted as "me"
    as_of: datetime
    demo: bool = False


@dataclass(frozen=True)
class Nudge:
    """What a nudge (or its follow-up) says to one reviewer, in the reviewer's language."""

    id: int  # the row; the buttons carry it
    pr: PullRequest
    reviewer: str  # login
    reviewer_slack: str
    author_slack: str | None  # None: the author's Slack user is unknown
    requested_by: str  # the Slack user who asked for the nudge
    reason: str  # what it unblocks: `because …`, else the first line of the description
    queue: int  # reviews waiting on this reviewer, this one included
    propose_at: datetime  # the proposed review time
    tz: str  # the reviewer's time zone
    follow_up: bool = False


NudgeStatus = Literal["sent", "held", "already", "unmapped", "team", "failed"]


@dataclass(frozen=True)
class NudgeOutcome:
    """What happened for one requested reviewer when someone asked for a nudge."""

    reviewer: str  # login, or `org/slug` for a team
    status: NudgeStatus
    slack_user: str | None = None
    at: datetime | None = None  # held: delivered then; already: the next working day it could go
    propose_at: datetime | None = None
    tz: str = "UTC"  # the reviewer's time zone, for `at` and `propose_at`


@dataclass(frozen=True)
class NudgeReport:
    """The answer to `/review nudge`."""

    pr: PullRequest
    outcomes: tuple[NudgeOutcome, ...]


@dataclass(frozen=True)
class Alternative:
    """Who else could review: the least-loaded other reviewer of the team, and their load."""

    login: str
    slack_user: str | None
    waiting: int
