"""ReviewService over the demo GitHub: who waits on whom, by working time, drafts and reviewer-less PRs left out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.clients import OpenPulls, PullRequest, ReviewRequest
from bot.clients.demo import DemoGitHub
from bot.clock import FrozenClock
from bot.retry import BackendError
from bot.review.service import ReviewService
from bot.settings import Config

NOW = datetime(2026, 3, 4, 2, 30, tzinfo=UTC)  # Wednesday 10:30 in Shanghai
CONFIG = Config.model_validate({"teams": [
    {"name": "ml", "timezone": "Asia/Shanghai", "repos": ["acme/inference-gateway", "acme/trainer"]},
    {"name": "web", "repos": ["acme/web"]}]})


def service(github: DemoGitHub, config: Config = CONFIG) -> ReviewService:
    # team queues need neither Slack users nor GitHub↔Slack mapping
    return ReviewService(github, config, people=None, users=None, clock=FrozenClock(NOW))  # type: ignore[arg-type]


def pull(number: int, hours_old: float, reviewers: tuple[str, ...] = ("lena",), draft: bool = False,
         repo: str = "acme/trainer") -> PullRequest:
    asked = NOW - timedelta(hours=hours_old)
    return PullRequest(repo=repo, number=number, title="Fix it", url=f"https://github.com/{repo}/pull/{number}",
                       author="wei", created_at=asked, draft=draft,
                       requests=tuple(ReviewRequest(login, requested_at=asked) for login in reviewers))


def test_the_team_queue_is_the_teams_waiting_pull_requests_longest_waiting_first() -> None:
    queue = service(DemoGitHub(FrozenClock(NOW))).team_queue(CONFIG.teams[0])

    assert [(i.pr.repo, i.pr.number) for i in queue.items] == [
        ("acme/inference-gateway", 412), ("acme/inference-gateway", 418), ("acme/trainer", 97)]
    assert queue.items[2].reviewers == ("acme/ml-infra",)  # a requested team counts as a reviewer
    assert dict(queue.load)["lena-k"] == 1 and queue.demo


def test_waiting_counts_working_hours_only() -> None:
    # asked 24 h ago (Tuesday 10:30 Shanghai): 7.5 h on Tuesday and 1.5 h this morning
    queue = service(DemoGitHub(pulls=[pull(1, 24)])).team_queue(CONFIG.teams[0])

    assert queue.items[0].waited == timedelta(hours=9) and not queue.items[0].stale


def test_stale_after_a_working_day_and_a_half() -> None:
    queue = service(DemoGitHub(pulls=[pull(1, 24 * 5), pull(2, 2)])).team_queue(CONFIG.teams[0])

    assert [(i.pr.number, i.stale) for i in queue.items] == [(1, True), (2, False)]
    assert queue.stale == (queue.items[0],)


def test_drafts_and_pull_requests_without_reviewers_are_left_out() -> None:
    github = DemoGitHub(pulls=[pull(1, 5, draft=True), pull(2, 4, reviewers=()), pull(3, 3)])

    assert [i.pr.number for i in service(github).team_queue(CONFIG.teams[0]).items] == [3]


def test_one_read_serves_every_team_until_the_cache_expires() -> None:
    reads: list[tuple[str, ...]] = []

    class Counting(DemoGitHub):
        def open_pulls(self, repos):  # type: ignore[no-untyped-def]
            reads.append(tuple(repos))
            return super().open_pulls(repos)

    reviews = service(Counting(pulls=[pull(1, 3), pull(2, 3, repo="acme/web")]))
    assert [i.pr.number for i in reviews.team_queue(CONFIG.teams[1]).items] == [2]
    assert [i.pr.number for i in reviews.team_queue(CONFIG.teams[0]).items] == [1]
    assert reads == [("acme/inference-gateway", "acme/trainer", "acme/web")]


def test_a_team_without_repositories_asks_nothing() -> None:
    class Refusing(DemoGitHub):
        def open_pulls(self, repos):  # type: ignore[no-untyped-def]
            raise AssertionError("asked GitHub")

    config = Config.model_validate({"teams": [{"name": "ops"}]})
    assert service(Refusing(), config).team_queue(config.teams[0]).items == ()


def test_github_failure_propagates() -> None:
    class Broken(DemoGitHub):
        def open_pulls(self, repos):  # type: ignore[no-untyped-def]
            raise BackendError("github", "GitHub rejected the token (HTTP 401): check GITHUB_TOKEN")

    with pytest.raises(BackendError, match="GITHUB_TOKEN"):
        service(Broken()).team_queue(CONFIG.teams[0])


def test_missing_repositories_are_reported_for_their_team() -> None:
    class Partial(DemoGitHub):
        def open_pulls(self, repos):  # type: ignore[no-untyped-def]
            return OpenPulls(pulls=(), missing=("acme/trainer",))

    assert service(Partial()).team_queue(CONFIG.teams[0]).missing == ("acme/trainer",)
    assert service(Partial()).team_queue(CONFIG.teams[1]).missing == ()
