"""What /review nudge accepts: pull request URLs as Slack sends them, `by <time>` and `because <reason>`."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from bot.review.parse import BadPullRequest, BadTime, parse_nudge, parse_pull_request, parse_time

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 24, 10, 30, tzinfo=SHANGHAI)  # a Tuesday


@pytest.mark.parametrize("text", [
    "https://github.com/acme/trainer/pull/97", "<https://github.com/acme/trainer/pull/97>",
    "<https://github.com/acme/trainer/pull/97|acme/trainer#97>", "https://github.com/acme/trainer/pull/97/files",
    "https://ghe.example.com/acme/trainer/pull/97#discussion_r1", "acme/trainer#97",
])
def test_pull_request_references(text: str) -> None:
    assert parse_pull_request(text) == ("acme/trainer", 97)


@pytest.mark.parametrize("text", ["https://github.com/acme/trainer/issues/97", "acme/trainer", "#97", "97",
                                  "https://github.com/acme/pull/97", "javascript:alert(1)"])
def test_not_a_pull_request(text: str) -> None:
    with pytest.raises(BadPullRequest):
        parse_pull_request(text)


def test_by_and_because() -> None:
    asked = parse_nudge("acme/trainer#97 by tomorrow 10:00 because it unblocks the 70B run by Friday")
    assert (asked.by, asked.because) == ("tomorrow 10:00", "it unblocks the 70B run by Friday")
    assert parse_nudge("acme/trainer#97").by is None
    with pytest.raises(BadTime):
        parse_nudge("acme/trainer#97 soon")


@pytest.mark.parametrize(("text", "expected"), [
    ("15:00", datetime(2026, 11, 24, 15, 0, tzinfo=SHANGHAI)),
    ("tomorrow", datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI)),
    ("明天 14:00", datetime(2026, 11, 25, 14, 0, tzinfo=SHANGHAI)),
    ("fri 11:00", datetime(2026, 11, 27, 11, 0, tzinfo=SHANGHAI)),
    ("tue", datetime(2026, 12, 1, 9, 0, tzinfo=SHANGHAI)),  # next Tuesday, not today
    ("2026-12-01 16:30", datetime(2026, 12, 1, 16, 30, tzinfo=SHANGHAI)),
])
def test_times_on_the_reviewers_clock(text: str, expected: datetime) -> None:
    assert parse_time(text, NOW, SHANGHAI, time(9, 0)) == expected


@pytest.mark.parametrize("text", ["09:00", "25:00", "someday", "2026-02-30", "yesterday"])
def test_past_or_unreadable_times_are_refused(text: str) -> None:
    with pytest.raises(BadTime):
        parse_time(text, NOW, SHANGHAI, time(9, 0))
