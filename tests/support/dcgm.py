"""DCGM metric history for a real Prometheus, backfilled with promtool instead of waiting for scrapes.

Describe each GPU (or MIG slice) as dcgm-exporter labels it, with each metric a function of the age of
a sample ("seconds before the end"); `backfilled_prometheus` writes OpenMetrics, converts it with
`promtool tsdb create-blocks-from openmetrics` into a fresh data dir and starts Prometheus on it:

    POD = {"namespace": "ml", "pod": "train-1", "container": "trainer"}
    gpus = [Gpu("node-1", "0", labels=POD, metrics={UTIL: steps((3600, 90), (2400, 3))}),
            Gpu("node-1", "1", metrics={UTIL: constant(0)})]
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    with backfilled_prometheus(tmp_path, gpus, end) as prom:
        prom.query("avg_over_time(DCGM_FI_DEV_GPU_UTIL[15m])")  # evaluated at `end`

Use an `end` near the real now (now rounded down to the minute) and query at that time (PromQL's
`time` parameter; `prom.query` and `prom.query_range` default to it): an instant selector only looks
back 5 minutes, so at the server's own "now" the data is gone 5 minutes after `end`. Retention (15 d by
default) is not the limit: Prometheus 2.42 counts it back from the newest block, not from the wall clock,
and an `end` 40 days ago still answered after its retention check ran.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Self

import requests
import yaml

from tests.support.servers import APT_INSTALL, PrometheusServer, require_binary

PROF = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"  # ratio 0-1 (H100/A100 and other datacenter GPUs)
UTIL = "DCGM_FI_DEV_GPU_UTIL"  # percent
FB_USED = "DCGM_FI_DEV_FB_USED"  # MiB
FB_FREE = "DCGM_FI_DEV_FB_FREE"  # MiB
TEMP = "DCGM_FI_DEV_GPU_TEMP"  # degrees C
XID = "DCGM_FI_DEV_XID_ERRORS"  # the last XID error code, 0 = none
ECC_DBE = "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL"  # uncorrectable (double-bit) ECC errors, volatile count
THROTTLE = "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"  # bitmask, see below
THROTTLE_HW_SLOWDOWN, THROTTLE_SW_THERMAL, THROTTLE_HW_THERMAL, THROTTLE_HW_POWER_BRAKE = 0x8, 0x20, 0x40, 0x80
H100 = "NVIDIA H100 80GB HBM3"

Series = Callable[[float], float | None]  # seconds before the end (0 = newest sample) -> value, None = no sample


def constant(value: float) -> Series:
    """The same value at every age."""
    return lambda _age: value


def steps(*changes: tuple[float, float | None]) -> Series:
    """A value that changes at given ages: steps((3600, 90), (2400, 3)) is 90 from 60 min ago, 3 from 40 min ago on.

    Older than the oldest change there is no sample; a None value stops the series (a pod that ended).
    """
    ordered = sorted(changes, key=lambda change: change[0])  # youngest first

    def value(age: float) -> float | None:
        for since, found in ordered:
            if age <= since:
                return found
        return None
    return value


@dataclass(frozen=True)
class Gpu:
    """One GPU or MIG slice as dcgm-exporter labels it; `labels` adds or overrides labels.

    Pod labels are `namespace`/`pod`/`container`, or, scraped through Kubernetes service discovery,
    `exported_namespace`/`exported_pod`/`exported_container` next to the exporter's own `namespace`/`pod`.
    MIG slices carry `GPU_I_ID` and `GPU_I_PROFILE` (and share the parent's `gpu` and `UUID`).
    """

    hostname: str
    gpu: str
    model: str = H100
    uuid: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Series] = field(default_factory=dict)

    def all_labels(self) -> dict[str, str]:
        base = {"gpu": self.gpu, "UUID": self.uuid or f"GPU-{self.hostname}-{self.gpu}",
                "device": f"nvidia{self.gpu}", "modelName": self.model, "Hostname": self.hostname}
        return {**base, **self.labels}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f'{name}="{_escape(value)}"' for name, value in labels.items())


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 2**53 else repr(float(value))


def sample_ages(duration: timedelta, step: timedelta) -> list[float]:
    """Ages in seconds of the samples, oldest first: duration, duration - step, ..., 0."""
    count = int(duration.total_seconds() // step.total_seconds())
    return [(count - k) * step.total_seconds() for k in range(count + 1)]


def families(gpus: Sequence[Gpu]) -> list[str]:
    """Metric names in order of first appearance."""
    return list(dict.fromkeys(name for gpu in gpus for name in gpu.metrics))


def write_openmetrics(path: Path | str, gpus: Sequence[Gpu], end: datetime, duration: timedelta,
                      step: timedelta) -> int:
    """Write every GPU's samples from `end - duration` to `end` as OpenMetrics; returns the sample count."""
    ages = sample_ages(duration, step)
    stamps = [_number(round(end.timestamp() - age, 3)) for age in ages]
    written = 0
    with open(path, "w", encoding="utf-8", buffering=1 << 20) as out:
        for name in families(gpus):
            out.write(f"# TYPE {name} gauge\n")
            for gpu in gpus:
                if name in gpu.metrics:
                    written += _write_series(out, f"{name}{{{_labels_text(gpu.all_labels())}}} ",
                                             gpu.metrics[name], ages, stamps)
        out.write("# EOF\n")
    return written


def _write_series(out: IO[str], head: str, series: Series, ages: list[float], stamps: list[str]) -> int:
    lines = [f"{head}{_number(value)} {stamp}\n"
             for age, stamp in zip(ages, stamps, strict=True) if (value := series(age)) is not None]
    out.write("".join(lines))
    return len(lines)


class BackfilledPrometheus(PrometheusServer):
    """A Prometheus whose data dir is filled from `gpus` by promtool before it starts; it scrapes nothing.

    `timings` holds the seconds spent writing OpenMetrics, in promtool and until the first query answered.
    """

    def __init__(self, base_dir: Path | str, gpus: Sequence[Gpu], end: datetime,
                 duration: timedelta = timedelta(hours=1), step: timedelta = timedelta(minutes=1),
                 extra_args: Sequence[str] = ()) -> None:
        config = yaml.safe_dump({"global": {"scrape_interval": "1m", "evaluation_interval": "1m"},
                                 "scrape_configs": []})
        super().__init__(base_dir, config, extra_args, seed=self._backfill)
        self.gpus, self.end, self.duration, self.step = gpus, end, duration, step
        self.timings: dict[str, float] = {}
        self.samples = 0
        self._converted = 0.0  # perf_counter when promtool finished: "ready" is measured from there

    def start(self) -> Self:
        super().start()
        try:
            self._wait_ready(lambda: self.query(f'count({{__name__=~"{"|".join(families(self.gpus))}"}})'),
                             self.start_timeout, "prometheus to answer a query at `end`", interval=0.1)
        except BaseException:
            self.stop()
            raise
        self.timings["ready"] = time.perf_counter() - self._converted
        return self

    def _backfill(self, data_dir: Path) -> None:
        promtool = require_binary("promtool", f"{APT_INSTALL} prometheus")
        assert self.work_dir is not None
        source = self.work_dir / "dcgm.om.txt"
        started = time.perf_counter()
        self.samples = write_openmetrics(source, self.gpus, self.end, self.duration, self.step)
        converted = time.perf_counter()
        self.timings["write"] = converted - started
        run_promtool(promtool, source, data_dir, self.work_dir / "promtool.log")
        self._converted = time.perf_counter()
        self.timings["promtool"] = self._converted - converted

    def query(self, promql: str, at: datetime | None = None) -> list[Any]:
        """Instant query at `at` (default `end`); returns `data.result`."""
        return self._api("query", {"query": promql, "time": (at or self.end).timestamp()})

    def query_range(self, promql: str, start: datetime, end: datetime | None = None,
                    step: timedelta = timedelta(minutes=1)) -> list[Any]:
        """Range query from `start` to `end` (default the data's end); returns `data.result`."""
        return self._api("query_range", {"query": promql, "start": start.timestamp(),
                                         "end": (end or self.end).timestamp(), "step": step.total_seconds()})

    def _api(self, endpoint: str, params: dict[str, Any]) -> list[Any]:
        response = requests.get(f"{self.url}/api/v1/{endpoint}", params=params, timeout=30)
        response.raise_for_status()
        return response.json()["data"]["result"]


def run_promtool(promtool: str, source: Path, data_dir: Path, log_path: Path) -> None:
    """`promtool tsdb create-blocks-from openmetrics SOURCE DATA_DIR`; raises with its output on failure."""
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(data_dir)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    log_path.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")


def backfilled_prometheus(base_dir: Path | str, gpus: Iterable[Gpu], end: datetime,
                          duration: timedelta = timedelta(hours=1),
                          step: timedelta = timedelta(minutes=1)) -> BackfilledPrometheus:
    """A Prometheus holding `gpus`' history from `end - duration` to `end`; use it as a context manager."""
    return BackfilledPrometheus(base_dir, list(gpus), end, duration, step)
