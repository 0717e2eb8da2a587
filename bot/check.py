"""`python -m bot check`: validate settings, then probe every configured backend, one row each."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from bot.retry import BackendError
from bot.services import Services
from bot.settings import ConfigError, Env

OK, FAIL, SKIP = "ok", "FAIL", "skip"


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
    services = build_services(env, config)
    slack_rows = _slack(env, services)
    slack_ok = bool(slack_rows) and slack_rows[-1].status == OK
    rows += [_database(services), *slack_rows, *_backends(env, services), *_rotations(services, slack_ok)]
    _print(rows, out)
    return 1 if any(row.status == FAIL for row in rows) else 0


def _print(rows: list[Row], out: TextIO) -> None:
    width = max(len(r.name) for r in rows)
    for row in rows:
        out.write(f"{row.status:<5} {row.name:<{width}}  {row.detail}\n")


def _config_summary(env: Env, config) -> str:  # type: ignore[no-untyped-def]
    source = str(env.bot_config) if env.bot_config.exists() else f"defaults (no file at {env.bot_config})"
    return f"{source}: {len(config.teams)} team(s), {len(config.oncall)} on-call rotation(s)"


def _probe(name: str, fn: Callable[[], str], fix: str) -> Row:
    try:
        return Row(OK, name, fn())
    except BackendError as exc:
        return Row(FAIL, name, f"{exc.reason}. {fix}")
    except Exception as exc:
        return Row(FAIL, name, f"{type(exc).__name__}: {str(exc)[:200]}. {fix}")


def _database(services: Services) -> Row:
    from bot.store.db import migrate

    def probe() -> str:
        migrate(services.engine)
        return f"{services.engine.dialect.name}, migrations applied"

    return _probe("database", probe, "Check DATABASE_URL and that the database server is reachable.")


def _slack(env: Env, services: Services) -> list[Row]:
    if not env.slack_bot_token:
        return [Row(FAIL, "slack", "SLACK_BOT_TOKEN is not set. Create the app from manifest.yml (README) "
                                   "and copy its Bot User OAuth Token.")]
    rows = []
    if not env.slack_signing_secret and not env.slack_app_token:
        rows.append(Row(FAIL, "slack mode", "set SLACK_SIGNING_SECRET (serve) or SLACK_APP_TOKEN (socket)"))

    def auth() -> str:
        from slack_sdk.errors import SlackApiError

        try:
            result = services.slack.auth_test()
        except SlackApiError as exc:
            raise BackendError("slack", str(exc.response.get("error"))) from None
        return f"connected as @{result.get('user')} in {result.get('team')}"

    rows.append(_probe("slack", auth, "Check SLACK_BOT_TOKEN (it starts with xoxb-) and SLACK_API_URL."))
    return rows


def _backends(env: Env, services: Services) -> list[Row]:
    checks: list[tuple[str, bool, str, str]] = [
        ("prometheus", bool(env.prometheus_url), "PROMETHEUS_URL", "Check PROMETHEUS_URL is reachable from here."),
        ("kubernetes", bool(env.kubeconfig or os.environ.get("KUBERNETES_SERVICE_HOST")), "KUBECONFIG",
         "Check KUBECONFIG (or the in-cluster service account) and RBAC (deploy/rbac.yaml)."),
        ("aws", bool(env.aws_endpoint_url or os.environ.get("AWS_ACCESS_KEY_ID") or os.environ.get("AWS_PROFILE")),
         "AWS credentials", "Check the AWS credentials and the IAM policy in deploy/."),
        ("github", bool(env.github_token), "GITHUB_TOKEN", "Check GITHUB_TOKEN and GITHUB_API_URL."),
    ]
    rows = []
    for name, configured, variable, fix in checks:
        if not configured:
            rows.append(Row(SKIP, name, f"not configured (set {variable} to enable)"))
            continue
        client = getattr(services, {"prometheus": "prom", "kubernetes": "kube"}.get(name, name))
        rows.append(_probe(name, client.probe, fix))
    if env.pagerduty_routing_key:
        rows.append(Row(OK, "pagerduty", "routing key set (not probed: any test event would page someone)"))
    return rows


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
