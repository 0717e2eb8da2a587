"""Block Kit for incidents: confirmation, pinned summary, page DM, status, stats, past incidents like this one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.durations import format_duration
from bot.escape import Markup, escape
from bot.i18n import catalog, t
from bot.incidents.model import SEVERITIES, Incident, Page, Resemblance, TimelineEntry
from bot.incidents.stats import IncidentStats, StatsReport
from bot.render.blocks import SECTION_LIMIT, Block, actions, button, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import age, local, stamp

__all__ = ["section"]


def status_name(status: str, lang: str) -> str:
    return t(f"incident.status_{status}", lang)


def where(incident: Incident) -> str:
    return Markup(f"<#{incident.channel_id}>") if incident.channel_id else (incident.origin_link or "")


def confirmation_blocks(incident: Incident, lang: str, source: str, notes: list[str],
                        undo_within: str | None) -> list[Block]:
    blocks = [section(t("incident.opened", lang, number=incident.number, severity=incident.severity,
                        title=incident.title)),
              context(t("incident.opened_by", lang, reporter=incident.reporter, source=source))]
    blocks += [section(note) for note in notes]
    if undo_within is not None:
        blocks.append(context(t("incident.undo_hint", lang, window=undo_within)))
        blocks.append(actions(button(t("incident.button_undo", lang), "incident_undo", str(incident.id))))
    return blocks


def same_or_new_blocks(similar: Incident, lang: str, ago: str, request: dict[str, Any]) -> list[Block]:
    """Asked of whoever fires 🔥💥 in a channel that just had an incident: join it, or open a new one."""
    join = {"incident": similar.id, **{k: request[k] for k in ("reporter", "channel", "ts")}}
    return [section(t("incident.same_as", lang, number=similar.number, title=similar.title, ago=ago,
                      where=where(similar))),
            actions(button(t("incident.button_join", lang, number=similar.number), "incident_join", join,
                           "primary"),
                    button(t("incident.button_open_new", lang), "incident_open_new", request))]


def closed_confirmation_blocks(incident: Incident, lang: str, message: str) -> list[Block]:
    return [section(t("incident.opened", lang, number=incident.number, severity=incident.severity,
                      title=incident.title)), context(message)]


def summary_blocks(incident: Incident, lang: str, severities: Sequence[str] = SEVERITIES,
                   paging: str | None = None) -> list[Block]:
    commander = mention(incident.commander) if incident.commander else t("incident.nobody", lang)
    origin = incident.origin_link or t("incident.origin_unknown", lang)
    fields = [t("incident.field_severity", lang, severity=incident.severity),
              t("incident.field_status", lang, status=status_name(incident.status, lang)),
              t("incident.field_commander", lang, commander=commander),
              t("incident.field_reporter", lang, reporter=incident.reporter),
              t("incident.field_team", lang, team=incident.team),
              t("incident.field_origin", lang, link=origin)]
    blocks = [header(t("incident.summary_header", lang, number=incident.number, title=incident.title)),
              {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}]
    if paging and not incident.closed:
        blocks.append(context(paging))
    if not incident.closed:
        blocks.append(summary_buttons(incident, lang, severities))
    return blocks


def summary_buttons(incident: Incident, lang: str, severities: Sequence[str] = SEVERITIES) -> Block:
    value = str(incident.id)
    elements = []
    if incident.status == "open":
        elements.append(button(t("incident.button_ack", lang), "incident_ack", value, "primary"))
    if incident.status in {"open", "acknowledged"}:
        elements.append(button(t("incident.button_mitigated", lang), "incident_mitigated", value))
    elements.append(button(t("incident.button_resolve", lang), "incident_resolve", value))
    if incident.status == "open":
        elements.append(button(t("incident.button_escalate", lang), "incident_escalate", value, "danger"))
    elements.append(severity_select(incident, lang, severities))
    return actions(*elements, block_id=f"incident-{incident.id}")


def severity_select(incident: Incident, lang: str, severities: Sequence[str] = SEVERITIES) -> Block:
    names = list(dict.fromkeys([*severities, incident.severity]))[:100]  # Block Kit: at most 100 options
    options = [{"text": {"type": "plain_text", "text": sev[:75]}, "value": f"{incident.id}:{sev}"} for sev in names]
    current = next(o for o in options if o["value"] == f"{incident.id}:{incident.severity}")
    return {"type": "static_select", "action_id": "incident_severity", "options": options,
            "initial_option": current,
            "placeholder": {"type": "plain_text", "text": t("incident.severity_placeholder", lang)}}


def news_blocks(text: str) -> list[Block]:
    """One line of incident news (acknowledged, escalated, a warning) as a message of its own."""
    return [section(text)]


def page_answered_blocks(incident: Incident, lang: str, key: str, actor: str) -> list[Block]:
    """What a page DM becomes once someone acted (acknowledged, resolved, cancelled…)."""
    return [section(t(key, lang, number=incident.number, user=actor))]


def pinned_blocks(incident: Incident, lang: str) -> list[Block]:
    return [context(t("incident.pinned", lang, number=incident.number))]


def page_blocks(incident: Incident, lang: str, tier: str, sla: str | None) -> list[Block]:
    """The page DM; it promises escalation only when the severity has an ack window."""
    key = "incident.page_dm" if sla else "incident.page_dm_no_sla"
    text = t(key, lang, tier=tier, number=incident.number, severity=incident.severity,
             title=incident.title, team=incident.team, where=where(incident), sla=sla or "")
    return [section(text), actions(button(t("incident.button_ack", lang), "incident_ack", str(incident.id),
                                          "primary"))]


def status_blocks(incident: Incident, lang: str, now: datetime, tz: str, next_page: Page | None) -> list[Block]:
    commander = mention(incident.commander) if incident.commander else t("incident.nobody", lang)
    responders = Markup(", ".join(mention(u) for u in incident.responders) or "—")
    blocks = [header(t("incident.status_header", lang, number=incident.number, title=incident.title)),
              section(t("incident.status_line", lang, severity=incident.severity,
                        status=status_name(incident.status, lang), team=incident.team,
                        age=format_duration(now - incident.created_at))),
              context(t("incident.who_line", lang, commander=commander, reporter=incident.reporter,
                        responders=responders))]
    if next_page and next_page.kind == "page" and not incident.closed:
        blocks.append(context(t("incident.escalation_next", lang, user=next_page.user, tier=next_page.tier,
                                at=clock_time(next_page.due_at, tz))))
    lines = [f"`{clock_time(e.at, tz)}` {timeline_line(e, lang)}" for e in incident.timeline]
    blocks.append(section(t("incident.timeline_header", lang, tz=tz) + "\n" + "\n".join(lines[-40:])))
    return blocks


def timeline_line(entry: TimelineEntry, lang: str) -> str:
    """One timeline entry in the reader's language, people as mentions; notes and pins as written."""
    actor = mention(entry.actor) + " " if entry.actor else ""
    key = f"incident.timeline_{entry.kind}"
    if entry.kind == "resolution":
        return actor + t(key, lang, text=entry.text)
    if entry.kind in {"note", "pinned"} or entry.params is None or key not in catalog("en"):
        return actor + escape(entry.text)
    params = {name: mention(value) if name in {"user", "by"} and value else value
              for name, value in entry.params.items()}
    if entry.kind == "opened":
        params["source"] = t(f"incident.source_{params.get('source', 'command')}", lang)
    return actor + t(key, lang, **{"user": "", "tier": "", "reason": "", "via": "", "old": "", "new": "",
                                   "rounds": "", "link": "", **params})


def clock_time(at: datetime, tz: str) -> str:
    """Timeline times: `11-24 09:30:05` on the reader's wall clock."""
    return f"{local(at, tz):%m-%d %H:%M:%S}"


NONE_MARK = "—"


def stats_blocks(report: StatsReport, language: str) -> list[Block]:
    title = t("incident_stats.header_team", language, team=report.team) if report.team else None
    blocks: list[Block] = [header(title or t("incident_stats.header", language)),
                           context(_period(report, language))]
    if report.empty:
        return [*blocks, section(t("incident_stats.no_incidents", language))]
    lines = [_team_line(stats, language) for stats in report.teams]
    if report.team is None and len(report.teams) > 1:
        lines.append(_team_line(report.overall, language))
    blocks += [section(chunk) for chunk in _chunks(lines, SECTION_LIMIT)]
    return [*blocks, context(t("incident_stats.footnote", language))]


def _period(report: StatsReport, language: str) -> str:
    return t("incident_stats.period", language, since=stamp(report.since, zone_name=True),
             until=stamp(report.until, zone_name=True),
             length=format_duration(report.until - report.since))




def _team_line(stats: IncidentStats, language: str) -> str:
    name = escape(stats.team) if stats.team is not None else t("incident_stats.all_teams", language)
    severities = " · ".join(f"{sev} {n}" for sev, n in stats.by_severity.items())
    parts = [
        t("incident_stats.count", language, count=stats.count, severities=severities),
        t("incident_stats.mtta", language, value=_duration(stats.mtta)),
        t("incident_stats.mttr", language, value=_duration(stats.mttr)),
        t("incident_stats.mtbf", language, value=_duration(stats.mtbf)),
    ]
    if stats.cancelled:
        parts.append(t("incident_stats.cancelled", language, count=stats.cancelled))
    return f"*{name}*: " + " · ".join(parts)


def _duration(value: timedelta | None) -> str:
    return format_duration(value) if value is not None else NONE_MARK


def _chunks(lines: Sequence[str], limit: int) -> list[str]:
    """Join lines into texts no longer than `limit` (a longer single line is cut by `section`)."""
    chunks: list[str] = []
    for line in lines:
        if chunks and len(chunks[-1]) + 1 + len(line) <= limit:
            chunks[-1] += "\n" + line
        else:
            chunks.append(line)
    return chunks


RESEMBLING_TITLE_CHARS = 80
RESEMBLING_TEXT_CHARS = 300


def resembling_blocks(items: Sequence[Resemblance], lang: str) -> list[Block]:
    """Past incidents like a new one (`bot.incidents.memory.resembling`), one compact line each: when, how long,
    what matched and how it was resolved. Nothing when there are none."""
    if not items:
        return []
    lines = [resembling_line(item, lang) for item in items]
    text = fit_lines(lines, lambda count: t("incident.resembling_more", lang, count=count), SECTION_LIMIT - 100)
    return [section(t("incident.resembling_header", lang) + "\n" + text)]


def resembling_line(item: Resemblance, lang: str) -> str:
    """`Looks like #12 checkout 500s (3 weeks ago, 42m): matched alertname `X`, namespace `y` — resolution: …`"""
    separator = t("core.list_separator", lang)
    why = [t("incident.resembling_label", lang, name=name, value=value.replace("`", "'"))
           for name, value in item.shared_labels]
    if item.shared_words:
        why.append(t("incident.resembling_words", lang, words=", ".join(item.shared_words)))
    if item.duration is None:
        duration = t("incident.resembling_no_duration", lang)
    elif item.resolved_at is None:
        duration = t("incident.resembling_mitigated", lang, duration=format_duration(item.duration))
    else:
        duration = format_duration(item.duration)
    if item.resolution:
        text = _clip(item.resolution, RESEMBLING_TEXT_CHARS)
        resolution = (t("incident.resembling_resolution", lang, text=text) if item.resolution_kind == "resolution"
                      else t("incident.resembling_last_note", lang, text=text))
    else:
        resolution = t("incident.resembling_no_resolution", lang)
    return t("incident.resembling_line", lang, number=item.number, title=_clip(item.title, RESEMBLING_TITLE_CHARS),
             ago=age(item.ago, lang, "incident", weeks_from=timedelta(weeks=2)), duration=Markup(duration),
             why=Markup(separator.join(why)), resolution=resolution)


def _clip(text: str, limit: int) -> str:
    """User text on one line, at most `limit` characters."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
