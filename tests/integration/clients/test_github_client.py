"""GitHubClient with PyGithub against a loopback server shaped like the GitHub REST API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.clients import PullRequest
from bot.clients.github import GitHubClient
from bot.clock import FrozenClock
from bot.retry import BackendError
from bot.review.service import ReviewService
from bot.settings import Team
from tests.support.fixture_http import FixtureServer, Request, Response

TOKEN = "ghp_testtoken1234567890"
PULLS = r"/repos/acme/ml-platform/pulls"


def user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**6, "node_id": f"U_{login}", "type": "User",
            "site_admin": False, "url": f"https://api.github.com/users/{login}",
            "html_url": f"https://github.com/{login}", "avatar_url": f"https://avatars.example/{login}"}


def team(slug: str) -> dict[str, Any]:
    return {"id": 42, "node_id": f"T_{slug}", "slug": slug, "name": slug, "privacy": "closed",
            "permission": "pull", "url": f"https://api.github.com/teams/{slug}",
            "html_url": f"https://github.com/orgs/acme/teams/{slug}"}


def repository(base: str, name: str = "ml-platform") -> dict[str, Any]:
    return {"id": 7, "node_id": "R_7", "name": name, "full_name": f"acme/{name}", "private": True,
            "owner": user("acme"), "html_url": f"https://github.com/acme/{name}",
            "url": f"{base}/repos/acme/{name}", "default_branch": "main"}


def pull(base: str, number: int, created: str, reviewers: tuple[str, ...] = (), teams: tuple[str, ...] = (),
         draft: bool = False, title: str = "Change") -> dict[str, Any]:
    repo = repository(base)
    part = {"label": "acme:main", "ref": "main", "sha": "0" * 40, "user": user("acme"), "repo": repo}
    return {
        "url": f"{base}/repos/acme/ml-platform/pulls/{number}", "id": 1000 + number,
        "node_id": f"PR_{number}",
        "html_url": f"https://github.com/acme/ml-platform/pull/{number}", "number": number, "state": "open",
        "locked": False, "title": title, "user": user("wei-zhang"), "body": "Details", "labels": [],
        "milestone": None, "active_lock_reason": None, "created_at": created, "updated_at": created,
        "closed_at": None, "merged_at": None, "merge_commit_sha": None, "assignee": None, "assignees": [],
        "requested_reviewers": [user(r) for r in reviewers], "requested_teams": [team(t) for t in teams],
        "head": {**part, "label": f"wei-zhang:feature-{number}", "ref": f"feature-{number}"}, "base": part,
        "author_association": "MEMBER", "auto_merge": None, "draft": draft,
    }


def pull_list(server: FixtureServer) -> Any:
    """Two pages joined by a Link header, like GitHub's pagination."""
    def answer(request: Request) -> Response:
        if request.param("page") == "2":
            return Response(200, [pull(server.url, 21, "2026-03-01T22:00:00Z", teams=("ml-infra",))])
        first = [pull(server.url, 7, "2026-02-27T08:00:00Z", reviewers=("lena-k", "sam-o")),
                 pull(server.url, 9, "2026-02-28T08:00:00Z", reviewers=("lena-k",), draft=True),
                 pull(server.url, 12, "2026-03-01T08:00:00Z")]
        link = f'<{server.url}{PULLS}?state=open&sort=created&direction=asc&per_page=100&page=2>; rel="next"'
        return Response(200, first, headers={"Link": link})
    return answer


@pytest.fixture
def api() -> Iterator[FixtureServer]:
    with FixtureServer() as server:
        server.add("GET", r"/repos/acme/ml-platform", repository(server.url))
        server.add("GET", PULLS, pull_list(server))
        server.add("GET", r"/rate_limit", {
            "resources": {"core": {"limit": 5000, "used": 10, "remaining": 4990, "reset": 1772445600}},
            "rate": {"limit": 5000, "used": 10, "remaining": 4990, "reset": 1772445600}})
        yield server


@pytest.fixture
def github(api: FixtureServer) -> GitHubClient:
    return GitHubClient(TOKEN, api.url)


def test_open_pull_requests_follow_every_page(github: GitHubClient, api: FixtureServer) -> None:
    pulls = github.open_pull_requests("acme/ml-platform")

    assert [p.number for p in pulls] == [7, 9, 12, 21]
    assert pulls[0] == PullRequest(
        repo="acme/ml-platform", number=7, title="Change", url="https://github.com/acme/ml-platform/pull/7",
        author="wei-zhang", created_at=datetime(2026, 2, 27, 8, tzinfo=UTC),
        requested_reviewers=("lena-k", "sam-o"))
    assert pulls[1].draft and pulls[3].requested_teams == ("ml-infra",)
    first, second = api.requests("GET", PULLS)
    assert (first.param("state"), first.param("sort"), first.param("direction")) == ("open", "created", "asc")
    assert second.param("page") == "2"
    assert TOKEN in first.headers["authorization"]


def test_no_request_per_pull_request(github: GitHubClient, api: FixtureServer) -> None:
    github.open_pull_requests("acme/ml-platform")

    assert [r.path for r in api.requests()] == [PULLS, PULLS]  # the list answer has every field we read


def test_review_queue_from_github(github: GitHubClient) -> None:
    clock = FrozenClock(datetime(2026, 3, 2, 8, tzinfo=UTC))

    queue = ReviewService(github, clock).pending(Team(name="ml", repos=["acme/ml-platform"]))

    assert [(i.pr.number, i.age.days) for i in queue.items] == [(7, 3), (21, 0)]
    assert not queue.demo


def test_a_transient_503_is_retried_and_then_succeeds(github: GitHubClient, api: FixtureServer) -> None:
    normal = pull_list(api)
    answers = iter([Response(503, {"message": "Service Unavailable"})])
    api.add("GET", PULLS, lambda request: next(answers, None) or normal(request))

    assert len(github.open_pull_requests("acme/ml-platform")) == 4
    assert [r.param("page") for r in api.requests("GET", PULLS)] == [None, None, "2"]


def test_a_401_is_not_retried_and_says_to_check_the_token(github: GitHubClient, api: FixtureServer) -> None:
    api.add("GET", PULLS, Response(401, {"message": "Bad credentials",
                                         "documentation_url": "https://docs.github.com/rest"}))

    with pytest.raises(BackendError) as failure:
        github.open_pull_requests("acme/ml-platform")

    assert failure.value.backend == "github" and not failure.value.transient
    expected = f"127.0.0.1:{api.port} rejected the credentials (HTTP 401); check GITHUB_TOKEN"
    assert failure.value.reason == expected
    assert TOKEN not in str(failure.value)
    assert len(api.requests("GET", PULLS)) == 1


def test_a_missing_repository_is_named(github: GitHubClient, api: FixtureServer) -> None:
    api.add("GET", "/repos/acme/nope/pulls", Response(404, {
        "message": "Not Found", "documentation_url": "https://docs.github.com/rest/pulls/pulls#list-pull-requests"}))

    with pytest.raises(BackendError, match="repository acme/nope not found") as failure:
        github.open_pull_requests("acme/nope")

    assert not failure.value.transient


def test_probe_reports_the_rate_limit(github: GitHubClient, api: FixtureServer) -> None:
    assert github.probe() == f"GitHub API at 127.0.0.1:{api.port}, 4990/5000 requests left this hour"
