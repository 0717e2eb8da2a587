import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.incidents.model import Incident, TimelineEntry
from bot.incidents.postmortem import review_filename, review_markdown

OPENED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NAMES = {"U_ALICE": "Alice", "U_BOB": "Bob"}


def at(minutes: int) -> datetime:
    return OPENED + timedelta(minutes=minutes)


TIMELINE = (
    TimelineEntry(at(0), "opened", "U_ALICE", "Declared from 🔥💥 on the deploy message"),
    TimelineEntry(at(1), "paged", None, "Paged <@U_BOB> (1st line)"),
    TimelineEntry(at(4), "acknowledged", "U_BOB", "Acknowledged"),
    TimelineEntry(at(12), "note", "U_CAROL", "kubectl describe: OOMKilled | BackOff\nnode gpu-7 cordoned"),
    TimelineEntry(at(30), "mitigated", "U_BOB", "Traffic moved to the standby pool"),
    TimelineEntry(at(65), "resolved", "U_BOB", "Memory limit raised, pods healthy"),
)


def make_incident(**changes: object) -> Incident:
    base = Incident(
        id=42, title="Inference API down", severity="sev2", team="ml-platform", status="resolved",
        reporter="U_ALICE", commander="U_BOB", language="en", created_at=OPENED,
        origin_link="https://example.slack.com/archives/C1/p1772359200000100",
        acknowledged_at=at(4), acknowledged_by="U_BOB", mitigated_at=at(30), resolved_at=at(65),
        responders=("U_BOB", "U_CAROL"), timeline=TIMELINE,
    )
    return replace(base, **changes)


def cells(line: str) -> list[str]:
    """Split a GFM table row on pipes that are not backslash-escaped."""
    out, current, index = [], "", 0
    body = line.strip()[1:-1]
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            current += body[index: index + 2]
            index += 2
            continue
        if char == "|":
            out.append(current)
            current = ""
        else:
            current += char
        index += 1
    return [*out, current]


def tables(markdown: str) -> list[list[str]]:
    """Consecutive lines starting with `|`, grouped into tables."""
    groups: list[list[str]] = []
    previous_was_row = False
    for line in markdown.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            groups.append([])
        if is_row:
            groups[-1].append(line)
        previous_was_row = is_row
    return groups


def section(markdown: str, heading: str) -> str:
    """The body under `## heading`, up to the next heading or quote."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |^> |\Z)", markdown, re.M | re.S)
    assert match, f"no section {heading!r}"
    return match.group(1).strip()


def assert_tables_well_formed(markdown: str) -> None:
    for table in tables(markdown):
        widths = {len(cells(row)) for row in table}
        assert len(widths) == 1, table
        assert re.fullmatch(r"\|( --- \|)+", table[1])


# ---------------------------------------------------------------- header and facts


def test_english_review_has_title_team_status_people_and_origin_link() -> None:
    text = review_markdown(make_incident(), NAMES, "en", "UTC")

    assert text.startswith("# Incident #42: Inference API down (SEV2)\n")
    assert "- **Team:** ml-platform" in text
    assert "- **Status:** resolved" in text
    assert "- **Incident commander:** Bob" in text
    assert "- **Reported by:** Alice" in text
    assert "[open in Slack](https://example.slack.com/archives/C1/p1772359200000100)" in text


def test_chinese_review_uses_chinese_headings() -> None:
    text = review_markdown(make_incident(language="zh-CN"), NAMES, "zh-CN", "Asia/Shanghai")

    assert text.startswith("# 事故 #42 复盘：Inference API down（SEV2）\n")
    assert "- **状态：** 已解决" in text
    assert "- **事故指挥：** Bob" in text
    for heading in ("关键时间", "参与处理的人", "时间线", "概述", "影响", "根本原因", "做得好的地方",
                    "需要改进的地方", "行动项"):
        assert f"\n## {heading}\n" in text
    assert "| 行动 | 负责人 | 截止日期 | 工单 |" in text
    assert "不追责" in text


def test_missing_commander_and_origin_show_a_dash() -> None:
    text = review_markdown(make_incident(commander=None, origin_link=None), NAMES, "en", "UTC")

    assert "- **Incident commander:** —" in text
    assert "- **Origin message:** —" in text


# ---------------------------------------------------------------- key times


@pytest.mark.parametrize(
    ("tz", "opened_local"),
    [
        ("Asia/Shanghai", "2026-03-01 18:00:00 +08:00"),
        ("America/New_York", "2026-03-01 05:00:00 -05:00"),
        ("UTC", "2026-03-01 10:00:00 +00:00"),
    ],
)
def test_key_times_are_local_to_the_team_zone_and_name_it(tz: str, opened_local: str) -> None:
    text = review_markdown(make_incident(), NAMES, "en", tz)

    key_times = section(text, "Key times")
    assert f"Times are local to {tz}." in key_times
    assert f"| Milestone | Time ({tz}) | Time since opened |" in key_times
    assert f"| Detected / opened | {opened_local} | — |" in key_times


def test_key_times_in_shanghai_show_each_milestone_and_time_to_it() -> None:
    key_times = section(review_markdown(make_incident(), NAMES, "en", "Asia/Shanghai"), "Key times")

    assert "| Acknowledged | 2026-03-01 18:04:00 +08:00 | 4m |" in key_times
    assert "| Mitigated | 2026-03-01 18:30:00 +08:00 | 30m |" in key_times
    assert "| Resolved | 2026-03-01 19:05:00 +08:00 | 1h05m |" in key_times
    assert "- **Time to acknowledge:** 4m" in key_times
    assert "- **Time to mitigate:** 30m" in key_times
    assert "- **Time to resolve:** 1h05m" in key_times


def test_milestones_not_reached_show_a_dash() -> None:
    open_incident = make_incident(status="acknowledged", mitigated_at=None, resolved_at=None)

    key_times = section(review_markdown(open_incident, NAMES, "en", "UTC"), "Key times")

    assert "| Mitigated | — | — |" in key_times
    assert "- **Time to resolve:** —" in key_times
    assert "Cancelled" not in key_times


def test_key_times_follow_daylight_saving_time() -> None:
    summer = make_incident(created_at=datetime(2026, 7, 1, 10, 0, tzinfo=UTC), acknowledged_at=None,
                           mitigated_at=None, resolved_at=None)

    text = review_markdown(summer, NAMES, "en", "America/New_York")

    assert "| Detected / opened | 2026-07-01 06:00:00 -04:00 | — |" in text


# ---------------------------------------------------------------- people and timeline


def test_responders_use_display_names_and_fall_back_to_ids() -> None:
    responders = section(review_markdown(make_incident(), NAMES, "en", "UTC"), "Responders")

    assert responders.splitlines() == ["- Bob", "- U_CAROL"]


def test_every_timeline_entry_appears_in_order_with_time_who_and_what() -> None:
    shuffled = make_incident(timeline=tuple(reversed(TIMELINE)))

    timeline = section(review_markdown(shuffled, NAMES, "en", "Asia/Shanghai"), "Timeline")
    rows = timeline.splitlines()[2:]

    assert rows[0] == ("| 2026-03-01 18:00:00 +08:00 | Alice | opened | "
                       "Declared from 🔥💥 on the deploy message |")
    assert rows[1] == "| 2026-03-01 18:01:00 +08:00 | bot | paged | Paged @Bob (1st line) |"
    assert len(rows) == len(TIMELINE)
    for row, entry in zip(rows, TIMELINE, strict=True):
        assert cells(row)[2].strip() == entry.kind
    assert "U_CAROL | note | kubectl describe: OOMKilled \\| BackOff<br>node gpu-7 cordoned |" in timeline


def test_chinese_timeline_names_events_in_chinese() -> None:
    text = review_markdown(make_incident(language="zh-CN"), NAMES, "zh-CN", "Asia/Shanghai")

    assert "| 时间（Asia/Shanghai） | 谁 | 事件 | 详情 |" in text
    assert "| 2026-03-01 18:01:00 +08:00 | 机器人 | 呼叫值班 |" in text
    assert "| 确认 |" in text


def test_unknown_timeline_kinds_are_shown_as_they_are() -> None:
    text = review_markdown(make_incident(timeline=(TimelineEntry(at(2), "runbook", None, "ran"),)),
                           NAMES, "en", "UTC")

    assert "| bot | runbook | ran |" in text


def test_no_timeline_says_so() -> None:
    text = review_markdown(make_incident(timeline=()), NAMES, "en", "UTC")

    assert section(text, "Timeline") == "No timeline entries recorded."


# ---------------------------------------------------------------- user text cannot break the document


def test_title_with_pipe_and_newline_breaks_neither_heading_nor_tables() -> None:
    title = "GPU | nodes down\nsee thread"
    hostile = make_incident(
        title=title,
        timeline=(*TIMELINE, TimelineEntry(at(70), "note", "U_ALICE", f"title was: {title}\\")),
    )

    text = review_markdown(hostile, NAMES, "en", "UTC")

    assert text.splitlines()[0] == "# Incident #42: GPU \\| nodes down see thread (SEV2)"
    assert_tables_well_formed(text)
    assert "title was: GPU \\| nodes down<br>see thread\\\\ |" in text


def test_user_text_cannot_inject_html_or_mentions() -> None:
    # Slack delivers a typed "<script>" as "&lt;script&gt;" and a broadcast as "<!channel>".
    slack_title = "&lt;script&gt;x&lt;/script&gt; <!channel>"

    text = review_markdown(make_incident(title=slack_title), NAMES, "en", "UTC")

    assert "<script>" not in text
    assert "<!channel>" not in text
    assert text.splitlines()[0] == "# Incident #42: &lt;script&gt;x&lt;/script&gt; @channel (SEV2)"


def test_raw_angle_brackets_never_reach_the_markdown() -> None:
    text = review_markdown(make_incident(title="<script>x</script> a > b"), NAMES, "en", "UTC")

    assert "<script>" not in text
    assert "a &gt; b" in text.splitlines()[0]


def test_every_table_is_well_formed() -> None:
    for language in ("en", "zh-CN"):
        assert_tables_well_formed(review_markdown(make_incident(), NAMES, language, "Asia/Shanghai"))


# ---------------------------------------------------------------- sections to fill in


@pytest.mark.parametrize(
    "heading", ["Summary", "Impact", "Root cause", "What went well", "What went wrong"]
)
def test_sections_to_fill_in_are_present_and_empty(heading: str) -> None:
    without_notes = make_incident(timeline=tuple(e for e in TIMELINE if e.kind != "note"))
    body = section(review_markdown(without_notes, NAMES, "en", "UTC"), heading)

    assert re.fullmatch(r"<!-- [^\n]* -->", body), body  # only an invisible hint


def test_root_cause_section_shows_the_resolution_note_before_the_hint() -> None:
    timeline = (*TIMELINE,
                TimelineEntry(at(40), "resolution", "U_BOB", "raised the memory limit to 16Gi\nsince usage > 8Gi"),
                TimelineEntry(at(50), "note", "U_CAROL", "watching it for a while"))
    text = review_markdown(make_incident(timeline=timeline), NAMES, "en", "UTC")

    body = section(text, "Root cause").splitlines()
    assert body[0] == "- **Resolution:** raised the memory limit to 16Gi since usage &gt; 8Gi"
    assert body[-1].startswith("<!-- ")
    assert "| resolution |" in section(text, "Timeline")


def test_a_later_resolution_note_replaces_an_earlier_one() -> None:
    timeline = (*TIMELINE, TimelineEntry(at(40), "resolution", "U_BOB", "restarted the pods"),
                TimelineEntry(at(60), "resolution", "U_BOB", "raised the memory limit"))
    body = section(review_markdown(make_incident(timeline=timeline), NAMES, "en", "UTC"), "Root cause")

    assert body.splitlines()[0] == "- **Resolution:** raised the memory limit"


def test_without_a_resolution_note_the_last_note_before_resolving_is_shown_as_such() -> None:
    timeline = (*TIMELINE, TimelineEntry(at(70), "note", "U_CAROL", "written after resolving"))
    body = section(review_markdown(make_incident(timeline=timeline), NAMES, "en", "UTC"), "Root cause")

    assert body.splitlines()[0] == ("- **Last note before resolving (no resolution was recorded with "
                                    "`/incident note resolution: …`):** kubectl describe: OOMKilled \\| BackOff "
                                    "node gpu-7 cordoned")


def test_chinese_review_labels_the_resolution_in_chinese() -> None:
    timeline = (*TIMELINE, TimelineEntry(at(40), "resolution", "U_BOB", "回滚到 v41"))
    text = review_markdown(make_incident(timeline=timeline, language="zh-CN"), NAMES, "zh-CN", "UTC")

    assert "- **解决方法：** 回滚到 v41" in text


def test_action_items_table_has_one_empty_row() -> None:
    body = section(review_markdown(make_incident(), NAMES, "en", "UTC"), "Action items")

    assert body.splitlines() == ["| Action | Owner | Due | Ticket |", "| --- | --- | --- | --- |",
                                 "|  |  |  |  |"]


def test_review_ends_with_the_blameless_reminder() -> None:
    text = review_markdown(make_incident(), NAMES, "en", "UTC")

    last = text.rstrip("\n").splitlines()[-1]
    assert last.startswith("> This review is blameless")
    assert "Detect → respond → mitigate → resolve → review" in last


def test_sections_come_in_the_review_order() -> None:
    text = review_markdown(make_incident(), NAMES, "en", "UTC")

    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings == ["Key times", "Responders", "Timeline", "Summary", "Impact", "Root cause",
                        "What went well", "What went wrong", "Action items"]


def test_review_filename_names_the_incident() -> None:
    assert review_filename(make_incident()) == "incident-42-review.md"
