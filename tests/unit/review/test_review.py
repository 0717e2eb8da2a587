"""/review: open, non-draft pull requests with requested reviewers across a team's repos, oldest first."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.clients import PullRequest
from bot.clients.demo import DemoGitHub
from bot.clock import FrozenClock
from bot.render.blocks import SECTION_LIMIT
from bot.retry import BackendError
from bot.review.render import age_text, review_blocks
from bot.review.service import ReviewService
from bot.settings import Team
from tests.support.slack_text import slack_text

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


def test_team_without_repos_has_an_empty_queue_and_is_told_how_to_configure_it() -> None:
    queue = ReviewService(DemoGitHub(), FrozenClock(NOW)).pending(Team(name="ops"))

    assert queue.items == [] and queue.repos == ()
    assert "add `repos:` to the team" in slack_text(review_blocks(queue, "en"))


def test_nothing_waiting_says_so() -> None:
    github = DemoGitHub(pulls=[pull(1, 5, draft=True)])

    queue = ReviewService(github, FrozenClock(NOW)).pending(Team(name="ml", repos=["acme/ml-platform"]))

    assert "Nothing is waiting for review in `acme/ml-platform`." in slack_text(review_blocks(queue, "en"))


def test_github_failure_propagates() -> None:
    class Broken(DemoGitHub):
        def open_pull_requests(self, repo: str) -> list[PullRequest]:
            raise BackendError("github", "GitHub rejected the token (HTTP 401): check GITHUB_TOKEN")

    with pytest.raises(BackendError, match="GITHUB_TOKEN"):
        ReviewService(Broken(), FrozenClock(NOW)).pending(ML)


def test_blocks_link_each_pull_request_with_author_age_and_reviewers() -> None:
    queue = ReviewService(DemoGitHub(FrozenClock(NOW)), FrozenClock(NOW)).pending(ML)

    blocks = review_blocks(queue, "en")

    assert blocks[0]["text"]["text"] == "Waiting for review: ml"
    first = blocks[1]["text"]["text"].splitlines()[0]
    assert first == ("• <https://github.com/acme/inference-gateway/pull/412|acme/inference-gateway#412> "
                     "Autoscale vLLM replicas on queue depth · by wei-zhang · waiting 3 d · "
                     "reviewers: lena-k")
    assert "3 pull requests waiting for review" in slack_text(blocks)
    assert "Demo data — connect GitHub (see README)" in slack_text(blocks)


def test_blocks_in_chinese() -> None:
    queue = ReviewService(DemoGitHub(FrozenClock(NOW)), FrozenClock(NOW)).pending(ML)

    text = slack_text(review_blocks(queue, "zh-CN"))

    assert "等待评审：ml" in text and "已等待 5 小时" in text and "演示数据" in text


def test_titles_and_names_from_github_are_escaped() -> None:
    github = DemoGitHub(pulls=[pull(7, 2, reviewers=("<@U999>",), title="<!channel> deploy & pray")])

    blocks = review_blocks(ReviewService(github, FrozenClock(NOW)).pending(
        Team(name="ml", repos=["acme/ml-platform"])), "en")

    payload = json.dumps(blocks, ensure_ascii=False)  # nowhere in what reaches Slack, shown or not
    assert "<!channel>" not in payload and "<@U999>" not in payload
    assert "&lt;!channel&gt; deploy &amp; pray" in slack_text(blocks)


def test_long_queues_stay_within_slack_limits() -> None:
    github = DemoGitHub(pulls=[pull(n, n, title="x" * 200) for n in range(1, 301)])

    blocks = review_blocks(ReviewService(github, FrozenClock(NOW)).pending(
        Team(name="ml", repos=["acme/ml-platform"])), "en")

    assert len(blocks) <= 50
    section = blocks[1]["text"]["text"]
    assert len(section) <= SECTION_LIMIT
    assert section.splitlines()[-1].startswith("…and ") and section.endswith(" more")
    assert "#300>" in section.splitlines()[0]  # oldest first


@pytest.mark.parametrize(("age", "expected"), [
    (timedelta(minutes=9), "9 min"),
    (timedelta(hours=5, minutes=59), "5 h"),
    (timedelta(days=2, hours=23), "2 d"),
])
def test_age_is_said_in_words(age: timedelta, expected: str) -> None:
    assert age_text(age, "en") == expected
