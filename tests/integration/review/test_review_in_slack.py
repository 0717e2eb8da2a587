"""/review as a team lives it: the real Bolt app, the real GitHub client over GraphQL against a fixture server that
executes GitHub's public schema, real SQLite and PostgreSQL, the Slack recorder, an injected clock.

The team works in Shanghai (09:00-18:00, Monday to Friday); Chen reviews from Berlin and reads Chinese. The clock
starts on Tuesday 2026-11-24 at 10:00 in Shanghai, 03:00 in Berlin."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.check import WARN, _review_repos
from bot.clock import FrozenClock
from tests.support.config import bot_config, team
from tests.support.github_graphql import GitHubFixture
from tests.support.inprocess import START, dispatch
from tests.support.signing import interactivity_body, slash_command_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

SHANGHAI, BERLIN = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Berlin")
LENA, CHEN, WEI, MARIA = "ULENA", "UCHEN", "UWEI", "UMARIA"
TOKEN = "ghp_fixture_token_0000000000000000"
TRAINER, GATEWAY = "acme/trainer", "acme/gateway"
PR_97 = "https://github.com/acme/trainer/pull/97"


def config(**review: Any) -> dict[str, Any]:
    return bot_config(
        teams=[team("ml", "CML", repos=[TRAINER, GATEWAY], user_group="S0ML", holidays=["2026-12-25"])],
        github={"users": {"lena-k": LENA, "wei-zhang": WEI, "maria-s": "maria@example.com"}},
        review=review)


def seed(github: GitHubFixture) -> None:
    """#97 waits on Lena (26 h) and Chen; #412 on Lena and the ml-infra team; #99 is Lena's, waiting on Sam (whom
    nobody can map); #420 is a draft."""
    github.user("lena-k")
    github.user("wei-zhang")
    github.user("maria-s")
    github.user("chen-li", email="chen@example.com")  # matched to Slack by e-mail
    github.user("sam-o")
    github.team("acme", "ml-infra", members=["lena-k"])
    github.repo(TRAINER)
    github.repo(GATEWAY)
    day_before = START - timedelta(hours=26)
    github.pull(TRAINER, 97, "Retry checkpoint uploads to S3", "wei-zhang", day_before,
                body="Unblocks the 70B run on Friday.\n\nDetails follow.",
                reviewers=[("lena-k", day_before), ("chen-li", START - timedelta(hours=2))],
                additions=40, deletions=8, changed_files=3)
    github.pull(GATEWAY, 412, "Autoscale vLLM on queue depth", "maria-s", START - timedelta(days=3),
                reviewers=[("lena-k", START - timedelta(days=3))], teams=[("acme/ml-infra", START - timedelta(days=3))],
                additions=600, deletions=200, changed_files=12)
    github.pull(TRAINER, 99, "FSDP config for 70B", "lena-k", START - timedelta(hours=5),
                reviewers=[("sam-o", START - timedelta(hours=5))], teams=[("acme/ml-infra", START)])
    github.pull(GATEWAY, 420, "WIP: bump vLLM", "maria-s", START - timedelta(hours=1), draft=True,
                reviewers=[("lena-k", START - timedelta(hours=1))])


@pytest.fixture
def people(slack: SlackRecorder) -> SlackRecorder:
    slack.set_user(LENA, tz="Asia/Shanghai", locale="en-US", email="lena@example.com")
    slack.set_user(CHEN, tz="Europe/Berlin", locale="zh-CN", email="chen@example.com")
    slack.set_user(WEI, tz="Asia/Shanghai", locale="en-US", email="wei@example.com")
    slack.set_user(MARIA, tz="Asia/Shanghai", locale="en-US", email="maria@example.com")
    slack.respond("usergroups.users.list", lambda call: {"ok": True, "users": [LENA, WEI, MARIA]})
    return slack


@pytest.fixture
def make(db_url: str, people: SlackRecorder, github_api: GitHubFixture,
         new_bot: Callable[..., tuple[Any, Any]]) -> Callable[..., tuple[Any, Any]]:
    """A bot (services, app) on the shared database and GitHub; call again for a restart or a second replica."""
    seed(github_api)

    def build(clock: FrozenClock, **review: Any) -> tuple[Any, Any]:
        return new_bot(db_url, people, config(**review), clock, github_token=TOKEN, github_api_url=github_api.url)
    return build


def command(app: Any, slack: SlackRecorder, text: str, user: str = WEI, channel: str = "CML") -> str:
    slack.clear()
    dispatch(app, slash_command_body("/review", text, user_id=user, channel_id=channel,
                                     response_url=slack.response_url("review")))
    return slack_text(slack.calls("response_url"))


def dms(slack: SlackRecorder, user: str) -> list[Any]:
    return [call for call in slack.calls("chat.postMessage", f"D{user}")]


def click(app: Any, slack: SlackRecorder, action_id: str, dm: Any, user: str) -> str:
    button = next(element for block in dm.json_param("blocks") if block.get("type") == "actions"
                  for element in block["elements"] if element["action_id"] == action_id)
    slack.clear()
    dispatch(app, interactivity_body({
        "type": "block_actions", "user": {"id": user}, "channel": {"id": dm.params["channel"]}, "trigger_id": "t",
        "container": {"message_ts": dm.response["ts"], "channel_id": dm.params["channel"]},
        "message": {"ts": dm.response["ts"]}, "response_url": slack.response_url("click"),
        "actions": [{"action_id": action_id, "value": button["value"]}]}))
    return slack_text(slack.calls("response_url")) + slack_text(slack.calls("chat.update"))


# Queues --------------------------------------------------------------------------------------------------------
def test_my_queue_lists_what_waits_on_me_and_mine(make, slack: SlackRecorder, github_api: GitHubFixture) -> None:
    _, app = make(FrozenClock(START))

    text = command(app, slack, "", user=LENA)

    assert "Retry checkpoint uploads" in text and "Autoscale vLLM" in text  # requested of her, and of her team
    assert "FSDP config" in text  # hers, waiting on Sam
    assert "WIP: bump vLLM" not in text  # a draft waits on nobody
    assert "Waiting on you (2" in text  # #99 is hers: asked of her team too, yet not waiting on her
    assert text.index("Autoscale vLLM") < text.index("Retry checkpoint")  # oldest first
    assert github_api.count <= 2  # one read of every repo, one of her teams


def test_the_team_queue_counts_working_hours_and_load(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))

    text = command(app, slack, "team")

    assert "Autoscale vLLM" in text and "Retry checkpoint" in text and "WIP" not in text
    assert "lena-k" in text and "2" in text  # Lena carries two reviews
    # #97 waited 26 wall-clock hours but only 10 working hours (Mon 08:00 → Tue 10:00 in Shanghai): not stale
    # #412 waited three days, two of them working days: stale
    assert text.index("Autoscale vLLM") < text.index("Retry checkpoint")


def test_an_unknown_login_is_told_how_to_map_it(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))
    slack.set_user("UNEW", tz="Asia/Shanghai", locale="en-US", email="new@example.com")

    text = command(app, slack, "", user="UNEW")

    assert "github:" in text and "users:" in text


# Nudges --------------------------------------------------------------------------------------------------------
def test_a_nudge_reaches_each_reviewer_in_their_hours_and_language(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))

    report = command(app, slack, f"nudge <{PR_97}> because it unblocks <!channel> the 70B run")

    [dm] = dms(slack, LENA)
    shown = slack_text([dm])
    assert "Retry checkpoint uploads" in shown and "70B run" in shown
    assert "<!channel>" not in json.dumps(dm.params)  # escaped: the bot never broadcasts
    assert "Wed 2026-11-25 09:00" in shown  # the next working morning in Shanghai
    assert {"review_reviewing", "review_cant", "review_snooze"} <= set(json.dumps(dm.json_param("blocks")).split('"'))
    assert dms(slack, CHEN) == []  # 03:00 in Berlin: held until 09:00 there
    assert "chen-li" in report and "09:00" in report


def test_one_nudge_per_reviewer_per_day(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))
    command(app, slack, "nudge " + PR_97)

    again = command(app, slack, "nudge " + PR_97, user=MARIA)

    assert dms(slack, LENA) == [] and "already" in again.lower()


def test_a_held_nudge_goes_out_at_the_reviewers_morning_after_a_restart(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    _, app = make(clock)
    command(app, slack, "nudge " + PR_97)

    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN))
    restarted, _ = make(clock)
    slack.clear()
    restarted.nudges.deliver_due()
    restarted.nudges.deliver_due()  # a second tick, or a second replica, sends nothing more

    [dm] = dms(slack, CHEN)
    assert "评审" in slack_text([dm])  # Chen reads Chinese


def test_the_follow_up_comes_once_at_the_proposed_time(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    _, app = make(clock)
    command(app, slack, f"nudge {PR_97} by 15:00")

    clock.set(datetime(2026, 11, 24, 15, 1, tzinfo=SHANGHAI))
    restarted, _ = make(clock)
    slack.clear()
    restarted.nudges.deliver_due()
    restarted.nudges.deliver_due()

    assert len(dms(slack, LENA)) == 1 and len(dms(slack, WEI)) == 1  # one follow-up, one note to the author
    clock.advance(timedelta(days=2))
    slack.clear()
    restarted.nudges.deliver_due()
    assert dms(slack, LENA) == []  # after that, nothing automatic


def test_no_follow_up_once_the_review_is_done(make, slack: SlackRecorder, github_api: GitHubFixture) -> None:
    clock = FrozenClock(START)
    services, app = make(clock)
    command(app, slack, f"nudge {PR_97} by 15:00")
    github_api.review(TRAINER, 97, "lena-k", "APPROVED")

    clock.set(datetime(2026, 11, 24, 15, 5, tzinfo=SHANGHAI))
    slack.clear()
    services.nudges.deliver_due()

    assert dms(slack, LENA) == [] and dms(slack, WEI) == []


def test_reviewing_now_tells_the_author(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))
    command(app, slack, "nudge " + PR_97)
    [dm] = dms(slack, LENA)

    click(app, slack, "review_reviewing", dm, LENA)

    assert "reviewing" in slack_text(dms(slack, WEI)).lower()
    assert slack.calls("chat.update")  # the DM loses its buttons


def test_cant_this_week_suggests_the_least_loaded_reviewer(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))
    command(app, slack, "nudge " + PR_97)
    [dm] = dms(slack, LENA)

    click(app, slack, "review_cant", dm, LENA)

    told = slack_text(dms(slack, WEI))
    # Maria and Sam have nothing waiting, Chen has #97; the author and Lena herself are never suggested
    assert "can't review" in told and "@UMARIA could take it (no reviews waiting)" in told


def test_only_the_reviewer_answers_their_nudge(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))
    command(app, slack, "nudge " + PR_97)
    [dm] = dms(slack, LENA)

    refused = click(app, slack, "review_reviewing", dm, MARIA)

    assert "can't" in refused.lower() and dms(slack, WEI) == []


def test_snooze_moves_the_follow_up_a_working_day(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI))  # a Friday
    services, app = make(clock)
    command(app, slack, f"nudge {PR_97} by 15:00")
    [dm] = dms(slack, LENA)

    click(app, slack, "review_snooze", dm, LENA)
    clock.set(datetime(2026, 11, 27, 15, 30, tzinfo=SHANGHAI))
    slack.clear()
    services.nudges.deliver_due()
    assert dms(slack, LENA) == []  # not at 15:00 any more

    clock.set(datetime(2026, 11, 30, 10, 1, tzinfo=SHANGHAI))  # Monday, a working day later
    services.nudges.deliver_due()
    assert len(dms(slack, LENA)) == 1


def test_an_unmapped_reviewer_is_named_with_the_config_line(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(START))

    report = command(app, slack, "nudge acme/trainer#99", user=WEI)

    assert "sam-o" in report and "github:" in report
    told = slack_text(dms(slack, LENA))  # the author, who can add the line, hears it too
    assert "sam-o" in told and "github:" in told


def test_holidays_hold_the_nudge(make, slack: SlackRecorder) -> None:
    _, app = make(FrozenClock(datetime(2026, 12, 25, 10, 0, tzinfo=SHANGHAI)))

    report = command(app, slack, "nudge " + PR_97)

    assert dms(slack, LENA) == [] and "2026-12-28" in report  # Christmas Friday → Monday


def test_do_not_disturb_holds_the_nudge(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services, app = make(clock)
    until = START + timedelta(hours=1)
    slack.respond("dnd.info", lambda call: {"ok": True, "dnd_enabled": False, "snooze_enabled": True,
                                            "snooze_endtime": int(until.timestamp())})

    command(app, slack, "nudge " + PR_97)
    assert dms(slack, LENA) == []

    slack.respond("dnd.info", lambda call: {"ok": True, "dnd_enabled": False, "snooze_enabled": False})
    clock.set(until + timedelta(minutes=1))
    services.nudges.deliver_due()
    assert len(dms(slack, LENA)) == 1


def test_two_replicas_send_one_nudge(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN))
    _, app = make(FrozenClock(START))
    command(app, slack, "nudge " + PR_97)  # Chen's is held
    one, _ = make(clock)
    two, _ = make(clock)
    slack.clear()

    one.nudges.deliver_due()
    two.nudges.deliver_due()

    assert len(dms(slack, CHEN)) == 1


def test_a_dm_slack_refuses_is_retried_later_and_sent_once(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services, app = make(clock)
    slack.fail_method("conversations.open", "ratelimited")

    report = command(app, slack, "nudge " + PR_97)

    assert "lena-k" in report and dms(slack, LENA) == []
    slack.fail_method("conversations.open", None)
    services.nudges.deliver_due()
    assert dms(slack, LENA) == []  # not before its retry time (a minute or two, jittered)

    clock.advance(timedelta(minutes=5))
    services.nudges.deliver_due()
    services.nudges.deliver_due()
    assert len(dms(slack, LENA)) == 1


# Bad input ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [
    ("https://github.com/acme/trainer/issues/97", "github.com/owner/repo/pull/123"),
    ("https://github.com/other/repo/pull/1", "other/repo"),
    (f"{PR_97} by someday", "someday"),
])
def test_bad_nudges_get_a_clear_answer(make, slack: SlackRecorder, text: str, expected: str) -> None:
    _, app = make(FrozenClock(START))

    assert expected in command(app, slack, f"nudge {text}")
    assert dms(slack, LENA) == []


def test_a_closed_pull_request_is_not_nudged(make, slack: SlackRecorder, github_api: GitHubFixture) -> None:
    github_api.close(TRAINER, 97, merged=True)
    _, app = make(FrozenClock(START))

    assert "merged" in command(app, slack, f"nudge {PR_97}").lower()
    assert "acme/trainer#1234" in command(app, slack, "nudge acme/trainer#1234")


@pytest.mark.parametrize(("status", "expected"), [(401, "GITHUB_TOKEN"), (403, "read:org")])
def test_github_refusals_name_the_token_and_scope(make, slack: SlackRecorder, github_api: GitHubFixture,
                                                  status: int, expected: str) -> None:
    _, app = make(FrozenClock(START))
    github_api.fail(status)

    assert expected in command(app, slack, "team")


def test_an_exhausted_rate_limit_says_when_it_resets(make, slack: SlackRecorder, github_api: GitHubFixture) -> None:
    _, app = make(FrozenClock(START))
    resets = (datetime.now(UTC) + timedelta(minutes=40)).replace(second=0, microsecond=0)  # GitHub's own clock
    github_api.exhaust(resets)

    text = command(app, slack, "team")

    assert f"{resets:%H:%M}" in text and "throttl" in text.lower()


# Scheduled ------------------------------------------------------------------------------------------------------
def test_the_review_digest_posts_once_at_the_team_morning(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(datetime(2026, 11, 25, 8, 59, tzinfo=SHANGHAI))
    one, _ = make(clock)
    two, _ = make(clock)
    one.review_digests.tick()
    assert slack.calls("chat.postMessage", "CML") == []

    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    one.review_digests.tick()
    two.review_digests.tick()

    [post] = slack.calls("chat.postMessage", "CML")
    assert "Autoscale vLLM" in slack_text([post]) and "lena-k" in slack_text([post])

    clock.set(datetime(2026, 11, 26, 15, 0, tzinfo=SHANGHAI))  # a bot that was down all morning
    slack.clear()
    one.review_digests.tick()
    assert slack.calls("chat.postMessage", "CML") == []  # no digest in the afternoon: tomorrow's comes at 09:00


def test_morning_reminders_are_opt_in(make, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services, app = make(clock)
    assert "on" in command(app, slack, "remind on", user=LENA).lower()

    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=SHANGHAI))
    slack.clear()
    services.review_digests.send_reminders()
    services.review_digests.send_reminders()
    assert len(dms(slack, LENA)) == 1

    command(app, slack, "remind off", user=LENA)
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))
    slack.clear()
    services.review_digests.send_reminders()
    assert dms(slack, LENA) == []


# Check ----------------------------------------------------------------------------------------------------------
def test_check_names_repositories_the_token_cannot_see(db_url: str, people: SlackRecorder,
                                                      github_api: GitHubFixture,
                                                      new_bot: Callable[..., tuple[Any, Any]]) -> None:
    seed(github_api)
    watched = config()
    watched["teams"][0]["repos"].append("acme/secret")
    services, _ = new_bot(db_url, people, watched, FrozenClock(START), github_token=TOKEN,
                          github_api_url=github_api.url)

    [row] = _review_repos(services, github_ok=True)

    assert row.status == WARN and "acme/secret" in row.detail and "acme/trainer" not in row.detail
    assert _review_repos(services, github_ok=False) == []
