"""/spend N: how many days a report covers, or the typed text refused."""

from __future__ import annotations

import pytest

from bot.spend.model import ReportDaysError, report_days


@pytest.mark.parametrize(("arg", "days"), [(None, 7), ("1", 1), ("30d", 30), ("90", 90)])
def test_spend_days_default_to_a_week_and_run_to_ninety(arg: str | None, days: int) -> None:
    assert report_days(arg) == days


@pytest.mark.parametrize("arg", ["0", "91d", "week", "-3", ""])
def test_other_spend_days_are_refused_with_the_typed_text(arg: str) -> None:
    with pytest.raises(ReportDaysError) as refused:
        report_days(arg)

    assert refused.value.text == arg
