"""The /incident stats chart: incidents by severity per team, and MTTA / MTTR per team, as a PNG."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ticker import MaxNLocator

from bot.i18n import catalog, normalise_language
from bot.incidents.stats import IncidentStats, StatsReport
from bot.render.chart import font_covering, grouped_bars, label_axes, png

_SEVERITY_COLOURS = {"sev1": "#d62728", "sev2": "#ff7f0e", "sev3": "#e6c229", "sev4": "#7f8fa6"}
_TIME_COLOURS = ("#1f77b4", "#2ca02c")


@dataclass(frozen=True)
class _ChartText:
    labels: Mapping[str, str]
    font: FontProperties | None


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


def _draw_counts(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: _ChartText) -> None:
    severities = list(dict.fromkeys(s for stats in teams for s in stats.by_severity))
    grouped_bars(axes, names, {sev: [float(s.by_severity.get(sev, 0)) for s in teams] for sev in severities},
                 lambda i, sev: _SEVERITY_COLOURS.get(sev, f"C{i}"), text.font)
    axes.yaxis.set_major_locator(MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True))  # counts
    label_axes(axes, text.labels["chart_counts_title"], text.labels["chart_counts_ylabel"], text.font)


def _draw_times(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: _ChartText) -> None:
    series = {
        text.labels["chart_mtta"]: [_minutes(s.mtta) for s in teams],
        text.labels["chart_mttr"]: [_minutes(s.mttr) for s in teams],
    }
    grouped_bars(axes, names, series, lambda i, _name: _TIME_COLOURS[i % 2], text.font)
    label_axes(axes, text.labels["chart_times_title"], text.labels["chart_minutes_ylabel"], text.font)


def _no_data(figure: Figure, counts_axes: Axes, times_axes: Axes, text: _ChartText) -> None:
    for axes in (counts_axes, times_axes):
        axes.set_axis_off()
    figure.text(0.5, 0.45, text.labels["chart_no_data"], ha="center", va="center", fontproperties=text.font)


def _minutes(value: timedelta | None) -> float:
    return value.total_seconds() / 60 if value is not None else 0.0


_CHART_KEYS = ("chart_title", "chart_counts_title", "chart_counts_ylabel", "chart_times_title",
               "chart_minutes_ylabel", "chart_mtta", "chart_mttr", "chart_no_data", "all_teams")


def _chart_text(language: str) -> _ChartText:
    """Labels in `language`, with a font that has their glyphs; English labels if no such font exists."""
    lang = normalise_language(language) or "en"
    labels = {key: catalog(lang).get(f"incident_stats.{key}", "") for key in _CHART_KEYS}
    wide = "".join(sorted({ch for text in labels.values() for ch in text if ord(ch) > 0x2FFF}))
    if not wide:
        return _ChartText(labels, None)
    path = font_covering(wide)
    if path is None:
        return _chart_text("en")
    return _ChartText(labels, FontProperties(fname=path))


