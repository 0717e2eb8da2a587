"""The event inbox (bot/store/inbox.py) on SQLite and PostgreSQL, and the leader's replay of what a killed process
left unfinished (bot/jobs.py finish_unfinished_work) through the real Bolt app."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.jobs import finish_unfinished_work
from bot.metrics import EVENTS_REPLAYED
from bot.store import inbox
from bot.store.db import make_engine, migrate
from bot.store.models import Base, InboxEvent
from tests.integration.test_store import NOW, factory_for
from tests.support.config import bot_config
from tests.support.inprocess import START, dispatch, make_bot
from tests.support.signing import event_body
from tests.support.slack_recorder import SlackRecorder
from tests.support.slack_text import slack_text

FIRE = {"type": "message", "channel": "CTEAM", "user": "UREPORTER", "text": "🔥💥 checkout is down",
        "ts": "1700000000.000100", "channel_type": "channel"}


def body(event_id: str = "Ev1") -> dict[str, Any]:
    return {"type": "event_callback", "event_id": event_id, "event": FIRE}


def test_an_event_is_worked_once_and_a_lapsed_one_is_taken_over_a_bounded_number_of_times(db_url: str) -> None:
    factory = factory_for(db_url)
    assert inbox.receive(factory, body(), NOW)
    assert not inbox.receive(factory, body(), NOW + timedelta(seconds=30))  # Slack's redelivery, work under way
    assert inbox.unfinished(factory, NOW + timedelta(seconds=30)) == []
    later = NOW + inbox.LEASE + timedelta(seconds=1)
    assert [b["event_id"] for b in inbox.unfinished(factory, later)] == ["Ev1"]
    assert inbox.receive(factory, body(), later)  # its worker died: taken over
    assert not inbox.receive(factory, body(), later)  # by one taker only
    last = later + inbox.LEASE + timedelta(seconds=1)
    assert inbox.receive(factory, body(), last)  # the third attempt
    gone = last + inbox.LEASE + timedelta(seconds=1)
    assert not inbox.receive(factory, body(), gone) and inbox.unfinished(factory, gone) == []
    assert inbox.give_up(factory, gone) == ["Ev1"] and inbox.give_up(factory, gone) == []


def test_a_finished_event_is_never_taken_again_and_is_forgotten_after_two_days(db_url: str) -> None:
    factory = factory_for(db_url)
    inbox.receive(factory, body(), NOW)
    inbox.done(factory, "Ev1", NOW)
    much_later = NOW + timedelta(hours=1)
    assert not inbox.receive(factory, body(), much_later) and inbox.unfinished(factory, much_later) == []
    assert inbox.forget(factory, NOW - timedelta(seconds=1)) == 0
    assert inbox.forget(factory, NOW + timedelta(days=2)) == 1


def test_the_models_and_the_migrations_describe_the_same_tables(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []


@pytest.fixture
def bot(tmp_path: Any, slack: SlackRecorder) -> Any:
    services, app = make_bot(f"sqlite:///{tmp_path / 'bot.db'}", slack, bot_config())
    slack.set_message("CTEAM", FIRE["ts"], text=FIRE["text"], user="UREPORTER")
    yield services, app
    services.engine.dispose()


def test_an_event_acked_by_a_process_that_died_opens_its_incident_when_the_leader_replays_it(
        bot: Any, slack: SlackRecorder) -> None:
    services, _app = bot
    inbox.receive(services.sessions, json.loads(event_body(FIRE, event_id="EvDIED")), START)  # then it was killed
    services.clock.set(START + timedelta(seconds=30))
    finish_unfinished_work(services)
    assert slack.calls("conversations.create") == []  # its lease has not lapsed: the replica may be alive
    replayed = EVENTS_REPLAYED.labels("replayed")._value.get()
    services.clock.set(START + inbox.LEASE + timedelta(seconds=1))
    finish_unfinished_work(services)
    assert EVENTS_REPLAYED.labels("replayed")._value.get() == replayed + 1
    assert len(slack.calls("conversations.create")) == 1
    assert [slack_text(c) for c in slack.calls("chat.postMessage", "DUDRI1")]  # the 1st line paged
    with services.sessions() as session:
        assert session.get(InboxEvent, "EvDIED").done_at is not None
    services.clock.set(START + 3 * inbox.LEASE)
    finish_unfinished_work(services)
    assert len(slack.calls("conversations.create")) == 1


def test_slacks_redelivery_of_an_event_being_worked_on_is_dropped(bot: Any, slack: SlackRecorder) -> None:
    services, app = bot
    inbox.receive(services.sessions, json.loads(event_body(FIRE, event_id="EvBUSY")), START)  # another replica's
    assert dispatch(app, event_body(FIRE, event_id="EvBUSY")).status == 200
    assert slack.calls("conversations.create") == []
