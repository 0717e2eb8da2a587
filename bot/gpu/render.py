"""Block Kit for /gpu: totals, one line per node, the idle GPUs."""

from __future__ import annotations

from bot.escape import escape
from bot.gpu.model import GpuSummary, IdleGpu, NodeRow
from bot.i18n import t
from bot.render.blocks import SECTION_LIMIT, Block, context, header, section
from bot.render.text import fit_lines
from bot.render.time import stamp


def gpu_blocks(summary: GpuSummary, lang: str) -> list[Block]:
    blocks = [header(_title(summary, lang))]
    if not summary.nodes:
        blocks.append(section(_nothing(summary, lang)))
    else:
        blocks += [section(_totals(summary, lang)), section(_nodes(summary.nodes, lang)),
                   section(_idle(summary, lang))]
    threshold = _pct(summary.threshold_pct, lang)
    blocks.append(context(t("gpu.as_of", lang, time=stamp(summary.as_of), threshold=threshold)))
    if summary.demo:
        blocks.append(context(t("gpu.demo", lang)))
    return blocks


def _title(summary: GpuSummary, lang: str) -> str:
    return t("gpu.title_team", lang, team=summary.team) if summary.team else t("gpu.title_org", lang)


def _nothing(summary: GpuSummary, lang: str) -> str:
    if summary.team:
        return t("gpu.none_team", lang, team=escape(summary.team), namespaces=_namespaces(summary))
    return t("gpu.none_org", lang)


def _totals(summary: GpuSummary, lang: str) -> str:
    util = _pct(summary.avg_util_pct, lang)
    if summary.team:
        return t("gpu.totals_team", lang, namespaces=_namespaces(summary), total=summary.total_gpus,
                 idle=summary.allocated_idle_gpus, util=util)
    return t("gpu.totals_org", lang, total=summary.total_gpus, allocated=summary.allocated_gpus,
             idle=summary.idle_gpus, util=util)


def _nodes(rows: list[NodeRow], lang: str) -> str:
    lines = [t("gpu.node_line", lang, node=escape(row.node), model=escape(_short_model(row.model)),
               allocated=row.allocated, gpus=row.gpus, util=_pct(row.avg_util_pct, lang)) for row in rows]
    return _with_heading(t("gpu.nodes_heading", lang), lines, lang)


def _idle(summary: GpuSummary, lang: str) -> str:
    threshold = _pct(summary.threshold_pct, lang)
    if not summary.idle:
        return t("gpu.no_idle", lang, threshold=threshold)
    lines = [_idle_line(gpu, lang) for gpu in summary.idle]
    return _with_heading(t("gpu.idle_heading", lang, threshold=threshold), lines, lang)


def _idle_line(gpu: IdleGpu, lang: str) -> str:
    common = {"node": escape(gpu.node), "gpu": escape(gpu.gpu), "util": _pct(gpu.util_pct, lang)}
    if gpu.allocated:
        return t("gpu.idle_allocated", lang, namespace=escape(gpu.namespace or ""), pod=escape(gpu.pod or ""),
                 **common)
    return t("gpu.idle_free", lang, **common)


def _with_heading(heading: str, lines: list[str], lang: str) -> str:
    body = fit_lines(lines, lambda n: t("gpu.more", lang, count=n), SECTION_LIMIT - len(heading) - 1)
    return f"{heading}\n{body}"


def _namespaces(summary: GpuSummary) -> str:
    return ", ".join(f"`{escape(ns)}`" for ns in summary.namespaces)


def _short_model(model: str) -> str:
    return model.removeprefix("NVIDIA ").strip() or "?"


def _pct(value: float | None, lang: str) -> str:
    return t("gpu.no_data", lang) if value is None else t("gpu.pct", lang, value=f"{value:.0f}")
