"""bot.clients.slack_users.is_user_id: which rotation members and actors are Slack ids already."""

from __future__ import annotations

import pytest

from bot.clients.slack_users import is_user_id


@pytest.mark.parametrize("text", ["U012AB3CD", "W0ENTERPRISE1", "U"])
def test_ids_are_u_or_w_then_upper_case_letters_and_digits(text: str) -> None:
    assert is_user_id(text)


@pytest.mark.parametrize("text", ["", "alice@example.com", "@alice", "u012ab3cd", "U_ALICE", "C012AB3CD", "<@U012>"])
def test_emails_names_channels_and_mentions_are_not(text: str) -> None:
    assert not is_user_id(text)
