"""A GitHub GraphQL API on loopback: every query runs with graphql-core against GitHub's public schema.

The client's query is validated against the real schema (tests/support/github_schema.py), then executed by
resolvers over plain dicts, so the fixture accepts exactly what GitHub would and answers in GitHub's shape:
a missing repository, organization or pull request is null with a `NOT_FOUND` error (HTTP 200); a query the
schema rejects is HTTP 200 with `errors`; a bad token is HTTP 401 "Bad credentials". Connections page like
GitHub's (`first`/`last` required, at most 100, opaque cursors, at most 500,000 nodes per query).

    with GitHubFixture(token="ghp_...") as gh:            # or the `github_api` pytest fixture
        gh.user("lena-k", email="lena@example.com")
        gh.team("acme", "ml-infra", ["lena-k"])
        gh.pull("acme/ml-platform", 7, "Fix", "wei-zhang", "2026-02-27T08:00:00Z",
                reviewers=[("lena-k", "2026-02-27T09:00:00Z")], teams=[("acme/ml-infra", None)])
        GitHubClient(gh.token, gh.url)...                  # gh.url is what GITHUB_API_URL would be
        gh.queries, gh.count                               # [(query text, variables)], how many POSTs

Data (returns the stored dict; users and repositories a builder names are created on the way):
    user(login, email=None, kind="User")                   kind: User, Bot or Mannequin
    org(login)                                             team(org, slug, members=())
    repo("owner/name", forbidden=False)                    forbidden: null + FORBIDDEN, like SAML enforcement
    pull(repo, number, title, author, created_at, *, body="", draft=False, reviewers=[(login, at|None)],
         teams=[("org/slug", at|None)], additions=10, deletions=2, changed_files=1, labels=(), ci="SUCCESS",
         reviews=[(login, state)], state="OPEN")           ci=None: no status check rollup
    review(repo, number, login, state="APPROVED", at=None) submitting removes that login's review request
    request(repo, number, login_or_org_slug, at)           a review request and its ReviewRequestedEvent
    close(repo, number, merged=False)
Failures and limits (each query that runs costs points of `limit` as GitHub counts them, 5000 by default, reset
hourly):
    fail_next(status, body=None, headers=None)             the next POST only (calls queue up)
    fail(status, body=None, headers=None) ... heal()       every POST until healed
    slow(seconds)                                          each answer waits that long (0: stop)
    exhaust(reset_at, status=200)                          no points left until reset_at: 200 → errors
                                                           [{"type": "RATE_LIMITED"}], 403/429 → REST-style body
    set_remaining(n, reset_at)                             the counters, as GitHub would report them
    remaining, reset_at, requests (raw, with headers)
Times are `datetime` or ISO 8601 strings.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Self

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    execute_sync,
    get_named_type,
    parse,
    validate,
    value_from_ast_untyped,
)

from tests.support import github_schema
from tests.support.fixture_http import FixtureServer, Request, Response

When = datetime | str
MAX_PAGE = 100
MAX_NODES = 500_000
DOCS = "https://docs.github.com/graphql"
RATE_DOCS = f"{DOCS}/overview/rate-limits-and-node-limits-for-the-graphql-api#primary-rate-limit"
OPINIONS = ("APPROVED", "CHANGES_REQUESTED", "DISMISSED")


def iso(value: When) -> str:
    """GitHub's DateTime: UTC, seconds, with a Z."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(value: When) -> datetime:
    return datetime.fromisoformat(iso(value))


def github_error(message: str, kind: str) -> GraphQLError:
    """An error a resolver raises; the answer carries `kind` as GitHub's top-level `type`."""
    return GraphQLError(message, extensions={"type": kind})


class GitHubFixture(FixtureServer):
    """GitHub's GraphQL endpoint at `/graphql` and `/api/graphql` (GitHub Enterprise's path)."""

    def __init__(self, token: str = "ghp_fixture_token_0000000000000000", limit: int = 5000,
                 viewer: str = "emoji-ops-bot") -> None:
        super().__init__()
        self.token = token
        self.limit = limit
        self._lock = threading.RLock()
        self._users: dict[str, dict[str, Any]] = {}
        self._orgs: dict[str, dict[str, Any]] = {}
        self._repos: dict[str, dict[str, Any]] = {}
        self._viewer = self.user(viewer)
        self._remaining = limit
        self._reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        self._limited_status = 200
        self._once: list[Response] = []
        self._always: Response | None = None
        self._delay = 0.0
        self._documents: dict[str, tuple[DocumentNode | None, list[dict[str, Any]]]] = {}
        self._schema: GraphQLSchema | None = None
        for path in ("/graphql", "/api/graphql"):
            self.add("POST", path, self._answer)

    def start(self) -> Self:
        """Loads the schema first (raises github_schema.SchemaUnavailable when it cannot be fetched)."""
        self._schema = github_schema.schema()
        return super().start()

    # ------------------------------------------------------------------ what the tests read

    @property
    def queries(self) -> list[tuple[str, dict[str, Any]]]:
        """(query text, variables) of every GraphQL POST received, answered or not."""
        found = []
        for request in self.requests("POST"):
            try:
                body = request.json()
            except ValueError:
                body = None
            body = body if isinstance(body, dict) else {}
            found.append((str(body.get("query") or ""), dict(body.get("variables") or {})))
        return found

    @property
    def count(self) -> int:
        return len(self.requests("POST"))

    @property
    def remaining(self) -> int:
        with self._lock:
            self._roll_window()
            return self._remaining

    @property
    def reset_at(self) -> datetime:
        with self._lock:
            return self._reset_at

    # ------------------------------------------------------------------ data builders

    def user(self, login: str, email: str | None = None, kind: str = "User") -> dict[str, Any]:
        with self._lock:
            known = self._users.get(login.lower())
            if known is not None:
                if email is not None:
                    known["email"] = email
                return known
            user: dict[str, Any] = {"__typename": kind, "id": f"U_{login}", "login": login, "name": None,
                                    "url": f"https://github.com/{login}", "resourcePath": f"/{login}"}
            if kind in ("User", "Mannequin"):
                user["email"] = email or ("" if kind == "User" else None)
            self._users[login.lower()] = user
            return user

    def org(self, login: str) -> dict[str, Any]:
        with self._lock:
            org = self._orgs.get(login.lower())
            if org is None:
                org = {"__typename": "Organization", "id": f"O_{login}", "login": login, "name": login,
                       "url": f"https://github.com/{login}", "teams": []}
                self._orgs[login.lower()] = org
            return org

    def team(self, org: str, slug: str, members: Iterable[str] = ()) -> dict[str, Any]:
        with self._lock:
            owner = self.org(org)
            found = self._team(f"{org}/{slug}")
            if found is None:
                found = {"__typename": "Team", "id": f"T_{org}_{slug}", "slug": slug, "name": slug,
                         "combinedSlug": f"{owner['login']}/{slug}", "organization": owner, "members": []}
                owner["teams"].append(found)
            for login in members:
                member = self.user(login)
                if member not in found["members"]:
                    found["members"].append(member)
            return found

    def repo(self, name: str, forbidden: bool = False) -> dict[str, Any]:
        with self._lock:
            repo = self._repos.get(name.lower())
            if repo is None:
                owner_login, short = name.split("/", 1)
                owner = self._orgs.get(owner_login.lower()) or self.user(owner_login)
                repo = {"__typename": "Repository", "id": f"R_{name}", "name": short, "nameWithOwner": name,
                        "owner": owner, "url": f"https://github.com/{name}", "isPrivate": True, "pulls": {}}
                self._repos[name.lower()] = repo
            repo["forbidden"] = forbidden
            return repo

    def pull(self, repo: str, number: int, title: str, author: str, created_at: When, *, body: str = "",
             draft: bool = False, reviewers: Sequence[tuple[str, When | None]] = (),
             teams: Sequence[tuple[str, When | None]] = (), additions: int = 10, deletions: int = 2,
             changed_files: int = 1, labels: Iterable[str] = (), ci: str | None = "SUCCESS",
             reviews: Sequence[tuple[str, str]] = (), state: str = "OPEN") -> dict[str, Any]:
        with self._lock:
            home = self.repo(repo)
            created = iso(created_at)
            rollup = {"__typename": "StatusCheckRollup", "id": f"SCR_{number}", "state": ci} if ci else None
            commit = {"__typename": "Commit", "id": f"C_{repo}_{number}", "oid": f"{number:040x}",
                      "statusCheckRollup": rollup}
            pull: dict[str, Any] = {
                "__typename": "PullRequest", "id": f"PR_{repo}_{number}", "number": number, "title": title,
                "url": f"https://github.com/{home['nameWithOwner']}/pull/{number}", "isDraft": draft,
                "state": state, "closed": state != "OPEN", "merged": state == "MERGED", "createdAt": created,
                "updatedAt": created, "body": body, "bodyText": body, "additions": additions,
                "deletions": deletions, "changedFiles": changed_files, "author": self.user(author),
                "repository": home, "labels": [{"__typename": "Label", "id": f"L_{name}", "name": name}
                                               for name in labels],
                "reviewRequests": [], "timelineItems": [], "reviews": [],
                "commits": [{"__typename": "PullRequestCommit", "id": f"PRC_{number}", "commit": commit}],
            }
            home["pulls"][number] = pull
            for login, verdict in reviews:
                self.review(repo, number, login, verdict, created)
            for who, at in [*reviewers, *teams]:
                self.request(repo, number, who, at)
            return pull

    def review(self, repo: str, number: int, login: str, state: str = "APPROVED",
               at: When | None = None) -> None:
        with self._lock:
            pull = self._pull(repo, number)
            author = self.user(login)
            when = iso(at) if at is not None else iso(datetime.now(UTC))
            pull["reviews"].append({"__typename": "PullRequestReview", "id": f"PRR_{len(pull['reviews'])}",
                                    "state": state, "author": author, "createdAt": when, "submittedAt": when})
            pull["reviewRequests"] = [r for r in pull["reviewRequests"] if r["requestedReviewer"] is not author]

    def request(self, repo: str, number: int, who: str, at: When | None) -> None:
        """Ask `who` (a login, or `org/slug` for a team) for a review; `at` None: no timeline event."""
        with self._lock:
            pull = self._pull(repo, number)
            reviewer = self.team(*who.split("/", 1)) if "/" in who else self.user(who)
            if all(r["requestedReviewer"] is not reviewer for r in pull["reviewRequests"]):
                pull["reviewRequests"].append({"__typename": "ReviewRequest", "id": f"RR_{who}",
                                               "requestedReviewer": reviewer, "asCodeOwner": False})
            if at is not None:
                pull["timelineItems"].append({"__typename": "ReviewRequestedEvent", "id": f"RRE_{who}_{iso(at)}",
                                              "createdAt": iso(at), "actor": pull["author"],
                                              "requestedReviewer": reviewer, "pullRequest": pull})

    def close(self, repo: str, number: int, merged: bool = False) -> None:
        with self._lock:
            pull = self._pull(repo, number)
            pull.update(state="MERGED" if merged else "CLOSED", closed=True, merged=merged)

    def _pull(self, repo: str, number: int) -> dict[str, Any]:
        pull: dict[str, Any] = self._repos[repo.lower()]["pulls"][number]
        return pull

    def _team(self, combined: str) -> dict[str, Any] | None:
        org, slug = combined.split("/", 1)
        owner = self._orgs.get(org.lower())
        return next((t for t in owner["teams"] if t["slug"] == slug), None) if owner else None

    # ------------------------------------------------------------------ failures and limits

    def fail_next(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._once.append(_failure(status, body, headers))

    def fail(self, status: int, body: Any = None, headers: Mapping[str, str] | None = None) -> None:
        with self._lock:
            self._always = _failure(status, body, headers)

    def heal(self) -> None:
        with self._lock:
            self._once.clear()
            self._always = None

    def slow(self, seconds: float) -> None:
        self._delay = seconds

    def exhaust(self, reset_at: When, status: int = 200) -> None:
        self.set_remaining(0, reset_at)
        self._limited_status = status

    def set_remaining(self, n: int, reset_at: When) -> None:
        with self._lock:
            self._remaining = n
            self._reset_at = _moment(reset_at)

    def _roll_window(self) -> None:
        if datetime.now(UTC) >= self._reset_at:
            self._remaining = self.limit
            self._reset_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)

    def _rate_headers(self) -> dict[str, str]:
        return {"x-ratelimit-limit": str(self.limit), "x-ratelimit-remaining": str(self._remaining),
                "x-ratelimit-used": str(self.limit - self._remaining),
                "x-ratelimit-reset": str(int(self._reset_at.timestamp())), "x-ratelimit-resource": "graphql"}

    # ------------------------------------------------------------------ answering

    def _answer(self, request: Request) -> Response:
        if self._delay:
            time.sleep(self._delay)
        with self._lock:
            self._roll_window()
            failure = self._once.pop(0) if self._once else self._always
            if failure is not None:
                return Response(failure.status, failure.body, {**self._rate_headers(), **failure.headers})
            if not self._authorized(request.headers.get("authorization", "")):
                return Response(401, {"message": "Bad credentials", "documentation_url": DOCS},
                                self._rate_headers())
            if self._remaining <= 0:
                return self._rate_limited()
            try:
                payload = request.json()
            except ValueError:
                payload = None
            if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
                return Response(400, {"message": "Problems parsing JSON", "documentation_url": DOCS},
                                self._rate_headers())
            body = self._execute(payload["query"], payload.get("variables") or {}, payload.get("operationName"))
            return Response(200, body, self._rate_headers())

    def _authorized(self, header: str) -> bool:
        scheme, _, token = header.strip().partition(" ")
        return scheme.lower() in ("bearer", "token") and token.strip() == self.token

    def _rate_limited(self) -> Response:
        headers = self._rate_headers()
        if self._limited_status == 200:
            return Response(200, {"errors": [{"type": "RATE_LIMITED", "code": "graphql_rate_limit",
                                              "message": "API rate limit exceeded for user ID 1."}]}, headers)
        return Response(self._limited_status, {
            "message": "API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, "
                       "please include the request ID 0000:0000:0000000:0000000:00000000.",
            "documentation_url": RATE_DOCS}, headers)

    def _execute(self, query: str, variables: dict[str, Any], operation: str | None) -> dict[str, Any]:
        schema = self._schema or github_schema.schema()
        document, errors = self._parsed(schema, query)
        if document is None or errors:
            return {"errors": errors}
        nodes, cost, errors = _limits(schema, document, variables, operation)
        if errors:
            return {"errors": errors}
        self._remaining = max(0, self._remaining - cost)
        context = {"cost": cost, "nodes": nodes}
        result = execute_sync(schema, document, root_value={}, context_value=context, variable_values=variables,
                              operation_name=operation, field_resolver=self._resolve, type_resolver=_typename)
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [_shaped(e) for e in result.errors]
        answer["data"] = result.data
        return answer

    def _parsed(self, schema: GraphQLSchema, query: str) -> tuple[DocumentNode | None, list[dict[str, Any]]]:
        cached = self._documents.get(query)
        if cached is None:
            try:
                document: DocumentNode | None = parse(query)
                errors = [_shaped(e) for e in validate(schema, document)] if document else []
            except GraphQLError as exc:
                document, errors = None, [_shaped(exc)]
            cached = self._documents[query] = (document, errors)
        return cached

    # ------------------------------------------------------------------ resolvers

    def _resolve(self, source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        special = _SPECIAL.get((info.parent_type.name, info.field_name))
        value = special(self, source, info, args) if special else (
            source.get(info.field_name) if isinstance(source, dict) else getattr(source, info.field_name, None))
        if isinstance(value, list) and get_named_type(info.return_type).name.endswith("Connection"):
            return _page(value, args, info.field_name)
        return value

    def _repository(self, _source: Any, _info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> Any:
        name = f"{args['owner']}/{args['name']}"
        repo = self._repos.get(name.lower())
        if repo is not None and repo["forbidden"]:
            raise github_error("Resource protected by organization SAML enforcement. You must grant your "
                               "Personal Access token access to this organization.", "FORBIDDEN")
        if repo is None:
            raise github_error(f"Could not resolve to a Repository with the name '{name}'.", "NOT_FOUND")
        return repo

    def _organization(self, _source: Any, _info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> Any:
        org = self._orgs.get(args["login"].lower())
        if org is None:
            raise github_error(f"Could not resolve to an Organization with the login of '{args['login']}'.",
                               "NOT_FOUND")
        return org

    def _user(self, _source: Any, _info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> Any:
        user = self._users.get(args["login"].lower())
        if user is None or user["__typename"] != "User":
            raise github_error(f"Could not resolve to a User with the login of '{args['login']}'.", "NOT_FOUND")
        return user

    def _viewer_of(self, _source: Any, _info: GraphQLResolveInfo[Any], _args: dict[str, Any]) -> Any:
        return self._viewer

    def _rate_limit(self, _source: Any, info: GraphQLResolveInfo[Any], _args: dict[str, Any]) -> Any:
        return {"__typename": "RateLimit", "cost": info.context["cost"], "limit": self.limit,
                "remaining": self._remaining, "used": self.limit - self._remaining,
                "resetAt": iso(self._reset_at), "nodeCount": info.context["nodes"]}


# -------------------------------------------------------------------------- field resolvers by (type, field)

def _pull_request(_fixture: GitHubFixture, repo: dict[str, Any], _info: GraphQLResolveInfo[Any],
                  args: dict[str, Any]) -> Any:
    pull = repo["pulls"].get(args["number"])
    if pull is None:
        raise github_error(f"Could not resolve to a PullRequest with the number of {args['number']}.", "NOT_FOUND")
    return pull


ORDER_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "CREATED_AT": lambda p: (p["createdAt"], p["number"]),
    "UPDATED_AT": lambda p: (p["updatedAt"], p["number"]),
    "COMMENTS": lambda p: (0, p["number"]),
}


def _pull_requests(_fixture: GitHubFixture, repo: dict[str, Any], _info: GraphQLResolveInfo[Any],
                   args: dict[str, Any]) -> Any:
    states, labels = args.get("states"), args.get("labels")
    pulls = [p for p in repo["pulls"].values()
             if (not states or p["state"] in states)
             and (not labels or any(label["name"] in labels for label in p["labels"]))
             and (args.get("baseRefName") is None and args.get("headRefName") is None)]
    order = args.get("orderBy") or {"field": "CREATED_AT", "direction": "ASC"}
    return sorted(pulls, key=ORDER_KEYS[order["field"]], reverse=order["direction"] == "DESC")


def _timeline_items(_fixture: GitHubFixture, pull: dict[str, Any], _info: GraphQLResolveInfo[Any],
                    args: dict[str, Any]) -> Any:
    wanted = {"".join(part.capitalize() for part in kind.split("_")) for kind in args.get("itemTypes") or ()}
    since = iso(args["since"]) if args.get("since") else ""
    return [item for item in pull["timelineItems"]
            if (not wanted or item["__typename"] in wanted) and item["createdAt"] >= since]


def _latest_opinionated_reviews(_fixture: GitHubFixture, pull: dict[str, Any], _info: GraphQLResolveInfo[Any],
                                _args: dict[str, Any]) -> Any:
    latest: dict[str, dict[str, Any]] = {}
    for review in pull["reviews"]:
        if review["state"] in OPINIONS:
            latest.pop(review["author"]["login"], None)
            latest[review["author"]["login"]] = review
    return list(latest.values())


def _teams(_fixture: GitHubFixture, org: dict[str, Any], _info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> Any:
    logins = {login.lower() for login in args.get("userLogins") or ()}
    query = (args.get("query") or "").lower()
    return [team for team in org["teams"]
            if (not logins or any(m["login"].lower() in logins for m in team["members"]))
            and query in team["name"].lower()]


def _team_members(_fixture: GitHubFixture, team: dict[str, Any], _info: GraphQLResolveInfo[Any],
                  _args: dict[str, Any]) -> Any:
    return list(team["members"])


Special = Callable[[GitHubFixture, Any, GraphQLResolveInfo[Any], dict[str, Any]], Any]
_SPECIAL: dict[tuple[str, str], Special] = {
    ("Query", "repository"): GitHubFixture._repository,
    ("Query", "organization"): GitHubFixture._organization,
    ("Query", "user"): GitHubFixture._user,
    ("Query", "viewer"): GitHubFixture._viewer_of,
    ("Query", "rateLimit"): GitHubFixture._rate_limit,
    ("Repository", "pullRequest"): _pull_request,
    ("Repository", "pullRequests"): _pull_requests,
    ("PullRequest", "timelineItems"): _timeline_items,
    ("PullRequest", "latestOpinionatedReviews"): _latest_opinionated_reviews,
    ("Organization", "teams"): _teams,
    ("Team", "members"): _team_members,
}


def _typename(value: Any, _info: GraphQLResolveInfo[Any], _abstract: Any) -> str | None:
    return value.get("__typename") if isinstance(value, dict) else None


# -------------------------------------------------------------------------- connections, like GitHub's

def _cursor(index: int) -> str:
    return base64.b64encode(f"cursor:v2:{index}".encode()).decode()


def _index(cursor: str) -> int:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
        if text.startswith("cursor:v2:"):
            return int(text.removeprefix("cursor:v2:"))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise github_error(f"`{cursor}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS")


def _page(items: list[Any], args: dict[str, Any], name: str) -> dict[str, Any]:
    start, end = 0, len(items)
    if args.get("after") is not None:
        start = max(start, _index(args["after"]) + 1)
    if args.get("before") is not None:
        end = min(end, _index(args["before"]))
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:  # _limits refuses such queries first; a guard for direct use
        raise github_error(f"You must provide a `first` or `last` value to properly paginate the `{name}` "
                           "connection.", "MISSING_PAGINATION_BOUNDARIES")
    if first is not None:
        end = min(end, start + min(first, MAX_PAGE))
    if last is not None:
        start = max(start, end - min(last, MAX_PAGE))
    end = max(start, end)
    chosen = items[start:end]
    edges = [{"cursor": _cursor(start + i), "node": node} for i, node in enumerate(chosen)]
    return {"nodes": chosen, "edges": edges, "totalCount": len(items),
            "pageInfo": {"hasNextPage": end < len(items), "hasPreviousPage": start > 0,
                         "startCursor": edges[0]["cursor"] if edges else None,
                         "endCursor": edges[-1]["cursor"] if edges else None}}


def _limits(schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any],
            operation_name: str | None) -> tuple[int, int, list[dict[str, Any]]]:
    """GitHub's checks before running a query: every connection bounded by `first`/`last` ≤ 100, and at most
    500,000 nodes, each connection counting its size times the sizes of the connections it is inside. Also its
    cost in points, as GitHub counts it: the requests every connection needs at full pages, over 100 (at least 1)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                  and (operation_name is None or (d.name and d.name.value == operation_name))]
    if not operations:
        return 0, 1, []
    errors: list[dict[str, Any]] = []
    total = requests = 0

    def walk(selections: SelectionSetNode, parent: GraphQLNamedType | None, outer: int) -> None:
        nonlocal total, requests
        for node in selections.selections:
            if isinstance(node, FieldNode):
                field = getattr(parent, "fields", {}).get(node.name.value)
                if field is None:
                    continue
                named = get_named_type(field.type)
                inner = outer
                if named.name.endswith("Connection"):
                    size = _page_size(node, variables, errors)
                    requests += outer  # one request per enclosing node
                    inner = outer * size
                    total += inner
                if node.selection_set:
                    walk(node.selection_set, named, inner)
            elif isinstance(node, InlineFragmentNode):
                kind = schema.get_type(node.type_condition.name.value) if node.type_condition else parent
                walk(node.selection_set, kind, outer)
            elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments:
                fragment = fragments[node.name.value]
                walk(fragment.selection_set, schema.get_type(fragment.type_condition.name.value), outer)

    root = {"query": schema.query_type, "mutation": schema.mutation_type}.get(operations[0].operation.value)
    walk(operations[0].selection_set, root, 1)
    if not errors and total > MAX_NODES:
        errors.append({"type": "MAX_NODE_LIMIT_EXCEEDED",
                       "message": f"This query requests up to {total:,} possible nodes which exceeds the maximum "
                                  f"limit of {MAX_NODES:,}."})
    return total, max(1, round(requests / 100)), errors


def _page_size(node: FieldNode, variables: Mapping[str, Any], errors: list[dict[str, Any]]) -> int:
    values = {a.name.value: value_from_ast_untyped(a.value, dict(variables)) for a in node.arguments or ()}
    location = {"line": node.loc.start_token.line, "column": node.loc.start_token.column} if node.loc else None
    name = node.name.value
    bound = next(((key, values[key]) for key in ("first", "last") if values.get(key) is not None), None)
    if bound is None:
        errors.append({"type": "MISSING_PAGINATION_BOUNDARIES", "locations": [location] if location else [],
                       "message": f"You must provide a `first` or `last` value to properly paginate the "
                                  f"`{name}` connection."})
        return 0
    key, size = bound
    if not isinstance(size, int) or size > MAX_PAGE:
        errors.append({"type": "EXCESSIVE_PAGINATION", "locations": [location] if location else [],
                       "message": f"Requesting {size} records on the `{name}` connection exceeds the `{key}` "
                                  f"limit of {MAX_PAGE} records."})
        return 0
    return max(size, 0)


def _shaped(error: GraphQLError) -> dict[str, Any]:
    """A graphql-core error as GitHub writes one: `type` at the top, then path, locations, message."""
    extensions = dict(error.extensions or {})
    shaped: dict[str, Any] = {}
    if "type" in extensions:
        shaped["type"] = extensions.pop("type")
    if error.path:
        shaped["path"] = list(error.path)
    if extensions:
        shaped["extensions"] = extensions
    if error.locations:
        shaped["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    shaped["message"] = error.message
    return shaped


def _failure(status: int, body: Any, headers: Mapping[str, str] | None) -> Response:
    if body is None:
        body = ({"message": "Bad credentials", "documentation_url": DOCS} if status == 401
                else {"message": HTTPStatus(status).phrase, "documentation_url": DOCS})
    return Response(status, body, dict(headers or {}))
