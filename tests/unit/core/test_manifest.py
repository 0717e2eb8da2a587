"""manifest.yml is what people paste into Slack: it must declare exactly what the bot handles."""

from __future__ import annotations

from pathlib import Path

import yaml

from bot.app import slash_commands

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())


def test_manifest_declares_every_slash_command_the_bot_answers() -> None:
    declared = {c["command"] for c in MANIFEST["features"]["slash_commands"]}
    assert declared == set(slash_commands()) == {"/gpu", "/spend", "/review", "/incident", "/oncall", "/alerts",
                                                 "/digest"}


def test_manifest_subscribes_to_the_events_the_emoji_dialect_listens_to() -> None:
    events = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    assert {"reaction_added", "reaction_removed", "message.channels"} <= events


def test_manifest_has_the_declare_incident_shortcut_interactivity_and_socket_mode() -> None:
    shortcuts = {s["callback_id"] for s in MANIFEST["features"]["shortcuts"]}
    assert "declare_incident" in shortcuts
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    assert {"commands", "chat:write", "reactions:read", "channels:manage", "im:write", "pins:write"} <= scopes


def test_manifest_lets_the_bot_read_user_groups_for_the_permission_check() -> None:
    assert "usergroups:read" in set(MANIFEST["oauth_config"]["scopes"]["bot"])  # teams[].user_group members
