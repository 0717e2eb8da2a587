"""Incidents that resemble a new one, over the real store on SQLite and PostgreSQL: alert labels from "alert"
timeline entries, resolutions from notes, only the team's own resolved or mitigated incidents of the last 180
days, in the right order, with the queries counted."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from bot.incidents import store
from bot.incidents.memory import resembling
from bot.incidents.model import TimelineEntry
from bot.incidents.render import resembling_blocks
from bot.store.db import make_engine, migrate, session_factory
from bot.store.models import IncidentRow
from tests.support.inprocess import START

TEAM = "ml-platform"
CRASH = {"alertname": "KubePodCrashLooping", "namespace": "payments", "deployment": "api", "severity": "critical"}


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def opened(factory: sessionmaker[Session], title: str, *, days_ago: float, team: str = TEAM,
           labels: dict[str, str] | None = None, minutes: int | None = 42, status: str = "resolved",
           notes: tuple[tuple[int, str, str], ...] = ()) -> int:
    """An incident opened `days_ago` before START with an alert entry for `labels`, (minute, kind, text) notes,
    and resolved (or mitigated) `minutes` after opening."""
    at = START - timedelta(days=days_ago)
    ended = at + timedelta(minutes=minutes) if minutes is not None else None
    row = IncidentRow(title=title, severity="sev2", team=team, status=status, reporter="UREPORTER", language="en",
                      source="alert", created_at=at, chain={}, channel_id=f"CINC{int(days_ago * 10)}",
                      resolved_at=ended if status == "resolved" else None,
                      mitigated_at=ended if status == "mitigated" else None)
    incident_id, _ = store.insert(factory, row, "opened from alert")
    if labels is not None:
        store.log_event(factory, incident_id, TimelineEntry(at, "alert", None, "alert fired",
                                                            {"labels": labels, "group": incident_id}))
    for minute, kind, text in notes:
        store.log_event(factory, incident_id, TimelineEntry(at + timedelta(minutes=minute), kind, "UDRI1", text))
    return incident_id


@pytest.fixture
def statements(factory: sessionmaker[Session]) -> Iterator[list[str]]:
    seen: list[str] = []
    engine = factory.kw["bind"]

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


def test_the_right_three_in_the_right_order_with_resolutions_and_durations(
        factory: sessionmaker[Session], statements: list[str]) -> None:
    only_alert = opened(factory, "pods restarting", days_ago=3, labels={"alertname": "KubePodCrashLooping"},
                        notes=((5, "note", "looking at logs"), (30, "note", "restarted the api pods"),
                               (50, "note", "after it was resolved")))
    all_three = opened(factory, "checkout errors", days_ago=21, labels=CRASH, minutes=42,
                       notes=((10, "note", "looking"), (40, "resolution", "rolled back api to v41")))
    words_only = opened(factory, "KubePodCrashLooping api pods restarting again", days_ago=1, labels=None,
                        status="mitigated", minutes=15)
    namespace_only = opened(factory, "namespace only", days_ago=2,
                            labels={"namespace": "payments", "alertname": "Other"})
    opened(factory, "nothing alike", days_ago=1, labels={"alertname": "DiskFull", "namespace": "infra"})
    opened(factory, "other team, same everything", days_ago=1, team="payments", labels=CRASH,
           notes=((5, "resolution", "secret of another team"),))
    opened(factory, "still open, same everything", days_ago=1, labels=CRASH, status="open", minutes=None)
    opened(factory, "too old", days_ago=181, labels=CRASH)
    new_id = opened(factory, "KubePodCrashLooping: api pods restarting", days_ago=0, labels=None, status="open",
                    minutes=None)
    new = store.load(factory, new_id)
    assert new is not None

    statements.clear()
    found = resembling(factory, new, CRASH)

    assert len(statements) == 2  # the candidates, then their events
    assert [f.number for f in found] == [all_three, only_alert, namespace_only]
    first, second, _ = found
    assert first.shared_labels == (("alertname", "KubePodCrashLooping"), ("namespace", "payments"),
                                   ("deployment", "api"))
    assert (first.resolution, first.resolution_kind) == ("rolled back api to v41", "resolution")
    assert (first.duration, first.ago) == (timedelta(minutes=42), timedelta(days=21))
    assert first.resolved_at == START - timedelta(days=21) + timedelta(minutes=42)
    assert second.shared_labels == (("alertname", "KubePodCrashLooping"),)
    assert (second.resolution, second.resolution_kind) == ("restarted the api pods", "note")
    everything = resembling(factory, new, CRASH, limit=10)
    assert [f.number for f in everything] == [all_three, only_alert, namespace_only, words_only]
    third = everything[3]
    assert third.shared_labels == () and third.title_overlap >= 0.3
    assert (third.status, third.resolved_at, third.duration) == ("mitigated", None, timedelta(minutes=15))
    assert third.resolution is None

    [block] = resembling_blocks(everything, "en")
    lines = block["text"]["text"].splitlines()
    assert lines[1] == (f"Looks like *#{all_three}* checkout errors (3 weeks ago, 42m): matched alertname "
                        "`KubePodCrashLooping`, namespace `payments`, deployment `api` — resolution: rolled back "
                        "api to v41")
    assert lines[4].endswith("(1 d ago, mitigated after 15m): matched title words kubepodcrashlooping, api, "
                             "pods, restarting — no resolution recorded")


def test_another_teams_incident_is_never_shown(factory: sessionmaker[Session]) -> None:
    opened(factory, "KubePodCrashLooping api", days_ago=1, team="payments", labels=CRASH,
           notes=((5, "resolution", "secret of another team"),))
    new_id = opened(factory, "KubePodCrashLooping api", days_ago=0, labels=CRASH, status="open", minutes=None)
    new = store.load(factory, new_id)
    assert new is not None
    assert resembling(factory, new, CRASH) == []


def test_labels_of_the_new_incidents_own_alert_entry_are_used_when_none_are_passed(
        factory: sessionmaker[Session]) -> None:
    past = opened(factory, "x", days_ago=5, labels={"alertname": "A", "pod": "api-7d9f8b6c4-x2x7k"})
    new_id = opened(factory, "y", days_ago=0, labels={"alertname": "B", "deployment": "api"}, status="open",
                    minutes=None)
    new = store.load(factory, new_id)
    assert new is not None
    [found] = resembling(factory, new, {})
    assert (found.number, found.shared_labels) == (past, (("deployment", "api"),))
