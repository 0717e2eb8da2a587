"""Opening, paging and escalating incidents against a real database, with an injected clock."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FrozenClock
from bot.incidents import pages, store
from bot.incidents.desk import OpenRequest
from tests.support.config import SECOND_LINE, TEAM, THIRD_LINE, bot_config, layer, rotation
from tests.support.inprocess import START, make_services
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.threads import all_at_once
from tests.support.waiting import wait_until


def dm_targets(slack: SlackRecorder) -> list[str]:
    posts = slack.calls("chat.postMessage")
    return [c.params["channel"] for c in posts if str(c.params.get("channel")).startswith("D")]


def open_sev1(services, ts: str = "1700000000.000100") -> int:  # type: ignore[no-untyped-def]
    incident, _ = services.incidents.open(OpenRequest(reporter="UREPORTER", source="reaction", channel="CTEAM",
                                                      message_ts=ts, severity="sev1", emoji="🔥💥"))
    return incident.id


def test_unacknowledged_page_escalates_through_three_tiers_then_posts_loudly(db_url: str,
                                                                             slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"repeat_last_tier": 0}), clock)
    slack.set_message("CTEAM", "1700000000.000100", text="payments down", user="UAUTHOR")
    open_sev1(services)
    assert dm_targets(slack) == ["DUDRI1"]
    clock.advance(timedelta(minutes=4, seconds=59))
    services.escalation.work_due()
    assert dm_targets(slack) == ["DUDRI1"]  # not yet: sev1 SLA is 5 minutes
    clock.advance(timedelta(seconds=1))
    services.escalation.work_due()
    assert dm_targets(slack) == ["DUDRI1", "DUSENIOR2"]
    clock.advance(timedelta(minutes=5))
    services.escalation.work_due()
    services.escalation.work_due()  # a second tick in the same instant sends nothing more
    assert dm_targets(slack) == ["DUDRI1", "DUSENIOR2", "DULEAD3"]
    clock.advance(timedelta(minutes=5))
    services.escalation.work_due()
    loud = [c for c in slack.calls("chat.postMessage") if "<!here>" in slack_text(c)]
    assert len(loud) == 1 and loud[0].params["channel"] == "CTEAM"
    clock.advance(timedelta(minutes=30))
    services.escalation.work_due()
    assert len(dm_targets(slack)) == 3


def test_acknowledging_stops_escalation_and_records_time_to_ack(db_url: str, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(), clock)
    incident_id = open_sev1(services)
    clock.advance(timedelta(minutes=2))
    acked = services.incidents.acknowledge(incident_id, "UDRI1", "button")
    assert acked.status == "acknowledged" and acked.acknowledged_at == START + timedelta(minutes=2)
    assert acked.commander == "UDRI1"
    clock.advance(timedelta(hours=1))
    services.escalation.work_due()
    assert dm_targets(slack) == ["DUDRI1"]
    assert "acknowledged" in slack_text(slack.calls("chat.update"))


def test_page_that_can_never_be_delivered_is_reported_and_escalation_continues(db_url: str,
                                                                               slack: SlackRecorder) -> None:
    services = make_services(db_url, slack, bot_config())
    slack.fail_method("conversations.open", error="user_not_found")  # permanent: retrying can't help
    open_sev1(services)
    failures = [c for c in slack.calls("conversations.open") if c.response.get("ok") is False]
    assert len(failures) == 3  # one try per tier (a permanent error is not retried), then the next round waits
    reports = [c for c in slack.calls("chat.postMessage") if "Could not page" in slack_text(c)]
    assert [r.params["channel"] for r in reports][:1] == ["CTEAM"]
    incident = store.load(services.sessions, 1)
    assert incident is not None
    assert [e.kind for e in incident.timeline].count("page_failed") == 3


def test_gap_in_first_tier_pages_second_tier_and_warns_the_team(db_url: str, slack: SlackRecorder) -> None:
    nobody_at_ten = layer("UDRI1", active={"from": "22:00", "to": "23:00"})  # it is 10:00 in Shanghai
    config = bot_config(oncall={TEAM: rotation(nobody_at_ten, SECOND_LINE, THIRD_LINE)})
    services = make_services(db_url, slack, config)
    open_sev1(services)
    assert dm_targets(slack) == ["DUSENIOR2"]
    warning = [c for c in slack.calls("chat.postMessage") if "Nobody is on call for 1st line" in slack_text(c)]
    assert warning and warning[0].params["channel"] == "CTEAM"


def test_one_message_gets_one_incident_even_when_many_threads_race(db_url: str, slack: SlackRecorder) -> None:
    services = make_services(db_url, slack, bot_config())

    def open_it() -> bool:
        _, created = services.incidents.open(OpenRequest(reporter="U1", source="reaction", channel="CTEAM",
                                                         message_ts="1700000009.000900"))
        return created

    assert all_at_once(open_it, threads=8).count(True) == 1
    assert len(slack.calls("conversations.create")) == 1
    assert dm_targets(slack) == ["DUDRI1"]
    opened = [c for c in slack.calls("chat.postMessage", channel="CTEAM") if "Incident #1 opened" in slack_text(c)]
    assert len(opened) == 1


def test_chain_is_snapshotted_so_config_edits_do_not_change_a_running_incident(db_url: str,
                                                                              slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(), clock)
    open_sev1(services)
    services.config.oncall["ml-platform"].tiers[1].layers[0].members[0] = "UCHANGED"
    clock.advance(timedelta(minutes=5))
    services.escalation.work_due()
    assert dm_targets(slack) == ["DUDRI1", "DUSENIOR2"]


def test_undo_within_two_minutes_cancels_and_later_refuses(db_url: str, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"storm_window": "0s"}), clock)
    first = open_sev1(services, "1700000000.000001")
    second = open_sev1(services, "1700000000.000002")
    clock.advance(timedelta(minutes=1, seconds=59))
    assert services.incidents.cancel(first, "UREPORTER").status == "cancelled"
    assert "Incident #1 was cancelled (opened by accident)" in slack_text(slack.calls("chat.update", channel="DUDRI1"))
    assert "<@UREPORTER> cancelled incident #1 (opened by accident). Paging stopped." in slack_text(
        slack.calls("chat.postMessage"))
    clock.advance(timedelta(seconds=2))
    try:
        services.incidents.cancel(second, "UREPORTER")
        raise AssertionError("undo after 2 minutes must be refused")
    except Exception as exc:
        assert "too late" in str(exc)
    clock.advance(timedelta(minutes=5))
    services.escalation.work_due()
    assert dm_targets(slack).count("DUSENIOR2") == 1  # only the incident that was not undone escalated


def test_a_page_nobody_works_shows_how_late_it_is_in_the_overdue_gauge(db_url: str, slack: SlackRecorder) -> None:
    """What `bot_escalation_overdue_seconds` reads at scrape: no leader working the pages means they fall behind."""
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(), clock)
    open_sev1(services)
    assert pages.most_overdue(services.sessions, clock.now()) == 0  # the 2nd line is due in 5 minutes
    clock.advance(timedelta(minutes=5, seconds=40))  # ...and nobody sent it
    assert pages.most_overdue(services.sessions, clock.now()) == 40
    services.escalation.work_due()
    assert pages.most_overdue(services.sessions, clock.now()) == 0


def test_the_leaders_tick_sends_each_incidents_due_page_on_a_worker_once(db_url: str, slack: SlackRecorder) -> None:
    """dispatch_due (the scheduler's tick) returns at once and the pages go out on the page workers; a second tick
    while they are on their way sends nothing twice."""
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"storm_window": "0s"}), clock)
    for ts in ("1700000000.000100", "1700000000.000200"):
        slack.set_message("CTEAM", ts, text=f"outage {ts}", user="UAUTHOR")
        open_sev1(services, ts)
    clock.advance(timedelta(minutes=5))
    claimed = services.escalation.dispatch_due() + services.escalation.dispatch_due()
    wait_until(lambda: dm_targets(slack).count("DUSENIOR2") == 2, message="both incidents' 2nd-line pages")
    assert claimed == 2
    assert services.escalation.dispatch_due() == 0
    assert dm_targets(slack).count("DUSENIOR2") == 2
