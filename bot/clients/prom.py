"""Prometheus: the DCGM exporter's per-GPU utilization and framebuffer metrics."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from urllib3.util.retry import Retry

from bot.clients import GpuSample, PrometheusSource
from bot.retry import BackendError, Timeout, call_with_retries, diagnose, where_of

T = TypeVar("T")
BACKEND = "prometheus"
UTIL, FB_USED, FB_FREE = "DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE"
GPU_QUERY = f'{{__name__=~"{UTIL}|{FB_USED}|{FB_FREE}"}}'
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

    def gpu_samples(self) -> list[GpuSample]:
        result = self._call(lambda: self._prom.custom_query(GPU_QUERY))
        return samples_from_series(result)

    def probe(self) -> str:
        build = self._call(self._build_info)
        count = self._call(lambda: self._prom.custom_query(f"count({UTIL})"))
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
        try:
            return fn()
        except PrometheusApiClientException as exc:
            match = _STATUS.search(str(exc))
            raise self._diagnose(exc, int(match.group(1)) if match else 0) from exc
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise self._diagnose(exc) from exc

    def _diagnose(self, exc: Exception, status: int | None = None) -> BackendError:
        # Credentials live in PROMETHEUS_URL too, so every fix the user can make is there.
        return diagnose(BACKEND, exc, where=where_of(self._url), timeout=self._timeout, status=status,
                        hints=HINTS, setting="PROMETHEUS_URL")


HINTS = {"connection": "check_setting", "auth": "check_setting", "forbidden": "check_setting"}


def samples_from_series(series: list[dict[str, Any]]) -> list[GpuSample]:
    """Join the three DCGM metrics of each GPU (by UUID, else host + index) into one sample."""
    by_gpu: dict[str, dict[str, Any]] = {}
    for item in series:
        labels = _pod_labels(item.get("metric", {}))
        entry = by_gpu.setdefault(_gpu_key(labels), {"labels": labels})
        if labels.get("pod") and not entry["labels"].get("pod"):
            entry["labels"] = labels
        entry[labels.get("__name__", "")] = _value(item.get("value"))
    return [_sample(entry) for entry in by_gpu.values()]


def _gpu_key(labels: dict[str, str]) -> str:
    return labels.get("UUID") or f"{labels.get('Hostname')}/{labels.get('gpu')}"


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


def _sample(entry: dict[str, Any]) -> GpuSample:
    labels = entry["labels"]
    return GpuSample(
        hostname=labels.get("Hostname") or labels.get("instance") or "?",
        gpu=labels.get("gpu", "?"),
        uuid=labels.get("UUID", ""),
        model=labels.get("modelName", ""),
        util_pct=entry.get(UTIL),
        fb_used_mib=entry.get(FB_USED),
        fb_free_mib=entry.get(FB_FREE),
        namespace=labels.get("namespace") or None,
        pod=labels.get("pod") or None,
        container=labels.get("container") or None,
        node=labels.get("node") or labels.get("kubernetes_node") or None,
    )


if TYPE_CHECKING:  # mypy proves that PrometheusClient satisfies the Protocol the domain calls
    _source: type[PrometheusSource] = PrometheusClient
