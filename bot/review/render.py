"""Block Kit for /review: pull requests waiting for review, oldest first."""

from __future__ import annotations

from datetime import timedelta

from bot.escape import escape
from bot.i18n import t
from bot.render import time
from bot.render.blocks import SECTION_LIMIT, Block, context, header, section
from bot.render.text import fit_lines
from bot.review.model import PendingReview, ReviewQueue

TITLE_CHARS = 90


def review_blocks(queue: ReviewQueue, lang: str) -> list[Block]:
    blocks = [header(t("review.title", lang, team=queue.team))]
    repos = ", ".join(f"`{escape(repo)}`" for repo in queue.repos)
    if not queue.repos:
        blocks.append(section(t("review.no_repos", lang, team=escape(queue.team))))
    elif not queue.items:
        blocks.append(section(t("review.none", lang, repos=repos)))
    else:
        lines = [_line(item, lang) for item in queue.items]
        blocks.append(section(fit_lines(lines, lambda n: t("review.more", lang, count=n), SECTION_LIMIT)))
        blocks.append(context(t("review.summary", lang, count=len(queue.items), repos=repos)))
    if queue.demo:
        blocks.append(context(t("review.demo", lang)))
    return blocks


def _line(item: PendingReview, lang: str) -> str:
    pr = item.pr
    return t("review.line", lang, url=escape(pr.url), repo=escape(pr.repo), number=pr.number,
             title=escape(_shorten(pr.title)), author=escape(pr.author), age=age_text(item.age, lang),
             reviewers=", ".join(escape(name) for name in item.reviewers))


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= TITLE_CHARS else text[: TITLE_CHARS - 1] + "…"


def age_text(age: timedelta, lang: str) -> str:
    """How long a pull request has waited: minutes, hours up to a day, then days."""
    return time.age(age, lang, "review")
