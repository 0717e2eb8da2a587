"""An evidence snapshot as Block Kit (the incident thread's first message), plain text (a file attached when
the message had to be cut, the incident timeline) and Markdown (the post-incident review draft).

Worst first: what did not arrive, firing alerts, unhealthy pods, sick nodes, rollouts, then Warning events.
Every value from the cluster goes through `t()` as a parameter, so it is escaped once, there.
"""

from __future__ import annotations

import re
from datetime import datetime

from bot.escape import unescape
from bot.evidence.model import EventCount, FiringAlert, NodeProblem, PodProblem, RolloutChange, Skipped, Snapshot
from bot.i18n import t
from bot.render.blocks import SECTION_LIMIT, Block, context, header, section
from bot.render.text import fit_lines
from bot.render.time import age, stamp

MESSAGE_CHARS = 240  # an event or pod message, cut before escaping
SUMMARY_CHARS = 200
MAX_SECTION_LINES = 400  # plain text and Markdown list at most this many lines per section
_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")

Part = tuple[str, list[str]]  # heading, lines


def snapshot_blocks(snapshot: Snapshot, lang: str) -> list[Block]:
    """At most 9 blocks, each section within Slack's 3,000 characters; lines that don't fit become "…and N
    more" (then `snapshot_fits` is False: attach `snapshot_text`)."""
    blocks = [header(_title(snapshot, lang))]
    blocks += [section(_fitted(heading, lines, lang)) for heading, lines in _parts(snapshot, lang)]
    blocks.append(context(_footer(snapshot, lang)))
    if snapshot.demo:
        blocks.append(context(t("evidence.demo", lang)))
    return blocks


def snapshot_fits(snapshot: Snapshot, lang: str) -> bool:
    """True when the blocks show every line; otherwise post `snapshot_text` as a file beside them."""
    return all(len(_fitted(heading, lines, lang)) == len(_joined(heading, lines))
               for heading, lines in _parts(snapshot, lang))


def snapshot_text(snapshot: Snapshot, lang: str) -> str:
    """Plain words, no Slack markup, cluster text unescaped (`<` is `<`): for a file attachment, or the incident
    timeline as long as whoever shows it there passes it through `t()` (which escapes it again)."""
    out = [_plain(t("evidence.title_text", lang, namespaces=_spaces(snapshot))), ""]
    for heading, lines in _parts(snapshot, lang):
        out.append(_plain(heading))
        out += [f"  - {_plain(line)}" for line in lines[:MAX_SECTION_LINES]]
        if len(lines) > MAX_SECTION_LINES:
            out.append("  " + _plain(t("evidence.more", lang, count=len(lines) - MAX_SECTION_LINES)))
        out.append("")
    out.append(_plain(_footer(snapshot, lang)))
    return "\n".join(out) + "\n"


def snapshot_markdown(snapshot: Snapshot, lang: str) -> str:
    """A Markdown section for the post-incident review draft."""
    out = [f"## {_plain(t('evidence.title_text', lang, namespaces=_spaces(snapshot)))}", ""]
    for heading, lines in _parts(snapshot, lang):
        out += [f"### {_plain(heading)}", ""]
        out += [f"- {_markdown(line)}" for line in lines[:MAX_SECTION_LINES]]
        if len(lines) > MAX_SECTION_LINES:
            out.append(f"- {_markdown(t('evidence.more', lang, count=len(lines) - MAX_SECTION_LINES))}")
        out.append("")
    out.append(f"_{_plain(_footer(snapshot, lang))}_")
    return "\n".join(out) + "\n"


def _parts(snapshot: Snapshot, lang: str) -> list[Part]:
    now = snapshot.taken_at
    parts: list[Part] = []
    if not snapshot.targets.namespaces:
        return [(t("evidence.no_namespace", lang), [])]
    if snapshot.skipped:
        parts.append((t("evidence.partial", lang, seconds=f"{snapshot.budget_s:g}"),
                      [_skipped(s, lang) for s in snapshot.skipped]))
    if snapshot.alerts:
        parts.append((t("evidence.alerts_heading", lang, count=len(snapshot.alerts)),
                      [_alert(a, now, lang) for a in snapshot.alerts]))
    if snapshot.pods:
        parts.append((t("evidence.pods_heading", lang, count=len(snapshot.pods), seen=snapshot.pods_seen),
                      [_pod(p, lang) for p in snapshot.pods]))
    if snapshot.nodes:
        parts.append((t("evidence.nodes_heading", lang, count=len(snapshot.nodes)),
                      [_node(n, lang) for n in snapshot.nodes]))
    if snapshot.rollouts:
        parts.append((t("evidence.rollouts_heading", lang, count=len(snapshot.rollouts)),
                      [_rollout(r, now, lang) for r in snapshot.rollouts]))
    if snapshot.events:
        parts.append((t("evidence.events_heading", lang, count=len(snapshot.events),
                        total=sum(e.count for e in snapshot.events)),
                      [_event(e, now, lang) for e in snapshot.events]))
    if snapshot.empty and not snapshot.skipped:
        parts.append((t("evidence.nothing", lang, namespaces=_spaces(snapshot)), []))
    return parts


def _title(snapshot: Snapshot, lang: str) -> str:
    return unescape(t("evidence.title", lang, namespaces=", ".join(snapshot.targets.namespaces) or "?"))


def _spaces(snapshot: Snapshot) -> str:
    return ", ".join(snapshot.targets.namespaces) or "?"


def _footer(snapshot: Snapshot, lang: str) -> str:
    return t("evidence.footer", lang, time=stamp(snapshot.taken_at), seen=snapshot.pods_seen,
             namespaces=_spaces(snapshot), seconds=f"{snapshot.budget_s:g}")


def _skipped(skipped: Skipped, lang: str) -> str:
    part = t(f"evidence.part_{skipped.part}", lang)
    reason = skipped.reason(lang)
    if skipped.namespace:
        return t("evidence.skipped_line", lang, part=part, namespace=skipped.namespace, reason=reason)
    return t("evidence.skipped_cluster", lang, part=part, reason=reason)


def _alert(alert: FiringAlert, now: datetime, lang: str) -> str:
    return t("evidence.alert_line", lang, severity=alert.severity, alertname=alert.alertname,
             namespace=alert.namespace, age=_age(now, alert.since, lang), summary=_cut(alert.summary, SUMMARY_CHARS))


def _pod(pod: PodProblem, lang: str) -> str:
    bits = [t("evidence.pod_line", lang, namespace=pod.namespace, pod=pod.pod, problem=pod.problem)]
    if pod.named:
        bits[0] += " " + t("evidence.named", lang)
    if pod.container:
        bits.append(t("evidence.pod_container", lang, container=pod.container))
    if pod.last_reason and pod.last_reason != pod.problem:
        bits.append(t("evidence.pod_last", lang, reason=pod.last_reason))
    if pod.exit_code is not None:
        bits.append(t("evidence.pod_exit", lang, code=pod.exit_code))
    if pod.restarts:
        bits.append(t("evidence.pod_restarts", lang, count=pod.restarts))
    if pod.node:
        bits.append(t("evidence.pod_node", lang, node=pod.node))
    if pod.message:
        bits.append(t("evidence.pod_message", lang, message=_cut(pod.message, MESSAGE_CHARS)))
    return " · ".join(bits)


def _node(node: NodeProblem, lang: str) -> str:
    states = ([t("evidence.node_not_ready", lang)] if node.not_ready else []) + list(node.pressures)
    if node.unschedulable:
        states.append(t("evidence.node_cordoned", lang))
    return t("evidence.node_line", lang, node=node.node, state=", ".join(states), pods=node.pods)


def _rollout(rollout: RolloutChange, now: datetime, lang: str) -> str:
    common = {"kind": rollout.kind, "namespace": rollout.namespace, "name": rollout.name,
              "revision": rollout.revision, "age": _age(now, rollout.at, lang),
              "after": _images(rollout.images_after, lang)}
    if not rollout.images_before:
        line = t("evidence.rollout_first", lang, **common)
    elif rollout.images_before == rollout.images_after:
        line = t("evidence.rollout_same", lang, **common)
    else:
        line = t("evidence.rollout_line", lang, before=_images(rollout.images_before, lang), **common)
    if rollout.change_cause:
        line += " · " + t("evidence.rollout_cause", lang, cause=_cut(rollout.change_cause, SUMMARY_CHARS))
    if rollout.in_progress:
        line += " · " + t("evidence.rollout_in_progress", lang)
    return line


def _images(images: tuple[str, ...], lang: str) -> str:
    return ", ".join(f"`{_cut(image, 120)}`" for image in images) or t("evidence.no_image", lang)


def _event(event: EventCount, now: datetime, lang: str) -> str:
    seen = event.last_seen or event.first_seen
    return t("evidence.event_line", lang, kind=event.kind, name=event.name, reason=event.reason, count=event.count,
             age=_age(now, seen, lang) if seen else "?", message=_cut(event.message, MESSAGE_CHARS))


def _age(now: datetime, then: datetime, lang: str) -> str:
    return age(now - then, lang, "evidence", just_now=True)


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _joined(heading: str, lines: list[str]) -> str:
    return "\n".join([heading, *(f"• {line}" for line in lines)])


def _fitted(heading: str, lines: list[str], lang: str) -> str:
    if not lines:
        return heading
    body = fit_lines([f"• {line}" for line in lines], lambda n: t("evidence.more", lang, count=n),
                     SECTION_LIMIT - len(heading) - 1)
    return f"{heading}\n{body}"


def _plain(text: str) -> str:
    return unescape(_BOLD.sub(r"\1", text))


def _markdown(text: str) -> str:
    return _BOLD.sub(r"**\1**", text)
