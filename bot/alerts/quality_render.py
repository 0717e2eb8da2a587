"""The noisy-alerts report as Block Kit (a ranked list) and as a PNG (notifications per alert name)."""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts.quality import NoisyAlert
from bot.durations import format_duration
from bot.escape import Markup
from bot.i18n import t
from bot.render.blocks import Block, context, header, section
from bot.render.drawing import drawn
from bot.render.text import fit_lines

REASON_CHARS = 80  # each reason shown, before escaping (a 40 KB reason must not fill the answer)
NAME_CHARS = 120
CHART_ALERTS = 15


def noisy_blocks(report: Sequence[NoisyAlert], team: str | None, days: int, lang: str) -> list[Block]:
    """Noisiest first, one line each: notifications, firing time, pages, 👎 with reasons, never-an-incident."""
    period = t("alerts.noisy_period_day", lang) if days == 1 else t("alerts.noisy_period_days", lang, days=days)
    scope = {"team": team} if team is not None else {}
    suffix = "team" if team is not None else "all"
    title = header(t(f"alerts.noisy_header_{suffix}", lang, period=period, **scope))
    if not report:
        return [title, section(t(f"alerts.noisy_empty_{suffix}", lang, period=period, **scope))]
    lines = [_line(rank, alert, lang) for rank, alert in enumerate(report, start=1)]
    body = fit_lines(lines, lambda count: t("alerts.noisy_more", lang, count=count))
    return [title, section(body), context(t("alerts.noisy_footer", lang))]


def _line(rank: int, alert: NoisyAlert, lang: str) -> str:
    if alert.notifications == 1:
        facts = [t("alerts.noisy_notifications_one", lang)]
    else:
        facts = [t("alerts.noisy_notifications", lang, count=alert.notifications)]
    facts.append(t("alerts.noisy_firing", lang, duration=format_duration(alert.firing_time)))
    if alert.paged:
        facts.append(t("alerts.noisy_paged", lang, count=alert.paged))
    if alert.thumbs_down and alert.reasons:
        reasons = t("alerts.noisy_reason_separator", lang).join(
            t("alerts.noisy_reason", lang, reason=_cut(reason, REASON_CHARS)) for reason in alert.reasons)
        facts.append(t("alerts.noisy_thumbs_down_reasons", lang, count=alert.thumbs_down, reasons=Markup(reasons)))
    elif alert.thumbs_down:
        facts.append(t("alerts.noisy_thumbs_down", lang, count=alert.thumbs_down))
    facts.append(t("alerts.noisy_never_incident", lang, percent=round(alert.never_incident_share * 100)))
    return t("alerts.noisy_line", lang, rank=rank, alertname=_cut(alert.alertname, NAME_CHARS),
             facts=Markup(t("alerts.noisy_separator", lang).join(facts)))


def _cut(text: str, limit: int) -> str:
    """One line of at most `limit` characters: cut before escaping, so an entity is never cut in half."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


@drawn
def noisy_chart_png(report: Sequence[NoisyAlert], lang: str) -> bytes:
    """Horizontal bars of notifications per alert name, the noisiest on top (the first CHART_ALERTS)."""
    # matplotlib takes ~0.3 s to import: only drawing pays for it, never the bot's start or a text answer.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from bot.render.chart import chart_text, png, small

    text = chart_text("alerts", ("noisy_chart_title", "noisy_chart_xlabel", "noisy_chart_no_data"), lang)
    shown = list(report[:CHART_ALERTS])
    figure = Figure(figsize=(8, 1.5 + 0.35 * max(len(shown), 1)), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    axes.set_title(text.labels["noisy_chart_title"], fontproperties=text.font)
    if not shown:
        axes.set_axis_off()
        axes.text(0.5, 0.5, text.labels["noisy_chart_no_data"], ha="center", va="center",
                  transform=axes.transAxes, fontproperties=text.font)
        return png(figure)
    names = [_cut(alert.alertname, 40) for alert in reversed(shown)]  # barh draws bottom-up: noisiest on top
    axes.barh(range(len(shown)), [alert.notifications for alert in reversed(shown)], color="#d62728")
    axes.set_yticks(range(len(shown)), names, fontproperties=small(None))
    axes.set_xlabel(text.labels["noisy_chart_xlabel"], fontproperties=text.font)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(axis="x", alpha=0.3)
    return png(figure)
