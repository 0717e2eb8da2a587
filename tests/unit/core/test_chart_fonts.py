"""Charts drawn on many threads at once (the bot's pools run commands on whichever thread is free) open matplotlib's
fonts once, not once per thread."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from matplotlib import get_data_path

from bot.spend.chart import daily_png
from tests.support.threads import all_at_once

WEEK = [(date(2026, 11, 17) + timedelta(days=n), 400.0 + 35 * n) for n in range(7)]
FONTS = Path(get_data_path()).resolve() / "fonts"


def font_files_open() -> int:
    """Open file descriptors of this process on matplotlib's bundled fonts."""
    targets = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            targets.append(fd.readlink())
        except OSError:  # closed while listed
            continue
    return sum(1 for target in targets if target.is_relative_to(FONTS))


def test_eight_threads_drawing_at_once_open_no_more_font_files_than_one() -> None:
    daily_png(WEEK, "week", "en")
    after_one = font_files_open()

    charts = all_at_once(lambda: daily_png(WEEK, "week", "en"), threads=8)

    assert len(set(charts)) == 1  # the same chart every time: nothing drawn over another drawing
    assert font_files_open() == after_one
