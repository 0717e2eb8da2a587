"""The one thread every chart is drawn on. This module imports no matplotlib: the chart functions it wraps do, when
they first draw."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")
_here = threading.local()


def _mark_drawer() -> None:
    _here.drawing = True


_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chart", initializer=_mark_drawer)


def drawn(draw: Callable[P, T]) -> Callable[P, T]:
    """`draw` (a figure built and saved as PNG bytes) runs on the chart thread, whichever thread calls it.

    matplotlib keeps the fonts it draws with (open files, FreeType faces, glyph caches) per thread, up to 64 threads,
    and a figure's arrays come from the allocator arena of the thread that builds it. Drawn on whichever pool thread
    ran the command, every thread that ever drew a chart kept two more open files and several MB, and the process
    grew for as long as charts were drawn (bench/soak.py). One thread also keeps matplotlib, which is not
    thread-safe, to one figure at a time."""
    @functools.wraps(draw)
    def on_the_chart_thread(*args: P.args, **kwargs: P.kwargs) -> T:
        if getattr(_here, "drawing", False):  # a chart drawn by a chart: already there
            return draw(*args, **kwargs)
        return _DRAWER.submit(draw, *args, **kwargs).result()

    return on_the_chart_thread
