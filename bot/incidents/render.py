"""Block Kit for incidents: confirmation, pinned summary, page DM, status."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.durations import format_duration
from bot.escape import escape
from bot.i18n import t
from bot.incidents.model import SEVERITIES, Incident
from bot.render.blocks import Block, actions, button, context, header, section


def status_name(status: str, lang: str) -> str:
    return t(f"incident.status_{status}", lang)


def where(incident: Incident) -> str:
    return f"<#{incident.channel_id}>" if incident.channel_id else (incident.origin_link or "")


def confirmation_blocks(incident: Incident, lang: str, source: str, notes: list[str],
                        undo_minutes: int | None) -> list[Block]:
    blocks = [section(t("incident.opened", lang, number=incident.number, severity=incident.severity,
                        title=escape(incident.title))),
              context(t("incident.opened_by", lang, reporter=incident.reporter, source=source))]
    blocks += [section(note) for note in notes]
    if undo_minutes is not None:
        blocks.append(context(t("incident.undo_hint", lang, minutes=undo_minutes)))
        blocks.append(actions(button(t("incident.button_undo", lang), "incident_undo", str(incident.id))))
    return blocks


def closed_confirmation_blocks(incident: Incident, lang: str, message: str) -> list[Block]:
    return [section(t("incident.opened", lang, number=incident.number, severity=incident.severity,
                      title=escape(incident.title))), context(message)]


def summary_blocks(incident: Incident, lang: str) -> list[Block]:
    commander = f"<@{incident.commander}>" if incident.commander else t("incident.nobody", lang)
    origin = incident.origin_link or t("incident.origin_unknown", lang)
    fields = [t("incident.field_severity", lang, severity=incident.severity),
              t("incident.field_status", lang, status=status_name(incident.status, lang)),
              t("incident.field_commander", lang, commander=commander),
              t("incident.field_reporter", lang, reporter=incident.reporter),
              t("incident.field_team", lang, team=incident.team),
              t("incident.field_origin", lang, link=origin)]
    blocks = [header(t("incident.summary_header", lang, number=incident.number, title=incident.title)),
              {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in fields]}]
    if not incident.closed:
        blocks.append(summary_buttons(incident, lang))
    return blocks


def summary_buttons(incident: Incident, lang: str) -> Block:
    value = str(incident.id)
    elements = []
    if incident.status == "open":
        elements.append(button(t("incident.button_ack", lang), "incident_ack", value, "primary"))
    if incident.status in {"open", "acknowledged"}:
        elements.append(button(t("incident.button_mitigated", lang), "incident_mitigated", value))
    elements.append(button(t("incident.button_resolve", lang), "incident_resolve", value))
    if incident.status == "open":
        elements.append(button(t("incident.button_escalate", lang), "incident_escalate", value, "danger"))
    elements.append(severity_select(incident, lang))
    return actions(*elements, block_id=f"incident-{incident.id}")


def severity_select(incident: Incident, lang: str) -> Block:
    options = [{"text": {"type": "plain_text", "text": sev}, "value": f"{incident.id}:{sev}"} for sev in SEVERITIES]
    current = next(o for o in options if o["value"].endswith(incident.severity))
    return {"type": "static_select", "action_id": "incident_severity", "options": options,
            "initial_option": current,
            "placeholder": {"type": "plain_text", "text": t("incident.severity_placeholder", lang)}}


def page_blocks(incident: Incident, lang: str, tier: str, sla: str) -> list[Block]:
    text = t("incident.page_dm", lang, tier=escape(tier), number=incident.number, severity=incident.severity,
             title=escape(incident.title), team=incident.team, where=where(incident), sla=sla)
    return [section(text), actions(button(t("incident.button_ack", lang), "incident_ack", str(incident.id),
                                          "primary"))]


def status_blocks(incident: Incident, lang: str, now: datetime, tz: str,
                  next_step: tuple[str, str, datetime] | None) -> list[Block]:
    commander = f"<@{incident.commander}>" if incident.commander else t("incident.nobody", lang)
    responders = ", ".join(f"<@{u}>" for u in incident.responders) or "—"
    blocks = [header(t("incident.status_header", lang, number=incident.number, title=incident.title)),
              section(t("incident.status_line", lang, severity=incident.severity,
                        status=status_name(incident.status, lang), team=incident.team,
                        age=format_duration(now - incident.created_at))),
              context(t("incident.who_line", lang, commander=commander, reporter=incident.reporter,
                        responders=responders))]
    if next_step and not incident.closed:
        user, tier, at = next_step
        blocks.append(context(t("incident.escalation_next", lang, user=user, tier=escape(tier),
                                at=local(at, tz))))
    lines = [f"`{local(e.at, tz)}` {('<@' + e.actor + '> ') if e.actor else ''}{escape(e.text)}"
             for e in incident.timeline]
    blocks.append(section(t("incident.timeline_header", lang, tz=tz) + "\n" + "\n".join(lines[-40:])))
    return blocks


def local(at: datetime, tz: str) -> str:
    return at.astimezone(ZoneInfo(tz)).strftime("%m-%d %H:%M:%S")
