"""`python -m bot` with tracemalloc on, writing a snapshot of the Python heap every minute, to see what grows.

    .venv/bin/python bench/memory_serve.py OUTDIR serve --host 127.0.0.1
    .venv/bin/python bench/soak.py --tracemalloc OUTDIR        # the soak starts the bot through this
    .venv/bin/python bench/memory_serve.py --compare OUTDIR/001.snap OUTDIR/005.snap   # what grew in between

The arguments after OUTDIR are those of `python -m bot`. Every MEMORY_SERVE_EVERY seconds (default 60), starting
that long after the process, a thread appends to OUTDIR/counts.tsv: seconds since start, VmRSS (MB), gc-tracked
objects, full collections so far, matplotlib Figures alive or awaiting collection, FT2Font objects in matplotlib's
per-thread font cache, open file descriptors. Unless MEMORY_SERVE_TRACE=0 it also writes OUTDIR/NNN.snap
(`tracemalloc.Snapshot.dump`, 10 frames a trace) and appends to OUTDIR/traced.tsv: seconds, the Python heap
tracemalloc sees (MB), its peak, VmRSS (MB). Tracing starts with the first snapshot, once the bot serves: on from
the first import, start-up takes ~40 s instead of ~1.5 s. What was allocated before is not traced; what grows
afterwards is. tracemalloc slows every allocation several times over (the bot then runs more threads at once): read
its figures as where memory goes, not how much; the counts alone cost one pass over gc's objects each time. Heap
and objects flat while RSS grows: the growth is outside Python objects (the allocator, native libraries).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
import time
import tracemalloc
from pathlib import Path

FRAMES = 10


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def counts() -> str:
    """gc-tracked objects, full collections so far, matplotlib Figures gc tracks (reachable or garbage not yet
    collected), FT2Font objects in matplotlib's per-thread font cache, open file descriptors."""
    font_manager = sys.modules.get("matplotlib.font_manager")
    figure = getattr(sys.modules.get("matplotlib.figure"), "Figure", None)
    tracked = gc.get_objects()
    figures = sum(1 for o in tracked if isinstance(o, figure)) if figure else 0
    fonts = font_manager._get_font.cache_info().currsize if font_manager else 0
    fds = len(list(Path("/proc/self/fd").iterdir()))
    return f"{len(tracked)}\t{gc.get_stats()[2]['collections']}\t{figures}\t{fonts}\t{fds}"


def keep_snapshots(out: Path, every: float, trace: bool) -> None:
    started = time.monotonic()
    time.sleep(every)
    if trace:
        tracemalloc.start(FRAMES)
    for number in range(10_000):
        if number:
            time.sleep(every)
        elapsed = time.monotonic() - started
        with (out / "counts.tsv").open("a") as tsv:
            tsv.write(f"{elapsed:.0f}\t{rss_mb():.1f}\t{counts()}\n")
        if not trace:
            continue
        tracemalloc.take_snapshot().dump(str(out / f"{number:03d}.snap"))
        traced, peak = tracemalloc.get_traced_memory()
        with (out / "traced.tsv").open("a") as tsv:
            tsv.write(f"{elapsed:.0f}\t{traced / 2**20:.1f}\t{peak / 2**20:.1f}\t{rss_mb():.1f}\n")


def compare(old: Path, new: Path, top: int = 15) -> None:
    """The allocation sites that grew most from `old` to `new`, and the biggest one's call stack."""
    before, after = tracemalloc.Snapshot.load(str(old)), tracemalloc.Snapshot.load(str(new))
    grown = after.compare_to(before, "lineno")
    for stat in grown[:top]:
        print(f"{stat.size_diff / 2**20:+8.2f} MB {stat.count_diff:+8d} blocks  {stat.traceback[0]}")
    stacks = after.compare_to(before, "traceback")
    if stacks:
        print(f"\nlargest growth ({stacks[0].size_diff / 2**20:+.2f} MB), allocated at:")
        for line in stacks[0].traceback.format():
            print("   " + line)


def main() -> int:
    if sys.argv[1] == "--compare":
        compare(Path(sys.argv[2]), Path(sys.argv[3]))
        return 0
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    every = float(os.environ.get("MEMORY_SERVE_EVERY", "60"))
    trace = os.environ.get("MEMORY_SERVE_TRACE", "1") != "0"
    threading.Thread(target=keep_snapshots, args=(out, every, trace), name="memory-snapshots", daemon=True).start()
    from bot.__main__ import main as bot_main

    return bot_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
