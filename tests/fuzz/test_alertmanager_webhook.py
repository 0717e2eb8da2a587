"""The Alertmanager webhook under hostile payloads (issue #13): 10,000 generated bodies through the parser, then
bodies over HTTP to the bot's web app (Flask's test client in front of the real services) with the alert messages,
replies and incidents they lead to delivered to the Slack recorder; every corpus item as a label and an
annotation; and on PostgreSQL, the characters it can't store.

Targets: `bot.alerts.parse.parse` (the v4 webhook model, values cut), `POST /alertmanager` in bot/web.py
(`AlertService.receive`: routing by team label or namespace, the alert groups, streaks and outbox rows) and
`AlertService.deliver` (the group's Slack message, its replies, incidents opened for `severity: critical`, with
the alert's labels becoming the incident's title and channel name).

Bodies are Alertmanager's own (tests/support/alert_payloads.py) with hostile labels and annotations, then any
field dropped or given a value of another type; and bodies that are no webhook at all.

Invariants: the parser returns a payload whose label values fit VALUE_LIMIT or raises BadPayload naming the field;
the endpoint answers 200 or a 4xx with a JSON error saying what is wrong, never 500, and logs no error; everything
delivered to Slack keeps the invariants of tests/fuzz/invariants.py.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.alerts.parse import MAX_LABELS, VALUE_LIMIT, BadPayload, WebhookPayload, parse
from bot.web import build_web
from tests.fuzz.corpus import NASTIES, SHORT
from tests.fuzz.harness import EN_USER, ZH_USER, FuzzBot, crashes, fuzz, tally
from tests.fuzz.invariants import Typed, foreign_phrases, sent_problems
from tests.fuzz.strategies import nasty, short_nasty
from tests.support.alert_payloads import alert, notification
from tests.support.inprocess import dispatch
from tests.support.signing import event_body
from tests.support.slack_text import slack_text

_LABEL_VALUES = st.sampled_from(["ml-platform", "数据平台", "data", "payments", "critical", "warning", "info", ""])
label_value = _LABEL_VALUES | short_nasty | nasty | st.text(max_size=30)
label_name = st.sampled_from(["team", "namespace", "severity", "pod", "instance", "job"]) | short_nasty
FIELDS: list[tuple[str | int, ...]] = [
    ("version",), ("status",), ("groupKey",), ("receiver",), ("groupLabels",), ("commonLabels",),
    ("commonAnnotations",), ("externalURL",), ("truncatedAlerts",), ("alerts",), ("alerts", 0),
    *(("alerts", 0, key) for key in ("status", "labels", "annotations", "startsAt", "endsAt", "fingerprint",
                                     "generatorURL")),
    ("alerts", 0, "labels", "alertname"), ("alerts", 0, "annotations", "summary")]
odd_value = short_nasty | st.sampled_from([None, 0, -1, 2**64, 1.5, True, [], {}, "", "4", "firing", "resolved",
                                           "x" * 10_000, [1, 2], {"a": 1}, {"a": None}, {"a": [1]},
                                           {f"k{n}": "v" for n in range(100)}, "2026-13-45T99:99:99Z",
                                           "0001-01-01T00:00:00Z", "not a date", [{}] * 3])
change = st.tuples(st.sampled_from(FIELDS), st.booleans(), odd_value)


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict):
        return node.get(key)
    return node[key] if isinstance(node, list) and isinstance(key, int) and key < len(node) else None


def webhook(values: list[str], names: list[str], count: int, changes: list[tuple[Any, bool, Any]]) -> dict[str, Any]:
    """Alertmanager's body for `count` alerts with these label values and names, then each change: a field
    dropped (False) or set to an odd value (True)."""
    many = [alert(values[n % len(values)], status="resolved" if n == 2 else "firing",
                  annotations={"summary": values[-1], "description": values[(n + 1) % len(values)]},
                  **{name: values[(n + i) % len(values)] for i, name in enumerate(names)}) for n in range(count)]
    body = notification(many, group_key=values[len(values) // 2] or None)
    for at, set_it, value in changes:
        *parents, last = at
        node: Any = body
        for key in parents:
            node = _child(node, key)
        if isinstance(node, dict) or _child(node, last) is not None:
            if set_it:
                node[last] = copy.deepcopy(value)  # the strategy's own constant stays as it is
            elif isinstance(node, dict):
                node.pop(last, None)
    return body


bodies = st.builds(webhook, st.lists(label_value, min_size=1, max_size=6), st.lists(label_name, max_size=5),
                   st.integers(1, 3), st.lists(change, max_size=2)) | odd_value  # a body that is no webhook at all


def parsed_problems(body: Any) -> list[str]:
    try:
        payload = parse(body)
    except BadPayload as exc:
        message = str(exc)
        return [] if ":" in message and len(message) <= 500 else [f"BadPayload says {message[:300]!r}"]
    return value_problems(payload)


def value_problems(payload: WebhookPayload) -> list[str]:
    maps = [payload.group_labels, payload.common_labels, payload.common_annotations,
            *(m for a in payload.alerts for m in (a.labels, a.annotations))]
    found = [f"{len(m)} labels" for m in maps if len(m) > MAX_LABELS]
    found += [f"a value of {len(v)} characters" for m in maps for v in m.values() if len(v) > VALUE_LIMIT]
    texts = [payload.group_key, payload.receiver, payload.external_url,
             *(t for m in maps for item in m.items() for t in item),
             *(t for a in payload.alerts for t in (a.fingerprint, a.generator_url))]
    return found + [f"U+0000 in {t[:80]!r}: PostgreSQL can't store it" for t in texts if "\x00" in t]


@fuzz()
@given(body=bodies)
@example(body=notification([alert("Nul\x00Alert", summary="a\x00b", team="ml\x00platform")], group_key="k\x00"))
def test_the_parser_takes_any_body(body: Any) -> None:
    tally("alertmanager webhook (parser)")
    assert parsed_problems(body) == []


# Over HTTP, delivered to Slack ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def web(bot: FuzzBot) -> Any:
    return build_web(bot.app, bot.services).test_client()


def post(bot: FuzzBot, web: Any, body: bytes) -> list[str]:
    """`body` to POST /alertmanager, then the outbox delivered; every problem with the answer and the posts."""
    bot.supplied(body.decode("utf-8", "replace"))
    bot.slack.clear()
    with crashes() as errors:
        answer = web.post("/alertmanager", data=body, content_type="application/json")
        bot.services.alerts.deliver()
    found = [f"HTTP {answer.status_code}: {answer.get_data(as_text=True)[:300]}"] \
        if answer.status_code not in (200, 400, 413) else []
    try:
        said = json.loads(answer.get_data())
    except ValueError:
        said = None
    if answer.status_code != 200 and not (isinstance(said, dict) and said.get("error")):
        found.append(f"a {answer.status_code} without a JSON error: {answer.get_data(as_text=True)[:200]!r}")
    return found + errors + sent_problems(bot.slack.calls(), EN_USER, "en", bot.typed)


@fuzz(share=0.02)
@given(body=bodies.map(lambda body: json.dumps(body).encode()) | st.binary(max_size=64) |
       st.sampled_from([b"", b"{", b"[" * 100_000, b'{"version": "4"}', b"null", b'"4"', b"\xff\xfe",
                        json.dumps({"version": "4", "alerts": [{}] * 2000}).encode()]))
def test_bodies_over_http_never_answer_500_and_what_reaches_slack_is_valid(bot: FuzzBot, web: Any,
                                                                           body: bytes) -> None:
    tally("alertmanager webhook (HTTP and Slack)")
    problems = post(bot, web, body)
    assert problems == [], "\n".join(problems)


@pytest.mark.parametrize("item", sorted(NASTIES))
def test_every_corpus_item_as_labels_and_annotations(bot: FuzzBot, web: Any, item: str) -> None:
    """As the alert name, the page-worthy alert's summary (its incident's title) and a label; the team's channel."""
    text = NASTIES[item]
    body = notification([alert(text, severity="critical", team="ml-platform", namespace=text[:63],
                               annotations={"summary": text, "description": text}, **{SHORT.get(item, "x")[:50]
                                                                                       or "x": text})])
    problems = post(bot, web, json.dumps(body).encode())
    assert problems == [], "\n".join(problems)


# PostgreSQL: text fields can't hold U+0000 ---------------------------------------------------------------------
@pytest.fixture
def pg_bot(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzBot]:
    made = FuzzBot(tmp_path_factory.mktemp("fuzz-pg"), database_url=pg_url)
    yield made
    made.close()


def test_a_nul_in_labels_is_stored_on_postgresql(pg_bot: FuzzBot) -> None:
    web = build_web(pg_bot.app, pg_bot.services).test_client()
    body = notification([alert("Nul\x00Alert", severity="critical", team="ml-platform", pod="a\x00b",
                               annotations={"summary": "disk\x00full"})], group_key="{}:{alertname=\"Nul\x00\"}")
    problems = post(pg_bot, web, json.dumps(body).encode())
    assert problems == [], "\n".join(problems)
    posted = json.dumps([call.params for call in pg_bot.slack.calls("chat.postMessage")], ensure_ascii=False)
    assert "Nul\ufffdAlert" in posted  # the alert's message, and the incident it opened


def test_thumbs_down_on_an_alert_is_acknowledged_in_the_readers_language(bot: FuzzBot, web: Any) -> None:
    post(bot, web, json.dumps(notification([alert("FuzzThumbs", team="ml-platform")])).encode())
    [message] = [c for c in bot.slack.calls("chat.postMessage") if c.params.get("channel") == "CTEAM"]
    bot.slack.clear()
    dispatch(bot.app, event_body({"type": "reaction_added", "user": ZH_USER, "reaction": "-1", "item_user": "UBOT",
                                  "item": {"type": "message", "channel": "CTEAM", "ts": message.response["ts"]}}))
    said = slack_text(bot.slack.calls("chat.postEphemeral"))
    assert said and foreign_phrases(said, "zh-CN", Typed()) == []
