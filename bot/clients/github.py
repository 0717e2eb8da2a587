"""GitHub over its GraphQL API (read-only): open pull requests of many repositories in a few aliased queries."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, TypeVar, cast

import github
import requests
from github.GithubException import GithubException, RateLimitExceededException

from bot.clients import GitHubSource, OpenPulls, PullRequest, ReviewRequest
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
Errors = list[dict[str, Any]]
Tolerated = Callable[[dict[str, Any]], bool]
log = logging.getLogger(__name__)

BACKEND = "github"
BATCH = 50  # repositories per query: 50 × 100 pull requests × the nested `first`s stays under 500,000 nodes
RESERVE = 25  # points left below which we wait for the reset instead of asking
MISSING = frozenset({"NOT_FOUND", "FORBIDDEN"})  # how GitHub answers a repository the token cannot see
HINTS = {"connection": "check_setting", "auth": "check_setting", "forbidden": "github_scope"}

RATE = "rateLimit { cost remaining limit resetAt }"
FRAGMENTS = """
fragment Reviewer on RequestedReviewer {
  __typename
  ... on User { login email }
  ... on Team { combinedSlug }
  ... on Mannequin { login }
  ... on Bot { login }
}
fragment Pull on PullRequest {
  number title url isDraft state createdAt additions deletions changedFiles
  author { login ... on User { email } }
  labels(first: 10) { nodes { name } }
  reviewRequests(first: 20) { nodes { requestedReviewer { ...Reviewer } } }
  timelineItems(last: 20, itemTypes: [REVIEW_REQUESTED_EVENT]) {
    nodes { ... on ReviewRequestedEvent { createdAt requestedReviewer { ...Reviewer } } }
  }
  latestOpinionatedReviews(first: 20) { nodes { state author { login } } }
  commits(last: 1) { nodes { commit { statusCheckRollup { state } } } }
}
"""
# One alias per repository; %(i)d numbers it. A repository with more than 100 open pull requests is asked
# again with its cursor, beside every other repository of the batch that still has a page to read.
REPO_PAGE = """  r%(i)d: repository(owner: $o%(i)d, name: $n%(i)d) {
    pullRequests(states: OPEN, first: 100, after: $c%(i)d, orderBy: {field: CREATED_AT, direction: ASC}) {
      pageInfo { hasNextPage endCursor }
      nodes { ...Pull }
    }
  }
"""
REPO_VARIABLES = "$o%(i)d: String!, $n%(i)d: String!, $c%(i)d: String"
PULL = ("query Pull($owner: String!, $name: String!, $number: Int!) {\n  " + RATE + """
  repository(owner: $owner, name: $name) { pullRequest(number: $number) { ...Pull bodyText } }
}
""" + FRAGMENTS)
ORG_TEAMS = ("  o%(i)d: organization(login: $org%(i)d) {"
             " teams(first: 100, userLogins: [$login]) { nodes { combinedSlug } } }\n")
PROBE = "query Probe { rateLimit { remaining limit resetAt } viewer { login } }"


class GitHubClient:
    demo = False

    def __init__(self, token: str, api_url: str = "https://api.github.com", timeout: Any = None) -> None:
        self._host = where_of(api_url)
        # PyGithub takes one whole number of seconds, for connecting and for each answer alike.
        seconds = max(1, math.ceil(Timeout.of(timeout).read))
        self._timeout = Timeout(seconds, seconds)
        # retry=None: bot.retry governs. No client-side pacing: every query is a POST, which PyGithub would
        # otherwise space a second apart as if it were a write.
        gh = github.Github(base_url=api_url.rstrip("/"), auth=github.Auth.Token(token), timeout=seconds,
                           retry=None, seconds_between_requests=None, seconds_between_writes=None)
        self._requester = gh.requester  # its graphql_url is /graphql, or /api/graphql for GitHub Enterprise
        self._rate: tuple[int, datetime] | None = None
        self._costs: dict[str, int] = {}  # the points each query text cost last time, as GitHub reported

    @property
    def rate_limit(self) -> tuple[int, datetime] | None:
        """(points remaining, when they reset) as GitHub last said; None before the first answer."""
        return self._rate

    def open_pulls(self, repos: Sequence[str]) -> OpenPulls:
        wanted = list(dict.fromkeys(repos))
        pulls: list[PullRequest] = []
        missing: dict[str, str] = {repo: "invalid name" for repo in wanted if not _valid(repo)}
        readable = [repo for repo in wanted if repo not in missing]
        for start in range(0, len(readable), BATCH):
            found, lost = self._open_pulls_batch(readable[start:start + BATCH])
            pulls += found
            missing.update(lost)
        if wanted and len(missing) == len(wanted):
            first = wanted[0]
            raise BackendError(BACKEND, code="github_not_found", params={"repo": first, "status": missing[first]})
        pulls.sort(key=lambda p: (p.created_at, p.repo, p.number))
        return OpenPulls(tuple(pulls), tuple(repo for repo in wanted if repo in missing))

    def _open_pulls_batch(self, repos: list[str]) -> tuple[list[PullRequest], dict[str, str]]:
        pulls: list[PullRequest] = []
        missing: dict[str, str] = {}
        cursors: dict[str, str | None] = dict.fromkeys(repos)  # repositories with a page to read, from where
        while cursors:
            asked = list(cursors)
            data, errors = self._query(_open_pulls_query(len(asked)), _repo_variables(cursors),
                                       _missing_alias("r", len(asked)))
            cursors = {}
            for i, repo in enumerate(asked):
                answer = data.get(f"r{i}")
                if answer is None:
                    missing[repo] = _error_type(errors, f"r{i}")
                    continue
                page = answer["pullRequests"]
                pulls += [_pull_request(repo, node) for node in page["nodes"] if node]
                if page["pageInfo"]["hasNextPage"]:
                    cursors[repo] = page["pageInfo"]["endCursor"]
        return pulls, missing

    def pull(self, repo: str, number: int) -> PullRequest | None:
        if not _valid(repo):
            raise BackendError(BACKEND, code="github_not_found", params={"repo": repo, "status": "invalid name"})
        owner, name = repo.split("/", 1)
        data, errors = self._query(PULL, {"owner": owner, "name": name, "number": number},
                                   lambda e: e.get("path") in (["repository"], ["repository", "pullRequest"])
                                   and e.get("type") in MISSING)
        if data.get("repository") is None:
            raise BackendError(BACKEND, code="github_not_found",
                               params={"repo": repo, "status": _error_type(errors, "repository")})
        node = data["repository"].get("pullRequest")
        return _pull_request(repo, node) if node else None

    def teams_of(self, login: str, orgs: Sequence[str]) -> tuple[str, ...]:
        wanted = list(dict.fromkeys(orgs))
        if not wanted:
            return ()
        variables: dict[str, Any] = {"login": login, **{f"org{i}": org for i, org in enumerate(wanted)}}
        data, _ = self._query(_teams_query(len(wanted)), variables, _missing_alias("o", len(wanted)))
        slugs = [team["combinedSlug"] for i in range(len(wanted))
                 for team in ((data.get(f"o{i}") or {}).get("teams") or {}).get("nodes") or [] if team]
        return tuple(dict.fromkeys(slugs))

    def probe(self) -> str:
        data, _ = self._query(PROBE, {}, guard=False)  # GitHub charges nothing for it; it says how many are left
        rate, viewer = data.get("rateLimit") or {}, data.get("viewer") or {}
        return (f"GitHub API at {self._host} as {viewer.get('login', '?')}, "
                f"{rate.get('remaining', '?')}/{rate.get('limit', '?')} points left this hour")

    # ------------------------------------------------------------------ one query

    def _query(self, query: str, variables: Mapping[str, Any], tolerated: Tolerated = lambda _e: False, *,
               guard: bool = True) -> tuple[dict[str, Any], Errors]:
        """The answer's `data` and the errors `tolerated` accepted; any other error raises BackendError."""
        return call_with_retries(BACKEND, lambda: self._attempt(query, variables, tolerated, guard),
                                 budget=self._timeout.read)

    def _attempt(self, query: str, variables: Mapping[str, Any], tolerated: Tolerated,
                 guard: bool) -> tuple[dict[str, Any], Errors]:
        if guard:
            self._hold_off(self._costs.get(query, 1))
        try:
            headers, body = self._requester.requestJsonAndCheck(
                "POST", self._requester.graphql_url, input={"query": query, "variables": dict(variables)})
        except GithubException as exc:
            raise self._http_error(exc) from exc
        except requests.RequestException as exc:
            raise diagnose(BACKEND, exc, where=self._host, timeout=self._timeout, hints=HINTS,
                           setting="GITHUB_API_URL") from exc
        self._remember(headers)
        body = body if isinstance(body, dict) else {}
        data, errors = body.get("data") or {}, list(body.get("errors") or [])
        self._remember_points(query, data.get("rateLimit"))
        if any(error.get("type") == "RATE_LIMITED" for error in errors):
            raise self._throttled(_reset_of(headers))
        refused = [error for error in errors if not tolerated(error)]
        if refused:
            raise _query_error(refused[0], self._host)
        if not data:
            raise BackendError(BACKEND, code="unexpected", params={"where": self._host, "detail": "no data"})
        return data, errors

    def _hold_off(self, cost: int) -> None:
        """Back off before zero: when this query (costing what it cost last time) would leave fewer than RESERVE
        points until a reset still ahead, do not ask. A 50-repository read costs GitHub about 250 points."""
        if self._rate is not None:
            remaining, reset = self._rate
            if remaining - cost < RESERVE and reset > datetime.now(UTC):
                log.info("not asking GitHub: %d points left until %s", remaining, reset.isoformat())
                raise self._throttled(reset)

    def _http_error(self, exc: GithubException) -> BackendError:
        headers = exc.headers or {}
        if exc.status != 401:
            self._remember(headers)
        limited = isinstance(exc, RateLimitExceededException) or exc.status == 429 or (
            exc.status == 403 and headers.get("x-ratelimit-remaining") == "0")
        if limited:
            return self._throttled(_reset_of(headers))
        return diagnose(BACKEND, exc, where=self._host, status=exc.status, hints=HINTS, setting="GITHUB_TOKEN")

    def _throttled(self, reset: datetime | None) -> BackendError:
        params = {"where": self._host, "status": "rate limit", "time": reset.strftime("%H:%M UTC") if reset else ""}
        return BackendError(BACKEND, code="throttled", params=params, hint="retry_after" if reset else "retry_later",
                            transient=False)

    def _remember(self, headers: Mapping[str, Any]) -> None:
        remaining, reset = _number(headers.get("x-ratelimit-remaining")), _number(headers.get("x-ratelimit-reset"))
        if remaining is not None and reset is not None:
            self._rate = (remaining, datetime.fromtimestamp(reset, UTC))

    def _remember_points(self, query: str, rate: Any) -> None:
        if isinstance(rate, dict) and isinstance(rate.get("remaining"), int) and rate.get("resetAt"):
            self._rate = (rate["remaining"], _time(rate["resetAt"]))
            if isinstance(rate.get("cost"), int):
                self._costs[query] = rate["cost"]
                log.debug("GitHub query cost %s points, %s left", rate["cost"], rate["remaining"])


# ---------------------------------------------------------------------- queries and variables

def _open_pulls_query(count: int) -> str:
    params = ", ".join(REPO_VARIABLES % {"i": i} for i in range(count))
    aliases = "".join(REPO_PAGE % {"i": i} for i in range(count))
    return f"query OpenPulls({params}) {{\n  {RATE}\n{aliases}}}\n{FRAGMENTS}"


def _repo_variables(cursors: Mapping[str, str | None]) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for i, (repo, cursor) in enumerate(cursors.items()):
        variables[f"o{i}"], variables[f"n{i}"] = repo.split("/", 1)
        variables[f"c{i}"] = cursor
    return variables


def _teams_query(count: int) -> str:
    params = "".join(f", $org{i}: String!" for i in range(count))
    aliases = "".join(ORG_TEAMS % {"i": i} for i in range(count))
    return f"query Teams($login: String!{params}) {{\n  {RATE}\n{aliases}}}\n"


def _valid(repo: str) -> bool:
    owner, _, name = repo.partition("/")
    return bool(owner and name) and "/" not in name


def _missing_alias(prefix: str, count: int) -> Tolerated:
    """Accepts GitHub saying that one of our aliases (`r0`…, `o0`…) names nothing the token can see."""
    def tolerated(error: dict[str, Any]) -> bool:
        path = error.get("path") or []
        number = str(path[0]).removeprefix(prefix) if path and str(path[0]).startswith(prefix) else ""
        return number.isdigit() and int(number) < count and error.get("type") in MISSING
    return tolerated


def _error_type(errors: Errors, alias: str) -> str:
    return next((str(e.get("type")) for e in errors if (e.get("path") or [None])[0] == alias), "NOT_FOUND")


def _query_error(error: Mapping[str, Any], host: str) -> BackendError:
    """A GraphQL error we did not expect: a query GitHub's schema rejects, or GitHub failing to answer."""
    kind = error.get("type")
    code = "bad_request" if kind or error.get("locations") else "server_error"
    return BackendError(BACKEND, code=code, params={"where": host, "status": f"GraphQL {kind or 'error'}"},
                        detail=str(error.get("message", ""))[:200])


# ---------------------------------------------------------------------- answers as records

def _pull_request(repo: str, node: Mapping[str, Any]) -> PullRequest:
    author = node.get("author") or {}
    asked = [r["requestedReviewer"] for r in _nodes(node.get("reviewRequests")) if r.get("requestedReviewer")]
    reviews = [(review["state"], (review.get("author") or {}).get("login"))
               for review in _nodes(node.get("latestOpinionatedReviews"))]
    return PullRequest(
        repo=repo, number=node["number"], title=node.get("title") or "", url=node.get("url") or "",
        author=author.get("login") or "ghost", created_at=_time(node["createdAt"]),
        requests=_requests(asked, _nodes(node.get("timelineItems"))), draft=bool(node.get("isDraft")),
        state=cast(Literal["OPEN", "CLOSED", "MERGED"], node.get("state") or "OPEN"),
        body=node.get("bodyText") or "", additions=node.get("additions") or 0,
        deletions=node.get("deletions") or 0, changed_files=node.get("changedFiles") or 0,
        labels=tuple(label["name"] for label in _nodes(node.get("labels"))),
        ci=_rollup(node), approvals=tuple(login for state, login in reviews if state == "APPROVED" and login),
        changes_requested=tuple(login for state, login in reviews if state == "CHANGES_REQUESTED" and login),
        emails=_emails([author, *asked]),
    )


def _requests(asked: list[Mapping[str, Any]], events: Iterable[Mapping[str, Any]]) -> tuple[ReviewRequest, ...]:
    """Each open request, with the time of the latest ReviewRequestedEvent naming the same reviewer."""
    latest: dict[tuple[str, bool], datetime] = {}
    for event in events:
        key = _reviewer(event.get("requestedReviewer"))
        if key and event.get("createdAt"):
            at = _time(event["createdAt"])
            latest[key] = max(at, latest.get(key, at))
    keys = [key for key in map(_reviewer, asked) if key]
    return tuple(ReviewRequest(reviewer=name, team=team, requested_at=latest.get((name, team)))
                 for name, team in keys)


def _reviewer(node: Mapping[str, Any] | None) -> tuple[str, bool] | None:
    if not node:
        return None
    if node.get("__typename") == "Team" or "combinedSlug" in node:
        return (node["combinedSlug"], True) if node.get("combinedSlug") else None
    return (node["login"], False) if node.get("login") else None


def _emails(people: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, str], ...]:
    found: dict[str, str] = {}
    for person in people:
        if person.get("login") and person.get("email"):
            found.setdefault(person["login"], person["email"])
    return tuple(found.items())


def _rollup(node: Mapping[str, Any]) -> str | None:
    commits = _nodes(node.get("commits"))
    rollup = (commits[-1].get("commit") or {}).get("statusCheckRollup") if commits else None
    return str(rollup["state"]) if rollup and rollup.get("state") else None


def _nodes(connection: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    return [n for n in ((connection or {}).get("nodes") or []) if n]


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _number(value: Any) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


def _reset_of(headers: Mapping[str, Any]) -> datetime | None:
    """When GitHub says the limit resets: x-ratelimit-reset (epoch seconds), else now + retry-after."""
    reset = _number(headers.get("x-ratelimit-reset"))
    if reset is not None:
        return datetime.fromtimestamp(reset, UTC)
    wait = _number(headers.get("retry-after"))
    return datetime.now(UTC) + timedelta(seconds=wait) if wait is not None else None


if TYPE_CHECKING:  # mypy proves that GitHubClient satisfies the Protocol the domain calls
    _source: type[GitHubSource] = GitHubClient
