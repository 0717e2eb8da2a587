"""The checks every fuzz target relies on find what they look for: Slack's limits (tests/support/block_kit_limits.py)
and the reply invariants (tests/fuzz/invariants.py). Without these, a target could pass because its checks see
nothing."""

from __future__ import annotations

from typing import Any

import pytest

from bot.i18n import t
from bot.render.blocks import button, context, header, section, usage_blocks
from tests.fuzz.invariants import Typed, crash_traces, error_ids, foreign_phrases, problems
from tests.support.block_kit_limits import violations


def modal(**fields: Any) -> dict[str, Any]:
    view = {"type": "modal", "callback_id": "v", "title": {"type": "plain_text", "text": "Why?"},
            "submit": {"type": "plain_text", "text": "Save"}, "blocks": [section("ok")]}
    return {**view, **fields}


@pytest.mark.parametrize(("payload", "found"), [
    ({"blocks": [section("x")] * 51}, "51 > 50"),
    ({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}]}, "151 characters > 150"),
    ({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}}]}, "3001 characters > 3000"),
    ({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": " "}}]}, "empty"),
    ({"blocks": [{"type": "actions", "elements": [button("b" * 76, "a", "v")]}]}, "76 characters > 75"),
    ({"blocks": [{"type": "actions", "elements": [button("b", "a", "v" * 2001)]}]}, "2001 characters > 2000"),
    ({"blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}]}, "11 > 10"),
    ({"blocks": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}]}, "11 > 10"),
    ({"blocks": [{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}]}, "where Slack takes plain_text"),
    ({"text": "t" * 40_001}, "40001 characters > 40000"),
    ({"blocks": [section("x")], "block_id": "b"}, None),
    (modal(title={"type": "plain_text", "text": "t" * 25}), "25 characters > 24"),
    (modal(blocks=[section("x")] * 101), "101 > 100"),
    (modal(private_metadata="m" * 3001), "3001 characters > 3000"),
    ({"trigger_id": "t", "view": modal(submit={"type": "plain_text", "text": "s" * 25})}, "view.submit.text"),
])
def test_slacks_limits_are_found(payload: dict[str, Any], found: str | None) -> None:
    said = violations(payload)
    if found is None:
        assert said == []
    else:
        assert any(found in problem for problem in said), said


def test_what_the_bot_renders_is_within_the_limits() -> None:
    blocks = [header("Incident #1"), *usage_blocks("zh-CN", "incident"), context("c")]
    assert violations({"blocks": blocks, "text": "x"}) == [] and violations(modal()) == []


def test_a_reply_in_the_other_language_is_found_but_not_what_the_person_typed() -> None:
    english, chinese = t("core.usage_incident", "en"), t("core.usage_incident", "zh-CN")
    assert foreign_phrases(english, "zh-CN", Typed()) and foreign_phrases(chinese, "en", Typed())
    assert foreign_phrases(chinese, "zh-CN", Typed()) == [] and foreign_phrases(english, "en", Typed()) == []
    assert foreign_phrases("please run the status now", "zh-CN", Typed("please run the status now")) == []


def test_crash_text_and_error_ids_are_found_unless_they_were_typed() -> None:
    trace = 'Traceback (most recent call last):\n  File "/app/bot/desk.py", line 9\nValueError: bad'
    assert len(crash_traces(trace, Typed())) >= 3
    assert crash_traces("ValueError: invalid literal", Typed("ValueError: invalid literal")) == []
    assert error_ids(t("core.error_with_id", "zh-CN", error_id="abc")) and error_ids("all fine") == []


def test_a_reply_with_a_broadcast_is_a_problem() -> None:
    assert problems({"text": "<!channel> hi", "blocks": [section("<!channel> hi")]}, "en", Typed())
    assert problems({"text": "hi", "blocks": [section("hi")]}, "en", Typed()) == []
