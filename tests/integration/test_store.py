"""The spine's tables behave the same on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from bot.store import repo
from bot.store.db import make_engine, migrate, session_factory
from bot.store.models import AuditLog, KeyValue
from tests.support.threads import all_at_once

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def factory_for(url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(url)
    migrate(engine)
    migrate(engine)  # migrations are idempotent: serve, socket and migrate all apply them
    return session_factory(engine)


def test_an_event_id_is_seen_for_the_first_time_only_once(db_url: str) -> None:
    factory = factory_for(db_url)
    assert repo.first_sighting(factory, "Ev1", NOW) is True
    assert repo.first_sighting(factory, "Ev1", NOW) is False
    assert repo.first_sighting(factory, "Ev2", NOW) is True


def test_racing_redeliveries_have_exactly_one_winner(db_url: str) -> None:
    factory = factory_for(db_url)
    wins = all_at_once(lambda: repo.first_sighting(factory, "EvRACE", NOW), threads=10)
    assert wins.count(True) == 1


def test_old_event_ids_are_forgotten(db_url: str) -> None:
    factory = factory_for(db_url)
    repo.first_sighting(factory, "EvOLD", NOW - timedelta(days=3))
    repo.first_sighting(factory, "EvNEW", NOW)
    assert repo.forget_old_events(factory, NOW - timedelta(days=2)) == 1
    assert repo.first_sighting(factory, "EvOLD", NOW) is True


def test_combo_claims_and_reactions_round_trip_with_aware_utc_times(db_url: str) -> None:
    factory = factory_for(db_url)
    repo.record_reaction(factory, "C1", "1.1", "🔥", "U1", NOW)
    repo.record_reaction(factory, "C1", "1.1", "🔥", "U1", NOW)  # the same reaction twice is one row
    repo.record_reaction(factory, "C1", "1.1", "💥", "U2", NOW - timedelta(minutes=11))
    assert repo.recent_reactions(factory, "C1", "1.1", NOW - timedelta(minutes=10)) == {"🔥"}
    assert repo.claim_combo(factory, "C1", "1.1", "open_incident", "U1", NOW) is True
    assert repo.claim_combo(factory, "C1", "1.1", "open_incident", "U2", NOW) is False


def test_audit_rows_and_cache_entries_persist(db_url: str) -> None:
    factory = factory_for(db_url)
    with factory.begin() as session:
        repo.audit(session, NOW, "U1", "incident.cancel", "incident:1", reason="accidental")
    with factory() as session:
        row = session.scalars(select(AuditLog)).one()
    assert (row.actor, row.action, row.detail, row.at) == ("U1", "incident.cancel", {"reason": "accidental"}, NOW)
    repo.cache_put(factory, "k", {"v": 1}, NOW, timedelta(hours=1))
    assert repo.cache_get(factory, "k", NOW + timedelta(minutes=59)) == {"v": 1}
    assert repo.cache_get(factory, "k", NOW + timedelta(minutes=61)) is None


def test_a_cache_entry_two_write_at_once_is_stored_and_neither_write_fails(db_url: str) -> None:
    """Two /spend asking Cost Explorer the same question at once (the second /spend answered an error id), or two
    requests from a user the bot has not seen yet (logged as "user cache unavailable": the database seemed down)."""
    factory = factory_for(db_url)
    other = factory()
    other.add(KeyValue(key="spend:ce:q", value='{"rows": []}', expires_at=NOW + timedelta(hours=6)))
    other.flush()  # inserted, not committed: the next writer's SELECT finds nothing and its INSERT waits for this one
    committer = threading.Timer(0.3, other.commit)
    committer.start()
    try:
        repo.cache_put(factory, "spend:ce:q", {"rows": [1]}, NOW, timedelta(hours=6))
    finally:
        committer.join()  # PostgreSQL lets the put go as the COMMIT lands, before commit() has returned
        other.close()

    assert repo.cache_get(factory, "spend:ce:q", NOW) == {"rows": [1]}
