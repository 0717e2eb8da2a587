"""`python -m bot check`: validate settings, then probe every configured backend, one row each."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from bot.digest.model import KINDS
from bot.digest.schedule import next_slot
from bot.render.time import local
from bot.retry import DATABASE_ERRORS, BackendError, backend_name
from bot.services import Services
from bot.settings import Config, ConfigError, Env

OK, FAIL, SKIP, WARN = "ok", "FAIL", "skip", "warn"
# No probe waits longer than this for a connection or an answer, so that with start-up the whole check
# stays within ~10 s even when every backend accepts connections and never answers.
PROBE_TIMEOUT = timedelta(seconds=8)


@dataclass(frozen=True)
class Row:
    status: str
    name: str
    detail: str


def run(out: TextIO = sys.stdout) -> int:
    from bot.runtime import load_settings
    from bot.services import build_services

    try:
        env, config = load_settings()
    except ConfigError as exc:
        _print([Row(FAIL, "config", str(exc))], out)
        return 1
    rows = [Row(OK, "config", _config_summary(env, config))]
    services = build_services(env, _with_probe_timeouts(config))
    database, slack_rows, backends = _concurrently(
        lambda: [_database(services)], lambda: _slack(env, services), lambda: _backends(env, services))
    slack_ok = bool(slack_rows) and slack_rows[-1].status == OK
    aws_ok = any(row.name == _label("aws") and row.status == OK for row in backends)
    github_ok = any(row.name == _label("github") and row.status == OK for row in backends)
    rows += [*database, *slack_rows, *backends,
             *_reading("on-call", lambda: _rotations(services, slack_ok)),
             *_reading("user groups", lambda: _user_groups(services, slack_ok)),
             _alert_channels(config), *_gpu_posts(env, config),
             *_reading("cost guards", lambda: _cost_guards(services, aws_ok)),
             *_review_repos(services, github_ok), *_digests(config)]
    _print(rows, out)
    return 1 if any(row.status == FAIL for row in rows) else 0


def _reading(name: str, rows: Callable[[], list[Row]]) -> list[Row]:
    """Rows whose checks read the database (Slack's answers and Cost Explorer's count are kept there): when it
    cannot be reached (its own row says why), one SKIP instead of a traceback."""
    try:
        return rows()
    except DATABASE_ERRORS:
        return [Row(SKIP, name, "not checked: the database is unreachable (see its row)")]


def _with_probe_timeouts(config: Config) -> Config:
    timeouts = config.timeouts
    capped = {name: _capped(getattr(timeouts, name)) for name in type(timeouts).model_fields}
    return config.model_copy(update={"timeouts": timeouts.model_copy(update=capped)})


def _capped(timeout: Any) -> Any:
    return timeout.model_copy(update={"connect": min(timeout.connect, PROBE_TIMEOUT),
                                      "read": min(timeout.read, PROBE_TIMEOUT)})


def _concurrently(*probes: Callable[[], list[Row]]) -> list[list[Row]]:
    """Every probe at once, so that a dead backend costs its timeout once, not once per backend."""
    with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="check") as pool:
        return [future.result() for future in [pool.submit(probe) for probe in probes]]


def _print(rows: list[Row], out: TextIO) -> None:
    width = max(len(r.name) for r in rows)
    for row in rows:
        out.write(f"{row.status:<5} {row.name:<{width}}  {row.detail}\n")


def _config_summary(env: Env, config: Config) -> str:
    source = str(env.bot_config) if env.bot_config.exists() else f"defaults (no file at {env.bot_config})"
    return f"{source}: {len(config.teams)} team(s), {len(config.oncall)} on-call rotation(s)"


def _probe(name: str, fn: Callable[[], str], fix: str) -> Row:
    try:
        return Row(OK, name, fn())
    except BackendError as exc:  # a hint in the reason is the fix for this very failure
        return Row(FAIL, name, f"{exc.reason}." if exc.hint else f"{exc.reason}. {fix}")
    except ConfigError as exc:  # already says what is wrong and what to check, without the password
        return Row(FAIL, name, str(exc))
    except Exception as exc:
        return Row(FAIL, name, f"{type(exc).__name__}: {str(exc)[:200]}. {fix}")


def _label(backend: str) -> str:
    return backend_name(backend, "en")


def _database(services: Services) -> Row:
    from bot.store.db import explain_connection_errors, migrate

    def probe() -> str:
        with explain_connection_errors(services.engine):
            migrate(services.engine)
        return f"{services.engine.dialect.name}, migrations applied"

    return _probe("database", probe, "Check DATABASE_URL and that the database server is reachable.")


def _slack(env: Env, services: Services) -> list[Row]:
    if not env.slack_bot_token:
        return [Row(FAIL, _label("slack"), "SLACK_BOT_TOKEN is not set. Create the app from manifest.yml (README) "
                                   "and copy its Bot User OAuth Token.")]
    rows = []
    if not env.slack_signing_secret and not env.slack_app_token:
        rows.append(Row(FAIL, f"{_label('slack')} mode",
                        "set SLACK_SIGNING_SECRET (serve) or SLACK_APP_TOKEN (socket)"))

    def auth() -> str:
        from slack_sdk.errors import SlackApiError

        try:
            result = services.slack.auth_test()
        except SlackApiError as exc:
            raise BackendError("slack", str(exc.response.get("error"))) from None
        return f"connected as @{result.get('user')} in {result.get('team')}"

    rows.append(_probe(_label("slack"), auth, "Check SLACK_BOT_TOKEN (it starts with xoxb-) and SLACK_API_URL."))
    return rows


def _backends(env: Env, services: Services) -> list[Row]:
    checks: list[tuple[str, bool, str, str]] = [
        ("prometheus", bool(env.prometheus_url), "PROMETHEUS_URL", "Check PROMETHEUS_URL is reachable from here."),
        ("kubernetes", bool(env.kubeconfig or os.environ.get("KUBERNETES_SERVICE_HOST")), "KUBECONFIG",
         "Check KUBECONFIG (or the in-cluster service account) and RBAC (README, Backend permissions)."),
        ("aws", services.aws_configured, "AWS credentials",
         "Check the AWS credentials, AWS_ENDPOINT_URL if set, and the IAM policy (README, Backend permissions)."),
        ("github", bool(env.github_token), "GITHUB_TOKEN", "Check GITHUB_TOKEN and GITHUB_API_URL."),
        ("alertmanager", bool(env.alertmanager_url), "ALERTMANAGER_URL",
         "Check ALERTMANAGER_URL (the Silence button creates silences through its API v2)."),
    ]
    probes = [_backend_probe(services, name, variable, fix) if configured
              else _skipped(name, variable) for name, configured, variable, fix in checks]
    rows = [row for found in _concurrently(*probes) for row in found]
    if env.pagerduty_routing_key:
        rows.append(Row(OK, _label("pagerduty"), "routing key set (not probed: any test event would page someone)"))
    return rows


def _backend_probe(services: Services, name: str, variable: str, fix: str) -> Callable[[], list[Row]]:
    attribute = {"prometheus": "prom", "kubernetes": "kube", "alertmanager": "silences"}.get(name, name)
    return lambda: [_probe(_label(name), lambda: getattr(services, attribute).probe(), fix)]


def _skipped(name: str, variable: str) -> Callable[[], list[Row]]:
    return lambda: [Row(SKIP, _label(name), f"not configured (set {variable} to enable)")]


def _rotations(services: Services, slack_ok: bool) -> list[Row]:
    rows = []
    for team, rotation in services.config.oncall.items():
        if not slack_ok:
            rows.append(Row(SKIP, f"on-call {team}", "members not checked: Slack is not reachable"))
            continue
        members = {m for tier in rotation.tiers for layer in tier.layers for m in layer.members}
        missing = sorted(m for m in members if not services.users.resolve(m).found)
        if missing:
            rows.append(Row(FAIL, f"on-call {team}",
                            f"not Slack users I can find: {', '.join(missing)}. Use Slack user ids (U…) or "
                            "the emails people sign in with."))
        else:
            rows.append(Row(OK, f"on-call {team}", f"{len(members)} member(s) resolve to Slack users"))
    return rows


def _alert_channels(config: Config) -> Row:
    """Where Alertmanager's alerts will be posted; with nowhere at all they are kept but nobody sees them."""
    posting = [team.name for team in config.teams if team.channel]
    default = config.alerts.default_channel
    if not posting and not default:
        return Row(WARN, "alerts", "no channel to post alerts in: they are stored (see /alerts) but not posted. "
                                   "Set alerts.default_channel, or teams[].channel with teams[].namespaces, "
                                   "in the config (config/example.yaml).")
    where = ", ".join(posting) or "no team"
    return Row(OK, "alerts", f"routed by team label or namespace to {where}; anything else to "
                             f"{default or 'nowhere (set alerts.default_channel to post the rest)'}")


def _gpu_posts(env: Env, config: Config) -> list[Row]:
    """Where the scheduled GPU checks post; a GPU no team holds needs a platform channel."""
    if not env.prometheus_url:
        return []
    teams = [team.name for team in config.teams if team.channel and team.namespaces]
    platform = config.gpu.platform_channel or config.alerts.default_channel
    if not platform:
        return [Row(WARN, "gpu checks", "health problems of GPUs no team holds are not posted: set "
                                       "gpu.platform_channel (or alerts.default_channel) in the config.")]
    posted = ", ".join(teams) or "no team (set teams[].channel and teams[].namespaces)"
    return [Row(OK, "gpu checks", f"idle GPUs posted to {posted}; other health problems to {platform}")]


def _review_repos(services: Services, github_ok: bool) -> list[Row]:
    """Whether the token sees every repository /review watches (one read, ~5 GitHub points per repository)."""
    if not github_ok or not any(team.repos for team in services.config.teams):
        return []
    repos = services.review.repos()
    try:
        read = services.github.open_pulls(repos)
    except BackendError as exc:
        return [Row(FAIL, "review repos", f"{exc.reason}. Check teams[].repos and the token's access.")]
    if read.missing:
        return [Row(WARN, "review repos", f"not found or not visible to GITHUB_TOKEN: {', '.join(read.missing)}. "
                                          "Check the names in teams[].repos, and that the token may read them "
                                          "(a fine-grained token lists its repositories).")]
    return [Row(OK, "review repos", f"{len(repos)} repositories readable, {len(read.pulls)} open pull requests")]


def _digests(config: Config) -> list[Row]:
    """When each team's next digest posts, and which teams get none (no channel, or both schedules off)."""
    if not config.teams:
        return []
    now = datetime.now(UTC)
    silent = [team.name for team in config.teams if not team.channel]
    planned = []
    for team in config.teams:
        if team.channel:
            upcoming = [at for kind in KINDS if (at := next_slot(team, config, kind, now)) is not None]
            if upcoming:
                planned.append(f"{team.name} {local(min(upcoming), team.timezone):%a %H:%M} {team.timezone}")
            else:
                silent.append(team.name)
    detail = f"next: {', '.join(planned)}" if planned else "none scheduled"
    if silent:
        return [Row(WARN, "digests", f"{detail}; no digest for {', '.join(silent)} (set teams[].channel, and "
                                     "schedules.digest or teams[].digest other than off)")]
    return [Row(OK, "digests", detail)]


# What the bot does in AWS; deploy/iam-policy.json grants exactly these (a test keeps the two in step).
AWS_ACTIONS = ("sts:GetCallerIdentity", "ce:GetCostAndUsage", "ce:GetCostForecast", "ec2:DescribeInstances",
               "ec2:StopInstances", "ec2:DescribeSnapshots", "ec2:DescribeImages", "ec2:DeleteSnapshot",
               "rbin:ListRules", "rbin:GetRule", "iam:SimulatePrincipalPolicy")


def _cost_guards(services: Services, aws_ok: bool = True) -> list[Row]:
    """Cost Explorer spending today, which AWS actions the policy denies, and selectors that match nothing (these
    two only when AWS answered the probe: a dead endpoint already has its FAIL row)."""
    if not services.aws_configured:
        return []
    guards = services.config.cost_guards
    requests = services.spend.requests_today()
    rows = [Row(OK, "cost explorer", f"{requests} request(s) today (${requests * 0.01:.2f}); answers cached for "
                                     f"{services.config.thresholds.cost_cache}")]
    if not aws_ok:
        return [*rows, Row(SKIP, "cost guards", "permissions and selectors not checked: AWS did not answer")]
    try:
        probes = services.aws.permissions(AWS_ACTIONS)
        denied = [p.action for p in probes if p.allowed is False]
        unknown = [p.action for p in probes if p.allowed is None]
        how = ", ".join(sorted({p.how for p in probes}))
        if denied:
            rows.append(Row(WARN, "aws permissions", f"denied: {', '.join(denied)} (found by {how}). Grant them "
                                                     "as in deploy/iam-policy.json."))
        else:
            rows.append(Row(OK, "aws permissions", f"{len(probes) - len(unknown)} action(s) allowed (by {how})"
                                                   + (f"; not checked: {', '.join(unknown)}" if unknown else "")))
        unmatched = services.instances.unmatched_selectors()
    except BackendError as exc:
        return [*rows, Row(FAIL, "cost guards", exc.reason)]
    if unmatched:
        rows.append(Row(WARN, "shutdown selectors", f"match no instance: {', '.join(unmatched)}. Check teams[]."
                                                    "cost_tag, instance_tags and shutdown_families."))
    mode = "enabled" if guards.shutdown.enabled else "dry-run (set cost_guards.shutdown.enabled: true to stop)"
    who = ", ".join(guards.allowed) or "admins only (set cost_guards.allowed)"
    rows.append(Row(OK if guards.allowed or services.config.admins else WARN, "shutdown",
                    f"{mode}, at {guards.shutdown.at:%H:%M} local; stop and delete allowed to {who}"))
    return rows


def _user_groups(services: Services, slack_ok: bool) -> list[Row]:
    """Each team's `user_group`, whose members may act on the team's incidents: can Slack tell who is in it?"""
    from bot.clients.slack_groups import UserGroups

    groups = UserGroups(services.slack, services.sessions, services.clock)
    rows = []
    for team in services.config.teams:
        group = team.user_group
        if not group:
            continue
        name = f"user group {team.name}"
        if not slack_ok:
            rows.append(Row(SKIP, name, "not checked: Slack is not reachable"))
            continue
        try:
            rows.append(Row(OK, name, f"{group}: {len(groups.read(group))} member(s)"))
        except LookupError:
            rows.append(Row(FAIL, name, f"no user group {group} in this workspace. Use its handle "
                                        "(@ml-oncall) or id (S…) in teams[].user_group."))
        except Exception as exc:
            reason = getattr(getattr(exc, "response", None), "get", lambda _k: None)("error") or type(exc).__name__
            rows.append(Row(FAIL, name, f"cannot read {group}: {reason}. Reinstall the app with the "
                                        "usergroups:read scope (manifest.yml)."))
    return rows
