"""Settings: secrets and endpoints from the environment, team knowledge from one YAML file."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.durations import parse_duration
from bot.oncall import TeamRotation

Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
Language = Literal["en", "zh-CN"]


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


class Env(BaseSettings):
    """Everything secret or machine-specific. Read from the environment and `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///emoji-ops.db"
    bot_config: Path = Path("config/bot.yaml")
    prometheus_url: str | None = None
    kubeconfig: str | None = None
    aws_endpoint_url: str | None = None
    aws_default_region: str | None = None
    aws_access_key_id: SecretStr | None = None
    aws_secret_access_key: SecretStr | None = None
    github_token: SecretStr | None = None
    github_api_url: str = "https://api.github.com"
    pagerduty_routing_key: SecretStr | None = None
    alertmanager_token: SecretStr | None = None
    pagerduty_api_url: str = "https://events.pagerduty.com"
    port: int = 3000
    log_level: str = "INFO"

    def secret_values(self) -> list[str]:
        secrets = [self.slack_bot_token, self.slack_signing_secret, self.slack_app_token,
                   self.aws_secret_access_key, self.github_token, self.pagerduty_routing_key,
                   self.alertmanager_token]
        values = [s.get_secret_value() for s in secrets if s and s.get_secret_value()]
        password = urlsplit(self.database_url).password  # postgresql://user:PASSWORD@host/db
        if password:
            values += sorted({password, unquote(password)})
        return values


def _check_timezone(value: object) -> str:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Europe"
        raise ValueError(
            f"expected an IANA time zone such as Europe/Berlin or Asia/Shanghai, got {value!r}") from None
    return value


TimeZone = Annotated[str, BeforeValidator(_check_timezone)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Team(Strict):
    name: str
    channel: str | None = None
    timezone: TimeZone = "UTC"
    language: Language = "en"
    namespaces: list[str] = []
    cost_tag: str | None = None
    repos: list[str] = []
    user_group: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not value or any(ch.isspace() for ch in value):
            raise ValueError(f"expected a team name without spaces, got {value!r}")
        return value


class Combo(Strict):
    emoji: list[str] = Field(min_length=1)
    action: str
    name: str | None = None

    @property
    def key(self) -> str:
        return self.name or self.action


class EmojiConfig(Strict):
    window: Duration = timedelta(minutes=10)
    custom: dict[str, str] = {}
    combos: list[Combo] = [
        Combo(emoji=["🔥", "💥"], action="open_incident"),
        Combo(emoji=["🔨", "⚡"], action="degraded"),
        Combo(emoji=["💸", "🔥"], action="spend_check"),
    ]
    acknowledge: list[str] = ["👀"]
    resolve: list[str] = ["✅"]
    pin: list[str] = ["📌"]
    shutdown: list[str] = ["🛑"]


class Thresholds(Strict):
    coffee_usd: float = 5.0
    burn_rate_cups_per_hour: float = 30.0
    gpu_idle_utilization_pct: float = 20.0
    cost_cache: Duration = timedelta(hours=6)


class Schedules(Strict):
    digest: str = "0 9 * * 1-5"
    gpu_shutdown: str = "0 0 * * *"
    snapshot_cleanup: str = "0 3 * * 0"


class Severity(Strict):
    ack_within: Duration | None
    page: bool = True


def _default_severities() -> dict[str, Severity]:
    return {
        "sev1": Severity(ack_within=timedelta(minutes=5)),
        "sev2": Severity(ack_within=timedelta(minutes=15)),
        "sev3": Severity(ack_within=timedelta(minutes=60)),
        "sev4": Severity(ack_within=None, page=False),
    }


class IncidentConfig(Strict):
    severities: dict[str, Severity] = Field(default_factory=_default_severities)
    default_severity: str = "sev2"
    degraded_severity: str = "sev4"
    channel_pattern: str = "inc-{date}-{number}-{slug}"
    create_channel: bool = True
    undo_within: Duration = timedelta(minutes=2)
    repeat_last_tier: int = 2
    title_max_chars: int = 80


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
    oncall: dict[str, TeamRotation] = {}
    admins: list[str] = []

    @field_validator("teams")
    @classmethod
    def _unique_names(cls, teams: list[Team]) -> list[Team]:
        names = [t.name for t in teams]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"expected unique team names, got {', '.join(duplicated)} more than once")
        return teams

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


def load_config(path: Path) -> Config:
    """Read the YAML file (absent → defaults) or raise ConfigError naming file, key, value, expectation."""
    if not path.exists():
        return Config()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level, got {type(raw).__name__}")
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, exc)) from exc
    problems = _emoji_problems(config.emoji)
    if problems:
        raise ConfigError("\n".join([f"{path}: invalid configuration", *problems]))
    return config


def _emoji_problems(emoji: EmojiConfig) -> list[str]:
    """Every configured emoji the dialect cannot resolve, as `  key = value: expectation` lines."""
    from bot.emoji_dialect import Dialect  # late: bot.emoji_dialect imports this module

    plain = Dialect(EmojiConfig(custom={}, combos=[]))
    problems = [f"  emoji.custom.{name} = {value!r}: expected an emoji or a Slack name such as :fire:"
                for name, value in emoji.custom.items() if plain.canonical(str(value)) is None]
    if problems:
        return problems
    dialect = Dialect(emoji.model_copy(update={"combos": []}))
    expected = "expected an emoji, a Slack name such as :fire:, or a name defined under emoji.custom"
    for i, combo in enumerate(emoji.combos):
        problems += [f"  emoji.combos[{i}].emoji[{j}] = {value!r}: {expected}"
                     for j, value in enumerate(combo.emoji) if dialect.canonical(value) is None]
    for signal in ("acknowledge", "resolve", "pin", "shutdown"):
        problems += [f"  emoji.{signal}[{i}] = {value!r}: {expected}"
                     for i, value in enumerate(getattr(emoji, signal)) if dialect.canonical(value) is None]
    return problems


def _describe(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for error in exc.errors():
        key = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in error["loc"])
        key = key.replace(".[", "[")
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "unknown key (see config/example.yaml for the keys you can use)"
        lines.append(f"  {key} = {error.get('input')!r}: {message}")
    return "\n".join(lines)
