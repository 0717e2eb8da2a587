"""Settings: secrets and endpoints from the environment, team knowledge from one YAML file."""

from __future__ import annotations

import re
from datetime import date, time, timedelta
from difflib import get_close_matches
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.config_types import (
    Duration,
    Hours,
    LocalTime,
    Quiet,
    Strict,
    TimeZone,
    Weekdays,
    clipped,
    crontab_trigger,
    parse_working_hours,
    shown,
)
from bot.durations import format_duration
from bot.emoji.dialect import EmojiConfig, emoji_config_problems
from bot.oncall.rotation import TeamRotation

Language = Literal["en", "zh-CN"]

KNOWN_ACTIONS = ("open_incident", "degraded", "spend_check")
CHANNEL_PLACEHOLDERS = ("date", "number", "slug", "team")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
DATABASE_BACKENDS = ("sqlite", "postgresql", "postgres")


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


def _as_whole_number(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,18}\s*", value):
        return int(value)
    return None


def whole_number(low: int, high: int) -> BeforeValidator:
    """An int from low to high inclusive; anything else is refused with the range, not pydantic's wording."""
    def check(value: object) -> int:
        number = _as_whole_number(value)
        if number is None or not low <= number <= high:
            raise ValueError(f"expected a whole number from {low} to {high}")
        return number
    return BeforeValidator(check)


def duration_within(low: timedelta, high: timedelta | None = None, *, above: bool = False) -> AfterValidator:
    """A Duration of at least `low` (more than `low` when `above`) and at most `high`."""
    floor = f"more than {format_duration(low)}" if above else f"at least {format_duration(low)}"
    expected = f"expected a duration of {floor}" + (f" and at most {format_duration(high)}" if high else "")

    def check(value: timedelta) -> timedelta:
        if value < low or (above and value == low) or (high is not None and value > high):
            raise ValueError(expected)
        return value
    return AfterValidator(check)


def _check_http_url(value: object) -> object:
    if value is None or value == "":
        return value
    expected = "expected an http:// or https:// URL such as https://host.example.com:8443/path"
    try:
        parts = urlsplit(str(value))
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # urlsplit and .port raise it for "http://[::1" or a port that is not a number
        valid = False
    if not valid:
        raise ValueError(expected)
    return value


def _check_log_level(value: object) -> str:
    level = str(value).strip().upper()
    if level not in LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(LOG_LEVELS)}")
    return level


def _check_database_url(value: object) -> str:
    expected = ("expected sqlite:///path/to/file.db or postgresql://user:password@host:5432/database")
    try:
        backend = make_url(str(value)).get_backend_name()
    except (ArgumentError, ValueError):
        raise ValueError(expected) from None
    if backend not in DATABASE_BACKENDS:
        raise ValueError(expected)
    return str(value)


def _check_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"expected a regular expression such as '(?i)pipeline|created by ci' ({exc})") from None
    return value


HttpUrl = Annotated[str, BeforeValidator(_check_http_url)]
Port = Annotated[int, whole_number(1, 65535)]


class Env(BaseSettings):
    """Everything secret or machine-specific. Read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: HttpUrl = "https://slack.com/api/"
    database_url: Annotated[str, BeforeValidator(_check_database_url)] = "sqlite:///emoji-ops.db"
    bot_config: Path = Path("config/bot.yaml")
    prometheus_url: HttpUrl | None = None
    kubeconfig: str | None = None
    aws_endpoint_url: HttpUrl | None = None
    aws_default_region: str | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    github_token: SecretStr | None = None
    github_api_url: HttpUrl = "https://api.github.com"
    pagerduty_routing_key: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    alertmanager_url: HttpUrl | None = None
    pagerduty_api_url: HttpUrl = "https://events.pagerduty.com"
    port: Port = 3000
    log_level: Annotated[str, BeforeValidator(_check_log_level)] = "INFO"

    def config_file(self) -> Path | None:
        """The YAML file to read; None when BOT_CONFIG is unset and the default file is absent (defaults apply)."""
        path = self.bot_config
        explicit = "bot_config" in self.model_fields_set
        where = f"BOT_CONFIG={path}" if explicit else str(path)
        if path.is_dir():
            raise ConfigError(f"{where}: is a directory; expected a YAML file such as config/bot.yaml")
        if path.exists():
            return path
        if explicit:
            raise ConfigError(f"{where}: no such file (copy config/example.yaml there, or unset BOT_CONFIG "
                              "to start with the defaults)")
        return None

    def secret_values(self) -> list[str]:
        """What the logs must never show: every SecretStr setting, the password of any URL setting
        (postgresql://user:PASSWORD@host/db, https://user:PASSWORD@prometheus), and the kubeconfig's tokens.
        Derived from the fields, so a new secret setting is redacted without being listed here."""
        values = [v.get_secret_value() for v in vars(self).values()
                  if isinstance(v, SecretStr) and v.get_secret_value()]
        for name in (n for n in type(self).model_fields if n.endswith("_url")):
            password = _url_password(getattr(self, name))
            if password:
                values += sorted({password, unquote(password)})
        return values + _kubeconfig_tokens(self.kubeconfig)


def _url_password(url: str | None) -> str | None:
    try:
        return urlsplit(url).password if url else None
    except ValueError:
        return None


def _kubeconfig_tokens(kubeconfig: str | None) -> list[str]:
    """`users[].user.token` of each kubeconfig file named (KUBECONFIG may list several, like kubectl's)."""
    tokens: list[str] = []
    for name in (kubeconfig or "").split(":"):
        try:
            document = yaml.safe_load(Path(name).read_text(encoding="utf-8")) if name else None
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        users = document.get("users") if isinstance(document, dict) else None
        for entry in users if isinstance(users, list) else []:
            user = entry.get("user") if isinstance(entry, dict) else None
            token = user.get("token") if isinstance(user, dict) else None
            if isinstance(token, str) and token:
                tokens.append(token)
    return tokens


def _check_cron(value: str) -> str:
    try:
        crontab_trigger(value)
    except ValueError as exc:
        raise ValueError(f"expected a cron expression such as '0 2 * * 6' (minute hour day month weekday): {exc}") \
            from None
    return value


Cron = Annotated[str, AfterValidator(_check_cron)]


def _check_schedule(value: str) -> str:
    if value.strip().lower() == "off":
        return "off"
    try:
        return _check_cron(value)
    except ValueError as exc:
        raise ValueError(f"{exc}; or off") from None


Schedule = Annotated[str, AfterValidator(_check_schedule)]  # a crontab in the team's time zone, or "off"


class Team(Strict):
    name: str
    channel: str | None = None
    timezone: TimeZone = "UTC"
    language: Language = "en"
    namespaces: list[str] = []
    cost_tag: str | None = None
    repos: list[str] = []
    user_group: str | None = None
    page_on: list[str] | None = None  # alert severity labels that open an incident; None: alerts.page_on
    burn_cups_per_hour: Annotated[float, Field(gt=0)] | None = None  # None: thresholds.burn_rate_cups_per_hour
    instance_tags: dict[str, str] = {}  # EC2 instances with all these tags are the team's, besides team=<cost_tag>
    shutdown_families: list[str] | None = None  # None: cost_guards.shutdown.families; []: any instance type
    shutdown_at: LocalTime | None = None  # None: cost_guards.shutdown.at
    working_hours: Hours | None = None  # "09:00-18:00" (Monday to Friday) or "mon-thu 08:00-17:00"; None: review.*
    holidays: list[date] = []  # local dates with no working hours (no nudges, no review digest)
    reviewers: list[str] = []  # GitHub logins who review the team's pull requests; []: whoever the queue shows
    budget_usd_month: Annotated[float, Field(gt=0)] | None = None  # the digest shows month to date against it
    digest: Schedule | None = None  # None: schedules.digest
    weekly_digest: Schedule | None = None  # None: schedules.weekly_digest
    quiet_hours: Quiet | None = None  # None: digest.quiet_hours

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(f"expected a team name without spaces, got {value!r}")
        return value


class Thresholds(Strict):
    coffee_usd: float = 5.0
    burn_rate_cups_per_hour: float = 30.0
    gpu_idle_utilization_pct: float = 20.0
    cost_cache: Duration = timedelta(hours=6)


class Schedules(Strict):
    digest: Schedule = "0 9 * * 1-5"  # each team's daily digest, in its time zone
    weekly_digest: Schedule = "0 9 * * 1"  # the weekly digest (with charts); it replaces the daily one in its slot
    snapshot_cleanup: str = "0 3 * * 0"  # the weekly snapshot report, in defaults.timezone


class Severity(Strict):
    page: bool = True  # before ack_within, whose check reads it
    ack_within: Duration | None

    @field_validator("ack_within")
    @classmethod
    def _escalates(cls, value: timedelta | None, info: ValidationInfo) -> timedelta | None:
        if value is not None and value <= timedelta(0) and info.data.get("page", True):
            raise ValueError("expected a duration of more than 0s, or null to page once without escalating")
        return value


def _default_severities() -> dict[str, Severity]:
    return {
        "sev1": Severity(ack_within=timedelta(minutes=5)),
        "sev2": Severity(ack_within=timedelta(minutes=15)),
        "sev3": Severity(ack_within=timedelta(minutes=60)),
        "sev4": Severity(ack_within=None, page=False),
    }


def _check_channel_pattern(value: str) -> str:
    allowed = ", ".join(f"{{{name}}}" for name in CHANNEL_PLACEHOLDERS)
    try:
        fields = [name for _, name, _, _ in Formatter().parse(value) if name is not None]
    except ValueError as exc:  # "inc-{": a brace that opens nothing
        raise ValueError(f"expected a pattern such as inc-{{date}}-{{number}}-{{slug}} ({exc}); "
                         f"placeholders: {allowed}") from None
    unknown = [name for name in fields if name not in CHANNEL_PLACEHOLDERS]
    if unknown:
        raise ValueError(f"unknown placeholder {{{unknown[0]}}}: expected only {allowed}")
    try:
        value.format(date="20260101", number=1, slug="title", team="team")
    except (ValueError, KeyError, IndexError) as exc:  # a bad format spec such as {number:x-}
        raise ValueError(f"expected a pattern such as inc-{{date}}-{{number}}-{{slug}} ({exc}); "
                         f"placeholders: {allowed}") from None
    return value


class IncidentConfig(Strict):
    severities: dict[str, Severity] = Field(default_factory=_default_severities)
    default_severity: str = Field("sev2", validate_default=True)  # the default names may not be defined
    degraded_severity: str = Field("sev4", validate_default=True)
    channel_pattern: Annotated[str, AfterValidator(_check_channel_pattern)] = "inc-{date}-{number}-{slug}"
    create_channel: bool = True
    undo_within: Duration = timedelta(minutes=2)
    repeat_last_tier: Annotated[int, whole_number(0, 10)] = 2
    title_max_chars: Annotated[int, whole_number(20, 250)] = 80
    storm_window: Duration = timedelta(minutes=10)
    page_retry_max: Annotated[Duration, duration_within(timedelta(seconds=1))] = timedelta(seconds=10)
    evidence_budget: Annotated[Duration, duration_within(timedelta(0), timedelta(seconds=60), above=True)] = \
        timedelta(seconds=5)

    @field_validator("default_severity", "degraded_severity")
    @classmethod
    def _defined(cls, value: str, info: ValidationInfo) -> str:
        severities = info.data.get("severities")
        if severities is not None and value not in severities:
            raise ValueError(f"expected a severity defined under incidents.severities: {', '.join(severities)}")
        return value


TimeoutDuration = Annotated[Duration, duration_within(timedelta(0), timedelta(seconds=120), above=True)]


class BackendTimeout(Strict):
    connect: TimeoutDuration = timedelta(seconds=3)
    read: TimeoutDuration = timedelta(seconds=10)


class PagerDutyTimeout(BackendTimeout):
    read: TimeoutDuration = timedelta(seconds=5)  # also when only `connect` is configured


class Timeouts(Strict):
    slack: BackendTimeout = BackendTimeout()
    prometheus: BackendTimeout = BackendTimeout()
    kubernetes: BackendTimeout = BackendTimeout()
    aws: BackendTimeout = BackendTimeout()
    github: BackendTimeout = BackendTimeout()
    alertmanager: BackendTimeout = BackendTimeout()
    pagerduty: PagerDutyTimeout = PagerDutyTimeout()


class MaintenanceWindow(Strict):
    """A recurring quiet window: alerts matching `team` or `namespace` are held while it is open."""

    team: str | None = None
    namespace: str | None = None
    cron: Cron  # when each window opens, in the team's time zone (else defaults.timezone)
    duration: Annotated[Duration, duration_within(timedelta(minutes=1), timedelta(days=7))]
    reason: str = ""

    @field_validator("namespace")
    @classmethod
    def _names_something(cls, value: str | None, info: ValidationInfo) -> str | None:
        if not value and not info.data.get("team"):
            raise ValueError("expected a team or a namespace that the window quiets")
        return value


class AlertsConfig(Strict):
    default_channel: str | None = None  # alert groups no team claims go here
    reopen_within: Duration = timedelta(hours=1)
    page_on: list[str] = ["critical"]  # `severity` label values that open an incident and page
    severities: dict[str, str] = {"critical": "sev1", "error": "sev2", "warning": "sev3", "info": "sev4"}
    silence_for: Annotated[Duration, duration_within(timedelta(minutes=1), timedelta(days=30))] = timedelta(hours=2)
    maintenance: list[MaintenanceWindow] = []


# Approximate on-demand US prices per GPU-hour (an 8-GPU instance's price / 8); set yours under gpu.prices.
DEFAULT_GPU_PRICES = {"H200": 7.91, "H100": 6.88, "A100": 2.75, "L40S": 1.86, "A10G": 1.01, "L4": 0.80,
                      "T4": 0.53, "V100": 3.06}


class GpuIdleCheck(Strict):
    every: Annotated[Duration, duration_within(timedelta(minutes=5))] = timedelta(hours=1)
    window: Annotated[Duration, duration_within(timedelta(minutes=15), timedelta(days=1))] = timedelta(hours=4)
    gpu_hours: Annotated[float, Field(gt=0)] = 8.0  # a team's idle GPU-hours over the window that post


class GpuConfig(Strict):
    window: Annotated[Duration, duration_within(timedelta(minutes=1), timedelta(days=1))] = timedelta(minutes=15)
    history: Annotated[Duration, duration_within(timedelta(minutes=15), timedelta(days=7))] = timedelta(hours=24)
    owner_labels: list[str] = ["owner", "team"]  # pod labels naming who owns a pod, first found wins
    node_labels: list[str] = ["node", "kubernetes_node"]  # DCGM series labels naming the Kubernetes node
    pool_labels: list[str] = ["karpenter.sh/nodepool", "eks.amazonaws.com/nodegroup",
                              "cloud.google.com/gke-nodepool", "node.kubernetes.io/instance-type"]
    prices: dict[str, Annotated[float, Field(ge=0)]] = {}  # USD per GPU-hour by model, over DEFAULT_GPU_PRICES
    cache: Annotated[Duration, duration_within(timedelta(0), timedelta(minutes=10))] = timedelta(seconds=30)
    top: Annotated[int, whole_number(3, 40)] = 10  # rows per list before "…and N more" and a CSV
    working_hours: Hours = Field(default_factory=lambda: parse_working_hours("mon-fri 09:00-18:00"))
    idle_check: GpuIdleCheck = GpuIdleCheck()
    health_every: Annotated[Duration, duration_within(timedelta(minutes=1))] = timedelta(minutes=5)
    platform_channel: str | None = None  # health posts for GPUs no team holds; else alerts.default_channel

    def price_table(self) -> dict[str, float]:
        return {**DEFAULT_GPU_PRICES, **{name.upper(): usd for name, usd in self.prices.items()}}


GPU_FAMILIES = ["p3", "p4d", "p4de", "p5", "p5e", "g4dn", "g5", "g6", "g6e", "inf2", "trn1"]


class BurnCheck(Strict):
    every: Annotated[Duration, duration_within(timedelta(minutes=1))] = timedelta(minutes=15)
    cooldown: Annotated[Duration, duration_within(timedelta(0))] = timedelta(hours=2)  # between two 💸🔥 posts


class ShutdownConfig(Strict):
    enabled: bool = False  # dry-run (plan and posts, no stop) until true
    at: LocalTime = time(0, 0)  # local time in each team's time zone
    warn_before: Annotated[Duration, duration_within(timedelta(minutes=1), timedelta(hours=6))] = \
        timedelta(minutes=30)
    keep_tag: dict[str, str] = {"keep-running": "true"}  # an instance with any of these tags is never stopped
    families: list[str] = Field(default_factory=lambda: list(GPU_FAMILIES))
    busy_gpu_pct: Annotated[float, Field(ge=0, le=100)] = 50.0  # kept when GPU utilization is above this
    days: Weekdays = frozenset(range(7))  # the nights it runs ("mon-sun"); 00:00 after Friday is Friday's night
    holidays: list[date] = []  # local dates on which it does not run
    postpone: Annotated[Duration, duration_within(timedelta(minutes=15), timedelta(hours=12))] = timedelta(hours=2)


class SnapshotsConfig(Strict):
    older_than: Annotated[Duration, duration_within(timedelta(days=1))] = timedelta(days=30)
    match_tags: dict[str, str] = {"created-by": "pipeline"}  # any of these tags marks a snapshot pipeline-made
    match_description: Annotated[str, AfterValidator(_check_regex)] = "(?i)pipeline|created by ci"
    usd_per_gib_month: Annotated[float, Field(ge=0)] = 0.05
    pipeline_tag: str = "pipeline"  # snapshots are grouped by this tag's value


class CostGuards(Strict):
    allowed: list[str] = []  # Slack users (U…) and user groups (S…) who may stop instances and delete snapshots
    team_tag: str = "team"  # instances and snapshots belong to the team whose cost_tag is this tag's value
    project_tag: str = "project"  # what /spend project and /spend by project group by
    owner_tag: str = "owner"
    prices: dict[str, Annotated[float, Field(ge=0)]] = {}  # USD per hour by instance type or family
    burn: BurnCheck = BurnCheck()
    shutdown: ShutdownConfig = ShutdownConfig()
    snapshots: SnapshotsConfig = SnapshotsConfig()


class GitHubConfig(Strict):
    # GitHub login → Slack user id (U…) or Slack sign-in e-mail; unlisted logins are matched by public e-mail
    users: dict[str, str] = {}


class ReviewConfig(Strict):
    working_hours: Hours = Field(default_factory=lambda: parse_working_hours("mon-fri 09:00-18:00"))
    stale_after: Annotated[Duration, duration_within(timedelta(hours=1))] = timedelta(hours=24)  # working hours
    # one read of every repository's open pull requests is reused this long (about 250 GitHub points per 50 repos)
    cache: Annotated[Duration, duration_within(timedelta(0), timedelta(minutes=30))] = timedelta(minutes=5)
    digest: bool = True  # a weekday review digest in each team's channel at the start of its working day
    follow_up: bool = True  # one follow-up at the proposed time when the review has not happened


class DigestConfig(Strict):
    # a slot missed for longer than this (the bot was down) is skipped; a shorter miss posts one digest marked late
    late_limit: Annotated[Duration, duration_within(timedelta(minutes=5), timedelta(days=7))] = timedelta(hours=12)
    quiet_hours: Quiet | None = None  # e.g. "22:00-08:00": a slot inside waits for their end
    top: Annotated[int, whole_number(1, 10)] = 3  # lines per section in the digest itself (the thread has all)


class Defaults(Strict):
    timezone: TimeZone = "UTC"
    language: Language = "en"


class Config(Strict):
    defaults: Defaults = Defaults()
    teams: list[Team] = []
    emoji: EmojiConfig = EmojiConfig()
    thresholds: Thresholds = Thresholds()
    schedules: Schedules = Schedules()
    incidents: IncidentConfig = IncidentConfig()
    timeouts: Timeouts = Timeouts()
    oncall: dict[str, TeamRotation] = {}
    admins: list[str] = []
    alerts: AlertsConfig = AlertsConfig()
    gpu: GpuConfig = GpuConfig()
    cost_guards: CostGuards = CostGuards()
    github: GitHubConfig = GitHubConfig()
    review: ReviewConfig = ReviewConfig()
    digest: DigestConfig = DigestConfig()

    @field_validator("teams")
    @classmethod
    def _unique_names(cls, teams: list[Team]) -> list[Team]:
        names = [t.name for t in teams]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"expected unique team names, got {', '.join(duplicated)} more than once")
        return teams

    @field_validator("alerts")
    @classmethod
    def _alerts_name_known_things(cls, alerts: AlertsConfig, info: ValidationInfo) -> AlertsConfig:
        incidents = info.data.get("incidents")
        known = list(incidents.severities) if incidents else []
        wrong = sorted({value for value in alerts.severities.values() if known and value not in known})
        if wrong:
            raise ValueError(f"severities: {', '.join(wrong)} is not defined under incidents.severities "
                             f"(expected one of {', '.join(known)})")
        teams = {team.name for team in info.data.get("teams") or []}
        unknown = sorted({w.team for w in alerts.maintenance if w.team and w.team not in teams})
        if unknown:
            raise ValueError(f"maintenance: team {', '.join(unknown)} is not one of the teams configured above")
        return alerts

    def team_for_channel(self, channel_id: str | None, channel_name: str | None = None) -> Team:
        """The team that owns a channel; any channel no team claims belongs to the whole organisation."""
        for team in self.teams:
            if team.channel and team.channel.lstrip("#") in {channel_id, channel_name}:
                return team
        return self.organisation()

    def team_named(self, name: str) -> Team | None:
        return next((t for t in self.teams if t.name == name), None)

    def organisation(self) -> Team:
        return Team(name="organisation", timezone=self.defaults.timezone, language=self.defaults.language)


def load_env() -> Env:
    """Read the environment and .env, or raise ConfigError naming each bad variable and what was expected."""
    try:
        return Env()
    except UnicodeDecodeError:  # only .env is read as a file; the environment is already text
        raise ConfigError(f".env: not valid UTF-8 at byte {_first_bad_byte(Path('.env'))}; "
                          "expected NAME=value lines saved as UTF-8") from None
    except ValidationError as exc:
        lines = ["invalid environment (set in the environment or .env; see README, Configuration)"]
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "?"
            shown = _hide_password(error.get("input")) if name == "database_url" else error.get("input")
            lines.append(f"  {name.upper()} = {shown!r}: {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError("\n".join(lines)) from None


def _first_bad_byte(path: Path) -> int | None:
    """The file offset of the first byte that is not UTF-8 (a decoder reading in chunks reports its own)."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    except OSError:
        return None
    return None


def _hide_password(value: object) -> object:
    """A database URL as it may be printed: postgresql://user:***@host/db."""
    return re.sub(r"(://[^:/@]*:)[^/]*@", r"\1***@", value) if isinstance(value, str) else value


def load_config(path: Path) -> Config:
    """Read the YAML file (absent → defaults) or raise ConfigError naming file, key, value, expectation."""
    if not path.exists():
        return Config()
    try:
        raw: Any = yaml.safe_load(_read_text(path)) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    except RecursionError:  # PyYAML parses nested [[[…]]] recursively
        raise ConfigError(f"{path}: not valid YAML: nested more deeply than Python can read") from None
    return config_from(raw, path)


def config_from(raw: Any, where: Path | str) -> Config:
    """The configuration as read from YAML (`where` it came from), or ConfigError naming key, value, expectation."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(where, exc)) from exc
    problems = emoji_config_problems(config.emoji) + _action_problems(config.emoji)
    if problems:
        raise ConfigError("\n".join([f"{where}: invalid configuration", *problems]))
    return config


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 at byte {exc.start} ({exc.object[exc.start:exc.start + 4]!r}); "
                          "expected a YAML file saved as UTF-8") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory; expected a YAML file such as config/bot.yaml") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _action_problems(emoji: EmojiConfig) -> list[str]:
    """Combos whose action no domain handles: they would fire and do nothing."""
    problems = []
    for i, combo in enumerate(emoji.combos):
        if combo.action not in KNOWN_ACTIONS:
            close = get_close_matches(combo.action, KNOWN_ACTIONS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"  emoji.combos[{i}].action = {shown(combo.action)}: "
                            f"expected one of {', '.join(KNOWN_ACTIONS)}{hint}")
    return problems


def _describe(where: Path | str, exc: ValidationError) -> str:
    lines = [f"{where}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error["loc"])
        key = key.replace(".[", "[")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (see config/example.yaml for the keys you can use)"
        lines.append(f"  {clipped(key, 200)} = {shown(error.get('input'))}: {clipped(message, 300)}")
    return "\n".join(lines)
