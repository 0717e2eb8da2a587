"""The escalation chain frozen at open: typed, and read back exactly as incidents opened before stored it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.escalation import window_start
from bot.incidents.model import ChainMember, ChainSnapshot

# The shape every incident row written so far holds in `incidents.chain`.
STORED = {"configured": True, "steps": [{"tier": "1st line", "user": "UDRI1"}, {"tier": "2nd line", "user": "?bob"}],
          "gaps": ["3rd line"], "sla": {"sev1": 300.0, "sev3": None}, "page": {"sev1": True, "sev3": False},
          "repeat": 1}


def test_a_stored_chain_reads_back_typed_and_writes_back_unchanged() -> None:
    chain = ChainSnapshot.from_json(STORED)
    assert chain.steps == (ChainMember("1st line", "UDRI1"), ChainMember("2nd line", "?bob"))
    assert chain.gaps == ("3rd line",) and chain.repeat == 1
    assert chain.to_json() == STORED


def test_who_it_pages_and_how_long_they_have() -> None:
    chain = ChainSnapshot.from_json(STORED)
    assert chain.pages("sev1") and not chain.pages("sev3")
    assert chain.pages("sev9")  # a severity the snapshot doesn't know pages, as it always has
    assert chain.sla_for("sev1") == timedelta(minutes=5) and chain.sla_for("sev3") is None
    assert chain.people == {"UDRI1"}  # "?bob" names no Slack user, so he can't act as a responder


def test_no_rotation_pages_no_one() -> None:
    empty = ChainSnapshot.from_json({})
    assert not empty.configured and not empty.pages("sev1") and empty.to_json()["steps"] == []
    assert ChainSnapshot.from_json(None) == empty


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)


@given(steps=st.lists(st.tuples(names, names), max_size=5), repeat=st.integers(0, 3),
       sla=st.dictionaries(names, st.one_of(st.none(), st.floats(1, 86400)), max_size=4))
def test_any_chain_survives_the_round_trip_through_json(steps: list[tuple[str, str]], repeat: int,
                                                         sla: dict[str, float | None]) -> None:
    chain = ChainSnapshot(configured=bool(steps), steps=tuple(ChainMember(t, u) for t, u in steps), repeat=repeat,
                          sla_seconds=sla, page=dict.fromkeys(sla, True))
    assert ChainSnapshot.from_json(chain.to_json()) == chain


def test_an_ack_window_starts_at_the_pages_due_time_when_the_tick_sent_it_on_time_else_now() -> None:
    """The 2nd line's deadline is the 1st page's due time + ack_within, so the tick after it finds it due (not one
    tick later); a page sent late (no leader for a while) still gives the person a whole window from now."""
    due = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    assert window_start(due, due + timedelta(milliseconds=40)) == due
    assert window_start(due, due + timedelta(seconds=30)) == due + timedelta(seconds=30)
    assert window_start(due, due - timedelta(seconds=1)) == due - timedelta(seconds=1)  # brought forward by hand
