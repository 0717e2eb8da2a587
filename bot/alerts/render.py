"""Block Kit for alerts: the one message per alert group, its thread replies, quiet-window lines, /alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from bot.alerts.model import AlertGroup, AlertView
from bot.clock import elapsed
from bot.escape import Markup, escape
from bot.i18n import t
from bot.render.blocks import Block, actions, button, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import age, local

STATE_EMOJI = {"firing": "🔥", "resolved": "✅", "silenced": "🔕", "held": "🔧"}
SHOWN_LABELS = ("severity", "namespace", "team", "cluster")
LINK_ANNOTATIONS = (("runbook_url", "link_runbook"), ("dashboard_url", "link_dashboard"),
                    ("grafana_url", "link_grafana"))
HIDDEN_LABELS = {"alertname"}
REASON_CHARS = 500  # why an alert is noisy: the modal's input (Slack enforces it in its clients only)
TEXT_LIMIT = 600  # of a summary or description in the message; the full text stays in Alertmanager
MAX_LINE_LABELS = 6


def group_blocks(group: AlertGroup, lang: str, tz: str, now: datetime, silence_for: str,
                 incident: tuple[int, str] | None = None) -> list[Block]:
    """The group's message: state, counts, what tells its alerts apart, what they say, where to look."""
    blocks: list[Block] = [header(_title(group, lang)), section(_facts(group, lang))]
    said = _said(group)
    if said:
        blocks.append(section(said))
    lines = [_alert_line(alert, group, lang) for alert in _ordered(group.alerts)]
    if len(group.alerts) > 1:
        blocks.append(section(fit_lines(lines, lambda n: t("alerts.more_alerts", lang, count=n))))
    blocks.append(context(_status_line(group, lang, tz, now, incident)))
    links = _links(group, lang)
    if links:
        blocks.append(context(links))
    blocks.append(_buttons(group, lang, silence_for))
    return blocks


def _title(group: AlertGroup, lang: str) -> str:
    state = "silenced" if group.silenced_until and group.status == "firing" else group.status
    counts = t("alerts.counts", lang, firing=len(group.firing), resolved=len(group.resolved))
    return f"{STATE_EMOJI[state]} {escape(group.alertname) or t('alerts.unnamed', lang)} · {counts}"


def _facts(group: AlertGroup, lang: str) -> str:
    """The labels every alert of the group shares: the well-known ones first, then the rest (up to a few)."""
    shown = [(name, group.common_labels[name]) for name in SHOWN_LABELS if group.common_labels.get(name)]
    if group.team and not group.common_labels.get("team"):
        shown.append(("team", group.team))
    others = [(k, v) for k, v in sorted(group.common_labels.items()) if k not in {*SHOWN_LABELS, *HIDDEN_LABELS}]
    shown += others[:MAX_LINE_LABELS]
    if not shown:
        return t("alerts.no_common_labels", lang)
    return " · ".join(f"*{escape(name)}* `{escape(_cut(value, 80))}`" for name, value in shown)


def _said(group: AlertGroup) -> str:
    """The group's summary and description: the common annotations, else the first alert's."""
    source = group.common_annotations if any(k in group.common_annotations for k in ("summary", "description")) \
        else (group.alerts[0].annotations if group.alerts else {})
    parts = [escape(_cut(source[k], TEXT_LIMIT)) for k in ("summary", "description") if source.get(k)]
    return "\n".join(parts[:1] + [f">{p}" for p in parts[1:]])


def _ordered(alerts: Sequence[AlertView]) -> list[AlertView]:
    """Firing first, then by when each started."""
    return sorted(alerts, key=lambda a: (a.status != "firing", a.starts_at.timestamp() if a.starts_at else 0.0,
                                         a.fingerprint))


def _alert_line(alert: AlertView, group: AlertGroup, lang: str) -> str:
    """The labels that tell this alert from the others in its group, and its summary when it has its own."""
    common = group.common_labels
    distinct = [(k, v) for k, v in sorted(alert.labels.items()) if k not in common and k not in HIDDEN_LABELS]
    labels = " ".join(f"{escape(k)}=`{escape(_cut(v, 60))}`" for k, v in distinct[:MAX_LINE_LABELS])
    summary = alert.annotations.get("summary")
    own = summary if summary and summary != group.common_annotations.get("summary") else None
    text = f"{STATE_EMOJI[alert.status]} {labels}".rstrip()
    if own:
        text += f" — {escape(_cut(own, 160))}"
    return text


def _status_line(group: AlertGroup, lang: str, tz: str, now: datetime, incident: tuple[int, str] | None) -> str:
    streak = group.streak
    parts: list[str] = []
    if streak is not None and group.status == "resolved" and streak.resolved_at:
        parts.append(t("alerts.resolved_after", lang, duration=age(elapsed(streak.started_at, streak.resolved_at),
                                                                    lang, "alerts")))
    elif streak is not None:
        parts.append(t("alerts.firing_since", lang, time=f"{local(streak.started_at, tz):%H:%M}",
                       duration=age(elapsed(streak.started_at, now), lang, "alerts")))
        if streak.number_today > 1:
            parts.append(t("alerts.times_today", lang, nth=ordinal(streak.number_today, lang)))
    if group.silenced_until and group.silenced_until > now:
        parts.append(t("alerts.silenced_by", lang, user=mention(group.silenced_by),
                       until=f"{local(group.silenced_until, tz):%H:%M}"))
    if incident is not None:
        parts.append(t("alerts.incident_link", lang, number=incident[0], where=Markup(incident[1])))
    return " · ".join(parts) or t("alerts.no_streak", lang)


def _links(group: AlertGroup, lang: str) -> str:
    annotations = {**{k: v for a in group.alerts for k, v in a.annotations.items()}, **group.common_annotations}
    found = [(annotations.get(name, ""), t(f"alerts.{key}", lang)) for name, key in LINK_ANNOTATIONS]
    generator = next((a.generator_url for a in group.alerts if a.generator_url), "")
    found.append((generator, t("alerts.link_source", lang)))
    found.append((group.external_url, t("alerts.link_alertmanager", lang)))
    return " · ".join(link for url, label in found if (link := safe_link(url, label)))


def safe_link(url: str, label: str) -> str:
    """`<url|label>` for an http(s) URL that cannot break out of the link; anything else: nothing."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 2000 or any(c in url for c in "<>| \n"):
        return ""
    return Markup(f"<{url.strip().replace('&', '&amp;')}|{escape(label)}>")


def _buttons(group: AlertGroup, lang: str, silence_for: str) -> Block:
    elements = []
    if group.status == "firing":
        elements.append(button(t("alerts.button_silence", lang, duration=silence_for), "alerts_silence", str(group.id)))
    elements.append(button(t("alerts.button_incident", lang), "alerts_incident", str(group.id), style="danger"))
    elements.append(button(t("alerts.button_noisy", lang), "alerts_noisy", str(group.id)))
    return actions(*elements, block_id=f"alert-group-{group.id}")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# ------------------------------------------------------------------ thread replies and lines


def said_blocks(key: str, params: Mapping[str, object], lang: str) -> list[Block]:
    """A reply or notice queued as (catalog key, params): rendered in the reader's language when sent.
    A `seconds` parameter becomes `after` ("14 min"), a `count` also `nth` ("3rd")."""
    values = dict(params)
    if isinstance(values.get("seconds"), int | float):
        values["after"] = age(timedelta(seconds=float(values["seconds"])), lang, "alerts")  # type: ignore[arg-type]
    if isinstance(values.get("count"), int):
        values["nth"] = ordinal(values["count"], lang)  # type: ignore[arg-type]
    return [section(t(f"alerts.{key}", lang, **values))]


def ordinal(number: int, lang: str) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st in English; the number alone in Chinese (the catalog says 第 N 次)."""
    if lang != "en":
        return str(number)
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def firing_blocks(groups: Sequence[AlertGroup], team: str | None, lang: str, tz: str, now: datetime) -> list[Block]:
    """/alerts: what is firing now, grouped, oldest first."""
    where = team or t("alerts.all_teams", lang)
    if not groups:
        return [section(t("alerts.nothing_firing", lang, team=where))]
    lines = []
    for group in groups:
        since = group.streak.started_at if group.streak else now
        quiet = f" {STATE_EMOJI['silenced']}" if group.silenced_until and group.silenced_until > now else ""
        held = f" {STATE_EMOJI['held']}" if group.held else ""
        lines.append(t("alerts.firing_line", lang, name=group.alertname or t("alerts.unnamed", lang),
                       count=len(group.firing), namespace=group.namespace or "—",
                       age=age(elapsed(since, now), lang, "alerts"), time=f"{local(since, tz):%H:%M}") + quiet + held)
    return [section(t("alerts.firing_header", lang, team=where, count=len(groups))),
            section(fit_lines(lines, lambda n: t("alerts.more_groups", lang, count=n)))]


def noisy_modal(metadata: str, lang: str) -> Block:
    """The Noisy button's question: why is this alert noisy (one optional line)."""
    return {"type": "modal", "callback_id": "alerts_noisy_reason", "private_metadata": metadata[:3000],
            "title": {"type": "plain_text", "text": t("alerts.modal_title", lang)[:24]},
            "submit": {"type": "plain_text", "text": t("alerts.modal_submit", lang)[:24]},
            "close": {"type": "plain_text", "text": t("alerts.modal_cancel", lang)[:24]},
            "blocks": [{"type": "input", "block_id": "reason", "optional": True,
                        "label": {"type": "plain_text", "text": t("alerts.modal_label", lang)[:2000]},
                        "element": {"type": "plain_text_input", "action_id": "reason", "max_length": REASON_CHARS,
                                    "placeholder": {"type": "plain_text",
                                                    "text": t("alerts.modal_hint", lang)[:150]}}}]}
