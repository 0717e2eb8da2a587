"""PromQL for the monitoring tests: the metric names an expression reads, the series the bot exports, and
`promtool check rules` on a rule file."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from tests.support.servers import APT_INSTALL, require_binary

# Series Prometheus makes itself for every target; the bot's rules may read them, its panels need not.
PROMETHEUS_SERIES = frozenset({"up"})
# What a bare word can be in PromQL besides a metric name.
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool", "and", "or",
                      "unless", "inf", "nan", "start", "end", "atan2"})
SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count", "_created"),
            "summary": ("", "_sum", "_count", "_created"), "info": ("_info",), "stateset": ("",),
            "enum": ("",), "unknown": ("",)}

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_LABEL_LISTS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_WORD = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (functions, keywords, label names and durations left out)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _LABEL_LISTS.sub(" ", text)
    return {match.group(1) for match in _WORD.finditer(text)
            if not match.group(2) and match.group(1).lower() not in KEYWORDS}


def bot_series() -> dict[str, str]:
    """Every series name bot/metrics.py exports → its metric's Python name (Counter `bot_acks_total` →
    bot_acks_total, bot_acks_created; Histogram → _bucket, _sum, _count, _created), checked to be registered
    in the default registry that /metrics serves."""
    import bot.metrics

    registered = {family.name for family in REGISTRY.collect()}
    series: dict[str, str] = {}
    for attribute, metric in vars(bot.metrics).items():
        if not isinstance(metric, MetricWrapperBase):
            continue
        for family in metric.collect():
            assert family.name in registered, f"bot.metrics.{attribute} is not in the registry /metrics serves"
            for suffix in SUFFIXES[family.type]:
                series[family.name + suffix] = attribute
    return series


def unknown_metrics(exprs: dict[str, str], also: frozenset[str] = frozenset()) -> dict[str, set[str]]:
    """Expression id → the metric names it reads that the bot does not export (nor `also` allows)."""
    known = set(bot_series()) | also
    found = {where: metric_names(expr) - known for where, expr in exprs.items()}
    return {where: names for where, names in found.items() if names}


def promtool() -> str:
    return require_binary("promtool", f"{APT_INSTALL} prometheus (Debian's package ships /usr/bin/promtool)")


def check_rules(rule_file: dict[str, Any], directory: Path) -> subprocess.CompletedProcess[str]:
    """`promtool check rules` on a rule file ({groups: [...]}) written into `directory`."""
    path = directory / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_file, sort_keys=False), encoding="utf-8")
    return subprocess.run([promtool(), "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                          check=False)


def recording_rules(exprs: dict[str, str]) -> dict[str, Any]:
    """A rule file recording each expression, so promtool parses and type-checks it."""
    rules = [{"record": "check:" + re.sub(r"[^A-Za-z0-9_]", "_", where), "expr": expr} for where, expr in exprs.items()]
    return {"groups": [{"name": "expressions", "rules": rules}]}
