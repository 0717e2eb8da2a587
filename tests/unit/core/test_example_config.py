"""config/example.yaml documents every key, and it is a valid configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from bot import settings
from bot.oncall.rotation import Layer, Tier
from bot.settings import Config, load_config

EXAMPLE = Path(__file__).resolve().parents[3] / "config" / "example.yaml"
DEMO = EXAMPLE.with_name("demo.yaml")


def keys_of(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_example_config_is_valid_and_maps_channels_to_teams() -> None:
    config = load_config(EXAMPLE)
    assert config.team_for_channel("C0123ABCD").name == "ml-platform"
    assert config.team_for_channel("CUNKNOWN").name == "organisation"
    assert config.incidents.severities["sev4"].page is False


def test_example_config_mentions_every_key_the_config_accepts() -> None:
    text = EXAMPLE.read_text()
    models = [Config, settings.Defaults, settings.Team, settings.EmojiConfig, settings.Thresholds, settings.Schedules,
              settings.IncidentConfig, settings.Severity, settings.Timeouts, settings.BackendTimeout, Tier, Layer,
              settings.GpuConfig, settings.GpuIdleCheck, settings.DigestConfig]
    missing = sorted(key for model in models for key in keys_of(model) if f"{key}:" not in text)
    assert missing == []


def test_example_config_shows_the_defaults_of_the_incident_guards_and_timeouts() -> None:
    example, defaults = load_config(EXAMPLE), Config()

    assert example.timeouts == defaults.timeouts
    assert example.incidents.storm_window == defaults.incidents.storm_window
    assert example.incidents.page_retry_max == defaults.incidents.page_retry_max


def test_the_demo_config_is_valid() -> None:
    assert load_config(DEMO).team_named("ml-platform") is not None
