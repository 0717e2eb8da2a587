"""Incident KPIs (MTTA, MTTR, MTBF, counts by severity) per team, as data, Block Kit and a PNG chart.

Pure functions: the incidents, the period and the language are passed in; nothing here reads the
clock, the database or Slack.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

from bot.durations import format_duration
from bot.escape import escape
from bot.i18n import catalog, normalise_language, t
from bot.incidents.model import SEVERITIES, Incident
from bot.render.blocks import SECTION_LIMIT, Block, context, header, section

NONE_MARK = "—"
_SEVERITY_COLOURS = {"sev1": "#d62728", "sev2": "#ff7f0e", "sev3": "#e6c229", "sev4": "#7f8fa6"}
_TIME_COLOURS = ("#1f77b4", "#2ca02c")
_PREFERRED_CJK_FONTS = (
    "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei", "Microsoft YaHei", "PingFang SC", "Hiragino Sans GB", "Heiti SC", "SimHei",
    "Droid Sans Fallback", "AR PL UMing CN", "AR PL UKai CN", "Arial Unicode MS",
)
_GLYPH_WARNING = r"(?s).*Glyph .* missing from"


@dataclass(frozen=True)
class IncidentStats:
    """KPIs of one team, or of all teams when `team` is None.

    Cancelled incidents (opened by accident) count only in `cancelled`, never in `count` or the means.
    """

    team: str | None
    count: int
    by_severity: Mapping[str, int]
    cancelled: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None
    mttr: timedelta | None
    mtbf: timedelta | None


@dataclass(frozen=True)
class StatsReport:
    since: datetime
    until: datetime
    team: str | None  # the team filter, None for every team
    teams: tuple[IncidentStats, ...]
    overall: IncidentStats

    @property
    def empty(self) -> bool:
        return self.overall.count == 0 and self.overall.cancelled == 0


# ---------------------------------------------------------------- numbers


def compute(
    incidents: Sequence[Incident], since: datetime, until: datetime, team: str | None = None
) -> StatsReport:
    """Stats over incidents created in [since, until), optionally for one team only."""
    since, until = _aware(since), _aware(until)
    selected = [i for i in incidents if since <= _aware(i.created_at) < until and team in (None, i.team)]
    names = [team] if team is not None else sorted({i.team for i in selected})
    per_team = tuple(_team_stats(name, [i for i in selected if i.team == name]) for name in names)
    overall = per_team[0] if team is not None else _team_stats(None, selected)
    return StatsReport(since=since, until=until, team=team, teams=per_team, overall=overall)


def _team_stats(team: str | None, incidents: Sequence[Incident]) -> IncidentStats:
    live = [i for i in incidents if i.status != "cancelled"]
    acked = [_span(i.created_at, i.acknowledged_at) for i in live if i.acknowledged_at]
    resolved = [_span(i.created_at, i.resolved_at) for i in live if i.resolved_at]
    return IncidentStats(
        team=team,
        count=len(live),
        by_severity=_by_severity(live),
        cancelled=len(incidents) - len(live),
        acknowledged=len(acked),
        resolved=len(resolved),
        mtta=_mean(acked),
        mttr=_mean(resolved),
        mtbf=_mean_gap([_aware(i.created_at) for i in live]),
    )


def _by_severity(incidents: Iterable[Incident]) -> dict[str, int]:
    counts = dict.fromkeys(SEVERITIES, 0)
    for incident in incidents:
        counts[incident.severity] = counts.get(incident.severity, 0) + 1
    return counts


def _span(start: datetime, end: datetime) -> timedelta:
    return max(_aware(end) - _aware(start), timedelta(0))


def _mean(spans: Sequence[timedelta]) -> timedelta | None:
    return sum(spans, timedelta(0)) / len(spans) if spans else None


def _mean_gap(starts: list[datetime]) -> timedelta | None:
    """Mean time between consecutive starts: (last - first) / (n - 1); None with fewer than two."""
    if len(starts) < 2:
        return None
    ordered = sorted(starts)
    return (ordered[-1] - ordered[0]) / (len(ordered) - 1)


def _aware(moment: datetime) -> datetime:
    """Naive datetimes (SQLite drops tzinfo) are UTC, as the store writes them."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---------------------------------------------------------------- Block Kit


def stats_blocks(report: StatsReport, language: str) -> list[Block]:
    title = t("incident_stats.header_team", language, team=report.team) if report.team else None
    blocks: list[Block] = [header(title or t("incident_stats.header", language)),
                           context(_period(report, language))]
    if report.empty:
        return [*blocks, section(t("incident_stats.no_incidents", language))]
    lines = [_team_line(stats, language) for stats in report.teams]
    if report.team is None and len(report.teams) > 1:
        lines.append(_team_line(report.overall, language))
    blocks += [section(chunk) for chunk in _chunks(lines, SECTION_LIMIT)]
    return [*blocks, context(t("incident_stats.footnote", language))]


def _period(report: StatsReport, language: str) -> str:
    return t("incident_stats.period", language, since=_stamp(report.since), until=_stamp(report.until),
             length=format_duration(report.until - report.since))


def _stamp(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} {moment.tzname() or 'UTC'}"


def _team_line(stats: IncidentStats, language: str) -> str:
    name = escape(stats.team) if stats.team is not None else t("incident_stats.all_teams", language)
    severities = " · ".join(f"{sev} {n}" for sev, n in stats.by_severity.items())
    parts = [
        t("incident_stats.count", language, count=stats.count, severities=severities),
        t("incident_stats.mtta", language, value=_duration(stats.mtta)),
        t("incident_stats.mttr", language, value=_duration(stats.mttr)),
        t("incident_stats.mtbf", language, value=_duration(stats.mtbf)),
    ]
    if stats.cancelled:
        parts.append(t("incident_stats.cancelled", language, count=stats.cancelled))
    return f"*{name}*: " + " · ".join(parts)


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else NONE_MARK


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Join lines into texts no longer than `limit` (a longer single line is cut by `section`)."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


# ---------------------------------------------------------------- chart


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
    return _render(figure)


def _draw_counts(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: _ChartText) -> None:
    severities = list(dict.fromkeys(s for stats in teams for s in stats.by_severity))
    _grouped_bars(axes, names, {sev: [float(s.by_severity.get(sev, 0)) for s in teams] for sev in severities},
                  lambda i, sev: _SEVERITY_COLOURS.get(sev, f"C{i}"), text.font)
    axes.yaxis.get_major_locator().set_params(integer=True)
    _label(axes, text.labels["chart_counts_title"], text.labels["chart_counts_ylabel"], text.font)


def _draw_times(axes: Axes, teams: Sequence[IncidentStats], names: list[str], text: _ChartText) -> None:
    series = {
        text.labels["chart_mtta"]: [_minutes(s.mtta) for s in teams],
        text.labels["chart_mttr"]: [_minutes(s.mttr) for s in teams],
    }
    _grouped_bars(axes, names, series, lambda i, _name: _TIME_COLOURS[i % 2], text.font)
    _label(axes, text.labels["chart_times_title"], text.labels["chart_minutes_ylabel"], text.font)


def _grouped_bars(axes: Axes, names: list[str], series: Mapping[str, list[float]],
                  colour: Callable[[int, str], str], font: FontProperties | None) -> None:
    width = 0.8 / max(len(series), 1)
    for index, (label, values) in enumerate(series.items()):
        offsets = [x - 0.4 + width * (index + 0.5) for x in range(len(names))]
        axes.bar(offsets, values, width, label=label, color=colour(index, label))
    axes.set_xticks(range(len(names)), names, fontproperties=font)
    axes.margins(y=0.3)  # headroom for the legend
    axes.legend(prop=_small(font), loc="upper left", ncols=2)


def _small(font: FontProperties | None) -> FontProperties:
    small = font.copy() if font is not None else FontProperties()
    small.set_size("small")
    return small


def _label(axes: Axes, title: str, ylabel: str, font: FontProperties | None) -> None:
    axes.set_title(title, fontproperties=font)
    axes.set_ylabel(ylabel, fontproperties=font)
    axes.grid(axis="y", alpha=0.3)


def _no_data(figure: Figure, counts_axes: Axes, times_axes: Axes, text: _ChartText) -> None:
    for axes in (counts_axes, times_axes):
        axes.set_axis_off()
    figure.text(0.5, 0.45, text.labels["chart_no_data"], ha="center", va="center", fontproperties=text.font)


def _minutes(value: timedelta | None) -> float:
    return value.total_seconds() / 60 if value is not None else 0.0


def _render(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_GLYPH_WARNING)
        figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


_CHART_KEYS = ("chart_title", "chart_counts_title", "chart_counts_ylabel", "chart_times_title",
               "chart_minutes_ylabel", "chart_mtta", "chart_mttr", "chart_no_data", "all_teams")


def _chart_text(language: str) -> _ChartText:
    """Labels in `language`, with a font that has their glyphs; English labels if no such font exists."""
    lang = normalise_language(language) or "en"
    labels = {key: catalog(lang).get(f"incident_stats.{key}", "") for key in _CHART_KEYS}
    wide = "".join(sorted({ch for text in labels.values() for ch in text if ord(ch) > 0x2FFF}))
    if not wide:
        return _ChartText(labels, None)
    path = _font_covering(wide)
    if path is None:
        return _chart_text("en")
    return _ChartText(labels, FontProperties(fname=path))


@cache
def _font_covering(chars: str) -> str | None:
    """Path of an installed font with every glyph in `chars`, well-known CJK families first."""
    def rank(entry: font_manager.FontEntry) -> int:
        name = entry.name
        return _PREFERRED_CJK_FONTS.index(name) if name in _PREFERRED_CJK_FONTS else len(_PREFERRED_CJK_FONTS)

    for entry in sorted(font_manager.fontManager.ttflist, key=rank):
        if _has_glyphs(entry.fname, chars):
            return entry.fname
    return None


def _has_glyphs(path: str, chars: str) -> bool:
    """True when each of the (distinct) `chars` has its own glyph: placeholder fonts such as matplotlib's
    bundled "Last Resort" map every code point to a box, so they share a handful of glyph ids."""
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    if font.family_name.startswith("Last Resort"):
        return False
    charmap = font.get_charmap()
    glyphs = [charmap.get(ord(ch), 0) for ch in chars]
    return 0 not in glyphs and len(set(glyphs)) == len(set(chars))
