"""GitHubClient over GraphQL (PyGithub's requester) against GitHubFixture: GitHub's public schema on loopback."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from bot.clients import OpenPulls, PullRequest, ReviewRequest
from bot.clients.github import GitHubClient
from bot.retry import BackendError
from tests.support.github_graphql import GitHubFixture

TOKEN = "ghp_fixture_token_0000000000000000"
SCOPES = ('give GITHUB_TOKEN the `repo` and `read:org` scopes (classic token) or "Pull requests: read" and '
          '"Members: read" (fine-grained token)')


def at(day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def soon(minutes: int = 30) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(second=0, microsecond=0)


def many(gh: GitHubFixture, repo: str, count: int, first: int = 1) -> None:
    for n in range(first, first + count):
        gh.pull(repo, n, f"Change {n}", "wei-zhang", at(1) + timedelta(minutes=n))


def failure(call: Any, *args: Any) -> BackendError:
    with pytest.raises(BackendError) as caught:
        call(*args)
    error = caught.value
    for text in (str(error), error.reason, error.detail, error.explain("en"), error.explain("zh-CN")):
        assert TOKEN not in text
    return error


@pytest.fixture
def gh(github_api: GitHubFixture) -> GitHubFixture:
    return github_api


@pytest.fixture
def client(gh: GitHubFixture) -> GitHubClient:
    return GitHubClient(TOKEN, gh.url)


# ---------------------------------------------------------------------- what a pull request reads as

def test_every_field_is_mapped(gh: GitHubFixture, client: GitHubClient) -> None:
    gh.user("wei-zhang", email="wei@example.com")
    gh.user("lena-k", email="lena@example.com")
    gh.user("sam-o")  # no public e-mail
    gh.team("acme", "ml-infra", ["lena-k"])
    gh.pull("acme/ml-platform", 7, "Shard the loader", "wei-zhang", at(1), body="Why: the loader is slow.",
            reviewers=[("lena-k", at(1, 9)), ("sam-o", None)], teams=[("acme/ml-infra", at(1, 10))],
            additions=120, deletions=30, changed_files=4, labels=["perf", "loader"], ci="FAILURE",
            reviews=[("max-r", "APPROVED"), ("ada-l", "CHANGES_REQUESTED"), ("bo-c", "COMMENTED")])
    gh.request("acme/ml-platform", 7, "lena-k", at(2, 11))  # asked again: the latest event counts

    answer = client.open_pulls(["acme/ml-platform"])

    expected = PullRequest(
        repo="acme/ml-platform", number=7, title="Shard the loader",
        url="https://github.com/acme/ml-platform/pull/7", author="wei-zhang", created_at=at(1),
        requests=(ReviewRequest("lena-k", requested_at=at(2, 11)), ReviewRequest("sam-o"),
                  ReviewRequest("acme/ml-infra", team=True, requested_at=at(1, 10))),
        state="OPEN", body="", additions=120, deletions=30, changed_files=4,
        labels=("perf", "loader"), ci="FAILURE", approvals=("max-r",), changes_requested=("ada-l",),
        emails=(("wei-zhang", "wei@example.com"), ("lena-k", "lena@example.com")))
    # the shared read leaves descriptions out (they were 40% of its bytes); one pull request comes with its own
    assert answer == OpenPulls(pulls=(expected,), missing=())
    assert client.pull("acme/ml-platform", 7) == replace(expected, body="Why: the loader is slow.")


def test_a_submitted_review_removes_its_request_and_drafts_come_back_too(gh: GitHubFixture,
                                                                          client: GitHubClient) -> None:
    gh.pull("acme/a", 1, "Draft", "wei-zhang", at(1), draft=True, ci=None, reviewers=[("lena-k", at(1, 9))])
    gh.pull("acme/a", 2, "Ready", "wei-zhang", at(2), reviewers=[("lena-k", at(2, 9)), ("sam-o", at(2, 9))])
    gh.review("acme/a", 2, "lena-k", "APPROVED")
    gh.review("acme/a", 2, "sam-o", "CHANGES_REQUESTED")
    gh.review("acme/a", 2, "sam-o", "APPROVED")  # the latest opinion counts

    draft, ready = client.open_pulls(["acme/a"]).pulls

    assert draft.draft and draft.ci is None and draft.requested_reviewers == ("lena-k",)
    assert ready.requests == () and ready.approvals == ("lena-k", "sam-o") and ready.changes_requested == ()


# ---------------------------------------------------------------------- few requests

def test_fifty_repositories_in_one_request_oldest_first(gh: GitHubFixture, client: GitHubClient) -> None:
    repos = [f"acme/repo-{i:02d}" for i in range(50)]
    for i, repo in enumerate(repos):
        gh.pull(repo, 1, "Late", "wei-zhang", at(2, 0, i))
        gh.pull(repo, 2, "Early", "wei-zhang", at(1, 0, 50 - i))

    answer = client.open_pulls(repos)

    assert gh.count == 1
    assert len(answer.pulls) == 100 and answer.missing == ()
    keys = [(p.created_at, p.repo, p.number) for p in answer.pulls]
    assert keys == sorted(keys) and answer.pulls[0].repo == "acme/repo-49"
    query, variables = gh.queries[0]
    assert query.count("repository(") == 50 and "rateLimit { cost remaining limit resetAt }" in query
    assert variables["o49"] == "acme" and variables["n49"] == "repo-49" and variables["c49"] is None


def test_fifty_one_repositories_take_two_requests(gh: GitHubFixture, client: GitHubClient) -> None:
    repos = [f"acme/repo-{i:02d}" for i in range(51)]
    for repo in repos:
        gh.pull(repo, 1, "One", "wei-zhang", at(1))

    assert len(client.open_pulls(repos).pulls) == 51
    assert [q.count("repository(") for q, _ in gh.queries] == [50, 1]


def test_repositories_past_100_pull_requests_get_more_pages_together(gh: GitHubFixture,
                                                                     client: GitHubClient) -> None:
    many(gh, "acme/big", 250)
    many(gh, "acme/exact", 100)
    many(gh, "acme/bigger", 201)
    many(gh, "acme/small", 3)

    answer = client.open_pulls(["acme/big", "acme/exact", "acme/bigger", "acme/small"])

    assert len(answer.pulls) == 554
    assert sorted(p.number for p in answer.pulls if p.repo == "acme/big") == list(range(1, 251))
    assert gh.count == 3  # pages 1 of all four; page 2 of big and bigger together; page 3 of both
    (first, _), (second, again), (third, last) = gh.queries
    assert [q.count("repository(") for q in (first, second, third)] == [4, 2, 2]
    assert (again["n0"], again["n1"]) == ("big", "bigger") and again["c0"] and again["c1"]
    assert (last["n0"], last["n1"]) == ("big", "bigger") and last["c0"] != again["c0"]


def test_no_repositories_no_request(gh: GitHubFixture, client: GitHubClient) -> None:
    assert client.open_pulls([]) == OpenPulls(())
    assert client.teams_of("lena-k", []) == ()
    assert gh.count == 0


# ---------------------------------------------------------------------- repositories GitHub does not show

def test_a_missing_repository_is_listed_and_the_others_come_back(gh: GitHubFixture, client: GitHubClient) -> None:
    many(gh, "acme/a", 2)
    gh.repo("acme/saml", forbidden=True)
    many(gh, "acme/b", 1)

    answer = client.open_pulls(["acme/a", "acme/gone", "acme/saml", "acme/b"])

    assert answer.missing == ("acme/gone", "acme/saml")
    assert {p.repo for p in answer.pulls} == {"acme/a", "acme/b"} and gh.count == 1


def test_every_repository_missing_is_github_not_found(gh: GitHubFixture, client: GitHubClient) -> None:
    error = failure(client.open_pulls, ["acme/gone", "acme/also-gone"])

    assert error.code == "github_not_found" and not error.transient
    assert error.reason == "repository acme/gone not found, or GITHUB_TOKEN cannot read it (NOT_FOUND)"
    assert gh.count == 1


# ---------------------------------------------------------------------- one pull request, teams, probe

def test_one_pull_request_in_any_state(gh: GitHubFixture, client: GitHubClient) -> None:
    many(gh, "acme/a", 3)
    gh.close("acme/a", 1, merged=True)
    gh.close("acme/a", 2)

    merged, closed, still_open = (client.pull("acme/a", n) for n in (1, 2, 3))

    assert merged is not None and merged.state == "MERGED" and merged.title == "Change 1"
    assert closed is not None and closed.state == "CLOSED"
    assert still_open is not None and still_open.state == "OPEN"
    assert client.pull("acme/a", 99) is None
    assert client.open_pulls(["acme/a"]).pulls == (still_open,)
    error = failure(client.pull, "acme/gone", 1)
    assert error.code == "github_not_found" and "repository acme/gone not found" in error.reason


def test_teams_of_a_user_in_one_request(gh: GitHubFixture, client: GitHubClient) -> None:
    gh.team("acme", "ml-infra", ["lena-k", "sam-o"])
    gh.team("acme", "platform", ["lena-k"])
    gh.team("acme", "web", ["sam-o"])
    gh.team("labs", "research", ["lena-k"])

    teams = client.teams_of("lena-k", ["acme", "nowhere", "labs"])

    assert teams == ("acme/ml-infra", "acme/platform", "labs/research")
    assert gh.count == 1 and gh.queries[0][1]["login"] == "lena-k"
    assert client.teams_of("lena-k", ["nowhere"]) == ()


def test_probe_names_the_viewer_and_points_left(gh: GitHubFixture, client: GitHubClient) -> None:
    assert client.rate_limit is None
    assert client.probe() == f"GitHub API at 127.0.0.1:{gh.port} as emoji-ops-bot, 4999/5000 points left this hour"
    assert client.rate_limit is not None and client.rate_limit[0] == 4999


def test_github_enterprise_is_asked_at_api_graphql(gh: GitHubFixture) -> None:
    many(gh, "acme/a", 1)

    assert len(GitHubClient(TOKEN, f"{gh.url}/api/v3/").open_pulls(["acme/a"]).pulls) == 1
    assert [r.path for r in gh.requests()] == ["/api/graphql"]


# ---------------------------------------------------------------------- failures

def test_a_401_names_github_token_and_is_not_retried(gh: GitHubFixture) -> None:
    error = failure(GitHubClient("ghp_wrong_token", gh.url).open_pulls, ["acme/a"])

    assert error.code == "auth" and not error.transient
    assert error.reason == f"127.0.0.1:{gh.port} rejected the credentials (HTTP 401); check GITHUB_TOKEN"
    assert "ghp_wrong_token" not in error.explain("en") and gh.count == 1


def test_a_403_names_the_scopes_needed(gh: GitHubFixture, client: GitHubClient) -> None:
    gh.fail(403, {"message": "Resource not accessible by personal access token",
                  "documentation_url": "https://docs.github.com/graphql"})

    error = failure(client.open_pulls, ["acme/a"])

    assert error.code == "forbidden" and not error.transient
    assert error.reason == f"127.0.0.1:{gh.port} denied access (HTTP 403); {SCOPES}"
    assert gh.count == 1


@pytest.mark.parametrize("status", [200, 403, 429])
def test_rate_limited_answers_are_throttled_until_the_reset_and_not_retried(gh: GitHubFixture,
                                                                             client: GitHubClient,
                                                                             status: int) -> None:
    reset = soon()
    gh.exhaust(reset, status=status)

    error = failure(client.open_pulls, ["acme/a"])

    assert error.code == "throttled" and not error.transient
    assert error.reason == (f"127.0.0.1:{gh.port} is throttling requests (rate limit); "
                            f"try again after {reset:%H:%M} UTC")
    assert gh.count == 1
    assert client.rate_limit == (0, reset)
    assert failure(client.teams_of, "lena-k", ["acme"]).code == "throttled"
    assert gh.count == 1  # it remembers: no second request before the reset


def test_backing_off_before_zero_sends_nothing(gh: GitHubFixture, client: GitHubClient) -> None:
    many(gh, "acme/a", 1)
    reset = soon(45)
    gh.set_remaining(30, reset)
    assert len(client.open_pulls(["acme/a"]).pulls) == 1  # a one-repository read costs 5 points: 25 left
    assert client.rate_limit == (25, reset)

    error = failure(client.open_pulls, ["acme/a"])  # 5 more would leave 20, under the reserve of 25

    assert error.code == "throttled" and f"try again after {reset:%H:%M} UTC" in error.reason
    assert gh.count == 1 and gh.remaining == 25


def test_a_read_of_fifty_repositories_is_priced_before_it_is_sent(gh: GitHubFixture, client: GitHubClient) -> None:
    repos = [f"acme/r{i}" for i in range(50)]
    for repo in repos:
        many(gh, repo, 1)
    client.open_pulls(repos)
    spent = 5000 - gh.remaining
    assert 240 <= spent <= 260  # GitHub's price: 50 × (1 + 5 nested connections × 100 pull requests) / 100

    gh.set_remaining(spent + 10, soon(30))
    client.pull("acme/r1", 1)  # a cheap query still goes: GitHub now says spent + 10 - 1 points are left

    assert failure(client.open_pulls, repos).code == "throttled"  # the big read would leave 9: not sent
    assert gh.count == 2


def test_a_reserve_whose_reset_has_passed_is_asked_again(gh: GitHubFixture, client: GitHubClient) -> None:
    many(gh, "acme/a", 1)
    gh.set_remaining(3, datetime.now(UTC) - timedelta(seconds=1))  # the window rolls over at the next query
    client.open_pulls(["acme/a"])
    gh.set_remaining(3, datetime.now(UTC) + timedelta(hours=1))
    client.open_pulls(["acme/a"])  # remembered 4999: asks; now remembers 2

    assert gh.count == 2 and failure(client.open_pulls, ["acme/a"]).code == "throttled" and gh.count == 2


def test_a_transient_502_is_retried_and_then_succeeds(gh: GitHubFixture, client: GitHubClient) -> None:
    many(gh, "acme/a", 2)
    gh.fail_next(502, {"message": "Server Error"})

    assert len(client.open_pulls(["acme/a"]).pulls) == 2
    assert gh.count == 2 and gh.queries[0] == gh.queries[1]


def test_a_502_that_persists_is_a_server_error(gh: GitHubFixture, client: GitHubClient) -> None:
    gh.fail(502)

    error = failure(client.open_pulls, ["acme/a"])

    assert error.code == "server_error" and error.transient and gh.count == 3


def test_an_answer_slower_than_the_timeout_costs_one_read_timeout(gh: GitHubFixture) -> None:
    gh.slow(1.5)

    error = failure(GitHubClient(TOKEN, gh.url, timeout=1).open_pulls, ["acme/a"])

    assert error.code == "read_timeout" and error.transient and gh.count == 1
    time.sleep(0.7)  # the late answer meets a closed socket now, while this test's output is captured


@pytest.mark.parametrize(("error", "code"), [
    ({"type": "MAX_NODE_LIMIT_EXCEEDED", "message": "This query requests up to 1,000,000 possible nodes"},
     "bad_request"),
    ({"message": "Something went wrong while executing your query. This may be the result of a timeout."},
     "server_error"),
])
def test_other_graphql_errors_name_github_and_are_not_retried(gh: GitHubFixture, client: GitHubClient,
                                                              error: dict[str, Any], code: str) -> None:
    gh.fail_next(200, {"data": None, "errors": [error]})

    failed = failure(client.open_pulls, ["acme/a"])

    assert failed.backend == "github" and failed.code == code and not failed.transient
    assert failed.explain("en").startswith(f"127.0.0.1:{gh.port} ") and "GraphQL" in failed.reason
    assert gh.count == 1


# ---------------------------------------------------------------------- the fixture answers as GitHub does

def post(gh: GitHubFixture, query: str, token: str = TOKEN, scheme: str = "bearer") -> requests.Response:
    return requests.post(f"{gh.url}/graphql", json={"query": query},
                         headers={"Authorization": f"{scheme} {token}"}, timeout=10)


def test_the_fixture_refuses_what_github_refuses(gh: GitHubFixture) -> None:
    unbounded = post(gh, '{ repository(owner: "a", name: "b") { pullRequests { nodes { number } } } }').json()
    too_many = post(gh, '{ repository(owner: "a", name: "b") { pullRequests(first: 101) { totalCount } } }').json()
    huge = post(gh, '{ organization(login: "a") { teams(first: 100) { nodes { members(first: 100) { nodes {'
                    ' repositories(first: 100) { totalCount } } } } } } }').json()
    unknown = post(gh, "{ viewer { login nickname } }").json()

    assert unbounded["errors"][0]["type"] == "MISSING_PAGINATION_BOUNDARIES"
    assert unbounded["errors"][0]["message"] == ("You must provide a `first` or `last` value to properly paginate "
                                                 "the `pullRequests` connection.")
    assert too_many["errors"][0]["message"] == ("Requesting 101 records on the `pullRequests` connection exceeds "
                                                "the `first` limit of 100 records.")
    assert huge["errors"][0]["type"] == "MAX_NODE_LIMIT_EXCEEDED"
    assert "data" not in unknown and "nickname" in unknown["errors"][0]["message"]
    assert post(gh, "{ viewer { login } }", scheme="Token").json() == {"data": {"viewer": {"login": "emoji-ops-bot"}}}
    bad = post(gh, "{ viewer { login } }", token="nope")
    assert bad.status_code == 401 and bad.json()["message"] == "Bad credentials"
    assert bad.headers["x-ratelimit-resource"] == "graphql"


def test_the_fixture_answers_a_missing_repository_like_github(gh: GitHubFixture) -> None:
    answer = post(gh, '{ rateLimit { remaining } repository(owner: "acme", name: "x") { id } }')

    assert answer.status_code == 200 and answer.headers["x-ratelimit-remaining"] == "4999"
    assert answer.json() == {"data": {"rateLimit": {"remaining": 4999}, "repository": None}, "errors": [
        {"type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 1, "column": 27}],
         "message": "Could not resolve to a Repository with the name 'acme/x'."}]}
