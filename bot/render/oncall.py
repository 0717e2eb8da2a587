"""Block Kit for /oncall: who is on call now and next, per tier, in the reader's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.escape import escape
from bot.i18n import t
from bot.oncall import TierOnCall
from bot.render.blocks import Block, context, header, section


def mention(user: str) -> str:
    """Slack ids become mentions; emails or names that never resolved stay readable text."""
    return f"<@{user}>" if user[:1] in {"U", "W"} and user.isalnum() and user.isupper() else escape(user)


def when(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%a %Y-%m-%d %H:%M")


def oncall_blocks(team: str, tiers: list[TierOnCall], lang: str, tz: str) -> list[Block]:
    lines = []
    for tier in tiers:
        name = escape(tier.tier)
        if tier.now is None:
            line = t("oncall.tier_gap", lang, tier=name)
        else:
            key = "oncall.tier_now_override" if tier.now.source == "override" else \
                "oncall.tier_now" if tier.next else "oncall.tier_now_always"
            line = t(key, lang, tier=name, user=mention(tier.now.user), until=when(tier.now.end, tz))
        if tier.next is not None:
            line += " · " + t("oncall.tier_next", lang, user=mention(tier.next.user), start=when(tier.next.start, tz))
        lines.append(line)
    return [header(t("oncall.header", lang, team=team)), section("\n".join(lines)),
            context(t("oncall.times_in", lang, tz=tz))]
