"""What /review shows and sends, rendered from records built here: the team queue, my queue, the digest, the
morning DM, the nudge with its buttons, what the author is told, the nudge report; both languages, escaping,
times in the reviewer's zone, Slack's limits."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import bot.i18n
from bot.clients import PullRequest, ReviewRequest
from bot.i18n import t
from bot.render.blocks import SECTION_LIMIT, Block
from bot.review import render
from bot.review.model import (
    Alternative,
    MyQueue,
    Nudge,
    NudgeOutcome,
    NudgeReport,
    NudgeStatus,
    QueueItem,
    TeamQueue,
)
from tests.support.payload_safety import unsafe_markup
from tests.support.slack_text import slack_text

NOW = datetime(2026, 11, 24, 1, 30, tzinfo=UTC)  # Tue 09:30 in Shanghai
PROPOSE = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tue 10:00 in Shanghai
HOSTILE = "<!channel> deploy & pray <@UEVIL1> <!here|here>"
CJK = re.compile(r"[\u4e00-\u9fff]")


def pr(number: int = 412, title: str = "Autoscale vLLM replicas on queue depth", additions: int = 12,
       deletions: int = 3, files: int = 2, **more: Any) -> PullRequest:
    repo = more.pop("repo", "acme/inference-gateway")
    fields: dict[str, Any] = {"requests": (ReviewRequest("lena-k", requested_at=NOW - timedelta(hours=30)),),
                              "ci": "SUCCESS", "approvals": ("sam-o",), **more}
    return PullRequest(repo=repo, number=number, title=title, url=f"https://github.com/{repo}/pull/{number}",
                       author="wei-zhang", created_at=NOW - timedelta(days=2), additions=additions,
                       deletions=deletions, changed_files=files, **fields)


def item(number: int = 412, waited_h: float = 26, stale: bool = True, reviewers: tuple[str, ...] = ("lena-k",),
         **more: Any) -> QueueItem:
    return QueueItem(pr(number, **more), reviewers, timedelta(hours=waited_h), stale)


def team_queue(items: tuple[QueueItem, ...] = (), **more: Any) -> TeamQueue:
    fields: dict[str, Any] = {"team": "ml", "repos": ("acme/inference-gateway", "acme/trainer"), "items": items,
                              "load": (("lena-k", 4), ("chen-li", 1)), "stale_after": timedelta(hours=24),
                              "as_of": NOW, **more}
    return TeamQueue(**fields)


def my_queue(**more: Any) -> MyQueue:
    fields: dict[str, Any] = {"login": "lena-k", "to_review": (item(),), "mine": (item(77, 3, False),),
                              "teams": ("acme/ml-infra",), "as_of": NOW, **more}
    return MyQueue(**fields)


def nudge(**more: Any) -> Nudge:
    fields: dict[str, Any] = {"id": 41, "pr": pr(), "reviewer": "lena-k", "reviewer_slack": "U0LENA",
                              "author_slack": "U0WEI", "requested_by": "U0ASKER",
                              "reason": "the GPU right-sizing rollout waits on it", "queue": 4,
                              "propose_at": PROPOSE, "tz": "Asia/Shanghai", **more}
    return Nudge(**fields)


def report(*outcomes: NudgeOutcome) -> NudgeReport:
    return NudgeReport(pr(), outcomes)


ALL_OUTCOMES = (
    NudgeOutcome("lena-k", "sent", "U0LENA", propose_at=PROPOSE, tz="Asia/Shanghai"),
    NudgeOutcome("chen-li", "held", "U0CHEN", at=datetime(2026, 11, 24, 14, 0, tzinfo=UTC), tz="Europe/Berlin"),
    NudgeOutcome("sam-o", "already", "U0SAM", at=datetime(2026, 11, 25, 8, 0, tzinfo=UTC), tz="UTC"),
    NudgeOutcome("ghost", "unmapped"),
    NudgeOutcome("acme/ml-infra", "team"),
    NudgeOutcome("maria-s", "failed", "U0MARIA"),
)


def every_view(lang: str, n: Nudge | None = None, queue: TeamQueue | None = None,
               mine: MyQueue | None = None) -> list[list[Block]]:
    """Every function of bot.review.render, on the same records, in `lang`."""
    n = n or nudge()
    queue = queue or team_queue((item(), item(418, 3, False, ("chen-li", "acme/ml-infra"), ci="PENDING")),
                                missing=("acme/gone",), demo=True)
    mine = mine or my_queue()
    return [render.team_queue_blocks(queue, lang, "Asia/Shanghai"), render.team_queue_blocks(team_queue(), lang, "UTC"),
            render.team_queue_blocks(team_queue(repos=()), lang, "UTC"),
            render.my_queue_blocks(mine, lang, "UTC"), render.my_queue_blocks(my_queue(login=None), lang, "UTC"),
            render.my_queue_blocks(my_queue(to_review=(), mine=()), lang, "UTC"),
            render.digest_blocks(queue, lang, "UTC"), render.digest_blocks(team_queue(), lang, "UTC"),
            render.digest_blocks(team_queue((item(stale=False),)), lang, "UTC"),
            render.reminder_blocks(mine, lang, "UTC"), render.reminder_blocks(my_queue(to_review=()), lang, "UTC"),
            render.reminder_blocks(my_queue(login=None), lang, "UTC"),
            render.nudge_blocks(n, lang), render.nudge_blocks(replace(n, follow_up=True), lang),
            render.author_follow_up_blocks(n, lang), render.reviewing_blocks(n, lang),
            render.cant_blocks(n, Alternative("chen-li", "U0CHEN", 1), lang),
            render.cant_blocks(n, Alternative("sam-o", None, 0), lang), render.cant_blocks(n, None, lang),
            render.answered_blocks("reviewing", n, lang), render.answered_blocks("cant", n, lang),
            render.answered_blocks("snooze", n, lang, until=NOW + timedelta(days=1)),
            render.answered_blocks("snooze", n, lang),
            render.nudge_report_blocks(report(*ALL_OUTCOMES), lang), render.nudge_report_blocks(report(), lang),
            render.remind_blocks(True, lang, "mon-fri 09:00-18:00", "Asia/Shanghai"),
            render.remind_blocks(False, lang, "mon-fri 09:00-18:00", "UTC")]


@contextmanager
def no_fallback(lang: str) -> Iterator[None]:
    """`t()` falls back to English for a key the Chinese catalog lacks; here such a key is a KeyError."""
    real = bot.i18n.catalog

    def only(language: str) -> dict[str, str]:
        return real(language) if language == lang else {}

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bot.i18n, "catalog", only)
        yield


def sections(blocks: list[Block]) -> list[str]:
    return [b["text"]["text"] for b in blocks if b["type"] == "section"]


def buttons(blocks: list[Block]) -> list[Block]:
    return [e for b in blocks if b["type"] == "actions" for e in b["elements"]]


# Both languages ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_every_view_renders_from_its_own_catalog(lang: str) -> None:
    with no_fallback(lang):
        views = every_view(lang)

    for blocks in views:
        text = slack_text(blocks)
        assert text and not re.search(r"\{[a-z_]+\}", text), text  # every blank filled
        if lang == "zh-CN":
            assert CJK.search(text), text


def test_the_chinese_nudge_reads_in_chinese() -> None:
    text = slack_text(render.nudge_blocks(nudge(), "zh-CN"))

    assert "请我提醒你" in text and "我知道你手上有 4 个评审在排队；这个改动不大。" in text
    assert "能否在 2026年11月24日 周二 10:00 之前看一下？" in text
    assert [b["text"]["text"] for b in buttons(render.nudge_blocks(nudge(), "zh-CN"))] == [
        "现在就看", "本周没空", "推迟 1 天"]


@pytest.mark.parametrize("key", ["bad_url", "unknown_repo", "not_open", "no_pr", "no_reviewers", "bad_time",
                                 "remind_usage", "no_login", "not_yours", "gone", "already_answered"])
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_handlers_error_texts_exist_with_their_blanks(key: str, lang: str) -> None:
    params = {"text": "tomorrowish", "repo": "acme/x", "teams": "ml, ops", "url": "https://github.com/a/b/pull/1",
              "state": t("review.state_merged", lang), "config": render.unmapped_config("<your-github-login>")}
    with no_fallback(lang):
        text = bot.i18n.catalog(lang)[f"review.{key}"].format(**params)

    assert "{" not in text.replace("{config}", "")


def test_error_texts_show_the_shapes_people_should_type() -> None:
    assert "https://github.com/owner/repo/pull/123" in t("review.bad_url", "en", text="x")
    assert "`teams[].repos`" in t("review.unknown_repo", "en", repo="acme/x", teams="ml")
    bad_time = t("review.bad_time", "en", text="soonish")
    assert "`by 15:00`" in bad_time and "`by tomorrow 10:00`" in bad_time and "`by fri`" in bad_time
    assert "already merged" in t("review.not_open", "en", url="u", state=t("review.state_merged", "en"))


# Escaping ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_github_text_never_broadcasts_or_mentions(lang: str) -> None:
    hostile = pr(title=HOSTILE, labels=(HOSTILE,), approvals=("<@UEVIL2>",), repo="acme/<!everyone>")
    n = nudge(pr=hostile, reason=f"unblocks {HOSTILE}\n\nç¼–è¾‘ mojibake", reviewer="<@UEVIL3>", author_slack=None)
    queue = team_queue((QueueItem(hostile, ("<!channel>",), timedelta(hours=30), True),),
                       load=(("<@UEVIL4>", 1),), missing=("<!channel>",))
    mine = my_queue(to_review=(QueueItem(hostile, ("acme/ml-infra",), timedelta(hours=2), False),))
    odd = NudgeReport(hostile, (NudgeOutcome("<!channel>", "unmapped"), NudgeOutcome("<@UEVIL5>", "team")))
    views = [*every_view(lang, n, queue, mine), render.nudge_report_blocks(odd, lang)]

    for blocks in views:
        payload = json.dumps(blocks, ensure_ascii=False)
        assert unsafe_markup(blocks) == [], payload
        assert "<!channel>" not in payload and "<@UEVIL" not in payload and "<!everyone>" not in payload
    text = slack_text(render.nudge_blocks(n, lang))
    assert "&lt;!channel&gt; deploy &amp; pray &lt;@UEVIL1&gt;" in text
    assert "编辑 mojibake" in text  # repaired, on one line with the rest


def test_a_reason_is_one_line_of_at_most_200_characters() -> None:
    blocks = render.nudge_blocks(nudge(reason="line one\nline two\t" + "x" * 400), "en")

    [line] = [line for line in sections(blocks)[0].splitlines() if line.startswith("*What it unblocks:*")]
    reason = line.removeprefix("*What it unblocks:* ")
    assert reason.startswith("line one line two x") and reason.endswith("…") and len(reason) == 200


def test_a_cut_never_splits_an_escaped_character() -> None:
    blocks = render.nudge_blocks(nudge(pr=pr(title="a" * 88 + "<<<<")), "en")

    title = sections(blocks)[0].splitlines()[1]
    assert title.endswith("a&lt;…")


def test_no_reason_means_no_unblocks_line() -> None:
    assert "unblocks" not in slack_text(render.nudge_blocks(nudge(reason=""), "en"))


def test_a_pull_request_without_a_usable_url_is_named_not_linked() -> None:
    text = slack_text(render.reviewing_blocks(nudge(pr=replace(pr(), url="javascript:alert(1)|x")), "en"))

    assert "acme/inference-gateway#412" in text and "javascript" not in text


# The nudge -----------------------------------------------------------------------------------------------
def test_the_nudge_says_what_who_why_and_when() -> None:
    text = slack_text(render.nudge_blocks(nudge(), "en"))

    assert "Hi! <@U0ASKER> asked me to bring a pull request to your attention:" in text
    assert ("*<https://github.com/acme/inference-gateway/pull/412|acme/inference-gateway#412>* "
            "Autoscale vLLM replicas on queue depth") in text
    assert "+12 −3, 2 files, small · by <@U0WEI>" in text
    assert "*What it unblocks:* the GPU right-sizing rollout waits on it" in text
    assert "You have 4 reviews waiting; this one is small. Could you look at it by Tue 2026-11-24 10:00?" in text
    assert ":white_check_mark: CI passing · :+1: approved by `sam-o`" in text


@pytest.mark.parametrize(("queue", "additions", "expected"), [
    (1, 10, "It's the only review waiting on you, and it's small."),
    (4, 10, "You have 4 reviews waiting; this one is small."),
    (1, 300, "It's the only review waiting on you; it's a medium-sized one."),
    (2, 300, "You have 2 reviews waiting; this one is medium-sized."),
    (4, 900, "You have 4 reviews waiting, and this one is large — a first pass is already a help."),
    (1, 900, "It's the only review waiting on you; it's a large one, so a first pass is already a help."),
])
def test_the_reviewers_queue_is_acknowledged(queue: int, additions: int, expected: str) -> None:
    text = slack_text(render.nudge_blocks(nudge(queue=queue, pr=pr(additions=additions, deletions=0)), "en"))

    assert expected in text


@pytest.mark.parametrize(("additions", "deletions", "files", "expected"), [
    (60, 40, 1, "+60 −40, 1 file, small"),
    (60, 41, 3, "+60 −41, 3 files, medium"),
    (800, 0, 12, "+800 −0, 12 files, medium"),
    (700, 101, 40, "+700 −101, 40 files, large"),
])
def test_sizes(additions: int, deletions: int, files: int, expected: str) -> None:
    n = nudge(pr=pr(additions=additions, deletions=deletions, files=files))

    assert expected in slack_text(render.nudge_blocks(n, "en"))


@pytest.mark.parametrize(("tz", "lang", "expected"), [
    ("Asia/Shanghai", "en", "by Tue 2026-11-24 10:00?"),
    ("UTC", "en", "by Tue 2026-11-24 02:00?"),
    ("Asia/Shanghai", "zh-CN", "能否在 2026年11月24日 周二 10:00 之前"),
    ("America/Los_Angeles", "en", "by Mon 2026-11-23 18:00?"),
])
def test_the_proposed_time_is_on_the_reviewers_clock(tz: str, lang: str, expected: str) -> None:
    assert expected in slack_text(render.nudge_blocks(nudge(tz=tz), lang))


def test_the_buttons_carry_the_nudge() -> None:
    for n in (nudge(), nudge(follow_up=True)):
        found = buttons(render.nudge_blocks(n, "en"))

        assert [(b["action_id"], b["text"]["text"], json.loads(b["value"]), b.get("style")) for b in found] == [
            (render.REVIEWING, "Reviewing now", {"nudge": 41}, "primary"),
            (render.CANT, "Can't this week", {"nudge": 41}, None),
            (render.SNOOZE, "Snooze 1 day", {"nudge": 41}, None)]
    assert (render.REVIEWING, render.CANT, render.SNOOZE) == ("review_reviewing", "review_cant", "review_snooze")


def test_the_follow_up_says_the_time_passed_and_asks_once_more_kindly() -> None:
    text = slack_text(render.nudge_blocks(nudge(follow_up=True), "en"))

    assert "We proposed Tue 2026-11-24 10:00 for this review, and it's still waiting" in text
    assert "This is the only follow-up I'll send." in text
    assert "Asked by <@U0ASKER>" in text
    assert "Could you look at it by" not in text


def test_an_author_without_a_slack_user_is_named_by_login() -> None:
    text = slack_text(render.nudge_blocks(nudge(author_slack=None), "en"))

    assert "by `wei-zhang`" in text


def test_ci_changes_requested_and_labels_are_shown_compactly() -> None:
    n = nudge(pr=pr(ci="FAILURE", approvals=(), changes_requested=("chen-li",), labels=tuple("abcdefg")))

    text = slack_text(render.nudge_blocks(n, "en"))

    assert ":x: CI failing · :memo: changes requested by `chen-li` · labels: `a`, `b`, `c`, `d`, `e`…" in text


# What the author is told, and the answered DM -------------------------------------------------------------
def test_the_author_hears_of_the_follow_up_and_that_nothing_more_goes_out() -> None:
    text = slack_text(render.author_follow_up_blocks(nudge(), "en"))

    assert "Tue 2026-11-24 10:00 (Asia/Shanghai)" in text and "<@U0LENA>" in text
    assert "I won't send anything else automatically" in text


def test_reviewing_and_cant_tell_the_author() -> None:
    assert ":eyes: <@U0LENA> is reviewing <https://github.com/acme/inference-gateway/pull/412|" in slack_text(
        render.reviewing_blocks(nudge(), "en"))
    cant = slack_text(render.cant_blocks(nudge(), Alternative("chen-li", "U0CHEN", 1), "en"))
    assert "<@U0LENA> can't review" in cant and "this week" in cant
    assert "<@U0CHEN> could take it (1 review waiting)" in cant
    assert "`sam-o` could take it (no reviews waiting)" in slack_text(
        render.cant_blocks(nudge(), Alternative("sam-o", None, 0), "en"))
    assert "(3 reviews waiting)" in slack_text(render.cant_blocks(nudge(), Alternative("sam-o", "U0SAM", 3), "en"))
    assert "I don't know anyone else on the team" in slack_text(render.cant_blocks(nudge(), None, "en"))


def test_the_answered_dm_says_what_was_done_and_has_no_buttons() -> None:
    n = nudge()
    until = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)

    reviewing = render.answered_blocks("reviewing", n, "en")
    snoozed = slack_text(render.answered_blocks("snooze", n, "en", until=until))

    assert "I told <@U0WEI> you're reviewing" in slack_text(reviewing) and not buttons(reviewing)
    assert "you can't review" in slack_text(render.answered_blocks("cant", n, "en"))
    assert "again Wed 2026-11-25 10:00." in snoozed  # in the reviewer's zone
    assert "again in a day" in slack_text(render.answered_blocks("snooze", n, "en"))


# The nudge report ----------------------------------------------------------------------------------------
def test_the_report_says_per_reviewer_what_happened() -> None:
    text = slack_text(render.nudge_report_blocks(report(*ALL_OUTCOMES), "en"))

    assert "• `lena-k` → <@U0LENA>: nudged, proposing Tue 2026-11-24 10:00 (Asia/Shanghai)." in text
    assert "• `chen-li` → <@U0CHEN>: outside their working hours" in text
    assert "delivered Tue 2026-11-24 15:00 (Europe/Berlin)." in text
    assert "• `sam-o`: already nudged today, so not again; the next chance is Wed 2026-11-25 08:00 (UTC)." in text
    assert "• `ghost`: I don't know their Slack user." in text and render.unmapped_config("ghost") in text
    assert "• `acme/ml-infra`: the review is requested of this team" in text
    assert "• `maria-s` → <@U0MARIA>: Slack refused the message; I'll retry." in text


@pytest.mark.parametrize("status", ["sent", "held", "already"])
def test_the_report_without_a_time_still_reads(status: NudgeStatus) -> None:
    text = slack_text(render.nudge_report_blocks(report(NudgeOutcome("lena-k", status, "U0LENA")), "en"))

    assert "`lena-k`" in text and "{" not in text and "None" not in text


def test_unmapped_config_is_the_lines_to_add() -> None:
    assert render.unmapped_config("lena-k") == (
        "```\ngithub:\n  users:\n    lena-k: U0123ABCD   # their Slack user id or sign-in e-mail\n```")


# Queues --------------------------------------------------------------------------------------------------
def test_the_team_queue_lists_longest_waiting_first_with_what_matters() -> None:
    queue = team_queue((item(), item(418, 3, False, ("chen-li", "acme/ml-infra"), ci="PENDING", additions=400)),
                       demo=True)

    blocks = render.team_queue_blocks(queue, "en", "Asia/Shanghai")
    text = slack_text(blocks)

    assert blocks[0]["text"]["text"] == "Waiting for review: ml"
    first, second = sections(blocks)[0].splitlines()
    assert first == ("• <https://github.com/acme/inference-gateway/pull/412|acme/inference-gateway#412> "
                     "Autoscale vLLM replicas on queue depth · by wei-zhang · waiting 26 h (working) · "
                     "reviewers: `lena-k` · +12 −3 (small) · :white_check_mark: CI · :+1: 1 · :hourglass: stale")
    assert "#418>" in second and "`chen-li`, `acme/ml-infra`" in second and "stale" not in second
    assert "*Review load*\n• `lena-k`: 4 reviews waiting\n• `chen-li`: 1 review waiting" in text
    assert ("Waiting: 2 · stale: 1 (over 24 h of working time) · repos: `acme/inference-gateway`, `acme/trainer`"
            in text)
    assert "as of 09:30 (Asia/Shanghai)" in text and "Demo data" in text


def test_the_team_queue_names_what_it_could_not_read_and_what_is_missing() -> None:
    missing = slack_text(render.team_queue_blocks(team_queue(missing=("acme/gone",)), "en", "UTC"))
    no_repos = slack_text(render.team_queue_blocks(team_queue(repos=()), "en", "UTC"))
    empty = slack_text(render.team_queue_blocks(team_queue(), "en", "UTC"))

    assert "GitHub did not show `acme/gone`" in missing and "`teams[].repos`" in missing and "token" in missing
    assert "add `repos:` to the team" in no_repos
    assert "Nothing is waiting for review in `acme/inference-gateway`, `acme/trainer`. All clear!" in empty


def test_my_queue_marks_reviews_asked_of_my_team() -> None:
    team_only = item(97, 5, False, ("acme/ml-infra",),
                     requests=(ReviewRequest("acme/ml-infra", team=True),))
    queue = my_queue(to_review=(item(), team_only))

    text = slack_text(render.my_queue_blocks(queue, "en", "UTC"))

    assert "*Waiting on you* (2, oldest first)" in text
    lines = [line for line in text.splitlines() if line.startswith("• ")]
    assert "via" not in lines[0] and " · via `acme/ml-infra` · " in lines[1]
    assert "*Your pull requests waiting on others* (1)" in text and "waiting 3 h (working) on `lena-k`" in text
    assert "GitHub login: `lena-k` · your teams: `acme/ml-infra`" in text


def test_my_queue_without_a_login_shows_the_config_to_add() -> None:
    text = slack_text(render.my_queue_blocks(my_queue(login=None), "en", "UTC"))

    assert "I don't know your GitHub login" in text
    assert "    &lt;your-github-login&gt;: U0123ABCD   # their Slack user id or sign-in e-mail" in text


def test_my_queue_with_nothing_waiting() -> None:
    text = slack_text(render.my_queue_blocks(my_queue(to_review=(), mine=()), "en", "UTC"))

    assert "Nothing is waiting on your review." in text and "None of your pull requests" in text


def test_the_digest_is_short_stale_first_with_the_load() -> None:
    items = tuple(item(n, 100 - n, n < 110) for n in range(100, 120))
    blocks = render.digest_blocks(team_queue(items), "en", "UTC")
    text = slack_text(blocks)

    assert blocks[0]["text"]["text"] == "Review digest: ml"
    assert "Waiting for review: *20* · stale: *10* (over 24 h of working time)" in text
    assert text.count("• <https://") == 5 and "…and 5 more" in text  # the stale ones, longest first
    assert "*Review load:* `lena-k` 4, `chen-li` 1" in text
    assert len(blocks) <= 6


def test_the_digest_without_stale_names_who_waits_longest() -> None:
    text = slack_text(render.digest_blocks(team_queue((item(9, 5, False), item(8, 2, False))), "en", "UTC"))

    assert "*Waiting longest:* <https://github.com/acme/inference-gateway/pull/9|" in text and "5 h" in text


def test_the_morning_dm_and_remind_answers() -> None:
    text = slack_text(render.reminder_blocks(my_queue(), "en", "UTC"))
    on = slack_text(render.remind_blocks(True, "en", "mon-fri 09:00-18:00", "Asia/Shanghai"))

    assert "Good morning! Reviews waiting on you (1), oldest first:" in text
    assert "Your pull requests waiting on others: 1; the oldest has waited 3 h (working)." in text
    assert "Nothing is waiting on your review today." in slack_text(
        render.reminder_blocks(my_queue(to_review=()), "en", "UTC"))
    assert "(mon-fri 09:00-18:00, Asia/Shanghai)" in on and "`/review remind off`" in on
    assert "reminders are off" in slack_text(render.remind_blocks(False, "en", "", "UTC"))


@pytest.mark.parametrize(("waited", "expected"), [
    (timedelta(minutes=9), "9 min"), (timedelta(hours=5, minutes=59), "5 h"), (timedelta(hours=26), "26 h"),
    (timedelta(hours=140), "140 h"),  # working time: a "day" of it would mislead
])
def test_waiting_is_said_in_working_hours(waited: timedelta, expected: str) -> None:
    assert render.age_text(waited, "en") == expected


# Slack's limits ------------------------------------------------------------------------------------------
def many(count: int) -> tuple[QueueItem, ...]:
    return tuple(item(n, 1000 - n, True, ("lena-k", "acme/ml-infra"), title="x" * 300, labels=("y" * 50,) * 10)
                 for n in range(1, count + 1))


LIMITED: list[tuple[str, Callable[[str], list[Block]]]] = [
    ("team", lambda lang: render.team_queue_blocks(
        team_queue(many(300), load=tuple((f"reviewer-{n}", 300 - n) for n in range(300)),
                   missing=tuple(f"acme/gone-{n}" for n in range(300))), lang, "UTC")),
    ("mine", lambda lang: render.my_queue_blocks(my_queue(to_review=many(300), mine=many(300)), lang, "UTC")),
    ("digest", lambda lang: render.digest_blocks(
        team_queue(many(300), load=tuple((f"reviewer-{n}", 300 - n) for n in range(300))), lang, "UTC")),
    ("reminder", lambda lang: render.reminder_blocks(my_queue(to_review=many(300), mine=many(300)), lang, "UTC")),
    ("report", lambda lang: render.nudge_report_blocks(
        report(*(NudgeOutcome(f"login-{n}", "unmapped") for n in range(300))), lang)),
]


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
@pytest.mark.parametrize(("name", "view"), LIMITED, ids=[name for name, _ in LIMITED])
def test_300_pull_requests_stay_within_block_kit_limits(name: str, view: Callable[[str], list[Block]],
                                                        lang: str) -> None:
    blocks = view(lang)

    assert len(blocks) <= 50
    assert all(len(text) <= SECTION_LIMIT for text in sections(blocks))
    assert all(len(e["text"]) <= SECTION_LIMIT for b in blocks if b["type"] == "context" for e in b["elements"])
    assert all(len(b["text"]["text"]) <= 150 for b in blocks if b["type"] == "header")
    more = t("review.more", lang, count=0).split("0")[0]
    assert more in slack_text(blocks)


def test_the_team_queue_shows_every_pull_request_or_counts_the_rest() -> None:
    blocks = render.team_queue_blocks(team_queue(many(300)), "en", "UTC")

    lines = [line for text in sections(blocks) for line in text.splitlines()]
    shown = sum(line.startswith("• <https://") for line in lines)
    [rest] = [int(m[1]) for line in lines if (m := re.fullmatch(r"…and (\d+) more", line))]
    assert shown > 10 and shown + rest == 300
    assert "#1>" in lines[0]  # longest waiting first, as the queue has them


def test_mojibake_in_a_title_or_description_is_repaired() -> None:
    # UTF-8 read as Windows-1252 / Latin-1 somewhere between an editor and GitHub
    title, reason = "Don’t retry forever".encode().decode("cp1252"), "修复 checkpoint".encode().decode("latin-1")
    garbled = replace(nudge(), pr=replace(pr(), title=title), reason=reason)

    text = slack_text(render.nudge_blocks(garbled, "en"))

    assert "Don't retry forever" in text and "修复 checkpoint" in text
