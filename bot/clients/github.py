"""GitHub: open pull requests and their requested reviewers (read-only)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import github
import requests
from github.GithubException import GithubException, RateLimitExceededException

from bot.clients import PullRequest
from bot.retry import TRANSIENT_HTTP_STATUS, BackendError, call_with_retries

T = TypeVar("T")
BACKEND = "github"


class GitHubClient:
    demo = False

    def __init__(self, token: str, api_url: str = "https://api.github.com", timeout: int = 10) -> None:
        self._host = urlsplit(api_url).hostname or api_url
        # retry=None: bot.retry governs. Reads are not throttled client-side; writes keep PyGithub's 1 s gap.
        # lazy=True: no GET per object; a field missing from a list answer reads as None instead.
        self._gh = github.Github(base_url=api_url.rstrip("/"), auth=github.Auth.Token(token), timeout=timeout,
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
        return call_with_retries(BACKEND, lambda: _translated(fn, self._host, repo))


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


def _translated(fn: Callable[[], T], host: str, repo: str | None) -> T:
    try:
        return fn()
    except RateLimitExceededException as exc:
        raise BackendError(BACKEND, f"rate limit exceeded; try again after {_reset_time(exc)}") from exc
    except GithubException as exc:
        transient = exc.status in TRANSIENT_HTTP_STATUS
        raise BackendError(BACKEND, _status_reason(exc.status, repo), transient) from exc
    except requests.Timeout as exc:
        raise BackendError(BACKEND, f"no answer from {host} in time", transient=True) from exc
    except requests.ConnectionError as exc:
        reason = f"cannot connect to {host}: check GITHUB_API_URL"
        raise BackendError(BACKEND, reason, transient=True) from exc


def _status_reason(status: int, repo: str | None) -> str:
    if status == 401:
        return "GitHub rejected the token (HTTP 401): check GITHUB_TOKEN"
    if status == 403:
        where = f" to {repo}" if repo else ""
        return f"GITHUB_TOKEN has no read access{where} (HTTP 403): grant it pull request read permission"
    if status == 404:
        what = f"repository {repo}" if repo else "the resource"
        return f"{what} not found, or GITHUB_TOKEN cannot read it (HTTP 404)"
    return f"GitHub answered HTTP {status}"


def _reset_time(exc: GithubException) -> str:
    reset = (exc.headers or {}).get("x-ratelimit-reset")
    try:
        return datetime.fromtimestamp(int(reset), UTC).strftime("%H:%M UTC") if reset else "a few minutes"
    except (TypeError, ValueError):
        return "a few minutes"
