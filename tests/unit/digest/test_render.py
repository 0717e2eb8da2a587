"""The team digest as a reader sees it: each section's numbers in English and Chinese, times in the team's zone,
trends the right way round, a failed backend explained while the rest still renders, the empty and late digests,
Block Kit's limits at 200 pull requests, hostile titles escaped, the thread made of the domains' own views, the
weekly charts and the /digest preview line."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from bot.clients import GpuProblem
from bot.digest import render
from bot.digest.model import (
    Digest,
    GpuPart,
    GuardsPart,
    IncidentsPart,
    NoisePart,
    OnCallPart,
    ReviewPart,
    Schedule,
    SpendPart,
    Unavailable,
)
from bot.gpu.model import Fleet, Gpu, HealthReport, Holder, IdleReport, Missing, NodeRow, QueuedPod, Scope
from bot.gpu.render import health_blocks, idle_blocks, queue_blocks
from bot.incidents.model import Incident
from bot.incidents.render import stats_blocks
from bot.incidents.stats import compute
from bot.oncall.render import oncall_blocks
from bot.oncall.rotation import Shift, TierOnCall
from bot.render.blocks import SECTION_LIMIT, Block
from bot.render.text import blocks_to_text
from bot.review.render import team_queue_blocks
from bot.spend.render import shutdown_plan_blocks, snapshot_blocks
from tests.support.payload_safety import unsafe_markup
from tests.unit.alerts.test_noisy_render import CRASH, QUIET
from tests.unit.review.test_render import item, team_queue
from tests.unit.spend.test_spend_render import overview, plan, snapshots, team_burn

NOW = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # Tue 09:00 in Shanghai, Tue 02:00 in Berlin
SHANGHAI, BERLIN = "Asia/Shanghai", "Europe/Berlin"
HOSTILE = "<!channel> @here <@UEVIL1> db down"
PNG = b"\x89PNG"
H100, L4 = "NVIDIA H100 80GB HBM3", "NVIDIA L4"


# Records made by hand ---------------------------------------------------------------------------------
def incident(number: int, severity: str, opened_ago: timedelta, *, ack: timedelta | None = None,
             resolve: timedelta | None = None, title: str | None = None) -> Incident:
    created = NOW - opened_ago
    return Incident(id=number, title=title or f"checkout 500s #{number}", severity=severity, team="ml",
                    status="resolved" if resolve else "acknowledged" if ack else "open", reporter="U0REP",
                    commander="U0ANA" if number == 12 else None, language="en", created_at=created,
                    channel_id="CINC12" if number == 12 else None,
                    acknowledged_at=created + ack if ack else None, resolved_at=created + resolve if resolve else None)


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def incidents_part(title: str | None = None) -> IncidentsPart:
    """Last 7 days: 3 incidents, MTTA 4m, MTTR 1h20m, MTBF 2d10h; the 7 before: 2, MTTA 9m, MTTR 50m, MTBF 1d."""
    old_open = incident(9, "sev3", timedelta(days=16))  # before both weeks
    current = incident(12, "sev1", timedelta(hours=3, minutes=20), ack=minutes(4), title=title)
    records = [incident(7, "sev2", timedelta(days=13), ack=minutes(9), resolve=minutes(50)),
               incident(8, "sev2", timedelta(days=12), ack=minutes(9), resolve=minutes(50)), old_open,
               incident(10, "sev2", timedelta(days=5), ack=minutes(3), resolve=minutes(70)),
               incident(11, "sev3", timedelta(days=2), ack=minutes(5), resolve=minutes(90)), current]
    week = compute(records, NOW - timedelta(days=7), NOW, "ml")
    previous = compute(records, NOW - timedelta(days=14), NOW - timedelta(days=7), "ml")
    return IncidentsPart(open=(old_open, current), week=week, previous=previous)


DRI_END = datetime(2026, 11, 24, 13, 0, tzinfo=UTC)  # 21:00 in Shanghai, 14:00 in Berlin


def oncall_part() -> OnCallPart:
    return OnCallPart(tiers=(
        TierOnCall("DRI", 0, Shift("U0ANA", NOW - timedelta(hours=16), DRI_END, "rotation"),
                   Shift("U0BOB", DRI_END, DRI_END + timedelta(hours=12), "rotation"), gap=False),
        TierOnCall("2nd line", 1, None, Shift("U0CHEN", NOW + timedelta(hours=2), NOW + timedelta(hours=14),
                                              "rotation"), gap=True)))


def spend_part(**fields: Any) -> SpendPart:
    values: dict[str, Any] = {"month_to_date": 12345.67, "projected": 23456.0, "budget": 20000.0,
                              "as_of": NOW - timedelta(hours=2), "burn": team_burn(count=2), "coffee_usd": 5.0}
    return SpendPart(**{**values, **fields})


def gpu(node: str, index: str, model: str = H100, usd: float = 6.88, pod: str | None = "train-a",
        idle_hours: float | None = 5, **fields: Any) -> Gpu:
    holder = Holder("ml-train", pod, "main", "U0ANA", "ml") if pod else None
    return Gpu(node=node, gpu=index, uuid=f"GPU-{node}-{index}", model=model, util_pct=2.0, util_source="dev",
               usd_per_hour=usd, holder=holder, idle=idle_hours is not None,
               idle_since=NOW - timedelta(hours=idle_hours) if idle_hours is not None else None, **fields)


def fleet(*gpus: Gpu) -> Fleet:
    nodes = (NodeRow("n1", H100, "h100-pool", 8, 3, 35.0, 8), NodeRow("n2", L4, "l4-pool", 4, 1, 60.0, 4))
    return Fleet(scope=Scope("team", "ml"), gpus=gpus, nodes=nodes, pods=(), as_of=NOW, window=timedelta(hours=1),
                 threshold_pct=20.0)


def gpu_part() -> GpuPart:
    idle = [gpu("n1", "0"), gpu("n1", "1"), gpu("n2", "0", L4, 0.80, "notebook-b", 2)]
    broken = gpu("n2", "1", L4, 0.80, pod=None, idle_hours=None, problems=(GpuProblem("xid", 79),))
    seen = fleet(*idle, broken)
    queue = (QueuedPod("ml-train", "finetune-7b", 4, None, NOW - timedelta(hours=3, minutes=20),
                       "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."),
             QueuedPod("ml-train", "eval-small", 2, None, NOW - timedelta(minutes=40), ""))
    return GpuPart(idle=IdleReport(seen, idle), queue=queue,
                   health=HealthReport(seen, [broken], [Missing("n3", 8, 6)]))


def review_part(count: int = 2, title: str | None = None) -> ReviewPart:
    items = [item(412, 26, title=title or "Autoscale vLLM replicas on queue depth"),
             item(418, 3, False, title="Pin CUDA base image")]
    items += [item(500 + n, 2, False, title=f"Small fix number {n}") for n in range(count - 2)]
    return ReviewPart(team_queue(tuple(items)))


def guards_part(**fields: Any) -> GuardsPart:
    values: dict[str, Any] = {"snapshots": snapshots(3), "shutdown": plan(3)}
    return GuardsPart(**{**values, **fields})


def digest(lang: str = "en", tz: str = SHANGHAI, **fields: Any) -> Digest:
    parts: dict[str, Any] = {"incidents": incidents_part(), "oncall": oncall_part(), "spend": spend_part(),
                             "gpu": gpu_part(), "review": review_part(), "noise": NoisePart((CRASH, QUIET)),
                             "guards": guards_part()}
    return Digest(**{"team": "ml", "language": lang, "timezone": tz, "kind": "daily", "due": NOW,
                     "made_at": NOW, "late": False, **parts, **fields})


def text_of(blocks: list[Block]) -> str:
    return blocks_to_text(blocks)


def section_text(blocks: list[Block], title: str) -> str:
    """The one section of the digest whose first line names `title`."""
    found = [b["text"]["text"] for b in blocks if b["type"] == "section" and title in b["text"]["text"].split("\n")[0]]
    assert len(found) == 1, f"{title!r} in {[b.get('text') for b in blocks]}"
    return blocks_to_text([{"type": "section", "text": {"type": "mrkdwn", "text": found[0]}}])


def within_limits(blocks: list[Block]) -> None:
    assert len(blocks) <= 50
    for block in blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= SECTION_LIMIT
        if block["type"] == "context":
            assert all(len(e["text"]) <= SECTION_LIMIT for e in block["elements"])


# The message, in English -------------------------------------------------------------------------------
def test_the_header_names_the_team_and_the_local_day_and_the_footer_points_to_the_thread() -> None:
    blocks = render.digest_blocks(digest(), 3)

    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["text"] == "📋 Daily digest · ml · Tue 2026-11-24"
    assert blocks[-1]["type"] == "context"
    assert text_of(blocks[-1:]).strip() == "Details in the thread · `/digest preview ml daily`"
    weekly = render.digest_blocks(digest(kind="weekly"), 3)
    assert weekly[0]["text"]["text"] == "📋 Weekly digest · ml · Tue 2026-11-24"


def test_sections_come_in_the_models_order_one_block_each() -> None:
    blocks = render.digest_blocks(digest(), 3)

    firsts = [b["text"]["text"].split("\n")[0] for b in blocks if b["type"] == "section"]
    assert firsts == ["*🚨 Incidents*", "*📟 On call*", "*💸 Spend*", "*🖥️ GPUs*", "*👀 Reviews*",
                      "*🔔 Noisy alerts*", "*🛡️ Cost guards*"]


def test_incidents_list_the_open_ones_with_their_age_and_the_week_against_the_one_before() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "Incidents")

    assert "Open: 2" in text
    assert "• #9 sev3 checkout 500s #9 · open · 16d old" in text
    assert "• #12 sev1 checkout 500s #12 · acknowledged · 3h20m old" in text
    assert ("Last 7 days: 3 incidents (↑ from 2, 🔴 worse) · MTTA 4m (↓ from 9m, 🟢 better) · "
            "MTTR 1h20m (↑ from 50m, 🔴 worse) · MTBF 2d10h (↑ from 1d, 🟢 better)") in text


def test_a_trend_that_did_not_move_says_so_and_a_new_number_has_none() -> None:
    part = incidents_part()
    steady = replace(part, previous=part.week)
    assert "MTTA 4m (→ 4m)" in section_text(render.digest_blocks(digest(incidents=steady), 3), "Incidents")

    quiet_before = replace(part, previous=compute([], NOW - timedelta(days=14), NOW - timedelta(days=7), "ml"))
    text = section_text(render.digest_blocks(digest(incidents=quiet_before), 3), "Incidents")
    assert "3 incidents (↑ from 0, 🔴 worse)" in text
    assert "MTTA 4m ·" in text and "MTBF 2d10h" in text and "better" not in text


def test_on_call_names_who_is_on_until_when_and_who_is_next_and_flags_a_gap() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "On call")

    assert "DRI: @U0ANA until Tue 2026-11-24 21:00 · next @U0BOB" in text
    assert "2nd line: ⚠️ nobody · next @U0CHEN from Tue 2026-11-24 11:00" in text


def test_spend_shows_the_month_against_the_budget_the_pace_and_the_burn() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "Spend")

    assert "Month to date $12,345.67 of the $20,000.00 budget (62%)" in text
    assert "⚠️ on pace for $23,456.00, over budget" in text
    assert "Burning $41.20/h ≈ 8.2 ☕/h now" in text and "🔥" not in text
    assert "Cost Explorer as of Tue 2026-11-24 07:00" in text


def test_spend_under_budget_without_a_budget_and_burning_hot() -> None:
    calm = section_text(render.digest_blocks(digest(spend=spend_part(projected=15000.0)), 3), "Spend")
    assert "· on pace for $15,000.00" in calm and "⚠️" not in calm

    hot = spend_part(budget=None, burn=team_burn(cups_per_hour=41.0, usd_per_hour=205.0))
    text = section_text(render.digest_blocks(digest(spend=hot), 3), "Spend")
    assert "Month to date $12,345.67 · on pace for $23,456.00" in text and "budget" not in text
    assert "🔥 Burning $205.00/h ≈ 41 ☕/h now, over the threshold of 30 ☕/h" in text

    burn_only = spend_part(month_to_date=None, projected=None, as_of=None)
    assert section_text(render.digest_blocks(digest(spend=burn_only), 3), "Spend").splitlines()[1:] == [
        "Burning $41.20/h ≈ 8.2 ☕/h now"]


def test_gpus_show_idle_cost_per_day_the_queue_and_what_is_broken() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "GPUs")

    assert "Idle GPUs: 3 · $349.44/day" in text
    assert "• `ml-train/train-a` · 2× H100 80GB HBM3 · idle 5h · $330.24/day" in text
    assert "• `ml-train/notebook-b` · 1× L4 · idle 2h · $19.20/day" in text
    assert "Queued: 2 pods asking for 6 GPUs · longest wait 3h20m" in text
    assert "⚠️ Unhealthy GPUs: 1 (`n2/1`)" in text
    assert "⚠️ Nodes missing GPUs: 1 (`n3`)" in text


def test_reviews_count_the_waiting_and_stale_and_name_the_longest_waits() -> None:
    text = section_text(render.digest_blocks(digest(review=review_part(5)), 3), "Reviews")

    assert "Waiting for review: 5 · stale: 1 (over 24 h of working time)" in text
    assert "• acme/inference-gateway#412 Autoscale vLLM replicas on queue depth · waited 26 h" in text
    assert "• acme/inference-gateway#418 Pin CUDA base image · waited 3 h" in text
    assert "…and 2 more" in text and "#502" not in text


def test_a_long_title_is_cut_short_on_one_line() -> None:
    long = "Refactor " + "the scheduler " * 20
    text = section_text(render.digest_blocks(digest(review=review_part(2, long)), 3), "Reviews")

    line = next(line for line in text.splitlines() if "#412" in line)
    assert "…" in line and len(line) < 140


def test_noise_lists_the_noisiest_alerts_with_notifications_and_thumbs_down() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "Noisy alerts")

    assert "Last 7 days, noisiest first:" in text
    assert "• KubePodCrashLooping · 48 notifications · 👎 3" in text
    assert "• DiskFull · 1 notification · 👎 0" in text


def test_guards_show_stale_snapshots_and_tonights_shutdown() -> None:
    text = section_text(render.digest_blocks(digest(), 3), "Cost guards")

    assert "🧊 Stale snapshots: 3 · 300 GiB · $15.00/month" in text
    assert "🛑 Tonight: 3 instances stop at Wed 2026-11-25 00:00, saving $98.31/h while they are off" in text

    done = section_text(render.digest_blocks(digest(guards=guards_part(shutdown=plan(3, done=True))), 3),
                        "Cost guards")
    assert "🛑 Tonight's shutdown already ran." in done
    dry = section_text(render.digest_blocks(digest(guards=guards_part(shutdown=plan(2, dry_run=True))), 3),
                       "Cost guards")
    assert "(dry run): 2 instances would stop" in dry


def test_top_limits_the_items_of_every_section() -> None:
    text = text_of(render.digest_blocks(digest(), 1))

    assert "#9 sev3" in text and "#12 sev1" not in text
    assert "DRI:" in text and "2nd line" not in text
    assert "train-a" in text and "notebook-b" not in text
    assert "KubePodCrashLooping" in text and "DiskFull" not in text
    assert text.count("…and 1 more") == 5  # incidents, on call, idle pods, reviews, noise


# The message, in Chinese -------------------------------------------------------------------------------
def test_every_section_speaks_chinese_with_the_same_numbers() -> None:
    blocks = render.digest_blocks(digest("zh-CN"), 3)
    text = text_of(blocks)

    assert blocks[0]["text"]["text"] == "📋 每日摘要 · ml · 2026年11月24日 周二"
    assert "未解决：2 起" in text and "#12 sev1 checkout 500s #12 · 已确认 · 已持续 3h20m" in text
    assert "最近 7 天：3 起事故（↑ 上周 2，🔴 变差）" in text
    assert "平均确认 MTTA 4m（↓ 上周 9m，🟢 变好）" in text and "平均间隔 MTBF 2d10h（↑ 上周 1d，🟢 变好）" in text
    assert "DRI：@U0ANA，到 2026年11月24日 周二 21:00 · 下一班 @U0BOB" in text
    assert "2nd line：⚠️ 无人值班 · 下一班 @U0CHEN，从 2026年11月24日 周二 11:00 开始" in text
    assert "本月至今 $12,345.67，预算 $20,000.00 的 62%" in text and "超出预算" in text
    assert "当前消耗 每小时 $41.20 ≈ 每小时 8.2 杯 ☕" in text
    assert "闲置 GPU：3 块 · $349.44/天" in text and "最长已等 3h20m" in text
    assert "等待评审：2 · 已积压：1（超过 24 小时的工作时间）" in text and "已等 26 小时" in text
    assert "KubePodCrashLooping · 48 条通知 · 👎 3" in text
    assert "过期快照：3 个 · 300 GiB · 每月 $15.00" in text
    assert "3 台实例将于 2026年11月25日 周三 00:00 停机" in text
    assert "详情见消息串 · `/digest preview ml daily`" in text


# Time zones, failures, empty and late digests ----------------------------------------------------------
def test_the_same_instant_reads_in_the_teams_own_zone() -> None:
    shanghai = text_of(render.digest_blocks(digest(tz=SHANGHAI), 3))
    berlin = text_of(render.digest_blocks(digest(tz=BERLIN), 3))

    assert "until Tue 2026-11-24 21:00" in shanghai and "until Tue 2026-11-24 14:00" in berlin
    assert "stop at Wed 2026-11-25 00:00" in shanghai and "stop at Tue 2026-11-24 17:00" in berlin
    assert "Cost Explorer as of Tue 2026-11-24 07:00" in shanghai
    assert "Cost Explorer as of Tue 2026-11-24 00:00" in berlin
    late = NOW - timedelta(hours=3)  # Mon 23:00 in Berlin, Tue 06:00 in Shanghai
    assert "Mon 2026-11-23" in render.digest_blocks(digest(tz=BERLIN, due=late), 3)[0]["text"]["text"]
    assert "Tue 2026-11-24" in render.digest_blocks(digest(tz=SHANGHAI, due=late), 3)[0]["text"]["text"]


def test_a_failed_backend_says_why_while_the_other_sections_render() -> None:
    failed = Unavailable("aws", "AWS rejected the credentials (403)")
    blocks = render.digest_blocks(digest(spend=failed, gpu=Unavailable("prometheus", "connection refused")), 3)
    text = text_of(blocks)

    assert "💸 Spend: unavailable (AWS): AWS rejected the credentials (403)" in text
    assert "🖥️ GPUs: unavailable (Prometheus): connection refused" in text
    assert "Open: 2" in text and "Waiting for review: 2" in text and "Stale snapshots: 3" in text
    zh = text_of(render.digest_blocks(digest("zh-CN", spend=failed), 3))
    assert "💸 花费：暂不可用（AWS）：AWS rejected the credentials (403)" in zh


def test_nothing_to_say_is_one_friendly_line() -> None:
    quiet = digest(incidents=None, oncall=OnCallPart(()), spend=None, gpu=None, review=ReviewPart(team_queue()),
                   noise=NoisePart(()), guards=guards_part(snapshots=None, shutdown=None))
    blocks = render.digest_blocks(quiet, 3)

    assert [b["type"] for b in blocks] == ["header", "section"]
    assert text_of(blocks[1:]) == "Nothing needs you today, ml. ✨"
    assert text_of(render.digest_blocks(replace(quiet, language="zh-CN"), 3)).endswith("ml，今天没有需要你处理的事。✨")
    assert render.detail_messages(quiet, 10) == [] and render.chart_files(replace(quiet, kind="weekly")) == []


def test_a_late_digest_says_when_it_was_due_in_local_time() -> None:
    due = NOW - timedelta(hours=3)  # 06:00 in Shanghai
    blocks = render.digest_blocks(digest(late=True, due=due, made_at=NOW), 3)

    assert blocks[1]["type"] == "context"
    assert text_of([blocks[1]]).strip() == ("⏰ Late: this digest was due at Tue 2026-11-24 06:00 "
                                            "(the bot was down, or quiet hours held it)")
    zh = text_of(render.digest_blocks(digest("zh-CN", late=True, due=due), 3))
    assert "⏰ 迟到了：这份摘要原定于 2026年11月24日 周二 06:00 发出" in zh
    assert "Late" not in text_of(render.digest_blocks(digest(), 3))


# Slack's limits and hostile text -----------------------------------------------------------------------
@pytest.mark.parametrize("top", [3, 10, 200])
def test_two_hundred_pull_requests_stay_within_block_kit_limits(top: int) -> None:
    big = digest(review=review_part(200, "A rather long pull request title " * 4))
    blocks = render.digest_blocks(big, top)

    within_limits(blocks)
    reviews = section_text(blocks, "Reviews")
    assert "Waiting for review: 200" in reviews and "more" in reviews
    for message in render.detail_messages(big, top):
        within_limits(message)


def test_user_text_comes_out_escaped() -> None:
    hostile = digest(incidents=incidents_part(HOSTILE), review=review_part(2, HOSTILE),
                     noise=NoisePart((replace(CRASH, alertname=HOSTILE),)),
                     gpu=Unavailable("prometheus", HOSTILE), team="ml")
    payloads = [render.digest_blocks(hostile, 3), *render.detail_messages(hostile, 10)]

    raw = json.dumps(payloads, ensure_ascii=False)
    assert "<!channel>" not in raw and "<@UEVIL1>" not in raw
    assert "&lt;!channel&gt;" in raw
    assert unsafe_markup(payloads) == []


# The thread ----------------------------------------------------------------------------------------------
def test_the_thread_reuses_each_domains_own_views() -> None:
    d = digest()
    messages = render.detail_messages(d, 10)
    thread = "\n".join(text_of(m) for m in messages)
    part_gpu, part_incidents = d.gpu, d.incidents
    assert isinstance(part_gpu, GpuPart) and isinstance(part_incidents, IncidentsPart)

    for view in (stats_blocks(part_incidents.week, "en"),
                 oncall_blocks("ml", list(oncall_part().tiers), "en", SHANGHAI),
                 team_queue_blocks(review_part().queue, "en", SHANGHAI),
                 idle_blocks(part_gpu.idle, "en", SHANGHAI, 10),
                 queue_blocks(part_gpu.queue, Scope("team", "ml"), NOW, "en", 10),
                 health_blocks(part_gpu.health, "en", SHANGHAI, 10),
                 snapshot_blocks(snapshots(3), "en", SHANGHAI, None, "", 10),
                 shutdown_plan_blocks(plan(3), "en", SHANGHAI, NOW, False, 10)):
        assert text_of(view) in thread
    assert "Open incidents: 2" in thread and "commander @U0ANA · #CINC12" in thread
    assert "Noisiest alerts: ml, last 7 days" in thread and "💸🔥 Burn rate right now" in thread
    assert all(len(m) <= 50 for m in messages) and len(messages) >= 2
    assert sum(b["type"] == "divider" for m in messages for b in m) >= 5


def test_the_thread_has_no_delete_or_stop_buttons_and_skips_failed_parts() -> None:
    d = digest(spend=Unavailable("aws", "throttled"))
    thread = [b for m in render.detail_messages(d, 10) for b in m]
    actions = [e.get("action_id") for b in thread if b["type"] == "actions" for e in b["elements"]]
    accessories = [b["accessory"].get("action_id") for b in thread if "accessory" in b]

    assert "spend_snapshots_delete" not in actions and "spend_stop_now" not in actions
    assert "spend_postpone" in actions and "spend_keep" in accessories  # the plan's own buttons stay
    assert "Burn rate" not in "\n".join(text_of([b]) for b in thread)


def test_the_weekly_thread_shows_the_spend_overview_and_chinese_views() -> None:
    weekly = digest("zh-CN", kind="weekly", spend=spend_part(overview=overview(team="ml", cost_tag="ml")))
    thread = "\n".join(text_of(m) for m in render.detail_messages(weekly, 10))

    assert "本月至今" in thread and "ml 的值班" in thread


def test_a_thread_too_big_for_one_message_is_split_in_messages_of_at_most_fifty_blocks() -> None:
    many = [QueuedPod(f"ns-{n}", f"pod-{n}", 1, None, NOW - minutes(n), "") for n in range(60)]
    d = digest(gpu=replace(gpu_part(), queue=tuple(many)))
    messages = render.detail_messages(d, 40)

    assert len(messages) >= 2 and all(len(m) <= 50 for m in messages)
    assert all(m[0]["type"] != "divider" and m[-1]["type"] != "divider" for m in messages)


# Charts ---------------------------------------------------------------------------------------------------
def test_a_weekly_digest_charts_incidents_spend_and_gpus_and_a_daily_one_nothing() -> None:
    weekly = digest(kind="weekly", spend=spend_part(overview=overview(team="ml", cost_tag="ml")))
    files = render.chart_files(weekly)

    assert [name for name, _, _ in files] == ["digest-ml-incidents.png", "digest-ml-spend.png", "digest-ml-gpu.png"]
    assert all(data.startswith(PNG) for _, data, _ in files)
    assert [title for _, _, title in files] == ["Incidents of ml, last 7 days", "AWS spend per day of ml",
                                                "GPU utilization of ml"]
    assert render.chart_files(digest()) == []
    zh = render.chart_files(replace(weekly, language="zh-CN"))
    assert [title for _, _, title in zh] == ["ml 最近 7 天的事故", "ml 每天的 AWS 花费", "ml 的 GPU 利用率"]


def test_only_shown_parts_are_charted() -> None:
    weekly = digest(kind="weekly", incidents=Unavailable("database", "busy"), gpu=None)

    assert render.chart_files(weekly) == []  # spend has no overview: nothing to chart


# /digest preview ------------------------------------------------------------------------------------------
def schedule(**fields: Any) -> Schedule:
    values: dict[str, Any] = {
        "team": "ml", "channel": "CML", "timezone": SHANGHAI, "daily": "0 9 * * 1-5", "weekly": "0 9 * * 1",
        "next_daily": datetime(2026, 11, 25, 1, 0, tzinfo=UTC), "next_weekly": datetime(2026, 11, 30, 1, 0, tzinfo=UTC),
        "quiet_hours": "22:00-08:00", "holidays": (date(2026, 12, 25),)}
    return Schedule(**{**values, **fields})


def test_the_preview_line_says_where_and_when_the_digests_post() -> None:
    assert preview_text(render.schedule_blocks(schedule(), "daily", "en")) == (
        "Preview of the daily digest of *ml* · posts to <#CML> · daily at `0 9 * * 1-5` (next: Wed 2026-11-25 09:00) "
        "and weekly at `0 9 * * 1` (next: Mon 2026-11-30 09:00) in Asia/Shanghai · quiet hours 22:00–08:00 · "
        "holidays: 2026-12-25")


def preview_text(blocks: list[Block]) -> str:
    """The preview line as written (blocks_to_text would read the crontab's `* *` as bold)."""
    assert [b["type"] for b in blocks] == ["context"]
    text: str = blocks[0]["elements"][0]["text"]
    return text


def test_the_preview_line_for_schedules_off_and_no_channel() -> None:
    text = preview_text(render.schedule_blocks(schedule(channel=None, weekly="off", next_weekly=None, quiet_hours=None,
                                                   holidays=()), "weekly", "en"))

    assert "Preview of the weekly digest of *ml* · posts nowhere until `teams[].channel` is set" in text
    assert "daily at `0 9 * * 1-5` (next: Wed 2026-11-25 09:00) and weekly: off in Asia/Shanghai" in text
    assert "quiet hours" not in text and "holidays" not in text
    assert "posts to #ml-alerts" in preview_text(render.schedule_blocks(schedule(channel="#ml-alerts"), "daily", "en"))


def test_the_preview_line_in_chinese() -> None:
    text = preview_text(render.schedule_blocks(schedule(daily="off", next_daily=None), "daily", "zh-CN"))

    assert "预览 *ml* 的每日摘要 · 发到 <#CML> · 每日：关闭，每周 `0 9 * * 1`（下次：2026年11月30日 周一 09:00）" \
        in text
    assert "时区 Asia/Shanghai · 免打扰 22:00–08:00 · 节假日：2026-12-25" in text
