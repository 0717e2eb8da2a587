"""The noisy-alerts report and the 👎 marks, on SQLite and on a real PostgreSQL, over rows written directly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.alerts.quality import NoisyAlert, noisy_report, record_noisy
from bot.store.db import make_engine, migrate, session_factory
from bot.store.models import AlertFeedbackRow, AlertFiringRow, AlertGroupRow
from tests.support.threads import all_at_once

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
WEEK_AGO = NOW - timedelta(days=7)
KEYS = itertools.count()


@pytest.fixture
def factory(db_url: str) -> sessionmaker[Session]:
    engine = make_engine(db_url)
    migrate(engine)
    return session_factory(engine)


def group(factory: sessionmaker[Session], alertname: str, team: str | None = "platform") -> int:
    with factory.begin() as session:
        row = AlertGroupRow(key_hash=f"group-{next(KEYS)}", group_key="{}:{}",
                            alertname=alertname, team=team, status="firing", common_labels={"alertname": alertname},
                            created_at=WEEK_AGO, updated_at=WEEK_AGO)
        session.add(row)
        session.flush()
        return row.id


def streak(factory: sessionmaker[Session], group_id: int, started: datetime, lasted: timedelta | None,
           notifications: int, incident_id: int | None = None, paged: bool = False) -> None:
    with factory.begin() as session:
        session.add(AlertFiringRow(group_id=group_id, started_at=started,
                                   resolved_at=started + lasted if lasted is not None else None,
                                   notifications=notifications, incident_id=incident_id, paged=paged))


def by_name(report: list[NoisyAlert]) -> dict[str, NoisyAlert]:
    return {alert.alertname: alert for alert in report}


def test_the_report_adds_up_each_alert_names_streaks(factory: sessionmaker[Session]) -> None:
    crash = group(factory, "KubePodCrashLooping")
    crash_other_group = group(factory, "KubePodCrashLooping")
    streak(factory, crash, NOW - timedelta(days=2), timedelta(hours=2), 20)
    streak(factory, crash, NOW - timedelta(days=1), timedelta(hours=4, minutes=10), 18, incident_id=7, paged=True)
    streak(factory, crash_other_group, NOW - timedelta(minutes=10), None, 10)  # still firing: counts until now

    [alert] = noisy_report(factory, "platform", WEEK_AGO, NOW)

    assert alert == NoisyAlert(alertname="KubePodCrashLooping", notifications=48,
                               firing_time=timedelta(hours=6, minutes=20), firings=3, paged=1, without_incident=2,
                               thumbs_down=0, reasons=())
    assert alert.never_incident_share == pytest.approx(2 / 3)


def test_noisiest_first_by_notifications_then_firing_time_then_thumbs_down(factory: sessionmaker[Session]) -> None:
    loud, long_, disliked, quiet = (group(factory, name) for name in ("Loud", "Long", "Disliked", "Quiet"))
    start = NOW - timedelta(days=1)
    streak(factory, loud, start, timedelta(minutes=5), 30)
    streak(factory, long_, start, timedelta(hours=5), 10)
    streak(factory, disliked, start, timedelta(minutes=5), 10)
    streak(factory, quiet, start, timedelta(minutes=5), 10)
    record_noisy(factory, disliked, "U1", "", NOW)

    assert [a.alertname for a in noisy_report(factory, None, WEEK_AGO, NOW)] == ["Loud", "Long", "Disliked", "Quiet"]


def test_every_streak_without_an_incident_is_a_never_an_incident_share_of_one(
        factory: sessionmaker[Session]) -> None:
    flappy, real = group(factory, "Flappy"), group(factory, "DiskFull")
    for hours in (1, 2, 3, 4):
        streak(factory, flappy, NOW - timedelta(hours=hours), timedelta(minutes=2), 2)
    streak(factory, real, NOW - timedelta(hours=5), timedelta(hours=1), 3, incident_id=1, paged=True)

    report = by_name(noisy_report(factory, None, WEEK_AGO, NOW))

    assert (report["Flappy"].firings, report["Flappy"].never_incident_share) == (4, 1.0)
    assert (report["DiskFull"].paged, report["DiskFull"].never_incident_share) == (1, 0.0)


def test_a_team_sees_only_its_own_alerts_and_none_sees_every_team(factory: sessionmaker[Session]) -> None:
    ours, theirs, nobodys = (group(factory, "HighLatency", "platform"), group(factory, "HighLatency", "ml"),
                             group(factory, "GPUIdle", None))
    for group_id in (ours, theirs, nobodys):
        streak(factory, group_id, NOW - timedelta(hours=1), timedelta(minutes=30), 5)
    record_noisy(factory, theirs, "U1", "ml's reason", NOW)

    platform = noisy_report(factory, "platform", WEEK_AGO, NOW)
    everyone = by_name(noisy_report(factory, None, WEEK_AGO, NOW))

    assert [(a.alertname, a.notifications, a.thumbs_down, a.reasons) for a in platform] == [
        ("HighLatency", 5, 0, ())]
    assert (everyone["HighLatency"].notifications, everyone["HighLatency"].thumbs_down) == (10, 1)
    assert everyone["GPUIdle"].notifications == 5
    assert noisy_report(factory, "nobody", WEEK_AGO, NOW) == []


def test_streaks_and_marks_before_since_are_left_out(factory: sessionmaker[Session]) -> None:
    old = group(factory, "Old")
    streak(factory, old, WEEK_AGO - timedelta(seconds=1), timedelta(days=1), 100)  # started before the period
    streak(factory, old, WEEK_AGO, timedelta(minutes=1), 1)  # started at its very beginning
    record_noisy(factory, old, "U1", "stale", WEEK_AGO - timedelta(days=1))
    record_noisy(factory, old, "U2", "fresh", NOW)

    [alert] = noisy_report(factory, None, WEEK_AGO, NOW)

    assert (alert.notifications, alert.firings, alert.thumbs_down, alert.reasons) == (1, 1, 1, ("fresh",))
    assert noisy_report(factory, None, NOW, NOW + timedelta(hours=1)) == []


def test_thumbs_down_are_counted_per_person_with_the_three_newest_reasons(factory: sessionmaker[Session]) -> None:
    first, second = group(factory, "Flappy"), group(factory, "Flappy")
    streak(factory, first, NOW - timedelta(days=1), timedelta(minutes=3), 4)
    for minutes, user, reason in [(50, "U1", "oldest"), (40, "U2", "flaps during deploys"), (30, "U3", ""),
                                  (20, "U4", "again"), (10, "U5", "  ")]:
        record_noisy(factory, first, user, reason, NOW - timedelta(minutes=minutes))
    record_noisy(factory, second, "U1", "newest, on the other group", NOW)

    [alert] = noisy_report(factory, None, WEEK_AGO, NOW)

    assert alert.thumbs_down == 6
    assert alert.reasons == ("newest, on the other group", "again", "flaps during deploys")


def test_a_person_marks_a_group_once_and_a_second_mark_replaces_the_reason(factory: sessionmaker[Session]) -> None:
    flappy = group(factory, "Flappy", "ml")

    assert record_noisy(factory, flappy, "U1", "flaps", NOW - timedelta(hours=1)) is True
    assert record_noisy(factory, flappy, "U1", "flaps during deploys", NOW) is False
    assert record_noisy(factory, flappy, "U1", "", NOW) is False  # a bare 👎 keeps the reason given
    assert record_noisy(factory, flappy, "U2", "", NOW) is True

    with factory() as session:
        rows = session.scalars(select(AlertFeedbackRow).order_by(AlertFeedbackRow.user_id)).all()
        marks = [(r.user_id, r.reason, r.alertname, r.team, r.at) for r in rows]
    assert marks == [("U1", "flaps during deploys", "Flappy", "ml", NOW), ("U2", "", "Flappy", "ml", NOW)]


def test_racing_marks_by_one_person_leave_one_mark(factory: sessionmaker[Session]) -> None:
    flappy = group(factory, "Flappy")

    firsts = all_at_once(lambda: record_noisy(factory, flappy, "U1", "noisy", NOW), threads=8)

    assert firsts.count(True) == 1
    with factory() as session:
        assert len(session.scalars(select(AlertFeedbackRow)).all()) == 1


def test_marking_an_unknown_group_is_an_error(factory: sessionmaker[Session]) -> None:
    with pytest.raises(LookupError):
        record_noisy(factory, 999, "U1", "noisy", NOW)
