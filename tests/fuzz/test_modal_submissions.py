"""Modal submissions under hostile input (issue #13): 10,000 generated view_submission payloads for every modal the
bot registers, then submissions end to end through the real Bolt app with every corpus item as the typed text.

Targets: `handlers.common.submission_from` and the modals' submit handlers: spend's Keep running tonight
(`keep_submitted`, view `spend_keep_why`) and Delete N snapshots (`delete_submitted`, `spend_snapshots_confirm`),
alerts' Noisy (`noisy_submitted`, `alerts_noisy_reason`); through Bolt `run_submission` behind `app.view`.

A payload is what Slack sends when the modal is submitted: the text typed in its input (any text: Slack enforces
max_length only in its own clients), the private_metadata the bot wrote when opening it (the channel, the message,
the value of the button that opened it), or that changed into any JSON or any text; sometimes no state at all.

Invariants: nothing raises and nothing is logged as an error; the answer keeps the invariants of
tests/fuzz/invariants.py in the submitter's language; the domain gets at most the characters each input allows
(200 for why an instance keeps running, 500 for why an alert is noisy), configured teams and no U+0000.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from handlers import alerts, spend
from handlers.common import Submission, submission_from
from tests.fuzz import harness
from tests.fuzz.corpus import NASTIES
from tests.fuzz.harness import READERS, FuzzBot, ParsingOnly, Reached, Sent, crashes, fuzz, reached_problems, tally
from tests.fuzz.invariants import Typed, foreign_phrases, problems, sent_problems
from tests.fuzz.strategies import BUTTON_VALUES, encoded, hostile_text, json_values, nasty, shaped_like
from tests.support.slack_text import slack_text

Submitted = Callable[[Any, Submission], Any]
# view id → (the input's block and action id, the button that opens it, what its submission runs)
MODALS: dict[str, tuple[str, str, Submitted]] = {
    "spend_keep_why": ("why", "spend_keep", spend.keep_submitted),
    "spend_snapshots_confirm": ("", "spend_snapshots_delete", spend.delete_submitted),
    alerts.NOISY_VIEW: ("reason", "alerts_noisy", alerts.noisy_submitted),
}
TYPED_ARGUMENT = {"shutdown.keep": (4, 200), "alerts.mark_noisy": (2, 500)}  # call → (position, most characters)


def view_payload(view_id: str, typed: str | None, metadata: str, user: str) -> dict[str, Any]:
    """view_submission as Slack sends it; `typed` None: a modal whose state Slack left out."""
    block = MODALS[view_id][0] or "input"
    view: dict[str, Any] = {"id": "VFUZZ", "type": "modal", "callback_id": view_id, "private_metadata": metadata}
    if typed is not None:
        view["state"] = {"values": {block: {block: {"type": "plain_text_input", "value": typed}}}}
    return {"type": "view_submission", "user": {"id": user}, "view": view, "trigger_id": "1.1.fuzz"}


def metadata_for(view_id: str) -> st.SearchStrategy[str]:
    own = BUTTON_VALUES[MODALS[view_id][1]]
    changed = shaped_like(own) if isinstance(own, dict) else st.integers() | hostile_text
    values = st.just(own) | changed | json_values(3)
    written = st.builds(lambda channel, value: json.dumps({"channel": channel, "ts": "1.000100", "value": value}),
                        st.sampled_from(["CTEAM", "CZH", "CNOTEAM", ""]), values)
    return written | encoded(json_values(3))


submissions = st.one_of([st.tuples(st.just(view_id), st.none() | hostile_text | nasty, metadata_for(view_id))
                         for view_id in sorted(MODALS)])


def reached_more(reached: Reached) -> list[str]:
    """The text typed into the modal, as the domain got it: at most what the input allows, no U+0000."""
    if reached.call not in TYPED_ARGUMENT:
        return []
    position, most = TYPED_ARGUMENT[reached.call]
    typed = reached.args[position]
    found = [f"{reached.call} got {len(typed)} typed characters"] if len(typed) > most else []
    return found + ([f"{reached.call} got U+0000 in {typed[:60]!r}"] if "\x00" in typed else [])


@fuzz()
@given(submission=submissions, user=st.sampled_from(sorted(READERS)))
@example(submission=(alerts.NOISY_VIEW, "x" * 40_000, '{"channel": "CTEAM", "value": 1}'), user="UFUZZEN")
@example(submission=(alerts.NOISY_VIEW, "a\x00b", '{"channel": "CTEAM", "value": 1}'), user="UFUZZEN")
@example(submission=(alerts.NOISY_VIEW, "", "{not json"), user="UFUZZEN")
def test_every_modal_takes_any_submission(bot: FuzzBot, submission: tuple[str, str | None, str], user: str) -> None:
    tally("modal submissions (parse-only)")
    view_id, typed, metadata = submission
    found: list[str] = []
    with crashes() as errors:
        sub = submission_from(bot.services, view_payload(view_id, typed, metadata, user))
        try:
            answer = MODALS[view_id][2](ParsingOnly(bot.services), sub)
        except Reached as reached:
            answer = None
            found += reached_problems(reached, bot.services.config) + reached_more(reached)
    sent = Sent()
    if answer:
        sent.reply(answer)
    said = Typed(typed or "", metadata)
    found += errors + [p for body in sent for p in problems(body, READERS[user], said)]
    assert found == [], "\n".join(found)


# End to end through Bolt --------------------------------------------------------------------------------------
def submit(bot: FuzzBot, view_id: str, typed: str | None, metadata: str, user: str) -> list[str]:
    bot.supplied(typed or "")
    bot.supplied(metadata)
    with crashes() as errors:
        response = bot.interact(view_payload(view_id, typed, metadata, user))
    found = [] if response.status == 200 else [f"HTTP {response.status}: {response.body[:200]}"]
    return errors + found + sent_problems(bot.slack.calls(), user, READERS[user], bot.typed)


@pytest.fixture(scope="module")
def alert_group(bot: FuzzBot) -> int:
    """One alert group in CTEAM, so the Noisy modal's submissions are recorded for real."""
    from tests.support.alert_payloads import alert, notification

    bot.services.alerts.receive(notification([alert("FuzzNoise", team="ml-platform")]))
    bot.services.alerts.deliver()
    return 1


@pytest.mark.parametrize("item", sorted(NASTIES))
def test_every_corpus_item_typed_into_every_modal(bot: FuzzBot, alert_group: int, item: str) -> None:
    user = sorted(READERS)[sorted(NASTIES).index(item) % 2]
    found = []
    for view_id, (_, opener, _) in MODALS.items():
        own = BUTTON_VALUES[opener]
        metadata = json.dumps({"channel": "CTEAM", "ts": "1.000100", "value": alert_group if opener == "alerts_noisy"
                               else own})
        found += [f"{view_id}: {p}" for p in submit(bot, view_id, NASTIES[item], metadata, user)]
        found += [f"{view_id} (metadata): {p}" for p in submit(bot, view_id, "ok", NASTIES[item], user)]
    assert found == [], "\n".join(found)


@fuzz(share=0.01)
@given(submission=submissions, user=st.sampled_from(sorted(READERS)))
def test_generated_submissions_through_the_bolt_app(bot: FuzzBot, alert_group: int,
                                                    submission: tuple[str, str | None, str], user: str) -> None:
    tally("modal submissions end to end")
    found = submit(bot, *submission, user)
    assert found == [], "\n".join(found)


def test_a_noisy_reason_for_an_alert_group_that_is_gone_is_answered_in_the_submitters_language(bot: FuzzBot) -> None:
    metadata = json.dumps({"channel": "CTEAM", "ts": "1.000100", "value": 999})
    bot.interact(view_payload(alerts.NOISY_VIEW, "fires every night", metadata, harness.ZH_USER))
    said = slack_text(bot.slack.calls("chat.postEphemeral"))
    assert said and foreign_phrases(said, "zh-CN", Typed()) == []
