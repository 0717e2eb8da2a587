"""The /spend PNG of cost per day: drawn in both languages, for a week, three months or nothing at all."""

from __future__ import annotations

import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.spend.chart import daily_png

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROOT = Path(__file__).resolve().parents[3]
WEEK = [(date(2026, 11, 17) + timedelta(days=n), 400.0 + 35 * n) for n in range(7)]


@pytest.mark.parametrize(("lang", "title"), [("en", "AWS spend · whole account"), ("zh-CN", "AWS 费用 · 整个账号")])
def test_a_week_is_a_png_in_both_languages(lang: str, title: str) -> None:
    data = daily_png(WEEK, title, lang)

    assert data.startswith(PNG_SIGNATURE) and 5_000 < len(data) < 300_000


def test_three_months_and_no_days_at_all_still_draw() -> None:
    quarter = [(date(2026, 9, 1) + timedelta(days=n), float(n % 13) * 1000.0) for n in range(90)]

    assert daily_png(quarter, "90 days", "en").startswith(PNG_SIGNATURE)
    assert daily_png([], "nothing yet", "zh-CN").startswith(PNG_SIGNATURE)


def test_different_costs_draw_different_charts() -> None:
    cheaper = [(day, usd / 2) for day, usd in WEEK]

    assert daily_png(WEEK, "week", "en") != daily_png(cheaper, "week", "en")


def test_importing_the_chart_module_does_not_import_matplotlib() -> None:
    """Only drawing pays matplotlib's import time, never the bot's start."""
    code = "import sys, bot.spend.chart; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "False"
