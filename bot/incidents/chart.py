"""The /incident stats chart: incidents by severity per team, and MTTA / MTTR per team, as a PNG."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bot.incidents.stats import IncidentStats, StatsReport
from bot.render.chart import ChartText, chart_text, font_covering, grouped_bars, label_axes, png
from bot.render.drawing import drawn

_SEVERITY_COLOURS = {"sev1": "#d62728", "sev2": "#ff7f0e", "sev3": "#e6c229", "sev4": "#7f8fa6"}
_TIME_COLOURS = ("#1f77b4", "#2ca02c")


@drawn
def chart_png(report: StatsReport, language: str) -> bytes:
    """Two panels: incidents by severity per team, and MTTA / MTTR in minutes per team."""
    text = _chart_text(language)
    teams = report.teams or (report.overall,)
    names = [s.team if s.team is not None else text.labels["all_teams"] for s in teams]
    figure = Figure(figsize=(min(4 + 1.2 * len(teams), 14), 4.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    counts_axes, times_axes = figure.subplots(1, 2)
    title = text.labels["chart_title"].format(since=f"{report.since:%Y-%m-%d}",
                                              until=f"{report.until:%Y-%m-%d}")
    figure.suptitle(title, fontproperties=text.font)
    if report.empty:
        _no_data(figure, counts_axes, times_axes, text)
    else:
        _draw_counts(counts_axes, teams, names, text)
        _draw_times(times_axes, teams, names, text)
    return png(figure)


def _draw_counts(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: ChartText) -> None:
    severities = list(dict.fromkeys(s for stats in teams for s in stats.by_severity))
    grouped_bars(axes, names, {sev: [float(s.by_severity.get(sev, 0)) for s in teams] for sev in severities},
                 lambda i, sev: _SEVERITY_COLOURS.get(sev, f"C{i}"), text.font)
    axes.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))  # counts
    label_axes(axes, text.labels["chart_counts_title"], text.labels["chart_counts_ylabel"], text.font)


def _draw_times(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: ChartText) -> None:
    series = {
        text.labels["chart_mtta"]: [_minutes(s.mtta) for s in teams],
        text.labels["chart_mttr"]: [_minutes(s.mttr) for s in teams],
    }
    grouped_bars(axes, names, series, lambda i, _name: _TIME_COLOURS[i % 2], text.font)
    label_axes(axes, text.labels["chart_times_title"], text.labels["chart_minutes_ylabel"], text.font)


def _no_data(figure: Figure, counts_axes: Axes, times_axes: Axes, text: ChartText) -> None:
    for axes in (counts_axes, times_axes):
        axes.set_axis_off()
    figure.text(0.5, 0.45, text.labels["chart_no_data"], ha="center", va="center", fontproperties=text.font)


def _minutes(value: timedelta | None) -> float:
    return value.total_seconds() / 60 if value is not None else 0.0


_CHART_KEYS = ("chart_title", "chart_counts_title", "chart_counts_ylabel", "chart_times_title",
               "chart_minutes_ylabel", "chart_mtta", "chart_mttr", "chart_no_data", "all_teams")


def _chart_text(language: str) -> ChartText:
    # font_covering looked up here, at each call, so tests can stand in for the installed fonts
    return chart_text("incident_stats", _CHART_KEYS, language, font_covering)
