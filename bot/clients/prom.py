"""Prometheus: dcgm-exporter's per-GPU utilization, memory, temperature and health, aggregated by the server."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from bot.clients import GpuProblem, GpuQuery, GpuReading, PrometheusSource
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
BACKEND = "prometheus"
PROF, UTIL = "DCGM_FI_PROF_GR_ENGINE_ACTIVE", "DCGM_FI_DEV_GPU_UTIL"
FB_USED, FB_FREE, TEMP = "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE", "DCGM_FI_DEV_GPU_TEMP"
XID, ECC_DBE, THROTTLE = "DCGM_FI_DEV_XID_ERRORS", "DCGM_FI_DEV_ECC_DBE_VOL_TOTAL", "DCGM_FI_DEV_CLOCK_THROTTLE_REASONS"
THERMAL_BITS = (0x20, 0x40)  # SW and HW thermal slowdown
POWER_BITS = (0x80, 0x08)  # HW power brake, HW slowdown
QUERIES_AT_ONCE = 16  # four per /gpu, four /gpu at a time
# What a reading keeps of a series' labels (the rest, e.g. instance, pci_bus_id, driver version, is dropped by the
# server); fields (memory, history…) need only the labels that find their GPU and its pod.
KEEP = ("UUID", "GPU_I_ID", "GPU_I_PROFILE", "Hostname", "gpu", "modelName", "namespace", "pod", "container",
        "exported_namespace", "exported_pod", "exported_container")
KEY = ("UUID", "GPU_I_ID", "Hostname", "gpu", "pod", "exported_pod")
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STATUS = re.compile(r"HTTP Status Code (\d{3})")


class PrometheusClient:
    demo = False

    def __init__(self, url: str, timeout: Any = None) -> None:
        self._url = url.rstrip("/")
        self._timeout = Timeout.of(timeout)
        self._session = requests.Session()
        # No retries inside the library: bot.retry decides, with jitter and metrics.
        no_retries = Retry(total=0, raise_on_status=False)
        self._prom = PrometheusConnect(url=self._url, session=self._session, timeout=self._timeout.pair(),
                                       retry=no_retries)
        # Replaces the library's adapter: concurrent /gpu commands share one session, and a pool as wide
        # as the lazy-listener pool avoids a new connection (and a warning) per query.
        self._session.mount(self._url, requests.adapters.HTTPAdapter(max_retries=no_retries, pool_maxsize=64))
        # The library's exception keeps only the status; the Retry-After of a throttling gateway in front of
        # Prometheus (Thanos, Mimir, a proxy) is noted per thread by this hook, for the retry to honour.
        self._answered = threading.local()
        self._session.hooks["response"].append(self._note_retry_after)
        self._pool = ThreadPoolExecutor(max_workers=QUERIES_AT_ONCE, thread_name_prefix="promql")

    def gpu_readings(self, query: GpuQuery) -> list[GpuReading]:
        """At most four queries, sent at once: utilization; memory and temperature; problems; history."""
        asked = [utilization_query(query)]
        asked += [memory_query(query.window, query.temperature)] if query.memory else []
        asked += [problems_query(query.window)] if query.problems else []
        asked += [history_query(query)] if query.history is not None else []
        usage, *fields = self._pool.map(lambda promql: self._query(promql, query.at), asked)
        if not usage:
            return []
        joined = Readings(usage, query)
        for series in fields:
            joined.add_fields(series)
        return joined.readings()

    def dcgm_targets(self) -> tuple[int, int]:
        targets = self._call(lambda: self._prom.custom_query('up{job=~".*dcgm.*"}'))
        return sum(1 for t in targets if _value(t.get("value")) == 1), len(targets)

    def _query(self, promql: str, at: datetime) -> list[dict[str, Any]]:
        params = {"time": f"{at.timestamp():.3f}"}
        return self._call(lambda: self._prom.custom_query(promql, params=params))

    def probe(self) -> str:
        build = self._call(self._build_info)
        count = self._call(lambda: self._prom.custom_query(f"count({UTIL} or {PROF})"))
        series = int(float(count[0]["value"][1])) if count else 0
        return f"Prometheus {build.get('version', '?')}, {series} GPU series"

    def _build_info(self) -> dict[str, Any]:
        response = self._session.get(f"{self._url}/api/v1/status/buildinfo", timeout=self._timeout.pair())
        if response.status_code != 200:
            raise PrometheusApiClientException(f"HTTP Status Code {response.status_code}")
        data = response.json().get("data", {})  # requests' json() is Any: check the shape Prometheus documents
        if not isinstance(data, dict):
            raise ValueError(f"buildinfo answered {type(data).__name__} data, not an object")
        return data

    def _call(self, fn: Callable[[], T]) -> T:
        return call_with_retries(BACKEND, lambda: self._translated(fn), budget=self._timeout.read)

    def _translated(self, fn: Callable[[], T]) -> T:
        self._answered.retry_after = None
        try:
            return fn()
        except PrometheusApiClientException as exc:
            match = _STATUS.search(str(exc))
            raise self._diagnose(exc, int(match.group(1)) if match else 0, self._answered.retry_after) from exc
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise self._diagnose(exc) from exc

    def _note_retry_after(self, response: requests.Response, *_args: Any, **_kwargs: Any) -> None:
        self._answered.retry_after = response.headers.get("Retry-After")

    def _diagnose(self, exc: Exception, status: int | None = None, retry_after: str | None = None) -> BackendError:
        # Credentials live in PROMETHEUS_URL too, so every fix the user can make is there.
        return diagnose(BACKEND, exc, where=where_of(self._url), timeout=self._timeout, status=status,
                        hints=HINTS, setting="PROMETHEUS_URL", retry_after=retry_after)


HINTS = {"connection": "check_setting", "auth": "check_setting", "forbidden": "check_setting"}


def _seconds(duration: timedelta) -> str:
    return f"{max(1, int(duration.total_seconds()))}s"


def _tagged(expr: str, name: str, value: str) -> str:
    return f'label_replace({expr}, "{name}", "{value}", "", "")'


def _current(function: str, metric: str, window: timedelta) -> str:
    # `and metric`: only series still reported, so a GPU whose pod changed within the window shows its pod now.
    return f"({function}({metric}[{_seconds(window)}]) and {metric})"


def _by(labels: tuple[str, ...]) -> str:
    """Label names for `by (…)`; a configured name Prometheus could not have (`a.b/c`) is left out."""
    return ", ".join(name for name in labels if _LABEL_NAME.match(name))


def utilization_query(query: GpuQuery) -> str:
    """Percent busy per GPU: DCGM_FI_PROF_GR_ENGINE_ACTIVE (0-1) where exported, else DCGM_FI_DEV_GPU_UTIL."""
    prof = _tagged(f"100 * {_current('avg_over_time', PROF, query.window)}", "util_source", "prof")
    dev = _tagged(_current("avg_over_time", UTIL, query.window), "util_source", "dev")
    keep = _by((*KEEP, *query.node_labels, "util_source"))
    return f"max by ({keep}) ({prof} or ignoring(util_source) {dev})"


def memory_query(window: timedelta, temperature: bool) -> str:
    """Framebuffer use averaged over the window (and the last temperature); a series of a pod that no longer
    holds the GPU is told apart by its pod label when joined, so no `and metric` here."""
    fields = [_tagged(f"avg_over_time({FB_USED}[{_seconds(window)}])", "field", "fb_used"),
              _tagged(f"avg_over_time({FB_FREE}[{_seconds(window)}])", "field", "fb_free")]
    if temperature:
        fields.append(_tagged(f"last_over_time({TEMP}[{_seconds(window)}])", "field", "temp"))
    return f"max by ({_by((*KEY, 'field'))}) ({' or '.join(fields)})"


def problems_query(window: timedelta) -> str:
    fields = " or ".join([_tagged(f"{_current('last_over_time', XID, window)} != 0", "field", "xid"),
                          _tagged(f"{_current('last_over_time', ECC_DBE, window)} > 0", "field", "ecc"),
                          _tagged(f"{_current('last_over_time', THROTTLE, window)} >= 8", "field", "throttle")])
    return f"max by ({_by((*KEY, 'field'))}) ({fields})"


def history_query(query: GpuQuery) -> str:
    """When each GPU idle now was last busy, and since when each problem shows, as Unix times."""
    assert query.history is not None
    span = f"[{_seconds(query.history)}:{_seconds(query.step)}]"
    window = _seconds(query.window)
    idle_now = f"(100 * avg_over_time({PROF}[{window}]) or avg_over_time({UTIL}[{window}])) < {query.threshold_pct:g}"
    busy = f"(100 * {PROF} or {UTIL}) >= {query.threshold_pct:g}"
    parts = [_tagged(f"max_over_time(timestamp({busy}){span}) and on({_by(KEY)}) ({idle_now})", "field", "busy_at")]
    if query.problems:
        parts += [_tagged(f"min_over_time(timestamp({XID} != 0){span})", "field", "xid_since"),
                  _tagged(f"min_over_time(timestamp({ECC_DBE} > 0){span})", "field", "ecc_since"),
                  _tagged(f"min_over_time(timestamp({THROTTLE} >= 8){span})", "field", "throttle_since")]
    return f"min by ({_by((*KEY, 'field'))}) ({' or '.join(parts)})"


class Readings:
    """Series of several queries joined into one GpuReading per GPU (or MIG slice)."""

    def __init__(self, usage: list[dict[str, Any]], query: GpuQuery) -> None:
        self._query = query
        self._labels: dict[str, dict[str, str]] = {}
        self._fields: dict[str, dict[str, float | None]] = {}
        for item in usage:
            labels = _pod_labels(item.get("metric", {}))
            key = _gpu_key(labels)
            if key in self._labels and not labels.get("pod"):
                continue  # the same GPU seen with and without a pod: the pod's series says who holds it
            self._labels[key] = labels
            self._fields[key] = {"util": _value(item.get("value"))}

    def add_fields(self, series: list[dict[str, Any]]) -> None:
        """Values tagged `field`; a problem's start counts from any series of the GPU, everything else only
        from the series of the pod holding it now."""
        for item in series:
            labels = _pod_labels(item.get("metric", {}))
            key, name, value = _gpu_key(labels), labels.get("field", ""), _value(item.get("value"))
            fields = self._fields.get(key)
            if fields is None or value is None:
                continue
            if name.endswith("_since"):
                fields[name] = min(value, fields.get(name) or value)
            elif labels.get("pod", "") == self._labels[key].get("pod", ""):
                fields[name] = value

    def readings(self) -> list[GpuReading]:
        return [self._reading(self._labels[key], self._fields[key]) for key in self._labels]

    def _reading(self, labels: dict[str, str], fields: dict[str, float | None]) -> GpuReading:
        source = labels.get("util_source") or None
        mig = labels.get("GPU_I_PROFILE") or None
        util = None if mig and source == "dev" else fields.get("util")  # DEV reads 0 on MIG slices
        return GpuReading(
            hostname=labels.get("Hostname") or labels.get("instance") or "?", gpu=labels.get("gpu", "?"),
            uuid=labels.get("UUID", ""), model=labels.get("modelName", ""), util_pct=util, util_source=source,
            mig_profile=mig, mig_instance=labels.get("GPU_I_ID") or None,
            fb_used_mib=fields.get("fb_used"), fb_free_mib=fields.get("fb_free"), temp_c=fields.get("temp"),
            namespace=labels.get("namespace") or None, pod=labels.get("pod") or None,
            container=labels.get("container") or None,
            node=next((labels[name] for name in self._query.node_labels if labels.get(name)), None),
            problems=_problems(fields), busy_at=_moment(fields.get("busy_at")))


def _problems(fields: dict[str, float | None]) -> tuple[GpuProblem, ...]:
    found = []
    for kind in ("xid", "ecc"):
        value = fields.get(kind)
        if value:
            found.append(GpuProblem(kind, value, _moment(fields.get(f"{kind}_since"))))
    reasons = int(fields.get("throttle") or 0)
    since = _moment(fields.get("throttle_since"))
    for kind, bits in (("thermal", THERMAL_BITS), ("power", POWER_BITS)):
        if any(reasons & bit for bit in bits):
            found.append(GpuProblem(kind, float(reasons), since))
    return tuple(found)


def _moment(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _gpu_key(labels: dict[str, str]) -> str:
    base = labels.get("UUID") or f"{labels.get('Hostname')}/{labels.get('gpu')}"
    return base + (f"/{labels['GPU_I_ID']}" if labels.get("GPU_I_ID") else "")


def _pod_labels(labels: dict[str, str]) -> dict[str, str]:
    # Scraped through Kubernetes service discovery, the target's own namespace/pod labels (the
    # exporter's) win and DCGM's become exported_namespace/exported_pod/exported_container.
    if "exported_pod" not in labels and "exported_namespace" not in labels:
        return labels
    merged = dict(labels)
    for name in ("namespace", "pod", "container"):
        merged[name] = labels.get(f"exported_{name}", "")
    return merged


def _value(pair: Any) -> float | None:
    try:
        value = float(pair[1])
    except (TypeError, ValueError, IndexError):
        return None
    return None if value != value else value  # NaN means "no reading"


if TYPE_CHECKING:  # mypy proves that PrometheusClient satisfies the Protocol the domain calls
    _source: type[PrometheusSource] = PrometheusClient
