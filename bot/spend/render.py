"""Block Kit for /spend: cost and coffee burn rate per team, stamped with the data's age."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.escape import escape
from bot.i18n import t
from bot.render import time
from bot.render.blocks import SECTION_LIMIT, Block, context, header, section
from bot.render.text import fit_lines
from bot.spend.model import SpendReport, SpendRow


def spend_blocks(report: SpendReport, lang: str, now: datetime) -> list[Block]:
    blocks = [header(t("spend.title", lang, days=report.days))]
    if report.rows:
        blocks += [section(_rows(report, lang)), section(_summary(report, lang))]
    else:
        blocks.append(section(t("spend.none", lang, start=report.start.isoformat(), end=_last_day(report))))
    blocks.append(context(t("spend.data_age", lang, age=data_age(now - report.as_of, lang),
                            day=report.burn_day.isoformat() if report.burn_day else "—",
                            coffee=usd(report.coffee_usd))))
    if report.demo:
        blocks.append(context(t("spend.demo", lang)))
    return blocks


def _summary(report: SpendReport, lang: str) -> str:
    lines = [t("spend.total", lang, usd=usd(report.total_usd), start=report.start.isoformat(),
               end=_last_day(report))]
    if report.burning:
        lines.append(t("spend.burning", lang, threshold=f"{report.threshold_cups_per_hour:g}",
                       teams=", ".join(f"*{_team(r, lang)}*" for r in report.burning)))
    return "\n".join(lines)


def _last_day(report: SpendReport) -> str:
    return (report.end - timedelta(days=1)).isoformat()


def _rows(report: SpendReport, lang: str) -> str:
    lines = [t("spend.row_burning" if row.over_threshold else "spend.row", lang, team=_team(row, lang),
               usd=usd(row.usd), usd_per_hour=usd(row.usd_per_hour), cups=f"{row.cups_per_hour:.1f}")
             for row in report.rows]
    return fit_lines(lines, lambda n: t("spend.more", lang, count=n), SECTION_LIMIT)


def _team(row: SpendRow, lang: str) -> str:
    return escape(row.team) if row.team else t("spend.untagged", lang)


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


def data_age(age: timedelta, lang: str) -> str:
    """How old Cost Explorer's answer is: `just now`, `42 min ago`, hours up to two days, then days."""
    return time.age(age, lang, "spend", days_from=timedelta(hours=48), just_now=True)
