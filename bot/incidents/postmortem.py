"""A post-incident review draft in Markdown: facts from the incident, empty sections for the humans.

Seed 004's practice: detect → respond → mitigate → resolve → review, with a written timeline, and
rules distilled from past incidents. The draft fills in what the bot knows and leaves the rest blank.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.clock import aware, elapsed
from bot.durations import format_duration
from bot.escape import strip_markup
from bot.i18n import catalog, normalise_language, t
from bot.incidents.model import Incident, TimelineEntry
from bot.render.time import local_stamp

NONE_MARK = "—"
_PREFIX = "postmortem."
_MILESTONES = ("acknowledged", "mitigated", "resolved", "cancelled")
_TIME_TO = {"acknowledged": "acknowledge", "mitigated": "mitigate", "resolved": "resolve"}
_FILL_IN = ("summary", "impact", "root_cause", "went_well", "went_wrong")
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def review_filename(incident: Incident) -> str:
    return f"incident-{incident.number}-review.md"


def review_markdown(incident: Incident, names: Mapping[str, str], language: str, tz: str) -> str:
    """The review draft in `language` (callers pass the incident's language; if it is not one we have,
    the incident's own language, else English).

    `names` maps Slack user ids to display names; `tz` is the team's IANA time zone for local times.
    """
    lang = normalise_language(language) or normalise_language(incident.language) or "en"
    zone = ZoneInfo(tz)
    parts = [
        _title(incident, names, lang),
        _facts(incident, names, lang),
        _key_times(incident, zone, tz, lang),
        _responders(incident, names, lang),
        _timeline(incident.timeline, names, zone, tz, lang),
        *_evidence(incident.timeline, zone, lang),
        *(_empty_section(name, lang, _resolution(incident, names, lang) if name == "root_cause" else "")
          for name in _FILL_IN),
        _action_items(lang),
        f"> {_text('blameless', lang)}",
    ]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------- header and facts


def _title(incident: Incident, names: Mapping[str, str], lang: str) -> str:
    title = _text("title", lang, number=incident.number, title=_inline(incident.title, names),
                  severity=incident.severity.upper())
    return f"# {title}\n\n_{_text('draft_notice', lang)}_"


def _facts(incident: Incident, names: Mapping[str, str], lang: str) -> str:
    rows = [
        ("team", _inline(incident.team, names)),
        ("severity", incident.severity.upper()),
        ("status", _status(incident.status, lang)),
        ("commander", _person(incident.commander, names, lang)),
        ("reporter", _person(incident.reporter, names, lang)),
        ("origin", _origin(incident.origin_link, lang)),
    ]
    return "\n".join(_fact(_text(key, lang), value, lang) for key, value in rows)


def _fact(label: str, value: str, lang: str) -> str:
    return "- " + _text("fact", lang, label=label, value=value)


def _status(status: str, lang: str) -> str:
    return _text(f"status_{status}", lang) if _known(f"status_{status}", lang) else _inline(status, {})


def _origin(link: str | None, lang: str) -> str:
    if not link:
        return NONE_MARK
    url = link.strip().replace(" ", "%20").replace("(", "%28").replace(")", "%29")
    return f"[{_text('origin_link', lang)}]({url})"


# ---------------------------------------------------------------- key times


def _key_times(incident: Incident, zone: ZoneInfo, tz: str, lang: str) -> str:
    rows = [(_text("milestone_opened", lang), local_stamp(incident.created_at, zone), NONE_MARK)]
    for milestone in _MILESTONES:
        moment: datetime | None = getattr(incident, f"{milestone}_at")
        if moment is None and milestone == "cancelled":
            continue
        elapsed = _elapsed(incident.created_at, moment)
        rows.append((_text(f"milestone_{milestone}", lang),
                     local_stamp(moment, zone) if moment else NONE_MARK, elapsed))
    table = _table([_text("col_milestone", lang), _text("col_time", lang, tz=tz),
                    _text("col_elapsed", lang)], rows)
    return "\n\n".join([f"## {_text('key_times', lang)}", _text("times_in", lang, tz=tz),
                        table, _time_to_lines(incident, lang)])


def _time_to_lines(incident: Incident, lang: str) -> str:
    lines = []
    for milestone, verb in _TIME_TO.items():
        elapsed = _elapsed(incident.created_at, getattr(incident, f"{milestone}_at"))
        lines.append(_fact(_text(f"time_to_{verb}", lang), elapsed, lang))
    return "\n".join(lines)


def _elapsed(start: datetime, end: datetime | None) -> str:
    if end is None:
        return NONE_MARK
    return format_duration(elapsed(start, end))


# ---------------------------------------------------------------- people and timeline


def _responders(incident: Incident, names: Mapping[str, str], lang: str) -> str:
    people = list(dict.fromkeys(incident.responders))
    body = "\n".join(f"- {_person(user, names, lang)}" for user in people)
    return f"## {_text('responders', lang)}\n\n{body or _text('no_responders', lang)}"


def _person(user: str | None, names: Mapping[str, str], lang: str) -> str:
    if not user:
        return NONE_MARK
    return _inline(names.get(user) or user, {})


def _timeline(entries: Sequence[TimelineEntry], names: Mapping[str, str], zone: ZoneInfo, tz: str,
              lang: str) -> str:
    heading = f"## {_text('timeline', lang)}"
    if not entries:
        return f"{heading}\n\n{_text('no_timeline', lang)}"
    rows = [
        (local_stamp(entry.at, zone), _who(entry.actor, names, lang), _kind(entry.kind, lang),
         _cell(entry.text, names))
        for entry in sorted(entries, key=lambda e: aware(e.at))
    ]
    columns = [_text("col_time", lang, tz=tz), _text("col_who", lang),
               _text("col_event", lang), _text("col_details", lang)]
    return f"{heading}\n\n{_table(columns, rows)}"


def _who(actor: str | None, names: Mapping[str, str], lang: str) -> str:
    return _cell(names.get(actor) or actor, {}) if actor else _text("bot", lang)


def _evidence(entries: Sequence[TimelineEntry], zone: ZoneInfo, lang: str) -> list[str]:
    """The Kubernetes evidence taken during the incident (the latest snapshot), as the bot wrote it."""
    taken = [e for e in entries if e.kind == "evidence" and e.params and e.params.get("markdown")]
    if not taken:
        return []
    latest = max(taken, key=lambda e: aware(e.at))
    heading = f"## {_text('evidence', lang, at=local_stamp(latest.at, zone))}"
    return [f"{heading}\n\n{str(latest.params['markdown']).strip()}" if latest.params else heading]


def _kind(kind: str, lang: str) -> str:
    return _text(f"kind_{kind}", lang) if _known(f"kind_{kind}", lang) else _cell(kind, {})


# ---------------------------------------------------------------- sections to fill in


def _empty_section(name: str, lang: str, known: str = "") -> str:
    """A section for the humans: what the bot already knows (if anything), then a hint they can't see."""
    body = f"{known}\n\n" if known else ""
    return f"## {_text(f'{name}', lang)}\n\n{body}<!-- {_text(f'hint_{name}', lang)} -->"


def _resolution(incident: Incident, names: Mapping[str, str], lang: str) -> str:
    """The note marked as the resolution (`/incident note resolution: …`), else the last note before resolving,
    labelled as such; "" when there is neither."""
    entry = incident.resolution
    if entry is None:
        return ""
    label = _text("resolution" if entry.kind == "resolution" else "last_note", lang)
    return _fact(label, _inline(entry.text, names), lang)


def _action_items(lang: str) -> str:
    columns = [_text(f"col_{name}", lang) for name in ("action", "owner", "due", "ticket")]
    return f"## {_text('action_items', lang)}\n\n{_table(columns, [('', '', '', '')])}"


# ---------------------------------------------------------------- Markdown helpers


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [_row(columns), _row(["---"] * len(columns)), *(_row(row) for row in rows)]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _inline(text: str, names: Mapping[str, str]) -> str:
    """User text on one line: Slack markup decoded, line breaks folded, no raw HTML, no table breaks."""
    return _clean(" ".join(strip_markup(text, dict(names)).split()))


def _cell(text: str, names: Mapping[str, str]) -> str:
    """User text inside a table cell: as `_inline`, but the author's line breaks become <br>."""
    lines = (_clean(" ".join(line.split())) for line in _LINE_BREAKS.split(strip_markup(text, dict(names))))
    return "<br>".join(line for line in lines if line)


def _clean(text: str) -> str:
    """Backslashes and pipes escaped (GFM tables split on bare `|`), `<` `>` as entities (no raw HTML)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def _text(name: str, lang: str, **params: object) -> str:
    return t(_PREFIX + name, lang, **params)


def _known(name: str, lang: str) -> bool:
    return _PREFIX + name in catalog(lang)
