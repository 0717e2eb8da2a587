"""Settings: the bot starts with sane defaults and refuses bad config with an error a human can act on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.settings import Config, ConfigError, Env, load_config, load_env
from tests.support.config import layer, rotation


def write(tmp_path: Path, config: object, name: str = "bot.yaml") -> Path:
    path = tmp_path / name
    text = config if isinstance(config, str) else yaml.safe_dump(config, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    with pytest.raises(ConfigError) as error:
        load_config(path)
    return str(error.value)


# --- defaults ---------------------------------------------------------------------------------------

def test_the_bot_starts_without_any_yaml_file(tmp_path: Path) -> None:
    config = load_config(tmp_path / "does-not-exist.yaml")

    assert config == Config()
    assert [combo.action for combo in config.emoji.combos] == ["open_incident", "degraded", "spend_check"]
    assert config.emoji.window == timedelta(minutes=10)


def test_default_severities_have_5_15_60_minute_ack_slas_and_a_quiet_sev4(tmp_path: Path) -> None:
    severities = load_config(tmp_path / "absent.yaml").incidents.severities

    assert {name: s.ack_within for name, s in severities.items()} == {
        "sev1": timedelta(minutes=5), "sev2": timedelta(minutes=15),
        "sev3": timedelta(minutes=60), "sev4": None,
    }
    assert severities["sev4"].page is False


def test_an_empty_yaml_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "")) == Config()


def test_a_channel_no_team_claims_belongs_to_the_organisation(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {
        "defaults": {"timezone": "Asia/Shanghai", "language": "zh-CN"},
        "teams": [{"name": "ml-platform", "channel": "#ml-platform", "timezone": "Europe/Berlin"}],
    }))

    assert config.team_for_channel("C123", "ml-platform").name == "ml-platform"
    org = config.team_for_channel("CRANDOM", "random")
    assert (org.name, org.timezone, org.language) == ("organisation", "Asia/Shanghai", "zh-CN")
    assert config.team_for_channel(None).name == "organisation"


def test_a_team_can_claim_its_channel_by_id(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"teams": [{"name": "infra", "channel": "CINFRA"}]}))

    assert config.team_for_channel("CINFRA").name == "infra"


def test_durations_in_config_accept_the_short_forms(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"emoji": {"window": "30s"}, "thresholds": {"cost_cache": "2h"},
                                          "incidents": {"undo_within": "1m"}}))

    assert config.emoji.window == timedelta(seconds=30)
    assert config.thresholds.cost_cache == timedelta(hours=2)
    assert config.incidents.undo_within == timedelta(minutes=1)


# --- refusals that say where and why ---------------------------------------------------------------

def test_a_bad_timezone_names_the_file_the_key_the_value_and_what_was_expected(tmp_path: Path) -> None:
    path = write(tmp_path, {"teams": [{"name": "ml", "timezone": "Mars/Olympus_Mons"}]})

    message = refusal(path)

    assert str(path) in message
    assert "teams[0].timezone" in message
    assert "'Mars/Olympus_Mons'" in message
    assert "IANA time zone" in message


@pytest.mark.parametrize("zone", ["Europe", "America", 8, "utc", ""])
def test_a_timezone_that_is_a_region_a_number_or_wrongly_cased_is_refused_cleanly(
        tmp_path: Path, zone: object) -> None:
    message = refusal(write(tmp_path, {"defaults": {"timezone": zone}}))

    assert "defaults.timezone" in message
    assert "IANA time zone" in message


def test_a_bad_language_is_refused_with_the_languages_we_have(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"teams": [{"name": "ml", "language": "fr"}]}))

    assert "teams[0].language" in message
    assert "'fr'" in message
    assert "'en'" in message and "'zh-CN'" in message


def test_an_unknown_key_is_named_and_called_unknown(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"emoji": {"colour": "red"}}))

    assert "emoji.colour" in message
    assert "'red'" in message
    assert "unknown key" in message


def test_a_misspelt_top_level_section_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"team": [{"name": "ml"}]}))

    assert "\n  team = [" in message
    assert "unknown key" in message


@pytest.mark.parametrize(("value", "shown"), [("soon", "'soon'"), ("-5", "'-5'"), (-5, "-5"),
                                               ("99999999999w", "'99999999999w'"), ("1e5w", "'1e5w'")])
def test_a_window_that_is_not_a_duration_is_refused(tmp_path: Path, value: object, shown: str) -> None:
    message = refusal(write(tmp_path, {"emoji": {"window": value}}))

    assert "emoji.window" in message
    assert shown in message
    assert "30s, 10m, 2h" in message


def test_invalid_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "teams: [\n  - name: x\n")

    message = refusal(path)

    assert str(path) in message
    assert "not valid YAML" in message
    assert "line" in message  # the parser's position survives


def test_a_yaml_list_at_the_top_level_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "- a\n- b\n"))

    assert "expected a mapping" in message


def test_two_teams_with_the_same_name_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, {"teams": [{"name": "ml"}, {"name": "infra"}, {"name": "ml"}]})

    message = refusal(path)

    assert str(path) in message
    assert "teams" in message
    assert "unique team names" in message
    assert "ml more than once" in message


def test_a_team_name_with_spaces_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"teams": [{"name": "ml platform"}]}))

    assert "teams[0].name" in message
    assert "without spaces" in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"teams": [{"name": "a", "timezone": "Nowhere/Land", "language": "xx"}],
                                       "emoji": {"window": "soon"}}))

    assert "teams[0].timezone" in message
    assert "teams[0].language" in message
    assert "emoji.window" in message


ROTATION = rotation(layer("UDRI1", "UDRI2"))  # one tier: weekly, 09:00 in Shanghai


def test_a_valid_oncall_rotation_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"teams": [{"name": "ml"}], "oncall": {"ml": ROTATION}}))

    assert config.oncall["ml"].tiers[0].layers[0].members == ["UDRI1", "UDRI2"]


def test_a_bad_rotate_every_in_oncall_names_the_layer(tmp_path: Path) -> None:
    fortnightly = rotation(layer("UDRI1", "UDRI2", rotate_every="fortnightly"))

    message = refusal(write(tmp_path, {"oncall": {"ml": fortnightly}}))

    assert "oncall.ml.tiers[0].layers[0].rotate_every" in message
    assert "'fortnightly'" in message
    assert "1w" in message


def test_an_oncall_rotation_without_tiers_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"oncall": {"ml": {"tiers": []}}}))

    assert "oncall.ml.tiers" in message


# --- incidents: a config that would break the first incident is refused ---------------------------

@pytest.mark.parametrize("pattern", ["inc-{team2}-{number}", "inc-{}-{number}", "inc-{date.year}-{number}"])
def test_a_channel_pattern_with_an_unknown_placeholder_is_refused_naming_the_allowed_ones(
        tmp_path: Path, pattern: str) -> None:
    path = write(tmp_path, {"incidents": {"channel_pattern": pattern}})

    message = refusal(path)

    assert str(path) in message
    assert f"incidents.channel_pattern = {pattern!r}" in message
    assert "{date}, {number}, {slug}, {team}" in message


@pytest.mark.parametrize("pattern", ["inc-{", "inc-}-{number}", "inc-{number:zz}"])
def test_a_malformed_channel_pattern_is_refused(tmp_path: Path, pattern: str) -> None:
    message = refusal(write(tmp_path, {"incidents": {"channel_pattern": pattern}}))

    assert f"incidents.channel_pattern = {pattern!r}" in message
    assert "expected a pattern such as inc-{date}-{number}-{slug}" in message


def test_a_channel_pattern_may_name_the_team(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"incidents": {"channel_pattern": "inc-{team}-{number:03d}"}}))

    assert config.incidents.channel_pattern.format(date="20260101", number=7, slug="x", team="ml") == "inc-ml-007"


@pytest.mark.parametrize("key", ["default_severity", "degraded_severity"])
def test_a_severity_that_is_not_defined_is_refused_listing_the_defined_ones(tmp_path: Path, key: str) -> None:
    message = refusal(write(tmp_path, {"incidents": {key: "sev9"}}))

    assert f"incidents.{key} = 'sev9'" in message
    assert "sev1, sev2, sev3, sev4" in message


def test_custom_severity_names_work_when_they_are_defined(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"incidents": {
        "severities": {"p1": {"ack_within": "5m"}, "p4": {"ack_within": None, "page": False}},
        "default_severity": "p1", "degraded_severity": "p4"}}))

    assert config.incidents.default_severity == "p1"
    assert config.incidents.severities["p1"].ack_within == timedelta(minutes=5)


def test_custom_severities_without_the_default_ones_must_say_which_to_use(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"incidents": {"severities": {"p1": {"ack_within": "5m"}}}}))

    assert "incidents.default_severity = 'sev2'" in message
    assert "incidents.degraded_severity = 'sev4'" in message
    assert "defined under incidents.severities: p1" in message


@pytest.mark.parametrize("value", [-1, 11, "many", 2.5])
def test_repeat_last_tier_must_be_a_whole_number_from_0_to_10(tmp_path: Path, value: object) -> None:
    message = refusal(write(tmp_path, {"incidents": {"repeat_last_tier": value}}))

    assert f"incidents.repeat_last_tier = {value!r}: expected a whole number from 0 to 10" in message


@pytest.mark.parametrize("value", [0, 10])
def test_repeat_last_tier_accepts_0_to_10(tmp_path: Path, value: int) -> None:
    assert load_config(write(tmp_path, {"incidents": {"repeat_last_tier": value}})).incidents.repeat_last_tier == value


@pytest.mark.parametrize("value", ["0s", 0, "0m"])
def test_an_ack_window_of_zero_on_a_paging_severity_is_refused(tmp_path: Path, value: object) -> None:
    message = refusal(write(tmp_path, {"incidents": {"severities": {
        "sev1": {"ack_within": value}, "sev2": {"ack_within": "15m"}, "sev4": {"ack_within": None, "page": False}}}}))

    assert f"incidents.severities.sev1.ack_within = {value!r}" in message
    assert "more than 0s, or null to page once" in message


def test_a_paging_severity_may_page_once_without_escalating(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"incidents": {"severities": {
        "sev2": {"ack_within": None}, "sev4": {"ack_within": None, "page": False}}}}))

    assert config.incidents.severities["sev2"].ack_within is None
    assert config.incidents.severities["sev2"].page is True


@pytest.mark.parametrize("value", [19, 251, 0])
def test_title_max_chars_must_be_from_20_to_250(tmp_path: Path, value: int) -> None:
    message = refusal(write(tmp_path, {"incidents": {"title_max_chars": value}}))

    assert f"incidents.title_max_chars = {value}: expected a whole number from 20 to 250" in message


def test_undo_can_be_disabled_with_zero(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"incidents": {"undo_within": "0s"}}))

    assert config.incidents.undo_within == timedelta(0)


def test_storm_window_defaults_to_ten_minutes_and_zero_disables_it(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.yaml").incidents.storm_window == timedelta(minutes=10)
    config = load_config(write(tmp_path, {"incidents": {"storm_window": "0s"}}))
    assert config.incidents.storm_window == timedelta(0)


def test_page_retry_max_defaults_to_10_seconds_and_must_be_at_least_a_second(tmp_path: Path) -> None:
    assert load_config(tmp_path / "absent.yaml").incidents.page_retry_max == timedelta(seconds=10)
    assert load_config(write(tmp_path, {"incidents": {"page_retry_max": "1s"}})).incidents.page_retry_max == \
        timedelta(seconds=1)

    message = refusal(write(tmp_path, {"incidents": {"page_retry_max": "0.5s"}}))

    assert "incidents.page_retry_max = '0.5s': expected a duration of at least 1s" in message


# --- combos ----------------------------------------------------------------------------------------

def test_a_misspelt_combo_action_is_refused_with_the_known_ones_and_a_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, {"emoji": {"combos": [{"emoji": ["🔥", "💥"], "action": "open_incidnet"}]}})

    message = refusal(path)

    assert str(path) in message
    assert ("emoji.combos[0].action = 'open_incidnet': expected one of open_incident, degraded, spend_check "
            "(did you mean open_incident?)") in message


def test_an_unknown_combo_action_without_a_close_match_gets_no_suggestion(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"emoji": {"combos": [{"emoji": ["🔥"], "action": "x"}]}}))

    assert "emoji.combos[0].action = 'x': expected one of open_incident, degraded, spend_check" in message
    assert "did you mean" not in message


# --- timeouts --------------------------------------------------------------------------------------

def test_every_backend_has_short_timeouts_by_default(tmp_path: Path) -> None:
    timeouts = load_config(tmp_path / "absent.yaml").timeouts

    for backend in ("slack", "prometheus", "kubernetes", "aws", "github"):
        assert getattr(timeouts, backend).connect == timedelta(seconds=3)
        assert getattr(timeouts, backend).read == timedelta(seconds=10)
    assert (timeouts.pagerduty.connect, timeouts.pagerduty.read) == (timedelta(seconds=3), timedelta(seconds=5))


def test_a_timeout_can_be_set_per_backend_and_the_rest_keep_their_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"timeouts": {"prometheus": {"connect": "1s"},
                                                       "pagerduty": {"connect": "2s"}}}))

    assert config.timeouts.prometheus.connect == timedelta(seconds=1)
    assert config.timeouts.prometheus.read == timedelta(seconds=10)
    assert config.timeouts.pagerduty.read == timedelta(seconds=5)
    assert config.timeouts.github.connect == timedelta(seconds=3)


@pytest.mark.parametrize("value", ["0s", "121s", "5m"])
def test_a_timeout_must_be_above_zero_and_at_most_two_minutes(tmp_path: Path, value: str) -> None:
    message = refusal(write(tmp_path, {"timeouts": {"aws": {"read": value}}}))

    assert f"timeouts.aws.read = {value!r}: expected a duration of more than 0s and at most 2m" in message


def test_a_timeout_for_an_unknown_backend_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"timeouts": {"promethus": {"read": "5s"}}}))

    assert "timeouts.promethus" in message
    assert "unknown key" in message


# --- the file itself -------------------------------------------------------------------------------

def test_yaml_with_invalid_utf8_is_refused_naming_the_file_and_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "bot.yaml"
    path.write_bytes(b"teams:\n  - name: caf\xe9\n")

    message = refusal(path)

    assert str(path) in message
    assert "not valid UTF-8 at byte 20" in message


def test_a_config_path_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path)

    assert str(tmp_path) in message
    assert "is a directory" in message


# --- environment and secrets -----------------------------------------------------------------------

ENV_NAMES = [name.upper() for name in Env.model_fields]


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary working directory and no Env variable set by the machine running the tests."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_env_reads_the_dotenv_file_in_the_working_directory(clean_env: Path) -> None:
    (clean_env / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv-123\nPORT=4000\n"
                                    "DATABASE_URL=sqlite:///dotenv.db\n", encoding="utf-8")

    env = Env()

    assert env.slack_bot_token is not None
    assert env.slack_bot_token.get_secret_value() == "xoxb-from-dotenv-123"
    assert env.port == 4000
    assert env.database_url == "sqlite:///dotenv.db"


def test_environment_variables_win_over_the_dotenv_file(clean_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv-123\nPORT=4000\n", encoding="utf-8")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-environment-456")

    env = Env()

    assert env.slack_bot_token is not None
    assert env.slack_bot_token.get_secret_value() == "xoxb-from-environment-456"
    assert env.port == 4000  # the rest of .env still applies


def test_without_env_or_dotenv_the_bot_has_local_defaults(clean_env: Path) -> None:
    env = Env()

    assert env.slack_bot_token is None
    assert env.database_url == "sqlite:///emoji-ops.db"
    assert env.bot_config == Path("config/bot.yaml")
    assert env.secret_values() == []


def test_secret_values_lists_every_configured_secret(clean_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "SLACK_BOT_TOKEN": "xoxb-bot-1", "SLACK_SIGNING_SECRET": "signing-2", "SLACK_APP_TOKEN": "xapp-app-3",
        "AWS_SECRET_ACCESS_KEY": "aws-secret-4", "GITHUB_TOKEN": "ghp_gh5", "PAGERDUTY_ROUTING_KEY": "pd-6",
        "ALERTMANAGER_TOKEN": "am-7",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PORT", "3999")

    values = Env().secret_values()

    assert sorted(values) == sorted(secrets.values())
    assert "3999" not in values


def test_the_database_password_counts_as_a_secret(clean_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://bot:p%40ss-w0rd@db.internal:5432/emoji")

    values = Env().secret_values()

    assert "p%40ss-w0rd" in values  # as written in the URL
    assert "p@ss-w0rd" in values    # and as the server sees it
    assert "bot" not in values


def test_empty_secrets_are_not_reported(clean_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "")

    assert Env().secret_values() == []


def test_secrets_do_not_show_in_the_settings_repr(clean_env: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "very-secret-signing-value")

    assert "very-secret-signing-value" not in repr(Env())


# --- environment mistakes are configuration errors naming the variable ------------------------------

def env_refusal() -> str:
    with pytest.raises(ConfigError) as error:
        load_env()
    return str(error.value)


@pytest.mark.parametrize("port", ["abc", "99999", "0", "-1", "3000.5", ""])
def test_a_port_that_is_not_1_to_65535_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                   port: str) -> None:
    monkeypatch.setenv("PORT", port)

    assert f"PORT = {port!r}: expected a whole number from 1 to 65535" in env_refusal()


def test_a_bad_port_in_dotenv_is_refused_too(clean_env: Path) -> None:
    (clean_env / ".env").write_text("PORT=abc\n", encoding="utf-8")

    assert "PORT = 'abc': expected a whole number from 1 to 65535" in env_refusal()


def test_an_unknown_log_level_is_refused_with_the_levels_there_are(clean_env: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")

    assert "LOG_LEVEL = 'verbose': expected one of DEBUG, INFO, WARNING, ERROR, CRITICAL" in env_refusal()


def test_the_log_level_is_case_insensitive(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "debug")

    assert load_env().log_level == "DEBUG"


@pytest.mark.parametrize("url", ["not a url", "", "mysql://bot@db/emoji", "postgresql://bot@db:port/emoji"])
def test_a_database_url_that_is_not_sqlite_or_postgres_is_refused(clean_env: Path,
                                                                  monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    message = env_refusal()

    assert f"DATABASE_URL = {url!r}: expected sqlite:///" in message
    assert "postgresql://user:password@host:5432/database" in message


def test_a_refused_database_url_does_not_print_its_password(clean_env: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://bot:hunter2@secret@db/emoji")

    message = env_refusal()

    assert "DATABASE_URL = 'mysql://bot:***@db/emoji'" in message
    assert "hunter2" not in message and "secret" not in message


@pytest.mark.parametrize("url", ["sqlite:///bot.db", "postgres://bot:pw@db/emoji", "postgresql+psycopg://db/emoji"])
def test_sqlite_and_postgres_urls_are_accepted(clean_env: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    assert load_env().database_url == url


@pytest.mark.parametrize("variable", ["SLACK_API_URL", "PROMETHEUS_URL", "GITHUB_API_URL"])
@pytest.mark.parametrize("url", ["prometheus:9090", "ftp://files.example.com", "https://"])
def test_an_endpoint_that_is_not_an_http_url_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        variable: str, url: str) -> None:
    monkeypatch.setenv(variable, url)

    assert f"{variable} = {url!r}: expected an http:// or https:// URL" in env_refusal()


@pytest.mark.parametrize("url", ["http://prometheus:port", "http://[::1"])
def test_an_endpoint_with_a_bad_port_or_host_is_refused(clean_env: Path, monkeypatch: pytest.MonkeyPatch,
                                                        url: str) -> None:
    monkeypatch.setenv("PROMETHEUS_URL", url)

    assert f"PROMETHEUS_URL = {url!r}: expected an http:// or https:// URL" in env_refusal()


def test_a_dotenv_file_that_is_not_utf8_is_refused_naming_the_byte(clean_env: Path) -> None:
    (clean_env / ".env").write_bytes(b"PORT=3000\n" * 1000 + b"TEAM=caf\xe9\n")

    assert ".env: not valid UTF-8 at byte 10008" in env_refusal()


def test_every_environment_mistake_is_reported_at_once(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("LOG_LEVEL", "loud")

    message = env_refusal()

    assert "PORT = 'abc'" in message and "LOG_LEVEL = 'loud'" in message


LoadSettings = Callable[..., tuple[Env, Config]]


# --- BOT_CONFIG -------------------------------------------------------------------------------------

@pytest.fixture
def settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> LoadSettings:
    """bot.runtime.load_settings without touching the test session's logging."""
    from bot import runtime

    monkeypatch.setattr(runtime, "configure_logging", lambda *args, **kwargs: None)
    return runtime.load_settings


def refused_at_start(settings: LoadSettings, demo: bool = False) -> str:
    with pytest.raises(ConfigError) as error:
        settings(demo=demo)
    return str(error.value)


def test_an_explicit_bot_config_that_does_not_exist_is_refused(
        settings: LoadSettings, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = clean_env / "typo" / "bot.yaml"
    monkeypatch.setenv("BOT_CONFIG", str(missing))

    assert f"BOT_CONFIG={missing}: no such file" in refused_at_start(settings)


def test_an_explicit_bot_config_in_dotenv_that_does_not_exist_is_refused(
        settings: LoadSettings, clean_env: Path) -> None:
    (clean_env / ".env").write_text("BOT_CONFIG=conf/bot.yml\n", encoding="utf-8")

    assert "BOT_CONFIG=conf/bot.yml: no such file" in refused_at_start(settings)


def test_a_missing_bot_config_is_refused_even_in_demo_mode(
        settings: LoadSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CONFIG", "typo.yaml")

    assert "BOT_CONFIG=typo.yaml: no such file" in refused_at_start(settings, demo=True)


def test_without_bot_config_an_absent_default_file_means_defaults(settings: LoadSettings) -> None:
    _env, config = settings()

    assert config == Config()


def test_without_bot_config_the_demo_shell_uses_the_demo_teams(settings: LoadSettings) -> None:
    _env, config = settings(demo=True)

    assert config.team_named("ml-platform") is not None


def test_the_default_config_file_is_read_when_present(settings: LoadSettings, clean_env: Path) -> None:
    (clean_env / "config").mkdir()
    write(clean_env / "config", {"teams": [{"name": "ml"}]})

    _env, config = settings()

    assert config.team_named("ml") is not None


def test_a_bot_config_that_is_a_directory_is_refused(
        settings: LoadSettings, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_CONFIG", str(clean_env))

    assert f"BOT_CONFIG={clean_env}: is a directory" in refused_at_start(settings)


def test_environment_mistakes_reach_load_settings_as_configuration_errors(
        settings: LoadSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "99999")

    assert "PORT = '99999'" in refused_at_start(settings)


# --- the database at start ---------------------------------------------------------------------------

def closed_port() -> int:
    from tests.support.servers import free_port

    return free_port()


def test_an_unreachable_postgres_is_a_configuration_error_without_the_password() -> None:
    from bot.store.db import explain_connection_errors, make_engine, migrate

    port = closed_port()
    engine = make_engine(f"postgresql://bot:pa55-w0rd@127.0.0.1:{port}/emoji")

    with pytest.raises(ConfigError) as error, explain_connection_errors(engine):
        migrate(engine)

    message = str(error.value)
    assert message.startswith(f"DATABASE_URL: cannot connect to the database at 127.0.0.1:{port} (connection refused")
    assert "check DATABASE_URL and that the server is running" in message
    assert "pa55-w0rd" not in message


def test_an_sqlite_file_that_cannot_be_opened_is_a_configuration_error(tmp_path: Path) -> None:
    from bot.store.db import explain_connection_errors, make_engine, migrate

    path = tmp_path / "no-such-dir" / "bot.db"
    engine = make_engine(f"sqlite:///{path}")

    with pytest.raises(ConfigError) as error, explain_connection_errors(engine):
        migrate(engine)

    assert f"DATABASE_URL: cannot open the SQLite database {path}" in str(error.value)
    assert "directory exists and is writable" in str(error.value)


def test_a_database_driver_that_is_not_installed_is_a_configuration_error() -> None:
    from bot.store.db import make_engine

    with pytest.raises(ConfigError, match="DATABASE_URL: cannot use this database URL"):
        make_engine("postgresql+nosuchdriver://bot@127.0.0.1/emoji")
