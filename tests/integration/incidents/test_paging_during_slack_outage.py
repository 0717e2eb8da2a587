"""A short Slack outage at the moment an incident opens must not leave it unpaged (issue #6, item 1).

In-process with an injected clock: the escalation job is ticked once a simulated second, as the
leader's scheduler would, while the Slack recorder answers like Slack does when it is down.
"""

from __future__ import annotations

from datetime import timedelta

from bot.clock import FrozenClock
from bot.incidents import store
from bot.incidents.desk import OpenRequest
from bot.services import Services
from tests.support.config import bot_config
from tests.support.fixture_http import FixtureServer, Response
from tests.support.inprocess import START, make_services
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text
from tests.support.waiting import wait_until

SLACK_DOWN = ("conversations.open", "chat.postMessage")


def dm_targets(slack: SlackRecorder) -> list[str]:
    return [c.params["channel"] for c in slack.calls("chat.postMessage")
            if str(c.params.get("channel")).startswith("D") and c.response.get("ok")]


def open_attempts(slack: SlackRecorder) -> list[str]:
    return [str(c.params.get("users")) for c in slack.calls("conversations.open")]


def slack_down(slack: SlackRecorder, error: str | None = "service_unavailable") -> None:
    for method in SLACK_DOWN:
        slack.fail_method(method, error)


def tick(services: Services, clock: FrozenClock, seconds: int) -> None:
    """What the leader does: run due escalation work once a second."""
    for _ in range(seconds):
        clock.advance(timedelta(seconds=1))
        services.escalation.work_due()


def open_sev1(services: Services) -> int:
    incident, _ = services.incidents.open(OpenRequest(reporter="UREPORTER", source="reaction", channel="CTEAM",
                                                      message_ts="1700000000.000100", severity="sev1",
                                                      emoji="🔥💥"))
    return incident.id


def test_slack_down_20s_at_open_pages_first_line_once_within_seconds_of_return(db_url: str,
                                                                                slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"page_retry_max": "5s"}), clock)
    slack_down(slack)
    incident_id = open_sev1(services)
    tick(services, clock, 20)
    assert dm_targets(slack) == []
    assert set(open_attempts(slack)) == {"UDRI1"}  # the 2nd and 3rd lines were not burnt through
    step = services.escalation.first_page(incident_id)
    assert step is not None and step.status == "scheduled" and step.attempts >= 3
    assert "page_retrying" in [e.kind for e in store.load(services.sessions, incident_id).timeline]

    slack_down(slack, None)
    back = clock.now()
    for _ in range(6):  # page_retry_max is 5 s: the next attempt comes within it
        tick(services, clock, 1)
        if dm_targets(slack):
            break
    assert dm_targets(slack) == ["DUDRI1"]
    assert clock.now() - back <= timedelta(seconds=6)
    tick(services, clock, 30)
    assert dm_targets(slack) == ["DUDRI1"]  # exactly once

    confirmation = [c for c in slack.calls("chat.postMessage") if c.params.get("channel") == "CTEAM"
                    and c.response.get("ok") and "Incident #1 opened" in slack_text(c)]
    assert len(confirmation) == 1 and "Paged <@UDRI1>" in slack_text(confirmation[0])
    second_tier = services.escalation.next_page(incident_id)
    delivered = services.escalation.first_page(incident_id)
    assert second_tier is not None and delivered is not None and delivered.sent_at is not None
    assert second_tier.due_at == delivered.sent_at + timedelta(minutes=5)  # a whole ack window from delivery
    tick(services, clock, 4 * 60)
    assert dm_targets(slack) == ["DUDRI1"]
    tick(services, clock, 90)
    assert dm_targets(slack) == ["DUDRI1", "DUSENIOR2"]


def test_html_503_from_slack_is_retried_not_a_failed_page(db_url: str, slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"page_retry_max": "2s"}), clock)
    slack.outage(("conversations.open",), seconds=2)
    incident_id = open_sev1(services)
    assert dm_targets(slack) == []
    wait_until(lambda: not slack.in_outage("conversations.open"), timeout=3, message="the 2 s outage to end")
    tick(services, clock, 4)
    assert dm_targets(slack) == ["DUDRI1"]
    page = slack_text(slack.calls("chat.postMessage", channel="DUDRI1"))
    assert "You are on call (1st line) for *incident #1*" in page
    kinds = [e.kind for e in store.load(services.sessions, incident_id).timeline]
    assert "page_failed" not in kinds and kinds.count("paged") == 1


def test_confirmation_says_the_page_is_retrying_and_is_updated_when_it_lands(db_url: str,
                                                                            slack: SlackRecorder) -> None:
    clock = FrozenClock(START)
    services = make_services(db_url, slack, bot_config(incidents={"page_retry_max": "2s"}), clock)
    slack.fail_method("conversations.open", "service_unavailable")
    open_sev1(services)
    confirmation = next(c for c in slack.calls("chat.postMessage") if c.params.get("channel") == "CTEAM"
                        and "Incident #1 opened" in slack_text(c))
    said = slack_text(confirmation)
    assert "Page to <@UDRI1> (1st line) failed" in said and "Retrying" in said
    assert "acknowledge within" not in said  # it no longer promises a page that did not happen
    slack.fail_method("conversations.open", None)
    tick(services, clock, 4)
    updates = [slack_text(c) for c in slack.calls("chat.update")
               if c.params.get("ts") == confirmation.response["ts"]]
    assert updates and "Paged <@UDRI1> (1st line); acknowledge within 5m" in updates[-1]


def test_permanent_page_failure_still_moves_to_the_next_tier_at_once(db_url: str, slack: SlackRecorder) -> None:
    services = make_services(db_url, slack, bot_config())
    def dri_unknown(call):  # type: ignore[no-untyped-def]
        if call.params.get("users") == "UDRI1":
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": f"D{call.params['users']}"}}

    slack.respond("conversations.open", dri_unknown)
    open_sev1(services)
    assert dm_targets(slack) == ["DUSENIOR2"]
    assert "Could not page <@UDRI1> (1st line) for incident #1: user_not_found" in slack_text(
        slack.calls("chat.postMessage", channel="CTEAM"))
    page = slack_text(slack.calls("chat.postMessage", channel="DUSENIOR2"))
    assert "You are on call (2nd line) for *incident #1*" in page


def test_pagerduty_is_triggered_while_slack_is_down(tmp_path, slack: SlackRecorder) -> None:  # type: ignore[no-untyped-def]
    with FixtureServer() as pagerduty:
        pagerduty.add("POST", r"/v2/enqueue", lambda request: Response(202, {"status": "success"}))
        services = make_services(f"sqlite:///{tmp_path / 'pd.db'}", slack, bot_config(),
                                 pagerduty_routing_key="R0UTINGKEY", pagerduty_api_url=pagerduty.url)
        slack_down(slack)
        open_sev1(services)
        [trigger] = pagerduty.wait_for("POST", timeout=5)
    assert trigger.json()["event_action"] == "trigger"
    assert dm_targets(slack) == []
