"""Block Kit for /oncall: who is on call now and next, per tier, in the reader's time zone; a saved override."""

from __future__ import annotations

from bot.escape import escape
from bot.i18n import t
from bot.oncall.rotation import TierOnCall
from bot.oncall.service import SavedOverride
from bot.render.blocks import Block, context, header, mention, section
from bot.render.time import when


def oncall_blocks(team: str, tiers: list[TierOnCall], lang: str, tz: str) -> list[Block]:
    lines = [_tier_line(tier, lang, tz) for tier in tiers]
    return [header(t("oncall.header", lang, team=team)), section("\n".join(lines)),
            context(t("oncall.times_in", lang, tz=tz))]


def _tier_line(tier: TierOnCall, lang: str, tz: str) -> str:
    name = escape(tier.tier)
    if tier.now is None:
        line = t("oncall.tier_gap", lang, tier=name)
    else:
        key = "oncall.tier_now_override" if tier.now.source == "override" else \
            "oncall.tier_now" if tier.next else "oncall.tier_now_always"
        line = t(key, lang, tier=name, user=mention(tier.now.user), until=when(tier.now.end, tz, lang))
    if tier.next is not None:
        line += " · " + t("oncall.tier_next", lang, user=mention(tier.next.user),
                          start=when(tier.next.start, tz, lang))
    return line


def override_saved_blocks(saved: SavedOverride, lang: str) -> list[Block]:
    return [section(t("oncall.override_saved", lang, user=saved.user, tier=escape(saved.tier), team=saved.team,
                      start=when(saved.start, saved.tz, lang), end=when(saved.end, saved.tz, lang), tz=saved.tz))]
