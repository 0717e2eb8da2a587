"""What the domains make of typed arguments: /spend's day count and /oncall override's words."""

from __future__ import annotations

import pytest

from bot.oncall.service import OverrideRefused, OverrideRequest, override_request
from bot.spend.model import ReportDaysError, report_days


@pytest.mark.parametrize(("arg", "days"), [(None, 7), ("1", 1), ("30d", 30), ("90", 90)])
def test_spend_days_default_to_a_week_and_run_to_ninety(arg: str | None, days: int) -> None:
    assert report_days(arg) == days


@pytest.mark.parametrize("arg", ["0", "91d", "week", "-3", ""])
def test_other_spend_days_are_refused_with_the_typed_text(arg: str) -> None:
    with pytest.raises(ReportDaysError) as refused:
        report_days(arg)

    assert refused.value.text == arg


def test_an_override_request_names_user_times_and_optionally_team_and_tier() -> None:
    assert override_request(["<@UCOVER|cover>", "now", "+8h"]) == OverrideRequest("UCOVER", "now", "+8h", None, None)
    assert override_request(["<@UCOVER>", "now", "+8h", "ml", "2nd", "line"]) == OverrideRequest(
        "UCOVER", "now", "+8h", "ml", "2nd line")


@pytest.mark.parametrize("args", [[], ["<@UCOVER>", "now"], ["alice", "now", "+8h"], ["<@ucover>", "now", "+8h"]])
def test_an_override_without_a_mention_and_two_times_is_refused(args: list[str]) -> None:
    with pytest.raises(OverrideRefused) as refused:
        override_request(args)

    assert refused.value.key == "oncall.override_bad_user"
