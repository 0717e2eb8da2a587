"""config/example.yaml documents every key, and it is a valid configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from bot.oncall import Layer, Tier
from bot.settings import Config, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "example.yaml"


def keys_of(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def test_example_config_is_valid_and_maps_channels_to_teams() -> None:
    config = load_config(EXAMPLE)
    assert config.team_for_channel("C0123ABCD").name == "ml-platform"
    assert config.team_for_channel("CUNKNOWN").name == "organisation"
    assert config.incidents.severities["sev4"].page is False


def test_example_config_mentions_every_key_the_config_accepts() -> None:
    from bot.settings import Defaults, EmojiConfig, IncidentConfig, Schedules, Team, Thresholds

    text = EXAMPLE.read_text()
    models = [Config, Defaults, Team, EmojiConfig, Thresholds, Schedules, IncidentConfig, Tier, Layer]
    missing = sorted(key for model in models for key in keys_of(model) if f"{key}:" not in text)
    assert missing == []
