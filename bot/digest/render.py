"""Block Kit for team digests: the morning message (a few lines per domain, in the team's language and time zone),
its thread (each domain's own views, as the commands show them), the weekly charts, and the schedule line of
`/digest preview`.

User text (titles, names, alert names, reasons) reaches Slack only through `t()`'s escaping, or `escape()` where a
piece of markup is built here; Slack users only through `mention()`."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bot.alerts.quality_render import noisy_blocks
from bot.clients import PullRequest
from bot.clock import elapsed
from bot.digest.model import (
    SECTIONS,
    Digest,
    GpuPart,
    GuardsPart,
    IncidentsPart,
    Kind,
    NoisePart,
    OnCallPart,
    Part,
    ReviewPart,
    Schedule,
    SpendPart,
    Unavailable,
)
from bot.durations import format_duration
from bot.escape import Markup, escape
from bot.gpu import render as gpu_render
from bot.gpu.model import Gpu, Scope
from bot.i18n import t
from bot.incidents import render as incidents_render
from bot.incidents.model import Incident
from bot.incidents.stats import IncidentStats
from bot.oncall.render import oncall_blocks
from bot.oncall.rotation import TierOnCall
from bot.render.blocks import SECTION_LIMIT, Block, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import local, when
from bot.retry import backend_name
from bot.review.render import age_text, team_queue_blocks
from bot.spend import render as spend_render
from bot.spend.model import BurnReport, ShutdownPlan

MESSAGE_BLOCKS = 50
TITLE_CHARS = 70  # an incident or pull request title, on one line
NAME_CHARS = 80  # an alert, pod, node or GPU name
WHY_CHARS = 300  # why a backend failed
NAMES_SHOWN = 3  # unhealthy GPUs, nodes missing GPUs named in the digest
HOLIDAYS_SHOWN = 10
SECTION_TITLES = {name: f"digest.section_{name}" for name in SECTIONS}  # the i18n key of each section's title

_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,}")
_T = TypeVar("_T", int, timedelta)


@dataclass(frozen=True)
class _Lines:
    """A digest section's body: fixed lines, the listed items (cut to `top`), more fixed lines."""

    before: list[str] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)


# The message -------------------------------------------------------------------------------------------
def digest_blocks(digest: Digest, top: int) -> list[Block]:
    lang = digest.language
    blocks = [header(_title(digest))]
    if digest.late:
        blocks.append(context(t("digest.late", lang, when=when(digest.due, digest.timezone, lang))))
    shown = digest.sections()
    if not shown:
        return [*blocks, section(t(f"digest.empty_{digest.kind}", lang, team=digest.team))]
    blocks += [section(_section_text(name, part, digest, top)) for name, part in shown]
    return [*blocks, context(t("digest.footer", lang, team=digest.team, kind=digest.kind))]


def _title(digest: Digest) -> str:
    lang = digest.language
    wall = local(digest.due, digest.timezone)
    weekday = t("core.weekdays", lang).split()[wall.weekday()]
    day = t("digest.date", lang, weekday=weekday, year=wall.year, month=wall.month, day=wall.day)
    return t(f"digest.title_{digest.kind}", lang, team=digest.team, date=day)


def _section_text(name: str, part: Part | Unavailable, digest: Digest, top: int) -> str:
    lang = digest.language
    title = t(SECTION_TITLES[name], lang)
    if isinstance(part, Unavailable):
        return t("digest.unavailable", lang, title=title, backend=backend_name(part.backend, lang),
                 why=_one_line(part.why, WHY_CHARS))
    return _compose(t("digest.heading", lang, title=title), _lines(part, digest), top, lang)


def _compose(heading: str, lines: _Lines, top: int, lang: str) -> str:
    """The heading, the fixed lines, and as many of the first `top` items as fit a section."""
    fixed = [heading, *lines.before, *lines.after]
    room = SECTION_LIMIT - sum(len(line) + 1 for line in fixed)
    listed = [_fit(lines.items, top, room, lang)] if lines.items else []
    return "\n".join([heading, *lines.before, *listed, *lines.after])


def _fit(items: list[str], top: int, room: int, lang: str) -> str:
    shown = items[:top]
    hidden = len(items) - len(shown)

    def more(count: int) -> str:
        return t("digest.more", lang, count=count + hidden)

    body = fit_lines(shown, more, room)
    if hidden and body == "\n".join(shown):  # nothing cut for size: say what `top` left out
        body += "\n" + more(0)
    return body


def _lines(part: Part, digest: Digest) -> _Lines:
    if isinstance(part, IncidentsPart):
        return _incidents(part, digest)
    if isinstance(part, OnCallPart):
        return _Lines(items=[_tier(tier, digest.language, digest.timezone) for tier in part.tiers])
    if isinstance(part, SpendPart):
        return _Lines(before=_spend(part, digest))
    if isinstance(part, GpuPart):
        return _gpu(part, digest)
    if isinstance(part, ReviewPart):
        return _review(part, digest.language)
    if isinstance(part, NoisePart):
        return _noise(part, digest.language)
    return _Lines(before=_guards(part, digest))


# Incidents ---------------------------------------------------------------------------------------------
def _incidents(part: IncidentsPart, digest: Digest) -> _Lines:
    lang = digest.language
    items = [t("digest.incident_line", lang, number=i.number, severity=i.severity,
               title=_one_line(i.title, TITLE_CHARS), status=incidents_render.status_name(i.status, lang),
               age=format_duration(elapsed(i.created_at, digest.made_at))) for i in part.open]
    before = t("digest.incidents_open", lang, count=len(items)) if items else t("digest.incidents_none_open", lang)
    return _Lines([before], items, [_week(part.week.overall, part.previous.overall, lang)])


def _week(now: IncidentStats, before: IncidentStats, lang: str) -> str:
    """Count, MTTA, MTTR and MTBF of the last 7 days, each against the 7 days before."""
    facts = [t("digest.week_count", lang, count=now.count, trend=_trend(now.count, before.count, str, True, lang)),
             t("digest.mtta", lang, value=_duration(now.mtta, lang),
               trend=_trend(now.mtta, before.mtta, format_duration, True, lang)),
             t("digest.mttr", lang, value=_duration(now.mttr, lang),
               trend=_trend(now.mttr, before.mttr, format_duration, True, lang)),
             t("digest.mtbf", lang, value=_duration(now.mtbf, lang),
               trend=_trend(now.mtbf, before.mtbf, format_duration, False, lang))]
    return t("digest.week", lang, facts=Markup(t("digest.separator", lang).join(facts)))


def _trend(now: _T | None, before: _T | None, shown: Callable[[_T], str], lower_is_better: bool,
           lang: str) -> str:
    """` (↓ from 9m, 🟢 better)`: the arrow says which way the number went, the verdict whether that is good."""
    if before is None:
        return Markup("")
    if now is None:
        return t("digest.trend_was", lang, previous=shown(before))
    if shown(now) == shown(before):  # equal as the reader sees them
        return t("digest.trend_same", lang, previous=shown(before))
    up = now > before
    key = "digest.trend_worse" if up == lower_is_better else "digest.trend_better"
    return t(key, lang, arrow="↑" if up else "↓", previous=shown(before))


def _duration(value: timedelta | None, lang: str) -> str:
    return format_duration(value) if value is not None else t("digest.none", lang)


# On call -----------------------------------------------------------------------------------------------
def _tier(tier: TierOnCall, lang: str, tz: str) -> str:
    if tier.now is None:
        upcoming = t("digest.oncall_next_at", lang, user=mention(tier.next.user),
                     start=when(tier.next.start, tz, lang)) if tier.next else Markup("")
        return t("digest.oncall_gap", lang, tier=tier.tier, next=upcoming)
    if tier.next is None:
        return t("digest.oncall_always", lang, tier=tier.tier, user=mention(tier.now.user))
    return t("digest.oncall_now", lang, tier=tier.tier, user=mention(tier.now.user),
             until=when(tier.now.end, tz, lang), next=t("digest.oncall_next", lang, user=mention(tier.next.user)))


# Spend -------------------------------------------------------------------------------------------------
def _spend(part: SpendPart, digest: Digest) -> list[str]:
    lang = digest.language
    lines = []
    if part.month_to_date is not None:
        lines.append(_month(part, part.month_to_date, lang))
    if part.burn is not None:
        burn = part.burn
        rate = Markup(spend_render.rate(burn.usd_per_hour, burn.cups_per_hour, lang))
        lines.append(t("digest.spend_burn_over", lang, rate=rate, threshold=spend_render.cups(burn.threshold_cups))
                     if burn.over else t("digest.spend_burn", lang, rate=rate))
    if part.as_of is not None and part.month_to_date is not None:
        lines.append(t("digest.spend_as_of", lang, when=when(part.as_of, digest.timezone, lang)))
    return lines


def _month(part: SpendPart, month_to_date: float, lang: str) -> str:
    """Month to date against the budget, and where the month is heading at this pace."""
    so_far = spend_render.usd(month_to_date)
    if part.budget:
        text = t("digest.spend_budget", lang, usd=so_far, budget=spend_render.usd(part.budget),
                 percent=f"{month_to_date / part.budget * 100:.0f}")
    else:
        text = t("digest.spend_month", lang, usd=so_far)
    if part.projected is not None:
        key = "digest.spend_pace_over" if part.over_budget else "digest.spend_pace"
        text += t(key, lang, usd=spend_render.usd(part.projected))
    return Markup(text)


# GPUs --------------------------------------------------------------------------------------------------
def _gpu(part: GpuPart, digest: Digest) -> _Lines:
    lang, idle = digest.language, part.idle
    lines = _Lines()
    if idle.gpus:
        lines.before.append(t("digest.gpu_idle", lang, gpus=len(idle.gpus), usd=spend_render.usd(idle.usd_per_day)))
        lines.items.extend(_idle_pod(gpus, idle.fleet.as_of, lang) for gpus in _by_pod(idle.gpus))
    if part.queue:
        lines.after.append(_queue(part, digest.made_at, lang))
    if part.health.unhealthy:
        lines.after.append(t("digest.gpu_unhealthy", lang, count=len(part.health.unhealthy),
                             names=_names([gpu.name for gpu in part.health.unhealthy], lang)))
    if part.health.missing:
        lines.after.append(t("digest.gpu_missing", lang, count=len(part.health.missing),
                             names=_names([m.node for m in part.health.missing], lang)))
    return lines


def _by_pod(gpus: Sequence[Gpu]) -> list[list[Gpu]]:
    """Idle GPUs grouped by the pod holding them, in the report's order (longest idle first)."""
    groups: dict[str, list[Gpu]] = {}
    for gpu in gpus:
        groups.setdefault(gpu.holder.key if gpu.holder else gpu.name, []).append(gpu)
    return list(groups.values())


def _idle_pod(gpus: list[Gpu], now: datetime, lang: str) -> str:
    first = gpus[0]
    idle = max((since for since in (g.idle_for(now) for g in gpus) if since is not None), default=None)
    return t("digest.gpu_idle_line", lang, pod=_one_line(first.holder.key if first.holder else first.name, NAME_CHARS),
             gpus=len(gpus), model=gpu_render.short_model(first.model), idle=_duration(idle, lang),
             usd=spend_render.usd(sum(g.usd_per_hour for g in gpus) * 24))


def _queue(part: GpuPart, now: datetime, lang: str) -> str:
    pods, gpus = len(part.queue), sum(q.gpus for q in part.queue)
    since = [q.waiting_since for q in part.queue if q.waiting_since is not None]
    if not since:
        return t("digest.gpu_queue_no_age", lang, pods=pods, gpus=gpus)
    return t("digest.gpu_queue", lang, pods=pods, gpus=gpus, waited=format_duration(elapsed(min(since), now)))


# Reviews, noise, guards --------------------------------------------------------------------------------
def _review(part: ReviewPart, lang: str) -> _Lines:
    queue = part.queue
    before = t("digest.review_waiting", lang, count=f"{len(queue.items):,}", stale=f"{len(queue.stale):,}",
               stale_after=age_text(queue.stale_after, lang))
    items = [t("digest.review_line", lang, link=_pr_link(item.pr), title=_one_line(item.pr.title, TITLE_CHARS),
               age=age_text(item.waited, lang)) for item in queue.items]
    return _Lines([before], items)


def _pr_link(pr: PullRequest) -> str:
    """`<url|owner/repo#12>`; without a usable URL, the name alone."""
    name = f"{escape(_one_line(pr.repo, NAME_CHARS))}#{pr.number}"
    if pr.url.startswith(("https://", "http://")) and not any(c in pr.url for c in "|<> \n\t"):
        return Markup(f"<{escape(pr.url)}|{name}>")
    return Markup(name)


def _noise(part: NoisePart, lang: str) -> _Lines:
    items = [t("digest.noise_line_one" if alert.notifications == 1 else "digest.noise_line", lang,
               name=_one_line(alert.alertname, NAME_CHARS), notifications=f"{alert.notifications:,}",
               down=alert.thumbs_down) for alert in part.alerts]
    return _Lines([t("digest.noise_period", lang, days=part.days)], items)


def _guards(part: GuardsPart, digest: Digest) -> list[str]:
    lang, lines = digest.language, []
    snapshots = part.snapshots
    if snapshots is not None and snapshots.snapshots:
        lines.append(t("digest.guards_snapshots", lang, count=f"{len(snapshots.snapshots):,}",
                       gib=f"{snapshots.gib:,}", usd=spend_render.usd(snapshots.usd_month)))
    plan = part.shutdown
    if plan is not None and plan.done:
        lines.append(t("digest.guards_shutdown_done", lang))
    elif plan is not None and plan.to_stop:
        lines.append(_shutdown(plan, digest.timezone, lang))
    return lines


def _shutdown(plan: ShutdownPlan, tz: str, lang: str) -> str:
    key = "digest.guards_shutdown_dry_run" if plan.dry_run else "digest.guards_shutdown"
    return t(key, lang, count=len(plan.to_stop), when=when(plan.at, tz, lang),
             usd=spend_render.usd(plan.usd_per_hour))


# The thread --------------------------------------------------------------------------------------------
def detail_messages(digest: Digest, top: int) -> list[list[Block]]:
    """Each shown part as its domain's own views (`top` rows per list, as the commands show them), packed into
    as few messages as Slack's 50 blocks allow, a divider between views."""
    views = [view for _, part in digest.sections() if not isinstance(part, Unavailable)
             for view in _details(part, digest, top) if view]
    return _pack(views)


def _details(part: Part, digest: Digest, top: int) -> list[list[Block]]:
    lang, tz = digest.language, digest.timezone
    if isinstance(part, IncidentsPart):
        return [[*incidents_render.stats_blocks(part.week, lang), *_open_incidents(part.open, digest)]]
    if isinstance(part, OnCallPart):
        return [oncall_blocks(digest.team, list(part.tiers), lang, tz)]
    if isinstance(part, SpendPart):
        return _spend_details(part, digest, top)
    if isinstance(part, GpuPart):
        return _gpu_details(part, digest, top)
    if isinstance(part, ReviewPart):
        return [team_queue_blocks(part.queue, lang, tz)]
    if isinstance(part, NoisePart):
        return [noisy_blocks(part.alerts, digest.team, part.days, lang)]
    return _guards_details(part, digest, top)


def _open_incidents(incidents: Sequence[Incident], digest: Digest) -> list[Block]:
    if not incidents:
        return []
    lang = digest.language
    lines = [t("digest.detail_incident_line", lang, number=i.number, severity=i.severity,
               title=_one_line(i.title, TITLE_CHARS * 2), status=incidents_render.status_name(i.status, lang),
               age=format_duration(elapsed(i.created_at, digest.made_at)),
               commander=mention(i.commander) if i.commander else t("digest.nobody", lang),
               where=_where_incident(i, lang)) for i in incidents]
    heading = t("digest.detail_open_heading", lang, count=len(lines))
    return [section(heading + "\n" + fit_lines(lines, lambda n: t("digest.more", lang, count=n),
                                               SECTION_LIMIT - len(heading) - 1))]


def _where_incident(incident: Incident, lang: str) -> str:
    where = incidents_render.where(incident)
    return Markup(t("digest.separator", lang) + where) if where else Markup("")


def _spend_details(part: SpendPart, digest: Digest, top: int) -> list[list[Block]]:
    lang, tz = digest.language, digest.timezone
    views = []
    if part.burn is not None:  # live: read when the digest was made
        report = BurnReport(teams=(part.burn,), coffee_usd=part.coffee_usd, as_of=digest.made_at, demo=False)
        views.append(spend_render.burn_blocks(report, lang, tz, top))
    if part.overview is not None:
        views.append(spend_render.overview_blocks(part.overview, lang, tz))
    return views


def _gpu_details(part: GpuPart, digest: Digest, top: int) -> list[list[Block]]:
    lang, tz = digest.language, digest.timezone
    views = []
    if part.idle.gpus:
        views.append(gpu_render.idle_blocks(part.idle, lang, tz, top))
    if part.queue:
        views.append(gpu_render.queue_blocks(part.queue, Scope("team", digest.team), digest.made_at, lang, top))
    if part.health.unhealthy or part.health.missing:
        views.append(gpu_render.health_blocks(part.health, lang, tz, top))
    return views


def _guards_details(part: GuardsPart, digest: Digest, top: int) -> list[list[Block]]:
    lang, tz = digest.language, digest.timezone
    views = []
    if part.snapshots is not None and part.snapshots.snapshots:  # no delete button and no DLM advice here
        views.append(spend_render.snapshot_blocks(part.snapshots, lang, tz, None, "", top))
    if part.shutdown is not None:
        views.append(spend_render.shutdown_plan_blocks(part.shutdown, lang, tz, digest.made_at, can_stop=False,
                                                       top=top))
    return views


def _pack(views: list[list[Block]]) -> list[list[Block]]:
    messages: list[list[Block]] = []
    for view in views:
        for start in range(0, len(view), MESSAGE_BLOCKS):  # a view longer than a message goes on in the next
            piece = view[start:start + MESSAGE_BLOCKS]
            if messages and len(messages[-1]) + 1 + len(piece) <= MESSAGE_BLOCKS:
                messages[-1] += [{"type": "divider"}, *piece]
            else:
                messages.append(list(piece))
    return messages


# The weekly charts -------------------------------------------------------------------------------------
def chart_files(digest: Digest) -> list[tuple[str, bytes, str]]:
    """(file name, PNG, title) for each charted part of a weekly digest; a daily one has none."""
    if digest.kind != "weekly":
        return []
    # matplotlib takes ~0.3 s to import: only a weekly digest pays for it.
    from bot.gpu.chart import utilization_png
    from bot.incidents.chart import chart_png
    from bot.spend.chart import daily_png

    lang, team = digest.language, digest.team
    slug = re.sub(r"[^A-Za-z0-9_.-]", "-", team)
    files = []
    for _, part in digest.sections():
        if isinstance(part, IncidentsPart):
            files.append((f"digest-{slug}-incidents.png", chart_png(part.week, lang),
                          t("digest.chart_incidents", lang, team=team)))
        elif isinstance(part, SpendPart) and part.overview is not None:
            title = t("digest.chart_spend", lang, team=team)
            files.append((f"digest-{slug}-spend.png", daily_png(part.overview.daily, title, lang), title))
        elif isinstance(part, GpuPart):
            files.append((f"digest-{slug}-gpu.png", utilization_png(part.idle.fleet, lang),
                          t("digest.chart_gpu", lang, team=team)))
    return files


# /digest preview ---------------------------------------------------------------------------------------
def schedule_blocks(schedule: Schedule, kind: Kind, lang: str) -> list[Block]:
    """When the team's digests post and what holds them, on one context line."""
    tz = schedule.timezone
    parts = [t("digest.preview", lang, kind=t(f"digest.kind_{kind}", lang), team=schedule.team),
             _posts_to(schedule.channel, lang),
             t("digest.schedule", lang, tz=tz, daily=_cron("daily", schedule.daily, schedule.next_daily, tz, lang),
               weekly=_cron("weekly", schedule.weekly, schedule.next_weekly, tz, lang))]
    if schedule.quiet_hours:
        parts.append(t("digest.quiet_hours", lang, hours=schedule.quiet_hours.replace("-", "–")))
    if schedule.holidays:
        dates = [day.isoformat() for day in schedule.holidays]
        shown = t("digest.list_separator", lang).join(dates[:HOLIDAYS_SHOWN])
        if len(dates) > HOLIDAYS_SHOWN:
            shown += " " + t("digest.more", lang, count=len(dates) - HOLIDAYS_SHOWN)
        parts.append(t("digest.holidays", lang, dates=shown))
    return [context(t("digest.separator", lang).join(parts))]


def _posts_to(channel: str | None, lang: str) -> str:
    if not channel:
        return t("digest.posts_nowhere", lang)
    name = channel.lstrip("#")
    target = Markup(f"<#{name}>") if _CHANNEL_ID.fullmatch(name) else Markup("#" + escape(name))
    return t("digest.posts_to", lang, channel=target)


def _cron(kind: Kind, crontab: str, upcoming: datetime | None, tz: str, lang: str) -> str:
    if crontab == "off":
        return t(f"digest.cron_{kind}_off", lang)
    if upcoming is None:
        return t(f"digest.cron_{kind}", lang, cron=crontab)
    return t(f"digest.cron_{kind}_next", lang, cron=crontab, next=when(upcoming, tz, lang))


# Pieces ------------------------------------------------------------------------------------------------
def _names(names: Sequence[str], lang: str) -> str:
    """`n1/0`, `n2/3`, …and 4 more"""
    shown = t("digest.list_separator", lang).join(_code(name) for name in names[:NAMES_SHOWN])
    if len(names) > NAMES_SHOWN:
        shown += " " + t("digest.more", lang, count=len(names) - NAMES_SHOWN)
    return Markup(shown)


def _code(text: str) -> str:
    inner = escape(_one_line(text, NAME_CHARS)).replace("`", "'")
    return Markup(f"`{inner}`")


def _one_line(text: str, limit: int) -> str:
    """User text on one line, at most `limit` characters: cut before escaping, so an entity is never cut in half."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
