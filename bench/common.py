"""Shared pieces of the benchmarks: statistics, a timestamping Slack recorder, machine facts.

The scripts run from the repository root as `.venv/bin/python bench/<name>.py`; they import the
test support code (`tests.support`), so the root goes on sys.path before anything else.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.support.bot_process import BotProcess  # noqa: E402
from tests.support.slack_recorder import Call, SlackRecorder  # noqa: E402
from tests.support.waiting import wait_until  # noqa: E402

OUT = ROOT / "bench" / "out"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 150 samples is the 149th smallest)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil
    return ordered[int(rank) - 1]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"n": len(values), "p50": percentile(values, 50), "p99": percentile(values, 99),
            "max": max(values) if values else float("nan"),
            "mean": statistics.fmean(values) if values else float("nan")}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def ratio(a: float, b: float) -> str:
    return f"{a / b:5.2f}x" if b > 0 else "  n/a"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def commit() -> str:
    """The commit measured (short hash), or "?" outside a git checkout."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent.parent,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def machine() -> dict[str, Any]:
    mem_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    debian = Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?"
    return {"cores": os.cpu_count(), "mem_gib": mem_gib, "debian": debian,
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d %H:%M")}


def print_header(title: str) -> None:
    m = machine()
    print(f"== {title} ==")
    print(f"   {m['date']}  {m['cores']} cores, {m['mem_gib']} GiB RAM, Debian {m['debian']}, "
          f"Python {m['python']}")


def save(name: str, data: dict[str, Any]) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps({"machine": machine(), **data}, indent=2, default=str))
    return path


class TimedRecorder(SlackRecorder):
    """A SlackRecorder that also notes when each call arrived (perf_counter, this process's clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[float, Call]] = []
        self._arrival_lock = threading.Condition()
        self.latency = 0.0  # optional artificial delay per answer, seconds

    def answer(self, call: Call) -> tuple[int, dict[str, Any], dict[str, str]]:
        arrived = time.perf_counter()
        with self._arrival_lock:
            self.arrivals.append((arrived, call))
            self._arrival_lock.notify_all()
        if self.latency:
            time.sleep(self.latency)
        return super().answer(call)

    def wait_arrival(self, predicate: Callable[[Call], bool], timeout: float) -> float | None:
        """perf_counter time of the first arrival matching `predicate`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._arrival_lock:
            seen = 0
            while True:
                for stamp, call in self.arrivals[seen:]:
                    if predicate(call):
                        return stamp
                seen = len(self.arrivals)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._arrival_lock.wait(remaining)

    def last_arrival(self, default: float = 0.0) -> float:
        with self._arrival_lock:
            return self.arrivals[-1][0] if self.arrivals else default

    def matching(self, predicate: Callable[[Call], bool]) -> list[tuple[float, Call]]:
        with self._arrival_lock:
            return [(stamp, call) for stamp, call in self.arrivals if predicate(call)]

    def forget_arrivals(self) -> None:
        with self._arrival_lock:
            self.arrivals.clear()


def call_text(call: Call) -> str:
    return json.dumps(call.params, ensure_ascii=False)


def is_dm(call: Call) -> bool:
    return call.method == "chat.postMessage" and str(call.params.get("channel", "")).startswith("D")


def table(rows: Iterable[Sequence[str]]) -> str:
    rows = [list(r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)


class LaunchedBot(BotProcess):
    """BotProcess started through another script (e.g. bench/profile_serve.py) instead of `-m bot`."""

    def __init__(self, launcher: list[str], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.launcher = launcher

    def start(self, timeout: float = 60) -> float:
        self.starts += 1
        log = self.log_path.open("wb")
        started = time.perf_counter()
        self.process = subprocess.Popen([sys.executable, *self.launcher, "serve", "--host", "127.0.0.1"],
                                        cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._healthy, timeout, message=f"bot on {self.url} to answer /healthz")
        return time.perf_counter() - started


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
