"""Block Kit for /review: a team's queue, what waits on me, the team digest and the personal morning DM, the
nudge to a reviewer (firm, never confrontational: what it unblocks, their queue acknowledged, a concrete time)
with its three buttons, what the author is told, and the answer to `/review nudge`.

GitHub text (titles, descriptions, logins, labels, repositories) reaches Slack only through `t()`'s escaping, or
`escape()` where a piece of markup is built here; Slack users only through `mention()`."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal

import ftfy

from bot.clients import PullRequest
from bot.escape import Markup, escape
from bot.i18n import t
from bot.render import time
from bot.render.blocks import SECTION_LIMIT, Block, actions, button, context, header, mention, section
from bot.render.text import fit_lines
from bot.render.time import local, when
from bot.review.model import (
    Alternative,
    MyQueue,
    Nudge,
    NudgeOutcome,
    NudgeReport,
    QueueItem,
    TeamQueue,
    size_class,
)

REVIEWING, CANT, SNOOZE = "review_reviewing", "review_cant", "review_snooze"  # value: {"nudge": <Nudge.id>}

TITLE_CHARS = 90  # a title, on one line
REASON_CHARS = 200  # what a pull request unblocks, on one line
LABELS_SHOWN = 5
LIST_SECTIONS = 3  # sections of pull requests in /review team before "…and N more"
LOAD_SHOWN = 20  # reviewers in a load list
DIGEST_STALE = 5  # stale pull requests named in the digest
REMINDER_ITEMS = 10  # pull requests named in the morning DM
HOURS_UNTIL = timedelta(days=365)  # working time reads in hours: a "day" of it would mislead

_CI_ICON = {"SUCCESS": ":white_check_mark:", "FAILURE": ":x:", "ERROR": ":x:", "PENDING": ":large_yellow_circle:",
            "EXPECTED": ":large_yellow_circle:"}
_CI_WORD = {"SUCCESS": "success", "FAILURE": "failure", "ERROR": "failure", "PENDING": "pending",
            "EXPECTED": "pending"}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


# /review team [name] ----------------------------------------------------------------------------------
def team_queue_blocks(queue: TeamQueue, lang: str, tz: str) -> list[Block]:
    blocks = [header(t("review.title", lang, team=queue.team))]
    if not queue.repos:
        return [*blocks, section(t("review.no_repos", lang, team=queue.team)), *_demo(queue.demo, lang)]
    if queue.missing:
        blocks.append(section(t("review.missing", lang, repos=_codes(queue.missing, lang))))
    if queue.items:
        lines = [_team_line(item, lang) for item in queue.items]
        blocks += [section(text) for text in _pack(lines, lambda n: t("review.more", lang, count=n))]
        blocks.append(section(_load_section(queue.load, lang)))
    else:
        blocks.append(section(t("review.none", lang, repos=_codes(queue.repos, lang))))
    blocks.append(context(t("review.summary", lang, count=len(queue.items), stale=len(queue.stale),
                            stale_after=age_text(queue.stale_after, lang), repos=_codes(queue.repos, lang),
                            time=f"{local(queue.as_of, tz):%H:%M}", tz=tz)))
    return blocks + _demo(queue.demo, lang)


def _team_line(item: QueueItem, lang: str) -> str:
    pr = item.pr
    return t("review.line", lang, link=_link(pr), title=_title(pr), author=pr.author, age=age_text(item.waited, lang),
             reviewers=_names(item.reviewers, lang), size=_size_short(pr, lang), status=_status(pr, item.stale, lang))


def _load_section(load: Sequence[tuple[str, int]], lang: str) -> str:
    lines = [t("review.load_line", lang, reviewer=_code(reviewer), waiting=_waiting(count, lang))
             for reviewer, count in load]
    if not lines:
        lines = [t("review.none_known", lang)]
    return _with_heading(t("review.load_heading", lang), lines, lang, LOAD_SHOWN)


# /review -------------------------------------------------------------------------------------------
def my_queue_blocks(queue: MyQueue, lang: str, tz: str) -> list[Block]:
    blocks = [header(t("review.mine_title", lang))]
    if queue.login is None:
        return [*blocks, section(t("review.unknown_login", lang, config=unmapped_config("<your-github-login>"))),
                *_demo(queue.demo, lang)]
    waiting = [_my_line(item, queue, lang) for item in queue.to_review]
    blocks.append(section(_with_heading(t("review.to_review_heading", lang, count=len(waiting)), waiting, lang)
                          if waiting else t("review.to_review_none", lang)))
    mine = [t("review.mine_line", lang, link=_link(item.pr), title=_title(item.pr), age=age_text(item.waited, lang),
              reviewers=_names(item.reviewers, lang), status=_status(item.pr, item.stale, lang))
            for item in queue.mine]
    blocks.append(section(_with_heading(t("review.mine_heading", lang, count=len(mine)), mine, lang)
                          if mine else t("review.mine_none", lang)))
    blocks.append(context(t("review.my_context", lang, login=_code(queue.login),
                            teams=_codes(queue.teams, lang) if queue.teams else t("review.none_known", lang),
                            time=f"{local(queue.as_of, tz):%H:%M}", tz=tz)))
    return blocks + _demo(queue.demo, lang)


def _my_line(item: QueueItem, queue: MyQueue, lang: str) -> str:
    pr = item.pr
    return t("review.to_review_line", lang, link=_link(pr), title=_title(pr), author=pr.author,
             age=age_text(item.waited, lang), via=_via(item, queue, lang), size=_size_short(pr, lang),
             status=_status(pr, item.stale, lang))


def _via(item: QueueItem, queue: MyQueue, lang: str) -> str:
    """` · via org/slug` when the review was asked of one of their teams rather than of them."""
    if queue.login is not None and queue.login in item.pr.requested_reviewers:
        return Markup("")
    teams = [team for team in item.pr.requested_teams if team in queue.teams] or \
        [team for team in item.reviewers if team in queue.teams]
    return t("review.via", lang, team=_codes(teams, lang)) if teams else Markup("")


# The weekday digest and the morning DM -------------------------------------------------------------------
def digest_blocks(queue: TeamQueue, lang: str, tz: str) -> list[Block]:
    """Short: it posts every working day. The stale pull requests (or the one waiting longest), the load, a hint."""
    blocks = [header(t("review.digest_title", lang, team=queue.team))]
    if not queue.repos:
        return [*blocks, section(t("review.no_repos", lang, team=queue.team)), *_demo(queue.demo, lang)]
    repos = _codes(queue.repos, lang)
    if not queue.items:
        blocks.append(section(t("review.digest_none", lang, repos=repos)))
    else:
        blocks.append(section(t("review.digest_summary", lang, count=len(queue.items), stale=len(queue.stale),
                                stale_after=age_text(queue.stale_after, lang), repos=repos)))
        if queue.stale:
            lines = [_digest_line("review.digest_stale_line", item, lang) for item in queue.stale]
            blocks.append(section(_with_heading(t("review.digest_stale_heading", lang), lines, lang, DIGEST_STALE)))
        else:
            blocks.append(section(_digest_line("review.digest_longest", queue.items[0], lang)))
        if queue.load:
            load = t("review.sep", lang).join(t("review.load_item", lang, reviewer=_code(reviewer), count=count)
                             for reviewer, count in queue.load[:LOAD_SHOWN])
            if len(queue.load) > LOAD_SHOWN:
                load += " " + t("review.more", lang, count=len(queue.load) - LOAD_SHOWN)
            blocks.append(section(t("review.digest_load", lang, load=Markup(load))))
        blocks.append(context(t("review.digest_hint", lang, team=queue.team)))
    if queue.missing:
        blocks.append(context(t("review.missing", lang, repos=_codes(queue.missing, lang))))
    return blocks + _demo(queue.demo, lang)


def _digest_line(key: str, item: QueueItem, lang: str) -> str:
    pr = item.pr
    return t(key, lang, link=_link(pr), title=_title(pr), author=pr.author, age=age_text(item.waited, lang),
             reviewers=_names(item.reviewers, lang))


def reminder_blocks(queue: MyQueue, lang: str, tz: str) -> list[Block]:
    """The personal morning DM: what waits on them, oldest first, and a word on their own pull requests."""
    if queue.login is None:
        return [section(t("review.unknown_login", lang, config=unmapped_config("<your-github-login>")))]
    if not queue.to_review:
        blocks = [section(t("review.reminder_none", lang))]
    else:
        lines = [t("review.reminder_line", lang, link=_link(item.pr), title=_title(item.pr), author=item.pr.author,
                   age=age_text(item.waited, lang), via=_via(item, queue, lang), size=_size_short(item.pr, lang))
                 for item in queue.to_review]
        intro = t("review.reminder_intro", lang, count=len(lines))
        blocks = [section(_with_heading(intro, lines, lang, REMINDER_ITEMS))]
    if queue.mine:
        oldest = max(item.waited for item in queue.mine)
        blocks.append(section(t("review.reminder_mine", lang, count=len(queue.mine), age=age_text(oldest, lang))))
    blocks.append(context(t("review.reminder_hint", lang)))
    return blocks + _demo(queue.demo, lang)


def remind_blocks(on: bool, lang: str, hours: str, tz: str) -> list[Block]:
    """The answer to `/review remind on|off`; `hours` as configured, e.g. "mon-fri 09:00-18:00"."""
    if on:
        return [section(t("review.remind_on", lang, hours=hours, tz=tz))]
    return [section(t("review.remind_off", lang))]


# The nudge ----------------------------------------------------------------------------------------------
def nudge_blocks(nudge: Nudge, lang: str) -> list[Block]:
    """The DM to the reviewer; with `follow_up`, the one follow-up once the proposed time has passed."""
    pr = nudge.pr
    proposed = when(nudge.propose_at, nudge.tz, lang)
    lines = [t("review.follow_up_intro", lang, when=proposed) if nudge.follow_up
             else t("review.nudge_intro", lang, asker=mention(nudge.requested_by)),
             t("review.nudge_pr", lang, link=_link(pr), title=_title(pr)),
             t("review.nudge_facts", lang, size=_size(pr, lang), author=_author(nudge))]
    reason = _one_line(nudge.reason, REASON_CHARS)
    if reason:
        lines.append(t("review.nudge_unblocks", lang, reason=reason))
    if nudge.follow_up:
        lines.append(t("review.follow_up_ask", lang))
    else:
        lines += ["", t("review.nudge_ask", lang, ack=_acknowledge(nudge, lang), when=proposed),
                  t("review.nudge_close", lang)]
    blocks = [section("\n".join(lines))]
    facts = _checks(pr, lang)
    if nudge.follow_up:
        facts.insert(0, t("review.asked_by", lang, asker=mention(nudge.requested_by)))
    if facts:
        blocks.append(context(" · ".join(facts)))
    value = {"nudge": nudge.id}
    blocks.append(actions(button(t("review.button_reviewing", lang), REVIEWING, value, style="primary"),
                          button(t("review.button_cant", lang), CANT, value),
                          button(t("review.button_snooze", lang), SNOOZE, value),
                          block_id=f"review_nudge_{nudge.id}"))
    return blocks


def _acknowledge(nudge: Nudge, lang: str) -> str:
    """"You have 4 reviews waiting; this one is small." — their queue seen, this one sized."""
    many = "many" if nudge.queue > 1 else "one"
    return t(f"review.ack_{many}_{size_class(nudge.pr)}", lang, count=nudge.queue)


def _checks(pr: PullRequest, lang: str) -> list[str]:
    """CI, approvals, changes asked for and labels, compactly."""
    facts = []
    ci = pr.ci or ""
    if ci in _CI_ICON:
        facts.append(f"{_CI_ICON[ci]} " + t(f"review.ci_{_CI_WORD[ci]}", lang))
    if pr.approvals:
        facts.append(":+1: " + t("review.approved_by", lang, names=_codes(pr.approvals, lang)))
    if pr.changes_requested:
        facts.append(":memo: " + t("review.changes_by", lang, names=_codes(pr.changes_requested, lang)))
    if pr.labels:
        labels = [_one_line(label, 40) for label in pr.labels[:LABELS_SHOWN]]
        shown = _codes(labels, lang) + ("…" if len(pr.labels) > LABELS_SHOWN else "")
        facts.append(t("review.labels", lang, labels=Markup(shown)))
    return facts


def author_follow_up_blocks(nudge: Nudge, lang: str) -> list[Block]:
    """To the author at the proposed time: the reviewer was reminded once more, and nothing more goes out."""
    return [section(t("review.author_follow_up", lang, link=_link(nudge.pr), title=_title(nudge.pr),
                      when=_when_tz(nudge.propose_at, nudge.tz, lang), reviewer=mention(nudge.reviewer_slack)))]


def reviewing_blocks(nudge: Nudge, lang: str) -> list[Block]:
    return [section(t("review.reviewing", lang, reviewer=mention(nudge.reviewer_slack), link=_link(nudge.pr),
                      title=_title(nudge.pr)))]


def cant_blocks(nudge: Nudge, alternative: Alternative | None, lang: str) -> list[Block]:
    """To the author: not this week; who else could (the least loaded other reviewer), or that no one is known."""
    text = t("review.cant", lang, reviewer=mention(nudge.reviewer_slack), link=_link(nudge.pr), title=_title(nudge.pr))
    if alternative is None:
        follow = t("review.cant_nobody", lang)
    else:
        who = mention(alternative.slack_user) if alternative.slack_user else _code(alternative.login)
        follow = t("review.cant_alternative", lang, who=who, waiting=_waiting(alternative.waiting, lang))
    return [section(text + "\n" + follow)]


def answered_blocks(answer: Literal["reviewing", "cant", "snooze"], nudge: Nudge, lang: str,
                    until: datetime | None = None) -> list[Block]:
    """What replaces the nudge DM once the reviewer pressed a button (the buttons go)."""
    common = {"link": _link(nudge.pr), "title": _title(nudge.pr), "author": _author(nudge)}
    if answer == "snooze":
        if until is None:
            return [section(t("review.answered_snooze_day", lang, **common))]
        return [section(t("review.answered_snooze", lang, until=when(until, nudge.tz, lang), **common))]
    return [section(t(f"review.answered_{answer}", lang, **common))]


# /review nudge's answer ----------------------------------------------------------------------------------
def nudge_report_blocks(report: NudgeReport, lang: str) -> list[Block]:
    """Per requested reviewer, what happened: sent, held, already, unmapped, team or failed."""
    pr = report.pr
    lines = [t("review.report_title", lang, link=_link(pr), title=_title(pr))]
    lines += [_outcome(outcome, lang) for outcome in report.outcomes] or [t("review.report_none", lang)]
    return [section(text) for text in _pack(lines, lambda n: t("review.more", lang, count=n), sections=10)]


def _outcome(o: NudgeOutcome, lang: str) -> str:
    reviewer = _code(o.reviewer)
    slack = mention(o.slack_user) if o.slack_user else reviewer
    if o.status == "unmapped":
        return t("review.report_unmapped", lang, reviewer=reviewer, config=unmapped_config(o.reviewer))
    if o.status == "team":
        return t("review.report_team", lang, reviewer=reviewer)
    if o.status == "failed":
        return t("review.report_failed", lang, reviewer=reviewer, slack=slack)
    at = o.propose_at if o.status == "sent" else o.at
    if at is None:
        key = {"sent": "review.report_sent_no_time", "held": "review.report_held_later",
               "already": "review.report_already_later"}[o.status]
        return t(key, lang, reviewer=reviewer, slack=slack)
    return t(f"review.report_{o.status}", lang, reviewer=reviewer, slack=slack, when=_when_tz(at, o.tz, lang))


def unmapped_config(login: str) -> str:
    """The lines to add to the config file so a GitHub login finds its Slack user, as a code block."""
    return Markup("```\ngithub:\n  users:\n    " + escape(login)
                  + ": U0123ABCD   # their Slack user id or sign-in e-mail\n```")


# Pieces -------------------------------------------------------------------------------------------------
def age_text(age: timedelta, lang: str) -> str:
    """How long a pull request has waited, in working time: minutes under an hour, then hours."""
    return time.age(age, lang, "review", days_from=HOURS_UNTIL)


def _link(pr: PullRequest) -> str:
    """`<url|owner/repo#12>`; without a usable URL, the name alone."""
    name = f"{escape(pr.repo)}#{pr.number}"
    url = pr.url
    if url.startswith(("https://", "http://")) and not any(c in url for c in "|<> \n\t"):
        return Markup(f"<{escape(url)}|{name}>")
    return Markup(name)


def _title(pr: PullRequest) -> str:
    return _one_line(pr.title, TITLE_CHARS)


def _one_line(text: str, limit: int) -> str:
    """Text from GitHub on one line, mojibake repaired, control and direction-override characters gone, cut to
    `limit`. Cut before escaping (never inside `&lt;`); `t()` escapes what this returns."""
    text = ftfy.fix_text(text[:20000])
    cleaned = "".join(" " if unicodedata.category(c) == "Cc" or c in _BIDI else c for c in text)
    flat = " ".join(cleaned.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _author(nudge: Nudge) -> str:
    return mention(nudge.author_slack) if nudge.author_slack else _code(nudge.pr.author)


def _code(text: str) -> str:
    inner = escape(_one_line(text, 100)).replace("`", "'")
    return Markup(f"`{inner}`")


def _codes(items: Sequence[str], lang: str) -> str:
    return Markup(t("review.sep", lang).join(_code(item) for item in items))


def _names(reviewers: Sequence[str], lang: str) -> str:
    return _codes(reviewers, lang) if reviewers else t("review.none_known", lang)


def _files(count: int, lang: str) -> str:
    return t("review.files_one", lang) if count == 1 else t("review.files", lang, count=count)


def _size(pr: PullRequest, lang: str) -> str:
    """"+212 −40, 6 files, medium"."""
    return t("review.size", lang, additions=pr.additions, deletions=pr.deletions,
             files=_files(pr.changed_files, lang), word=t(f"review.size_{size_class(pr)}", lang))


def _size_short(pr: PullRequest, lang: str) -> str:
    return t("review.size_short", lang, additions=pr.additions, deletions=pr.deletions,
             word=t(f"review.size_{size_class(pr)}", lang))


def _status(pr: PullRequest, stale: bool, lang: str) -> str:
    """Compact marks after a queue line: CI, approvals, changes requested, stale."""
    marks = []
    ci = pr.ci or ""
    if ci in _CI_ICON:
        marks.append(f"{_CI_ICON[ci]} CI")
    if pr.approvals:
        marks.append(f":+1: {len(pr.approvals)}")
    if pr.changes_requested:
        marks.append(f":memo: {len(pr.changes_requested)}")
    if stale:
        marks.append(t("review.stale_mark", lang))
    return Markup("".join(" · " + mark for mark in marks))


def _waiting(count: int, lang: str) -> str:
    if count <= 0:
        return t("review.waiting_none", lang)
    return t("review.waiting_one", lang) if count == 1 else t("review.waiting_many", lang, count=count)


def _when_tz(at: datetime, tz: str, lang: str) -> str:
    return t("review.when_tz", lang, when=when(at, tz, lang), tz=tz)


def _demo(demo: bool, lang: str) -> list[Block]:
    return [context(t("review.demo", lang))] if demo else []


def _with_heading(heading: str, lines: list[str], lang: str, limit: int | None = None) -> str:
    """A heading, at most `limit` lines (and as many as fit a section), then "…and N more"."""
    shown = lines[:limit]
    hidden = len(lines) - len(shown)

    def more(count: int) -> str:
        return t("review.more", lang, count=count + hidden)

    room = SECTION_LIMIT - len(heading) - 1 - (len(more(0)) + 1 if hidden else 0)
    body = fit_lines(shown, more, room)
    if hidden and body == "\n".join(shown):  # nothing cut for size: say what the limit left out
        body += "\n" + t("review.more", lang, count=hidden)
    return heading + "\n" + body


def _pack(lines: list[str], more: Callable[[int], str], sections: int = LIST_SECTIONS) -> list[str]:
    """Lines in up to `sections` section texts, each within Slack's limit; the rest as "…and N more"."""
    texts: list[str] = []
    start = 0
    while start < len(lines) and len(texts) < sections - 1:
        size, end = 0, start
        while end < len(lines) and size + len(lines[end]) + 1 <= SECTION_LIMIT:
            size += len(lines[end]) + 1
            end += 1
        if end == len(lines):
            break
        end = max(end, start + 1)  # a line longer than a section is cut by section()
        texts.append("\n".join(lines[start:end]))
        start = end
    if start < len(lines):
        texts.append(fit_lines(lines[start:], more))
    return texts
