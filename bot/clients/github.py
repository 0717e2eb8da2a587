"""GitHub: open pull requests and their requested reviewers (read-only)."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import github
import requests
from github.GithubException import GithubException, RateLimitExceededException

from bot.clients import GitHubSource, PullRequest
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
BACKEND = "github"


class GitHubClient:
    demo = False

    def __init__(self, token: str, api_url: str = "https://api.github.com", timeout: Any = None) -> None:
        self._host = where_of(api_url)
        # PyGithub takes one whole number of seconds, for connecting and for each answer alike.
        seconds = max(1, math.ceil(Timeout.of(timeout).read))
        self._timeout = Timeout(seconds, seconds)
        # retry=None: bot.retry governs. Reads are not throttled client-side; writes keep PyGithub's 1 s gap.
        # lazy=True: no GET per object; a field missing from a list answer reads as None instead.
        self._gh = github.Github(base_url=api_url.rstrip("/"), auth=github.Auth.Token(token), timeout=seconds,
                                 retry=None, per_page=100, seconds_between_requests=None, lazy=True)

    def open_pull_requests(self, repo: str) -> list[PullRequest]:
        """Open pull requests of `owner/name`, oldest first (every page)."""
        def fetch() -> list[PullRequest]:
            repository = self._gh.get_repo(repo)
            pulls = repository.get_pulls(state="open", sort="created", direction="asc")
            return [_pull_request(repo, pull) for pull in pulls]

        return self._call(fetch, repo)

    def probe(self) -> str:
        core = self._call(lambda: self._gh.get_rate_limit().resources.core)
        return f"GitHub API at {self._host}, {core.remaining}/{core.limit} requests left this hour"

    def _call(self, fn: Callable[[], T], repo: str | None = None) -> T:
        return call_with_retries(BACKEND, lambda: _translated(fn, self._host, repo, self._timeout),
                                 budget=self._timeout.read)


def _pull_request(repo: str, pull: Any) -> PullRequest:
    # Every attribute read here is in the list answer, so PyGithub never fetches a PR one by one.
    created = pull.created_at
    return PullRequest(
        repo=repo,
        number=pull.number,
        title=pull.title or "",
        url=pull.html_url or "",
        author=pull.user.login if pull.user else "ghost",
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        requested_reviewers=tuple(user.login for user in pull.requested_reviewers or []),
        requested_teams=tuple(team.slug for team in pull.requested_teams or []),
        draft=bool(pull.draft),
    )


def _translated(fn: Callable[[], T], host: str, repo: str | None, timeout: Timeout) -> T:
    try:
        return fn()
    except RateLimitExceededException as exc:
        raise _rate_limited(exc, host) from exc
    except GithubException as exc:
        raise _status_error(exc, host, repo) from exc
    except requests.RequestException as exc:
        raise diagnose(BACKEND, exc, where=host, timeout=timeout, hints=HINTS, setting="GITHUB_API_URL") from exc


HINTS = {"connection": "check_setting", "auth": "check_setting", "forbidden": "github_scope"}


def _rate_limited(exc: GithubException, host: str) -> BackendError:
    reset = _reset_time(exc)
    params = {"where": host, "status": f"HTTP {exc.status}", "time": reset or ""}
    return BackendError(BACKEND, code="throttled", params=params, hint="retry_after" if reset else "retry_later",
                        detail=type(exc).__name__)


def _status_error(exc: GithubException, host: str, repo: str | None) -> BackendError:
    if exc.status == 404 and repo:
        return BackendError(BACKEND, code="github_not_found", params={"repo": repo, "status": "HTTP 404"},
                            detail=type(exc).__name__)
    setting = "GITHUB_TOKEN"  # the fix for a 401; a 403's hint names the token too
    return diagnose(BACKEND, exc, where=host, status=exc.status, hints=HINTS, setting=setting)


def _reset_time(exc: GithubException) -> str | None:
    reset = (exc.headers or {}).get("x-ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M UTC") if reset else None
    except (TypeError, ValueError):
        return None


if TYPE_CHECKING:  # mypy proves that GitHubClient satisfies the Protocol the domain calls
    _source: type[GitHubSource] = GitHubClient
