"""Incidents that resemble this one: past incidents of the same team with the same alert labels or title words.

A plain, explainable match, no learning: a past incident (resolved or mitigated, of the same team, opened in
the last 180 days) qualifies when it shares at least one of the labels alertname, namespace or deployment
with the new incident, or when their titles overlap by at least 0.3 (Jaccard overlap of title tokens).
Ranking: more shared labels first; for as many, the heavier ones (alertname > namespace > deployment); then
the larger title overlap; then the more recent. Each result says which labels and words matched.

A past incident's labels come from its timeline entries of kind "alert" (params `{"labels": {…}, "group": …}`),
its resolution from the note marked as the resolution, else the last note before it was resolved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.clock import elapsed
from bot.incidents import store
from bot.incidents.model import Incident, Resemblance, TimelineEntry

WINDOW = timedelta(days=180)
CANDIDATES = 500  # the newest this many in the window are compared
MIN_TITLE_OVERLAP = 0.3  # a match on title words alone needs at least this much
LABEL_WEIGHTS = {"alertname": 3, "namespace": 2, "deployment": 1}  # also the order shared labels are listed in
PAST_STATUSES = ("resolved", "mitigated")
EVENT_KINDS = ("alert", "resolution", "note")

# Words that say nothing about what broke (English) and the bot's own title words ("Degraded: …").
STOP_WORDS = frozenset({
    "about", "after", "again", "all", "also", "and", "any", "are", "been", "before", "being", "but", "can",
    "cannot", "could", "did", "does", "down", "for", "from", "had", "has", "have", "her", "here", "his", "how",
    "into", "its", "just", "more", "most", "not", "now", "off", "once", "only", "other", "our", "out", "over",
    "own", "same", "she", "should", "some", "such", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "too", "under", "until", "very", "was", "were", "what", "when", "where",
    "which", "while", "who", "why", "will", "with", "would", "you", "your", "incident", "incidents", "issue",
    "issues", "problem", "problems", "degraded", "message"
})
# The same for Chinese: removed from CJK runs before they are cut into character pairs.
CJK_STOP_WORDS = ("事故", "故障", "问题", "异常", "服务", "性能下降", "消息", "出现", "一个", "一条", "来自", "中的",
                  "导致", "无法", "不能", "的", "了", "和", "在", "是", "有")

_NON_WORD = re.compile(r"\W+")
_CJK_CHARS = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_RUNS = re.compile(f"[{_CJK_CHARS}]+|[^{_CJK_CHARS}]+")
_CJK = re.compile(f"[{_CJK_CHARS}]")
_CJK_STOP = re.compile("|".join(sorted(map(re.escape, CJK_STOP_WORDS), key=len, reverse=True)))
_DEPLOYMENT_POD = re.compile(r"^(?P<name>.+)-[a-z0-9]{6,10}-[a-z0-9]{5}$")  # api-7d9f8b6c4-x2x7k
_STATEFUL_POD = re.compile(r"^(?P<name>.+)-\d+$")  # kafka-2


def resembling(factory: sessionmaker[Session], incident: Incident, labels: Mapping[str, str],
               limit: int = 3) -> list[Resemblance]:
    """Up to `limit` past incidents like `incident`, best first (see the module's doc).

    `labels` are the new incident's alert labels (e.g. the firing alert's); labels the incident's own "alert"
    timeline entries carry fill in any `labels` leaves out. Two database queries.
    """
    wanted = {**alert_labels(incident.timeline), **match_labels(labels)}
    candidates = store.past_of_team(factory, incident.team, incident.created_at - WINDOW, incident.created_at,
                                    exclude=incident.id, statuses=PAST_STATUSES, kinds=EVENT_KINDS,
                                    limit=CANDIDATES)
    return rank(incident, wanted, candidates, limit)


def rank(incident: Incident, labels: Mapping[str, str], candidates: Iterable[Incident],
         limit: int = 3) -> list[Resemblance]:
    """The matching itself, on incidents already loaded: `labels` as `match_labels` gives them, candidates with
    their "alert", "resolution" and "note" timeline entries."""
    words = tokens(incident.title)
    scored = []
    for past in candidates:
        if past.id == incident.id or past.team != incident.team or past.status not in PAST_STATUSES:
            continue
        seen = label_values(past.timeline)
        shared_labels = tuple((name, labels[name]) for name in LABEL_WEIGHTS
                              if name in labels and labels[name] in seen.get(name, set()))
        past_words = tokens(past.title)
        overlap = jaccard(words, past_words)
        if not shared_labels and overlap < MIN_TITLE_OVERLAP:
            continue
        weight = sum(LABEL_WEIGHTS[name] for name, _ in shared_labels)
        key = (len(shared_labels), weight, overlap, past.created_at, past.id)
        scored.append((key, _resemblance(incident, past, shared_labels, words, past_words, overlap)))
    scored.sort(key=lambda pair: pair[0], reverse=True)
    return [found for _, found in scored[:limit]]


def _resemblance(incident: Incident, past: Incident, shared_labels: tuple[tuple[str, str], ...],
                 words: Sequence[str], past_words: Sequence[str], overlap: float) -> Resemblance:
    ended = past.resolved_at or past.mitigated_at
    resolution = past.resolution
    common = set(past_words)
    return Resemblance(
        incident_id=past.id, title=past.title, status=past.status, created_at=past.created_at,
        resolved_at=past.resolved_at, duration=elapsed(past.created_at, ended) if ended else None,
        ago=elapsed(past.created_at, incident.created_at), shared_labels=shared_labels,
        shared_words=tuple(word for word in words if word in common), title_overlap=overlap,
        resolution=resolution.text if resolution else None, resolution_kind=resolution.kind if resolution else None,
        channel_id=past.channel_id)


# ---------------------------------------------------------------- labels


def match_labels(labels: Mapping[str, str]) -> dict[str, str]:
    """The labels matching compares: alertname, namespace and deployment; a statefulset or daemonset counts as
    the deployment, and so does the workload a pod's name gives (`api-7d9f8b6c4-x2x7k` → `api`, `kafka-2` →
    `kafka`) when no workload label is there. Empty values are left out."""
    found = {name: str(labels[name]) for name in ("alertname", "namespace") if labels.get(name)}
    workload = (labels.get("deployment") or labels.get("statefulset") or labels.get("daemonset")
                or pod_workload(labels.get("pod") or ""))
    if workload:
        found["deployment"] = str(workload)
    return found


def pod_workload(pod: str) -> str:
    """The deployment or statefulset a pod's generated name points to, or "" if the name shows none."""
    match = _DEPLOYMENT_POD.match(pod) or _STATEFUL_POD.match(pod)
    return match.group("name") if match else ""


def label_values(timeline: Iterable[TimelineEntry]) -> dict[str, set[str]]:
    """Every value each matched label took across an incident's "alert" entries (an incident can gather
    several alert groups)."""
    values: dict[str, set[str]] = {}
    for labels in _alert_label_sets(timeline):
        for name, value in match_labels(labels).items():
            values.setdefault(name, set()).add(value)
    return values


def alert_labels(timeline: Iterable[TimelineEntry]) -> dict[str, str]:
    """The matched labels of an incident's own alerts; the first alert's value wins."""
    found: dict[str, str] = {}
    for labels in _alert_label_sets(timeline):
        for name, value in match_labels(labels).items():
            found.setdefault(name, value)
    return found


def _alert_label_sets(timeline: Iterable[TimelineEntry]) -> Iterable[Mapping[str, str]]:
    for entry in timeline:
        labels = (entry.params or {}).get("labels") if entry.kind == "alert" else None
        if isinstance(labels, dict):
            yield {str(name): str(value) for name, value in labels.items() if value is not None}


# ---------------------------------------------------------------- title words


def tokens(title: str) -> list[str]:
    """A title's words for matching, in order, once each: lowercased, split on anything not a letter or digit,
    stop words and words under 3 characters dropped; runs of CJK characters (no spaces between words) become
    overlapping character pairs, after their stop words are taken out."""
    found: list[str] = []
    for word in _NON_WORD.split(title.lower()):
        for run in _RUNS.findall(word):
            if _CJK.match(run):
                for piece in _CJK_STOP.split(run):
                    found += [piece[i:i + 2] for i in range(len(piece) - 1)]
            elif len(run) >= 3 and run not in STOP_WORDS:
                found.append(run)
    return list(dict.fromkeys(found))


def jaccard(first: Sequence[str], second: Sequence[str]) -> float:
    """|A ∩ B| / |A ∪ B| of two token lists as sets; 0 when both are empty."""
    a, b = set(first), set(second)
    return len(a & b) / len(a | b) if a or b else 0.0
