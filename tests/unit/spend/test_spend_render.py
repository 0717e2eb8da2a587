"""/spend and the cost guards as Slack shows them: both languages, the reader's time zone, Block Kit's limits at
200 instances and 5,000 snapshots, buttons and their values, hostile AWS tags."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.render.blocks import SECTION_LIMIT, Block
from bot.render.text import buttons_in
from bot.spend import render
from bot.spend.model import (
    BurnReport,
    Deleted,
    DeletionResult,
    Keep,
    Overview,
    PipelineGroup,
    Planned,
    RecycleBin,
    Running,
    Share,
    ShutdownPlan,
    ShutdownResult,
    SnapshotReport,
    SpendReport,
    SpendRow,
    StaleSnapshot,
    Stopped,
    TeamBurn,
)
from tests.support.block_kit_limits import violations
from tests.support.payload_safety import unsafe_markup
from tests.support.slack_text import slack_text

NOW = datetime(2026, 11, 24, 9, 12, tzinfo=UTC)
TODAY = NOW.date()
NIGHT = date(2026, 11, 24)
MIDNIGHT_SHANGHAI = datetime(2026, 11, 24, 16, 0, tzinfo=UTC)  # 00:00 on the 25th in Asia/Shanghai
LANGS = ["en", "zh-CN"]
CJK = re.compile(r"[\u4e00-\u9fff]")
HOSTILE = "<!channel> @here <@UEVIL1>"


# Records made by hand ---------------------------------------------------------------------------------
def instance(n: int = 0, usd: float | None = 32.77, **fields: Any) -> Running:
    values: dict[str, Any] = {"id": f"i-{n:017x}", "type": "p4d.24xlarge", "name": f"train-{n}", "owner": "U0ANA",
                              "team": "ml", "launched": NOW - timedelta(hours=14, minutes=5), "usd_per_hour": usd}
    return Running(**{**values, **fields})


def overview(**fields: Any) -> Overview:
    values: dict[str, Any] = {
        "team": None, "cost_tag": None, "month_start": date(2026, 11, 1), "today": TODAY,
        "month_to_date": 12345.67, "yesterday": 456.78,
        "daily": tuple((TODAY - timedelta(days=7 - i), 400.0 + 10 * i) for i in range(7)),
        "forecast_usd": 15000.0, "forecast_source": "aws",
        "top_services": (Share("Amazon Elastic Compute Cloud - Compute", 9000.0), Share("Amazon S3", 1000.0)),
        "untagged_usd": 1234.5, "tagged_any": True, "as_of": NOW, "demo": False}
    return Overview(**{**values, **fields})


def spend_report(by: str = "team", rows: list[SpendRow] | None = None, **fields: Any) -> SpendReport:
    rows = rows if rows is not None else [
        SpendRow("ml", 4840.0, 160.0, 32.0, True), SpendRow("platform", 240.0, 10.0, 2.0, False),
        SpendRow(None, 120.0, 5.0, 1.0, False)]
    values: dict[str, Any] = {"by": by, "rows": rows, "start": TODAY - timedelta(days=7), "end": TODAY,
                              "burn_day": TODAY - timedelta(days=1), "coffee_usd": 5.0,
                              "threshold_cups_per_hour": 30.0, "demo": False, "as_of": NOW}
    return SpendReport(**{**values, **fields})


def team_burn(team: str = "ml", count: int = 3, **fields: Any) -> TeamBurn:
    values: dict[str, Any] = {"team": team, "usd_per_hour": 41.2, "cups_per_hour": 8.24, "threshold_cups": 30.0,
                              "instances": tuple(instance(n) for n in range(count))}
    return TeamBurn(**{**values, **fields})


def burn_report(*teams: TeamBurn) -> BurnReport:
    return BurnReport(teams=teams or (team_burn(),), coffee_usd=5.0, as_of=NOW, demo=False)


def plan(stop: int = 3, **fields: Any) -> ShutdownPlan:
    items = [Planned(instance(n), "stop", gpu_pct=3.0) for n in range(stop)]
    items += [Planned(instance(100, name="keeper"), "tagged"),
              Planned(instance(101), "kept", keep=Keep("i-101", "U0BOB", "eval finishes at 3", NOW)),
              Planned(instance(102), "busy", gpu_pct=87.0)]
    values: dict[str, Any] = {"team": "ml", "night": NIGHT, "at": MIDNIGHT_SHANGHAI, "dry_run": False,
                              "items": tuple(items)}
    return ShutdownPlan(**{**values, **fields})


def result(**fields: Any) -> ShutdownResult:
    outcomes = (Stopped(instance(1), "stopped"), Stopped(instance(2), "stopped"),
                Stopped(instance(3), "failed", error="UnauthorizedOperation", message="You are not authorized"),
                Stopped(instance(4), "failed", error="IncorrectInstanceState", message="not running"),
                Stopped(instance(5), "already"),
                Stopped(instance(6), "kept", keep=Keep("i-6", "U0BOB", "demo tomorrow", NOW)),
                Stopped(instance(7), "busy", gpu_pct=91.0), Stopped(instance(8), "tagged"))
    values: dict[str, Any] = {"team": "ml", "night": NIGHT, "dry_run": False, "outcomes": outcomes,
                              "saving_usd": 589.86, "saving_hours": 9.0, "by": "scheduler"}
    return ShutdownResult(**{**values, **fields})


def snapshot(n: int, pipeline: str | None = "nightly-build", gib: int = 100) -> StaleSnapshot:
    return StaleSnapshot(id=f"snap-{n:017x}", gib=gib, started=NOW - timedelta(days=400 - n % 300),
                         age_days=400 - n % 300, usd_month=gib * 0.05, pipeline=pipeline, team="ml",
                         description="Created by CI pipeline")


def snapshots(count: int = 3, **fields: Any) -> SnapshotReport:
    snaps = tuple(snapshot(n) for n in range(count))
    values: dict[str, Any] = {
        "snapshots": snaps,
        "groups": (PipelineGroup("nightly-build", count, sum(s.gib for s in snaps), sum(s.usd_month for s in snaps)),)
        if count else (),
        "in_use": 4, "managed": 2, "older_than": timedelta(days=30), "recycle_bin": RecycleBin(True, 7),
        "as_of": NOW, "demo": False}
    return SnapshotReport(**{**values, **fields})


def deletion(**fields: Any) -> DeletionResult:
    values: dict[str, Any] = {"plan": "p1", "by": "U0ANA", "results": (
        Deleted(snapshot(1), True), Deleted(snapshot(2), True),
        Deleted(snapshot(3), False, error="in_use"),
        Deleted(snapshot(4), False, error="UnauthorizedOperation", message="You are not authorized"))}
    return DeletionResult(**{**values, **fields})


DLM = json.dumps({"PolicyType": "EBS_SNAPSHOT_MANAGEMENT", "TargetTags": [{"Key": "pipeline", "Value": "*"}],
                  "Schedules": [{"RetainRule": {"Interval": 30, "IntervalUnit": "DAYS"}}]}, indent=2)


def every_view(lang: str, tz: str = "UTC") -> dict[str, list[Block]]:
    return {
        "overview": render.overview_blocks(overview(), lang, tz),
        "overview_team": render.overview_blocks(overview(team="ml", cost_tag="ml", untagged_usd=0.0,
                                                         tagged_any=False, forecast_source="projection"), lang, tz),
        "spend": render.spend_blocks(spend_report(), lang, tz),
        "spend_service": render.spend_blocks(spend_report("service", team="ml"), lang, tz),
        "spend_empty": render.spend_blocks(spend_report(rows=[], demo=True), lang, tz),
        "burn": render.burn_blocks(burn_report(team_burn(unpriced=("p5.48xlarge",))), lang, tz, 5),
        "burn_post": render.burn_post_blocks(team_burn(cups_per_hour=41.0), 5.0, NOW, lang, tz, 5),
        "back_under": render.back_under_blocks(team_burn(), lang),
        "plan": render.shutdown_plan_blocks(plan(dry_run=True, postponed_by="U0BOB"), lang, tz, NOW, True, 5),
        "plan_done": render.shutdown_plan_blocks(plan(done=True), lang, tz, NOW, True, 5),
        "plan_empty": render.shutdown_plan_blocks(plan(0), lang, tz, NOW, True, 5),
        "result": render.shutdown_result_blocks(result(by="U0ANA"), lang, tz, 5),
        "result_dry": render.shutdown_result_blocks(result(dry_run=True, outcomes=(
            Stopped(instance(1), "would_stop"),)), lang, tz, 5),
        "keep_modal": [render.keep_modal("{}", "i-1", lang)],
        "snapshots": render.snapshot_blocks(snapshots(), lang, tz, "p1", DLM, 5),
        "snapshots_empty": render.snapshot_blocks(snapshots(0), lang, tz, None, DLM, 5),
        "delete_modal": [render.delete_modal(snapshots(), "p1", lang)],
        "deletion": render.deletion_blocks(deletion(), lang, 5),
    }


# Block Kit's limits (tests/support/block_kit_limits.py) ------------------------------------------------
def within_limits(blocks: list[Block]) -> list[str]:
    """Every Block Kit limit these blocks break as a message (empty: fine)."""
    return violations({"blocks": blocks})


def modal_within_limits(view: dict[str, Any]) -> list[str]:
    return violations(view)


def more_count(text: str) -> int:
    """N in the last "…and N more" (or "……还有 N 项") of a text."""
    found = re.findall(r"(?:…and|还有) ([\d,]+)", text)
    assert found, f"no '…and N more' in {text[-200:]!r}"
    return int(found[-1].replace(",", ""))


# Both languages ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("lang", LANGS)
def test_every_view_renders_in_both_languages_within_slack_limits(lang: str) -> None:
    for name, blocks in every_view(lang).items():
        if name.endswith("_modal"):
            assert modal_within_limits(blocks[0]) == [], name
        else:
            assert within_limits(blocks) == [], name
        text = slack_text(blocks)
        assert text.strip(), name
        assert not re.search(r"\{[a-z_]+\}", text), f"{name}: a blank left unfilled"
        if lang == "zh-CN":
            assert CJK.search(text), f"{name} is not in Chinese"


def test_chinese_reads_as_chinese() -> None:
    views = every_view("zh-CN")

    assert "整个账号" in slack_text(views["overview"])
    assert "每小时 $41.20 ≈ 每小时 8.2 杯 ☕" in slack_text(views["burn"])
    assert "今晚继续运行" in slack_text(views["plan"])
    assert "回收站规则会让删除的快照在 7 天内可以恢复" in slack_text(views["snapshots"])


# The data-age stamp ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("tz", "expected"), [("UTC", "09:12 UTC"), ("Asia/Shanghai", "17:12 Asia/Shanghai"),
                                              ("America/New_York", "04:12 America/New_York")])
def test_data_age_is_on_the_readers_clock(tz: str, expected: str) -> None:
    assert render.data_age_text(NOW, "en", tz) == (
        f"Cost Explorer data as of {expected}; AWS refreshes it a few times a day")


@pytest.mark.parametrize("view", ["overview", "spend", "spend_empty"])
def test_every_cost_explorer_reply_is_stamped(view: str) -> None:
    text = slack_text(every_view("en", "Asia/Shanghai")[view])

    assert "Cost Explorer data as of 17:12 Asia/Shanghai; AWS refreshes it a few times a day" in text


def test_burn_rate_is_stamped_as_a_live_estimate() -> None:
    text = slack_text(render.burn_blocks(burn_report(), "en", "Asia/Shanghai", 5))

    assert "Live estimate from running EC2 instances × on-demand prices, 17:12 Asia/Shanghai" in text
    assert "1 ☕ = $5.00" in text


# Plain /spend ------------------------------------------------------------------------------------------
def test_overview_shows_month_yesterday_last_days_forecast_and_top_services() -> None:
    text = slack_text(render.overview_blocks(overview(), "en", "UTC"))

    assert "AWS spend · whole account" in text
    assert "Month to date* (since 2026-11-01): *$12,345.67*" in text
    assert "Yesterday* (2026-11-23): *$456.78*" in text
    assert "Last 7 days*: ▁▂▃▅▆▇█ · $3,010.00 in all" in text
    assert "`11-17 Tue` $400.00" in text and "`11-23 Mon` $460.00" in text
    assert "• Amazon S3 · $1,000.00 · 8%" in text
    assert "Forecast for 2026-11*: *$15,000.00*" in text


@pytest.mark.parametrize(("source", "said", "not_said"), [
    ("aws", "(Cost Explorer forecast)", "daily average"),
    ("projection", "(projected from this month's daily average)", "Cost Explorer forecast"),
])
def test_forecast_says_where_it_comes_from(source: str, said: str, not_said: str) -> None:
    text = slack_text(render.overview_blocks(overview(forecast_source=source), "en", "UTC"))

    assert said in text and not_said not in text


def test_untagged_spend_comes_with_the_hint_to_activate_the_tag_for_the_whole_account_only() -> None:
    account = slack_text(render.overview_blocks(overview(tag_key="cost-team"), "en", "UTC"))
    team = slack_text(render.overview_blocks(overview(team="ml", cost_tag="ml", tag_key="cost-team"), "en", "UTC"))

    assert "Untagged this month*: *$1,234.50* (10%)" in account
    assert "Billing console → Cost allocation tags → activate `cost-team`" in account
    assert "Untagged" not in team and "Cost allocation tags" not in team


def test_no_tagged_cost_at_all_is_a_clear_warning() -> None:
    account = slack_text(render.overview_blocks(overview(tagged_any=False), "en", "UTC"))
    team = slack_text(render.overview_blocks(overview(team="ml-platform", cost_tag="ml", tagged_any=False),
                                             "en", "UTC"))
    tagged = slack_text(render.overview_blocks(overview(), "en", "UTC"))

    assert "No cost carries the `team` tag yet" in account and "less than 24 h ago" in account
    assert "No cost carries `team=ml` yet" in team and "*ml-platform*" in team
    assert "No cost carries" not in tagged


def test_demo_data_says_so() -> None:
    assert "Demo data" in slack_text(render.overview_blocks(overview(demo=True), "en", "UTC"))
    assert "Demo data" not in slack_text(render.overview_blocks(overview(), "en", "UTC"))


# /spend by … ------------------------------------------------------------------------------------------
def test_by_team_rows_have_dollars_per_hour_cups_and_the_flag_only_when_over() -> None:
    text = slack_text(render.spend_blocks(spend_report(), "en", "UTC"))

    assert "AWS spend by team · last 7 days" in text
    assert "• *ml* · $4,840.00 · $160.00/h ≈ 32 ☕/h 💸🔥" in text
    assert "• *platform* · $240.00 · $10.00/h ≈ 2 ☕/h\n" in text
    assert "• *untagged* · $120.00 · $5.00/h ≈ 1 ☕/h" in text
    assert "Total *$5,200.00* from 2026-11-17 to 2026-11-23" in text
    assert "💸🔥 Over 30 ☕/h: *ml*" in text
    assert "$/h measured on 2026-11-23" in text and "1 ☕ = $5.00" in text


def test_by_service_rows_show_share_not_coffee_and_the_title_names_the_filter() -> None:
    rows = [SpendRow("Amazon EC2", 750.0, 0, 0, True), SpendRow("Amazon S3", 250.0, 0, 0, False)]
    text = slack_text(render.spend_blocks(spend_report("service", rows, team="ml", end=TODAY, start=TODAY
                                                       - timedelta(days=30)), "en", "UTC"))

    assert "AWS spend by service · last 30 days · team ml" in text
    assert "• *Amazon EC2* · $750.00 · 75%" in text and "• *Amazon S3* · $250.00 · 25%" in text
    assert "☕" not in text and "💸🔥" not in text


def test_project_filter_is_in_the_title() -> None:
    text = slack_text(render.spend_blocks(spend_report("team", project="llm"), "en", "UTC"))

    assert "AWS spend by team · last 7 days · project llm" in text


def test_no_costs_says_so() -> None:
    text = slack_text(render.spend_blocks(spend_report(rows=[]), "en", "UTC"))

    assert "Cost Explorer has no costs from 2026-11-17 to 2026-11-23." in text


def test_many_rows_stay_within_a_section_and_say_how_many_more() -> None:
    rows = [SpendRow(f"team-{n}", float(1000 - n), 1.0, 0.2, n % 2 == 0) for n in range(500)]

    blocks = render.spend_blocks(spend_report(rows=rows), "en", "UTC")

    assert within_limits(blocks) == []
    listing = blocks[1]["text"]["text"]
    assert listing.count("\n• ") + 1 + more_count(listing) == 500
    assert "…and 240 more" in slack_text(blocks)  # of the 250 teams burning, 10 are named


# Burn rate --------------------------------------------------------------------------------------------
def test_burn_shows_each_team_against_its_threshold_with_its_top_instances() -> None:
    hot = team_burn("ml", count=8, usd_per_hour=180.0, cups_per_hour=36.0, unpriced=("p5.48xlarge", "x1.big"))
    cool = team_burn("web", count=1)
    text = slack_text(render.burn_blocks(burn_report(hot, cool), "en", "UTC", 5))

    assert "*ml* · $180.00/h ≈ 36 ☕/h (threshold 30 ☕/h) 💸🔥" in text
    assert "*web* · $41.20/h ≈ 8.2 ☕/h (threshold 30 ☕/h)\n" in text
    assert "`i-00000000000000000` · p4d.24xlarge · *train-0* · owner <@U0ANA> · up 14h05m · $32.77/h" in text
    assert "i-00000000000000005" not in text and "…and 3 more" in text
    assert "No price for `p5.48xlarge`, `x1.big` (counted as $0): set `cost_guards.prices`." in text


def test_unpriced_and_unnamed_instances_say_so() -> None:
    lonely = team_burn(instances=(instance(0, usd=None, name=None, owner=None),))
    text = slack_text(render.burn_blocks(burn_report(lonely), "en", "UTC", 5))

    assert "_no Name_ · _no owner tag_ · up 14h05m · no price" in text


def test_burn_with_hundreds_of_teams_stays_within_fifty_blocks() -> None:
    teams = tuple(team_burn(f"team-{n}", count=40) for n in range(200))

    blocks = render.burn_blocks(burn_report(*teams), "en", "UTC", 30)

    assert within_limits(blocks) == []
    assert "…and 156 more teams ($6,427.20/h)" in slack_text(blocks)


def test_nobody_running_anything() -> None:
    text = slack_text(render.burn_blocks(burn_report(team_burn(count=0)), "en", "UTC", 5))

    assert "No team has running instances right now." in text


def test_burn_post_and_back_under() -> None:
    burn = team_burn(count=12, usd_per_hour=210.0, cups_per_hour=42.0)
    post = slack_text(render.burn_post_blocks(burn, 5.0, NOW, "en", "Asia/Shanghai", 10))
    under = slack_text(render.back_under_blocks(replace(burn, usd_per_hour=80.0, cups_per_hour=16.0), "en"))

    assert "💸🔥 *ml* is burning *$210.00/h ≈ 42 ☕/h*, over its threshold of 30 ☕/h." in post
    assert "owner <@U0ANA> · up 14h05m" in post and "…and 2 more" in post
    assert "17:12 Asia/Shanghai" in post
    assert under == "✅ Back under: now $80.00/h ≈ 16 ☕/h (threshold 30 ☕/h)."


# Tonight's shutdown ------------------------------------------------------------------------------------
def actions_of(blocks: list[Block]) -> dict[str, Block]:
    return {b["action_id"]: b for b in buttons_in(blocks)}


def test_plan_says_when_it_runs_on_the_readers_clock_and_in_how_long() -> None:
    text = slack_text(render.shutdown_plan_blocks(plan(), "en", "Asia/Shanghai", NOW, False, 5))

    assert "🛑 Tonight's shutdown · ml" in text
    assert "Runs *Wed 2026-11-25 00:00 Asia/Shanghai* (in 6h48m)." in text
    assert "*Will stop 3 instances* · $98.31/h" in text
    assert "`i-00000000000000000` · p4d.24xlarge · *train-0* · owner <@U0ANA> · up 14h05m · $32.77/h · GPU 3%" \
        in text


def test_dry_run_banner_only_in_dry_run() -> None:
    dry = slack_text(render.shutdown_plan_blocks(plan(dry_run=True), "en", "UTC", NOW, True, 5))
    real = slack_text(render.shutdown_plan_blocks(plan(), "en", "UTC", NOW, True, 5))

    assert "*DRY RUN*: nothing will be stopped until `cost_guards.shutdown.enabled: true`." in dry
    assert "DRY RUN" not in real


@pytest.mark.parametrize("can_stop", [True, False])
def test_stop_now_only_for_those_who_may_stop(can_stop: bool) -> None:
    found = actions_of(render.shutdown_plan_blocks(plan(), "en", "UTC", NOW, can_stop, 5))

    assert (render.STOP_NOW in found) is can_stop
    assert render.POSTPONE in found


def test_stop_now_is_dangerous_and_asks_first() -> None:
    stop = actions_of(render.shutdown_plan_blocks(plan(), "en", "Asia/Shanghai", NOW, True, 5))[render.STOP_NOW]

    assert stop["style"] == "danger"
    assert stop["confirm"]["title"]["text"] == "Stop 3 instances now?"
    assert "3 instances of *ml* ($98.31/h) now instead of at 00:00 Asia/Shanghai" in stop["confirm"]["text"]["text"]
    assert json.loads(stop["value"]) == {"team": "ml", "night": "2026-11-24"}


def test_buttons_carry_json_the_handlers_can_read() -> None:
    blocks = render.shutdown_plan_blocks(plan(postpone=timedelta(hours=1)), "en", "UTC", NOW, True, 5)
    found = actions_of(blocks)
    keeps = [b for b in buttons_in(blocks) if b["action_id"] == render.KEEP]

    assert [json.loads(b["value"]) for b in keeps] == [
        {"team": "ml", "night": "2026-11-24", "instance": instance(n).id} for n in range(3)]
    assert {b["text"]["text"] for b in keeps} == {"Keep running tonight"}
    assert json.loads(found[render.POSTPONE]["value"]) == {"team": "ml", "night": "2026-11-24"}
    assert found[render.POSTPONE]["text"]["text"] == "Postpone 1h"


def test_kept_instances_are_grouped_by_why() -> None:
    text = slack_text(render.shutdown_plan_blocks(plan(), "en", "Asia/Shanghai", NOW, True, 5))

    assert "🏷️ *Tagged keep-running* (1)\n`i-00000000000000064` · p4d.24xlarge · *keeper*" in text
    assert "🙋 *Kept tonight* (1)\n`i-00000000000000065`" in text
    assert "kept by <@U0BOB> at 17:12: “eval finishes at 3”" in text
    assert "⚙️ *Busy, kept* (1)\n`i-00000000000000066`" in text and "busy (GPU 87%), kept" in text


def test_postponed_says_by_whom_and_to_when() -> None:
    later = plan(at=MIDNIGHT_SHANGHAI + timedelta(hours=2), postponed_by="U0BOB")

    text = slack_text(render.shutdown_plan_blocks(later, "en", "Asia/Shanghai", NOW, True, 5))

    assert "⏰ Postponed to *Wed 2026-11-25 02:00 Asia/Shanghai* by <@U0BOB> (in 8h48m)." in text


def test_done_plan_has_no_buttons() -> None:
    blocks = render.shutdown_plan_blocks(plan(done=True), "en", "UTC", NOW, True, 5)

    assert "Tonight's shutdown of *ml* already ran (2026-11-24)." in slack_text(blocks)
    assert buttons_in(blocks) == []


def test_nothing_to_stop_has_no_buttons() -> None:
    blocks = render.shutdown_plan_blocks(plan(0), "en", "UTC", NOW, True, 5)

    assert "Nothing to stop tonight." in slack_text(blocks)
    assert buttons_in(blocks) == []


def test_two_hundred_instances_stay_within_fifty_blocks() -> None:
    many = plan(200)

    blocks = render.shutdown_plan_blocks(many, "en", "UTC", NOW, True, 200)

    assert within_limits(blocks) == []
    keeps = [b for b in buttons_in(blocks) if b["action_id"] == render.KEEP]
    text = slack_text(blocks)
    assert len(keeps) + more_count(text) == 200
    assert "keep them with the button on `/spend shutdown`" in text
    assert render.STOP_NOW in actions_of(blocks)  # the actions block survived the cut


def test_top_limits_the_rows_with_buttons() -> None:
    blocks = render.shutdown_plan_blocks(plan(12), "en", "UTC", NOW, True, 5)

    assert len([b for b in buttons_in(blocks) if b["action_id"] == render.KEEP]) == 5
    assert "…and 7 more ($229.39/h)" in slack_text(blocks)


def test_result_names_aws_errors_with_what_to_do() -> None:
    text = slack_text(render.shutdown_result_blocks(result(), "en", "UTC", 5))

    assert "*Stopped 2 instances* · $65.54/h" in text
    assert "`UnauthorizedOperation` — the bot's IAM policy lacks `ec2:StopInstances` for this instance's tags; " \
           "see `deploy/iam-policy.json`" in text
    assert "`IncorrectInstanceState` — it was not running" in text
    assert "*Already not running* (1)" in text
    assert "kept by <@U0BOB>" in text and "busy (GPU 91%), kept" in text and "*Tagged keep-running* (1)" in text
    assert "Estimated saving tonight: *$589.86* over 9 h." in text
    assert "Run by the scheduler." in text


def test_result_of_stop_now_and_of_a_dry_run() -> None:
    pressed = slack_text(render.shutdown_result_blocks(result(by="U0ANA"), "en", "UTC", 5))
    dry = slack_text(render.shutdown_result_blocks(result(dry_run=True, outcomes=(
        Stopped(instance(1), "would_stop"), Stopped(instance(2), "would_stop"))), "en", "UTC", 5))

    assert "Stopped now by <@U0ANA> with Stop now." in pressed
    assert "*Would stop 2 instances*" in dry and "DRY RUN" in dry and "Would have saved about *$589.86*" in dry
    assert "Stopped 2" not in dry


def test_an_unknown_aws_error_shows_its_message() -> None:
    odd = result(outcomes=(Stopped(instance(1), "failed", error="RequestLimitExceeded", message="Slow <down>"),))

    text = slack_text(render.shutdown_result_blocks(odd, "en", "UTC", 5))

    assert "`RequestLimitExceeded` — Slow &lt;down&gt;" in text


def test_keep_modal_asks_why_in_a_required_short_line() -> None:
    view = render.keep_modal('{"team": "ml"}', "i-0abc", "en")

    assert (view["callback_id"], view["private_metadata"]) == (render.KEEP_VIEW, '{"team": "ml"}')
    [intro, ask] = view["blocks"]
    assert (ask["block_id"], ask["element"]["action_id"]) == ("why", "why")
    assert ask["optional"] is False and ask["element"]["max_length"] == 200
    assert "Keep `i-0abc` running tonight?" in slack_text(intro)
    assert modal_within_limits(view) == []


# Snapshots -------------------------------------------------------------------------------------------
def test_snapshot_report_shows_totals_groups_skips_oldest_and_recycle_bin() -> None:
    text = slack_text(render.snapshot_blocks(snapshots(), "en", "UTC", "p1", DLM, 5))

    assert "*3* pipeline snapshots older than 30 d · *300 GiB* · *$15.00/month* · oldest `snap-00000000000000000` " \
           "from 2025-10-20 (400 d)" in text
    assert "Skipped: *4* used by an AMI (including disabled or deprecated AMIs) · *2* managed by Data Lifecycle" \
           " Manager." in text
    assert "• `nightly-build` · 3 snapshots · 300 GiB · $15.00/month" in text
    assert "• `snap-00000000000000001` · 399 d · 100 GiB · $5.00/month" in text
    assert "A Recycle Bin rule keeps deleted snapshots recoverable for 7 days." in text
    assert '```\n{\n  "PolicyType": "EBS_SNAPSHOT_MANAGEMENT"' in text


@pytest.mark.parametrize(("bin_", "said"), [
    (RecycleBin(True, 14), "recoverable for 14 days"),
    (RecycleBin(True, 0), "No Recycle Bin rule covers them: deletes are final."),
    (RecycleBin(False), "Could not read the Recycle Bin rules"),
])
def test_recycle_bin_status(bin_: RecycleBin, said: str) -> None:
    report = snapshots(recycle_bin=bin_)

    assert said in slack_text(render.snapshot_blocks(report, "en", "UTC", "p1", DLM, 5))
    assert said in slack_text(render.delete_modal(report, "p1", "en")["blocks"])


@pytest.mark.parametrize(("plan_id", "count", "button"), [("p1", 3, True), (None, 3, False), ("p1", 0, False)])
def test_delete_button_only_with_a_plan_and_snapshots(plan_id: str | None, count: int, button: bool) -> None:
    found = actions_of(render.snapshot_blocks(snapshots(count), "en", "UTC", plan_id, DLM, 5))

    assert (render.DELETE in found) is button
    if button:
        assert found[render.DELETE]["value"] == "p1" and found[render.DELETE]["style"] == "danger"
        assert found[render.DELETE]["text"]["text"] == "Delete 3 snapshots"


def test_no_stale_snapshots_says_so() -> None:
    text = slack_text(render.snapshot_blocks(snapshots(0, in_use=0, managed=0), "en", "UTC", None, DLM, 5))

    assert "No stale pipeline snapshots older than 30 d." in text
    assert "Skipped" not in text


def test_untagged_pipeline_is_named_so() -> None:
    report = snapshots(groups=(PipelineGroup(None, 3, 300, 15.0),))

    assert "• _no pipeline tag_ · 3 snapshots" in slack_text(render.snapshot_blocks(report, "en", "UTC", "p1",
                                                                                      DLM, 5))


def test_a_huge_dlm_policy_is_cut_to_fit_its_section() -> None:
    policy = json.dumps({"Tags": [{"Key": f"k{n}", "Value": "v&<>"} for n in range(500)]}, indent=2)

    blocks = render.snapshot_blocks(snapshots(), "en", "UTC", "p1", policy, 5)

    dlm = next(b["text"]["text"] for b in blocks if "Lifecycle Manager policy" in b.get("text", {}).get("text", ""))
    assert len(dlm) <= SECTION_LIMIT and dlm.endswith("\n…\n```")
    assert "v&amp;&lt;&gt;" in dlm


def test_five_thousand_snapshots_stay_within_slack_limits() -> None:
    report = snapshots(5000)

    blocks = render.snapshot_blocks(report, "en", "UTC", "p1", DLM, 20)
    view = render.delete_modal(report, "p1", "en")

    assert within_limits(blocks) == []
    assert modal_within_limits(view) == []
    listed = slack_text(view["blocks"][2:])
    assert listed.count("`snap-") + more_count(listed) == 5000
    assert "Delete these *5,000* snapshots (*500,000 GiB*, *$25,000.00/month*)?" in slack_text(view["blocks"])
    assert view["submit"]["text"] == "Delete 5,000"


def test_delete_modal_lists_them_all_when_they_fit() -> None:
    view = render.delete_modal(snapshots(40), "plan-7", "en")

    assert (view["callback_id"], view["private_metadata"]) == (render.DELETE_VIEW, "plan-7")
    assert (view["submit"]["text"], view["close"]["text"]) == ("Delete 40", "Cancel")
    assert slack_text(view["blocks"]).count("`snap-") == 40 and "more" not in slack_text(view["blocks"])


def test_deletion_result_per_snapshot_with_savings() -> None:
    text = slack_text(render.deletion_blocks(deletion(), "en", 5))

    assert "Deleted *2* of 4 snapshots: *$10.00/month* saved." in text
    assert "*2 not deleted*" in text
    assert "• `snap-00000000000000003`: still used by an AMI, not deleted" in text
    assert "• `snap-00000000000000004`: `UnauthorizedOperation` You are not authorized" in text
    assert "lacks `ec2:DeleteSnapshot`" in text and "Deleted by <@U0ANA>." in text


def test_deletion_without_failures_gives_no_advice() -> None:
    clean = deletion(results=(Deleted(snapshot(1), True),))

    assert "ec2:DeleteSnapshot" not in slack_text(render.deletion_blocks(clean, "en", 5))


def test_many_deletions_stay_within_limits() -> None:
    many = deletion(results=tuple(Deleted(snapshot(n), n % 3 != 0, error=None if n % 3 else "in_use")
                                  for n in range(5000)))

    blocks = render.deletion_blocks(many, "en", 20)

    assert within_limits(blocks) == []
    assert "…and 1647 more" in slack_text(blocks)  # 1,667 failed, 20 shown


# Not found ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "closest", "expected"), [
    ("team", ["ml"], "I know no team called `mll`. Did you mean `ml`?"),
    ("project", [], "I know no project called `mll`."),
    ("service", ["ml", "mlops"], "I know no service called `mll`. Did you mean `ml`, `mlops`?"),
])
def test_not_found(kind: str, closest: list[str], expected: str) -> None:
    assert render.not_found_text(kind, "mll", closest, "en") == expected


def test_not_found_in_chinese_and_escaped() -> None:
    assert render.not_found_text("team", "<!here>", ["<!channel>"], "zh-CN") == \
        "没有叫 `&lt;!here&gt;` 的团队。你是不是想找 `&lt;!channel&gt;`？"


# Hostile AWS text --------------------------------------------------------------------------------------
HOSTILE_VIEWS: dict[str, Callable[[str], Any]] = {
    "overview": lambda lang: render.overview_blocks(overview(
        team=HOSTILE, cost_tag=HOSTILE, tagged_any=False, tag_key=HOSTILE,
        top_services=(Share(HOSTILE, 1.0),)), lang, "UTC"),
    "spend": lambda lang: render.spend_blocks(spend_report(
        rows=[SpendRow(HOSTILE, 1.0, 1.0, 40.0, True)], team=HOSTILE, project=HOSTILE), lang, "UTC"),
    "burn": lambda lang: render.burn_blocks(burn_report(team_burn(
        HOSTILE, instances=(instance(0, name=HOSTILE, owner=HOSTILE, type=HOSTILE),), unpriced=(HOSTILE,))),
        lang, "UTC", 5),
    "burn_post": lambda lang: render.burn_post_blocks(team_burn(
        HOSTILE, instances=(instance(0, name=HOSTILE, owner=HOSTILE),)), 5.0, NOW, lang, "UTC", 5),
    "plan": lambda lang: render.shutdown_plan_blocks(plan(items=(
        Planned(instance(0, name=HOSTILE, owner=HOSTILE), "stop"),
        Planned(instance(1, name=HOSTILE), "kept", keep=Keep("i-1", HOSTILE, HOSTILE, NOW))),
        postponed_by=HOSTILE), lang, "UTC", NOW, True, 5),
    "result": lambda lang: render.shutdown_result_blocks(result(by=HOSTILE, outcomes=(
        Stopped(instance(0, name=HOSTILE), "failed", error=HOSTILE, message=HOSTILE),
        Stopped(instance(1, name=HOSTILE), "stopped"))), lang, "UTC", 5),
    "keep_modal": lambda lang: render.keep_modal("{}", HOSTILE, lang),
    "snapshots": lambda lang: render.snapshot_blocks(snapshots(
        groups=(PipelineGroup(HOSTILE, 1, 1, 1.0),), team=HOSTILE), lang, "UTC", "p1", HOSTILE, 5),
    "deletion": lambda lang: render.deletion_blocks(deletion(by=HOSTILE, results=(
        Deleted(snapshot(1), False, error=HOSTILE, message=HOSTILE),)), lang, 5),
}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("view", sorted(HOSTILE_VIEWS))
def test_aws_tags_never_become_broadcasts_or_mentions(view: str, lang: str) -> None:
    payload = HOSTILE_VIEWS[view](lang)

    assert unsafe_markup(payload) == []
    assert "&lt;!channel&gt;" in slack_text(payload)
