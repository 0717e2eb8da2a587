"""Block Kit for /spend and the cost guards: the overview, cost per team/service/project, the burn rate in cups of
coffee, tonight's shutdown (plan, buttons, result), stale pipeline snapshots (report, confirmation, result).

Every reply says how old its data is, in the reader's time zone. AWS text (tags, names, error messages) reaches
Slack only through `t()`'s escaping, or `escape()` where a piece of markup is built here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from bot.durations import format_duration
from bot.escape import Markup, escape
from bot.i18n import t
from bot.render.blocks import SECTION_LIMIT, Block, actions, button, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import local, when
from bot.spend.model import (
    BurnReport,
    DeletionResult,
    Keep,
    Overview,
    Planned,
    Running,
    ShutdownPlan,
    ShutdownResult,
    SnapshotReport,
    SpendReport,
    SpendRow,
    StaleSnapshot,
    Stopped,
    TeamBurn,
)

KEEP, POSTPONE, STOP_NOW, DELETE = "spend_keep", "spend_postpone", "spend_stop_now", "spend_snapshots_delete"
KEEP_VIEW, DELETE_VIEW = "spend_keep_why", "spend_snapshots_confirm"
WHY = "why"  # the keep modal's input: block_id and action_id
WHY_CHARS = 200

MESSAGE_BLOCKS = 50  # Slack's limits: blocks in a message, in a modal
MODAL_BLOCKS = 100
MODAL_TITLE, MODAL_BUTTON = 24, 24
CONFIRM_TITLE, CONFIRM_TEXT, CONFIRM_BUTTON = 100, 300, 30
METADATA = 3000  # private_metadata
MESSAGE_CHARS = 200  # an AWS error message, cut to one short line
DAYS_SHOWN = 7
SPARK = "▁▂▃▄▅▆▇█"
MAX_TEAMS = MESSAGE_BLOCKS - 6  # team sections in /spend burn: the rest is one line


# Shared ------------------------------------------------------------------------------------------------
def data_age_text(as_of: datetime, lang: str, tz: str) -> str:
    """The stamp on every /spend reply: when Cost Explorer was asked, on the reader's clock."""
    return t("spend.data_age", lang, time=f"{local(as_of, tz):%H:%M}", tz=tz)


def not_found_text(kind: str, name: str, closest: Sequence[str], lang: str) -> str:
    """"I know no team called `mll`. Did you mean `ml`?" for a team, project or service."""
    what = t(f"spend.kind_{kind}", lang)
    if not closest:
        return t("spend.not_found", lang, kind=what, name=name)
    return t("spend.not_found_closest", lang, kind=what, name=name,
             closest=Markup(", ".join(f"`{escape(c)}`" for c in closest)))


def usd(amount: float) -> str:
    return f"${amount:,.2f}"


def cups(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


def rate(usd_per_hour: float, cups_per_hour: float, lang: str) -> str:
    """"$41.20/h ≈ 8.2 ☕/h"."""
    return t("spend.rate", lang, usd=usd(usd_per_hour), cups=cups(cups_per_hour))


# Plain /spend ------------------------------------------------------------------------------------------
def overview_blocks(o: Overview, lang: str, tz: str) -> list[Block]:
    title = t("spend.overview_title_team", lang, team=o.team) if o.team else t("spend.overview_title_account", lang)
    blocks = [header(title)]
    if not o.tagged_any:
        blocks.append(section(_no_tag_warning(o, lang)))
    yesterday = o.today - timedelta(days=1)
    blocks.append(section("\n".join([
        t("spend.month_to_date", lang, start=o.month_start.isoformat(), usd=usd(o.month_to_date)),
        t("spend.yesterday", lang, day=yesterday.isoformat(), usd=usd(o.yesterday)),
        t(f"spend.forecast_{o.forecast_source}", lang, usd=usd(o.forecast_usd),
          month=t("spend.month", lang, year=o.month_start.year, month=o.month_start.month))])))
    blocks.append(section(_last_days(o.daily, lang)))
    if o.top_services:
        lines = [t("spend.service_line", lang, name=s.name or t("spend.untagged", lang), usd=usd(s.usd),
                   share=_share(s.usd, o.month_to_date, lang)) for s in o.top_services]
        blocks.append(section(_with_heading(t("spend.top_services", lang), lines, lang)))
    if o.team is None and o.untagged_usd > 0:
        blocks.append(section(t("spend.untagged_line", lang, usd=usd(o.untagged_usd), tag=o.tag_key,
                                share=_share(o.untagged_usd, o.month_to_date, lang))
                              + "\n" + t("spend.tag_hint", lang, tag=o.tag_key)))
    return blocks + _stamp([data_age_text(o.as_of, lang, tz)], o.demo, lang)


def _no_tag_warning(o: Overview, lang: str) -> str:
    if o.team is None:
        return t("spend.no_tag_account", lang, tag=o.tag_key)
    return t("spend.no_tag_team", lang, tag=o.tag_key, value=o.cost_tag or o.team, team=o.team)


def _last_days(daily: Sequence[tuple[date, float]], lang: str) -> str:
    days = list(daily)[-DAYS_SHOWN:]
    if not days:
        return t("spend.no_days", lang)
    weekdays = t("core.weekdays", lang).split()
    heading = t("spend.last_days", lang, days=len(days), spark=sparkline([v for _, v in days]),
                usd=usd(sum(v for _, v in days)))
    lines = [t("spend.day_line", lang, day=f"{d:%m-%d} {weekdays[d.weekday()]}", usd=usd(v)) for d, v in days]
    return "\n".join([heading, *lines])


def sparkline(values: Sequence[float]) -> str:
    """▁▃█: each value between the lowest and the highest; all the same: a flat middle line."""
    low, high = min(values, default=0.0), max(values, default=0.0)
    if high - low < 0.005:
        return SPARK[len(SPARK) // 2] * len(values)
    return "".join(SPARK[int((v - low) / (high - low) * (len(SPARK) - 1) + 0.5)] for v in values)


# /spend by team|service|project, /spend 30d ------------------------------------------------------------
def spend_blocks(report: SpendReport, lang: str, tz: str) -> list[Block]:
    title = t(f"spend.title_{report.by}", lang, days=report.days)
    if report.team:
        title = t("spend.title_for_team", lang, title=Markup(title), team=report.team)
    if report.project:
        title = t("spend.title_for_project", lang, title=Markup(title), project=report.project)
    blocks = [header(title)]
    last_day = (report.end - timedelta(days=1)).isoformat()
    if not report.rows:
        blocks.append(section(t("spend.none", lang, start=report.start.isoformat(), end=last_day)))
    else:
        lines = [_spend_row(row, report, lang) for row in report.rows]
        blocks.append(section(fit_lines(lines, lambda n: t("spend.more", lang, count=n))))
        summary = [t("spend.total", lang, usd=usd(report.total_usd), start=report.start.isoformat(), end=last_day)]
        if report.by == "team" and report.burning:
            summary.append(t("spend.burning", lang, threshold=cups(report.threshold_cups_per_hour),
                             teams=Markup(_names([f"*{_name(r.name, lang)}*" for r in report.burning], lang))))
        blocks.append(section("\n".join(summary)))
    stamp = [data_age_text(report.as_of, lang, tz)]
    if report.by == "team":
        if report.burn_day:
            stamp.append(t("spend.burn_day", lang, day=report.burn_day.isoformat()))
        stamp.append(t("spend.coffee", lang, usd=usd(report.coffee_usd)))
    return blocks + _stamp(stamp, report.demo, lang)


def _spend_row(row: SpendRow, report: SpendReport, lang: str) -> str:
    name = _name(row.name, lang)
    if report.by != "team":
        return t("spend.row_share", lang, name=Markup(name), usd=usd(row.usd),
                 share=_share(row.usd, report.total_usd, lang))
    line = t("spend.row_team", lang, name=Markup(name), usd=usd(row.usd),
             rate=Markup(rate(row.usd_per_hour, row.cups_per_hour, lang)))
    return line + " 💸🔥" if row.over_threshold else line


def _name(name: str | None, lang: str) -> str:
    """A team, service or project as AWS spells it (escaped), or "untagged"."""
    return escape(name) if name else t("spend.untagged", lang)


def _names(names: list[str], lang: str, limit: int = 10) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown} {t('spend.more', lang, count=len(names) - limit)}"


def _share(part: float, whole: float, lang: str) -> str:
    value = part / whole * 100 if whole > 0 else 0.0
    return t("spend.share", lang, value=f"{value:.0f}" if value >= 1 or value == 0 else "<1")


# /spend burn and the 💸🔥 combo --------------------------------------------------------------------------
def burn_blocks(report: BurnReport, lang: str, tz: str, top: int) -> list[Block]:
    blocks = [header(t("spend.burn_title", lang))]
    teams = report.teams
    if not any(team.instances for team in teams):
        blocks.append(section(t("spend.burn_none", lang)))
    else:
        blocks += [section(_team_burn(team, report.as_of, lang, top)) for team in teams[:MAX_TEAMS]]
        rest = teams[MAX_TEAMS:]
        if rest:
            blocks.append(section(t("spend.more_teams", lang, count=len(rest),
                                    usd=usd(sum(team.usd_per_hour for team in rest)))))
    stamp = [_live_stamp(report.as_of, lang, tz), t("spend.coffee", lang, usd=usd(report.coffee_usd))]
    return blocks + _stamp(stamp, report.demo, lang)


def _team_burn(team: TeamBurn, now: datetime, lang: str, top: int) -> str:
    heading = t("spend.burn_team", lang, team=team.team, threshold=cups(team.threshold_cups),
                rate=Markup(rate(team.usd_per_hour, team.cups_per_hour, lang)))
    heading += " 💸🔥" if team.over else ""
    lines = [_instance(r, lang, now) for r in team.instances]
    if not lines:
        lines = [t("spend.no_instances", lang)]
    return _with_heading(heading, lines, lang, top, hint=_unpriced(team, lang))


def _unpriced(team: TeamBurn, lang: str) -> str:
    if not team.unpriced:
        return ""
    return t("spend.unpriced", lang, types=Markup(", ".join(f"`{escape(kind)}`" for kind in team.unpriced)))


def _live_stamp(at: datetime, lang: str, tz: str) -> str:
    return t("spend.burn_stamp", lang, time=f"{local(at, tz):%H:%M}", tz=tz)


def burn_post_blocks(burn: TeamBurn, coffee_usd: float, now: datetime, lang: str, tz: str, top: int) -> list[Block]:
    """The 💸🔥 post to the team's channel when it crosses its threshold."""
    text = t("spend.burn_post", lang, team=burn.team, threshold=cups(burn.threshold_cups),
             rate=Markup(rate(burn.usd_per_hour, burn.cups_per_hour, lang)))
    blocks = [section(text)]
    if burn.instances:
        lines = [_instance(r, lang, now) for r in burn.instances]
        blocks.append(section(_with_heading(t("spend.burn_post_top", lang), lines, lang, top,
                                            hint=_unpriced(burn, lang))))
    elif burn.unpriced:
        blocks.append(section(_unpriced(burn, lang)))
    stamp = " · ".join([_live_stamp(now, lang, tz), t("spend.coffee", lang, usd=usd(coffee_usd))])
    return [*blocks, context(stamp + "\n" + t("spend.burn_post_hint", lang))]


def back_under_blocks(burn: TeamBurn, lang: str) -> list[Block]:
    return [section(t("spend.back_under", lang, threshold=cups(burn.threshold_cups),
                      rate=Markup(rate(burn.usd_per_hour, burn.cups_per_hour, lang))))]


# Tonight's shutdown -----------------------------------------------------------------------------------
def shutdown_plan_blocks(plan: ShutdownPlan, lang: str, tz: str, now: datetime, can_stop: bool,
                         top: int) -> list[Block]:
    """The 🛑 post before the shutdown and `/spend shutdown`: what stops when, a Keep button per instance."""
    blocks = [header(t("spend.plan_title", lang, team=plan.team))]
    if plan.done:
        return [*blocks, section(t("spend.plan_done", lang, team=plan.team, night=plan.night.isoformat()))]
    blocks.append(section(_plan_when(plan, lang, tz, now)))
    if plan.dry_run:
        blocks.append(section(t("spend.plan_dry_run", lang)))
    to_stop = plan.to_stop
    kept = [section(text) for text in _kept([(p.decision, p.instance, p.keep, p.gpu_pct) for p in plan.items],
                                            lang, tz, now, top)]
    if not to_stop:
        return [*blocks, section(t("spend.plan_empty", lang)), *kept]
    blocks.append(section(t("spend.plan_stop_heading", lang, count=len(to_stop), usd=usd(plan.usd_per_hour))))
    tail = [*kept, _plan_buttons(plan, lang, tz, can_stop), context(t("spend.plan_hint", lang))]
    room = max(MESSAGE_BLOCKS - len(blocks) - len(tail) - 1, 0)  # 1: the "…and N more" line
    shown = to_stop[:min(top, room)]
    blocks += [_keep_row(p, plan, lang, now) for p in shown]
    rest = to_stop[len(shown):]
    if rest:
        blocks.append(section(t("spend.plan_more", lang, count=len(rest),
                                usd=usd(sum(p.instance.usd_per_hour or 0 for p in rest)))))
    return blocks + tail


def _plan_when(plan: ShutdownPlan, lang: str, tz: str, now: datetime) -> str:
    left = plan.at - now
    key = "spend.plan_postponed" if plan.postponed_by else "spend.plan_when"
    if left <= timedelta(0):
        key += "_due"
    return t(key, lang, when=when(plan.at, tz, lang), tz=tz, left=format_duration(left),
             user=Markup(mention(plan.postponed_by)))


def _keep_row(planned: Planned, plan: ShutdownPlan, lang: str, now: datetime) -> Block:
    block = section(_instance(planned.instance, lang, now, planned.gpu_pct))
    block["accessory"] = button(t("spend.keep_button", lang), KEEP, {
        "team": plan.team, "night": plan.night.isoformat(), "instance": planned.instance.id})
    return block


def _plan_buttons(plan: ShutdownPlan, lang: str, tz: str, can_stop: bool) -> Block:
    value = {"team": plan.team, "night": plan.night.isoformat()}
    elements = [button(t("spend.postpone_button", lang, duration=format_duration(plan.postpone)), POSTPONE, value)]
    if can_stop:
        stop = button(t("spend.stop_button", lang), STOP_NOW, value, style="danger")
        count = len(plan.to_stop)
        text = t("spend.stop_confirm_text", lang, count=count, team=plan.team, usd=usd(plan.usd_per_hour),
                 time=f"{local(plan.at, tz):%H:%M} {tz}")
        if plan.dry_run:
            text += " " + t("spend.stop_confirm_dry_run", lang)
        stop["confirm"] = {
            "title": _plain(t("spend.stop_confirm_title", lang, count=count), CONFIRM_TITLE),
            "text": {"type": "mrkdwn", "text": _cut(text, CONFIRM_TEXT)},
            "confirm": _plain(t("spend.stop_confirm_yes", lang), CONFIRM_BUTTON),
            "deny": _plain(t("spend.stop_confirm_no", lang), CONFIRM_BUTTON),
            "style": "danger",
        }
        elements.append(stop)
    return actions(*elements)


_KeptItem = tuple[str, Running, Keep | None, float | None]  # (decision or outcome, instance, keep, GPU %)


def _kept(items: Sequence[_KeptItem], lang: str, tz: str, now: datetime | None, top: int) -> list[str]:
    """The instances the shutdown leaves running, grouped by why: tagged, kept tonight by someone, busy."""
    texts = []
    tagged = [_instance(r, lang, now) for decision, r, _, _ in items if decision == "tagged"]
    if tagged:
        texts.append(_with_heading(t("spend.kept_tagged_heading", lang, count=len(tagged)), tagged, lang, top))
    kept = [t("spend.kept_line", lang, instance=Markup(_instance(r, lang, now)), user=Markup(mention(keep.by)),
              time=f"{local(keep.at, tz):%H:%M}", why=_cut(keep.why, WHY_CHARS))
            if keep else _instance(r, lang, now) for decision, r, keep, _ in items if decision == "kept"]
    if kept:
        texts.append(_with_heading(t("spend.kept_heading", lang, count=len(kept)), kept, lang, top))
    busy = [t("spend.busy_line", lang, instance=Markup(_instance(r, lang, now)),
              gpu=t("spend.gpu", lang, pct=f"{gpu:.0f}") if gpu is not None else t("spend.busy_unknown", lang))
            for decision, r, _, gpu in items if decision == "busy"]
    if busy:
        texts.append(_with_heading(t("spend.busy_heading", lang, count=len(busy)), busy, lang, top))
    return texts


def shutdown_result_blocks(result: ShutdownResult, lang: str, tz: str, top: int) -> list[Block]:
    key = "spend.result_title_dry_run" if result.dry_run else "spend.result_title"
    blocks = [header(t(key, lang, team=result.team, night=result.night.isoformat()))]
    stopped = result.of("would_stop" if result.dry_run else "stopped")
    if result.dry_run:
        blocks.append(section(t("spend.plan_dry_run", lang)))
    if stopped:
        heading = t("spend.would_stop_heading" if result.dry_run else "spend.stopped_heading", lang,
                    count=len(stopped), usd=usd(sum(s.instance.usd_per_hour or 0 for s in stopped)))
        blocks.append(section(_with_heading(heading, [_instance(s.instance, lang) for s in stopped], lang, top)))
    already = result.of("already")
    if already:
        blocks.append(section(_with_heading(t("spend.already_heading", lang, count=len(already)),
                                            [_instance(s.instance, lang) for s in already], lang, top)))
    failed = result.of("failed")
    if failed:
        blocks.append(section(_with_heading(t("spend.failed_heading", lang, count=len(failed)),
                                            [_failed_line(s, lang) for s in failed], lang, top)))
    blocks += [section(text) for text in _kept([(s.outcome, s.instance, s.keep, s.gpu_pct) for s in result.outcomes],
                                               lang, tz, None, top)]
    if not stopped and not failed and not already:
        blocks.append(section(t("spend.result_empty", lang)))
    if stopped:
        blocks.append(section(t("spend.saving_dry_run" if result.dry_run else "spend.saving", lang,
                                usd=usd(result.saving_usd), hours=f"{result.saving_hours:.1f}".removesuffix(".0"))))
    by = t("spend.by_scheduler", lang) if result.by == "scheduler" else \
        t("spend.by_user", lang, user=Markup(mention(result.by)))
    return [*blocks, context(by)]


def _failed_line(stopped: Stopped, lang: str) -> str:
    if stopped.error == "UnauthorizedOperation":
        hint = t("spend.hint_unauthorized", lang)
    elif stopped.error == "IncorrectInstanceState":
        hint = t("spend.hint_incorrect_state", lang)
    elif stopped.message:
        hint = escape(_cut(stopped.message, MESSAGE_CHARS))
    else:
        hint = t("spend.hint_unknown", lang)
    return t("spend.failed_line", lang, instance=Markup(_instance(stopped.instance, lang)),
             code=stopped.error or "?", hint=Markup(hint))


def keep_modal(metadata: str, instance_id: str, lang: str) -> dict[str, Any]:
    """Keep running tonight: why (one required line, shown to the team)."""
    return {"type": "modal", "callback_id": KEEP_VIEW, "private_metadata": metadata[:METADATA],
            "title": _plain(t("spend.keep_title", lang), MODAL_TITLE),
            "submit": _plain(t("spend.keep_submit", lang), MODAL_BUTTON),
            "close": _plain(t("spend.keep_cancel", lang), MODAL_BUTTON),
            "blocks": [section(t("spend.keep_intro", lang, instance=instance_id)),
                       {"type": "input", "block_id": WHY, "optional": False,
                        "label": _plain(t("spend.keep_label", lang), 2000),
                        "element": {"type": "plain_text_input", "action_id": WHY, "max_length": WHY_CHARS,
                                    "placeholder": _plain(t("spend.keep_placeholder", lang), 150)}}]}


# Stale pipeline snapshots ------------------------------------------------------------------------------
def snapshot_blocks(report: SnapshotReport, lang: str, tz: str, plan_id: str | None, dlm_policy: str,
                    top: int) -> list[Block]:
    title = t("spend.snap_title_team", lang, team=report.team) if report.team else t("spend.snap_title", lang)
    blocks = [header(title)]
    days = report.older_than.days
    oldest = report.oldest
    if oldest is None:
        blocks.append(section(t("spend.snap_empty", lang, days=days)))
    else:
        blocks.append(section(t("spend.snap_summary", lang, count=f"{len(report.snapshots):,}", days=days,
                                gib=f"{report.gib:,}", usd=usd(report.usd_month), oldest=oldest.id,
                                started=f"{local(oldest.started, tz):%Y-%m-%d}", age=oldest.age_days)))
    if report.in_use or report.managed:
        blocks.append(section(t("spend.snap_skipped", lang, in_use=report.in_use, managed=report.managed)))
    if oldest is not None:
        groups = [t("spend.snap_group_line", lang, count=f"{g.count:,}", gib=f"{g.gib:,}", usd=usd(g.usd_month),
                    pipeline=Markup(f"`{escape(g.pipeline)}`" if g.pipeline else t("spend.no_pipeline", lang)))
                  for g in report.groups]
        if groups:
            blocks.append(section(_with_heading(t("spend.snap_groups", lang), groups, lang, top)))
        shown = report.snapshots[:top]
        blocks.append(section(_with_heading(t("spend.snap_oldest", lang, count=len(shown)),
                                            [_snapshot_line(s, lang) for s in report.snapshots], lang, top)))
        blocks.append(section(recycle_bin_text(report, lang)))
        if plan_id:
            blocks.append(actions(button(t("spend.delete_button", lang, count=f"{len(report.snapshots):,}"),
                                         DELETE, plan_id, style="danger")))
    if dlm_policy and oldest is not None:
        blocks.append(section(_dlm(dlm_policy, lang)))
    stamp = [t("spend.snap_stamp", lang, time=f"{local(report.as_of, tz):%H:%M}", tz=tz)]
    return blocks + _stamp(stamp, report.demo, lang)


def _snapshot_line(snapshot: StaleSnapshot, lang: str) -> str:
    return t("spend.snap_line", lang, id=snapshot.id, age=snapshot.age_days, gib=f"{snapshot.gib:,}",
             usd=usd(snapshot.usd_month))


def recycle_bin_text(report: SnapshotReport, lang: str) -> str:
    """Whether a delete can be undone: a Recycle Bin rule's days, final, or unknown."""
    bin_ = report.recycle_bin
    if not bin_.known:
        return t("spend.recycle_unknown", lang)
    if bin_.days <= 0:
        return t("spend.recycle_none", lang)
    return t("spend.recycle_days", lang, days=bin_.days)


def _dlm(policy: str, lang: str) -> str:
    heading = t("spend.dlm_heading", lang)
    room = SECTION_LIMIT - len(heading) - len("\n```\n\n```") - 2  # 2: the "…" line
    code = escape(policy)
    if len(code) > room:
        cut = policy[:room]
        while len(escape(cut)) > room:  # escaping only lengthens: drop as many characters as it is over
            cut = cut[: len(cut) - (len(escape(cut)) - room)]
        code = escape(cut.rsplit("\n", 1)[0] if "\n" in cut else cut) + "\n…"
    return f"{heading}\n```\n{code}\n```"


def delete_modal(report: SnapshotReport, metadata: str, lang: str) -> dict[str, Any]:
    """The confirmation before deleting: every snapshot (as many as a modal holds), the total, the Recycle Bin."""
    count = f"{len(report.snapshots):,}"
    intro = t("spend.delete_intro", lang, count=count, gib=f"{report.gib:,}", usd=usd(report.usd_month))
    head = [section(intro), section(recycle_bin_text(report, lang))]
    lines = [_snapshot_line(s, lang) for s in report.snapshots]
    listing = [section(text) for text in _sections(lines, lang, MODAL_BLOCKS - len(head))]
    return {"type": "modal", "callback_id": DELETE_VIEW, "private_metadata": metadata[:METADATA],
            "title": _plain(t("spend.delete_title", lang), MODAL_TITLE),
            "submit": _plain(t("spend.delete_submit", lang, count=count), MODAL_BUTTON),
            "close": _plain(t("spend.delete_cancel", lang), MODAL_BUTTON),
            "blocks": [*head, *listing]}


def deletion_blocks(result: DeletionResult, lang: str, top: int) -> list[Block]:
    deleted = [d for d in result.results if d.ok]
    blocks = [section(t("spend.deleted_summary", lang, deleted=f"{len(deleted):,}",
                        count=f"{len(result.results):,}", usd=usd(result.saved_usd_month)))]
    failed = result.failed
    if failed:
        lines = [t("spend.delete_in_use_line", lang, id=d.snapshot.id) if d.error == "in_use" else
                 t("spend.delete_failed_line", lang, id=d.snapshot.id, code=d.error or "?",
                   message=_cut(d.message or "", MESSAGE_CHARS)) for d in failed]
        blocks.append(section(_with_heading(t("spend.delete_failed_heading", lang, count=len(failed)), lines, lang,
                                            top)))
    if deleted:
        lines = [_snapshot_line(d.snapshot, lang) for d in deleted]
        blocks.append(section(_with_heading(t("spend.deleted_heading", lang), lines, lang, top)))
    notes = [t("spend.delete_failed_hint", lang)] if failed else []
    notes.append(t("spend.deleted_by", lang, user=Markup(mention(result.by))))
    return [*blocks, context("\n".join(notes))]


# Pieces ------------------------------------------------------------------------------------------------
def _instance(r: Running, lang: str, now: datetime | None = None, gpu_pct: float | None = None) -> str:
    """`i-0abc` · p4d.24xlarge · *train* · owner @ana · up 14h · $32.77/h · GPU 3%"""
    parts = [f"`{escape(r.id)}`", escape(r.type),
             t("spend.named", lang, name=r.name) if r.name else t("spend.unnamed", lang),
             t("spend.owner", lang, owner=Markup(mention(r.owner))) if r.owner else t("spend.no_owner", lang)]
    if now is not None:
        parts.append(t("spend.uptime", lang, uptime=format_duration(r.uptime(now))))
    parts.append(t("spend.per_hour", lang, usd=usd(r.usd_per_hour)) if r.usd_per_hour is not None
                 else t("spend.no_price", lang))
    if gpu_pct is not None:
        parts.append(t("spend.gpu", lang, pct=f"{gpu_pct:.0f}"))
    return Markup(" · ".join(parts))


def _with_heading(heading: str, lines: list[str], lang: str, limit: int | None = None, hint: str = "") -> str:
    """A heading, at most `limit` lines (and as many as fit a section), "…and N more", then a hint."""
    shown = lines[:limit]
    hidden = len(lines) - len(shown)
    room = SECTION_LIMIT - len(heading) - len(hint) - 2

    def more(n: int) -> str:
        return t("spend.more", lang, count=n + hidden)

    body = fit_lines(shown, more, room)
    if hidden and body == "\n".join(shown):  # nothing cut for size: say what the limit left out
        body = fit_lines([*shown, t("spend.more", lang, count=hidden)], more, room)
    return "\n".join(part for part in (heading, body, hint) if part)


def _sections(lines: list[str], lang: str, max_sections: int) -> list[str]:
    """Lines packed into at most `max_sections` section texts; what does not fit becomes "…and N more"."""
    chunks: list[list[str]] = [[]]
    size = 0
    for line in lines:
        if chunks[-1] and size + len(line) + 1 > SECTION_LIMIT:
            if len(chunks) == max_sections:
                break
            chunks.append([])
            size = 0
        chunks[-1].append(line)
        size += len(line) + 1
    shown = sum(len(chunk) for chunk in chunks)
    if shown < len(lines):
        last = chunks[-1]
        while last and len("\n".join([*last, t("spend.more", lang, count=len(lines) - shown)])) > SECTION_LIMIT:
            last.pop()
            shown -= 1
        last.append(t("spend.more", lang, count=len(lines) - shown))
    return ["\n".join(chunk) for chunk in chunks if chunk]


def _stamp(parts: list[str], demo: bool, lang: str) -> list[Block]:
    blocks = [context(" · ".join(parts))]
    if demo:
        blocks.append(context(t("spend.demo", lang)))
    return blocks


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _cut(text, limit), "emoji": True}


def _cut(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
