"""Settings: the bot starts with sane defaults and refuses bad config with an error a human can act on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.settings import Config, ConfigError, Env, load_config


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


ROTATION = {"tiers": [{"name": "1st line", "layers": [{
    "members": ["UDRI1", "UDRI2"], "rotate_every": "1w", "handoff": "09:00",
    "start": "2026-01-05", "timezone": "Asia/Shanghai"}]}]}


def test_a_valid_oncall_rotation_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"teams": [{"name": "ml"}], "oncall": {"ml": ROTATION}}))

    assert config.oncall["ml"].tiers[0].layers[0].members == ["UDRI1", "UDRI2"]


def test_a_bad_rotate_every_in_oncall_names_the_layer(tmp_path: Path) -> None:
    rotation = yaml.safe_load(yaml.safe_dump(ROTATION))
    rotation["tiers"][0]["layers"][0]["rotate_every"] = "fortnightly"

    message = refusal(write(tmp_path, {"oncall": {"ml": rotation}}))

    assert "oncall.ml.tiers[0].layers[0].rotate_every" in message
    assert "'fortnightly'" in message
    assert "1w" in message


def test_an_oncall_rotation_without_tiers_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, {"oncall": {"ml": {"tiers": []}}}))

    assert "oncall.ml.tiers" in message


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
