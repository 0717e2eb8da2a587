"""The /spend PNG: cost per day as bars, uploaded next to the overview's text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from bot.render.drawing import drawn

MAX_VALUE_LABELS = 31  # past a month of bars, the dollars on top of each would overlap
MAX_TICKS = 16


@drawn
def daily_png(daily: Sequence[tuple[date, float]], title: str, lang: str) -> bytes:
    """A bar per day (oldest first) with its dollars; `title` is the caller's, already in `lang`."""
    # matplotlib takes ~0.3 s to import: only drawing pays for it, never the bot's start or a text answer.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.ticker import FuncFormatter

    from bot.render.chart import chart_text, font_covering, label_axes, png, small

    text = chart_text("spend", ("chart_ylabel", "chart_no_data"), lang)
    font = text.font
    wide = "".join(sorted({ch for ch in title if ord(ch) > 0x2FFF}))
    if wide and font is None:  # the labels fell back to English or need no font, but the title has CJK
        path = font_covering(wide)
        font = FontProperties(fname=path) if path else None
    figure = Figure(figsize=(max(6.0, 0.3 * len(daily) + 2), 3.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    days = [day for day, _ in daily]
    values = [max(value, 0.0) for _, value in daily]
    bars = axes.bar(range(len(values)), values, color="#e4572e")
    if 0 < len(values) <= MAX_VALUE_LABELS:
        axes.bar_label(bars, labels=[_short_usd(v) for v in values], fontsize="x-small", padding=2)
        axes.margins(y=0.15)
    step = max(1, -(-len(days) // MAX_TICKS))
    axes.set_xticks(range(0, len(days), step), [f"{day:%m-%d}" for day in days[::step]],
                    rotation=45 if len(days) > 10 else 0, fontproperties=small(None))
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"${value:,.0f}"))
    if not values:
        axes.text(0.5, 0.5, text.labels["chart_no_data"], ha="center", va="center", transform=axes.transAxes,
                  fontproperties=text.font)
        axes.set_yticks([])
    label_axes(axes, title, text.labels["chart_ylabel"], font)
    return png(figure)


def _short_usd(value: float) -> str:
    if value >= 10_000:
        return f"${value / 1000:,.0f}k"
    if value >= 100:
        return f"${value:,.0f}"
    return f"${value:,.2f}"
