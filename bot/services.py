"""Builds clients, store and domain services once; handlers, the shell and jobs all share them."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.service import AlertService
from bot.clients import (
    AwsSource,
    ChatSender,
    GitHubSource,
    KubeEvidenceSource,
    KubeSource,
    Pager,
    PrometheusSource,
    SilenceSource,
)
from bot.clients.chat import Chat
from bot.clients.pager import PagerDuty
from bot.clients.slack import make_web_client
from bot.clients.slack_groups import UserGroups
from bot.clients.slack_users import UserDirectory
from bot.clock import Clock, SystemClock
from bot.digest.service import Digests, Sources
from bot.emoji.combos import ComboEngine
from bot.emoji.dialect import ActionRegistry, Dialect
from bot.evidence.service import EvidenceCollector
from bot.gpu.checks import GpuWatch
from bot.gpu.owners import OwnerNudges
from bot.gpu.service import GpuService
from bot.guard import Guard
from bot.incidents.desk import IncidentDesk
from bot.incidents.escalation import Escalator
from bot.incidents.evidence import IncidentEvidence
from bot.incidents.notices import IncidentNotices
from bot.incidents.summary import IncidentSummary
from bot.notices import NoticeBoard
from bot.notify import Notifier
from bot.oncall.service import OncallService
from bot.permissions import Permissions
from bot.retry import BackendError
from bot.review.digests import ReviewDigests
from bot.review.nudges import Nudges
from bot.review.people import People
from bot.review.service import ReviewService
from bot.settings import Config, Env, Team
from bot.spend.burn import BurnWatch
from bot.spend.fleet import Instances
from bot.spend.service import SpendService
from bot.spend.shutdown import NightlyShutdown
from bot.spend.snapshots import SnapshotHygiene
from bot.store.db import make_engine, session_factory

if TYPE_CHECKING:
    from bot.clients.demo import DemoKube
    from bot.clients.kube import KubeClient

log = logging.getLogger(__name__)


def _not_configured(backend: str, variable: str) -> BackendError:
    return BackendError(backend, code="not_configured", params={"setting": variable})


@dataclass
class Services:
    env: Env
    config: Config
    engine: Engine
    clock: Clock
    slack: WebClient
    demo: bool = False
    actions: ActionRegistry = field(default_factory=ActionRegistry)
    _bot_user: str = ""
    # Hands a stored Slack event body to the Bolt app again (set by bot.app.build_app): the inbox's replay.
    replay_event: Callable[[dict[str, Any]], None] | None = None

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        """Opens database sessions; domain services get it injected (`with sessions.begin() as session`)."""
        return session_factory(self.engine)

    @cached_property
    def alerts(self) -> AlertService:
        return AlertService(self.config, self.sessions, self.clock, self.chat, self.incidents, self.permissions,
                            self.oncall.audience, lambda: self.silences, self.bot_user, self.users.language)

    def bot_user(self) -> str:
        """The bot's own Slack user id (the reporter of incidents alerts open); "" while Slack can't say."""
        if not self._bot_user:
            try:
                self._bot_user = str(self.slack.auth_test().get("user_id") or "")
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("could not learn the bot's own user id: %s", exc)
        return self._bot_user

    @cached_property
    def dialect(self) -> Dialect:
        return Dialect(self.config.emoji)

    @cached_property
    def combos(self) -> ComboEngine:
        return ComboEngine(self.sessions, self.dialect, self.actions, self.clock)

    @cached_property
    def users(self) -> UserDirectory:
        return UserDirectory(self.slack, self.sessions, self.clock)

    @cached_property
    def chat(self) -> ChatSender:
        """The one Chat of this process, so every post shares the per-channel pacing."""
        return Chat(self.slack)

    @cached_property
    def notifier(self) -> Notifier:
        return Notifier(self.chat, self.pager)

    @cached_property
    def escalation(self) -> Escalator:
        notices = IncidentNotices(self.notifier, self.config, self.sessions, self.clock)
        summary = IncidentSummary(self.notifier, self.config, self.sessions, self.clock)
        return Escalator(self.config, self.sessions, self.clock, self.users, self.notifier, notices, summary)

    @cached_property
    def incidents(self) -> IncidentDesk:
        return IncidentDesk(self.config, self.sessions, self.clock, self.users, self.permissions, self.notifier,
                            self.escalation)

    @cached_property
    def evidence(self) -> IncidentEvidence:
        collector = EvidenceCollector(self.kube_evidence, self.clock,
                                      self.config.incidents.evidence_budget.total_seconds())
        return IncidentEvidence(self.config, self.sessions, self.notifier, self.escalation.notices, collector,
                                self.alerts.labels_for, self.alerts.firing_in, self.clock.now)

    @cached_property
    def pager(self) -> Pager | None:
        key = self.env.pagerduty_routing_key
        return PagerDuty(key.get_secret_value(), self.env.pagerduty_api_url,
                         timeout=self.config.timeouts.pagerduty) if key else None

    @cached_property
    def permissions(self) -> Permissions:
        return Permissions(self.config, self.sessions, self.users, UserGroups(self.slack, self.sessions, self.clock),
                           self.clock)

    def language(self, user_id: str | None, team: Team) -> str:
        """The Slack user's own locale when known, else the team's language."""
        return self.users.language(user_id, team.language)

    # Backends: the real client when configured, the bundled demo source with --demo.
    @cached_property
    def prom(self) -> PrometheusSource:
        if self.demo:
            from bot.clients.demo import DemoPrometheus

            return DemoPrometheus()
        if not self.env.prometheus_url:
            raise _not_configured("prometheus", "PROMETHEUS_URL")
        from bot.clients.prom import PrometheusClient

        return PrometheusClient(self.env.prometheus_url, timeout=self.config.timeouts.prometheus)

    @cached_property
    def kube(self) -> KubeSource:
        return self._kube_client

    @cached_property
    def kube_evidence(self) -> KubeEvidenceSource:
        return self._kube_client

    @cached_property
    def _kube_client(self) -> KubeClient | DemoKube:
        if self.demo:
            from bot.clients.demo import DemoKube

            return DemoKube()
        from bot.clients.kube import KubeClient

        return KubeClient(self.env.kubeconfig, timeout=self.config.timeouts.kubernetes)

    @property
    def kube_configured(self) -> bool:
        return self.demo or bool(self.env.kubeconfig or os.environ.get("KUBERNETES_SERVICE_HOST"))

    @cached_property
    def aws(self) -> AwsSource:
        if self.demo:
            from bot.clients.demo import DemoAws

            return DemoAws(clock=self.clock)
        from bot.clients.aws import AwsClient

        region = self.env.aws_default_region or os.environ.get("AWS_REGION") or "us-east-1"
        return AwsClient(region, endpoint_url=self.env.aws_endpoint_url, timeout=self.config.timeouts.aws)

    @cached_property
    def silences(self) -> SilenceSource:
        if self.demo:
            from bot.clients.demo import DemoAlertmanager

            return DemoAlertmanager()
        if not self.env.alertmanager_url:
            raise _not_configured("alertmanager", "ALERTMANAGER_URL")
        from bot.clients.alertmanager import AlertmanagerClient

        return AlertmanagerClient(self.env.alertmanager_url, timeout=self.config.timeouts.alertmanager)

    @cached_property
    def github(self) -> GitHubSource:
        if self.demo:
            from bot.clients.demo import DemoGitHub

            return DemoGitHub()
        if not self.env.github_token:
            raise _not_configured("github", "GITHUB_TOKEN")
        from bot.clients.github import GitHubClient

        return GitHubClient(self.env.github_token.get_secret_value(), self.env.github_api_url,
                            timeout=self.config.timeouts.github)

    # Domain services: plain Python over the clients above.
    @cached_property
    def gpu(self) -> GpuService:
        return GpuService(self.prom, self.kube, self.clock, self.config, self.sessions)

    @cached_property
    def gpu_owners(self) -> OwnerNudges:
        return OwnerNudges(self.gpu, self.notifier, self.users, self.permissions, self.sessions, self.clock,
                           self.config)

    @cached_property
    def gpu_watch(self) -> GpuWatch:
        return GpuWatch(self.gpu, self.notifier, self.sessions, self.clock, self.config)

    @property
    def github_configured(self) -> bool:
        return self.demo or bool(self.env.github_token)

    @property
    def aws_configured(self) -> bool:
        """Credentials or a region in the environment (an instance profile needs AWS_DEFAULT_REGION set)."""
        names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_ROLE_ARN", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_REGION")
        return self.demo or bool(self.env.aws_endpoint_url or self.env.aws_default_region or
                                 any(os.environ.get(name) for name in names))

    @property
    def prometheus_configured(self) -> bool:
        return self.demo or bool(self.env.prometheus_url)

    @cached_property
    def spend(self) -> SpendService:
        return SpendService(self.aws, self.sessions, self.clock, self.config)

    @cached_property
    def guard(self) -> Guard:
        return Guard(self.permissions, self.sessions, self.clock, self.config.cost_guards)

    @cached_property
    def notices(self) -> NoticeBoard:
        return NoticeBoard(self.notifier, self.sessions, self.clock)

    @cached_property
    def instances(self) -> Instances:
        return Instances(self.aws, self.config)

    @cached_property
    def burn(self) -> BurnWatch:
        return BurnWatch(self.instances, self.notices, self.clock, self.config, demo=bool(self.aws.demo))

    @cached_property
    def shutdown(self) -> NightlyShutdown:
        utilization = self.gpu.utilization_by_node if self.prometheus_configured and self.kube_configured else None
        return NightlyShutdown(self.aws, self.instances, self.guard, self.permissions, self.notices, self.sessions,
                               self.clock, self.config, utilization)

    @cached_property
    def snapshots(self) -> SnapshotHygiene:
        return SnapshotHygiene(self.aws, self.guard, self.notices, self.sessions, self.clock, self.config)

    @cached_property
    def review(self) -> ReviewService:
        return ReviewService(self.github, self.config, People(self.config, self.users, self.sessions, self.clock),
                             self.users, self.clock)

    @cached_property
    def nudges(self) -> Nudges:
        return Nudges(self.review, self.users, self.chat, self.permissions, self.sessions, self.clock)

    @cached_property
    def review_digests(self) -> ReviewDigests:
        return ReviewDigests(self.review, self.notices, self.users, self.chat, self.permissions, self.sessions,
                             self.clock)

    @cached_property
    def oncall(self) -> OncallService:
        return OncallService(self.config, self.sessions, self.users, self.permissions, self.clock)

    @cached_property
    def digests(self) -> Digests:
        aws = self.aws_configured
        sources = Sources(incidents=self.incidents, oncall=self.oncall, alerts=self.alerts,
                          spend=self.spend if aws else None, burn=self.burn if aws else None,
                          snapshots=self.snapshots if aws else None, shutdown=self.shutdown if aws else None,
                          gpu=self.gpu if self.prometheus_configured else None,
                          review=self.review if self.github_configured else None)
        return Digests(sources, self.notices, self.notifier, self.sessions, self.clock, self.config)


def build_services(env: Env, config: Config, *, demo: bool = False, clock: Clock | None = None,
                   slack: WebClient | None = None, engine: Engine | None = None) -> Services:
    token = env.slack_bot_token.get_secret_value() if env.slack_bot_token else None
    slack_timeout = max(1, round(config.timeouts.slack.read.total_seconds()))  # slack_sdk takes whole seconds
    return Services(
        env=env,
        config=config,
        engine=engine or make_engine(env.database_url),
        clock=clock or SystemClock(),
        slack=slack or make_web_client(token, env.slack_api_url, timeout=slack_timeout),
        demo=demo,
    )
