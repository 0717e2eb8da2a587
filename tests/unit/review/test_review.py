"""/review: open, non-draft pull requests with requested reviewers across a team's repos, oldest first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clients import PullRequest
from bot.clients.demo import DemoGitHub
from bot.clock import FrozenClock
from bot.retry import BackendError
from bot.review.service import ReviewService
from bot.settings import Team

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
ML = Team(name="ml", repos=["acme/inference-gateway", "acme/trainer"])


def pull(number: int, hours_old: float, reviewers: tuple[str, ...] = ("lena",), title: str = "Fix it",
         draft: bool = False) -> PullRequest:
    repo = "acme/ml-platform"
    return PullRequest(repo=repo, number=number, title=title, url=f"https://github.com/{repo}/pull/{number}",
                       author="wei", created_at=NOW - timedelta(hours=hours_old),
                       requested_reviewers=reviewers, draft=draft)


def test_pending_lists_waiting_pull_requests_oldest_first_with_age() -> None:
    queue = ReviewService(DemoGitHub(FrozenClock(NOW)), FrozenClock(NOW)).pending(ML)

    assert [(i.pr.repo, i.pr.number) for i in queue.items] == [
        ("acme/inference-gateway", 412), ("acme/inference-gateway", 418), ("acme/trainer", 97)]
    assert [i.age for i in queue.items] == [timedelta(days=3, hours=4), timedelta(hours=26),
                                            timedelta(hours=5)]
    assert queue.items[2].reviewers == ("ml-infra",)  # a requested team counts as a reviewer
    assert (queue.team, queue.repos, queue.demo, queue.as_of) == ("ml", tuple(ML.repos), True, NOW)


def test_drafts_and_pull_requests_without_reviewers_are_left_out() -> None:
    github = DemoGitHub(pulls=[pull(1, 5, draft=True), pull(2, 4, reviewers=()), pull(3, 3)])

    queue = ReviewService(github, FrozenClock(NOW)).pending(Team(name="ml", repos=["acme/ml-platform"]))

    assert [i.pr.number for i in queue.items] == [3]


def test_github_failure_propagates() -> None:
    class Broken(DemoGitHub):
        def open_pull_requests(self, repo: str) -> list[PullRequest]:
            raise BackendError("github", "GitHub rejected the token (HTTP 401): check GITHUB_TOKEN")

    with pytest.raises(BackendError, match="GITHUB_TOKEN"):
        ReviewService(Broken(), FrozenClock(NOW)).pending(ML)
