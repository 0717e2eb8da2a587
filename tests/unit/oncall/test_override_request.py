"""/oncall override: the words read into a request before any config or permission check."""

from __future__ import annotations

import pytest

from bot.oncall.service import OverrideRefused, OverrideRequest, override_request


def test_an_override_request_names_user_times_and_optionally_team_and_tier() -> None:
    assert override_request(["<@UCOVER|cover>", "now", "+8h"]) == OverrideRequest("UCOVER", "now", "+8h", None, None)
    assert override_request(["<@UCOVER>", "now", "+8h", "ml", "2nd", "line"]) == OverrideRequest(
        "UCOVER", "now", "+8h", "ml", "2nd line")


@pytest.mark.parametrize("args", [[], ["<@UCOVER>", "now"], ["alice", "now", "+8h"], ["<@ucover>", "now", "+8h"]])
def test_an_override_without_a_mention_and_two_times_is_refused(args: list[str]) -> None:
    with pytest.raises(OverrideRefused) as refused:
        override_request(args)

    assert refused.value.key == "oncall.override_bad_user"
