"""What `/review nudge` is given: a pull request URL, an optional `by <time>` and `because <reason>`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

PR_URL = re.compile(r"^https?://[^/\s]+/(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)/pulls?/(?P<number>\d{1,9})(?:[/?#].*)?$")
PR_SHORT = re.compile(r"^(?P<owner>[\w.-]+)/(?P<name>[\w.-]+)#(?P<number>\d{1,9})$")
BECAUSE = ("because", "因为")
BY = ("by", "在")
TODAY = ("today", "今天")
TOMORROW = ("tomorrow", "明天")
WEEKDAYS = {name: day for day, names in enumerate((
    ("mon", "monday", "周一", "星期一"), ("tue", "tuesday", "周二", "星期二"), ("wed", "wednesday", "周三", "星期三"),
    ("thu", "thursday", "周四", "星期四"), ("fri", "friday", "周五", "星期五"), ("sat", "saturday", "周六", "星期六"),
    ("sun", "sunday", "周日", "星期日"))) for name in names}


class BadPullRequest(ValueError):
    """Not a pull request URL."""


class BadTime(ValueError):
    """Not a time we understand, or one already past."""


@dataclass(frozen=True)
class NudgeRequest:
    repo: str  # owner/name
    number: int
    by: str | None  # the words after `by`, read in each reviewer's time zone
    because: str | None


def parse_nudge(text: str) -> NudgeRequest:
    """`<url> [by <time>] [because <reason>]`; the reason is everything after `because`."""
    words = text.split()
    if not words:
        raise BadPullRequest("")
    repo, number = parse_pull_request(words[0])
    rest = words[1:]
    because = None
    cut = next((i for i, word in enumerate(rest) if word.lower() in BECAUSE), None)
    if cut is not None:
        because = " ".join(rest[cut + 1:]).strip() or None
        rest = rest[:cut]
    by = None
    if rest:
        if rest[0].lower() not in BY or len(rest) == 1:
            raise BadTime(" ".join(rest))
        by = " ".join(rest[1:])
    return NudgeRequest(repo=repo, number=number, by=by, because=because)


def parse_pull_request(text: str) -> tuple[str, int]:
    """`https://github.com/acme/api/pull/12` (any GitHub host, as Slack sends it in <…>) or `acme/api#12`."""
    link = text.strip()
    if link.startswith("<") and link.endswith(">"):
        link = link[1:-1].split("|", 1)[0]
    match = PR_URL.match(link) or PR_SHORT.match(link)
    if not match:
        raise BadPullRequest(text)
    return f"{match['owner']}/{match['name']}", int(match["number"])


def parse_time(text: str, now: datetime, tz: ZoneInfo, default_time: time) -> datetime:
    """`15:00`, `tomorrow`, `tomorrow 10:00`, `fri`, `fri 14:00`, `2026-12-01 10:00` on the clock of `tz`;
    a day without a time means `default_time` that day. Raises BadTime for anything else or a past time."""
    words = text.lower().split()
    local = now.astimezone(tz)
    day: date | None = None
    at: time | None = None
    for word in words:
        if re.fullmatch(r"\d{1,2}:\d{2}", word):
            at = _clock_time(word, text)
        elif word in TODAY:
            day = local.date()
        elif word in TOMORROW:
            day = local.date() + timedelta(days=1)
        elif word in WEEKDAYS:
            ahead = (WEEKDAYS[word] - local.weekday()) % 7 or 7
            day = local.date() + timedelta(days=ahead)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", word):
            day = _iso_day(word, text)
        else:
            raise BadTime(text)
    if day is None and at is None:
        raise BadTime(text)
    when = datetime.combine(day or local.date(), at or default_time, tz)
    if when <= now:
        raise BadTime(text)
    return when


def _clock_time(word: str, text: str) -> time:
    try:
        return time.fromisoformat(word.zfill(5))
    except ValueError:
        raise BadTime(text) from None


def _iso_day(word: str, text: str) -> date:
    try:
        return date.fromisoformat(word)
    except ValueError:
        raise BadTime(text) from None
