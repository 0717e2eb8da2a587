"""Incident numbers have no gaps: a second open of the same message (a redelivery, a racing thread) gives its
number back, on PostgreSQL too, where an id sequence would have burnt it."""

from __future__ import annotations

from bot.incidents.desk import OpenRequest
from tests.support.config import bot_config
from tests.support.inprocess import make_services
from tests.support.slack_recorder import SlackRecorder


def test_a_repeated_open_does_not_use_up_a_number(db_url: str, slack: SlackRecorder) -> None:
    services = make_services(db_url, slack, bot_config(incidents={"storm_window": "0s"}))  # two incidents

    def open_for(ts: str) -> tuple[int, bool]:
        incident, created = services.incidents.open(OpenRequest(reporter="U1", source="reaction", channel="CTEAM",
                                                                message_ts=ts))
        return incident.number, created

    assert open_for("1700000001.000100") == (1, True)
    assert open_for("1700000001.000100") == (1, False)
    assert open_for("1700000002.000200") == (2, True)
    services.engine.dispose()
