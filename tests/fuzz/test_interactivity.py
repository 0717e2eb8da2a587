"""Button presses and menu choices under hostile payloads (issue #13): 10,000 generated block_actions for every
button of the handlers' BUTTONS tables, then clicks end to end through the real Bolt app on every button and
modal-opening button, with every corpus item as the value.

Targets: `handlers.common.run_button` and `click_from` for incidents (Undo, Ack, Mitigated, Resolve, Escalate, the
severity menu, the storm question's Join / Open a new one), alerts (Silence, Open incident), gpu (Notify owner,
Snooze), review (Reviewing now, Can't this week, Snooze 1 day) and spend (Postpone, Stop now); through Bolt also
the buttons that open modals: spend's Keep running tonight and Delete N snapshots, alerts' Noisy.

A payload is what Slack sends for a message's button, with its value the bot's own (an incident number, JSON for
a storm question, a pod, a nudge, a night), changed: any key dropped or given a value of any type, a number out of
range, any text; or the payload without channel, container or message (a button in a DM, an App Home, a modal).

Invariants: nothing raises, nothing is logged as an error (a value the bot can't read is an answer saying so, not
an error id), every answer keeps the invariants of tests/fuzz/invariants.py in the clicker's language; the domain
only gets incident numbers the database holds, and configured teams.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handlers import alerts, gpu, incidents, review, spend
from handlers.common import Button, run_button
from tests.fuzz.corpus import NASTIES
from tests.fuzz.harness import (
    MAX_INCIDENT,
    READERS,
    ZH_USER,
    FuzzBot,
    ParsingOnly,
    Reached,
    Sent,
    click_payload,
    crashes,
    fuzz,
    reached_problems,
    tally,
    without_working_notice,
)
from tests.fuzz.invariants import Typed, foreign_phrases, problems, sent_problems
from tests.fuzz.strategies import BUTTON_VALUES, encoded, json_values, shaped_like, token
from tests.support.slack_text import slack_text

BUTTONS: dict[str, Button] = {**incidents.BUTTONS, **alerts.BUTTONS, **gpu.BUTTONS, **review.BUTTONS,
                              **spend.BUTTONS}
MODAL_BUTTONS = ("spend_keep", "spend_snapshots_delete", "alerts_noisy")
numbers = st.sampled_from(["0", "-1", str(MAX_INCIDENT + 1), "9" * 40, "1e3", "1.5", "١", "1:", ":sev1", "1:sev9",
                           "1:" + "x" * 3000, "NaN", "null", "true", "[]", "{}"])


def value_for(action_id: str) -> st.SearchStrategy[str]:
    """The button's own value, or a changed one."""
    own = BUTTON_VALUES[action_id]
    changed = encoded(shaped_like(own)) if isinstance(own, dict) else numbers | token
    return st.one_of(st.just(own if isinstance(own, str) else json.dumps(own)), changed, encoded(json_values(4)))


# One strategy per button, built once: building strategies as cases are drawn (flatmap) costs more than the cases.
clicks = st.one_of([st.tuples(st.just(action_id), value_for(action_id)) for action_id in sorted(BUTTONS)])
modal_clicks = st.one_of([st.tuples(st.just(action_id), value_for(action_id)) for action_id in MODAL_BUTTONS])
places = st.sampled_from(["CTEAM", "CZH", "CNOTEAM", None])  # None: a DM, an App Home or a modal: no channel


def click_problems(bot: FuzzBot, action_id: str, value: str, user: str, channel: str | None,
                   menu: bool = False) -> list[str]:
    """The click on the parse-only services; every problem with the answer or the domain call it led to."""
    payload = click_payload(action_id, value, user, channel)
    if menu:  # a select menu sends the option chosen, not a value
        payload["actions"][0] = {"action_id": action_id, "type": "static_select",
                                 "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value}}
    sent, found = Sent(), []
    with crashes() as errors, without_working_notice():
        try:
            run_button(ParsingOnly(bot.services), BUTTONS, payload, sent.reply)  # type: ignore[arg-type]
        except Reached as reached:
            found += reached_problems(reached, bot.services.config)
            found += [f"{reached.call}({number}): no such incident can exist" for number in reached.args[:1]
                      if reached.call.startswith("incidents.") and isinstance(number, int)
                      and not 1 <= number <= MAX_INCIDENT]
    typed = Typed(value)
    found += errors + [p for body in sent for p in problems(body, READERS[user], typed)]
    return [f"{action_id} {value[:80]!r} by {user} in {channel}: {problem}" for problem in found]


@fuzz()
@given(click=clicks, user=st.sampled_from(sorted(READERS)), channel=places)
@example(click=("incident_ack", "zzz"), user="UFUZZEN", channel="CTEAM")
@example(click=("alerts_silence", "1e3"), user="UFUZZEN", channel="CTEAM")
@example(click=("incident_resolve", "9" * 40), user="UFUZZEN", channel="CTEAM")
@example(click=("incident_join", '{"incident": "x"}'), user="UFUZZEN", channel="CTEAM")
def test_every_button_takes_any_value(bot: FuzzBot, click: tuple[str, str], user: str, channel: str | None) -> None:
    tally("buttons (parse-only)")
    action_id, value = click
    problems_ = click_problems(bot, action_id, value, user, channel, menu=action_id == "incident_severity")
    assert problems_ == [], "\n".join(problems_)


# End to end through Bolt --------------------------------------------------------------------------------------
def bolt_problems(bot: FuzzBot, payload: dict[str, Any], user: str) -> list[str]:
    bot.supplied(json.dumps(payload, ensure_ascii=False))
    for action in payload.get("actions") or []:
        bot.supplied(str(action.get("value", "")))
    with crashes() as errors:
        response = bot.interact(payload)
    found = [] if response.status in (200, 404) else [f"HTTP {response.status}: {response.body[:200]}"]
    return errors + found + sent_problems(bot.slack.calls(), user, READERS[user], bot.typed)


@pytest.mark.parametrize("item", sorted(NASTIES))
def test_every_corpus_item_as_the_value_of_every_button(bot: FuzzBot, item: str) -> None:
    index = sorted(NASTIES).index(item)
    user = sorted(READERS)[index % 2]
    found = []
    for action_id in [*sorted(BUTTONS), *MODAL_BUTTONS]:
        payload = click_payload(action_id, NASTIES[item], user, "CTEAM" if index % 3 else None)
        found += [f"{action_id}: {p}" for p in bolt_problems(bot, payload, user)]
    assert found == [], "\n".join(found)


@fuzz(share=0.01)
@given(click=clicks | modal_clicks,
       user=st.sampled_from(sorted(READERS)), channel=places,
       drop=st.sets(st.sampled_from(["channel", "container", "message"])))  # an ephemeral message has no "message"
def test_generated_clicks_through_the_bolt_app(bot: FuzzBot, click: tuple[str, str], user: str, channel: str | None,
                                               drop: set[str]) -> None:
    tally("buttons end to end")
    payload = click_payload(click[0], click[1], user, channel)
    for key in drop:
        payload.pop(key, None)
    found = bolt_problems(bot, payload, user)
    assert found == [], "\n".join(found)


def test_a_short_value_list_covers_every_button_and_modal_opener() -> None:
    assert set(BUTTON_VALUES) == set(BUTTONS) | set(MODAL_BUTTONS)


# A group the bot no longer knows ----------------------------------------------------------------------------------
@pytest.mark.parametrize("action_id", ["alerts_silence", "alerts_incident"])
def test_a_button_of_an_alert_group_that_is_gone_answers_in_the_clickers_language(bot: FuzzBot, action_id: str) -> None:
    bot.interact(click_payload(action_id, "999", ZH_USER, "CTEAM"))
    said = slack_text(bot.slack.calls("response_url"))
    assert said and foreign_phrases(said, "zh-CN", Typed()) == []
