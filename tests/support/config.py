"""The bot's configuration for tests, as bot.yaml holds it: plain dicts for `bot.settings.Config.model_validate`,
`yaml.safe_dump` (BotProcess, `python -m bot check`) and the rotation models.

    bot_config()                                                   # ml-platform in CTEAM, a three-line rotation
    bot_config(incidents={"storm_window": "0s"}, admins=["UADMIN"])
    bot_config(teams=[team(language="zh-CN", user_group="@ml-oncall")])
    bot_config(oncall={TEAM: rotation(layer("UDRI1", active={"from": "22:00", "to": "23:00"}), SECOND_LINE)})

The standard rotation pages UDRI1 (1st line, Shanghai), then USENIOR2 (2nd line, Berlin), then ULEAD3
(3rd line, New York); their DMs are DUDRI1, DUSENIOR2 and DULEAD3 in the Slack recorder.
"""

from __future__ import annotations

import copy
from typing import Any

TEAM = "ml-platform"
NO_DIGESTS = {"digest": "off", "weekly_digest": "off"}
DIGESTS = {"digest": "0 9 * * 1-5", "weekly_digest": "0 9 * * 1"}  # the defaults: digest tests ask for them
TEAM_CHANNEL = "CTEAM"
TIER_NAMES = ("1st line", "2nd line", "3rd line")


def layer(*members: str, timezone: str = "Asia/Shanghai", rotate_every: str = "1w", handoff: str = "09:00",
          start: str = "2026-01-05", **fields: Any) -> dict[str, Any]:
    """One rotation layer; `fields` adds or replaces keys (active, or a wrong value a test wants refused)."""
    return {"members": list(members), "rotate_every": rotate_every, "handoff": handoff, "start": start,
            "timezone": timezone, **fields}


FIRST_LINE = layer("UDRI1", timezone="Asia/Shanghai")
SECOND_LINE = layer("USENIOR2", timezone="Europe/Berlin")
THIRD_LINE = layer("ULEAD3", timezone="America/New_York")


def rotation(*tiers: dict[str, Any] | list[dict[str, Any]]) -> dict[str, Any]:
    """Tiers named "1st line", "2nd line", "3rd line", each one layer or a list of layers (later layers win while
    active); without tiers, the standard three-line rotation."""
    tiers = tiers or (FIRST_LINE, SECOND_LINE, THIRD_LINE)
    return {"tiers": [{"name": TIER_NAMES[index], "layers": copy.deepcopy(tier if isinstance(tier, list) else [tier])}
                      for index, tier in enumerate(tiers)]}


def team(name: str = TEAM, channel: str = TEAM_CHANNEL, timezone: str = "Asia/Shanghai", language: str = "en",
         **fields: Any) -> dict[str, Any]:
    """One entry of `teams:`; `fields` adds keys such as user_group, cost_tag, repos or namespaces."""
    return {"name": name, "channel": channel, "timezone": timezone, "language": language, **fields}


def bot_config(teams: list[dict[str, Any]] | None = None, oncall: dict[str, Any] | None = None,
               incidents: dict[str, Any] | None = None, admins: list[str] | None = None,
               **sections: Any) -> dict[str, Any]:
    """A whole bot.yaml: `teams` (default: the one standard team), `oncall` (default: the standard rotation for
    it), `incidents` settings, `admins`, and any other top-level section as a keyword. A fresh copy every call."""
    config: dict[str, Any] = {
        "teams": [team()] if teams is None else teams,
        "oncall": {TEAM: rotation()} if oncall is None else oncall,
        "incidents": incidents or {},
        "schedules": NO_DIGESTS,  # a test running at 09:00 in a team's zone must not see a digest it didn't ask for
    }
    if admins is not None:
        config["admins"] = admins
    return copy.deepcopy({**config, **sections})
