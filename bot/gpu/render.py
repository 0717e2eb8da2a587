"""Block Kit for /gpu: the summary, idle GPUs with their owners, one node/namespace/team, the queue, health,
the owner's nudge and the scheduled posts; a CSV of every row when a list is cut."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from bot.clients import GpuProblem
from bot.durations import format_duration
from bot.escape import Markup, escape
from bot.gpu.model import Fleet, Gpu, GpuSummary, HealthReport, IdleReport, QueuedPod, Scope, Totals
from bot.i18n import t
from bot.render.blocks import SECTION_LIMIT, Block, actions, button, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import local
from bot.retry import backend_error_text
from bot.settings import Team

REASON_CHARS = 160
NOTIFY, SNOOZE = "gpu_notify", "gpu_snooze"


# The views ---------------------------------------------------------------------------------------------
def summary_blocks(summary: GpuSummary, lang: str, tz: str, top: int) -> list[Block]:
    fleet = summary.fleet
    blocks = [header(_title(fleet.scope, lang)), *_problems_seeing(fleet, lang)]
    if fleet.gpus or fleet.nodes:
        blocks.append(section(_totals(fleet, summary.totals, lang)))
    if summary.models:
        blocks.append(section(_models(summary, lang)))
    if fleet.gpus or fleet.pods:
        blocks += [section(_idle_overview(fleet, summary.idle_usd_per_day, lang, top)),
                   section(_unhealthy_overview(fleet, lang, top))]
    if fleet.pods:  # none known when Kubernetes could not be read
        blocks.append(section(_queue_overview(fleet, lang, top)))
    if summary.holders:
        lines = [t("gpu.holder_line", lang, name=h.name, gpus=h.gpus, util=pct(h.util_pct, lang), idle=h.idle)
                 for h in summary.holders]
        key = "gpu.holders_teams" if fleet.scope.kind == "cluster" else "gpu.holders_namespaces"
        blocks.append(section(_with_heading(t(key, lang), lines, lang)))
    if not fleet.gpus and not fleet.nodes and not fleet.no_metrics:
        blocks.append(section(_nothing(fleet.scope, lang)))
    return blocks + _footer(fleet, lang, tz)


def idle_blocks(report: IdleReport, lang: str, tz: str, top: int) -> list[Block]:
    fleet, now = report.fleet, report.fleet.as_of
    blocks = [header(t("gpu.idle_title", lang, scope=Markup(_scope_name(fleet.scope, lang)))),
              *_problems_seeing(fleet, lang)]
    pods = _by_pod(report.gpus)
    if not pods:
        blocks.append(section(t("gpu.no_idle", lang, threshold=pct(fleet.threshold_pct, lang),
                                window=format_duration(fleet.window))))
    else:
        so_far = sum(g.idle_cost(now) or 0 for g in report.gpus)
        blocks.append(section(t("gpu.idle_totals", lang, gpus=len(report.gpus), pods=len(pods),
                                per_day=usd(report.usd_per_day), so_far=usd(so_far),
                                threshold=pct(fleet.threshold_pct, lang), window=format_duration(fleet.window))))
        for gpus in pods[:top]:
            blocks += [section(_idle_pod(gpus, now, lang)), _idle_buttons(gpus[0], lang)]
        if len(pods) > top:
            blocks.append(section(t("gpu.more_pods", lang, count=len(pods) - top,
                                    gpus=sum(len(g) for g in pods[top:]))))
    if fleet.snoozed:
        blocks.append(context(t("gpu.snoozed_hidden", lang, count=len(_by_pod(fleet.snoozed)))))
    return blocks + _footer(fleet, lang, tz)


def focus_blocks(summary: GpuSummary, lang: str, tz: str, top: int) -> list[Block]:
    """One node, namespace or team down to each GPU."""
    fleet = summary.fleet
    blocks = [header(_title(fleet.scope, lang)), *_problems_seeing(fleet, lang)]
    if not fleet.gpus and not fleet.pods:
        return [*blocks, section(_nothing(fleet.scope, lang)), *_footer(fleet, lang, tz)]
    blocks.append(section(_totals(fleet, summary.totals, lang)))
    lines = [_gpu_line(gpu, lang) for gpu in fleet.gpus]
    blocks.append(section(_with_heading(t("gpu.gpus_heading", lang), lines, lang, top * 4)))
    waiting = fleet.waiting
    if waiting:
        blocks.append(section(_queue_overview(fleet, lang, top)))
    return blocks + _footer(fleet, lang, tz)


def queue_blocks(queued: Sequence[QueuedPod], scope: Scope, now: datetime, lang: str, top: int) -> list[Block]:
    blocks = [header(t("gpu.queue_title", lang, scope=Markup(_scope_name(scope, lang))))]
    if not queued:
        return [*blocks, section(t("gpu.queue_empty", lang))]
    groups: dict[tuple[str, str], list[QueuedPod]] = defaultdict(list)
    for pod in queued:
        groups[(pod.namespace, pod.priority_class or "")].append(pod)
    blocks.append(section(t("gpu.queue_totals", lang, pods=len(queued), gpus=sum(q.gpus for q in queued))))
    ordered = sorted(groups.items(), key=lambda item: -sum(q.gpus for q in item[1]))
    for (namespace, priority), pods in ordered[:top]:
        heading = t("gpu.queue_group", lang, namespace=namespace, pods=len(pods), gpus=sum(q.gpus for q in pods),
                    priority=priority or t("gpu.no_priority", lang))
        lines = [_queued_line(q, now, lang) for q in pods]
        blocks.append(section(_with_heading(heading, lines, lang, top)))
    if len(ordered) > top:
        blocks.append(context(t("gpu.more", lang, count=len(ordered) - top)))
    reason = _cut(queued[0].reason, REASON_CHARS)
    if reason:
        blocks.append(context(t("gpu.queue_reason", lang, reason=reason)))
    return blocks


def health_blocks(report: HealthReport, lang: str, tz: str, top: int) -> list[Block]:
    fleet = report.fleet
    blocks = [header(t("gpu.health_title", lang, scope=Markup(_scope_name(fleet.scope, lang)))),
              *_problems_seeing(fleet, lang)]
    if not report.unhealthy and not report.missing:
        blocks.append(section(t("gpu.healthy", lang, gpus=len(fleet.gpus))))
    if report.unhealthy:
        lines = [_unhealthy_line(gpu, lang, tz) for gpu in report.unhealthy]
        blocks.append(section(_with_heading(t("gpu.unhealthy_heading", lang, count=len(lines)), lines, lang, top * 3)))
    if report.missing:
        lines = [t("gpu.missing_line", lang, node=m.node, allocatable=m.allocatable, reported=m.reported)
                 for m in report.missing]
        blocks.append(section(_with_heading(t("gpu.missing_heading", lang), lines, lang, top * 3)))
    return blocks + _footer(fleet, lang, tz)


def not_found_text(kind: str, name: str, closest: Sequence[str], lang: str) -> str:
    if not closest:
        return t("gpu.not_found", lang, kind=t(f"gpu.kind_{kind}", lang), name=name)
    return t("gpu.not_found_closest", lang, kind=t(f"gpu.kind_{kind}", lang), name=name,
             closest=Markup(", ".join(f"`{escape(c)}`" for c in closest)))


# The nudge and the scheduled posts --------------------------------------------------------------------
def nudge_blocks(gpus: Sequence[Gpu], now: datetime, lang: str, mention: str | None) -> list[Block]:
    """To the owner of an idle pod: firm, kind, and with the way out."""
    first = gpus[0]
    assert first.holder is not None
    idle_for = first.idle_for(now)
    text = t("gpu.nudge", lang, pod=first.holder.key, gpus=len(gpus), model=short_model(first.model),
             node=first.node, util=pct(first.util_pct, lang),
             idle=format_duration(idle_for) if idle_for else t("gpu.a_while", lang),
             so_far=usd(sum(g.idle_cost(now) or 0 for g in gpus)),
             per_day=usd(sum(g.usd_per_hour for g in gpus) * 24))
    return [section(text), actions(button(t("gpu.button_snooze", lang), SNOOZE, {"pod": first.holder.key}))]


def idle_post_blocks(team: Team, gpus: Sequence[Gpu], hours: float, window: timedelta, now: datetime,
                     lang: str) -> list[Block]:
    pods = _by_pod(gpus)
    blocks = [section(t("gpu.idle_post", lang, team=team.name, hours=f"{hours:.1f}", gpus=len(gpus),
                        window=format_duration(window),
                        per_day=usd(sum(g.usd_per_hour for g in gpus) * 24)))]
    lines = [_idle_pod(group, now, lang) for group in pods]
    blocks.append(section(fit_lines(lines, lambda n: t("gpu.more", lang, count=n))))
    return [*blocks, context(t("gpu.idle_post_hint", lang))]


def back_to_work_blocks(lang: str) -> list[Block]:
    return [section(t("gpu.back_to_work", lang))]


def unhealthy_post_blocks(gpus: Sequence[Gpu], node: str, missing: int, lang: str) -> list[Block]:
    if not gpus:
        return [section(t("gpu.missing_post", lang, node=node, count=missing))]
    lines = [_unhealthy_line(gpu, lang, "UTC") for gpu in gpus]
    return [section(t("gpu.unhealthy_post", lang) + "\n" + "\n".join(lines))]


def healthy_again_blocks(lang: str) -> list[Block]:
    return [section(t("gpu.healthy_again", lang))]


def gpus_csv(gpus: Iterable[Gpu], now: datetime) -> str:
    """Every row of a list cut for Slack, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["node", "gpu", "mig_profile", "model", "namespace", "pod", "container", "owner", "team",
                     "util_pct", "util_source", "mem_used_mib", "mem_total_mib", "temp_c", "idle",
                     "idle_hours", "usd_per_hour", "idle_usd_so_far", "problems"])
    for g in gpus:
        h, idle_for = g.holder, g.idle_for(now)
        writer.writerow([g.node, g.gpu, g.mig_profile or "", g.model, h.namespace if h else "", h.pod if h else "",
                         (h.container or "") if h else "", (h.owner or "") if h else "", (h.team or "") if h else "",
                         _num(g.util_pct), g.util_source or "", _num(g.fb_used_mib), _num(g.fb_total_mib),
                         _num(g.temp_c), "yes" if g.idle else "",
                         _num(idle_for.total_seconds() / 3600 if idle_for else None), f"{g.usd_per_hour:.2f}",
                         _num(g.idle_cost(now)), " ".join(p.kind for p in g.problems)])
    return out.getvalue()


# Pieces ------------------------------------------------------------------------------------------------
def _title(scope: Scope, lang: str) -> str:
    return t("gpu.title", lang, scope=Markup(_scope_name(scope, lang)))


def _scope_name(scope: Scope, lang: str) -> str:
    if scope.kind == "cluster":
        return t("gpu.scope_cluster", lang)
    return t(f"gpu.scope_{scope.kind}", lang, name=scope.name)


def _problems_seeing(fleet: Fleet, lang: str) -> list[Block]:
    blocks = []
    if fleet.targets is not None:
        up, total = fleet.targets
        blocks.append(section(t("gpu.no_metrics", lang, up=up, total=total)))
    if fleet.allocation_error is not None:
        blocks.append(section(t("gpu.no_allocation", lang,
                                reason=Markup(backend_error_text(fleet.allocation_error, lang)))))
    return blocks


def _totals(fleet: Fleet, totals: Totals, lang: str) -> str:
    common = {"util": pct(totals.util_pct, lang), "mem": pct(totals.mem_pct, lang),
              "window": format_duration(fleet.window)}
    if fleet.allocation_error is not None:
        return t("gpu.totals_no_allocation", lang, total=totals.total, held=totals.allocated, **common)
    if fleet.scope.whole:
        return t("gpu.totals", lang, total=totals.total, allocated=totals.allocated, free=totals.free, **common)
    return t("gpu.totals_held", lang, held=totals.allocated, **common)


def _models(summary: GpuSummary, lang: str) -> str:
    lines = [t("gpu.model_line", lang, model=short_model(m.model), gpus=m.gpus, allocated=m.allocated,
               util=pct(m.util_pct, lang), mem=pct(m.mem_pct, lang)) for m in summary.models]
    return _with_heading(t("gpu.models_heading", lang), lines, lang)


def _idle_overview(fleet: Fleet, per_day: float, lang: str, top: int) -> str:
    idle = fleet.idle
    threshold, window = pct(fleet.threshold_pct, lang), format_duration(fleet.window)
    if not idle:
        return t("gpu.no_idle", lang, threshold=threshold, window=window)
    heading = t("gpu.idle_heading", lang, count=len(idle), threshold=threshold, window=window, per_day=usd(per_day))
    lines = [t("gpu.idle_line", lang, pod=g.holder.key if g.holder else "", gpu=g.name, util=pct(g.util_pct, lang),
               per_day=usd(g.usd_per_hour * 24)) for g in sorted(idle, key=lambda g: -g.usd_per_hour)]
    return _with_heading(heading, lines, lang, top, hint=t("gpu.idle_hint", lang))


def _unhealthy_overview(fleet: Fleet, lang: str, top: int) -> str:
    bad = fleet.unhealthy
    if not bad:
        return t("gpu.no_unhealthy", lang)
    lines = [t("gpu.unhealthy_short", lang, gpu=g.name, problems=Markup(_problem_words(g.problems, lang)))
             for g in bad]
    return _with_heading(t("gpu.unhealthy_heading", lang, count=len(bad)), lines, lang, top,
                         hint=t("gpu.health_hint", lang))


def _queue_overview(fleet: Fleet, lang: str, top: int) -> str:
    waiting = sorted(fleet.waiting, key=lambda p: (p.created is None, p.created))
    if not waiting:
        return t("gpu.queue_empty", lang)
    lines = [_queued_line(QueuedPod.of(p), fleet.as_of, lang) for p in waiting]
    heading = t("gpu.queue_heading", lang, pods=len(waiting), gpus=sum(p.gpus for p in waiting))
    return _with_heading(heading, lines, lang, top, hint=t("gpu.queue_hint", lang))


def _queued_line(q: QueuedPod, now: datetime, lang: str) -> str:
    waited = format_duration(now - q.waiting_since) if q.waiting_since else t("gpu.a_while", lang)
    key = "gpu.queued_line_attempts" if q.attempts else "gpu.queued_line"
    return t(key, lang, pod=f"{q.namespace}/{q.pod}", gpus=q.gpus, waited=waited, attempts=q.attempts)


def _by_pod(gpus: Iterable[Gpu]) -> list[list[Gpu]]:
    """Idle GPUs grouped by the pod holding them, the costliest pod first."""
    groups: dict[str, list[Gpu]] = defaultdict(list)
    for gpu in gpus:
        if gpu.holder:
            groups[gpu.holder.key].append(gpu)
    return sorted(groups.values(), key=lambda group: (-sum(g.usd_per_hour for g in group), group[0].holder.key
                                                      if group[0].holder else ""))


def _idle_pod(gpus: list[Gpu], now: datetime, lang: str) -> str:
    first = gpus[0]
    holder = first.holder
    assert holder is not None
    idle_for = max((g.idle_for(now) or timedelta(0) for g in gpus), default=timedelta(0))
    owner = _owner(holder.owner, lang)
    return t("gpu.idle_pod", lang, pod=holder.key, owner=Markup(owner), team=holder.team or "—",
             gpus=len(gpus), model=short_model(first.model), node=first.node,
             indexes=", ".join(g.gpu + (f" ({g.mig_profile})" if g.mig_profile else "") for g in gpus),
             util=", ".join(pct(g.util_pct, lang) for g in gpus), idle=format_duration(idle_for),
             so_far=usd(sum(g.idle_cost(now) or 0 for g in gpus)), per_day=usd(sum(g.usd_per_hour for g in gpus) * 24))


def _owner(owner: str | None, lang: str) -> str:
    if not owner:
        return t("gpu.no_owner", lang)
    if owner.startswith(("U", "W")) and owner[1:].isalnum() and owner.isupper():
        return mention(owner)
    return f"`{escape(owner)}`"


def _idle_buttons(gpu: Gpu, lang: str) -> Block:
    pod = gpu.holder.key if gpu.holder else ""
    return actions(button(t("gpu.button_notify", lang), NOTIFY, {"pod": pod}),
                   button(t("gpu.button_snooze", lang), SNOOZE, {"pod": pod}))


def _gpu_line(gpu: Gpu, lang: str) -> str:
    holder = gpu.holder
    held = t("gpu.held_by", lang, pod=holder.key, container=holder.container or "—") if holder else t("gpu.free", lang)
    mem = t("gpu.mem", lang, used=_gib(gpu.fb_used_mib), total=_gib(gpu.fb_total_mib)) if gpu.fb_total_mib else ""
    temp = f" · {gpu.temp_c:.0f}°C" if gpu.temp_c is not None else ""
    health = _problem_words(gpu.problems, lang) if gpu.problems else "✅"
    idle = t("gpu.idle_mark", lang) if gpu.idle else ""
    return t("gpu.gpu_line", lang, gpu=gpu.name, model=short_model(gpu.model), held=Markup(held),
             util=pct(gpu.util_pct, lang), mem=mem, temp=temp, health=Markup(health), idle=Markup(idle))


def _unhealthy_line(gpu: Gpu, lang: str, tz: str) -> str:
    holder = gpu.holder
    parts = [_problem(p, lang, tz) for p in gpu.problems]
    return t("gpu.unhealthy_line", lang, gpu=gpu.name, pod=holder.key if holder else t("gpu.free", lang),
             problems=Markup("; ".join(parts)))


def _problem(problem: GpuProblem, lang: str, tz: str) -> str:
    text = t(f"gpu.problem_{problem.kind}", lang, value=f"{problem.value:.0f}")
    if problem.since is None:
        return text
    return t("gpu.problem_since", lang, problem=Markup(text), since=f"{local(problem.since, tz):%m-%d %H:%M}")


def _problem_words(problems: Sequence[GpuProblem], lang: str) -> str:
    return "⚠️ " + ", ".join(t(f"gpu.problem_{p.kind}", lang, value=f"{p.value:.0f}") for p in problems)


def _nothing(scope: Scope, lang: str) -> str:
    return t("gpu.none_cluster", lang) if scope.kind == "cluster" else \
        t("gpu.none_scope", lang, scope=Markup(_scope_name(scope, lang)))


def _footer(fleet: Fleet, lang: str, tz: str) -> list[Block]:
    sources = [t(f"gpu.source_{name}", lang, count=count) for name, count in sorted(fleet.sources.items())]
    text = t("gpu.footer", lang, time=f"{local(fleet.as_of, tz):%H:%M}", tz=tz,
             threshold=pct(fleet.threshold_pct, lang), window=format_duration(fleet.window),
             sources=Markup(" · ".join(sources) or t("gpu.source_none", lang)))
    blocks = [context(text)]
    if fleet.demo:
        blocks.append(context(t("gpu.demo", lang)))
    return blocks


def _with_heading(heading: str, lines: list[str], lang: str, limit: int | None = None, hint: str = "") -> str:
    """A heading, at most `limit` lines (and as many as fit a section), "…and N more", then a hint."""
    shown = lines[:limit]
    hidden = len(lines) - len(shown)
    room = SECTION_LIMIT - len(heading) - len(hint) - 2
    body = fit_lines(shown, lambda n: t("gpu.more", lang, count=n + hidden), room)
    if hidden and body == "\n".join(shown):  # nothing cut for size: say what the limit left out
        body = fit_lines([*shown, t("gpu.more", lang, count=hidden)], lambda n: t("gpu.more", lang, count=n + hidden),
                         room)
    return "\n".join(part for part in (heading, body, hint) if part)


def short_model(model: str) -> str:
    return model.removeprefix("NVIDIA ").strip() or "?"


def pct(value: float | None, lang: str) -> str:
    return t("gpu.no_data", lang) if value is None else t("gpu.pct", lang, value=f"{value:.0f}")


def usd(value: float) -> str:
    return f"${value:,.0f}" if value >= 10 else f"${value:,.2f}"


def _gib(mib: float | None) -> str:
    return "?" if mib is None else f"{mib / 1024:.1f}"


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
