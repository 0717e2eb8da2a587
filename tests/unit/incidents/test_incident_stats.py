import string
import threading
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

import matplotlib
import pytest
import yaml

from bot.i18n import catalog
from bot.incidents import chart, stats
from bot.incidents.chart import chart_png
from bot.incidents.model import Incident
from bot.incidents.render import stats_blocks
from bot.incidents.stats import IncidentStats, StatsReport, compute
from bot.render.chart import has_glyphs
from tests.support.slack_text import slack_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
T0 = datetime(2026, 3, 1, tzinfo=UTC)
UNTIL = T0 + timedelta(days=30)
CATALOGS = Path(stats.__file__).parents[1] / "i18n"


def incident(number: int, team: str, severity: str, opened: timedelta, *, ack: timedelta | None = None,
             resolve: timedelta | None = None, status: str | None = None) -> Incident:
    created = T0 + opened
    return Incident(
        id=number, title=f"incident {number}", severity=severity, team=team,
        status=status or ("resolved" if resolve else "acknowledged" if ack else "open"),
        reporter="U_REPORTER", commander=None, language="en", created_at=created,
        acknowledged_at=created + ack if ack is not None else None,
        resolved_at=created + resolve if resolve is not None else None,
        cancelled_at=created + timedelta(minutes=1) if status == "cancelled" else None,
    )


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def days(n: float) -> timedelta:
    return timedelta(days=n)


INCIDENTS = [
    incident(1, "ml", "sev1", days(1), ack=minutes(2), resolve=minutes(60)),
    incident(2, "ml", "sev2", days(3), ack=minutes(6), resolve=minutes(120)),
    incident(3, "ml", "sev2", days(5)),  # still open: counts, but not in MTTA / MTTR
    incident(4, "ml", "sev3", days(2), ack=minutes(1), resolve=minutes(3), status="cancelled"),
    incident(5, "infra", "sev4", days(10), ack=minutes(10), resolve=minutes(30)),
    incident(6, "ml", "sev1", days(-1), ack=minutes(1), resolve=minutes(5)),  # before the period
    incident(7, "ml", "sev1", days(30), ack=minutes(1), resolve=minutes(5)),  # at `until`: excluded
]


def by_team(report: StatsReport) -> dict[str | None, IncidentStats]:
    return {s.team: s for s in report.teams}


# ---------------------------------------------------------------- numbers


def test_mtta_and_mttr_average_only_incidents_that_reached_that_state() -> None:
    ml = by_team(compute(INCIDENTS, T0, UNTIL))["ml"]

    assert ml.mtta == minutes(4)  # (2 + 6) / 2, the open incident has no ack
    assert ml.mttr == minutes(90)  # (60 + 120) / 2
    assert (ml.acknowledged, ml.resolved) == (2, 2)


def test_mtbf_is_the_mean_gap_between_starts_of_non_cancelled_incidents() -> None:
    ml = by_team(compute(INCIDENTS, T0, UNTIL))["ml"]

    assert ml.mtbf == days(2)  # starts on day 1, 3 and 5 (the cancelled one on day 2 is ignored)


def test_cancelled_incidents_are_counted_apart_and_excluded_from_every_number() -> None:
    ml = by_team(compute(INCIDENTS, T0, UNTIL))["ml"]

    assert ml.count == 3
    assert ml.cancelled == 1
    assert dict(ml.by_severity) == {"sev1": 1, "sev2": 2, "sev3": 0, "sev4": 0}


def test_all_teams_line_pools_every_team() -> None:
    overall = compute(INCIDENTS, T0, UNTIL).overall

    assert overall.team is None
    assert overall.count == 4
    assert overall.cancelled == 1
    assert overall.mtta == minutes(6)  # (2 + 6 + 10) / 3
    assert overall.mttr == minutes(70)  # (60 + 120 + 30) / 3
    assert overall.mtbf == days(3)  # days 1, 3, 5, 10
    assert dict(overall.by_severity) == {"sev1": 1, "sev2": 2, "sev3": 0, "sev4": 1}


def test_teams_are_listed_by_name() -> None:
    assert [s.team for s in compute(INCIDENTS, T0, UNTIL).teams] == ["infra", "ml"]


def test_mtbf_is_none_with_fewer_than_two_incidents() -> None:
    infra = by_team(compute(INCIDENTS, T0, UNTIL))["infra"]

    assert infra.count == 1
    assert infra.mtbf is None


def test_means_are_none_when_nothing_was_acknowledged_or_resolved() -> None:
    report = compute([incident(1, "ml", "sev2", days(1)), incident(2, "ml", "sev3", days(2))], T0, UNTIL)

    assert (report.overall.mtta, report.overall.mttr, report.overall.mtbf) == (None, None, days(1))


def test_team_filter_keeps_only_that_team() -> None:
    report = compute(INCIDENTS, T0, UNTIL, team="infra")

    assert [s.team for s in report.teams] == ["infra"]
    assert report.overall == report.teams[0]
    assert report.overall.count == 1


def test_team_filter_for_a_quiet_team_reports_zeroes() -> None:
    report = compute(INCIDENTS, T0, UNTIL, team="data")

    assert report.empty
    assert report.teams[0] == IncidentStats("data", 0, dict.fromkeys(("sev1", "sev2", "sev3", "sev4"), 0),
                                            0, 0, 0, None, None, None)


def test_period_is_half_open_since_included_until_excluded() -> None:
    wider = compute(INCIDENTS, T0 - days(2), UNTIL + days(1))
    exact = compute(INCIDENTS, T0 + days(1), T0 + days(3))

    assert by_team(wider)["ml"].count == 5
    assert [s.count for s in exact.teams] == [1]  # day 1 in, day 3 out (day 2 is cancelled)
    assert exact.overall.cancelled == 1


def test_empty_input_gives_an_empty_report() -> None:
    report = compute([], T0, UNTIL)

    assert report.empty
    assert report.teams == ()
    assert report.overall.count == 0


def test_naive_datetimes_are_read_as_utc() -> None:
    naive = Incident(id=1, title="x", severity="sev2", team="ml", status="resolved", reporter="U1",
                     commander=None, language="en", created_at=datetime(2026, 3, 2, 9, 0),
                     acknowledged_at=datetime(2026, 3, 2, 9, 3), resolved_at=datetime(2026, 3, 2, 10, 0))

    report = compute([naive], T0, UNTIL)

    assert report.overall.mtta == minutes(3)


# ---------------------------------------------------------------- Block Kit


def test_blocks_show_the_numbers_a_user_reads() -> None:
    blocks = stats_blocks(compute(INCIDENTS, T0, UNTIL), "en")
    text = slack_text(blocks)

    assert blocks[0]["type"] == "header"
    assert "*ml*: 3 incidents (sev1 1 · sev2 2 · sev3 0 · sev4 0)" in text
    assert "MTTA 4m" in text
    assert "MTTR 1h30m" in text
    assert "MTBF 2d" in text
    assert "1 cancelled" in text
    assert "*All teams*: 4 incidents" in text
    assert "MTTA 6m · MTTR 1h10m · MTBF 3d" in text


def test_blocks_show_a_dash_when_a_number_is_unknown() -> None:
    text = slack_text(stats_blocks(compute(INCIDENTS, T0, UNTIL), "en"))

    infra_line = next(line for line in text.splitlines() if line.startswith("*infra*"))
    assert "MTBF —" in infra_line
    assert "cancelled" not in infra_line


def test_blocks_show_the_period() -> None:
    text = slack_text(stats_blocks(compute(INCIDENTS, T0, UNTIL), "en"))

    assert "2026-03-01 00:00 UTC → 2026-03-31 00:00 UTC (30d)" in text


def test_blocks_in_chinese() -> None:
    text = slack_text(stats_blocks(compute(INCIDENTS, T0, UNTIL), "zh-CN"))

    assert "事故统计" in text
    assert "*ml*: 事故 3 起" in text
    assert "平均确认时间 MTTA 4m" in text
    assert "平均恢复时间 MTTR 1h30m" in text
    assert "平均故障间隔 MTBF 2d" in text
    assert "已取消 1 起" in text
    assert "*全部团队*" in text


def test_blocks_for_one_team_have_no_all_teams_line() -> None:
    blocks = stats_blocks(compute(INCIDENTS, T0, UNTIL, team="ml"), "en")

    assert blocks[0]["text"]["text"] == "Incident stats: ml"
    assert "All teams" not in slack_text(blocks)


def test_blocks_say_when_there_were_no_incidents() -> None:
    text = slack_text(stats_blocks(compute([], T0, UNTIL), "en"))

    assert "No incidents in this period." in text


def test_team_names_are_escaped_in_blocks() -> None:
    report = compute([incident(1, "<!channel>", "sev1", days(1))], T0, UNTIL)

    text = slack_text(stats_blocks(report, "en"))

    assert "<!channel>" not in text
    assert "&lt;!channel&gt;" in text


def test_many_teams_stay_within_slack_limits() -> None:
    many = [incident(n, f"team-with-a-long-name-{n:03d}", "sev3", days(1)) for n in range(200)]

    blocks = stats_blocks(compute(many, T0, UNTIL), "en")

    assert len(blocks) <= 50
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert "team-with-a-long-name-199" in slack_text(blocks)


# ---------------------------------------------------------------- chart


def assert_small_png(data: bytes) -> None:
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) < 200_000


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_chart_is_a_small_valid_png_without_warnings(language: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = chart_png(compute(INCIDENTS, T0, UNTIL), language)

    assert_small_png(data)


def test_chart_for_an_empty_period_is_still_a_png() -> None:
    assert_small_png(chart_png(compute([], T0, UNTIL), "zh-CN"))


def test_chinese_chart_falls_back_to_english_labels_without_a_cjk_font(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chart, "font_covering", lambda chars: None)

    text = chart._chart_text("zh-CN")

    assert text.font is None
    assert text.labels["chart_counts_title"] == catalog("en")["incident_stats.chart_counts_title"]


def test_chinese_chart_uses_chinese_labels_when_a_cjk_font_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    # DejaVu stands in for a CJK font: the missing-glyph warnings it causes must stay quiet.
    dejavu = str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    monkeypatch.setattr(chart, "font_covering", lambda chars: dejavu)

    text = chart._chart_text("zh-CN")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = chart_png(compute(INCIDENTS, T0, UNTIL), "zh-CN")

    assert text.labels["chart_counts_title"] == catalog("zh-CN")["incident_stats.chart_counts_title"]
    assert text.font is not None and text.font.get_file() == dejavu
    assert_small_png(data)


def test_placeholder_fonts_do_not_count_as_cjk_fonts() -> None:
    fonts = Path(matplotlib.get_data_path()) / "fonts" / "ttf"

    assert not has_glyphs(str(fonts / "LastResortHE-Regular.ttf"), "事故")
    assert not has_glyphs(str(fonts / "DejaVuSans.ttf"), "事故")
    assert has_glyphs(str(fonts / "DejaVuSans.ttf"), "→")


def test_charts_can_be_drawn_from_several_threads() -> None:
    report = compute(INCIDENTS, T0, UNTIL)
    results: list[bytes] = []

    def draw() -> None:
        results.append(chart_png(report, "en"))

    threads = [threading.Thread(target=draw) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(results) == 4
    for data in results:
        assert_small_png(data)


# ---------------------------------------------------------------- catalogs


def load(language: str) -> dict[str, str]:
    return yaml.safe_load((CATALOGS / language / "incident_stats.yaml").read_text(encoding="utf-8"))


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_keys_and_placeholders_in_both_languages() -> None:
    english, chinese = load("en"), load("zh-CN")

    assert english.keys() == chinese.keys()
    for key, text in english.items():
        assert placeholders(text) == placeholders(chinese[key]), key
