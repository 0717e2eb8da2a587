"""The /gpu PNG: average utilization by node, or by node pool past MAX_NODES nodes, with the idle line."""

from __future__ import annotations

from collections import defaultdict

from bot.gpu.model import Fleet, NodeRow
from bot.render.drawing import drawn

MAX_NODES = 40
MAX_BARS = 60


def utilization_bars(fleet: Fleet) -> tuple[bool, list[tuple[str, float]]]:
    """(by pool?, [(name, utilization %)]) for the nodes with a reading, the busiest first."""
    rows = [row for row in fleet.nodes if row.util_pct is not None]
    if len(rows) <= MAX_NODES:
        return False, sorted(((row.node, row.util_pct or 0.0) for row in rows), key=lambda bar: -bar[1])
    pools: dict[str, list[NodeRow]] = defaultdict(list)
    for row in rows:
        pools[row.pool or row.model or "?"].append(row)
    bars = [(name, sum((r.util_pct or 0.0) * max(r.reported, 1) for r in group)
             / sum(max(r.reported, 1) for r in group)) for name, group in pools.items()]
    return True, sorted(bars, key=lambda bar: -bar[1])[:MAX_BARS]


@drawn
def utilization_png(fleet: Fleet, lang: str) -> bytes:
    # matplotlib takes ~0.3 s to import: only drawing pays for it, never the bot's start or a text answer.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from bot.render.chart import chart_text, png, small

    by_pool, bars = utilization_bars(fleet)
    text = chart_text("gpu", ("chart_title_pools" if by_pool else "chart_title_nodes", "chart_ylabel",
                              "chart_idle_line"), lang)
    figure = Figure(figsize=(max(6.0, 0.3 * len(bars) + 2), 4), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots()
    colours = ["#d62728" if util < fleet.threshold_pct else "#1f77b4" for _, util in bars]
    axes.bar(range(len(bars)), [util for _, util in bars], color=colours)
    axes.set_xticks(range(len(bars)), [name[-24:] for name, _ in bars], rotation=60, ha="right",
                    fontproperties=small(None))
    axes.axhline(fleet.threshold_pct, color="#7f7f7f", linestyle="--",
                 label=text.labels["chart_idle_line"])
    axes.set_ylim(0, 100)
    axes.set_ylabel(text.labels["chart_ylabel"], fontproperties=text.font)
    axes.set_title(text.labels["chart_title_pools" if by_pool else "chart_title_nodes"], fontproperties=text.font)
    axes.legend(prop=small(text.font), loc="upper right")
    return png(figure)
