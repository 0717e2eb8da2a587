"""A server under cProfile in every thread, to see what a benchmark spends CPU on.

    .venv/bin/python bench/profile_serve.py OUT.pstats serve --host 127.0.0.1
    .venv/bin/python bench/profile_serve.py OUT.pstats bench/bare_app.py --port 3100

The arguments after OUT.pstats are those of `python -m bot`, or a script and its arguments.
Every thread carries a small Python profile hook; once the file OUT.pstats.on appears (after
warm-up) each thread swaps it for its own cProfile profiler at its next call, and all of them
are merged into OUT.pstats when the process gets SIGTERM. The hook slows start-up and warm-up;
ignore those. Times are each thread's CPU time (time.thread_time): waiting for I/O, locks or
the GIL does not count. cProfile slows Python code several times over, so read the figures as
proportions. `bench/ack.py --profile` uses this; read a file with `python -m pstats OUT.pstats`.
"""

from __future__ import annotations

import atexit
import cProfile
import pstats
import runpy
import sys
import threading
import time
from pathlib import Path

_profiles: list[cProfile.Profile] = []
_lock = threading.Lock()
_armed = False


def _swap_in(*_args: object) -> None:
    """Each thread's profile hook until armed; then it installs a real cProfile in that thread."""
    if not _armed:
        return
    sys.setprofile(None)
    profile = cProfile.Profile(time.thread_time)  # CPU time of this thread, not wall time
    with _lock:
        _profiles.append(profile)
    profile.enable()


def _dump(out: Path) -> None:
    global _armed
    _armed = False
    merged: pstats.Stats | None = None
    with _lock:
        profiles = list(_profiles)
    for profile in profiles:
        try:
            profile.create_stats()
            if not profile.stats:  # type: ignore[attr-defined]
                continue
            merged = pstats.Stats(profile) if merged is None else merged.add(profile)
        except Exception:  # a thread's profile that cannot be read: skip it
            continue
    if merged is not None:
        merged.dump_stats(str(out))
    print(f"profile of {len(profiles)} threads written to {out}", file=sys.stderr)


def main() -> int:
    out = Path(sys.argv[1])
    gate = Path(str(out) + ".on")
    atexit.register(_dump, out)

    def arm() -> None:
        global _armed
        while not gate.exists():
            time.sleep(0.05)
        _armed = True

    threading.Thread(target=arm, daemon=True).start()
    threading.setprofile(_swap_in)
    sys.setprofile(_swap_in)
    if sys.argv[2].endswith(".py"):  # another server script, e.g. bench/bare_app.py
        sys.argv = sys.argv[2:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        return 0
    from bot.__main__ import main as bot_main

    return bot_main(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
