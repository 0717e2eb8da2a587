"""The helpers every test leans on: waiting, reading what Slack shows, building the config, racing threads."""

from __future__ import annotations

import itertools
import json
import threading
import time

import pytest
import yaml

from tests.support.config import SECOND_LINE, TEAM, THIRD_LINE, bot_config, layer, rotation, team
from tests.support.slack_recorder import Call
from tests.support.slack_text import slack_text
from tests.support.threads import all_at_once
from tests.support.waiting import WaitTimeout, at_least, wait_until

# --- wait_until ------------------------------------------------------------------------------------


def test_wait_until_returns_the_first_truthy_value_the_predicate_gives() -> None:
    answers = iter([None, [], ["page"], ["later"]])

    assert wait_until(lambda: next(answers), timeout=2, interval=0.001) == ["page"]


def test_wait_until_fails_naming_what_it_waited_for_and_what_it_saw_last() -> None:
    started = time.monotonic()

    with pytest.raises(WaitTimeout, match=r"waited 0.2s for the page to UDRI1; last saw \[\]"):
        wait_until(lambda: [], timeout=0.2, interval=0.01, message="the page to UDRI1")

    assert 0.2 <= time.monotonic() - started < 1


def test_a_callable_message_is_asked_when_time_runs_out() -> None:
    tries = itertools.count(1)

    with pytest.raises(WaitTimeout, match=r"3 calls; saw \d+ tries"):
        wait_until(lambda: next(tries) > 1000, timeout=0.05, interval=0.01,
                   message=lambda: f"3 calls; saw {next(tries)} tries")


def test_a_predicate_that_raises_stops_the_wait_at_once() -> None:
    def dead() -> bool:
        raise RuntimeError("bot exited with 1")

    started = time.monotonic()
    with pytest.raises(RuntimeError, match="bot exited"):
        wait_until(dead, timeout=5)
    assert time.monotonic() - started < 1


def test_at_least_is_falsy_until_there_are_enough() -> None:
    assert at_least(2, ["a"]) == []
    assert at_least(2, ["a", "b"]) == ["a", "b"]


# --- slack_text ------------------------------------------------------------------------------------


def test_slack_text_reads_a_recorded_post_as_the_bot_wrote_it() -> None:
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": "Incident #1"}},
              {"type": "section", "text": {"type": "mrkdwn", "text": "Paged <@UDRI1> *now*"},
               "fields": [{"type": "mrkdwn", "text": "sev1"}]},
              {"type": "context", "elements": [{"type": "mrkdwn", "text": "from 🔥💥"}]},
              {"type": "actions", "elements": [{"type": "button", "action_id": "incident_ack", "value": "1",
                                                "text": {"type": "plain_text", "text": "Ack"}}]},
              {"type": "image", "image_url": "https://x.example/c.png", "alt_text": "chart"}]
    call = Call("chat.postMessage", {"channel": "DUDRI1", "text": "Incident #1 opened", "blocks": json.dumps(blocks)},
                {})

    assert slack_text(call).splitlines() == ["Incident #1 opened", "Incident #1", "Paged <@UDRI1> *now*", "sev1",
                                             "from 🔥💥", "Ack", "chart"]


def test_slack_text_joins_many_sources_and_ignores_what_nobody_reads() -> None:
    replies = [{"response_type": "ephemeral", "text": "first", "replace_original": "true"},
               [{"type": "section", "text": {"type": "mrkdwn", "text": "[1] second"}, "block_id": "b"}]]

    assert slack_text(*replies) == "first\n[1] second"
    assert slack_text({"channel": "C1", "ts": "1.1"}, []) == ""


# --- bot_config --------------------------------------------------------------------------------------


def test_the_standard_config_is_one_team_paging_three_lines() -> None:
    config = yaml.safe_load(yaml.safe_dump(bot_config(incidents={"storm_window": "0s"}, admins=["UADMIN"])))

    assert config["teams"] == [{"name": TEAM, "channel": "CTEAM", "timezone": "Asia/Shanghai", "language": "en"}]
    tiers = config["oncall"][TEAM]["tiers"]
    assert [(tier["name"], [layer["members"] for layer in tier["layers"]]) for tier in tiers] == [
        ("1st line", [["UDRI1"]]), ("2nd line", [["USENIOR2"]]), ("3rd line", [["ULEAD3"]])]
    assert tiers[0]["layers"][0] == {"members": ["UDRI1"], "rotate_every": "1w", "handoff": "09:00",
                                     "start": "2026-01-05", "timezone": "Asia/Shanghai"}
    assert (config["incidents"], config["admins"]) == ({"storm_window": "0s"}, ["UADMIN"])


def test_each_config_is_a_fresh_copy() -> None:
    first = bot_config()
    first["teams"][0]["name"] = "changed"
    first["oncall"][TEAM]["tiers"][0]["layers"][0]["members"].append("UOTHER")

    assert bot_config() == {"teams": [team()], "oncall": {TEAM: rotation()}, "incidents": {},
                            "schedules": {"digest": "off", "weekly_digest": "off"}}
    assert rotation()["tiers"][0]["layers"][0]["members"] == ["UDRI1"]
    assert "admins" not in bot_config()


def test_layers_and_teams_take_the_keys_a_test_needs() -> None:
    night = layer("UDRI1", active={"from": "22:00", "to": "23:00"})
    config = bot_config(teams=[team(user_group="@ml-oncall")],
                        oncall={TEAM: rotation([night, SECOND_LINE], THIRD_LINE)})

    first_line, second_line = config["oncall"][TEAM]["tiers"]
    assert [layer["members"] for layer in first_line["layers"]] == [["UDRI1"], ["USENIOR2"]]
    assert first_line["layers"][0]["active"] == {"from": "22:00", "to": "23:00"}
    assert second_line["layers"] == [THIRD_LINE] and config["teams"][0]["user_group"] == "@ml-oncall"


# --- all_at_once -------------------------------------------------------------------------------------


def test_all_at_once_returns_the_result_of_every_thread() -> None:
    names = all_at_once(lambda: threading.current_thread().name, threads=5)

    assert len(names) == 5 and len(set(names)) == 5


def test_a_thread_that_raises_fails_the_race() -> None:
    counter = itertools.count()

    def call() -> int:
        if next(counter) == 2:
            raise ValueError("lost the race badly")
        return 1

    with pytest.raises(ValueError, match="lost the race badly"):
        all_at_once(call, threads=4)
