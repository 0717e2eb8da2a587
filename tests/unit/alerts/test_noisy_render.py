"""The noisy-alerts report as Slack shows it (en and zh-CN, hostile reasons, Block Kit limits) and as a PNG."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest

from bot.alerts.quality import NoisyAlert
from bot.alerts.quality_render import noisy_blocks, noisy_chart_png
from tests.support.payload_safety import unsafe_markup
from tests.support.slack_text import slack_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CRASH = NoisyAlert(alertname="KubePodCrashLooping", notifications=48, firing_time=timedelta(hours=6, minutes=20),
                   firings=6, paged=2, without_incident=5, thumbs_down=3, reasons=("flaps during deploys",))
QUIET = NoisyAlert(alertname="DiskFull", notifications=1, firing_time=timedelta(minutes=4), firings=1, paged=0,
                   without_incident=0, thumbs_down=0)


def assert_within_block_kit_limits(blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150  # type: ignore[index]
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= 3000  # type: ignore[index]
        if block["type"] == "context":
            assert all(len(e["text"]) <= 3000 for e in block["elements"])  # type: ignore[attr-defined,index]


def test_each_alert_is_one_ranked_line_with_its_facts() -> None:
    text = slack_text(noisy_blocks([CRASH, QUIET], "platform", 7, "en"))

    assert "Noisiest alerts: platform, last 7 days" in text
    assert ("1. *KubePodCrashLooping* — 48 notifications, firing 6h20m, paged 2×, 👎 3 (“flaps during deploys”), "
            "83% never an incident") in text
    assert "2. *DiskFull* — 1 notification, firing 4m, 0% never an incident" in text


def test_the_report_speaks_chinese() -> None:
    text = slack_text(noisy_blocks([CRASH], None, 1, "zh-CN"))

    assert "最吵的告警：所有团队，最近 24 小时" in text
    assert "48 条通知" in text and "呼叫 2 次" in text and "「flaps during deploys」" in text
    assert "83% 从未成为事故" in text


def test_up_to_three_reasons_are_shown() -> None:
    alert = NoisyAlert("Flappy", 9, timedelta(minutes=9), 3, 0, 3, 5, reasons=("one", "two", "three"))

    assert "👎 5 (“one”; “two”; “three”)" in slack_text(noisy_blocks([alert], None, 7, "en"))


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_an_empty_report_says_so_and_suggests_a_longer_period(language: str) -> None:
    blocks = noisy_blocks([], "platform", 7, language)
    text = slack_text(blocks)

    if language == "en":
        assert "No alert of platform fired in the last 7 days. Try a longer period." in text
    else:
        assert "platform 在最近 7 天内没有告警触发。请试试更长的时间段。" in text
    assert_within_block_kit_limits(blocks)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_markup_in_reasons_and_names_never_broadcasts_or_mentions(language: str) -> None:
    alert = NoisyAlert("<!here> Boom", 3, timedelta(minutes=3), 1, 0, 1, 2,
                       reasons=("<!channel> wake everyone", "ping <@U0ADMIN> & <https://evil.example|click>"))

    blocks = noisy_blocks([alert], "<!everyone>", 7, language)
    text = slack_text(blocks)

    assert unsafe_markup(blocks) == []
    assert "<!" not in text and "<@" not in text and "<https" not in text
    assert "&lt;!channel&gt; wake everyone" in text and "&lt;!here&gt; Boom" in text
    assert "&amp;" in text


def test_a_40_kb_reason_is_cut() -> None:
    alert = NoisyAlert("Flappy", 3, timedelta(minutes=3), 1, 0, 1, 1, reasons=("<" * 40_000,))

    blocks = noisy_blocks([alert], None, 7, "en")
    text = slack_text(blocks)

    assert "&lt;" * 79 + "…" in text and "&lt;" * 81 not in text
    assert_within_block_kit_limits(blocks)


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_hundreds_of_alerts_fit_in_one_section_and_say_how_many_more(language: str) -> None:
    many = [NoisyAlert(f"Alert{n:03d}-" + "x" * 100, 500 - n, timedelta(hours=1), 2, 1, 1, 3,
                       reasons=("r" * 1000, "s" * 1000, "t" * 1000)) for n in range(300)]

    blocks = noisy_blocks(many, "platform", 30, language)
    text = slack_text(blocks)

    assert_within_block_kit_limits(blocks)
    assert "1. *Alert000-" in text
    assert ("more alerts" if language == "en" else "还有") in text


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_the_chart_is_a_small_png_without_warnings(language: str) -> None:
    many = [NoisyAlert(f"Alert{n}", 50 - n, timedelta(hours=1), 2, 0, 2, 0) for n in range(40)]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = noisy_chart_png([CRASH, QUIET, *many], language)

    assert data.startswith(PNG_SIGNATURE) and len(data) < 200_000


def test_the_chart_of_an_empty_report_is_still_a_png() -> None:
    assert noisy_chart_png([], "zh-CN").startswith(PNG_SIGNATURE)
